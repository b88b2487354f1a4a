/* test_builder_scan.c - what the builder reads in a pipelines directory. */
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

#include "fsio.h"
#include "scan.h"

static char root[64];
static int rootfd = -1;

static void put(const char *name, const char *json)
{
    char path[256];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", root, name);
    mkdir(path, 0755);
    if (json == NULL)
        return;
    snprintf(path, sizeof(path), "%s/%s/pipeline.json", root, name);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(json, f);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof(root), "/tmp/test_builder_scan.XXXXXX");
    if (mkdtemp(root) == NULL)
        return -1;
    rootfd = open(root, O_RDONLY | O_DIRECTORY);
    return rootfd < 0 ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    close(rootfd);
    fsio_remove_tree(AT_FDCWD, root);
    return 0;
}

static void test_good_pipeline(void **state)
{
    struct scan_result r;

    (void)state;
    put("17", "{\"version\": 3, \"name\": \"x\"}");
    scan_pipeline(rootfd, "17", &r);
    assert_true(r.valid_id);
    assert_int_equal(r.version, 3);
    assert_string_equal(r.err, "");
}

static void test_bad_pipeline_json(void **state)
{
    struct scan_result r;

    (void)state;
    put("18", "{\"version\": 4} and junk");
    scan_pipeline(rootfd, "18", &r);
    assert_int_equal(r.version, 0);
    /* A complete object still names its version. */
    assert_int_equal(r.bad_version, 4);
    assert_non_null(strstr(r.err, "invalid JSON"));

    put("19", "{\"version\":");
    scan_pipeline(rootfd, "19", &r);
    assert_int_equal(r.version, 0);
    assert_int_equal(r.bad_version, 0);

    put("20", "{\"version\": \"5\"}");
    scan_pipeline(rootfd, "20", &r);
    assert_int_equal(r.version, 0);
    assert_int_equal(r.bad_version, 0);
    assert_non_null(strstr(r.err, "not a positive integer"));
}

static void test_missing_things(void **state)
{
    struct scan_result r;
    char path[256];

    (void)state;
    put("21", NULL);
    scan_pipeline(rootfd, "21", &r);
    assert_int_equal(r.version, 0);
    assert_non_null(strstr(r.err, "cannot read pipeline.json"));

    snprintf(path, sizeof(path), "%s/22", root);
    close(open(path, O_WRONLY | O_CREAT, 0644));
    scan_pipeline(rootfd, "22", &r);
    assert_non_null(strstr(r.err, "not a directory"));
    assert_false(scan_is_dir(rootfd, "22"));

    put("a b", "{\"version\": 1}");
    scan_pipeline(rootfd, "a b", &r);
    assert_false(r.valid_id);
    assert_true(scan_is_dir(rootfd, "a b"));
}

static void test_symlinked_pipeline(void **state)
{
    struct scan_result r;
    char path[256];

    (void)state;
    /* A ConfigMap's layout: the name is a symlink into "..data". */
    put("..data", NULL);
    snprintf(path, sizeof(path), "%s/..data/23", root);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/..data/23/pipeline.json", root);
    close(open(path, O_WRONLY | O_CREAT, 0644));
    snprintf(path, sizeof(path), "%s/23", root);
    assert_int_equal(symlink("..data/23", path), 0);
    scan_pipeline(rootfd, "23", &r);
    assert_true(scan_is_dir(rootfd, "23"));
    /* Empty, so bad; but read through the symlink. */
    assert_non_null(strstr(r.err, "invalid JSON"));
}

/* pipeline.json itself a symlink, as git-sync checkouts may have it. */
static void test_symlinked_pipeline_json(void **state)
{
    struct scan_result r;
    char path[256], real[256];

    (void)state;
    put("25", "{\"version\": 6}");
    snprintf(path, sizeof(path), "%s/25/pipeline.json", root);
    snprintf(real, sizeof(real), "%s/25/real.json", root);
    assert_int_equal(rename(path, real), 0);
    assert_int_equal(symlink("real.json", path), 0);
    scan_pipeline(rootfd, "25", &r);
    assert_int_equal(r.version, 6);
    assert_string_equal(r.err, "");

    /* A link to a directory is no pipeline.json. */
    put("26", NULL);
    snprintf(path, sizeof(path), "%s/26/pipeline.json", root);
    assert_int_equal(symlink(".", path), 0);
    scan_pipeline(rootfd, "26", &r);
    assert_int_equal(r.version, 0);
    assert_string_equal(r.err, "pipeline.json is not a regular file");
}

static void count_name(const char *name, void *arg)
{
    int *n = arg;

    assert_true(name[0] != '.');
    (*n)++;
}

static void test_dot_names_skipped(void **state)
{
    int n = 0, before;

    (void)state;
    assert_int_equal(scan_names(rootfd, count_name, &n), 0);
    before = n;
    put(".new-24", "{\"version\": 1}");
    put(".hidden", "{\"version\": 1}");
    n = 0;
    assert_int_equal(scan_names(rootfd, count_name, &n), 0);
    assert_int_equal(n, before);
    put("24", "{\"version\": 1}");
    n = 0;
    assert_int_equal(scan_names(rootfd, count_name, &n), 0);
    assert_int_equal(n, before + 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_pipeline),
        cmocka_unit_test(test_bad_pipeline_json),
        cmocka_unit_test(test_missing_things),
        cmocka_unit_test(test_symlinked_pipeline),
        cmocka_unit_test(test_symlinked_pipeline_json),
        cmocka_unit_test(test_dot_names_skipped),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
