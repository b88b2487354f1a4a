/* fleet.c - the worker's ordinal, and the replica count from Kubernetes. */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "fleet.h"
#include "ident.h"
#include "log.h"
#include "timeutil.h"

#define FLEET_BODY_MAX           (1024 * 1024)
#define FLEET_CONNECT_TIMEOUT_MS 2000
#define FLEET_REQUEST_TIMEOUT_MS 5000
#define FLEET_BACKOFF_FIRST_MS   250
#define FLEET_BACKOFF_MAX_MS     4000
#define FLEET_DEFAULT_INTERVAL_S 30

/* A response body, cut off (and the transfer failed) past the bound. */
struct fleet_body {
    char *data;
    size_t len;
};

/* One answer from the API server. */
struct fleet_answer {
    long replicas;
    int permanent; /* asking again will not help (401, 403, 404...) */
    char err[512];
};

static char *fleet_hostname(char *buf, size_t size)
{
    if (gethostname(buf, size) < 0)
        snprintf(buf, size, "unknown");
    buf[size - 1] = '\0';
    return buf;
}

int fleet_statefulset_name(const char *hostname, char *buf, size_t size)
{
    const char *dash = strrchr(hostname, '-');
    size_t len;

    if (ident_ordinal(hostname) < 0 || dash == NULL || dash == hostname)
        return -1;
    len = (size_t)(dash - hostname);
    if (len >= size)
        return -1;
    memcpy(buf, hostname, len);
    buf[len] = '\0';
    return 0;
}

int fleet_parse_replicas(const char *json, size_t len, long *replicas,
                         char *err, size_t errsize)
{
    json_error_t jerr;
    json_t *root, *spec, *v;
    int rc = -1;

    root = json_loadb(json, len, 0, &jerr);
    if (root == NULL) {
        snprintf(err, errsize, "invalid JSON from the API: %s", jerr.text);
        return -1;
    }
    spec = json_object_get(root, "spec");
    v = json_object_get(spec, "replicas");
    if (!json_is_object(spec)) {
        snprintf(err, errsize, "the StatefulSet has no spec");
    } else if (v == NULL) {
        *replicas = 1;
        rc = 0;
    } else if (!json_is_integer(v) || json_integer_value(v) < 0 ||
               json_integer_value(v) > 1000000) {
        snprintf(err, errsize, "spec.replicas is not a count");
    } else {
        *replicas = (long)json_integer_value(v);
        rc = 0;
    }
    json_decref(root);
    return rc;
}

/*
 * Reads a small file of the service account.  Not fsio_read_small():
 * Kubernetes mounts these as symlinks into a "..data" directory.
 */
static int fleet_read_sa(const char *dir, const char *name, char *buf,
                         size_t size)
{
    char path[4096];
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "re");
    if (f == NULL)
        return -1;
    n = fread(buf, 1, size - 1, f);
    fclose(f);
    while (n > 0 &&
           (buf[n - 1] == '\n' || buf[n - 1] == ' ' || buf[n - 1] == '\r'))
        n--;
    buf[n] = '\0';
    if (n == 0) {
        errno = ENODATA;
        return -1;
    }
    return 0;
}

static size_t fleet_write_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct fleet_body *b = arg;
    size_t n = size * nmemb;
    char *p;

    if (b->len + n > FLEET_BODY_MAX)
        return 0;
    p = realloc(b->data, b->len + n + 1);
    if (p == NULL)
        return 0;
    memcpy(p + b->len, ptr, n);
    b->len += n;
    p[b->len] = '\0';
    b->data = p;
    return n;
}

static int fleet_url(const struct fleet *f, char *url, size_t size, char *err,
                     size_t errsize)
{
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    const char *port = getenv("KUBERNETES_SERVICE_PORT");
    char ns[256];
    int v6;

    if (host == NULL || host[0] == '\0') {
        snprintf(err, errsize,
                 "KUBERNETES_SERVICE_HOST is not set (not in a cluster?)");
        return -1;
    }
    if (fleet_read_sa(f->sa_dir, "namespace", ns, sizeof(ns)) < 0) {
        snprintf(err, errsize, "cannot read '%s/namespace': %s", f->sa_dir,
                 strerror(errno));
        return -1;
    }
    v6 = strchr(host, ':') != NULL;
    snprintf(url, size,
             "https://%s%s%s:%s/apis/apps/v1/namespaces/%s/statefulsets/%s",
             v6 ? "[" : "", host, v6 ? "]" : "", port && port[0] ? port : "443",
             ns, f->statefulset);
    return 0;
}

/* The API's own words for a refusal: a Status object's "message". */
static void fleet_refusal(struct fleet_answer *a, long code,
                          const struct fleet_body *b)
{
    json_t *root = b->data ? json_loadb(b->data, b->len, 0, NULL) : NULL;
    const char *msg = json_string_value(json_object_get(root, "message"));

    snprintf(a->err, sizeof(a->err), "HTTP %ld from the API server%s%s", code,
             msg ? ": " : "", msg ? msg : "");
    a->permanent = code >= 400 && code < 500 && code != 408 && code != 429;
    json_decref(root);
}

static CURL *fleet_handle(const struct fleet *f, const char *url,
                          struct curl_slist *headers, struct fleet_body *b)
{
    char ca[4096];
    CURL *c = curl_easy_init();

    if (c == NULL)
        return NULL;
    snprintf(ca, sizeof(ca), "%s/ca.crt", f->sa_dir);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CAINFO, ca);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)FLEET_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)FLEET_REQUEST_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fleet_write_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
    return c;
}

static int fleet_perform(CURL *c, struct fleet_answer *a,
                         const struct fleet_body *b)
{
    CURLcode rc = curl_easy_perform(c);
    long code = 0;

    if (rc != CURLE_OK) {
        snprintf(a->err, sizeof(a->err), "%s", curl_easy_strerror(rc));
        return -1;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    if (code != 200) {
        fleet_refusal(a, code, b);
        return -1;
    }
    if (fleet_parse_replicas(b->data ? b->data : "", b->len, &a->replicas,
                             a->err, sizeof(a->err)) < 0) {
        a->permanent = 1;
        return -1;
    }
    return 0;
}

/* Asks the API once.  The token is read each time: Kubernetes rotates it. */
static int fleet_ask(const struct fleet *f, struct fleet_answer *a)
{
    char url[2048], token[8192], auth[8300];
    struct fleet_body b = {0};
    struct curl_slist *headers = NULL;
    CURL *c;
    int rc = -1;

    memset(a, 0, sizeof(*a));
    if (fleet_url(f, url, sizeof(url), a->err, sizeof(a->err)) < 0) {
        a->permanent = 1;
        return -1;
    }
    if (fleet_read_sa(f->sa_dir, "token", token, sizeof(token)) < 0) {
        snprintf(a->err, sizeof(a->err), "cannot read '%s/token': %s",
                 f->sa_dir, strerror(errno));
        a->permanent = 1;
        return -1;
    }
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
    headers = curl_slist_append(headers, auth);
    headers = curl_slist_append(headers, "Accept: application/json");
    c = fleet_handle(f, url, headers, &b);
    if (c == NULL || headers == NULL) {
        snprintf(a->err, sizeof(a->err), "cannot set up an HTTP request");
    } else {
        rc = fleet_perform(c, a, &b);
    }
    if (c != NULL)
        curl_easy_cleanup(c);
    curl_slist_free_all(headers);
    free(b.data);
    return rc;
}

static void fleet_sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000,
                          .tv_nsec = (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Retries with doubling delays until the API answers or time is up. */
static long fleet_replicas_at_start(const char *prog, const struct fleet *f,
                                    long timeout_ms)
{
    int64_t end = timeutil_mono_ms() + timeout_ms;
    long delay = FLEET_BACKOFF_FIRST_MS;
    struct fleet_answer a;
    char q[600];

    for (int attempt = 1;; attempt++) {
        int64_t left;

        if (fleet_ask(f, &a) == 0)
            return a.replicas;
        left = end - timeutil_mono_ms();
        if (a.permanent || left <= 0)
            break;
        log_warn("cannot read the StatefulSet's replica count; retrying",
                 "statefulset=%s attempt=%d error=%s", f->statefulset, attempt,
                 log_quote(q, sizeof(q), a.err));
        fleet_sleep_ms(delay < left ? delay : (long)left);
        delay =
            delay * 2 > FLEET_BACKOFF_MAX_MS ? FLEET_BACKOFF_MAX_MS : delay * 2;
    }
    config_die(
        prog,
        "--workers k8s: cannot read spec.replicas of StatefulSet '%s' from the Kubernetes API: %s",
        f->statefulset, a.err);
}

static long fleet_worker_id(const char *prog, const char *opt)
{
    char host[256], *end;
    long id;

    if (opt == NULL || strcmp(opt, "auto") == 0) {
        id = ident_ordinal(fleet_hostname(host, sizeof(host)));
        if (id < 0)
            config_die(prog, "--worker-id auto: hostname '%s' has no -<n>",
                       host);
        return id;
    }
    errno = 0;
    id = strtol(opt, &end, 10);
    if (errno != 0 || end == opt || *end != '\0' || id < 0 || id > 1000000)
        config_die(prog, "--worker-id: '%s' is not 'auto' or a number >= 0",
                   opt);
    return id;
}

static void fleet_k8s(const char *prog, const struct fleet_opts *o,
                      struct fleet *f)
{
    char host[256];

    if (o->statefulset != NULL && o->statefulset[0] != '\0')
        snprintf(f->statefulset, sizeof(f->statefulset), "%s", o->statefulset);
    else if (fleet_statefulset_name(fleet_hostname(host, sizeof(host)),
                                    f->statefulset, sizeof(f->statefulset)) < 0)
        config_die(
            prog,
            "--workers k8s: hostname '%s' has no -<n>; give --statefulset",
            host);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
        config_die(prog, "--workers k8s: cannot initialise libcurl");
    f->from_k8s = 1;
    f->workers = fleet_replicas_at_start(
        prog, f,
        (o->start_timeout > 0 ? o->start_timeout : FLEET_START_TIMEOUT_S) *
            1000L);
    if (f->workers < 1)
        config_die(prog, "--workers k8s: StatefulSet '%s' has 0 replicas",
                   f->statefulset);
    f->next_check_ms = timeutil_mono_ms() + f->check_interval_ms;
}

static long fleet_count(const char *prog, const char *opt)
{
    char *end;
    long n;

    errno = 0;
    n = strtol(opt, &end, 10);
    if (errno != 0 || end == opt || *end != '\0' || n < 1 || n > 1000000)
        config_die(prog, "--workers: '%s' is not 'k8s' or a number >= 1", opt);
    return n;
}

void fleet_resolve(const char *prog, const struct fleet_opts *o,
                   struct fleet *f)
{
    memset(f, 0, sizeof(*f));
    f->sa_dir = o->sa_dir != NULL && o->sa_dir[0] ? o->sa_dir : FLEET_SA_DIR;
    f->check_interval_ms =
        (o->check_interval > 0 ? o->check_interval : FLEET_DEFAULT_INTERVAL_S) *
        1000;
    f->worker_id = fleet_worker_id(prog, o->worker_id);

    if (o->workers != NULL && strcmp(o->workers, "k8s") == 0)
        fleet_k8s(prog, o, f);
    else
        f->workers = fleet_count(prog, o->workers ? o->workers : "1");

    if (f->worker_id >= f->workers)
        config_die(prog, "worker id %ld is not below the %ld workers",
                   f->worker_id, f->workers);
    /* Nothing is logged here: a configuration error found after this
     * must still be the only line the daemon prints. */
}

int fleet_check(struct fleet *f)
{
    struct fleet_answer a;
    char msg[160], q[600];

    if (!f->from_k8s || timeutil_mono_ms() < f->next_check_ms)
        return 0;
    f->next_check_ms = timeutil_mono_ms() + f->check_interval_ms;
    if (fleet_ask(f, &a) < 0) {
        log_warn("cannot re-check the StatefulSet's replica count",
                 "statefulset=%s error=%s", f->statefulset,
                 log_quote(q, sizeof(q), a.err));
        return 0;
    }
    if (a.replicas == f->workers)
        return 0;
    snprintf(
        msg, sizeof(msg),
        "SCALING DETECTED: StatefulSet has %ld replicas but compiler was started with %ld workers",
        a.replicas, f->workers);
    log_error(msg, "statefulset=%s", f->statefulset);
    return -1;
}

int64_t fleet_next_ms(const struct fleet *f)
{
    int64_t left;

    if (!f->from_k8s)
        return -1;
    left = f->next_check_ms - timeutil_mono_ms();
    return left > 0 ? left : 0;
}
