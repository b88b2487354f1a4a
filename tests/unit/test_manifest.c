/* test_manifest.c - manifests and pipeline.json. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "manifest.h"

static int parse(const char *json, struct manifest *m, char *err)
{
    return manifest_parse(json, strlen(json), m, err, 256);
}

static void test_success_manifest(void **state)
{
    const char *json =
        "{\"pipeline_id\":\"17\",\"version\":3,\"state\":\"success\","
        "\"artifact\":\"artifacts/17@3\",\"log\":\"ok\\n\",\"worker_id\":2,"
        "\"started_at\":\"2026-12-03T10:00:00Z\","
        "\"finished_at\":\"2026-12-03T10:00:01Z\",\"extra\":1}";
    struct manifest m;
    char err[256];

    (void)state;
    assert_int_equal(parse(json, &m, err), 0);
    assert_string_equal(m.pipeline_id, "17");
    assert_int_equal(m.version, 3);
    assert_int_equal(m.state, STATE_SUCCESS);
    assert_string_equal(m.artifact, "artifacts/17@3");
    assert_string_equal(m.log, "ok\n");
    assert_int_equal(m.worker_id, 2);
    assert_string_equal(m.finished_at, "2026-12-03T10:00:01Z");
    manifest_free(&m);
}

static void test_round_trip(void **state)
{
    struct manifest m = {
        .version = 9, .state = STATE_COMPILE_ERROR, .worker_id = 1};
    struct manifest back;
    char err[256];
    char *json;

    (void)state;
    strcpy(m.pipeline_id, "0192c3a4-5b6d-7e8f-9a0b-1c2d3e4f5a6b");
    assert_int_equal(manifest_set_log(&m, "main.c:1: error: \"x\"\n", 21), 0);
    json = manifest_encode(&m);
    assert_non_null(json);
    assert_int_equal(parse(json, &back, err), 0);
    assert_string_equal(back.pipeline_id, m.pipeline_id);
    assert_int_equal(back.state, STATE_COMPILE_ERROR);
    assert_string_equal(back.log, m.log);
    free(json);
    manifest_free(&m);
    manifest_free(&back);
}

static void test_bad_manifests(void **state)
{
    static const char *const bad[] = {
        "",
        "[]",
        "{",
        "{\"pipeline_id\":\"x\",\"version\":1,\"state\":\"success\"}",
        "{\"pipeline_id\":\"1\",\"version\":0,\"state\":\"compile_error\"}",
        "{\"pipeline_id\":\"1\",\"version\":\"1\",\"state\":\"success\"}",
        "{\"pipeline_id\":\"1\",\"version\":1,\"state\":\"pending\"}",
        "{\"pipeline_id\":\"1\",\"version\":1,\"state\":\"success\"}",
        "{\"pipeline_id\":\"1\",\"version\":1,\"state\":\"success\","
        "\"artifact\":\"../etc/passwd\"}",
        "{\"pipeline_id\":\"1\",\"version\":1,\"state\":\"success\","
        "\"artifact\":\"/etc/passwd\"}",
        "{\"pipeline_id\":\"1\",\"version\":1,\"state\":\"success\","
        "\"artifact\":\"artifacts/../../x\"}",
        "{\"pipeline_id\":\"1\",\"version\":1,\"version\":2,"
        "\"state\":\"compile_error\"}",
        "{\"pipeline_id\":\"1\",\"version\":1,\"state\":\"compile_error\","
        "\"log\":5}",
    };
    struct manifest m;
    char err[256];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(parse(bad[i], &m, err), -1);
        assert_true(strlen(err) > 0);
    }
}

static void test_log_tail(void **state)
{
    struct manifest m = {0};
    size_t len = MANIFEST_LOG_MAX + 10;
    char *big = malloc(len);

    (void)state;
    memset(big, 'a', len);
    /* A two-byte character straddles the cut: it must not be halved. */
    big[9] = (char)0xc3;
    big[10] = (char)0xa9;
    big[len - 1] = (char)0xff;
    assert_int_equal(manifest_set_log(&m, big, len), 0);
    assert_int_equal(strlen(m.log), MANIFEST_LOG_MAX - 1);
    assert_int_equal(m.log[0], 'a');
    assert_int_equal(m.log[strlen(m.log) - 1], '?');
    free(big);
    manifest_free(&m);
}

static void test_pipeline_json(void **state)
{
    int64_t v;
    char err[256];

    (void)state;
    assert_int_equal(manifest_parse_pipeline("{\"version\":4,\"name\":\"x\"}",
                                             24, &v, err, sizeof(err)),
                     0);
    assert_int_equal(v, 4);
    assert_int_equal(
        manifest_parse_pipeline("{\"name\":\"x\"}", 12, &v, err, sizeof(err)),
        -1);
    assert_non_null(strstr(err, "version"));
    assert_int_equal(
        manifest_parse_pipeline("{\"version\":1.5}", 15, &v, err, sizeof(err)),
        -1);
    assert_int_equal(
        manifest_parse_pipeline("{\"version\":-2}", 14, &v, err, sizeof(err)),
        -1);
    assert_int_equal(
        manifest_parse_pipeline("{\"version\":", 11, &v, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "invalid JSON"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_success_manifest),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_bad_manifests),
        cmocka_unit_test(test_log_tail),
        cmocka_unit_test(test_pipeline_json),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
