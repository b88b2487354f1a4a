/* test_sink.c - the head of a response body, kept NUL-terminated. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "sink.h"

/* libcurl passes bytes as 'size' 1 times 'n'. */
static size_t feed(struct sink *s, const char *text)
{
    return sink_write((char *)text, 1, strlen(text), s);
}

static void test_keeps_what_fits(void **state)
{
    char buf[16];
    struct sink s = {.buf = buf, .size = sizeof(buf), .len = 0};

    (void)state;
    assert_int_equal(feed(&s, "no such "), 8);
    assert_int_equal(feed(&s, "pipeline"), 8);
    assert_int_equal(s.len, 15);
    assert_string_equal(buf, "no such pipelin");
}

/* libcurl aborts a transfer whose callback claims fewer bytes than it
 * was given, so what does not fit is claimed and dropped. */
static void test_claims_all_bytes(void **state)
{
    char area[12];
    struct sink s = {.buf = area, .size = 8, .len = 0};

    (void)state;
    memset(area, 'Z', sizeof(area));
    assert_int_equal(feed(&s, "a long answer"), 13);
    assert_int_equal(feed(&s, "and more"), 8);
    assert_int_equal(sink_write((char *)"abcdef", 2, 3, &s), 6);
    assert_int_equal(s.len, 7);
    assert_string_equal(area, "a long ");
    /* Nothing past 'size' was touched. */
    assert_memory_equal(area + 8, "ZZZZ", 4);
}

static void test_empty_and_tiny(void **state)
{
    char buf[4] = "xyz";
    struct sink s = {.buf = buf, .size = 1, .len = 0};

    (void)state;
    /* A single byte holds only the NUL. */
    assert_int_equal(feed(&s, "ok"), 2);
    assert_int_equal(s.len, 0);
    assert_string_equal(buf, "");

    memcpy(buf, "xyz", 4);
    s.size = sizeof(buf);
    assert_int_equal(feed(&s, ""), 0);
    assert_string_equal(buf, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keeps_what_fits),
        cmocka_unit_test(test_claims_all_bytes),
        cmocka_unit_test(test_empty_and_tiny),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
