/* test_builder_pipewatch.c - which inotify events call for a rescan. */
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
#include "pipewatch.h"

static char base[64];

static void path_of(char *buf, size_t size, const char *rel)
{
    snprintf(buf, size, "%s/%s", base, rel);
}

static void touch(const char *rel)
{
    char path[256];
    int fd;

    path_of(path, sizeof(path), rel);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "{}", 2), 2);
    close(fd);
}

static void make_dir(const char *rel)
{
    char path[256];

    path_of(path, sizeof(path), rel);
    assert_int_equal(mkdir(path, 0755), 0);
}

static void move(const char *from, const char *to)
{
    char a[256], b[256];

    path_of(a, sizeof(a), from);
    path_of(b, sizeof(b), to);
    assert_int_equal(rename(a, b), 0);
}

/* Points the "root" symlink at 'target' with a rename, as git-sync does. */
static void swap_root(const char *target)
{
    char tmp[256];

    path_of(tmp, sizeof(tmp), ".tmp-link");
    assert_int_equal(symlink(target, tmp), 0);
    move(".tmp-link", "root");
}

static struct pipewatch *start(void)
{
    char root[256];
    struct pipewatch *w;

    snprintf(base, sizeof(base), "/tmp/test_builder_pipewatch.XXXXXX");
    assert_non_null(mkdtemp(base));
    make_dir("rev1");
    make_dir("rev1/17");
    swap_root("rev1");
    path_of(root, sizeof(root), "root");
    w = pipewatch_open(root);
    assert_non_null(w);
    pipewatch_begin(w);
    pipewatch_pipeline(w, "17");
    pipewatch_end(w);
    assert_int_equal(pipewatch_read(w), 0);
    return w;
}

static void stop(struct pipewatch *w)
{
    pipewatch_close(w);
    fsio_remove_tree(AT_FDCWD, base);
}

static void test_pipeline_json_only(void **state)
{
    struct pipewatch *w = start();

    (void)state;
    touch("rev1/17/main.c");
    assert_int_equal(pipewatch_read(w), 0);
    touch("rev1/17/pipeline.json");
    assert_int_equal(pipewatch_read(w), 1);
    /* Replaced by rename, as careful writers do. */
    touch("rev1/17/.pipeline.json");
    assert_int_equal(pipewatch_read(w), 0);
    move("rev1/17/.pipeline.json", "rev1/17/pipeline.json");
    assert_int_equal(pipewatch_read(w), 1);
    stop(w);
}

static void test_root_entries(void **state)
{
    struct pipewatch *w = start();

    (void)state;
    make_dir("rev1/18");
    assert_int_equal(pipewatch_read(w), 1);
    touch("unrelated");
    /* The parent is watched for the root's name only. */
    assert_int_equal(pipewatch_read(w), 0);
    stop(w);
}

static void test_root_swapped(void **state)
{
    struct pipewatch *w = start();

    (void)state;
    make_dir("rev2");
    assert_int_equal(pipewatch_read(w), 0);
    swap_root("rev2");
    assert_int_equal(pipewatch_read(w), 1);

    /* The rescan follows the new root and drops the old one. */
    pipewatch_begin(w);
    pipewatch_end(w);
    pipewatch_read(w);
    make_dir("rev1/19");
    assert_int_equal(pipewatch_read(w), 0);
    make_dir("rev2/19");
    assert_int_equal(pipewatch_read(w), 1);
    stop(w);
}

static void test_root_missing_then_created(void **state)
{
    struct pipewatch *w;
    char root[256];

    (void)state;
    snprintf(base, sizeof(base), "/tmp/test_builder_pipewatch.XXXXXX");
    assert_non_null(mkdtemp(base));
    path_of(root, sizeof(root), "root");
    w = pipewatch_open(root);
    assert_non_null(w);
    make_dir("rev1");
    assert_int_equal(pipewatch_read(w), 0);
    swap_root("rev1");
    assert_int_equal(pipewatch_read(w), 1);
    stop(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipeline_json_only),
        cmocka_unit_test(test_root_entries),
        cmocka_unit_test(test_root_swapped),
        cmocka_unit_test(test_root_missing_then_created),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
