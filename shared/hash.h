/* hash.h - streaming XXH3-128, printed as `xxhsum -H2` prints it. */
#ifndef BINRELAY_HASH_H
#define BINRELAY_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* 32 lowercase hex digits and a NUL. */
#define HASH_HEX_LEN 33

struct hash_state;

/* Returns a fresh state, or NULL with errno ENOMEM. */
struct hash_state *hash_new(void);
void hash_free(struct hash_state *st);
void hash_update(struct hash_state *st, const void *data, size_t len);
/* Writes the digest of everything fed so far into 'hex'. */
void hash_hex(struct hash_state *st, char hex[HASH_HEX_LEN]);

/*
 * Hashes 'fd' from offset 0 to its end with pread(2), never holding
 * more than one buffer.  Returns 0 and sets 'hex' and *size, or -1 with
 * errno from the read.
 */
int hash_fd(int fd, char hex[HASH_HEX_LEN], off_t *size);

/* True for exactly 32 lowercase hex digits. */
bool hash_hex_valid(const char *s);

#endif
