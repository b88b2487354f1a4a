/* test_builder_job.c - a build's output: the tail kept, whatever size. */
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "job.h"

static char tmpdir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "%s/test_builder_job.XXXXXX", P_tmpdir);
    return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    return rmdir(tmpdir);
}

/* Runs 'cmd' as a build to its end, reading its output as the loop does. */
static void run(struct job *j, const char *cmd)
{
    struct job_env e = {
        .cmd = cmd, .pipelines = tmpdir, .tmpdir = tmpdir, .timeout_s = 60};
    int status;

    memset(j, 0, sizeof(*j));
    snprintf(j->id, sizeof(j->id), "1");
    j->version = 1;
    assert_int_equal(job_start(j, &e), 0);
    while (j->outfd >= 0) {
        struct pollfd p = {.fd = j->outfd, .events = POLLIN};

        assert_true(poll(&p, 1, 10000) == 1);
        job_read_output(j);
    }
    assert_int_equal(waitpid(j->pid, &status, 0), j->pid);
    job_collect(j);
}

static void tail_is(const struct job *j, size_t max, const char *want,
                    size_t wantlen, int wantcut)
{
    char *buf;
    size_t len;
    int cut = -1;

    assert_int_equal(job_log_tail(j, max, &buf, &len, &cut), 0);
    assert_int_equal(len, wantlen);
    assert_memory_equal(buf, want, wantlen);
    assert_int_equal(buf[len], '\0');
    assert_int_equal(cut, wantcut);
    free(buf);
}

static void test_small_output(void **state)
{
    struct job j;

    (void)state;
    run(&j, "echo out; echo err >&2");
    tail_is(&j, JOB_TAIL_MAX, "out\nerr\n", 8, 0);
    tail_is(&j, 4, "err\n", 4, 1);
    job_release(&j);
}

/* 300000 lines "%06d\n": far more than the ring, which wraps. */
static void test_large_output(void **state)
{
    size_t size = 300000 * 7, max = JOB_TAIL_MAX;
    char *all = malloc(size + 1);
    struct job j;

    (void)state;
    for (int i = 0; i < 300000; i++)
        snprintf(all + (size_t)i * 7, 8, "%06d\n", i);
    run(&j, "seq -f %06g 0 299999");
    tail_is(&j, max, all + size - max, max, 1);
    tail_is(&j, 70, all + size - 70, 70, 1);
    job_release(&j);
    free(all);
}

/* "é\n" is 3 bytes; a cut inside the é starts after it. */
static void test_cut_on_a_character(void **state)
{
    struct job j;
    char *buf;
    size_t len;

    (void)state;
    run(&j, "yes é | head -c 300000");
    /* 300000 = 3 * 100000: the last 4 bytes are "\né\n", 5 "\xa9\né\n". */
    tail_is(&j, 4, "\n\xc3\xa9\n", 4, 1);
    tail_is(&j, 5, "\n\xc3\xa9\n", 4, 1);
    tail_is(&j, 6, "\xc3\xa9\n\xc3\xa9\n", 6, 1);
    assert_int_equal(job_log_tail(&j, JOB_TAIL_MAX, &buf, &len, NULL), 0);
    /* 300000 - 65536 = 234464 = 3 * 78154 + 2: on a newline, no cut. */
    assert_int_equal(len, JOB_TAIL_MAX);
    assert_memory_equal(buf, "\n\xc3\xa9\n", 4);
    free(buf);
    job_release(&j);
}

/* The build's directory goes, whatever the build left in work/. */
static void test_release_removes_all(void **state)
{
    struct job j;
    struct stat st;
    char dir[PATH_MAX];

    (void)state;
    run(&j, "mkdir -p a/b; echo x >a/b/c; echo y >\"$PIPELINE_OUT\"");
    snprintf(dir, sizeof(dir), "%s", j.dir);
    assert_int_equal(stat(j.artifact, &st), 0);
    job_release(&j);
    assert_int_equal(stat(dir, &st), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_output),
        cmocka_unit_test(test_large_output),
        cmocka_unit_test(test_cut_on_a_character),
        cmocka_unit_test(test_release_removes_all),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
