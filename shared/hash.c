/* hash.c - XXH3-128 over streams, in the canonical (big-endian) form. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "hash.h"

#define HASH_READ_SIZE (256 * 1024)

struct hash_state {
    XXH3_state_t xxh;
};

struct hash_state *hash_new(void)
{
    struct hash_state *st = aligned_alloc(64, sizeof(*st));

    if (st == NULL)
        return NULL;
    XXH3_128bits_reset(&st->xxh);
    return st;
}

void hash_free(struct hash_state *st)
{
    free(st);
}

void hash_update(struct hash_state *st, const void *data, size_t len)
{
    XXH3_128bits_update(&st->xxh, data, len);
}

void hash_hex(struct hash_state *st, char hex[HASH_HEX_LEN])
{
    static const char digits[] = "0123456789abcdef";
    XXH128_canonical_t canon;

    XXH128_canonicalFromHash(&canon, XXH3_128bits_digest(&st->xxh));
    for (size_t i = 0; i < sizeof(canon.digest); i++) {
        hex[2 * i] = digits[canon.digest[i] >> 4];
        hex[2 * i + 1] = digits[canon.digest[i] & 15];
    }
    hex[32] = '\0';
}

int hash_fd(int fd, char hex[HASH_HEX_LEN], off_t *size)
{
    struct hash_state *st = hash_new();
    char *buf = malloc(HASH_READ_SIZE);
    off_t off = 0;
    int rc = -1;
    int saved;

    if (st == NULL || buf == NULL)
        goto out_free;

    for (;;) {
        ssize_t n = pread(fd, buf, HASH_READ_SIZE, off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto out_free;
        if (n == 0)
            break;
        hash_update(st, buf, (size_t)n);
        off += n;
    }

    hash_hex(st, hex);
    *size = off;
    rc = 0;

out_free:
    saved = errno;
    free(buf);
    hash_free(st);
    errno = saved;
    return rc;
}

bool hash_hex_valid(const char *s)
{
    for (int i = 0; i < 32; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    }
    return s[32] == '\0';
}
