/* log.c - key=value event lines on stderr, for Kubernetes to collect. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "utf8.h"

#define LOG_LINE_MAX 8192

static const char *log_prog = "binrelay";
static enum log_level log_min = LOG_INFO;
/* Values no line may show; NULL-terminated, owned by the caller. */
static const char *const *log_masks;

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

void log_mask(const char *const *values)
{
    log_masks = values;
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

/*
 * How one piece of 'v' is written: 'out' gets it, and the return is
 * how many bytes of 'v' it stands for.  A log line must stay one line
 * of text: controls and bytes that are no UTF-8 become \xNN.
 */
static size_t log_quote_one(const unsigned char *v, size_t avail, char *out,
                            size_t *outlen)
{
    size_t k;

    if (*v == '"' || *v == '\\') {
        out[0] = '\\';
        out[1] = (char)*v;
        *outlen = 2;
        return 1;
    }
    if (*v >= 0x20 && *v < 0x7f) {
        out[0] = (char)*v;
        *outlen = 1;
        return 1;
    }
    k = *v >= 0x80 ? utf8_len(v, avail) : 0;
    if (k > 0) {
        memcpy(out, v, k);
        *outlen = k;
        return k;
    }
    *outlen = (size_t)snprintf(out, 5, "\\x%02x", *v);
    return 1;
}

char *log_quote(char *buf, size_t size, const char *value)
{
    const unsigned char *v = (const unsigned char *)value;
    size_t n = 0, left = strlen(value);

    if (size < 3)
        return buf;
    buf[n++] = '"';
    while (left > 0) {
        char piece[5];
        size_t plen, used = log_quote_one(v, left, piece, &plen);

        /* Room for the piece, the closing quote and the NUL. */
        if (n + plen + 2 > size)
            break;
        memcpy(buf + n, piece, plen);
        n += plen;
        v += used;
        left -= used;
    }
    buf[n++] = '"';
    buf[n] = '\0';
    return buf;
}

/*
 * Replaces each masked value in the 'len' bytes of 'line' with
 * LOG_MASK, in place: the mask is never longer than what it replaces.
 * Returns the new length.
 */
static size_t log_apply_masks(char *line, size_t len)
{
    const size_t mlen = strlen(LOG_MASK);

    for (const char *const *m = log_masks; m != NULL && *m != NULL; m++) {
        size_t k = strlen(*m), at = 0;
        char *hit;

        if (k < LOG_MASK_MIN)
            continue;
        while ((hit = memmem(line + at, len - at, *m, k)) != NULL) {
            at = (size_t)(hit - line);
            memcpy(hit, LOG_MASK, mlen);
            memmove(hit + mlen, hit + k, len - at - k);
            len -= k - mlen;
            at += mlen;
        }
    }
    return len;
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
    len = log_apply_masks(line, len);
    line[len++] = '\n';

    /* One write per event keeps lines whole when threads log at once. */
    if (write(STDERR_FILENO, line, len) < 0)
        return;
}
