/* sink.c - the head of an HTTP response body, for reasons and health. */
#include <string.h>

#include "sink.h"

size_t sink_write(char *data, size_t size, size_t n, void *cls)
{
    struct sink *s = cls;
    size_t len = size * n;
    size_t room = s->size - 1 - s->len;

    if (len > room)
        len = room;
    memcpy(s->buf + s->len, data, len);
    s->len += len;
    s->buf[s->len] = '\0';
    return size * n;
}
