/* test_ident.c - ids, versions, names and the assignment rule. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ident.h"

static void test_valid_ids(void **state)
{
    (void)state;
    assert_true(ident_valid("0"));
    assert_true(ident_valid("42"));
    assert_true(ident_valid("9223372036854775807"));
    assert_true(ident_valid("9223372036854775808"));
    assert_true(ident_valid("99999999999999999999999"));
    /* 36 digits, as long as a UUID. */
    assert_true(ident_valid("123456789012345678901234567890123456"));
    assert_true(ident_valid("007"));
    assert_true(ident_valid("0192c3a4-5b6d-7e8f-9a0b-1c2d3e4f5a6b"));
    assert_true(ident_valid("0192C3A4-5B6D-7E8F-9A0B-1C2D3E4F5A6B"));
}

static void test_invalid_ids(void **state)
{
    char big[10001];

    (void)state;
    memset(big, '1', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_false(ident_valid(""));
    assert_false(ident_valid("-1"));
    assert_false(ident_valid("+1"));
    assert_false(ident_valid(" 1"));
    assert_false(ident_valid("1 "));
    assert_false(ident_valid("1 2"));
    /* 37 digits: longer than any id. */
    assert_false(ident_valid("1234567890123456789012345678901234567"));
    assert_false(ident_valid("12a"));
    assert_false(ident_valid(".."));
    assert_false(ident_valid("../etc"));
    assert_false(ident_valid("a/b"));
    assert_false(ident_valid("1%2F2"));
    assert_false(ident_valid(big));
    assert_false(ident_valid("0192c3a4-5b6d-7e8f-9a0b-1c2d3e4f5a6"));
    assert_false(ident_valid("0192c3a4-5b6d-7e8f-9a0b-1c2d3e4f5a6bb"));
    assert_false(ident_valid("0192c3a45b6d-7e8f-9a0b-1c2d3e4f5a6b--"));
    assert_false(ident_valid("0192c3a4-5b6d-7e8f-9a0b-1c2d3e4f5a6g"));
}

/* Each expected worker below is worked out by hand in its comment. */
static void test_decimal_assignment(void **state)
{
    (void)state;
    /* 42 = 3 * 14 */
    assert_int_equal(ident_worker("42", 3), 0);
    /* 43 = 3 * 14 + 1 */
    assert_int_equal(ident_worker("43", 3), 1);
    /* 1000 = 7 * 142 + 6 */
    assert_int_equal(ident_worker("1000", 7), 6);
    assert_int_equal(ident_worker("5", 1), 0);
}

/* Decimal ids past every C integer, reduced by hand. */
static void test_big_decimal_assignment(void **state)
{
    uint64_t h;

    (void)state;
    /* 2^63: 2^3 = 8 = 7 + 1, so 2^63 = (2^3)^21 is 1 mod 7; 2 mod 3. */
    assert_int_equal(ident_worker("9223372036854775808", 7), 1);
    assert_int_equal(ident_worker("9223372036854775808", 3), 2);
    assert_int_equal(ident_hash("9223372036854775808", &h), 0);
    assert_true(h == UINT64_C(9223372036854775808));

    /* 2^64 = 4^32 is 1 mod 3; 2^64 = (2^3)^21 * 2 is 2 mod 7. */
    assert_int_equal(ident_worker("18446744073709551616", 3), 1);
    assert_int_equal(ident_worker("18446744073709551616", 7), 2);
    /* It does not fit a uint64: ident_hash says so, the modulo works. */
    assert_int_equal(ident_hash("18446744073709551616", &h), -1);
    assert_int_equal(errno, ERANGE);
    /* 2^64 = (2^64 - 1) + 1. */
    assert_int_equal(ident_hash_mod("18446744073709551616", UINT64_MAX, &h), 0);
    assert_true(h == 1);
    assert_int_equal(ident_hash("18446744073709551615", &h), 0);
    assert_true(h == UINT64_MAX);
    assert_int_equal(ident_hash_mod("18446744073709551615", UINT64_MAX, &h), 0);
    assert_true(h == 0);

    /*
     * 10^23 - 1 (23 nines): digit sum 207 = 3 * 69, so 0 mod 3.  Mod 7:
     * 10^6 = 1 (7 * 142857 = 999999), 10^23 = 10^5 = 3^5 = 243 = 5,
     * minus 1 is 4.  Mod 11: 10 = -1, 10^23 = -1, minus 1 is -2 = 9.
     */
    assert_int_equal(ident_worker("99999999999999999999999", 3), 0);
    assert_int_equal(ident_worker("99999999999999999999999", 7), 4);
    assert_int_equal(ident_worker("99999999999999999999999", 11), 9);
    assert_int_equal(ident_worker("99999999999999999999999", 10), 9);

    /*
     * 10^36 - 1 (36 nines): 10^6 = 1 mod 7 and mod 13 (1001 = 7*11*13
     * makes 10^3 = -1), and 10^3 = 1 mod 37 (999 = 27 * 37): 0 for
     * all three; mod 4 it ends in 99 = 4 * 24 + 3.
     */
    assert_int_equal(ident_worker("999999999999999999999999999999999999", 7),
                     0);
    assert_int_equal(ident_worker("999999999999999999999999999999999999", 13),
                     0);
    assert_int_equal(ident_worker("999999999999999999999999999999999999", 37),
                     0);
    assert_int_equal(ident_worker("999999999999999999999999999999999999", 4),
                     3);
}

/* Leading zeros make another id with the same hash. */
static void test_leading_zeros(void **state)
{
    uint64_t h;

    (void)state;
    assert_int_equal(ident_hash("007", &h), 0);
    assert_true(h == 7);
    assert_int_equal(ident_worker("007", 4), 3);
    assert_int_equal(ident_worker("7", 4), 3);
    assert_string_not_equal("007", "7");
    assert_int_equal(ident_worker("000000000000000000000000000000000010", 3),
                     1);
}

static void test_uuid_assignment(void **state)
{
    uint64_t h;

    (void)state;
    /* First 16 hex digits 0000000000000005 = 5; 5 mod 3 = 2. */
    assert_int_equal(ident_worker("00000000-0000-0005-ffff-ffffffffffff", 3),
                     2);
    assert_int_equal(ident_hash("00000000-0000-0005-ffff-ffffffffffff", &h), 0);
    assert_int_equal(h, 5);

    /* ffffffffffffffff is -1 as a signed int64; |-1| = 1. */
    assert_int_equal(ident_hash("ffffffff-ffff-ffff-0000-000000000000", &h), 0);
    assert_int_equal(h, 1);
    assert_int_equal(ident_worker("ffffffff-ffff-ffff-0000-000000000000", 3),
                     1);

    /* fffffffffffffffe is -2; |-2| = 2, and 2 mod 3 = 2. */
    assert_int_equal(ident_worker("ffffffff-ffff-fffe-0000-000000000000", 3),
                     2);

    /*
     * 8000000000000000 is INT64_MIN, whose absolute value 2^63 does not
     * fit an int64.  2^63 mod 7 = (2^3)^21 mod 7 = 1; mod 3 = 2, since
     * 2^odd mod 3 = 2.
     */
    assert_int_equal(ident_hash("80000000-0000-0000-0000-000000000000", &h), 0);
    assert_true(h == UINT64_C(9223372036854775808));
    assert_int_equal(ident_worker("80000000-0000-0000-0000-000000000000", 7),
                     1);
    assert_int_equal(ident_worker("80000000-0000-0000-0000-000000000000", 3),
                     2);

    /* 8000000000000001 is INT64_MIN + 1: |x| = 2^63 - 1, mod 10 = 7. */
    assert_int_equal(ident_worker("80000000-0000-0001-0000-000000000000", 10),
                     7);

    /* 0192c3a45b6d7e8f = 113350697420651151; mod 4 = 3 (0x...8f is odd,
     * 0x8f = 143 = 4 * 35 + 3). */
    assert_int_equal(ident_hash("0192c3a4-5b6d-7e8f-9a0b-1c2d3e4f5a6b", &h), 0);
    assert_true(h == UINT64_C(0x0192c3a45b6d7e8f));
    assert_int_equal(ident_worker("0192c3a4-5b6d-7e8f-9a0b-1c2d3e4f5a6b", 4),
                     3);

    /* Upper and lower case digits are the same number. */
    assert_int_equal(ident_worker("0192C3A4-5B6D-7E8F-9A0B-1C2D3E4F5A6B", 4),
                     3);
}

static void test_bad_assignment(void **state)
{
    (void)state;
    assert_int_equal(ident_worker("x", 3), -1);
    assert_int_equal(ident_worker("1", 0), -1);
    assert_int_equal(ident_worker("-7", 3), -1);
    assert_int_equal(ident_worker("1234567890123456789012345678901234567", 3),
                     -1);
    assert_int_equal(ident_hash_mod("7", 0, &(uint64_t){0}), -1);
}

static void test_versions(void **state)
{
    int64_t v;

    (void)state;
    assert_int_equal(ident_parse_version("1", 1, &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(ident_parse_version("9223372036854775807", 19, &v), 0);
    assert_int_equal(ident_parse_version("0", 1, &v), -1);
    assert_int_equal(ident_parse_version("01", 2, &v), -1);
    assert_int_equal(ident_parse_version("-1", 2, &v), -1);
    assert_int_equal(ident_parse_version("1x", 2, &v), -1);
    assert_int_equal(ident_parse_version("", 0, &v), -1);
    assert_int_equal(ident_parse_version("9223372036854775808", 19, &v), -1);
}

static void test_names(void **state)
{
    char id[IDENT_ID_MAX + 1], buf[IDENT_NAME_MAX];
    int64_t v;

    (void)state;
    assert_int_equal(ident_split_name("17@3", 4, id, &v), 0);
    assert_string_equal(id, "17");
    assert_int_equal(v, 3);
    ident_format_name(buf, "17", 3);
    assert_string_equal(buf, "17@3");

    assert_int_equal(ident_split_name("17@3.json", 4, id, &v), 0);
    assert_int_equal(ident_split_name("17@", 3, id, &v), -1);
    assert_int_equal(ident_split_name("@3", 2, id, &v), -1);
    assert_int_equal(ident_split_name("..@3", 4, id, &v), -1);
    assert_int_equal(ident_split_name("17", 2, id, &v), -1);
    assert_int_equal(ident_split_name("17@3@4", 6, id, &v), -1);
}

static void test_ordinal(void **state)
{
    (void)state;
    assert_int_equal(ident_ordinal("x-compiler-server-2"), 2);
    assert_int_equal(ident_ordinal("binrelay-0"), 0);
    assert_int_equal(ident_ordinal("binrelay-12"), 12);
    assert_int_equal(ident_ordinal("binrelay"), -1);
    assert_int_equal(ident_ordinal("binrelay-"), -1);
    assert_int_equal(ident_ordinal("binrelay-x"), -1);
    assert_int_equal(ident_ordinal("binrelay-1000000"), 1000000);
    assert_int_equal(ident_ordinal("binrelay-1000001"), -1);
    assert_int_equal(ident_ordinal("binrelay-99999999999999999999"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_ids),
        cmocka_unit_test(test_invalid_ids),
        cmocka_unit_test(test_decimal_assignment),
        cmocka_unit_test(test_big_decimal_assignment),
        cmocka_unit_test(test_leading_zeros),
        cmocka_unit_test(test_uuid_assignment),
        cmocka_unit_test(test_bad_assignment),
        cmocka_unit_test(test_versions),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_ordinal),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
