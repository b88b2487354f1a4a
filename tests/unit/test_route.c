/* test_route.c - the router: paths, methods, ids, versions and refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "route.h"

#define UUID "0192c3a4-5b6d-7e8f-9a0b-1c2d3e4f5a6b"

static struct route match(const char *method, const char *path)
{
    struct route r;

    route_match(method, path, &r);
    return r;
}

static void test_fixed_paths(void **state)
{
    (void)state;
    assert_int_equal(match("GET", "/healthz").kind, ROUTE_HEALTHZ);
    assert_int_equal(match("GET", "/cluster_healthz").kind,
                     ROUTE_CLUSTER_HEALTHZ);
    assert_int_equal(match("GET", "/metrics").kind, ROUTE_METRICS);
    assert_int_equal(match("GET", "/v1/status").kind, ROUTE_STATUS_LIST);
    assert_int_equal(match("HEAD", "/healthz").kind, ROUTE_HEALTHZ);
    assert_int_equal(match("GET", "/healthz/").kind, ROUTE_NOT_FOUND);
    assert_int_equal(match("GET", "/healthzz").kind, ROUTE_NOT_FOUND);
    assert_int_equal(match("GET", "/").kind, ROUTE_NOT_FOUND);
    assert_int_equal(match("GET", "").kind, ROUTE_NOT_FOUND);
    assert_int_equal(match("GET", "/v1/binaries").kind, ROUTE_NOT_FOUND);
    assert_int_equal(match("GET", "/v1/binaries/7").kind, ROUTE_NOT_FOUND);
}

static void test_binaries(void **state)
{
    struct route r = match("PUT", "/v1/binaries/42/3");

    (void)state;
    assert_int_equal(r.kind, ROUTE_BINARY_PUT);
    assert_string_equal(r.id, "42");
    assert_int_equal(r.version, 3);
    assert_false(r.latest);

    r = match("GET", "/v1/binaries/" UUID "/9223372036854775807");
    assert_int_equal(r.kind, ROUTE_BINARY_GET);
    assert_string_equal(r.id, UUID);
    assert_int_equal(r.version, INT64_MAX);
    assert_false(r.head);

    r = match("HEAD", "/v1/binaries/42/latest");
    assert_int_equal(r.kind, ROUTE_BINARY_GET);
    assert_true(r.head);
    assert_true(r.latest);
}

static void test_status(void **state)
{
    struct route r = match("GET", "/v1/status/42");

    (void)state;
    assert_int_equal(r.kind, ROUTE_STATUS_GET);
    assert_string_equal(r.id, "42");
    r = match("PUT", "/v1/status/42/7");
    assert_int_equal(r.kind, ROUTE_STATUS_PUT);
    assert_int_equal(r.version, 7);
    /* A report names a version; "latest" is only for downloads. */
    assert_int_equal(match("PUT", "/v1/status/42/latest").kind,
                     ROUTE_BAD_REQUEST);
    assert_int_equal(match("PUT", "/v1/binaries/42/latest").kind,
                     ROUTE_BAD_REQUEST);
}

static void test_methods(void **state)
{
    struct route r = match("DELETE", "/v1/binaries/42/3");

    (void)state;
    assert_int_equal(r.kind, ROUTE_BAD_METHOD);
    assert_string_equal(r.allow, "GET, HEAD, PUT");
    r = match("PUT", "/healthz");
    assert_int_equal(r.kind, ROUTE_BAD_METHOD);
    assert_string_equal(r.allow, "GET, HEAD");
    r = match("GET", "/v1/status/42/3");
    assert_int_equal(r.kind, ROUTE_BAD_METHOD);
    assert_string_equal(r.allow, "PUT");
    r = match("POST", "/v1/status");
    assert_int_equal(r.kind, ROUTE_BAD_METHOD);
    /* Methods are case-sensitive (RFC 9110). */
    assert_int_equal(match("get", "/healthz").kind, ROUTE_BAD_METHOD);
    /* The method is refused before the id is looked at. */
    assert_int_equal(match("POST", "/v1/binaries/../3").kind, ROUTE_BAD_METHOD);
}

static void test_bad_ids(void **state)
{
    static const char *const paths[] = {
        "/v1/binaries/../3",
        "/v1/binaries/./3",
        "/v1/binaries//3",
        "/v1/binaries/1%2F2/3",
        "/v1/binaries/..%2F..%2Fetc/3",
        "/v1/binaries/1%00/3",
        "/v1/binaries/%31/3",
        "/v1/binaries/-1/3",
        "/v1/binaries/12a/3",
        "/v1/binaries/1234567890123456789012345678901234567/3",
        "/v1/binaries/" UUID "0/3",
        "/v1/status/..",
        "/v1/status/1%2F2",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        struct route r =
            match(strstr(paths[i], "status") ? "GET" : "PUT", paths[i]);

        if (r.kind != ROUTE_BAD_REQUEST)
            fail_msg("%s: kind %d, want a bad request", paths[i], r.kind);
        assert_non_null(r.reason);
    }
    /* A '/' in an id makes another path, not an id. */
    assert_int_equal(match("PUT", "/v1/binaries/a/b/3").kind, ROUTE_NOT_FOUND);
    assert_int_equal(match("PUT", "/v1/binaries/../../evil/3").kind,
                     ROUTE_NOT_FOUND);
}

static void test_long_id(void **state)
{
    static char path[10100];
    struct route r;

    (void)state;
    snprintf(path, sizeof(path), "/v1/binaries/");
    memset(path + strlen(path), '1', 10000);
    strcat(path, "/3");
    r = match("PUT", path);
    assert_int_equal(r.kind, ROUTE_BAD_REQUEST);
    /* One digit past the longest id: the id buffer is never overrun. */
    memset(path, 0, sizeof(path));
    snprintf(path, sizeof(path), "/v1/binaries/%0*d/3", IDENT_ID_MAX + 1, 1);
    assert_int_equal(match("PUT", path).kind, ROUTE_BAD_REQUEST);
}

static void test_bad_versions(void **state)
{
    static const char *const versions[] = {
        "0",    "-1",     "01",  "+1", "1.0", "1e3", "", "9223372036854775808",
        "1%00", "LATEST", "3/4",
    };
    char path[128];

    (void)state;
    for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
        struct route r;

        snprintf(path, sizeof(path), "/v1/binaries/42/%s", versions[i]);
        r = match("PUT", path);
        if (r.kind != ROUTE_BAD_REQUEST && r.kind != ROUTE_NOT_FOUND)
            fail_msg("%s: kind %d, want a refusal", path, r.kind);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed_paths),  cmocka_unit_test(test_binaries),
        cmocka_unit_test(test_status),       cmocka_unit_test(test_methods),
        cmocka_unit_test(test_bad_ids),      cmocka_unit_test(test_long_id),
        cmocka_unit_test(test_bad_versions),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
