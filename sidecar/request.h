/* request.h - what a write's headers and body say, checked before use. */
#ifndef BINRELAY_REQUEST_H
#define BINRELAY_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "state.h"

/* Larger worker ids are refused: no fleet is that big. */
#define REQUEST_WORKER_MAX 1000000

/*
 * The length a body must have, from its Content-Length and
 * Transfer-Encoding headers (NULL when absent).  Returns it, -1 when no
 * length is given (411), or -2 when it is malformed or contradicted by
 * a Transfer-Encoding (400).
 */
int64_t request_length(const char *content_length,
                       const char *transfer_encoding);

/*
 * The worker an X-Worker-Id header names: 0 to REQUEST_WORKER_MAX - 1,
 * -1 when the header is absent (NULL), -2 when it is malformed.
 */
long request_worker(const char *x_worker_id);

/* A status report's fields.  'message' is owned: request_report_free(). */
struct request_report {
    enum state state;
    long worker; /* -1 when the report names none */
    char *message;
};

/*
 * Parses a report body, {"state": ..., "worker_id": K, "message": "..."}.
 * Fields other than these are ignored, and a missing message is empty.
 * The state must carry no binary: not "success".  Returns 0, or -1 with
 * a one-line reason in 'err' (and 'r' owning nothing).
 */
int request_report(const char *body, size_t len, struct request_report *r,
                   char *err, size_t errsize);

void request_report_free(struct request_report *r);

#endif
