/* redact.h - keeping credentials out of logs, results and health. */
#ifndef BINRELAY_REDACT_H
#define BINRELAY_REDACT_H

#include <stddef.h>

/* What a password, a query string or a secret is replaced with. */
#define REDACT_MASK "***"
/* Shorter secrets are not searched for: they would mask plain text. */
#define REDACT_MIN_SECRET 4

/*
 * Copies the 'len' bytes at 'in' (NUL bytes included) to a malloc'd,
 * NUL-terminated buffer that the caller frees, with every URL's
 * password and query string masked:
 *
 * "redis://user:secret@host" keeps "redis://user:" and "@host", a
 * userinfo without ':' is masked whole (redis reads a bare one as the
 * password), and in "http://h/p?X-Amz-Signature=..." all after the '?'
 * is masked.
 *
 * A URL ends at white space, a quote, '<', '>', '|' or '`'; a query
 * string also at ')' or ']', since error messages put URLs in brackets.
 * Sets *outlen to the length.  Returns NULL with errno on failure.
 */
char *redact_urls(const char *in, size_t len, size_t *outlen);

/*
 * The same copy with every occurrence of each string of 'secrets' (a
 * NULL-terminated array; those shorter than REDACT_MIN_SECRET are
 * skipped) replaced by REDACT_MASK.  Returns NULL with errno on failure.
 */
char *redact_secrets(const char *in, size_t len, const char *const *secrets,
                     size_t *outlen);

/*
 * The length of the longest start of the 'len' bytes at 'in' that is
 * the end, but not the whole, of one of 'secrets', and at least
 * REDACT_MIN_SECRET bytes: what is left of a secret whose beginning
 * was cut off with the text before it (a log's tail).  0 for none.
 */
size_t redact_cut_secret(const char *in, size_t len,
                         const char *const *secrets);

#endif
