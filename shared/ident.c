/* ident.c - what a pipeline id is, and which worker builds it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ident.h"

static bool ident_is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
           (c >= 'A' && c <= 'F');
}

static int ident_hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return c - 'A' + 10;
}

static bool ident_is_uuid(const char *id)
{
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;

        if (dash ? id[i] != '-' : !ident_is_hex(id[i]))
            return false;
    }
    return id[36] == '\0';
}

/*
 * A decimal id is 1 to IDENT_ID_MAX digits and nothing else: no sign,
 * no space.  Leading zeros are kept, so "007" and "7" are two ids (with
 * the same hash); its value may exceed any C integer.
 */
static bool ident_is_decimal(const char *id)
{
    size_t n = 0;

    for (; id[n] != '\0'; n++) {
        if (id[n] < '0' || id[n] > '9' || n >= IDENT_ID_MAX)
            return false;
    }
    return n > 0;
}

/*
 * The decimal id's value modulo 'n', one digit at a time:
 * (10 r + d) mod n needs no more than 128 bits for any 64-bit n.
 */
static uint64_t ident_decimal_mod(const char *id, uint64_t n)
{
    unsigned __int128 r = 0;

    for (; *id != '\0'; id++)
        r = (r * 10 + (unsigned)(*id - '0')) % n;
    return (uint64_t)r;
}

/* The decimal id's value, or -1 with ERANGE above UINT64_MAX. */
static int ident_decimal_value(const char *id, uint64_t *value)
{
    uint64_t v = 0;

    for (; *id != '\0'; id++) {
        unsigned d = (unsigned)(*id - '0');

        if (v > (UINT64_MAX - d) / 10) {
            errno = ERANGE;
            return -1;
        }
        v = v * 10 + d;
    }
    *value = v;
    return 0;
}

bool ident_valid(const char *id)
{
    return ident_is_decimal(id) || ident_is_uuid(id);
}

static uint64_t ident_uuid_hash(const char *id)
{
    uint64_t bits = 0;
    int digits = 0;

    for (const char *p = id; digits < 16; p++) {
        if (*p == '-')
            continue;
        bits = bits << 4 | (uint64_t)ident_hex_value(*p);
        digits++;
    }

    /*
     * Negating INT64_MIN overflows; working on the unsigned bits gives
     * 2^63 for it and |x| for every other negative x, as Feldera's
     * unsigned_abs() does.
     */
    if (bits & (UINT64_C(1) << 63))
        return ~bits + 1;
    return bits;
}

int ident_hash(const char *id, uint64_t *hash)
{
    if (ident_is_decimal(id))
        return ident_decimal_value(id, hash);
    if (ident_is_uuid(id)) {
        *hash = ident_uuid_hash(id);
        return 0;
    }
    errno = EINVAL;
    return -1;
}

int ident_hash_mod(const char *id, uint64_t n, uint64_t *rem)
{
    if (n == 0) {
        errno = EINVAL;
        return -1;
    }
    if (ident_is_decimal(id)) {
        *rem = ident_decimal_mod(id, n);
        return 0;
    }
    if (ident_is_uuid(id)) {
        *rem = ident_uuid_hash(id) % n;
        return 0;
    }
    errno = EINVAL;
    return -1;
}

int ident_worker(const char *id, long workers)
{
    uint64_t k;

    if (workers < 1 || ident_hash_mod(id, (uint64_t)workers, &k) < 0)
        return -1;
    return (int)k;
}

int ident_parse_version(const char *s, size_t len, int64_t *version)
{
    uint64_t v = 0;

    if (len == 0 || len > 19 || s[0] == '0')
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > INT64_MAX)
        return -1;
    *version = (int64_t)v;
    return 0;
}

int ident_split_name(const char *name, size_t len, char *id, int64_t *version)
{
    const char *at = memchr(name, '@', len);
    size_t idlen;

    /* A NUL inside would let the C string that is checked differ from
     * the bytes that were given. */
    if (at == NULL || memchr(name, '\0', len) != NULL)
        return -1;
    idlen = (size_t)(at - name);
    if (idlen == 0 || idlen > IDENT_ID_MAX)
        return -1;

    memcpy(id, name, idlen);
    id[idlen] = '\0';
    if (!ident_valid(id))
        return -1;
    return ident_parse_version(at + 1, len - idlen - 1, version);
}

void ident_format_name(char *buf, const char *id, int64_t version)
{
    snprintf(buf, IDENT_NAME_MAX, "%s@%lld", id, (long long)version);
}

long ident_ordinal(const char *hostname)
{
    const char *dash = strrchr(hostname, '-');
    long n = 0;

    /* Up to 7 digits: no StatefulSet comes near a million pods. */
    if (dash == NULL || dash[1] == '\0' || strlen(dash + 1) > 7)
        return -1;
    for (const char *p = dash + 1; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        n = n * 10 + (*p - '0');
    }
    return n > 1000000 ? -1 : n;
}
