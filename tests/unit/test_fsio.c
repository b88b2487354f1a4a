/* test_fsio.c - durable writes, bounded reads and link-proof paths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fsio.h"

/* A fresh temporary directory for each test, open as 'fd'. */
struct fixture {
    char dir[64];
    int fd;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    snprintf(f->dir, sizeof(f->dir), "/tmp/test_fsio.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->fd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(f->fd >= 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[96];

    close(f->fd);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void put(int dirfd, const char *name, const char *text)
{
    int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0644);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    assert_int_equal(close(fd), 0);
}

static void mkdir_in(int dirfd, const char *name)
{
    assert_int_equal(mkdirat(dirfd, name, 0755), 0);
}

static void link_in(int dirfd, const char *name, const char *target)
{
    assert_int_equal(symlinkat(target, dirfd, name), 0);
}

/* What 'fd' reads from offset 0, as a string (static buffer). */
static const char *contents_fd(int fd)
{
    static char buf[256];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

    buf[n < 0 ? 0 : n] = '\0';
    return buf;
}

/* What 'name' holds, or "(none)" when it cannot be opened. */
static const char *contents(int dirfd, const char *name)
{
    int fd = openat(dirfd, name, O_RDONLY);
    const char *text;

    if (fd < 0)
        return "(none)";
    text = contents_fd(fd);
    close(fd);
    return text;
}

static int exists(int dirfd, const char *name)
{
    struct stat st;

    return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* How many entries of 'dirfd' start with 'prefix'. */
static int count_prefixed(int dirfd, const char *prefix)
{
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY);
    DIR *dir = fdopendir(fd);
    struct dirent *de;
    int n = 0;

    assert_non_null(dir);
    while ((de = readdir(dir)) != NULL) {
        if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
            n++;
    }
    closedir(dir);
    return n;
}

static int open_dir(int dirfd, const char *name)
{
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    assert_true(fd >= 0);
    return fd;
}

static void test_write_atomic_creates(void **state)
{
    struct fixture *f = *state;
    struct stat st;

    assert_int_equal(fsio_write_atomic(f->fd, "status.json", "v1", 2, 0640), 0);
    assert_string_equal(contents(f->fd, "status.json"), "v1");
    assert_int_equal(fstatat(f->fd, "status.json", &st, 0), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
    assert_int_equal(count_prefixed(f->fd, FSIO_TMP_PREFIX), 0);
}

/* The new file takes the name; whoever has the old one open still reads
 * it whole, never a truncated or half-written file. */
static void test_write_atomic_replaces(void **state)
{
    struct fixture *f = *state;
    int old;

    put(f->fd, "status.json", "old contents");
    old = openat(f->fd, "status.json", O_RDONLY);
    assert_true(old >= 0);
    assert_int_equal(fsio_write_atomic(f->fd, "status.json", "new", 3, 0644),
                     0);
    assert_string_equal(contents(f->fd, "status.json"), "new");
    assert_string_equal(contents_fd(old), "old contents");
    assert_int_equal(count_prefixed(f->fd, FSIO_TMP_PREFIX), 0);
    close(old);
}

/* rename(2) fails: a directory holds the name, or its folder is missing. */
static void test_write_atomic_failed_rename(void **state)
{
    struct fixture *f = *state;

    mkdir_in(f->fd, "taken");
    put(f->fd, "taken/inside", "kept");
    errno = 0;
    assert_int_equal(fsio_write_atomic(f->fd, "taken", "new", 3, 0644), -1);
    assert_int_equal(errno, EISDIR);
    assert_string_equal(contents(f->fd, "taken/inside"), "kept");

    errno = 0;
    assert_int_equal(fsio_write_atomic(f->fd, "missing/x", "new", 3, 0644), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(count_prefixed(f->fd, FSIO_TMP_PREFIX), 0);
}

/* write(2) fails half-way (a file size limit, in a child so that it
 * binds nothing else): the old file stays as it was. */
static void test_write_atomic_failed_write(void **state)
{
    struct fixture *f = *state;
    struct rlimit small = {.rlim_cur = 4, .rlim_max = RLIM_INFINITY};
    char big[100];
    int status;
    pid_t pid;

    put(f->fd, "status.json", "old");
    memset(big, 'x', sizeof(big));
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int rc;

        signal(SIGXFSZ, SIG_IGN);
        if (setrlimit(RLIMIT_FSIZE, &small) < 0)
            _exit(3);
        rc = fsio_write_atomic(f->fd, "status.json", big, sizeof(big), 0644);
        _exit(rc == -1 && errno == EFBIG ? 0 : 1);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_string_equal(contents(f->fd, "status.json"), "old");
    assert_int_equal(count_prefixed(f->fd, FSIO_TMP_PREFIX), 0);
}

static void test_tmpfile_names(void **state)
{
    struct fixture *f = *state;
    char names[50][64];
    int fds[50];

    for (int i = 0; i < 50; i++) {
        struct stat st;

        fds[i] = fsio_tmpfile(f->fd, names[i], sizeof(names[i]), 0600);
        assert_true(fds[i] >= 0);
        assert_memory_equal(names[i], FSIO_TMP_PREFIX, strlen(FSIO_TMP_PREFIX));
        for (int j = 0; j < i; j++)
            assert_string_not_equal(names[i], names[j]);

        /* A new, empty file for reading and writing, kept from children. */
        assert_int_equal(fstat(fds[i], &st), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(st.st_size, 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        assert_int_equal(fcntl(fds[i], F_GETFL) & O_ACCMODE, O_RDWR);
        assert_true(fcntl(fds[i], F_GETFD) & FD_CLOEXEC);
        assert_true(exists(f->fd, names[i]));
    }
    for (int i = 0; i < 50; i++)
        close(fds[i]);
    assert_int_equal(count_prefixed(f->fd, FSIO_TMP_PREFIX), 50);
}

/* A name buffer that holds just the prefix makes every attempt pick the
 * same name: O_EXCL refuses it rather than reopen another's file. */
static void test_tmpfile_never_reopens(void **state)
{
    struct fixture *f = *state;
    char name[sizeof(FSIO_TMP_PREFIX)];
    int fd;

    fd = fsio_tmpfile(f->fd, name, sizeof(name), 0600);
    assert_true(fd >= 0);
    assert_string_equal(name, FSIO_TMP_PREFIX);
    assert_int_equal(write(fd, "mine", 4), 4);
    close(fd);

    errno = 0;
    assert_int_equal(fsio_tmpfile(f->fd, name, sizeof(name), 0600), -1);
    assert_int_equal(errno, EEXIST);
    assert_string_equal(contents(f->fd, FSIO_TMP_PREFIX), "mine");
}

static void test_read_small_reads(void **state)
{
    struct fixture *f = *state;
    char *buf;
    size_t len;

    put(f->fd, "five", "hello");
    assert_int_equal(fsio_read_small(f->fd, "five", 5, &buf, &len), 0);
    assert_int_equal(len, 5);
    assert_string_equal(buf, "hello");
    free(buf);

    put(f->fd, "empty", "");
    assert_int_equal(fsio_read_small(f->fd, "empty", 5, &buf, &len), 0);
    assert_int_equal(len, 0);
    assert_string_equal(buf, "");
    free(buf);

    errno = 0;
    assert_int_equal(fsio_read_small(f->fd, "five", 4, &buf, &len), -1);
    assert_int_equal(errno, EFBIG);
}

static void test_read_small_refuses(void **state)
{
    struct fixture *f = *state;
    char *buf;
    size_t len;

    put(f->fd, "file", "hello");
    link_in(f->fd, "link", "file");
    mkdir_in(f->fd, "dir");
    assert_int_equal(mkfifoat(f->fd, "fifo", 0600), 0);

    errno = 0;
    assert_int_equal(fsio_read_small(f->fd, "link", 100, &buf, &len), -1);
    assert_int_equal(errno, ELOOP);
    errno = 0;
    assert_int_equal(fsio_read_small(f->fd, "dir", 100, &buf, &len), -1);
    assert_int_equal(errno, EINVAL);
    /* A FIFO with no writer must not block the reader either: should
     * it, SIGALRM ends the run instead of hanging it. */
    alarm(5);
    errno = 0;
    assert_int_equal(fsio_read_small(f->fd, "fifo", 100, &buf, &len), -1);
    assert_int_equal(errno, EINVAL);
    alarm(0);
    errno = 0;
    assert_int_equal(fsio_read_small(f->fd, "missing", 100, &buf, &len), -1);
    assert_int_equal(errno, ENOENT);
}

/* A ConfigMap presents its files through symlinks. */
static void test_read_small_follow(void **state)
{
    struct fixture *f = *state;
    char *buf;
    size_t len;

    put(f->fd, "file", "hello");
    mkdir_in(f->fd, "dir");
    link_in(f->fd, "link", "file");
    link_in(f->fd, "link2", "link");
    link_in(f->fd, "dirlink", "dir");
    link_in(f->fd, "dangling", "nowhere");

    assert_int_equal(fsio_read_small_follow(f->fd, "link2", 100, &buf, &len),
                     0);
    assert_int_equal(len, 5);
    assert_string_equal(buf, "hello");
    free(buf);

    errno = 0;
    assert_int_equal(fsio_read_small_follow(f->fd, "link", 4, &buf, &len), -1);
    assert_int_equal(errno, EFBIG);
    errno = 0;
    assert_int_equal(fsio_read_small_follow(f->fd, "dirlink", 100, &buf, &len),
                     -1);
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_int_equal(fsio_read_small_follow(f->fd, "dangling", 100, &buf, &len),
                     -1);
    assert_int_equal(errno, ENOENT);
}

/* tree/a/b/f inside f->dir/tree, and f->dir/outside/secret beside it. */
static int make_tree(struct fixture *f)
{
    mkdir_in(f->fd, "tree");
    mkdir_in(f->fd, "tree/a");
    mkdir_in(f->fd, "tree/a/b");
    put(f->fd, "tree/a/b/f", "inside");
    mkdir_in(f->fd, "outside");
    put(f->fd, "outside/secret", "outside");
    return open_dir(f->fd, "tree");
}

static void test_open_beneath_opens(void **state)
{
    struct fixture *f = *state;
    int tree = make_tree(f);
    int fd = fsio_open_beneath(tree, "a/b/f", O_RDONLY);

    assert_true(fd >= 0);
    assert_string_equal(contents_fd(fd), "inside");
    /* 'flags' apply to the last component. */
    assert_int_equal(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
    close(fd);

    fd = fsio_open_beneath(tree, "a/b", O_RDONLY | O_DIRECTORY);
    assert_true(fd >= 0);
    close(fd);
    close(tree);
}

/* Even a link that stays inside the tree is refused, at the end... */
static void test_open_beneath_final_symlink(void **state)
{
    struct fixture *f = *state;
    int tree = make_tree(f);

    link_in(f->fd, "tree/a/b/link", "f");
    link_in(f->fd, "tree/escape", "../outside/secret");
    errno = 0;
    assert_int_equal(fsio_open_beneath(tree, "a/b/link", O_RDONLY), -1);
    assert_int_equal(errno, ELOOP);
    errno = 0;
    assert_int_equal(fsio_open_beneath(tree, "escape", O_RDONLY), -1);
    assert_int_equal(errno, ELOOP);
    close(tree);
}

/* ...and on the way. */
static void test_open_beneath_intermediate_symlink(void **state)
{
    struct fixture *f = *state;
    int tree = make_tree(f);
    char outside[96];

    snprintf(outside, sizeof(outside), "%s/outside", f->dir);
    link_in(f->fd, "tree/a/lnk", "b");
    link_in(f->fd, "tree/out", outside);

    errno = 0;
    assert_int_equal(fsio_open_beneath(tree, "a/lnk/f", O_RDONLY), -1);
    assert_true(errno == ENOTDIR || errno == ELOOP);
    errno = 0;
    assert_int_equal(fsio_open_beneath(tree, "out/secret", O_RDONLY), -1);
    assert_true(errno == ENOTDIR || errno == ELOOP);
    close(tree);
}

static void test_open_beneath_refuses_dotdot(void **state)
{
    struct fixture *f = *state;
    int tree = make_tree(f);
    int sub = open_dir(tree, "a");

    assert_int_equal(fsio_open_beneath(tree, "a/../a/b/f", O_RDONLY), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(fsio_open_beneath(sub, "../outside/secret", O_RDONLY), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(fsio_open_beneath(sub, "..", O_RDONLY), -1);
    assert_int_equal(errno, EINVAL);
    /* Neither an absolute path nor an empty component gets out. */
    assert_int_equal(fsio_open_beneath(tree, "/etc/passwd", O_RDONLY), -1);
    assert_int_equal(fsio_open_beneath(tree, "a//b/f", O_RDONLY), -1);
    assert_int_equal(fsio_open_beneath(tree, "", O_RDONLY), -1);
    close(sub);
    close(tree);
}

static void test_remove_prefixed(void **state)
{
    struct fixture *f = *state;

    put(f->fd, ".tmp-1", "x");
    mkdir_in(f->fd, ".tmp-dir");
    mkdir_in(f->fd, ".tmp-dir/sub");
    put(f->fd, ".tmp-dir/sub/file", "x");
    mkdir_in(f->fd, "outside");
    put(f->fd, "outside/secret", "outside");
    link_in(f->fd, ".tmp-link", "outside");
    put(f->fd, "keep", "x");
    put(f->fd, "x.tmp-", "x");
    put(f->fd, ".tmp", "x");

    assert_int_equal(fsio_remove_prefixed(f->fd, ".tmp-"), 3);
    assert_false(exists(f->fd, ".tmp-1"));
    assert_false(exists(f->fd, ".tmp-dir"));
    assert_false(exists(f->fd, ".tmp-link"));
    assert_true(exists(f->fd, "keep"));
    assert_true(exists(f->fd, "x.tmp-"));
    assert_true(exists(f->fd, ".tmp"));
    /* The link went, not what it pointed to. */
    assert_string_equal(contents(f->fd, "outside/secret"), "outside");
    assert_int_equal(fsio_remove_prefixed(f->fd, ".tmp-"), 0);
}

/*
 * "." and ".." start with "." too, but are no entries to remove: taken
 * as such, they would empty the directory and its parent.  The parent
 * here is a/ inside the test's own directory, so that a failure costs
 * nothing outside it.
 */
static void test_remove_prefixed_spares_dot_and_dotdot(void **state)
{
    struct fixture *f = *state;
    int b;

    mkdir_in(f->fd, "a");
    mkdir_in(f->fd, "a/b");
    put(f->fd, "a/sibling", "x");
    put(f->fd, "a/b/.hidden", "x");
    put(f->fd, "a/b/keep", "x");
    b = open_dir(f->fd, "a/b");

    assert_int_equal(fsio_remove_prefixed(b, "."), 1);
    assert_false(exists(b, ".hidden"));
    assert_true(exists(b, "keep"));
    assert_true(exists(f->fd, "a/sibling"));
    close(b);
}

static void test_remove_tree_follows_no_link(void **state)
{
    struct fixture *f = *state;
    char outside[96];

    close(make_tree(f));
    snprintf(outside, sizeof(outside), "%s/outside", f->dir);
    put(f->fd, "tree/top", "x");
    link_in(f->fd, "tree/a/abs", outside);
    link_in(f->fd, "tree/a/b/rel", "../../../outside");

    assert_int_equal(fsio_remove_tree(f->fd, "tree"), 0);
    assert_false(exists(f->fd, "tree"));
    assert_string_equal(contents(f->fd, "outside/secret"), "outside");

    /* A name that is itself a link to a directory: only the link goes. */
    link_in(f->fd, "alias", "outside");
    assert_int_equal(fsio_remove_tree(f->fd, "alias"), 0);
    assert_false(exists(f->fd, "alias"));
    assert_string_equal(contents(f->fd, "outside/secret"), "outside");
}

static void test_remove_tree_file_and_missing(void **state)
{
    struct fixture *f = *state;

    put(f->fd, "file", "x");
    assert_int_equal(fsio_remove_tree(f->fd, "file"), 0);
    assert_false(exists(f->fd, "file"));
    /* Already gone is what the caller wanted. */
    assert_int_equal(fsio_remove_tree(f->fd, "missing"), 0);
}

static void test_mkdirs(void **state)
{
    struct fixture *f = *state;
    char path[128];
    struct stat st;

    snprintf(path, sizeof(path), "%s/m/n/o", f->dir);
    assert_int_equal(fsio_mkdirs(path, 0700), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0700);
    assert_int_equal(fstatat(f->fd, "m", &st, 0), 0);
    assert_true(S_ISDIR(st.st_mode));

    /* Existing directories, the last one too, are no error. */
    assert_int_equal(fsio_mkdirs(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/m/n/p/", f->dir);
    assert_int_equal(fsio_mkdirs(path, 0700), 0);
    assert_int_equal(fstatat(f->fd, "m/n/p", &st, 0), 0);
    assert_true(S_ISDIR(st.st_mode));
}

static void test_mkdirs_through_a_file(void **state)
{
    struct fixture *f = *state;
    char path[128];

    put(f->fd, "file", "x");
    snprintf(path, sizeof(path), "%s/file/sub", f->dir);
    errno = 0;
    assert_int_equal(fsio_mkdirs(path, 0755), -1);
    assert_int_equal(errno, ENOTDIR);
    assert_int_equal(fsio_mkdirs("", 0755), -1);
}

/* Only an existing directory is success: a file in its place is not a
 * directory the caller can use. */
static void test_mkdirs_refuses_a_file_in_place(void **state)
{
    struct fixture *f = *state;
    char path[128];

    put(f->fd, "file", "x");
    snprintf(path, sizeof(path), "%s/file", f->dir);
    errno = 0;
    assert_int_equal(fsio_mkdirs(path, 0755), -1);
    assert_true(errno == EEXIST || errno == ENOTDIR);
    assert_string_equal(contents(f->fd, "file"), "x");
}

static void test_rename_durable_across_dirs(void **state)
{
    struct fixture *f = *state;
    int from, to;

    mkdir_in(f->fd, "from");
    mkdir_in(f->fd, "to");
    from = open_dir(f->fd, "from");
    to = open_dir(f->fd, "to");
    put(from, "x", "payload");
    put(to, "y", "older");

    assert_int_equal(fsio_rename_durable(from, "x", to, "y"), 0);
    assert_false(exists(from, "x"));
    assert_string_equal(contents(to, "y"), "payload");

    assert_int_equal(fsio_rename_durable(to, "y", to, "z"), 0);
    assert_string_equal(contents(to, "z"), "payload");

    errno = 0;
    assert_int_equal(fsio_rename_durable(from, "x", to, "z"), -1);
    assert_int_equal(errno, ENOENT);
    assert_string_equal(contents(to, "z"), "payload");
    close(from);
    close(to);
}

static void test_fsync_dirat(void **state)
{
    struct fixture *f = *state;

    mkdir_in(f->fd, "dir");
    put(f->fd, "file", "x");
    assert_int_equal(fsio_fsync_dirat(f->fd, "dir"), 0);
    assert_int_equal(fsio_fsync_dirat(AT_FDCWD, f->dir), 0);
    errno = 0;
    assert_int_equal(fsio_fsync_dirat(f->fd, "missing"), -1);
    assert_int_equal(errno, ENOENT);
    errno = 0;
    assert_int_equal(fsio_fsync_dirat(f->fd, "file"), -1);
    assert_int_equal(errno, ENOTDIR);
}

#define FSIO_TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        FSIO_TEST(test_write_atomic_creates),
        FSIO_TEST(test_write_atomic_replaces),
        FSIO_TEST(test_write_atomic_failed_rename),
        FSIO_TEST(test_write_atomic_failed_write),
        FSIO_TEST(test_tmpfile_names),
        FSIO_TEST(test_tmpfile_never_reopens),
        FSIO_TEST(test_read_small_reads),
        FSIO_TEST(test_read_small_refuses),
        FSIO_TEST(test_read_small_follow),
        FSIO_TEST(test_open_beneath_opens),
        FSIO_TEST(test_open_beneath_final_symlink),
        FSIO_TEST(test_open_beneath_intermediate_symlink),
        FSIO_TEST(test_open_beneath_refuses_dotdot),
        FSIO_TEST(test_remove_prefixed),
        FSIO_TEST(test_remove_prefixed_spares_dot_and_dotdot),
        FSIO_TEST(test_remove_tree_follows_no_link),
        FSIO_TEST(test_remove_tree_file_and_missing),
        FSIO_TEST(test_mkdirs),
        FSIO_TEST(test_mkdirs_through_a_file),
        FSIO_TEST(test_mkdirs_refuses_a_file_in_place),
        FSIO_TEST(test_rename_durable_across_dirs),
        FSIO_TEST(test_fsync_dirat),
    };

    /* Modes are checked as given. */
    umask(022);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
