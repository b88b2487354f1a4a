/* log.h - one line per event on stderr: a fixed head, then key=value. */
#ifndef BINRELAY_LOG_H
#define BINRELAY_LOG_H

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
 * quotes, with '"', '\\' and control characters escaped, and cut at
 * 'size' - 1 bytes.  Returns 'buf'.
 */
char *log_quote(char *buf, size_t size, const char *value);

#define log_debug(...) log_event(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_event(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_event(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_event(LOG_ERROR, __VA_ARGS__)

#endif
