/* textbuf.h - a growable buffer of text, for JSON bodies built by hand. */
#ifndef BINRELAY_TEXTBUF_H
#define BINRELAY_TEXTBUF_H

#include <stddef.h>

/*
 * Zero-initialized it is empty.  An allocation that fails marks the
 * buffer failed; later appends do nothing, so callers check once, at
 * the end, with textbuf_take().
 */
struct textbuf {
    char *data;
    size_t len, cap;
    int failed;
};

/* Appends 'len' bytes of 'text'. */
void textbuf_add(struct textbuf *b, const char *text, size_t len);

/* Appends a NUL-terminated string. */
void textbuf_puts(struct textbuf *b, const char *text);

/*
 * Hands the text (NUL-terminated, its length in *len) to the caller,
 * who frees it, and leaves the buffer empty.  Returns NULL with errno
 * ENOMEM when an append had failed; the buffer is then freed.
 */
char *textbuf_take(struct textbuf *b, size_t *len);

#endif
