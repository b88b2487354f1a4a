/* route.c - the HTTP API's paths, as a table, checked before any work. */
#include <string.h>

#include "route.h"

/* A path's shape: its prefix, and whether {id} and {version} follow. */
struct route_entry {
    const char *prefix;
    int params;            /* 0: exact path; 1: {id}; 2: {id}/{version} */
    const char *get, *put; /* what GET/HEAD and PUT become; NULL: 405 */
    enum route_kind get_kind, put_kind;
};

static const struct route_entry route_table[] = {
    {"/healthz", 0, "GET", NULL, ROUTE_HEALTHZ, ROUTE_NOT_FOUND},
    {"/cluster_healthz", 0, "GET", NULL, ROUTE_CLUSTER_HEALTHZ,
     ROUTE_NOT_FOUND},
    {"/metrics", 0, "GET", NULL, ROUTE_METRICS, ROUTE_NOT_FOUND},
    {"/v1/status", 0, "GET", NULL, ROUTE_STATUS_LIST, ROUTE_NOT_FOUND},
    {"/v1/status/", 1, "GET", NULL, ROUTE_STATUS_GET, ROUTE_NOT_FOUND},
    {"/v1/status/", 2, NULL, "PUT", ROUTE_NOT_FOUND, ROUTE_STATUS_PUT},
    {"/v1/binaries/", 2, "GET", "PUT", ROUTE_BINARY_GET, ROUTE_BINARY_PUT},
};

#define ROUTE_COUNT (sizeof(route_table) / sizeof(route_table[0]))

static int route_segments(const char *rest)
{
    int n = 1;

    for (; *rest; rest++)
        n += *rest == '/';
    return n;
}

static void route_bad(struct route *r, const char *reason)
{
    r->kind = ROUTE_BAD_REQUEST;
    r->reason = reason;
}

/* Fills id and version from "{id}" or "{id}/{version}". */
static void route_params(const char *rest, int params, struct route *r)
{
    const char *slash = strchr(rest, '/');
    size_t idlen = slash ? (size_t)(slash - rest) : strlen(rest);

    if (idlen == 0 || idlen > IDENT_ID_MAX)
        return route_bad(r, "invalid pipeline id");
    memcpy(r->id, rest, idlen);
    r->id[idlen] = '\0';
    if (!ident_valid(r->id))
        return route_bad(r, "invalid pipeline id");
    if (params == 1)
        return;

    if (strcmp(slash + 1, "latest") == 0) {
        r->latest = 1;
        return;
    }
    if (ident_parse_version(slash + 1, strlen(slash + 1), &r->version) < 0)
        route_bad(r, "invalid version");
}

static void route_method(const char *method, const struct route_entry *e,
                         struct route *r)
{
    int is_get = strcmp(method, "GET") == 0;
    int is_head = strcmp(method, "HEAD") == 0;

    if ((is_get || is_head) && e->get != NULL) {
        r->kind = e->get_kind;
        r->head = is_head;
    } else if (strcmp(method, "PUT") == 0 && e->put != NULL) {
        r->kind = e->put_kind;
    } else {
        r->kind = ROUTE_BAD_METHOD;
        r->allow = e->get && e->put ? "GET, HEAD, PUT"
                   : e->get         ? "GET, HEAD"
                                    : "PUT";
    }
}

void route_match(const char *method, const char *path, struct route *r)
{
    memset(r, 0, sizeof(*r));
    r->kind = ROUTE_NOT_FOUND;

    for (size_t i = 0; i < ROUTE_COUNT; i++) {
        const struct route_entry *e = &route_table[i];
        size_t plen = strlen(e->prefix);

        if (strncmp(path, e->prefix, plen) != 0)
            continue;
        if (e->params == 0 ? path[plen] != '\0'
                           : route_segments(path + plen) != e->params)
            continue;

        route_method(method, e, r);
        if (r->kind == ROUTE_BAD_METHOD || e->params == 0)
            return;
        route_params(path + plen, e->params, r);
        if (r->latest && r->kind != ROUTE_BINARY_GET)
            route_bad(r, "invalid version");
        return;
    }
}
