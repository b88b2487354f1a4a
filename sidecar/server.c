/* server.c - routes HTTP requests to the store, health and status. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fsio.h"
#include "health.h"
#include "ident.h"
#include "log.h"
#include "metrics.h"
#include "pending.h"
#include "request.h"
#include "route.h"
#include "server.h"
#include "shipper.h"
#include "textbuf.h"
#include "token.h"

/* A status report is JSON with a 64 KiB message at most, escaped. */
#define SERVER_REPORT_MAX (512 * 1024)
#define SERVER_PEM_MAX    (1024 * 1024)
/*
 * A refused request's body up to this size is read and dropped before
 * the answer (see server_answer_early); libcurl waits for "100 Continue"
 * above the same size.
 */
#define SERVER_DRAIN_MAX (1024 * 1024)

/* Refused uploads by reason, for /metrics. */
static const struct {
    int code;
    const char *reason;
} server_failures[] = {
    {400, "bad_request"},   {401, "unauthorized"}, {404, "not_leader"},
    {409, "older_version"}, {411, "no_length"},    {413, "too_large"},
    {422, "mismatch"},      {500, "internal"},     {503, "shutting_down"},
    {507, "no_space"},
};

#define SERVER_NFAILURES (sizeof(server_failures) / sizeof(server_failures[0]))

static atomic_uint_fast64_t server_failed[SERVER_NFAILURES];

struct server {
    struct MHD_Daemon *daemon;
    struct server_config cfg;
    char *cert, *key;
    atomic_bool draining;
};

/* Per-request state, kept in MHD's connection-class pointer. */
struct request {
    struct route route;
    int code; /* an answer decided before the body ended */
    char err[512];
    struct store_upload *upload;
    char *body; /* status reports, buffered */
    size_t body_len;
};

/* Sends 'text' (JSON, NULL after a failure), which this takes over. */
static enum MHD_Result server_send_text(struct MHD_Connection *c, int code,
                                        char *text, size_t len,
                                        const char *allow)
{
    struct MHD_Response *r;
    enum MHD_Result ret;

    if (text == NULL)
        return MHD_NO;
    r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (r == NULL) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "application/json");
    if (allow != NULL)
        MHD_add_response_header(r, "Allow", allow);
    if (code == 401)
        MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
    ret = MHD_queue_response(c, (unsigned)code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result server_send(struct MHD_Connection *c, int code,
                                   json_t *body, const char *allow)
{
    char *text = json_dumps(body, JSON_COMPACT);

    json_decref(body);
    return server_send_text(c, code, text, text ? strlen(text) : 0, allow);
}

/*
 * XXX: requests that libmicrohttpd refuses itself, before any handler
 * (a malformed Content-Length, a request line or headers past the
 * connection's memory), get its short HTML page, not this JSON: version
 * 0.9.75 has no hook for those answers.
 */
static enum MHD_Result server_error(struct MHD_Connection *c, int code,
                                    const char *msg)
{
    return server_send(c, code, json_pack("{s:s}", "error", msg), NULL);
}

static const char *server_header(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

/* Headers that a write may carry once: two values would be ambiguous. */
static const char *const server_single[] = {
    "Content-Length",   "Transfer-Encoding", "Authorization",
    "X-Content-Xxh128", "X-Worker-Id",
};

#define SERVER_NSINGLE (sizeof(server_single) / sizeof(server_single[0]))

struct server_dup {
    const char *first[SERVER_NSINGLE];
    const char *conflict; /* the first header given twice, differently */
};

static enum MHD_Result server_dup_check(void *cls, enum MHD_ValueKind kind,
                                        const char *key, const char *value)
{
    struct server_dup *d = cls;

    (void)kind;
    for (size_t i = 0; i < SERVER_NSINGLE; i++) {
        if (strcasecmp(key, server_single[i]) != 0)
            continue;
        if (d->first[i] == NULL)
            d->first[i] = value ? value : "";
        else if (strcmp(d->first[i], value ? value : "") != 0)
            d->conflict = server_single[i];
    }
    return d->conflict == NULL ? MHD_YES : MHD_NO;
}

/*
 * The name of a header that a request gives twice with different values
 * (a smuggling trick: two hops may each believe another), or NULL.
 */
static const char *server_conflicting_header(struct MHD_Connection *c)
{
    struct server_dup d = {.conflict = NULL};

    MHD_get_connection_values(c, MHD_HEADER_KIND, server_dup_check, &d);
    return d.conflict;
}

/* ---- reads ------------------------------------------------------------- */

static enum MHD_Result server_healthz(struct server *srv,
                                      struct MHD_Connection *c)
{
    const char *check =
        MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "check_storage");
    json_t *body = json_object();
    char reason[512] = "";
    bool ok = health_local(body, reason, sizeof(reason));

    if (check != NULL && strcmp(check, "true") == 0 && srv->cfg.store) {
        uint64_t used = 0, avail = 0;

        if (store_usage(srv->cfg.store, &used, &avail) == 0 &&
            used + avail > 0 && used * 100 >= (used + avail) * 95) {
            snprintf(reason, sizeof(reason), "store is %llu%% full",
                     (unsigned long long)(used * 100 / (used + avail)));
            ok = false;
        }
    }
    if (!ok) {
        json_object_set_new(body, "status", json_string("unhealthy"));
        json_object_set_new(body, "error", json_string(reason));
    }
    return server_send(c, ok ? 200 : 503, body, NULL);
}

static enum MHD_Result server_cluster(struct server *srv,
                                      struct MHD_Connection *c)
{
    bool all = false;
    json_t *body;

    if (srv->cfg.store == NULL)
        return server_error(c, 404, "only the leader serves /cluster_healthz");
    body = health_cluster(&all);
    return server_send(c, all ? 200 : 503, body, NULL);
}

static void server_count_failure(int code)
{
    for (size_t i = 0; i < SERVER_NFAILURES; i++) {
        if (server_failures[i].code == code)
            atomic_fetch_add(&server_failed[i], 1);
    }
}

static void server_failure_metrics(FILE *f)
{
    fputs("# HELP binrelay_install_failures_total Refused uploads by "
          "reason.\n# TYPE binrelay_install_failures_total counter\n",
          f);
    for (size_t i = 0; i < SERVER_NFAILURES; i++)
        fprintf(f,
                "binrelay_install_failures_total{reason=\"%s\","
                "code=\"%d\"} %lu\n",
                server_failures[i].reason, server_failures[i].code,
                (unsigned long)server_failed[i]);
}

static char *server_store_metrics(struct store *store)
{
    uint64_t used = 0, avail = 0;
    char *text = NULL;
    size_t len = 0;
    FILE *f;

    if (store == NULL)
        return NULL;
    f = open_memstream(&text, &len);
    if (f == NULL)
        return NULL;
    store_usage(store, &used, &avail);
    fprintf(f,
            "# HELP binrelay_store_bytes Store filesystem bytes.\n"
            "# TYPE binrelay_store_bytes gauge\n"
            "binrelay_store_bytes{kind=\"used\"} %llu\n"
            "binrelay_store_bytes{kind=\"free\"} %llu\n"
            "# HELP binrelay_status_entries Pipelines with a status.\n"
            "# TYPE binrelay_status_entries gauge\n"
            "binrelay_status_entries %zu\n",
            (unsigned long long)used, (unsigned long long)avail,
            store_count(store));
    server_failure_metrics(f);
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

static enum MHD_Result server_metrics(struct server *srv,
                                      struct MHD_Connection *c)
{
    char *extra = server_store_metrics(srv->cfg.store);
    char *text = metrics_render(extra);
    struct MHD_Response *r;
    enum MHD_Result ret;

    free(extra);
    if (text == NULL)
        return server_error(c, 500, "cannot render metrics");
    r = MHD_create_response_from_buffer(strlen(text), text,
                                        MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", "text/plain; version=0.0.4");
    ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result server_status_list(struct server *srv,
                                          struct MHD_Connection *c)
{
    struct textbuf body = {0};
    struct store_extra extra;
    json_t *list;
    size_t len;
    char *text;

    if (srv->cfg.store == NULL) {
        list = json_array();
        shipper_list_json(list);
        return server_send(c, 200, json_pack("{s:o}", "pipelines", list), NULL);
    }
    /* Built as text: a tree of 10,000 entries costs tens of ms. */
    pending_extra(&extra);
    textbuf_puts(&body, "{\"pipelines\":[");
    store_list_text(srv->cfg.store, &extra, &body);
    textbuf_puts(&body, "]}");
    pending_extra_free(&extra);
    text = textbuf_take(&body, &len);
    return server_send_text(c, 200, text, len, NULL);
}

static enum MHD_Result
server_status_get(struct server *srv, struct MHD_Connection *c, const char *id)
{
    json_t *entry = NULL;

    if (srv->cfg.store != NULL) {
        /* The version shown, an upload's in flight included. */
        entry = store_entry_json(srv->cfg.store, id, NULL);
        json_t *pending = pending_entry_json(
            id, json_integer_value(json_object_get(entry, "version")));

        if (pending != NULL) {
            json_decref(entry);
            entry = pending;
        }
    } else {
        entry = shipper_entry_json(id);
    }
    if (entry == NULL)
        return server_error(c, 404, "no such pipeline");
    return server_send(c, 200, entry, NULL);
}

static enum MHD_Result server_binary_get(struct server *srv,
                                         struct MHD_Connection *c,
                                         const struct route *rt)
{
    const char *inm = server_header(c, "If-None-Match");
    int64_t version = rt->latest ? 0 : rt->version, size;
    char hex[HASH_HEX_LEN], etag[HASH_HEX_LEN + 2], vbuf[24];
    struct MHD_Response *r;
    enum MHD_Result ret;
    int fd;

    if (srv->cfg.store == NULL)
        return server_error(c, 404, "binaries are served by the leader");
    if (store_open_binary(srv->cfg.store, rt->id, &version, &fd, &size, hex) !=
        200)
        return server_error(c, 404, "binary not installed");

    snprintf(etag, sizeof(etag), "\"%s\"", hex);
    if (inm != NULL && (strstr(inm, hex) != NULL || strcmp(inm, "*") == 0)) {
        close(fd);
        r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "ETag", etag);
        ret = MHD_queue_response(c, 304, r);
        MHD_destroy_response(r);
        return ret;
    }

    r = MHD_create_response_from_fd64((uint64_t)size, fd);
    if (r == NULL) {
        close(fd);
        return MHD_NO;
    }
    snprintf(vbuf, sizeof(vbuf), "%lld", (long long)version);
    MHD_add_response_header(r, "Content-Type", "application/octet-stream");
    MHD_add_response_header(r, "ETag", etag);
    MHD_add_response_header(r, "X-Content-Xxh128", hex);
    MHD_add_response_header(r, "X-Pipeline-Version", vbuf);
    ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

/* ---- writes ------------------------------------------------------------ */

static int server_authorized(struct server *srv, struct MHD_Connection *c)
{
    if (srv->cfg.insecure_no_auth)
        return 1;
    if (token_check(server_header(c, "Authorization")))
        return 1;
    atomic_fetch_add(&metrics.auth_failures, 1);
    return 0;
}

/*
 * The worker a write is credited to: 'w' as the request names it, or,
 * when it names none (-1), the one the assignment rule gives 'id'.
 */
static long server_credit(struct server *srv, const char *id, long w)
{
    return w == -1 ? ident_worker(id, srv->cfg.workers) : w;
}

/* X-Worker-Id's worker (see server_credit); -2 when it is malformed. */
static long server_worker_header(struct server *srv, struct MHD_Connection *c,
                                 const char *id)
{
    return server_credit(srv, id,
                         request_worker(server_header(c, "X-Worker-Id")));
}

/* The length the body must have: see request_length(). */
static int64_t server_length(struct MHD_Connection *c)
{
    return request_length(server_header(c, "Content-Length"),
                          server_header(c, "Transfer-Encoding"));
}

/* Checks a binary upload's headers; on refusal sets req->code/err. */
static void server_binary_begin(struct server *srv, struct MHD_Connection *c,
                                struct request *req)
{
    const char *xxh = server_header(c, "X-Content-Xxh128");
    int64_t len = server_length(c);
    long worker = server_worker_header(srv, c, req->route.id);

    req->code = 400;
    if (srv->cfg.store == NULL) {
        req->code = 404;
        snprintf(req->err, sizeof(req->err), "uploads go to the leader");
    } else if (atomic_load(&srv->draining)) {
        req->code = 503;
        snprintf(req->err, sizeof(req->err), "the leader is shutting down");
    } else if (len == -1) {
        req->code = 411;
        snprintf(req->err, sizeof(req->err), "Content-Length is required");
    } else if (len == -2) {
        snprintf(req->err, sizeof(req->err), "bad Content-Length");
    } else if (xxh == NULL || !hash_hex_valid(xxh)) {
        snprintf(req->err, sizeof(req->err),
                 "X-Content-Xxh128 must be 32 lowercase hex digits");
    } else if (worker == -2) {
        snprintf(req->err, sizeof(req->err), "bad X-Worker-Id");
    } else {
        req->code = store_upload_begin(
            srv->cfg.store, req->route.id, req->route.version, len, xxh, worker,
            &req->upload, req->err, sizeof(req->err));
    }
}

static void server_report_body(struct request *req, const char *data,
                               size_t len)
{
    char *p;

    if (req->code != 0)
        return;
    if (req->body_len + len > SERVER_REPORT_MAX) {
        req->code = 413;
        snprintf(req->err, sizeof(req->err), "status report too large");
        return;
    }
    p = realloc(req->body, req->body_len + len + 1);
    if (p == NULL) {
        req->code = 500;
        snprintf(req->err, sizeof(req->err), "out of memory");
        return;
    }
    memcpy(p + req->body_len, data, len);
    req->body = p;
    req->body_len += len;
    req->body[req->body_len] = '\0';
}

/*
 * Answers with the entry as it stands after the report: a report that
 * ranks below what is recorded (a late "system_error" for a version
 * already installed) changes nothing, and the caller sees that.
 */
static enum MHD_Result
server_report(struct server *srv, struct MHD_Connection *c, struct request *req)
{
    struct request_report r;
    json_t *entry;
    int code;

    if (request_report(req->body, req->body_len, &r, req->err,
                       sizeof(req->err)) < 0)
        return server_error(c, 400, req->err);
    r.worker = server_credit(srv, req->route.id, r.worker);
    code =
        store_report(srv->cfg.store, req->route.id, req->route.version, r.state,
                     r.worker, r.message, req->err, sizeof(req->err));
    request_report_free(&r);
    if (code != 200)
        return server_error(c, code, req->err);
    log_info("status recorded", "pipeline=%s version=%lld state=%s worker=%ld",
             req->route.id, (long long)req->route.version, state_name(r.state),
             r.worker);
    entry = store_entry_json(srv->cfg.store, req->route.id, NULL);
    if (entry == NULL)
        return server_error(c, 500, "the status vanished");
    return server_send(c, 200, entry, NULL);
}

static enum MHD_Result server_binary_end(struct MHD_Connection *c,
                                         struct request *req)
{
    int code = req->code;
    char q[600];

    if (code == 0) {
        code = store_upload_commit(req->upload, req->err, sizeof(req->err));
        req->upload = NULL;
    }
    if (code == 201)
        atomic_fetch_add(&metrics.installs[METRICS_INSTALL_CREATED], 1);
    else if (code == 200)
        atomic_fetch_add(&metrics.installs[METRICS_INSTALL_IDENTICAL], 1);
    else
        atomic_fetch_add(&metrics.installs[METRICS_INSTALL_REJECTED], 1);
    if (code != 200 && code != 201)
        server_count_failure(code);

    if (code == 200 || code == 201)
        return server_send(
            c, code,
            json_pack("{s:s,s:s}", "pipeline_id", req->route.id, "result",
                      code == 201 ? "installed" : "already installed"),
            NULL);
    log_warn("upload refused", "pipeline=%s version=%lld code=%d reason=%s",
             req->route.id, (long long)req->route.version, code,
             log_quote(q, sizeof(q), req->err));
    return server_error(c, code, req->err);
}

/* ---- dispatch ---------------------------------------------------------- */

static enum MHD_Result server_read(struct server *srv, struct MHD_Connection *c,
                                   const struct route *rt)
{
    switch (rt->kind) {
    case ROUTE_HEALTHZ:
        return server_healthz(srv, c);
    case ROUTE_CLUSTER_HEALTHZ:
        return server_cluster(srv, c);
    case ROUTE_METRICS:
        return server_metrics(srv, c);
    case ROUTE_STATUS_LIST:
        return server_status_list(srv, c);
    case ROUTE_STATUS_GET:
        return server_status_get(srv, c, rt->id);
    case ROUTE_BINARY_GET:
        return server_binary_get(srv, c, rt);
    case ROUTE_BAD_METHOD:
        return server_send(c, 405,
                           json_pack("{s:s}", "error", "method not allowed"),
                           rt->allow);
    case ROUTE_BAD_REQUEST:
        return server_error(c, 400, rt->reason);
    default:
        return server_error(c, 404, "not found");
    }
}

/* The first call for a write: decide what to do before any body. */
static void server_write_begin(struct server *srv, struct MHD_Connection *c,
                               struct request *req)
{
    const char *twice = server_conflicting_header(c);

    if (twice != NULL) {
        req->code = 400;
        snprintf(req->err, sizeof(req->err),
                 "%s is given twice with different values", twice);
    } else if (!server_authorized(srv, c)) {
        req->code = 401;
        snprintf(req->err, sizeof(req->err), "missing or wrong token");
    } else if (req->route.kind == ROUTE_BINARY_PUT) {
        server_binary_begin(srv, c, req);
    } else if (srv->cfg.store == NULL) {
        req->code = 404;
        snprintf(req->err, sizeof(req->err), "reports go to the leader");
    }
}

static enum MHD_Result server_write_end(struct server *srv,
                                        struct MHD_Connection *c,
                                        struct request *req)
{
    if (req->route.kind == ROUTE_BINARY_PUT)
        return server_binary_end(c, req);
    if (req->code != 0)
        return server_error(c, req->code, req->err);
    return server_report(srv, c, req);
}

static void server_write_data(struct request *req, const char *data, size_t len)
{
    if (req->route.kind != ROUTE_BINARY_PUT)
        return server_report_body(req, data, len);
    if (req->code != 0)
        return;
    req->code =
        store_upload_write(req->upload, data, len, req->err, sizeof(req->err));
    if (req->code != 0) {
        /* Free the space now; the rest of the body is read and dropped. */
        store_upload_abort(req->upload);
        req->upload = NULL;
    }
}

/*
 * Whether a request refused from its headers is answered before its
 * body.  A client waiting for "100 Continue" then never sends the body.
 * Any other client is sending it already: a small one is read and
 * dropped first, because a socket closed with unread data resets the
 * connection, and the client may lose the answer with it.
 */
static bool server_answer_early(struct MHD_Connection *c)
{
    const char *expect = server_header(c, "Expect");
    int64_t len = server_length(c);

    if (expect != NULL && strcasecmp(expect, "100-continue") == 0)
        return true;
    return len < 0 || len > SERVER_DRAIN_MAX;
}

static bool server_is_write(const struct route *rt)
{
    return rt->kind == ROUTE_BINARY_PUT || rt->kind == ROUTE_STATUS_PUT;
}

static enum MHD_Result server_handle(void *cls, struct MHD_Connection *c,
                                     const char *url, const char *method,
                                     const char *version,
                                     const char *upload_data,
                                     size_t *upload_data_size, void **ctx)
{
    struct server *srv = cls;
    struct request *req = *ctx;

    (void)version;
    if (req == NULL) {
        req = calloc(1, sizeof(*req));
        if (req == NULL)
            return MHD_NO;
        *ctx = req;
        atomic_fetch_add(&metrics.http_requests, 1);
        route_match(method, url, &req->route);
        /* A write to a path that names no valid id or version. */
        if (req->route.kind == ROUTE_BAD_REQUEST && strcmp(method, "PUT") == 0)
            server_count_failure(400);
        /* A read is answered on the next call: libmicrohttpd closes the
         * connection after any answer queued on the first one. */
        if (!server_is_write(&req->route))
            return MHD_YES;
        server_write_begin(srv, c, req);
        if (req->code != 0 && server_answer_early(c))
            return server_write_end(srv, c, req);
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (server_is_write(&req->route))
            server_write_data(req, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (!server_is_write(&req->route))
        return server_read(srv, c, &req->route);
    return server_write_end(srv, c, req);
}

static const char *server_end_name(enum MHD_RequestTerminationCode toe)
{
    switch (toe) {
    case MHD_REQUEST_TERMINATED_TIMEOUT_REACHED:
        return "idle_timeout";
    case MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN:
        return "shutdown";
    case MHD_REQUEST_TERMINATED_CLIENT_ABORT:
    case MHD_REQUEST_TERMINATED_READ_ERROR:
        return "client_gone";
    default:
        return "error";
    }
}

static void server_completed(void *cls, struct MHD_Connection *c, void **ctx,
                             enum MHD_RequestTerminationCode toe)
{
    struct request *req = *ctx;

    (void)cls;
    (void)c;
    if (req == NULL)
        return;
    if (req->upload != NULL) {
        /* The client went away mid-body: nothing of it may remain. */
        log_warn("upload aborted", "pipeline=%s version=%lld reason=%s",
                 req->route.id, (long long)req->route.version,
                 server_end_name(toe));
        atomic_fetch_add(&metrics.installs[METRICS_INSTALL_ABORTED], 1);
        store_upload_abort(req->upload);
    }
    free(req->body);
    free(req);
    *ctx = NULL;
}

/* Paths are matched undecoded: an id never contains '%', so "%2F" and
 * "%00" can only be refused, never turned into a separator or a NUL. */
static size_t server_no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    return strlen(s);
}

static void server_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    char quoted[600];
    size_t n;

    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    n = strlen(msg);
    while (n > 0 && msg[n - 1] == '\n')
        msg[--n] = '\0';
    log_debug("http server", "detail=%s",
              log_quote(quoted, sizeof(quoted), msg));
}

/* ---- start and stop ---------------------------------------------------- */

int server_parse_listen(const char *listen, void *storage, unsigned *len)
{
    struct sockaddr_in *in4 = storage;
    struct sockaddr_in6 *in6 = storage;
    const char *colon = strrchr(listen, ':');
    const char *port = colon ? colon + 1 : listen;
    char host[128] = "";
    char *end;
    long p = strtol(port, &end, 10);

    if (end == port || *end != '\0' || p < 0 || p > 65535)
        return -1;
    if (colon != NULL) {
        size_t hl = (size_t)(colon - listen);

        if (hl >= sizeof(host))
            return -1;
        memcpy(host, listen, hl);
        host[hl] = '\0';
    }
    memset(storage, 0, sizeof(struct sockaddr_in6));
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        host[strlen(host) - 1] = '\0';
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)p);
        *len = sizeof(*in6);
        return inet_pton(AF_INET6, host + 1, &in6->sin6_addr) == 1 ? 0 : -1;
    }
    in4->sin_family = AF_INET;
    in4->sin_port = htons((uint16_t)p);
    *len = sizeof(*in4);
    if (host[0] == '\0' || strcmp(host, "0.0.0.0") == 0)
        return 0;
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof(host), "127.0.0.1");
    return inet_pton(AF_INET, host, &in4->sin_addr) == 1 ? 0 : -1;
}

/*
 * XXX: certificates are read once, at start; a renewed Secret takes
 * effect when the pod restarts.  libmicrohttpd 0.9.75 offers only a raw
 * GnuTLS callback for swapping them while serving.
 */
static char *server_read_pem(const char *path)
{
    char q[4200];
    char *buf;
    size_t len;

    /* Followed: a mounted Secret's files are symlinks into "..data". */
    if (fsio_read_small_follow(AT_FDCWD, path, SERVER_PEM_MAX, &buf, &len) <
        0) {
        log_error("cannot read TLS file", "file=%s error=\"%s\"",
                  log_quote(q, sizeof(q), path), strerror(errno));
        return NULL;
    }
    return buf;
}

/*
 * Limits against slow and idle clients.  Connections are cheap (epoll,
 * a lazily touched memory pool each), so many may wait: as many as the
 * descriptor limit allows, up to SERVER_MAX_CONNECTIONS.  One silent
 * for SERVER_IDLE_S is closed, and its upload with it.  There is no
 * limit per address: fleet traffic arrives from few of them (a NAT, a
 * mesh proxy, loopback in tests), so such a limit would shut the fleet
 * out before an abuser.
 */
#define SERVER_MAX_CONNECTIONS 16384U
#define SERVER_IDLE_S          60U
#define SERVER_CONN_MEMORY     ((size_t)256 * 1024)
/* Descriptors kept for everything else: the store, curl, inotify. */
#define SERVER_FD_RESERVE 128U

static unsigned server_connection_limit(void)
{
    struct rlimit rl;
    rlim_t n = SERVER_MAX_CONNECTIONS;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        rl.rlim_cur < n + SERVER_FD_RESERVE)
        n = rl.rlim_cur > 2 * SERVER_FD_RESERVE
                ? rl.rlim_cur - SERVER_FD_RESERVE
                : SERVER_FD_RESERVE;
    return (unsigned)n;
}

static struct MHD_Daemon *server_daemon(struct server *srv,
                                        const struct sockaddr *addr)
{
    unsigned flags =
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    unsigned threads = srv->cfg.threads > 0 ? (unsigned)srv->cfg.threads : 4;
    unsigned limit = server_connection_limit();

    if (srv->cert != NULL)
        flags |= MHD_USE_TLS;
    /* One option per line; the logger first, so that it hears them all. */
    /* clang-format off */
    return MHD_start_daemon(
        flags, 0, NULL, NULL, server_handle, srv,
        MHD_OPTION_EXTERNAL_LOGGER, server_mhd_log, NULL,
        MHD_OPTION_SOCK_ADDR, addr,
        MHD_OPTION_NOTIFY_COMPLETED, server_completed, srv,
        MHD_OPTION_UNESCAPE_CALLBACK, server_no_unescape, NULL,
        MHD_OPTION_THREAD_POOL_SIZE, threads,
        MHD_OPTION_CONNECTION_LIMIT, limit,
        MHD_OPTION_CONNECTION_TIMEOUT, SERVER_IDLE_S,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, SERVER_CONN_MEMORY,
        srv->cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, srv->cert,
        MHD_OPTION_HTTPS_MEM_KEY, srv->key,
        MHD_OPTION_END);
    /* clang-format on */
}

struct server *server_start(const struct server_config *cfg)
{
    struct sockaddr_storage addr;
    struct server *srv;
    unsigned len;

    if (server_parse_listen(cfg->listen, &addr, &len) < 0) {
        log_error("bad listen address", "listen=%s", cfg->listen);
        return NULL;
    }
    srv = calloc(1, sizeof(*srv));
    if (srv == NULL)
        return NULL;
    srv->cfg = *cfg;
    if (cfg->tls_cert != NULL && cfg->tls_key != NULL) {
        srv->cert = server_read_pem(cfg->tls_cert);
        srv->key = server_read_pem(cfg->tls_key);
        if (srv->cert == NULL || srv->key == NULL)
            goto out_free;
    }
    srv->daemon = server_daemon(srv, (const struct sockaddr *)&addr);
    if (srv->daemon == NULL) {
        log_error("cannot start the HTTP server", "listen=%s error=\"%s\"",
                  cfg->listen, strerror(errno));
        goto out_free;
    }
    log_info("listening", "listen=%s tls=%s", cfg->listen,
             srv->cert ? "yes" : "no");
    return srv;

out_free:
    free(srv->cert);
    free(srv->key);
    free(srv);
    return NULL;
}

void server_drain(struct server *srv)
{
    if (srv != NULL)
        atomic_store(&srv->draining, true);
}

void server_stop(struct server *srv)
{
    if (srv == NULL)
        return;
    MHD_stop_daemon(srv->daemon);
    if (srv->key != NULL)
        explicit_bzero(srv->key, strlen(srv->key));
    free(srv->cert);
    free(srv->key);
    free(srv);
}
