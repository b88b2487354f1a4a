/* token.h - the shared bearer token, re-read when its file changes. */
#ifndef BINRELAY_TOKEN_H
#define BINRELAY_TOKEN_H

#include <stdbool.h>

/*
 * Loads the token from 'path' (NULL: no token, every write refused).
 * Returns 0, or -1 with errno when the file cannot be read or is empty.
 */
int token_init(const char *path);

/*
 * True when 'authorization' is "Bearer <token>" for the current token.
 * The comparison takes the same time wherever the strings differ.  The
 * file is checked for a new version at most once a second, so rotating
 * a Kubernetes Secret needs no restart.  Thread-safe.
 */
bool token_check(const char *authorization);

/* Copies "Bearer <token>" into 'buf'; returns 0, or -1 if no token. */
int token_header(char *buf, size_t size);

#endif
