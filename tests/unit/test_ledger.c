/* test_ledger.c - the ledger in OUT/done/ and the clean-up of artifacts. */
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
#include "ledger.h"
#include "log.h"

static char root[64];
static int outfd = -1;

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof(root), "/tmp/test_ledger.XXXXXX");
    assert_non_null(mkdtemp(root));
    outfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(outfd >= 0);
    assert_int_equal(mkdirat(outfd, "ready", 0755), 0);
    assert_int_equal(mkdirat(outfd, "done", 0755), 0);
    assert_int_equal(mkdirat(outfd, "artifacts", 0755), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ledger_close();
    close(outfd);
    fsio_remove_tree(AT_FDCWD, root);
    return 0;
}

static void put(const char *path, const char *text)
{
    int fd = openat(outfd, path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

    assert_true(fd >= 0);
    assert_int_equal(fsio_write_all(fd, text, strlen(text)), 0);
    close(fd);
}

static ino_t ino(const char *path)
{
    struct stat st;

    assert_int_equal(fstatat(outfd, path, &st, AT_SYMLINK_NOFOLLOW), 0);
    return st.st_ino;
}

static int exists(const char *path)
{
    struct stat st;

    return fstatat(outfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Publishes result <id>@<v> and records it; returns ledger_record's. */
static int ship(const char *id, int64_t v)
{
    char name[64], man[80], art[80];

    snprintf(name, sizeof(name), "%s@%lld", id, (long long)v);
    snprintf(man, sizeof(man), "ready/%s.json", name);
    snprintf(art, sizeof(art), "artifacts/%s", name);
    put(art, "binary");
    put(man, "{}");
    return ledger_record(name, id, v, art, ino(man), ino(art));
}

static void test_record_moves_manifest(void **state)
{
    (void)state;
    assert_int_equal(ledger_open(outfd, 0), 0);
    assert_int_equal(ship("1", 1), 0);
    assert_true(exists("done/1@1.json"));
    assert_false(exists("ready/1@1.json"));
    /* The artifact goes only once the record is durable. */
    assert_true(exists("artifacts/1@1"));
    assert_int_equal(ledger_flush(), 0);
    assert_false(exists("artifacts/1@1"));
}

static void test_republished_is_not_recorded(void **state)
{
    ino_t old;

    (void)state;
    assert_int_equal(ledger_open(outfd, 0), 0);
    put("ready/2@1.json", "{}");
    old = ino("ready/2@1.json");
    /* Published again: a new file renamed over the old name. */
    put("ready/.new", "{}");
    assert_int_equal(renameat(outfd, "ready/.new", outfd, "ready/2@1.json"), 0);
    assert_int_equal(ledger_record("2@1", "2", 1, NULL, old, 0), 1);
    assert_true(exists("ready/2@1.json"));
    assert_false(exists("done/2@1.json"));
}

static void test_keep_uploaded(void **state)
{
    (void)state;
    assert_int_equal(ledger_open(outfd, 2), 0);
    assert_int_equal(ship("3", 1), 0);
    assert_int_equal(ship("4", 1), 0);
    assert_int_equal(ship("5", 1), 0);
    /* Recorded twice (shipped again after a lost record): kept once. */
    put("ready/5@1.json", "{}");
    assert_int_equal(ledger_record("5@1", "5", 1, "artifacts/5@1",
                                   ino("ready/5@1.json"), ino("artifacts/5@1")),
                     0);
    assert_int_equal(ledger_flush(), 0);
    assert_false(exists("artifacts/3@1"));
    assert_true(exists("artifacts/4@1"));
    assert_true(exists("artifacts/5@1"));
}

static void test_replaced_artifact_is_kept(void **state)
{
    ino_t art;

    (void)state;
    assert_int_equal(ledger_open(outfd, 0), 0);
    put("artifacts/6@1", "old");
    put("ready/6@1.json", "{}");
    art = ino("artifacts/6@1");
    /* A newer file took the name: it is not the one acknowledged. */
    put("artifacts/.x", "new");
    assert_int_equal(renameat(outfd, "artifacts/.x", outfd, "artifacts/6@1"),
                     0);
    assert_int_equal(ledger_record("6@1", "6", 1, "artifacts/6@1",
                                   ino("ready/6@1.json"), art),
                     0);
    assert_int_equal(ledger_flush(), 0);
    assert_true(exists("artifacts/6@1"));
}

static void test_older_versions_pruned(void **state)
{
    (void)state;
    assert_int_equal(ledger_open(outfd, 5), 0);
    assert_int_equal(ship("7", 1), 0);
    assert_int_equal(ship("7", 2), 0);
    assert_false(exists("done/7@1.json"));
    assert_true(exists("done/7@2.json"));
    /* An older version acknowledged late does not displace the newer. */
    assert_int_equal(ship("7", 1), 0);
    assert_false(exists("done/7@1.json"));
    assert_true(exists("done/7@2.json"));
}

static void test_reopen_trims(void **state)
{
    struct timespec t[2] = {{.tv_sec = 1000}, {.tv_sec = 1000}};

    (void)state;
    assert_int_equal(ledger_open(outfd, 5), 0);
    assert_int_equal(ship("8", 1), 0);
    assert_int_equal(ship("9", 1), 0);
    assert_int_equal(ledger_flush(), 0);
    ledger_close();
    /* 8 was acknowledged last. */
    assert_int_equal(utimensat(outfd, "done/9@1.json", t, 0), 0);
    assert_int_equal(ledger_open(outfd, 1), 0);
    assert_false(exists("artifacts/9@1"));
    assert_true(exists("artifacts/8@1"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_record_moves_manifest, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_republished_is_not_recorded, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_keep_uploaded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replaced_artifact_is_kept, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_older_versions_pruned, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reopen_trims, setup, teardown),
    };

    log_init("test_ledger");
    log_set_level("error");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
