/* config.c - flags, with BINRELAY_ environment variables underneath. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

void config_die(const char *prog, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

static void config_env_name(const char *name, char *buf, size_t size)
{
    size_t n = (size_t)snprintf(buf, size, "BINRELAY_");

    for (; *name && n + 1 < size; name++)
        buf[n++] = *name == '-' ? '_' : (char)toupper((unsigned char)*name);
    buf[n] = '\0';
}

static void config_usage(const char *prog, const char *summary,
                         const struct config_opt *opts, int nopts)
{
    char env[128];

    printf("usage: %s [flags]\n%s\n\nflags (each also read from its "
           "environment variable):\n",
           prog, summary);
    for (int i = 0; i < nopts; i++) {
        char head[80];

        snprintf(head, sizeof(head), "--%s%s%s", opts[i].name,
                 opts[i].arg ? " " : "", opts[i].arg ? opts[i].arg : "");
        config_env_name(opts[i].name, env, sizeof(env));
        printf("  %-34s %s [%s]\n", head, opts[i].help, env);
    }
}

/* 'from' names where the value came from: "--flag" or the variable. */
static int config_set_long(const char *prog, const struct config_opt *o,
                           const char *from, const char *value)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(value, &end, 10);
    if (errno != 0 || end == value || *end != '\0')
        config_die(prog, "%s: '%s' is not a whole number", from, value);
    if (v < o->min || v > o->max)
        config_die(prog, "%s: %ld is outside %ld..%ld", from, v, o->min,
                   o->max);
    *(long *)o->dst = v;
    return 0;
}

static bool config_truth(const char *prog, const char *from, const char *value)
{
    if (strcmp(value, "1") == 0 || strcasecmp(value, "true") == 0 ||
        strcasecmp(value, "yes") == 0)
        return true;
    if (strcmp(value, "0") == 0 || strcasecmp(value, "false") == 0 ||
        strcasecmp(value, "no") == 0 || value[0] == '\0')
        return false;
    config_die(prog, "%s: '%s' is not true or false", from, value);
}

static void config_set(const char *prog, const struct config_opt *o,
                       const char *from, const char *value)
{
    switch (o->kind) {
    case CONFIG_STRING:
        *(const char **)o->dst = value;
        break;
    case CONFIG_LONG:
        config_set_long(prog, o, from, value);
        break;
    case CONFIG_BOOL:
        *(bool *)o->dst = config_truth(prog, from, value);
        break;
    }
}

/* Sets 'o' from its flag: 'from' is "--name" for the messages. */
static void config_set_flag(const char *prog, const struct config_opt *o,
                            const char *value)
{
    char from[96];

    snprintf(from, sizeof(from), "--%s", o->name);
    config_set(prog, o, from, value);
}

static const struct config_opt *config_find(const struct config_opt *opts,
                                            int nopts, const char *name,
                                            size_t len)
{
    for (int i = 0; i < nopts; i++) {
        if (strlen(opts[i].name) == len &&
            strncmp(opts[i].name, name, len) == 0)
            return &opts[i];
    }
    return NULL;
}

/* Each variable whose flag was not given: a flag wins, even over a
 * variable that would not parse. */
static void config_from_env(const char *prog, const struct config_opt *opts,
                            int nopts, const bool *given)
{
    char env[128];

    for (int i = 0; i < nopts; i++) {
        const char *value;

        if (given[i])
            continue;
        config_env_name(opts[i].name, env, sizeof(env));
        value = getenv(env);
        if (value != NULL)
            config_set(prog, &opts[i], env, value);
    }
}

/* Handles argv[*i]; returns after consuming its value, if any. */
static void config_flag(const char *prog, const struct config_opt *opts,
                        int nopts, int argc, char **argv, int *i, bool *given)
{
    const char *arg = argv[*i];
    const char *eq;
    const struct config_opt *o;

    if (strncmp(arg, "--", 2) != 0)
        config_die(prog, "unexpected argument '%s'", arg);
    arg += 2;
    eq = strchr(arg, '=');
    o = config_find(opts, nopts, arg, eq ? (size_t)(eq - arg) : strlen(arg));
    if (o == NULL)
        config_die(prog, "unknown flag '%s' (see --help)", argv[*i]);

    given[o - opts] = true;
    if (eq != NULL) {
        config_set_flag(prog, o, eq + 1);
    } else if (o->kind == CONFIG_BOOL) {
        *(bool *)o->dst = true;
    } else {
        if (*i + 1 >= argc)
            config_die(prog, "--%s needs a value", o->name);
        config_set_flag(prog, o, argv[++*i]);
    }
}

void config_parse(const char *prog, const char *summary,
                  const struct config_opt *opts, int nopts, int argc,
                  char **argv)
{
    bool *given;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            config_usage(prog, summary, opts, nopts);
            exit(0);
        }
    }

    given = calloc((size_t)nopts, sizeof(*given));
    if (given == NULL)
        config_die(prog, "out of memory");
    for (int i = 1; i < argc; i++)
        config_flag(prog, opts, nopts, argc, argv, &i, given);
    config_from_env(prog, opts, nopts, given);
    free(given);
}
