/* test_fleet.c - worker ids, fleet sizes and the StatefulSet answer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fleet.h"

static void test_statefulset_name(void **state)
{
    char buf[64];

    (void)state;
    assert_int_equal(fleet_statefulset_name("binrelay-2", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "binrelay");
    assert_int_equal(
        fleet_statefulset_name("x-compiler-server-12", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "x-compiler-server");
    assert_int_equal(fleet_statefulset_name("binrelay", buf, sizeof(buf)), -1);
    assert_int_equal(fleet_statefulset_name("binrelay-x", buf, sizeof(buf)),
                     -1);
    assert_int_equal(fleet_statefulset_name("-3", buf, sizeof(buf)), -1);
    /* "binrelay" and its NUL need 9 bytes. */
    assert_int_equal(fleet_statefulset_name("binrelay-2", buf, 8), -1);
}

static int replicas(const char *json, long *n)
{
    char err[128];

    return fleet_parse_replicas(json, strlen(json), n, err, sizeof(err));
}

static void test_parse_replicas(void **state)
{
    long n = -1;

    (void)state;
    assert_int_equal(replicas("{\"spec\":{\"replicas\":3}}", &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(replicas("{\"spec\":{\"replicas\":0}}", &n), 0);
    assert_int_equal(n, 0);
    /* Kubernetes defaults an absent spec.replicas to 1. */
    assert_int_equal(replicas("{\"spec\":{\"serviceName\":\"x\"}}", &n), 0);
    assert_int_equal(n, 1);
}

static void test_parse_replicas_refused(void **state)
{
    char err[128] = "";
    long n = 7;

    (void)state;
    assert_int_equal(replicas("{\"kind\":\"Status\"}", &n), -1);
    assert_int_equal(replicas("{\"spec\":{\"replicas\":-1}}", &n), -1);
    assert_int_equal(replicas("{\"spec\":{\"replicas\":\"3\"}}", &n), -1);
    assert_int_equal(replicas("{\"spec\":{\"replicas\":2.5}}", &n), -1);
    assert_int_equal(replicas("{\"spec\":", &n), -1);
    assert_int_equal(n, 7);
    assert_int_equal(fleet_parse_replicas("[]", 2, &n, err, sizeof(err)), -1);
    assert_string_equal(err, "the StatefulSet has no spec");
}

static void test_resolve_numbers(void **state)
{
    struct fleet_opts o = {.worker_id = "2", .workers = "3"};
    struct fleet f;

    (void)state;
    fleet_resolve("test", &o, &f);
    assert_int_equal(f.worker_id, 2);
    assert_int_equal(f.workers, 3);
    assert_int_equal(f.from_k8s, 0);
    /* A fixed count is never checked again. */
    assert_int_equal(fleet_next_ms(&f), -1);
    assert_int_equal(fleet_check(&f), 0);
}

/* Runs fleet_resolve() in a child; returns its exit status. */
static int resolve_status(const struct fleet_opts *o)
{
    struct fleet f;
    int status;
    pid_t pid = fork();

    if (pid == 0) {
        /* The reason goes to stderr; keep the test output clean. */
        if (freopen("/dev/null", "w", stderr) == NULL)
            _exit(99);
        fleet_resolve("test", o, &f);
        _exit(0);
    }
    assert_true(pid > 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static void test_resolve_config_errors(void **state)
{
    struct fleet_opts ok = {.worker_id = "0", .workers = "1"};
    struct fleet_opts o;

    (void)state;
    assert_int_equal(resolve_status(&ok), 0);
    o = ok;
    o.worker_id = "1"; /* not below 1 worker */
    assert_int_equal(resolve_status(&o), 2);
    o = ok;
    o.worker_id = "-1";
    assert_int_equal(resolve_status(&o), 2);
    o = ok;
    o.worker_id = "x";
    assert_int_equal(resolve_status(&o), 2);
    o = ok;
    o.workers = "0";
    assert_int_equal(resolve_status(&o), 2);
    o = ok;
    o.workers = "3x";
    assert_int_equal(resolve_status(&o), 2);
}

static void test_k8s_outside_a_cluster(void **state)
{
    struct fleet_opts o = {.worker_id = "0",
                           .workers = "k8s",
                           .statefulset = "binrelay",
                           .sa_dir = "/nonexistent",
                           .start_timeout = 1};

    (void)state;
    /* No KUBERNETES_SERVICE_HOST: nothing to retry, a config error. */
    unsetenv("KUBERNETES_SERVICE_HOST");
    assert_int_equal(resolve_status(&o), 2);
    /* In a cluster, but no service account mounted. */
    setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "1", 1);
    assert_int_equal(resolve_status(&o), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_statefulset_name),
        cmocka_unit_test(test_parse_replicas),
        cmocka_unit_test(test_parse_replicas_refused),
        cmocka_unit_test(test_resolve_numbers),
        cmocka_unit_test(test_resolve_config_errors),
        cmocka_unit_test(test_k8s_outside_a_cluster),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
