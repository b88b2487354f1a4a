/* test_config.c - flags over BINRELAY_ variables, and exit 2 on bad ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

#define PROG "prog"

static const char *opt_name;
static long opt_port;
static long opt_offset;
static bool opt_verbose;

static const struct config_opt opts[] = {
    CONFIG_S("ut-name", opt_name, "NAME", "what to call it"),
    CONFIG_L("ut-port", opt_port, "PORT", "where to listen", 1, 65535),
    CONFIG_L("ut-offset", opt_offset, "N", "how far off", -5, 5),
    {"ut-verbose", CONFIG_BOOL, &opt_verbose, NULL, "say more", 0, 0},
};

#define NOPTS ((int)(sizeof(opts) / sizeof(opts[0])))

/* What a child that ran config_parse() did. */
struct outcome {
    int status; /* exit status, or -1 when it did not exit */
    char out[4096];
    char err[1024];
};

static int reset(void **state)
{
    (void)state;
    opt_name = "anon";
    opt_port = 8080;
    opt_offset = 0;
    opt_verbose = false;
    unsetenv("BINRELAY_UT_NAME");
    unsetenv("BINRELAY_UT_PORT");
    unsetenv("BINRELAY_UT_OFFSET");
    unsetenv("BINRELAY_UT_VERBOSE");
    return 0;
}

static void parse(char **argv)
{
    int argc = 0;

    while (argv[argc] != NULL)
        argc++;
    config_parse(PROG, "Does nothing, for the tests.", opts, NOPTS, argc, argv);
}

static void read_all(int fd, char *buf, size_t size)
{
    size_t len = 0;
    ssize_t n;

    while (len + 1 < size && (n = read(fd, buf + len, size - 1 - len)) > 0)
        len += (size_t)n;
    buf[len] = '\0';
    close(fd);
}

/*
 * Parses 'argv' in a child, with its stdout and stderr read through
 * pipes: config_parse() exits on errors and for --help.  A child whose
 * parse returns prints what it set and exits 0.
 */
static void run(char **argv, struct outcome *o)
{
    int out[2], err[2], status;
    pid_t pid;

    /* Buffered test output would otherwise be written twice. */
    fflush(stdout);
    fflush(stderr);
    assert_int_equal(pipe(out), 0);
    assert_int_equal(pipe(err), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(out[1], STDOUT_FILENO);
        dup2(err[1], STDERR_FILENO);
        close(out[0]);
        close(out[1]);
        close(err[0]);
        close(err[1]);
        parse(argv);
        printf("name=%s port=%ld offset=%ld verbose=%d\n", opt_name, opt_port,
               opt_offset, opt_verbose);
        fflush(stdout);
        _exit(0);
    }

    close(out[1]);
    close(err[1]);
    /* The child writes a few lines at most: no pipe fills up. */
    read_all(out[0], o->out, sizeof(o->out));
    read_all(err[0], o->err, sizeof(o->err));
    assert_int_equal(waitpid(pid, &status, 0), pid);
    o->status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* A configuration error: exit 2, one line on stderr, nothing on stdout. */
static void assert_refused(char **argv, const char *line)
{
    struct outcome o;

    run(argv, &o);
    assert_int_equal(o.status, 2);
    assert_string_equal(o.err, line);
    assert_string_equal(o.out, "");
}

static void assert_parsed(char **argv, const char *values)
{
    struct outcome o;

    run(argv, &o);
    assert_string_equal(o.err, "");
    assert_int_equal(o.status, 0);
    assert_string_equal(o.out, values);
}

static void test_defaults_kept(void **state)
{
    (void)state;
    assert_parsed((char *[]){PROG, NULL},
                  "name=anon port=8080 offset=0 verbose=0\n");
}

static void test_flag_sets_its_destination(void **state)
{
    (void)state;
    assert_parsed((char *[]){PROG, "--ut-name", "bob", "--ut-port", "81",
                             "--ut-offset", "-3", "--ut-verbose", NULL},
                  "name=bob port=81 offset=-3 verbose=1\n");
}

static void test_variable_when_flag_absent(void **state)
{
    (void)state;
    setenv("BINRELAY_UT_NAME", "alice", 1);
    setenv("BINRELAY_UT_PORT", "9000", 1);
    setenv("BINRELAY_UT_VERBOSE", "true", 1);
    assert_parsed((char *[]){PROG, "--ut-offset", "2", NULL},
                  "name=alice port=9000 offset=2 verbose=1\n");
}

/* A bad variable must not stop a daemon whose flag says otherwise. */
static void test_flag_wins_over_variable(void **state)
{
    (void)state;
    setenv("BINRELAY_UT_NAME", "alice", 1);
    setenv("BINRELAY_UT_PORT", "not-a-port", 1);
    setenv("BINRELAY_UT_VERBOSE", "maybe", 1);
    assert_parsed((char *[]){PROG, "--ut-name", "bob", "--ut-port=82",
                             "--ut-verbose=no", NULL},
                  "name=bob port=82 offset=0 verbose=0\n");
}

static void test_name_equals_value_form(void **state)
{
    (void)state;
    /* Only the first '=' ends the name. */
    assert_parsed((char *[]){PROG, "--ut-name=a=b", "--ut-offset=-5", NULL},
                  "name=a=b port=8080 offset=-5 verbose=0\n");
    assert_parsed((char *[]){PROG, "--ut-name=", NULL},
                  "name= port=8080 offset=0 verbose=0\n");
}

/* Strings are not copied: they point into argv or the environment. */
static void test_strings_point_into_argv(void **state)
{
    char *argv[] = {PROG, "--ut-name=carol", NULL};

    (void)state;
    parse(argv);
    assert_ptr_equal(opt_name, argv[1] + strlen("--ut-name="));
}

static void test_bool_flags(void **state)
{
    (void)state;
    /* A bare bool flag takes no value: the next argument is a flag. */
    assert_parsed((char *[]){PROG, "--ut-verbose", "--ut-port", "83", NULL},
                  "name=anon port=83 offset=0 verbose=1\n");
    assert_parsed((char *[]){PROG, "--ut-verbose=yes", NULL},
                  "name=anon port=8080 offset=0 verbose=1\n");
    assert_parsed((char *[]){PROG, "--ut-verbose=FALSE", NULL},
                  "name=anon port=8080 offset=0 verbose=0\n");
    setenv("BINRELAY_UT_VERBOSE", "1", 1);
    assert_parsed((char *[]){PROG, NULL},
                  "name=anon port=8080 offset=0 verbose=1\n");
    /* An empty variable is false, as an absent one would be. */
    setenv("BINRELAY_UT_VERBOSE", "", 1);
    assert_parsed((char *[]){PROG, NULL},
                  "name=anon port=8080 offset=0 verbose=0\n");
    assert_refused((char *[]){PROG, "--ut-verbose=maybe", NULL},
                   PROG ": --ut-verbose: 'maybe' is not true or false\n");
    assert_refused((char *[]){PROG, "--ut-verbose", "yes", NULL},
                   PROG ": unexpected argument 'yes'\n");
    setenv("BINRELAY_UT_VERBOSE", "maybe", 1);
    assert_refused((char *[]){PROG, NULL}, PROG
                   ": BINRELAY_UT_VERBOSE: 'maybe' is not true or false\n");
}

static void test_long_bounds(void **state)
{
    (void)state;
    assert_parsed((char *[]){PROG, "--ut-port", "1", "--ut-offset", "5", NULL},
                  "name=anon port=1 offset=5 verbose=0\n");
    assert_parsed((char *[]){PROG, "--ut-port=65535", NULL},
                  "name=anon port=65535 offset=0 verbose=0\n");
    assert_refused((char *[]){PROG, "--ut-port", "0", NULL},
                   PROG ": --ut-port: 0 is outside 1..65535\n");
    assert_refused((char *[]){PROG, "--ut-port", "65536", NULL},
                   PROG ": --ut-port: 65536 is outside 1..65535\n");
    assert_refused((char *[]){PROG, "--ut-offset=-6", NULL},
                   PROG ": --ut-offset: -6 is outside -5..5\n");
    setenv("BINRELAY_UT_PORT", "70000", 1);
    assert_refused((char *[]){PROG, NULL},
                   PROG ": BINRELAY_UT_PORT: 70000 is outside 1..65535\n");
}

static void test_unknown_flag(void **state)
{
    (void)state;
    assert_refused((char *[]){PROG, "--nope", NULL},
                   PROG ": unknown flag '--nope' (see --help)\n");
    /* A flag's prefix is not the flag. */
    assert_refused((char *[]){PROG, "--ut-por", "80", NULL},
                   PROG ": unknown flag '--ut-por' (see --help)\n");
    assert_refused((char *[]){PROG, "--ut-port-x=1", NULL},
                   PROG ": unknown flag '--ut-port-x=1' (see --help)\n");
}

static void test_missing_value(void **state)
{
    (void)state;
    assert_refused((char *[]){PROG, "--ut-name", "x", "--ut-port", NULL},
                   PROG ": --ut-port needs a value\n");
}

static void test_stray_argument(void **state)
{
    (void)state;
    assert_refused((char *[]){PROG, "stray", NULL},
                   PROG ": unexpected argument 'stray'\n");
    assert_refused((char *[]){PROG, "--ut-port", "80", "-p", NULL},
                   PROG ": unexpected argument '-p'\n");
}

static void test_bad_number(void **state)
{
    (void)state;
    assert_refused((char *[]){PROG, "--ut-port", "12x", NULL},
                   PROG ": --ut-port: '12x' is not a whole number\n");
    assert_refused((char *[]){PROG, "--ut-port=", NULL},
                   PROG ": --ut-port: '' is not a whole number\n");
    assert_refused(
        (char *[]){PROG, "--ut-port", "99999999999999999999", NULL},
        PROG ": --ut-port: '99999999999999999999' is not a whole number\n");
    setenv("BINRELAY_UT_PORT", "eighty", 1);
    assert_refused((char *[]){PROG, NULL},
                   PROG ": BINRELAY_UT_PORT: 'eighty' is not a whole number\n");
}

/* The --help line of 'flag' goes on with its help and its variable. */
static void assert_help_line(const char *text, const char *flag,
                             const char *rest)
{
    const char *at = strstr(text, flag);
    char line[256];

    assert_non_null(at);
    snprintf(line, sizeof(line), "%.*s", (int)strcspn(at, "\n"), at);
    assert_non_null(strstr(line, rest));
}

static void test_help_lists_each_flag_and_variable(void **state)
{
    struct outcome o;

    (void)state;
    /* --help answers even beside a bad flag and a bad variable. */
    setenv("BINRELAY_UT_PORT", "not-a-port", 1);
    run((char *[]){PROG, "--nope", "--help", NULL}, &o);
    assert_int_equal(o.status, 0);
    assert_string_equal(o.err, "");
    assert_non_null(strstr(o.out, "usage: " PROG " [flags]\n"));
    assert_non_null(strstr(o.out, "Does nothing, for the tests.\n"));

    assert_help_line(o.out, "--ut-name NAME ",
                     "what to call it [BINRELAY_UT_NAME]");
    assert_help_line(o.out, "--ut-port PORT ",
                     "where to listen [BINRELAY_UT_PORT]");
    assert_help_line(o.out, "--ut-offset N ",
                     "how far off [BINRELAY_UT_OFFSET]");
    /* A bool flag shows no argument. */
    assert_help_line(o.out, "--ut-verbose ", "say more [BINRELAY_UT_VERBOSE]");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_defaults_kept, reset),
        cmocka_unit_test_setup(test_flag_sets_its_destination, reset),
        cmocka_unit_test_setup(test_variable_when_flag_absent, reset),
        cmocka_unit_test_setup(test_flag_wins_over_variable, reset),
        cmocka_unit_test_setup(test_name_equals_value_form, reset),
        cmocka_unit_test_setup(test_strings_point_into_argv, reset),
        cmocka_unit_test_setup(test_bool_flags, reset),
        cmocka_unit_test_setup(test_long_bounds, reset),
        cmocka_unit_test_setup(test_unknown_flag, reset),
        cmocka_unit_test_setup(test_missing_value, reset),
        cmocka_unit_test_setup(test_stray_argument, reset),
        cmocka_unit_test_setup(test_bad_number, reset),
        cmocka_unit_test_setup(test_help_lists_each_flag_and_variable, reset),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
