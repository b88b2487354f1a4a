/* token.c - bearer-token checks that never leak the token. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include "fsio.h"
#include "log.h"
#include "timeutil.h"
#include "token.h"

#define TOKEN_MAX 4096

static pthread_mutex_t token_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *token_path;
static char token_value[TOKEN_MAX];
static size_t token_len;
static struct stat token_seen;
static int64_t token_checked_ms;

/* Reads the file; the caller holds token_lock.  Returns 0 or -1. */
static int token_read(void)
{
    char *buf;
    size_t len;
    struct stat st;

    if (stat(token_path, &st) < 0)
        return -1;
    /* A mounted Secret presents its key as a symlink into "..data". */
    if (fsio_read_small_follow(AT_FDCWD, token_path, TOKEN_MAX - 1, &buf,
                               &len) < 0)
        return -1;

    /* Secrets are often written with a trailing newline. */
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' ||
                       buf[len - 1] == ' '))
        len--;
    if (len == 0) {
        free(buf);
        errno = ENODATA;
        return -1;
    }
    memcpy(token_value, buf, len);
    token_len = len;
    token_seen = st;
    explicit_bzero(buf, len);
    free(buf);
    return 0;
}

int token_init(const char *path)
{
    int rc = 0;

    pthread_mutex_lock(&token_lock);
    /* Whatever was loaded before is gone: no path, or a file that cannot
     * be read, leaves no token, and every write is refused. */
    explicit_bzero(token_value, sizeof(token_value));
    token_len = 0;
    token_path = path;
    if (path != NULL)
        rc = token_read();
    token_checked_ms = timeutil_mono_ms();
    pthread_mutex_unlock(&token_lock);
    return rc;
}

static bool token_changed(const struct stat *st)
{
    return st->st_ino != token_seen.st_ino ||
           st->st_size != token_seen.st_size ||
           st->st_mtim.tv_sec != token_seen.st_mtim.tv_sec ||
           st->st_mtim.tv_nsec != token_seen.st_mtim.tv_nsec;
}

/*
 * Kubernetes updates a mounted Secret by swapping a symlink, so stat()
 * (which follows it) sees a new inode.  A failed re-read keeps the old
 * token rather than locking every worker out.
 */
static void token_refresh(void)
{
    int64_t now = timeutil_mono_ms();
    struct stat st;
    char q[4200];

    if (token_path == NULL || now - token_checked_ms < 1000)
        return;
    token_checked_ms = now;
    if (stat(token_path, &st) < 0 || !token_changed(&st))
        return;
    if (token_read() == 0)
        log_info("token reloaded", "file=%s",
                 log_quote(q, sizeof(q), token_path));
    else
        log_warn("cannot reload token, keeping the old one",
                 "file=%s error=\"%s\"", log_quote(q, sizeof(q), token_path),
                 strerror(errno));
}

static bool token_equal(const char *given, size_t len)
{
    unsigned char diff = (unsigned char)(len != token_len);

    /* Walk the stored token whatever 'given' is, touching every byte. */
    for (size_t i = 0; i < token_len; i++) {
        unsigned char g = i < len ? (unsigned char)given[i] : 0;

        diff |= g ^ (unsigned char)token_value[i];
    }
    return diff == 0;
}

bool token_check(const char *authorization)
{
    static const char prefix[] = "Bearer ";
    bool ok = false;

    /* The scheme is case-insensitive (RFC 7235); the token is not. */
    if (authorization == NULL ||
        strncasecmp(authorization, prefix, sizeof(prefix) - 1) != 0)
        return false;
    authorization += sizeof(prefix) - 1;

    pthread_mutex_lock(&token_lock);
    token_refresh();
    if (token_len > 0)
        ok = token_equal(authorization, strlen(authorization));
    pthread_mutex_unlock(&token_lock);
    return ok;
}

int token_header(char *buf, size_t size)
{
    int rc = -1;

    pthread_mutex_lock(&token_lock);
    token_refresh();
    if (token_len > 0 && token_len + 8 <= size) {
        snprintf(buf, size, "Bearer %.*s", (int)token_len, token_value);
        rc = 0;
    }
    pthread_mutex_unlock(&token_lock);
    return rc;
}
