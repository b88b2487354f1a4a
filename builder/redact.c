/* redact.c - masking passwords, query strings and known secrets. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "redact.h"

struct redact_buf {
    char *p;
    size_t len, cap;
    int failed;
};

static void redact_put(struct redact_buf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        char *np;

        while (cap < b->len + n + 1)
            cap *= 2;
        np = realloc(b->p, cap);
        if (np == NULL) {
            b->failed = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void redact_mask(struct redact_buf *b)
{
    redact_put(b, REDACT_MASK, strlen(REDACT_MASK));
}

static char *redact_done(struct redact_buf *b, size_t *outlen)
{
    redact_put(b, "", 0);
    if (b->failed) {
        free(b->p);
        errno = ENOMEM;
        return NULL;
    }
    *outlen = b->len;
    return b->p;
}

/* Where a URL ends, whatever part of it we are in. */
static int redact_url_end(char c)
{
    return c == '\0' || strchr(" \t\r\n\v\f\"'<>|`", c) != NULL;
}

/* Bytes of the authority (userinfo@host:port) starting at 'p'. */
static size_t redact_authority(const char *p, const char *end)
{
    const char *q = p;

    while (q < end && !redact_url_end(*q) && *q != '/' && *q != '?' &&
           *q != '#')
        q++;
    return (size_t)(q - p);
}

/* Copies an authority with its password masked. */
static void redact_put_authority(struct redact_buf *b, const char *p, size_t n)
{
    const char *at = NULL, *colon;

    for (size_t i = 0; i < n; i++) {
        if (p[i] == '@')
            at = p + i;
    }
    if (at == NULL) {
        redact_put(b, p, n);
        return;
    }
    colon = memchr(p, ':', (size_t)(at - p));
    if (colon != NULL)
        redact_put(b, p, (size_t)(colon + 1 - p));
    redact_mask(b);
    redact_put(b, at, n - (size_t)(at - p));
}

/* Copies one URL from just after "://"; returns the bytes consumed. */
static size_t redact_one_url(struct redact_buf *b, const char *p,
                             const char *end)
{
    size_t n = redact_authority(p, end);
    const char *q;

    redact_put_authority(b, p, n);
    q = p + n;
    while (q < end && !redact_url_end(*q) && *q != '?')
        q++;
    redact_put(b, p + n, (size_t)(q - (p + n)));
    if (q < end && *q == '?') {
        redact_put(b, "?", 1);
        redact_mask(b);
        while (q < end && !redact_url_end(*q) && *q != ')' && *q != ']')
            q++;
    }
    return (size_t)(q - p);
}

char *redact_urls(const char *in, size_t len, size_t *outlen)
{
    struct redact_buf b = {0};
    const char *end = in + len, *p = in;

    while (p < end) {
        const char *hit = memmem(p, (size_t)(end - p), "://", 3);

        if (hit == NULL) {
            redact_put(&b, p, (size_t)(end - p));
            break;
        }
        redact_put(&b, p, (size_t)(hit + 3 - p));
        p = hit + 3;
        p += redact_one_url(&b, p, end);
    }
    return redact_done(&b, outlen);
}

/* The length of the secret that starts at 'p', or 0. */
static size_t redact_secret_at(const char *p, const char *end,
                               const char *const *secrets)
{
    for (; secrets != NULL && *secrets != NULL; secrets++) {
        size_t n = strlen(*secrets);

        if (n >= REDACT_MIN_SECRET && n <= (size_t)(end - p) &&
            memcmp(p, *secrets, n) == 0)
            return n;
    }
    return 0;
}

char *redact_secrets(const char *in, size_t len, const char *const *secrets,
                     size_t *outlen)
{
    struct redact_buf b = {0};
    const char *end = in + len, *p = in, *plain = in;

    while (p < end) {
        size_t n = redact_secret_at(p, end, secrets);

        if (n == 0) {
            p++;
            continue;
        }
        redact_put(&b, plain, (size_t)(p - plain));
        redact_mask(&b);
        p += n;
        plain = p;
    }
    redact_put(&b, plain, (size_t)(end - plain));
    return redact_done(&b, outlen);
}

size_t redact_cut_secret(const char *in, size_t len, const char *const *secrets)
{
    size_t best = 0;

    for (; secrets != NULL && *secrets != NULL; secrets++) {
        size_t n = strlen(*secrets), k;

        if (n <= REDACT_MIN_SECRET)
            continue;
        /* The longest end of this secret that 'in' starts with. */
        for (k = n - 1 < len ? n - 1 : len; k > best && k >= REDACT_MIN_SECRET;
             k--) {
            if (memcmp(in, *secrets + n - k, k) == 0) {
                best = k;
                break;
            }
        }
    }
    return best;
}
