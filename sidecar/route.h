/* route.h - maps a request line to what the sidecar should do with it. */
#ifndef BINRELAY_ROUTE_H
#define BINRELAY_ROUTE_H

#include <stdint.h>

#include "ident.h"

enum route_kind {
    ROUTE_NOT_FOUND,   /* 404 */
    ROUTE_BAD_METHOD,  /* 405; 'allow' says which methods are */
    ROUTE_BAD_REQUEST, /* 400; 'reason' says why */
    ROUTE_HEALTHZ,
    ROUTE_CLUSTER_HEALTHZ,
    ROUTE_METRICS,
    ROUTE_STATUS_LIST,
    ROUTE_STATUS_GET,
    ROUTE_STATUS_PUT,
    ROUTE_BINARY_GET, /* GET and HEAD; 'head' tells them apart */
    ROUTE_BINARY_PUT,
};

struct route {
    enum route_kind kind;
    int head;           /* HEAD rather than GET */
    int latest;         /* /v1/binaries/{id}/latest */
    const char *allow;  /* ROUTE_BAD_METHOD */
    const char *reason; /* ROUTE_BAD_REQUEST */
    char id[IDENT_ID_MAX + 1];
    int64_t version;
};

/*
 * Routes 'method' and 'path' (undecoded, without the query string).  Ids
 * and versions are validated here, so a handler only ever sees good
 * ones.  Never fails: every input maps to some kind.
 */
void route_match(const char *method, const char *path, struct route *r);

#endif
