/* test_state.c - state names as the API spells them, and their ranks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "state.h"

static void test_names_round_trip(void **state)
{
    static const struct {
        enum state s;
        const char *name;
    } known[] = {
        {STATE_PENDING, "pending"},
        {STATE_COMPILING, "compiling"},
        {STATE_UPLOADING, "uploading"},
        {STATE_SUCCESS, "success"},
        {STATE_COMPILE_ERROR, "compile_error"},
        {STATE_SYSTEM_ERROR, "system_error"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        assert_string_equal(state_name(known[i].s), known[i].name);
        assert_int_equal(state_parse(known[i].name), known[i].s);
    }
}

static void test_unknown_is_invalid(void **state)
{
    (void)state;
    assert_int_equal(state_parse(""), STATE_INVALID);
    assert_int_equal(state_parse("done"), STATE_INVALID);
    /* Names are matched exactly: the API never capitalises them. */
    assert_int_equal(state_parse("Success"), STATE_INVALID);
    assert_int_equal(state_parse("success "), STATE_INVALID);
    assert_int_equal(state_parse("compile"), STATE_INVALID);
    /* "invalid" names no state a pipeline can be in. */
    assert_int_equal(state_parse("invalid"), STATE_INVALID);
    assert_string_equal(state_name(STATE_INVALID), "invalid");
    assert_string_equal(state_name((enum state)42), "invalid");
}

/* A late "compiling" must never hide a result, and a retried upload
 * that succeeds must clear its error. */
static void test_rank_order(void **state)
{
    (void)state;
    assert_true(state_rank(STATE_SUCCESS) > state_rank(STATE_COMPILE_ERROR));
    assert_int_equal(state_rank(STATE_COMPILE_ERROR),
                     state_rank(STATE_SYSTEM_ERROR));
    assert_true(state_rank(STATE_SYSTEM_ERROR) > state_rank(STATE_UPLOADING));
    assert_true(state_rank(STATE_UPLOADING) > state_rank(STATE_COMPILING));
    assert_true(state_rank(STATE_COMPILING) > state_rank(STATE_PENDING));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_round_trip),
        cmocka_unit_test(test_unknown_is_invalid),
        cmocka_unit_test(test_rank_order),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
