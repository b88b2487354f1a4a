/* config.h - flags and their BINRELAY_ environment variables. */
#ifndef BINRELAY_CONFIG_H
#define BINRELAY_CONFIG_H

#include <stdbool.h>

enum config_kind {
    CONFIG_STRING, /* dst is const char ** */
    CONFIG_LONG,   /* dst is long *; 'min' and 'max' bound it */
    CONFIG_BOOL,   /* dst is bool *; the flag takes no argument */
};

struct config_opt {
    const char *name; /* without the leading "--" */
    enum config_kind kind;
    void *dst;
    const char *arg;  /* argument name shown by --help */
    const char *help; /* one line */
    long min, max;    /* CONFIG_LONG only */
};

/* Table entries for a string or a whole-number flag stored at 'dst'. */
#define CONFIG_S(name, dst, arg, help)                                         \
    {                                                                          \
        name, CONFIG_STRING, &(dst), arg, help, 0, 0                           \
    }
#define CONFIG_L(name, dst, arg, help, min, max)                               \
    {                                                                          \
        name, CONFIG_LONG, &(dst), arg, help, min, max                         \
    }

/*
 * Fills each opt's 'dst' from its environment variable (BINRELAY_ + name
 * in capitals, '-' as '_'), then from argv, so that a flag wins over its
 * variable.  Destinations keep their defaults when neither is given.
 * Strings point into argv or environ and are not copied.
 *
 * "--help" prints every flag to stdout and exits 0.  A bad flag or value
 * prints "<prog>: <reason>" on stderr and exits 2.  'nopts' counts 'opts'.
 */
void config_parse(const char *prog, const char *summary,
                  const struct config_opt *opts, int nopts, int argc,
                  char **argv);

/* Prints "<prog>: <reason>" on stderr and exits 2: a configuration error. */
void config_die(const char *prog, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

#endif
