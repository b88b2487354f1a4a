/* test_watch.c - which names count as results, by inotify and by scan. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fsio.h"
#include "log.h"
#include "watch.h"

static char root[64], ready[96], building[96];
static int outfd = -1;

/* What the callback saw, as "r:<name> " or "b:<name> " in order. */
static char seen[1024];

static void record(enum watch_dir dir, const char *name, void *cls)
{
    size_t len = strlen(seen);

    (void)cls;
    snprintf(seen + len, sizeof(seen) - len, "%c:%s ",
             dir == WATCH_READY ? 'r' : 'b', name);
}

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof(root), "/tmp/test_watch.XXXXXX");
    assert_non_null(mkdtemp(root));
    snprintf(ready, sizeof(ready), "%s/ready", root);
    snprintf(building, sizeof(building), "%s/building", root);
    assert_int_equal(mkdir(ready, 0755), 0);
    assert_int_equal(mkdir(building, 0755), 0);
    outfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(outfd >= 0);
    seen[0] = '\0';
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    watch_close();
    close(outfd);
    fsio_remove_tree(AT_FDCWD, root);
    return 0;
}

static void put(const char *path)
{
    int fd = openat(outfd, path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

    assert_true(fd >= 0);
    assert_int_equal(fsio_write_all(fd, "{}", 2), 0);
    close(fd);
}

static void move(const char *from, const char *to)
{
    assert_int_equal(renameat(outfd, from, outfd, to), 0);
}

static void test_parse_name(void **state)
{
    char name[IDENT_NAME_MAX], id[IDENT_ID_MAX + 1];
    int64_t v;

    (void)state;
    assert_int_equal(watch_parse_name("17@3.json", name, id, &v), 0);
    assert_string_equal(name, "17@3");
    assert_string_equal(id, "17");
    assert_int_equal(v, 3);
    assert_int_equal(watch_parse_name("0192c3a4-5b6d-7e8f-9a0b-1c2d3e4f5a6b"
                                      "@12.json",
                                      name, id, &v),
                     0);
    assert_int_equal(v, 12);
    assert_int_equal(watch_parse_name(".17@3.json", name, id, &v), -1);
    assert_int_equal(watch_parse_name("17@3.json.tmp", name, id, &v), -1);
    assert_int_equal(watch_parse_name("17@3", name, id, &v), -1);
    assert_int_equal(watch_parse_name("a1@3.json", name, id, &v), -1);
    assert_int_equal(watch_parse_name("17@0.json", name, id, &v), -1);
    assert_int_equal(watch_parse_name("17@03.json", name, id, &v), -1);
    assert_int_equal(watch_parse_name(".json", name, id, &v), -1);
}

static void test_only_renames_count(void **state)
{
    (void)state;
    assert_true(watch_open(ready, building) >= 0);
    put("ready/.1@1.json");    /* a dot name, written in place */
    put("ready/2@1.json");     /* written in place: not a publish */
    put("ready/3@1.json.tmp"); /* not yet its final name */
    put("4@1.json");
    move("4@1.json", "ready/4@1.json");
    move("ready/3@1.json.tmp", "ready/3@1.json");
    put("5@2.json");
    move("5@2.json", "building/5@2.json");
    assert_int_equal(watch_read(record, NULL), 0);
    assert_string_equal(seen, "r:4@1 r:3@1 b:5@2 ");
}

static void test_folder_made_again(void **state)
{
    (void)state;
    assert_true(watch_open(ready, building) >= 0);
    assert_int_equal(rmdir(ready), 0);
    assert_int_equal(watch_read(record, NULL), 1);
    assert_int_equal(mkdir(ready, 0755), 0);
    /* Watched again; what came meanwhile calls for a rescan. */
    assert_int_equal(watch_read(record, NULL), 1);
    put("7@1.json");
    move("7@1.json", "ready/7@1.json");
    assert_int_equal(watch_read(record, NULL), 0);
    assert_string_equal(seen, "r:7@1 ");
}

static void test_scan(void **state)
{
    long n;

    (void)state;
    put("ready/.1@1.json");
    put("ready/2@1.json");
    put("ready/junk");
    put("ready/3@1.json.tmp");
    n = watch_scan(ready, WATCH_READY, record, NULL);
    assert_int_equal(n, 1);
    assert_string_equal(seen, "r:2@1 ");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_name),
        cmocka_unit_test_setup_teardown(test_only_renames_count, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_folder_made_again, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_scan, setup, teardown),
    };

    log_init("test_watch");
    log_set_level("error");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
