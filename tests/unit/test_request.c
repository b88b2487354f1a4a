/* test_request.c - the checks of a write's headers and status reports. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "request.h"

static void test_length(void **state)
{
    (void)state;
    assert_int_equal(request_length("0", NULL), 0);
    assert_int_equal(request_length("4096", NULL), 4096);
    assert_int_equal(request_length("9223372036854775700", NULL),
                     9223372036854775700LL);
    assert_int_equal(request_length(NULL, NULL), -1);
    assert_int_equal(request_length(NULL, "chunked"), -1);
    assert_int_equal(request_length("", NULL), -2);
    assert_int_equal(request_length("12", "chunked"), -2);
    assert_int_equal(request_length("-5", NULL), -2);
    assert_int_equal(request_length("+5", NULL), -2);
    assert_int_equal(request_length("5 ", NULL), -2);
    assert_int_equal(request_length("0x10", NULL), -2);
    /* Past int64: refused, not wrapped into a small length. */
    assert_int_equal(request_length("99999999999999999999", NULL), -2);
}

static void test_worker(void **state)
{
    (void)state;
    assert_int_equal(request_worker(NULL), -1);
    assert_int_equal(request_worker("0"), 0);
    assert_int_equal(request_worker("17"), 17);
    assert_int_equal(request_worker("999999"), 999999);
    assert_int_equal(request_worker("1000000"), -2);
    assert_int_equal(request_worker(""), -2);
    assert_int_equal(request_worker("-1"), -2);
    assert_int_equal(request_worker("1a"), -2);
    assert_int_equal(request_worker(" 1"), -2);
    assert_int_equal(request_worker("99999999999999999999999"), -2);
}

static int report(const char *body, struct request_report *r, char *err)
{
    return request_report(body, strlen(body), r, err, 256);
}

static void test_report_fields(void **state)
{
    struct request_report r;
    char err[256];

    (void)state;
    assert_int_equal(report("{\"state\":\"compile_error\",\"worker_id\":2,"
                            "\"message\":\"main.c:3: error\\n\",\"other\":[1]}",
                            &r, err),
                     0);
    assert_int_equal(r.state, STATE_COMPILE_ERROR);
    assert_int_equal(r.worker, 2);
    assert_string_equal(r.message, "main.c:3: error\n");
    request_report_free(&r);

    /* Only the state is needed. */
    assert_int_equal(report("{\"state\":\"pending\"}", &r, err), 0);
    assert_int_equal(r.state, STATE_PENDING);
    assert_int_equal(r.worker, -1);
    assert_string_equal(r.message, "");
    request_report_free(&r);

    assert_int_equal(
        report("{\"state\":\"compiling\",\"worker_id\":null,\"message\":null}",
               &r, err),
        0);
    assert_int_equal(r.worker, -1);
    request_report_free(&r);
}

/* Each refusal names what is wrong. */
static void test_report_refusals(void **state)
{
    static const struct {
        const char *body, *says;
    } bad[] = {
        {"", "not JSON"},
        {"{\"state\":\"compiling\"} x", "not JSON"},
        {"[\"compiling\"]", "object"},
        {"{}", "\"state\""},
        {"{\"state\":\"success\"}", "\"state\""},
        {"{\"state\":\"done\"}", "\"state\""},
        {"{\"state\":7}", "\"state\""},
        {"{\"state\":\"pending\",\"worker_id\":\"1\"}", "worker_id"},
        {"{\"state\":\"pending\",\"worker_id\":-1}", "worker_id"},
        {"{\"state\":\"pending\",\"worker_id\":1.5}", "worker_id"},
        {"{\"state\":\"pending\",\"worker_id\":1000000}", "worker_id"},
        {"{\"state\":\"pending\",\"message\":7}", "message"},
    };
    struct request_report r;
    char err[256];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        if (report(bad[i].body, &r, err) != -1)
            fail_msg("accepted: %s", bad[i].body);
        if (strstr(err, bad[i].says) == NULL)
            fail_msg("%s: reason '%s' does not say '%s'", bad[i].body, err,
                     bad[i].says);
        assert_null(r.message);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_length),
        cmocka_unit_test(test_worker),
        cmocka_unit_test(test_report_fields),
        cmocka_unit_test(test_report_refusals),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
