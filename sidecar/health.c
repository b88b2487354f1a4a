/* health.c - the builder's heartbeat, and the fleet's /healthz answers. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fsio.h"
#include "health.h"
#include "log.h"
#include "shipper.h"
#include "sink.h"

#define HEALTH_BODY_MAX 4096
/* A worker's /healthz body, its cache's reason included, fits. */
#define HEALTH_PROBE_MAX   (64 * 1024)
#define HEALTH_PROBLEM_MAX 256

static struct health_config health_cfg;
static time_t health_started;
static pthread_mutex_t health_lock = PTHREAD_MUTEX_INITIALIZER;
static char (*health_problems)[HEALTH_PROBLEM_MAX];

void health_init(const struct health_config *cfg)
{
    health_cfg = *cfg;
    health_started = time(NULL);
    health_problems = calloc((size_t)(cfg->workers > 0 ? cfg->workers : 1),
                             sizeof(*health_problems));
}

long health_uptime(void)
{
    return (long)(time(NULL) - health_started);
}

/* The builder's heartbeat file: its age and, if it says so, the cache. */
static json_t *health_heartbeat(long *age)
{
    char path[4096];
    struct stat st;
    char *buf;
    size_t len;
    json_t *hb;

    snprintf(path, sizeof(path), "%s/heartbeat", health_cfg.out);
    if (stat(path, &st) < 0)
        return NULL;
    *age = (long)(time(NULL) - st.st_mtime);
    if (fsio_read_small(AT_FDCWD, path, HEALTH_BODY_MAX, &buf, &len) < 0)
        return json_object();
    hb = json_loadb(buf, len, 0, NULL);
    free(buf);
    return hb ? hb : json_object();
}

/*
 * A heartbeat counts when it is fresh, is not the builder's last word
 * ("stopped", written as it exits), and comes from a builder of the same
 * worker: two ids on one volume would build and ship the wrong share.
 */
static bool health_beat_ok(json_t *hb, long age, char *reason, size_t size)
{
    json_t *id = json_object_get(hb, "worker_id");

    if (json_is_true(json_object_get(hb, "stopped"))) {
        snprintf(reason, size, "builder stopped");
        return false;
    }
    if (age > health_cfg.heartbeat_timeout) {
        snprintf(reason, size, "builder heartbeat is %ld s old", age);
        return false;
    }
    if (json_is_integer(id) && json_integer_value(id) != health_cfg.worker_id) {
        snprintf(reason, size,
                 "the builder on this volume is worker %lld, not %ld",
                 (long long)json_integer_value(id), health_cfg.worker_id);
        return false;
    }
    return true;
}

static bool health_builder(json_t *body, char *reason, size_t size)
{
    long age = 0;
    json_t *hb = health_heartbeat(&age);
    json_t *builder = json_object();
    json_t *cache;
    bool ok;

    if (hb == NULL) {
        /* A builder that is still starting has not written one yet. */
        ok = health_uptime() < health_cfg.heartbeat_timeout;
        if (!ok)
            snprintf(reason, size, "builder heartbeat missing");
        json_object_set_new(builder, "alive", json_boolean(ok));
        json_object_set_new(builder, "message",
                            json_string(ok ? "starting" : reason));
    } else {
        ok = health_beat_ok(hb, age, reason, size);
        json_object_set_new(builder, "alive", json_boolean(ok));
        json_object_set_new(builder, "heartbeat_age_s", json_integer(age));
        cache = json_object_get(hb, "cache");
        if (json_is_object(cache))
            json_object_set(body, "cache", cache);
    }
    json_object_set_new(body, "builder", builder);
    json_decref(hb);
    return ok;
}

bool health_local(json_t *body, char *reason, size_t size)
{
    long queued, active, failed;
    bool ok;

    json_object_set_new(body, "status", json_string("healthy"));
    json_object_set_new(body, "worker_id", json_integer(health_cfg.worker_id));
    json_object_set_new(body, "workers", json_integer(health_cfg.workers));
    json_object_set_new(body, "uptime_s", json_integer(health_uptime()));
    ok = health_builder(body, reason, size);
    shipper_counts(&queued, &active, &failed);
    json_object_set_new(body, "uploads",
                        json_pack("{s:i,s:i,s:i}", "queued", (int)queued,
                                  "active", (int)active, "failed",
                                  (int)failed));
    return ok;
}

/* ---- the fleet --------------------------------------------------------- */

struct health_probe {
    CURL *easy;
    long k;
    char url[512];
    char body[HEALTH_PROBE_MAX];
    struct sink sink; /* collects 'body' */
    char curl_err[CURL_ERROR_SIZE];
    CURLcode rc;
    bool local;
};

static void health_url(char *buf, size_t size, long k)
{
    const char *t = health_cfg.url_template;
    const char *mark = strstr(t, "{k}");

    if (mark == NULL)
        snprintf(buf, size, "%s/healthz", t);
    else
        snprintf(buf, size, "%.*s%ld%s/healthz", (int)(mark - t), t, k,
                 mark + 3);
}

static CURL *health_easy(struct health_probe *p)
{
    CURL *e = curl_easy_init();

    if (e == NULL)
        return NULL;
    curl_easy_setopt(e, CURLOPT_URL, p->url);
    p->sink = (struct sink){.buf = p->body, .size = sizeof(p->body)};
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sink_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &p->sink);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, p->curl_err);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, health_cfg.timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PRIVATE, p);
    p->rc = CURLE_FAILED_INIT;
    if (health_cfg.ca_file != NULL)
        curl_easy_setopt(e, CURLOPT_CAINFO, health_cfg.ca_file);
    return e;
}

/*
 * Judges a 200 by its body too: a worker that answers for another
 * ordinal (a wrong --worker-url-template) or not as "healthy" is not
 * counted healthy.  A degraded compiler cache is named but is no fault.
 */
static bool health_judge_body(const struct health_probe *p, json_t *body,
                              char *msg, size_t size)
{
    json_t *status = json_object_get(body, "status");
    json_t *id = json_object_get(body, "worker_id");
    json_t *cache = json_object_get(body, "cache");
    const char *cstat = json_string_value(json_object_get(cache, "status"));
    const char *creason = json_string_value(json_object_get(cache, "reason"));

    if (!json_is_string(status) ||
        strcmp(json_string_value(status), "healthy") != 0) {
        snprintf(msg, size, "/healthz answered 200 without \"healthy\"");
        return false;
    }
    if (!json_is_integer(id) || json_integer_value(id) != p->k) {
        snprintf(msg, size, "/healthz at %s answered for worker %lld", p->url,
                 json_is_integer(id) ? (long long)json_integer_value(id)
                                     : -1LL);
        return false;
    }
    if (cstat != NULL && strcmp(cstat, "degraded") == 0)
        snprintf(msg, size, "healthy; compiler cache degraded: %s",
                 creason ? creason : "");
    else
        snprintf(msg, size, "healthy");
    return true;
}

static void health_verdict(struct health_probe *p, CURLcode rc, bool *ok,
                           char *msg, size_t size)
{
    long code = 0;
    json_t *body, *err;

    if (rc != CURLE_OK) {
        *ok = false;
        snprintf(msg, size, "%s",
                 p->curl_err[0] ? p->curl_err : curl_easy_strerror(rc));
        return;
    }
    curl_easy_getinfo(p->easy, CURLINFO_RESPONSE_CODE, &code);
    body = json_loads(p->body, 0, NULL);
    err = json_object_get(body, "error");
    *ok = false;
    if (code == 200)
        *ok = health_judge_body(p, body, msg, size);
    else if (json_is_string(err))
        snprintf(msg, size, "%s", json_string_value(err));
    else
        snprintf(msg, size, "/healthz answered %ld", code);
    json_decref(body);
}

static void health_record(long k, bool ok, const char *msg)
{
    pthread_mutex_lock(&health_lock);
    if (health_problems != NULL && k < health_cfg.workers)
        snprintf(health_problems[k], HEALTH_PROBLEM_MAX, "%s", ok ? "" : msg);
    pthread_mutex_unlock(&health_lock);
}

static void health_run_probes(struct health_probe *probes, long n)
{
    CURLM *multi = curl_multi_init();
    int running = 0;

    for (long i = 0; i < n; i++) {
        if (probes[i].easy != NULL)
            curl_multi_add_handle(multi, probes[i].easy);
    }
    do {
        CURLMsg *m;
        int left;

        curl_multi_perform(multi, &running);
        while ((m = curl_multi_info_read(multi, &left)) != NULL) {
            struct health_probe *p;

            if (m->msg != CURLMSG_DONE)
                continue;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &p);
            p->rc = m->data.result;
        }
        if (running > 0)
            curl_multi_poll(multi, NULL, 0, 100, NULL);
    } while (running > 0);

    for (long i = 0; i < n; i++) {
        if (probes[i].easy != NULL)
            curl_multi_remove_handle(multi, probes[i].easy);
    }
    curl_multi_cleanup(multi);
}

static void health_collect(struct health_probe *probes, long n, json_t *workers,
                           bool *all)
{
    for (long i = 0; i < n; i++) {
        char msg[HEALTH_PROBLEM_MAX];
        bool ok = false;

        if (probes[i].local) {
            json_t *local = json_object();
            char reason[HEALTH_PROBLEM_MAX] = "";

            ok = health_local(local, reason, sizeof(reason));
            snprintf(msg, sizeof(msg), "%s", ok ? "healthy" : reason);
            json_decref(local);
        } else if (probes[i].easy == NULL) {
            snprintf(msg, sizeof(msg), "no --worker-url-template to ask it");
        } else {
            health_verdict(&probes[i], probes[i].rc, &ok, msg, sizeof(msg));
            curl_easy_cleanup(probes[i].easy);
        }
        health_record(probes[i].k, ok, msg);
        *all = *all && ok;
        json_array_append_new(workers, json_pack("{s:i,s:b,s:s}", "worker_id",
                                                 (int)probes[i].k, "healthy",
                                                 ok, "message", msg));
    }
}

json_t *health_cluster(bool *all_healthy)
{
    long n = health_cfg.workers;
    struct health_probe *probes = calloc((size_t)n, sizeof(*probes));
    json_t *workers = json_array();

    *all_healthy = true;
    if (probes == NULL)
        return NULL;
    for (long k = 0; k < n; k++) {
        probes[k].k = k;
        probes[k].local = k == health_cfg.worker_id;
        if (probes[k].local || health_cfg.url_template == NULL)
            continue;
        health_url(probes[k].url, sizeof(probes[k].url), k);
        probes[k].easy = health_easy(&probes[k]);
    }
    health_run_probes(probes, n);
    health_collect(probes, n, workers, all_healthy);
    free(probes);
    return json_pack("{s:b,s:o}", "all_healthy", *all_healthy, "workers",
                     workers);
}

const char *health_worker_problem(long k, char *buf, size_t size)
{
    const char *r = NULL;

    pthread_mutex_lock(&health_lock);
    if (health_problems != NULL && k >= 0 && k < health_cfg.workers &&
        health_problems[k][0] != '\0') {
        snprintf(buf, size, "%s", health_problems[k]);
        r = buf;
    }
    pthread_mutex_unlock(&health_lock);
    return r;
}
