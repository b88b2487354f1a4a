/* test_builder_compcache.c - judging a build through the cache, masking. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "compcache.h"
#include "fsio.h"

static char root[64];

static void put(const char *name, const char *text)
{
    char path[128];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", root, name);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/*
 * The cache as the builder sets it up, with credentials in its
 * variables; a stand-in "ccache" on PATH, since setting up only checks
 * that the tool is there.
 */
static int setup(void **state)
{
    char bin[128], err[256];

    (void)state;
    snprintf(root, sizeof(root), "/tmp/test_builder_compcache.XXXXXX");
    if (mkdtemp(root) == NULL)
        return -1;
    snprintf(bin, sizeof(bin), "%s/ccache", root);
    put("ccache", "#!/bin/sh\n");
    chmod(bin, 0755);
    setenv("PATH", root, 1);
    setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG", 1);
    setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/token", 1);
    snprintf(bin, sizeof(bin), "%s/cache", root);
    return compcache_setup(COMPCACHE_CCACHE, bin,
                           "redis://u:pw-9876@h:1 http://h/b?sig=abcdef|x=1",
                           err, sizeof(err));
}

static int teardown(void **state)
{
    (void)state;
    return fsio_remove_tree(AT_FDCWD, root);
}

static void redacted_is(const char *in, const char *want)
{
    size_t len;
    char *out = compcache_redact(in, strlen(in), &len);

    assert_non_null(out);
    assert_string_equal(out, want);
    assert_int_equal(len, strlen(want));
    free(out);
}

static void test_redact_known_secrets(void **state)
{
    (void)state;
    /* Anywhere: the values the builder was given. */
    redacted_is("key wJalrXUtnFEMI/K7MDENG here\n", "key *** here\n");
    redacted_is("cut short: pw-9876@h:1\n", "cut short: ***@h:1\n");
    redacted_is("sig=abcdef\n", "***\n");
    /* A path named ..._TOKEN_FILE is no secret. */
    redacted_is("/var/run/token\n", "/var/run/token\n");
}

static void test_redact_cache_lines_only(void **state)
{
    (void)state;
    redacted_is("ccache: error: bad URL: foo://h/x?other=1\n",
                "ccache: error: bad URL: foo://h/x?***\n");
    redacted_is("sccache: error: redis://v:other@h\n",
                "sccache: error: redis://v:***@h\n");
    /* A compiler's message quoting a URL stays verbatim. */
    redacted_is("main.c:1: see http://h/doc?x=1\n",
                "main.c:1: see http://h/doc?x=1\n");
}

static void test_judge_broken(void **state)
{
    char reason[COMPCACHE_REASON_MAX];

    (void)state;
    assert_int_equal(compcache_judge(COMPCACHE_CCACHE, root,
                                     "make: cc\nccache: error: unknown remote "
                                     "storage URL: foo://h/x?sig=1\nmake: *** "
                                     "Error 1\n",
                                     reason, sizeof(reason)),
                     COMPCACHE_BROKEN);
    assert_string_equal(
        reason, "ccache: error: unknown remote storage URL: foo://h/x?***");
    assert_int_equal(compcache_judge(COMPCACHE_SCCACHE, root,
                                     "sccache: error: Server startup failed\n",
                                     reason, sizeof(reason)),
                     COMPCACHE_BROKEN);
    assert_string_equal(reason, "sccache: error: Server startup failed");
}

static void test_judge_degraded(void **state)
{
    char reason[COMPCACHE_REASON_MAX];

    (void)state;
    put("ccache.stats", "# main.c\ncache_miss\nremote_storage_error\n");
    put("ccache.log",
        "[2026-12-03T19:42:22.653986 14583] Config: (default) remote_only = "
        "false\n"
        "[2026-12-03T19:42:22.655672 14583] Redis connecting to 127.0.0.1:1 "
        "(connect timeout 100 ms)\n"
        "[2026-12-03T19:42:22.655983 14583] Failed to construct backend for "
        "redis://127.0.0.1:1: Redis connection error: Connection refused\n"
        "[2026-12-03T19:42:22.681011 14583] Not getting from "
        "redis://127.0.0.1:1 since it failed earlier\n");
    assert_int_equal(compcache_judge(COMPCACHE_CCACHE, root, "cc -c main.c\n",
                                     reason, sizeof(reason)),
                     COMPCACHE_DEGRADED);
    assert_string_equal(reason,
                        "ccache: remote storage: Failed to construct backend "
                        "for redis://127.0.0.1:1: Redis connection error: "
                        "Connection refused");
}

static void test_judge_fine(void **state)
{
    char reason[COMPCACHE_REASON_MAX];

    (void)state;
    put("ccache.stats", "# main.c\ncache_miss\nremote_storage_write\n");
    assert_int_equal(
        compcache_judge(COMPCACHE_CCACHE, root, "cc\n", reason, sizeof(reason)),
        COMPCACHE_FINE);
    /* sccache's error in a ccache build is no ccache failure. */
    assert_int_equal(compcache_judge(COMPCACHE_NONE, root,
                                     "sccache: error: x\n", reason,
                                     sizeof(reason)),
                     COMPCACHE_FINE);
}

static void test_status(void **state)
{
    char *json;

    (void)state;
    assert_null(compcache_status_json(COMPCACHE_NONE));
    compcache_note("ccache: remote storage: down");
    json = compcache_status_json(COMPCACHE_CCACHE);
    assert_string_equal(json, "{\"tool\":\"ccache\",\"status\":\"degraded\","
                              "\"reason\":\"ccache: remote storage: down\"}");
    free(json);
    compcache_note(NULL);
    json = compcache_status_json(COMPCACHE_CCACHE);
    assert_string_equal(json, "{\"tool\":\"ccache\",\"status\":\"ok\"}");
    free(json);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redact_known_secrets),
        cmocka_unit_test(test_redact_cache_lines_only),
        cmocka_unit_test(test_judge_broken),
        cmocka_unit_test(test_judge_degraded),
        cmocka_unit_test(test_judge_fine),
        cmocka_unit_test(test_status),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
