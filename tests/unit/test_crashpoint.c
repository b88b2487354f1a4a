/* test_crashpoint.c - SIGKILL at the named step only, in a child. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "crashpoint.h"
#include "log.h"

/*
 * In a child with BINRELAY_CRASHPOINT set to 'armed' (NULL: unset),
 * passes each of 'names' in turn, then exits 0.  Returns the wait
 * status; what the child logged is in 'err'.  This process never calls
 * crashpoint() itself: the first call reads the variable for good.
 */
static int pass(const char *armed, const char *const *names, char *err,
                size_t size)
{
    int pipefd[2], status;
    size_t len = 0;
    ssize_t n;
    pid_t pid;

    fflush(stdout);
    fflush(stderr);
    assert_int_equal(pipe(pipefd), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(pipefd[1], STDERR_FILENO);
        close(pipefd[0]);
        close(pipefd[1]);
        if (armed != NULL)
            setenv("BINRELAY_CRASHPOINT", armed, 1);
        else
            unsetenv("BINRELAY_CRASHPOINT");
        for (; *names != NULL; names++)
            crashpoint(*names);
        _exit(0);
    }

    close(pipefd[1]);
    while (len + 1 < size &&
           (n = read(pipefd[0], err + len, size - 1 - len)) > 0)
        len += (size_t)n;
    err[len] = '\0';
    close(pipefd[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

static void test_unset_passes_every_point(void **state)
{
    const char *const names[] = {"after-hash", "after-commit", NULL};
    char err[512];
    int status = pass(NULL, names, err, sizeof(err));

    (void)state;
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_string_equal(err, "");
}

/* Names match whole: neither a prefix nor a longer name is the point. */
static void test_other_names_pass(void **state)
{
    const char *const names[] = {"before-hash", "after", "after-hash-2",
                                 "AFTER-HASH",  "",      NULL};
    char err[512];
    int status = pass("after-hash", names, err, sizeof(err));

    (void)state;
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_string_equal(err, "");
}

/* Killed as an OOM kill would: no exit, no cleanup, after one line. */
static void test_armed_point_kills(void **state)
{
    const char *const names[] = {"before-hash", "after-hash", NULL};
    char err[512];
    int status = pass("after-hash", names, err, sizeof(err));

    (void)state;
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
    assert_non_null(strstr(err, "msg=\"crashpoint reached, killing myself\""));
    assert_non_null(strstr(err, "point=after-hash"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unset_passes_every_point),
        cmocka_unit_test(test_other_names_pass),
        cmocka_unit_test(test_armed_point_kills),
    };

    log_init("test_crashpoint");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
