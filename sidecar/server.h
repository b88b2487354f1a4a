/* server.h - the sidecar's HTTP API, served by libmicrohttpd threads. */
#ifndef BINRELAY_SERVER_H
#define BINRELAY_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "store.h"

struct server_config {
    const char *listen;   /* "[ADDR:]PORT" */
    const char *tls_cert; /* both set: HTTPS */
    const char *tls_key;
    struct store *store; /* the leader's; NULL on other workers */
    long worker_id;
    long workers;          /* names the builder of an upload that does not */
    bool insecure_no_auth; /* writes without a token (tests, demos) */
    long threads;
};

struct server;

/*
 * Binds and starts serving.  Returns NULL after logging why (a bad
 * address, a port in use, unreadable certificates).
 */
struct server *server_start(const struct server_config *cfg);

/*
 * From now on new uploads are answered 503 (a worker retries them once
 * this leader is back), while the ones already being received go on.
 */
void server_drain(struct server *srv);

/* Stops accepting, finishes the requests in flight, and frees. */
void server_stop(struct server *srv);

/* Parses "[ADDR:]PORT" into a socket address; returns 0 or -1. */
int server_parse_listen(const char *listen, void *sockaddr_storage,
                        unsigned *len);

#endif
