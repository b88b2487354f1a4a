/* log.h - one line per event on stderr: a fixed head, then key=value. */
#ifndef BINRELAY_LOG_H
#define BINRELAY_LOG_H

#include <stddef.h>

enum log_level {
    LOG_DEBUG,
    LOG_INFO,
    LOG_WARN,
    LOG_ERROR,
};

/*
 * Names the program in every line.  Call once before any other log_
 * function; 'prog' must outlive the process (a string literal).
 */
void log_init(const char *prog);

/* What a masked value is replaced with in a line. */
#define LOG_MASK "***"
/* Shorter values are not masked: they would hide plain words. */
#define LOG_MASK_MIN 4

/*
 * From now on, every occurrence of each string of 'values' (a
 * NULL-terminated array that, with its strings, must outlive every later
 * log call) in a line is replaced with LOG_MASK before the line is
 * written: credentials never reach the log, whoever formats them.  A
 * value is matched as it stands in the line, so after log_quote() only
 * if quoting left it unchanged.  NULL masks nothing.  Not thread-safe:
 * call it before any thread logs.
 */
void log_mask(const char *const *values);

/* Returns 0, or -1 when 'name' is not debug, info, warn or error. */
int log_set_level(const char *name);

/*
 * Writes "ts=... level=... prog=... msg="<msg>" <fields>" as one line.
 * 'fields' is a printf format producing key=value pairs, or NULL.
 * Values that may hold spaces should be passed through log_quote().
 * Thread-safe: each event is a single write(2).
 */
void log_event(enum log_level level, const char *msg, const char *fields, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Quotes 'value' for a key=value field: the result is wrapped in double
 * quotes, '"' and '\\' get a backslash, and control characters and
 * bytes that are not part of a valid UTF-8 character become \xNN, so
 * that a line is always one line of UTF-8 text.  Valid UTF-8 is kept.
 * The result is cut, never inside a character or an escape, to fit
 * 'size' bytes with its NUL ('size' >= 3).  Returns 'buf'.
 */
char *log_quote(char *buf, size_t size, const char *value);

#define log_debug(...) log_event(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_event(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_event(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_event(LOG_ERROR, __VA_ARGS__)

#endif
