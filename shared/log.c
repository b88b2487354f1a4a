/* log.c - key=value event lines on stderr, for Kubernetes to collect. */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOG_LINE_MAX 8192

static const char *log_prog = "binrelay";
static enum log_level log_min = LOG_INFO;

static const char *const log_names[] = {
    [LOG_DEBUG] = "debug",
    [LOG_INFO] = "info",
    [LOG_WARN] = "warn",
    [LOG_ERROR] = "error",
};

void log_init(const char *prog)
{
    log_prog = prog;
}

int log_set_level(const char *name)
{
    for (size_t i = 0; i < sizeof(log_names) / sizeof(log_names[0]); i++) {
        if (strcmp(name, log_names[i]) == 0) {
            log_min = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

char *log_quote(char *buf, size_t size, const char *value)
{
    size_t n = 0;

    if (size < 3)
        return buf;
    buf[n++] = '"';
    for (; *value && n + 3 < size; value++) {
        unsigned char c = (unsigned char)*value;

        if (c == '"' || c == '\\') {
            buf[n++] = '\\';
            buf[n++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            buf[n++] = '?';
        } else {
            buf[n++] = (char)c;
        }
    }
    buf[n++] = '"';
    buf[n] = '\0';
    return buf;
}

static size_t log_head(char *line, size_t size, enum log_level level,
                       const char *msg)
{
    struct timeval tv;
    struct tm tm;
    char quoted[512];
    int n;

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    n = snprintf(line, size,
                 "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s prog=%s "
                 "msg=%s",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, (long)(tv.tv_usec / 1000),
                 log_names[level], log_prog,
                 log_quote(quoted, sizeof(quoted), msg));
    if (n < 0)
        return 0;
    return (size_t)n < size ? (size_t)n : size - 1;
}

void log_event(enum log_level level, const char *msg, const char *fields, ...)
{
    char line[LOG_LINE_MAX];
    size_t len;
    va_list ap;

    if (level < log_min)
        return;

    len = log_head(line, sizeof(line) - 1, level, msg);
    if (fields != NULL && len + 1 < sizeof(line) - 1) {
        int n;

        line[len++] = ' ';
        va_start(ap, fields);
        n = vsnprintf(line + len, sizeof(line) - 1 - len, fields, ap);
        va_end(ap);
        if (n > 0)
            len += (size_t)n < sizeof(line) - 1 - len ? (size_t)n
                                                      : sizeof(line) - 2 - len;
    }
    line[len++] = '\n';

    /* One write per event keeps lines whole when threads log at once. */
    if (write(STDERR_FILENO, line, len) < 0)
        return;
}
