/* test_timeutil.c - RFC 3339 timestamps in UTC and the monotonic clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "timeutil.h"

static void test_rfc3339_known_epochs(void **state)
{
    char buf[TIMEUTIL_RFC3339_LEN];

    (void)state;
    assert_string_equal(timeutil_rfc3339(buf, 0), "1970-01-01T00:00:00Z");
    /* 56 years of 365 days and 14 leap days, 1972 to 2024. */
    assert_string_equal(timeutil_rfc3339(buf, 1767225600),
                        "2026-01-01T00:00:00Z");
    assert_string_equal(timeutil_rfc3339(buf, 1767225599),
                        "2025-12-31T23:59:59Z");
    /* 2000 is a leap year although it ends a century. */
    assert_string_equal(timeutil_rfc3339(buf, 951782400),
                        "2000-02-29T00:00:00Z");
    /* One second past the largest signed 32-bit time. */
    assert_string_equal(timeutil_rfc3339(buf, 2147483648),
                        "2038-01-19T03:14:08Z");
}

static void test_rfc3339_returns_buf(void **state)
{
    char buf[TIMEUTIL_RFC3339_LEN];

    (void)state;
    assert_ptr_equal(timeutil_rfc3339(buf, 0), buf);
    assert_ptr_equal(timeutil_now_rfc3339(buf), buf);
}

/* The format has a fixed width, so the strings sort as the times do. */
static void test_now_is_now(void **state)
{
    char before[TIMEUTIL_RFC3339_LEN];
    char now[TIMEUTIL_RFC3339_LEN];
    char after[TIMEUTIL_RFC3339_LEN];

    (void)state;
    timeutil_rfc3339(before, time(NULL));
    timeutil_now_rfc3339(now);
    timeutil_rfc3339(after, time(NULL));
    assert_int_equal(strlen(now), strlen("2026-01-01T00:00:00Z"));
    assert_true(strcmp(before, now) <= 0);
    assert_true(strcmp(now, after) <= 0);
}

static void test_mono_never_goes_back(void **state)
{
    struct timespec pause = {.tv_sec = 0, .tv_nsec = 20 * 1000000};
    int64_t prev = timeutil_mono_ms();
    int64_t start;

    (void)state;
    for (int i = 0; i < 100000; i++) {
        int64_t t = timeutil_mono_ms();

        assert_true(t >= prev);
        prev = t;
    }

    /* Milliseconds, not seconds or microseconds. */
    start = timeutil_mono_ms();
    nanosleep(&pause, NULL);
    assert_in_range(timeutil_mono_ms() - start, 20, 2000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc3339_known_epochs),
        cmocka_unit_test(test_rfc3339_returns_buf),
        cmocka_unit_test(test_now_is_now),
        cmocka_unit_test(test_mono_never_goes_back),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
