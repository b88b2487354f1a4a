/* ident.h - pipeline ids, versions, result names and the assignment rule. */
#ifndef BINRELAY_IDENT_H
#define BINRELAY_IDENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest valid id: a UUID is 36 characters, a decimal id 1 to 36 digits. */
#define IDENT_ID_MAX 36
/* "<id>@<version>" with room for a NUL. */
#define IDENT_NAME_MAX (IDENT_ID_MAX + 1 + 20 + 1)

/*
 * True for a canonical UUID (8-4-4-4-12 hex digits, either case) or a
 * decimal id: 1 to IDENT_ID_MAX digits with no sign or space, of any
 * value.  Leading zeros are part of the id: "007" and "7" are distinct
 * ids, both with hash 7.
 */
bool ident_valid(const char *id);

/*
 * The assignment hash: the id itself for decimal ids; for a UUID, its
 * first 16 hex digits read as a big-endian signed 64-bit integer, made
 * non-negative by absolute value.  Returns 0 and sets *hash, or -1 with
 * errno EINVAL for an invalid id, ERANGE for a decimal id above
 * UINT64_MAX (whose hash ident_hash_mod() still reduces exactly).
 */
int ident_hash(const char *id, uint64_t *hash);

/*
 * hash(id) % n, exact for every valid id, decimal ids of 36 digits
 * included.  Returns 0 and sets *rem, or -1 with errno EINVAL for an
 * invalid id or n == 0.
 */
int ident_hash_mod(const char *id, uint64_t n, uint64_t *rem);

/*
 * The worker that builds 'id' in a fleet of 'workers': hash(id) %
 * workers.  Returns it, or -1 for an invalid id or workers < 1.
 */
int ident_worker(const char *id, long workers);

/*
 * Parses a positive decimal version that fits in an int64 with no sign,
 * no leading zero and no trailing bytes.  Returns 0 or -1.
 */
int ident_parse_version(const char *s, size_t len, int64_t *version);

/*
 * Splits "<id>@<version>" (as in artifacts/ and ready/, less any ".json")
 * into its parts.  Returns 0, or -1 when the name is not of that form or
 * either part is invalid.  'id' must hold IDENT_ID_MAX + 1 bytes.
 */
int ident_split_name(const char *name, size_t len, char *id, int64_t *version);

/* Formats "<id>@<version>" into 'buf' (IDENT_NAME_MAX bytes). */
void ident_format_name(char *buf, const char *id, int64_t version);

/*
 * The trailing "-<n>" of 'hostname' ("x-compiler-server-2" is 2).
 * Returns the ordinal, or -1 when there is none.
 */
long ident_ordinal(const char *hostname);

#endif
