/* test_token.c - bearer-token checks and a token file that rotates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "token.h"

struct fixture {
    char dir[64];
    char path[96]; /* dir/token */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    snprintf(f->dir, sizeof(f->dir), "/tmp/test_token.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/token", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[96];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void put(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    assert_true(fputs(text, fp) >= 0);
    assert_int_equal(fclose(fp), 0);
}

/*
 * As a Secret is rotated: a new file renamed over the old name.  It is
 * given the old one's time, so that with a token of the same length
 * only its inode says that it is new.
 */
static void rotate(struct fixture *f, const char *text)
{
    struct stat st;
    struct timespec times[2];
    char tmp[128];

    snprintf(tmp, sizeof(tmp), "%s.new", f->path);
    put(tmp, text);
    assert_int_equal(stat(f->path, &st), 0);
    times[0] = st.st_atim;
    times[1] = st.st_mtim;
    assert_int_equal(utimensat(AT_FDCWD, tmp, times, 0), 0);
    assert_int_equal(rename(tmp, f->path), 0);
}

/* token_check() looks at the file at most once a second. */
static void wait_past_recheck(void)
{
    struct timespec t = {.tv_sec = 1, .tv_nsec = 100 * 1000000};

    nanosleep(&t, NULL);
}

static void test_init_missing_or_empty(void **state)
{
    struct fixture *f = *state;

    errno = 0;
    assert_int_equal(token_init(f->path), -1);
    assert_int_equal(errno, ENOENT);

    put(f->path, "");
    errno = 0;
    assert_int_equal(token_init(f->path), -1);
    assert_int_equal(errno, ENODATA);

    /* A trailing newline is trimmed, and then nothing is left. */
    put(f->path, " \r\n\n");
    errno = 0;
    assert_int_equal(token_init(f->path), -1);
    assert_int_equal(errno, ENODATA);
}

static void test_check_accepts_bearer(void **state)
{
    struct fixture *f = *state;

    put(f->path, "s3cret\n");
    assert_int_equal(token_init(f->path), 0);
    assert_true(token_check("Bearer s3cret"));
    /* The scheme is case-insensitive (RFC 7235). */
    assert_true(token_check("bearer s3cret"));
    assert_true(token_check("BEARER s3cret"));
}

static void test_check_refuses(void **state)
{
    struct fixture *f = *state;

    put(f->path, "s3cret\n");
    assert_int_equal(token_init(f->path), 0);
    assert_false(token_check("Bearer wrong!"));
    /* The token itself is case-sensitive. */
    assert_false(token_check("Bearer S3cret"));
    assert_false(token_check("Bearer s3cre"));
    assert_false(token_check("Bearer s"));
    assert_false(token_check("Bearer "));
    assert_false(token_check("Bearer s3cret2"));
    assert_false(token_check("Bearer s3cret\n"));
    assert_false(token_check("Bearer  s3cret"));
    assert_false(token_check("Bearers3cret"));
    assert_false(token_check("Basic s3cret"));
    assert_false(token_check("s3cret"));
    assert_false(token_check(""));
    assert_false(token_check(NULL));
}

/* Without a token file nothing is written from elsewhere, whatever was
 * loaded before. */
static void test_null_path_refuses_every_check(void **state)
{
    struct fixture *f = *state;
    char buf[64];

    put(f->path, "s3cret");
    assert_int_equal(token_init(f->path), 0);
    assert_int_equal(token_init(NULL), 0);
    assert_false(token_check("Bearer s3cret"));
    assert_false(token_check("Bearer "));
    assert_false(token_check(NULL));
    assert_int_equal(token_header(buf, sizeof(buf)), -1);
}

static void test_header(void **state)
{
    struct fixture *f = *state;
    char buf[64];

    put(f->path, "s3cret\n");
    assert_int_equal(token_init(f->path), 0);
    assert_int_equal(token_header(buf, sizeof(buf)), 0);
    assert_string_equal(buf, "Bearer s3cret");
    /* "Bearer ", six bytes of token and the NUL fit in 14, not in 13. */
    assert_int_equal(token_header(buf, 14), 0);
    assert_string_equal(buf, "Bearer s3cret");
    assert_int_equal(token_header(buf, 13), -1);
}

static void test_rotated_file_is_picked_up(void **state)
{
    struct fixture *f = *state;
    char buf[64];

    put(f->path, "first1\n");
    assert_int_equal(token_init(f->path), 0);
    rotate(f, "second\n");
    /* Within the second, the file is not looked at again. */
    assert_true(token_check("Bearer first1"));
    assert_false(token_check("Bearer second"));

    wait_past_recheck();
    assert_true(token_check("Bearer second"));
    assert_false(token_check("Bearer first1"));
    assert_int_equal(token_header(buf, sizeof(buf)), 0);
    assert_string_equal(buf, "Bearer second");
}

/* Runs token_check() with stderr in 'log'; returns what it said. */
static bool check_logged(const char *authorization, const char *log)
{
    int saved = dup(STDERR_FILENO);
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    bool ok;

    assert_true(saved >= 0 && fd >= 0);
    fflush(stderr);
    dup2(fd, STDERR_FILENO);
    close(fd);
    ok = token_check(authorization);
    dup2(saved, STDERR_FILENO);
    close(saved);
    return ok;
}

/* A Secret caught half-written must not lock every worker out. */
static void test_emptied_file_keeps_old_token(void **state)
{
    struct fixture *f = *state;
    char log[128], said[512] = "";
    FILE *fp;

    put(f->path, "first\n");
    assert_int_equal(token_init(f->path), 0);
    put(f->path, "");

    wait_past_recheck();
    snprintf(log, sizeof(log), "%s/log", f->dir);
    assert_true(check_logged("Bearer first", log));
    fp = fopen(log, "r");
    assert_non_null(fp);
    said[fread(said, 1, sizeof(said) - 1, fp)] = '\0';
    fclose(fp);
    /* The file was read again, and refused. */
    assert_non_null(strstr(said, "cannot reload token, keeping the old one"));
}

#define TOKEN_TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TOKEN_TEST(test_init_missing_or_empty),
        TOKEN_TEST(test_check_accepts_bearer),
        TOKEN_TEST(test_check_refuses),
        TOKEN_TEST(test_null_path_refuses_every_check),
        TOKEN_TEST(test_header),
        TOKEN_TEST(test_rotated_file_is_picked_up),
        TOKEN_TEST(test_emptied_file_keeps_old_token),
    };

    log_init("test_token");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
