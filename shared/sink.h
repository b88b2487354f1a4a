/* sink.h - a response body collected by libcurl into a fixed buffer. */
#ifndef BINRELAY_SINK_H
#define BINRELAY_SINK_H

#include <stddef.h>

/*
 * 'buf' of 'size' bytes (at least 1), owned by the caller, which also
 * zeroes 'len' before a transfer.  The text is kept NUL-terminated.
 */
struct sink {
    char *buf;
    size_t size;
    size_t len;
};

/*
 * A CURLOPT_WRITEFUNCTION with a struct sink as CURLOPT_WRITEDATA: keeps
 * the first size - 1 bytes of the body and drops the rest, while
 * claiming all of it, so that a long answer still completes and only
 * its head, where the reason is, is read.
 */
size_t sink_write(char *data, size_t size, size_t n, void *cls);

#endif
