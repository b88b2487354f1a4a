/* textbuf.c - a growable buffer of text. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "textbuf.h"

/* Room for 'more' bytes and a NUL; doubling keeps appends O(1) each. */
static int textbuf_reserve(struct textbuf *b, size_t more)
{
    size_t cap = b->cap ? b->cap : 4096;
    char *p;

    if (b->failed || more > (size_t)-1 / 2 - b->len)
        goto out_failed;
    if (b->len + more + 1 <= b->cap)
        return 0;
    while (cap < b->len + more + 1)
        cap *= 2;
    p = realloc(b->data, cap);
    if (p == NULL)
        goto out_failed;
    b->data = p;
    b->cap = cap;
    return 0;

out_failed:
    b->failed = 1;
    return -1;
}

void textbuf_add(struct textbuf *b, const char *text, size_t len)
{
    if (textbuf_reserve(b, len) < 0)
        return;
    memcpy(b->data + b->len, text, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void textbuf_puts(struct textbuf *b, const char *text)
{
    textbuf_add(b, text, strlen(text));
}

char *textbuf_take(struct textbuf *b, size_t *len)
{
    char *text = b->data;

    if (!b->failed && text == NULL && textbuf_reserve(b, 0) == 0) {
        text = b->data;
        text[0] = '\0';
    }
    if (b->failed) {
        free(b->data);
        text = NULL;
        errno = ENOMEM;
    }
    *len = b->failed ? 0 : b->len;
    memset(b, 0, sizeof(*b));
    return text;
}
