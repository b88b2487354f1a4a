/* test_utf8.c - which byte sequences count as one UTF-8 character. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "utf8.h"

static size_t len_of(const char *s, size_t avail)
{
    return utf8_len((const unsigned char *)s, avail);
}

static void test_valid(void **state)
{
    (void)state;
    assert_int_equal(len_of("a", 1), 1);
    assert_int_equal(len_of("\x7f", 1), 1);
    assert_int_equal(len_of("\xc3\xa9", 2), 2);         /* e acute */
    assert_int_equal(len_of("\xe2\x82\xac", 3), 3);     /* euro sign */
    assert_int_equal(len_of("\xf0\x9d\x84\x9e", 4), 4); /* G clef */
    assert_int_equal(len_of("\xf4\x8f\xbf\xbf", 4), 4); /* U+10FFFF */
}

static void test_invalid(void **state)
{
    (void)state;
    assert_int_equal(len_of("\x80", 1), 0);             /* continuation */
    assert_int_equal(len_of("\xc0\x80", 2), 0);         /* overlong NUL */
    assert_int_equal(len_of("\xe0\x80\xaf", 3), 0);     /* overlong '/' */
    assert_int_equal(len_of("\xed\xa0\x80", 3), 0);     /* surrogate */
    assert_int_equal(len_of("\xf4\x90\x80\x80", 4), 0); /* past U+10FFFF */
    assert_int_equal(len_of("\xf8\x88\x80\x80", 4), 0); /* five-byte lead */
    assert_int_equal(len_of("\xc3(", 2), 0);            /* not continued */
}

static void test_cut_short(void **state)
{
    (void)state;
    /* The whole of it is there, but only two bytes may be read. */
    assert_int_equal(len_of("\xe2\x82\xac", 2), 0);
    assert_int_equal(len_of("\xc3\xa9", 1), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_cut_short),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
