/* shipper.c - every result in ready/ reaches the leader once, whole. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fsio.h"
#include "hash.h"
#include "ledger.h"
#include "log.h"
#include "manifest.h"
#include "metrics.h"
#include "shipper.h"
#include "strmap.h"
#include "timeutil.h"
#include "token.h"
#include "watch.h"

/* Reports of failures wait at most this long between attempts. */
#define SHIP_REPORT_MAX_DELAY_MS 60000
#define SHIP_MAX_DELAY_MS (5 * 60 * 1000)
#define SHIP_RESPONSE_MAX 1024

enum job_kind {
    JOB_RESULT,    /* a manifest in ready/: a binary or a compile error */
    JOB_COMPILING, /* a marker in building/: tell the leader */
    JOB_FAILURE,   /* a result that could not be shipped: say so */
};

enum job_phase {
    PHASE_QUEUED,  /* in the run queue */
    PHASE_WAITING, /* backing off until 'due_ms' */
    PHASE_ACTIVE,  /* a transfer is under way */
    PHASE_FAILED,  /* given up; shipped again only after a restart */
};

struct job {
    struct job *next; /* run queue or wait list */
    enum job_kind kind;
    enum job_phase phase;
    char key[IDENT_NAME_MAX + 2];
    char name[IDENT_NAME_MAX];
    char id[IDENT_ID_MAX + 1];
    int64_t version;
    int attempts;
    int64_t due_ms;
    bool rehash;
    bool binary; /* the result carries a binary, not a compile error */
    char reason[512];   /* why the last attempt failed */
    char message[512];  /* JOB_FAILURE: what to tell the leader */

    /* While active. */
    CURL *easy;
    struct curl_slist *headers;
    int fd;
    struct stat before;
    char xxh[HASH_HEX_LEN];
    char artifact[MANIFEST_ARTIFACT_MAX];
    char *body;
    char response[SHIP_RESPONSE_MAX];
    char curl_err[CURL_ERROR_SIZE];
    size_t response_len;
    int64_t started_ms;
    int64_t size;
    int64_t sent;
};

struct job_list {
    struct job *head, *tail;
};

static struct shipper_config ship;
static CURLM *ship_multi;
static int ship_outfd = -1, ship_ifd = -1;
static char ship_ready[4096], ship_building[4096];
static struct strmap *ship_jobs; /* key -> job */
static struct job_list ship_queue, ship_low;
static long ship_active;
static bool ship_draining;
static int64_t ship_next_reconcile;
static atomic_long ship_nqueued, ship_nactive, ship_nfailed;

/* Guards ship_jobs and each job's phase and reason, which the HTTP
 * threads read for this worker's own /v1/status. */
static pthread_mutex_t ship_lock = PTHREAD_MUTEX_INITIALIZER;

static bool ship_start_due(void);

/* ---- the job table ----------------------------------------------------- */

static void list_push(struct job_list *l, struct job *j)
{
    j->next = NULL;
    if (l->tail != NULL)
        l->tail->next = j;
    else
        l->head = j;
    l->tail = j;
}

static struct job *list_pop(struct job_list *l)
{
    struct job *j = l->head;

    if (j != NULL) {
        l->head = j->next;
        if (l->head == NULL)
            l->tail = NULL;
        j->next = NULL;
    }
    return j;
}

static void ship_key(char *key, enum job_kind kind, const char *name)
{
    static const char prefix[] = {'r', 'c', 'f'};

    snprintf(key, IDENT_NAME_MAX + 2, "%c%s", prefix[kind], name);
}

static struct job *ship_find(enum job_kind kind, const char *name)
{
    char key[IDENT_NAME_MAX + 2];

    ship_key(key, kind, name);
    return strmap_get(ship_jobs, key);
}

static void ship_set_phase(struct job *j, enum job_phase phase)
{
    pthread_mutex_lock(&ship_lock);
    if (j->phase == PHASE_FAILED)
        atomic_fetch_sub(&ship_nfailed, 1);
    if (phase == PHASE_FAILED)
        atomic_fetch_add(&ship_nfailed, 1);
    j->phase = phase;
    pthread_mutex_unlock(&ship_lock);
}

static void ship_enqueue(struct job *j)
{
    ship_set_phase(j, PHASE_QUEUED);
    list_push(j->kind == JOB_COMPILING ? &ship_low : &ship_queue, j);
    atomic_fetch_add(&ship_nqueued, 1);
    atomic_store(&metrics.queue_depth, atomic_load(&ship_nqueued));
}

static struct job *ship_add(enum job_kind kind, const char *name)
{
    struct job *j = calloc(1, sizeof(*j));

    if (j == NULL)
        return NULL;
    j->kind = kind;
    j->fd = -1;
    ship_key(j->key, kind, name);
    snprintf(j->name, sizeof(j->name), "%s", name);
    ident_split_name(name, strlen(name), j->id, &j->version);
    pthread_mutex_lock(&ship_lock);
    if (strmap_put(ship_jobs, j->key, j) < 0) {
        pthread_mutex_unlock(&ship_lock);
        free(j);
        return NULL;
    }
    pthread_mutex_unlock(&ship_lock);
    ship_enqueue(j);
    return j;
}

/* Forgets a job that is in no list and has no transfer. */
static void ship_remove(struct job *j)
{
    pthread_mutex_lock(&ship_lock);
    strmap_del(ship_jobs, j->key);
    if (j->phase == PHASE_FAILED)
        atomic_fetch_sub(&ship_nfailed, 1);
    pthread_mutex_unlock(&ship_lock);
    free(j);
}

/* A watch event or a scan found manifest 'name'. */
static void ship_found(enum watch_dir dir, const char *name, void *cls)
{
    (void)cls;
    if (dir == WATCH_READY) {
        if (ship_find(JOB_RESULT, name) == NULL)
            ship_add(JOB_RESULT, name);
        return;
    }
    if (ship_find(JOB_RESULT, name) == NULL &&
        ship_find(JOB_COMPILING, name) == NULL)
        ship_add(JOB_COMPILING, name);
}

static void ship_rescan(const char *why)
{
    long n = watch_scan(ship_ready, WATCH_READY, ship_found, NULL);

    watch_scan(ship_building, WATCH_BUILDING, ship_found, NULL);
    atomic_fetch_add(&metrics.rescans, 1);
    log_info("rescanned", "why=%s results=%ld queued=%ld", why, n,
             (long)atomic_load(&ship_nqueued));
}

/* ---- opening what a manifest names ------------------------------------ */

/*
 * Opens the artifact beneath OUT, following no symlink anywhere on the
 * way, so a hostile manifest can name nothing outside the volume.
 */
static int ship_open_artifact(const char *path)
{
    struct open_how how = {
        .flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
                   RESOLVE_NO_MAGICLINKS,
    };

    return (int)syscall(SYS_openat2, ship_outfd, path, &how, sizeof(how));
}

static int ship_load_manifest(struct job *j, struct manifest *m)
{
    char file[IDENT_NAME_MAX + 8], err[256];
    char *buf;
    size_t len;
    int rc;

    snprintf(file, sizeof(file), "%s/%s.json", "ready", j->name);
    if (fsio_read_small(ship_outfd, file, MANIFEST_FILE_MAX, &buf, &len) <
        0) {
        snprintf(j->reason, sizeof(j->reason), "cannot read manifest: %s",
                 strerror(errno));
        return errno == ENOENT ? -2 : -1;
    }
    rc = manifest_parse(buf, len, m, err, sizeof(err));
    free(buf);
    if (rc < 0) {
        snprintf(j->reason, sizeof(j->reason), "invalid manifest: %s", err);
        return -1;
    }
    if (strcmp(m->pipeline_id, j->id) != 0 || m->version != j->version) {
        snprintf(j->reason, sizeof(j->reason),
                 "invalid manifest: it names %s@%lld", m->pipeline_id,
                 (long long)m->version);
        manifest_free(m);
        return -1;
    }
    return 0;
}

/* Opens, checks and hashes the artifact.  Returns 0 or -1 (final). */
static int ship_snapshot(struct job *j, const struct manifest *m)
{
    snprintf(j->artifact, sizeof(j->artifact), "%s", m->artifact);
    j->fd = ship_open_artifact(m->artifact);
    if (j->fd < 0) {
        snprintf(j->reason, sizeof(j->reason),
                 "cannot open artifact '%s': %s", m->artifact,
                 errno == ELOOP || errno == EXDEV
                     ? "it is or passes through a symlink"
                     : strerror(errno));
        return -1;
    }
    if (fstat(j->fd, &j->before) < 0 || !S_ISREG(j->before.st_mode)) {
        snprintf(j->reason, sizeof(j->reason),
                 "artifact '%s' is not a regular file", m->artifact);
        return -1;
    }
    off_t size;

    if (hash_fd(j->fd, j->xxh, &size) < 0) {
        snprintf(j->reason, sizeof(j->reason), "cannot read '%s': %s",
                 m->artifact, strerror(errno));
        return -1;
    }
    j->size = size;
    j->rehash = false;
    return 0;
}

/* True when the file is no longer what was hashed. */
static bool ship_changed(const struct job *j)
{
    struct stat now;

    if (fstat(j->fd, &now) < 0)
        return true;
    return now.st_size != j->before.st_size ||
           now.st_size != j->size ||
           now.st_mtim.tv_sec != j->before.st_mtim.tv_sec ||
           now.st_mtim.tv_nsec != j->before.st_mtim.tv_nsec ||
           now.st_ctim.tv_sec != j->before.st_ctim.tv_sec ||
           now.st_ctim.tv_nsec != j->before.st_ctim.tv_nsec;
}

static void ship_release(struct job *j)
{
    if (j->easy != NULL) {
        curl_multi_remove_handle(ship_multi, j->easy);
        curl_easy_cleanup(j->easy);
        j->easy = NULL;
    }
    curl_slist_free_all(j->headers);
    j->headers = NULL;
    if (j->fd >= 0)
        close(j->fd);
    j->fd = -1;
    free(j->body);
    j->body = NULL;
    j->response_len = 0;
    j->response[0] = '\0';
}

/* ---- waiting: a min-heap on due time ---------------------------------- */

static struct job **ship_heap;
static size_t ship_nheap, ship_heap_cap;

static void heap_swap(size_t a, size_t b)
{
    struct job *t = ship_heap[a];

    ship_heap[a] = ship_heap[b];
    ship_heap[b] = t;
}

static int heap_push(struct job *j)
{
    size_t i;

    if (ship_nheap == ship_heap_cap) {
        size_t cap = ship_heap_cap ? ship_heap_cap * 2 : 64;
        struct job **p = realloc(ship_heap, cap * sizeof(*p));

        if (p == NULL)
            return -1;
        ship_heap = p;
        ship_heap_cap = cap;
    }
    i = ship_nheap++;
    ship_heap[i] = j;
    while (i > 0 && ship_heap[(i - 1) / 2]->due_ms > ship_heap[i]->due_ms) {
        heap_swap(i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
    return 0;
}

static struct job *heap_pop(void)
{
    struct job *top;
    size_t i = 0;

    if (ship_nheap == 0)
        return NULL;
    top = ship_heap[0];
    ship_heap[0] = ship_heap[--ship_nheap];
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;

        if (l < ship_nheap && ship_heap[l]->due_ms < ship_heap[m]->due_ms)
            m = l;
        if (r < ship_nheap && ship_heap[r]->due_ms < ship_heap[m]->due_ms)
            m = r;
        if (m == i)
            break;
        heap_swap(i, m);
        i = m;
    }
    return top;
}

static void ship_wake_due(void)
{
    int64_t now = timeutil_mono_ms();

    while (ship_nheap > 0 && ship_heap[0]->due_ms <= now)
        ship_enqueue(heap_pop());
}

/* ---- outcomes ---------------------------------------------------------- */

/* Reports are small and retried without a budget until the leader
 * hears them; binaries spend --upload-retries. */
static bool ship_is_report(const struct job *j)
{
    return j->kind == JOB_FAILURE || (j->kind == JOB_RESULT && !j->binary);
}

/* Retries: connection errors, 5xx but 507, 408, 429, and 422. */
static bool ship_retryable(int code)
{
    return code == 0 || code == 408 || code == 429 || code == 422 ||
           (code >= 500 && code != 507);
}

static int64_t ship_delay(const struct job *j, long retry_after_s)
{
    int shift = j->attempts - 1 < 20 ? j->attempts - 1 : 20;
    int64_t cap = ship_is_report(j) ? SHIP_REPORT_MAX_DELAY_MS
                                    : SHIP_MAX_DELAY_MS;
    int64_t d = (int64_t)ship.retry_delay_ms << shift;

    if (d > cap)
        d = cap;
    /* Jitter of +-25% keeps a fleet from retrying in step. */
    d = d * 3 / 4 + (d > 1 ? random() % (d / 2 + 1) : 0);
    if (retry_after_s > 0 && retry_after_s * 1000 > d)
        d = retry_after_s * 1000;
    return d;
}

static void ship_wait(struct job *j, long retry_after_s)
{
    j->due_ms = timeutil_mono_ms() + ship_delay(j, retry_after_s);
    ship_set_phase(j, PHASE_WAITING);
    if (heap_push(j) < 0)
        ship_enqueue(j);
}

/* A result that will not be shipped: the leader must hear why. */
static void ship_give_up(struct job *j)
{
    struct job *f;
    char msg[sizeof(j->reason)];

    snprintf(msg, sizeof(msg), "Failed to upload binary %s: %s", j->name,
             j->reason);
    pthread_mutex_lock(&ship_lock);
    snprintf(j->reason, sizeof(j->reason), "%s", msg);
    pthread_mutex_unlock(&ship_lock);
    ship_set_phase(j, PHASE_FAILED);
    atomic_fetch_add(&metrics.uploads[METRICS_UPLOAD_FAILED], 1);
    log_error("upload failed", "pipeline=%s version=%lld attempts=%d "
              "reason=\"%s\"", j->id, (long long)j->version, j->attempts,
              msg);
    if (j->kind != JOB_RESULT || ship_find(JOB_FAILURE, j->name) != NULL)
        return;
    f = ship_add(JOB_FAILURE, j->name);
    if (f != NULL)
        snprintf(f->message, sizeof(f->message), "%s", msg);
}

static void ship_acknowledged(struct job *j, int code)
{
    if (ledger_record(j->name, j->id, j->version,
                      j->binary ? j->artifact : NULL) < 0)
        log_warn("cannot record upload in the ledger",
                 "pipeline=%s version=%lld error=\"%s\"", j->id,
                 (long long)j->version, strerror(errno));
    log_info(j->binary ? "binary shipped" : "result reported",
             "pipeline=%s version=%lld code=%d bytes=%lld attempts=%d "
             "ms=%lld",
             j->id, (long long)j->version, code, (long long)j->size,
             j->attempts + 1,
             (long long)(timeutil_mono_ms() - j->started_ms));
}

/* Decides what follows an attempt that ended with HTTP 'code' (0: no
 * answer).  The job's transfer is already released. */
static void ship_outcome(struct job *j, int code, long retry_after_s)
{
    if (code == 200 || code == 201 || (code == 409 && j->kind ==
                                                          JOB_RESULT)) {
        if (j->kind == JOB_RESULT) {
            atomic_fetch_add(&metrics.uploads[METRICS_UPLOAD_OK], 1);
            ship_acknowledged(j, code);
        }
        ship_remove(j);
        return;
    }

    j->attempts++;
    if (code == 422)
        j->rehash = true;
    if (ship_retryable(code) &&
        (ship_is_report(j) || j->attempts <= ship.retries)) {
        atomic_fetch_add(&metrics.uploads[METRICS_UPLOAD_RETRY], 1);
        log_warn("attempt failed, will retry",
                 "pipeline=%s version=%lld attempt=%d reason=\"%s\"", j->id,
                 (long long)j->version, j->attempts, j->reason);
        ship_wait(j, retry_after_s);
        return;
    }
    if (j->kind == JOB_COMPILING) {
        ship_remove(j);
        return;
    }
    if (ship_is_report(j)) {
        log_error("report refused", "pipeline=%s version=%lld reason=\"%s\"",
                  j->id, (long long)j->version, j->reason);
        ship_set_phase(j, PHASE_FAILED);
        return;
    }
    ship_give_up(j);
}

/* ---- transfers --------------------------------------------------------- */

static size_t ship_read(char *buf, size_t size, size_t n, void *cls)
{
    struct job *j = cls;
    ssize_t r;

    do {
        r = pread(j->fd, buf, size * n, j->sent);
    } while (r < 0 && errno == EINTR);
    if (r < 0)
        return CURL_READFUNC_ABORT;
    j->sent += r;
    return (size_t)r;
}

static int ship_seek(void *cls, curl_off_t offset, int origin)
{
    struct job *j = cls;

    if (origin != SEEK_SET)
        return CURL_SEEKFUNC_CANTSEEK;
    j->sent = offset;
    return CURL_SEEKFUNC_OK;
}

static size_t ship_response(char *data, size_t size, size_t n, void *cls)
{
    struct job *j = cls;
    size_t len = size * n;
    size_t room = sizeof(j->response) - 1 - j->response_len;

    if (len > room)
        len = room;
    memcpy(j->response + j->response_len, data, len);
    j->response_len += len;
    j->response[j->response_len] = '\0';
    return size * n;
}

static int ship_headers(struct job *j, const char *type)
{
    char line[4200];

    if (token_header(line + 15, sizeof(line) - 15) == 0) {
        memcpy(line, "Authorization: ", 15);
        j->headers = curl_slist_append(j->headers, line);
    }
    snprintf(line, sizeof(line), "Content-Type: %s", type);
    j->headers = curl_slist_append(j->headers, line);
    if (j->binary && j->kind == JOB_RESULT) {
        snprintf(line, sizeof(line), "X-Content-Xxh128: %s", j->xxh);
        j->headers = curl_slist_append(j->headers, line);
    }
    snprintf(line, sizeof(line), "X-Worker-Id: %ld", ship.worker_id);
    j->headers = curl_slist_append(j->headers, line);
    explicit_bzero(line, sizeof(line));
    return j->headers != NULL ? 0 : -1;
}

static CURL *ship_easy(struct job *j, const char *path)
{
    char url[4096];
    size_t n = strlen(ship.leader);
    CURL *e = curl_easy_init();

    if (e == NULL)
        return NULL;
    while (n > 0 && ship.leader[n - 1] == '/')
        n--;
    snprintf(url, sizeof(url), "%.*s%s", (int)n, ship.leader, path);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, j);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, ship_response);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, j);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, j->curl_err);
    j->curl_err[0] = '\0';
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, 10L);
    /* A stalled transfer, not merely a slow one, is abandoned. */
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, 30L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, ship.upload_timeout);
    if (ship.ca_file != NULL)
        curl_easy_setopt(e, CURLOPT_CAINFO, ship.ca_file);
    return e;
}

static int ship_put_binary(struct job *j)
{
    char path[IDENT_NAME_MAX + 32];

    snprintf(path, sizeof(path), "/v1/binaries/%s/%lld", j->id,
             (long long)j->version);
    j->easy = ship_easy(j, path);
    if (j->easy == NULL || ship_headers(j, "application/octet-stream") < 0)
        return -1;
    j->sent = 0;
    curl_easy_setopt(j->easy, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(j->easy, CURLOPT_INFILESIZE_LARGE,
                     (curl_off_t)j->size);
    curl_easy_setopt(j->easy, CURLOPT_READFUNCTION, ship_read);
    curl_easy_setopt(j->easy, CURLOPT_READDATA, j);
    curl_easy_setopt(j->easy, CURLOPT_SEEKFUNCTION, ship_seek);
    curl_easy_setopt(j->easy, CURLOPT_SEEKDATA, j);
    curl_easy_setopt(j->easy, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);
    curl_easy_setopt(j->easy, CURLOPT_HTTPHEADER, j->headers);
    return 0;
}

static int ship_put_status(struct job *j)
{
    char path[IDENT_NAME_MAX + 32];

    snprintf(path, sizeof(path), "/v1/status/%s/%lld", j->id,
             (long long)j->version);
    j->easy = ship_easy(j, path);
    if (j->easy == NULL || ship_headers(j, "application/json") < 0)
        return -1;
    curl_easy_setopt(j->easy, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(j->easy, CURLOPT_POSTFIELDS, j->body);
    curl_easy_setopt(j->easy, CURLOPT_HTTPHEADER, j->headers);
    return 0;
}

/* Why the leader refused, from its {"error": ...} body. */
static void ship_http_reason(struct job *j, int code)
{
    json_t *o = json_loads(j->response, 0, NULL);
    const char *err = json_string_value(json_object_get(o, "error"));

    pthread_mutex_lock(&ship_lock);
    snprintf(j->reason, sizeof(j->reason), "leader answered %d: %s", code,
             err ? err : "no reason given");
    pthread_mutex_unlock(&ship_lock);
    json_decref(o);
}

/* curl says 'rc' for job 'j': settle its attempt. */
static void ship_transfer_done(struct job *j, CURLcode rc)
{
    long code = 0;
    curl_off_t retry_after = 0;
    bool changed;

    ship_active--;
    atomic_fetch_sub(&ship_nactive, 1);
    metrics_observe_upload(timeutil_mono_ms() - j->started_ms);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_getinfo(j->easy, CURLINFO_RETRY_AFTER, &retry_after);
        if (code != 200 && code != 201)
            ship_http_reason(j, (int)code);
        else if (j->binary)
            atomic_fetch_add(&metrics.upload_bytes, (uint64_t)j->size);
    } else {
        pthread_mutex_lock(&ship_lock);
        snprintf(j->reason, sizeof(j->reason), "%s",
                 j->curl_err[0] ? j->curl_err : curl_easy_strerror(rc));
        pthread_mutex_unlock(&ship_lock);
    }

    changed = j->binary && j->fd >= 0 && ship_changed(j);
    ship_release(j);
    if (changed) {
        /* What was sent may not be what was hashed: ship it anew. */
        atomic_fetch_add(&metrics.uploads[METRICS_UPLOAD_CHANGED], 1);
        log_warn("artifact changed during upload, shipping it again",
                 "pipeline=%s version=%lld", j->id, (long long)j->version);
        j->rehash = true;
        ship_enqueue(j);
        return;
    }
    ship_outcome(j, (int)code, (long)retry_after);
}

/* ---- starting an attempt ----------------------------------------------- */

static char *ship_report_body(const char *state, const char *message)
{
    json_t *o = json_pack("{s:s,s:i,s:s}", "state", state, "worker_id",
                          (int)ship.worker_id, "message", message);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;

    json_decref(o);
    return text;
}

/* The leader ships its own results into its store, through the same
 * verified install as an upload: no HTTP, same answers. */
static int ship_local(struct job *j, const struct manifest *m)
{
    char err[512];
    int code;

    if (j->kind == JOB_RESULT && j->binary)
        code = store_install_fd(ship.store, j->id, j->version, j->fd,
                                j->xxh, ship.worker_id, err, sizeof(err));
    else
        code = store_report(ship.store, j->id, j->version,
                            j->kind == JOB_COMPILING ? STATE_COMPILING
                            : j->kind == JOB_FAILURE ? STATE_SYSTEM_ERROR
                                                     : STATE_COMPILE_ERROR,
                            ship.worker_id,
                            j->kind == JOB_FAILURE ? j->message
                            : m != NULL            ? m->log
                                                   : "",
                            err, sizeof(err));
    if (code != 200 && code != 201)
        snprintf(j->reason, sizeof(j->reason), "store answered %d: %s", code,
                 err);
    return code;
}

static bool ship_result_exists(const char *dir, const char *name)
{
    char path[IDENT_NAME_MAX + 16];
    struct stat st;

    snprintf(path, sizeof(path), "%s/%s.json", dir, name);
    return fstatat(ship_outfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/*
 * Prepares job 'j'.  Returns 0 when it is ready to send, 1 when it has
 * nothing left to do (already removed), or -1 for a final failure with
 * j->reason set.  On success 'm' may hold the parsed manifest.
 */
static int ship_prepare(struct job *j, struct manifest *m, bool *loaded)
{
    int rc;

    if (j->kind == JOB_COMPILING) {
        /* The result overtook the marker: nothing to say any more. */
        if (ship_result_exists("ready", j->name) ||
            ship_result_exists("done", j->name)) {
            ship_remove(j);
            return 1;
        }
        j->body = ship_report_body("compiling", "");
        return j->body ? 0 : -1;
    }
    if (j->kind == JOB_FAILURE) {
        j->body = ship_report_body("system_error", j->message);
        return j->body ? 0 : -1;
    }

    rc = ship_load_manifest(j, m);
    if (rc == -2) {
        /* Gone from ready/: shipped and recorded by an earlier run. */
        ship_remove(j);
        return 1;
    }
    if (rc < 0)
        return -1;
    *loaded = true;
    j->binary = m->state == STATE_SUCCESS;
    if (!j->binary) {
        j->body = ship_report_body("compile_error", m->log);
        return j->body ? 0 : -1;
    }
    return ship_snapshot(j, m);
}

static void ship_start(struct job *j)
{
    struct manifest m = {0};
    bool loaded = false;
    int rc;

    j->reason[0] = '\0';
    j->started_ms = timeutil_mono_ms();
    rc = ship_prepare(j, &m, &loaded);
    if (rc == 1)
        goto out_free;
    if (rc < 0) {
        ship_release(j);
        ship_set_phase(j, PHASE_ACTIVE);
        ship_outcome(j, 400, 0);
        goto out_free;
    }

    ship_set_phase(j, PHASE_ACTIVE);
    if (ship.store != NULL) {
        rc = ship_local(j, loaded ? &m : NULL);
        ship_release(j);
        ship_outcome(j, rc, 0);
        goto out_free;
    }

    rc = j->binary && j->kind == JOB_RESULT ? ship_put_binary(j)
                                             : ship_put_status(j);
    if (rc < 0 || curl_multi_add_handle(ship_multi, j->easy) != CURLM_OK) {
        snprintf(j->reason, sizeof(j->reason), "cannot start transfer");
        ship_release(j);
        ship_outcome(j, 0, 0);
        goto out_free;
    }
    ship_active++;
    atomic_fetch_add(&ship_nactive, 1);
    if (j->kind == JOB_RESULT || j->kind == JOB_FAILURE)
        atomic_fetch_add(&metrics.reports, j->binary ? 0 : 1);

out_free:
    if (loaded)
        manifest_free(&m);
}

/*
 * Starts queued jobs while transfer slots are free.  The leader's own
 * installs run here synchronously, so they go in batches, leaving the
 * loop free to read events in between.  Returns true if work is left.
 */
static bool ship_start_due(void)
{
    int local = 0;

    while (!ship_draining && ship_active < ship.concurrency) {
        struct job *j;

        if (ship.store != NULL && local++ >= 64)
            return true;
        j = list_pop(&ship_queue);

        if (j == NULL)
            j = list_pop(&ship_low);
        if (j == NULL)
            return false;
        atomic_fetch_sub(&ship_nqueued, 1);
        atomic_store(&metrics.queue_depth, atomic_load(&ship_nqueued));
        ship_start(j);
    }
    return false;
}

/* ---- the loop ---------------------------------------------------------- */

static void ship_reap(void)
{
    CURLMsg *m;
    int left, running;

    curl_multi_perform(ship_multi, &running);
    while ((m = curl_multi_info_read(ship_multi, &left)) != NULL) {
        struct job *j;

        if (m->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &j);
        ship_transfer_done(j, m->data.result);
    }
}

int64_t shipper_run(void)
{
    int64_t now, next = 1000;
    bool more;

    if (watch_read(ship_found, NULL) == 1)
        ship_rescan("inotify queue overflow");
    ship_reap();
    ship_wake_due();

    now = timeutil_mono_ms();
    if (now >= ship_next_reconcile) {
        ship_rescan("reconcile");
        ship_next_reconcile = now + ship.reconcile_interval * 1000;
    }
    more = ship_start_due();

    if (more)
        return 0;
    if (ship_nheap > 0 && ship_heap[0]->due_ms - now < next)
        next = ship_heap[0]->due_ms - now;
    return next < 0 ? 0 : next;
}

void shipper_wait(struct pollfd *extra, int nextra, int64_t ms)
{
    struct curl_waitfd fds[8];
    int n = 0;

    fds[n].fd = ship_ifd;
    fds[n].events = CURL_WAIT_POLLIN;
    fds[n++].revents = 0;
    for (int i = 0; i < nextra && n < 8; i++, n++) {
        fds[n].fd = extra[i].fd;
        fds[n].events = CURL_WAIT_POLLIN;
        fds[n].revents = 0;
    }
    curl_multi_poll(ship_multi, fds, (unsigned)n, (int)ms, NULL);
}

int shipper_fds(struct pollfd *fds, int max)
{
    if (max < 1)
        return 0;
    fds[0].fd = ship_ifd;
    fds[0].events = POLLIN;
    return 1;
}

static int ship_dirs(void)
{
    static const char *const dirs[] = {"artifacts", "ready", "done",
                                       "building", "tmp"};

    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        if (mkdirat(ship_outfd, dirs[i], 0755) < 0 && errno != EEXIST)
            return -1;
    }
    snprintf(ship_ready, sizeof(ship_ready), "%s/ready", ship.out);
    snprintf(ship_building, sizeof(ship_building), "%s/building", ship.out);
    return 0;
}

int shipper_init(const struct shipper_config *cfg)
{
    ship = *cfg;
    srandom((unsigned)(getpid() ^ timeutil_mono_ms()));
    if (fsio_mkdirs(cfg->out, 0755) < 0)
        return -1;
    ship_outfd = open(cfg->out, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (ship_outfd < 0 || ship_dirs() < 0)
        return -1;
    ship_jobs = strmap_new();
    ship_multi = curl_multi_init();
    if (ship_jobs == NULL || ship_multi == NULL)
        return -1;
    if (ledger_open(ship_outfd, cfg->keep_uploaded) < 0)
        return -1;
    ship_ifd = watch_open(ship_ready, ship_building);
    if (ship_ifd < 0)
        return -1;

    /* Watch first, then scan: a result renamed in between is seen by
     * both, and the job table keeps it to one. */
    ship_rescan("start");
    ship_next_reconcile = timeutil_mono_ms() + cfg->reconcile_interval * 1000;
    return 0;
}

bool shipper_drain(void)
{
    if (!ship_draining)
        log_info("draining uploads", "active=%ld", ship_active);
    ship_draining = true;
    return ship_active == 0;
}

static void ship_abandon_one(const char *key, void *value, void *cls)
{
    struct job *j = value;

    (void)key;
    (void)cls;
    if (j->phase == PHASE_ACTIVE && j->easy != NULL) {
        log_warn("upload abandoned at shutdown, will ship after restart",
                 "pipeline=%s version=%lld", j->id, (long long)j->version);
        ship_release(j);
    }
}

void shipper_abandon(void)
{
    strmap_each(ship_jobs, ship_abandon_one, NULL);
    ship_active = 0;
}

/* ---- this worker's own view -------------------------------------------- */

static json_t *ship_job_json(const struct job *j)
{
    const char *state = j->phase == PHASE_FAILED ? "system_error"
                        : j->kind == JOB_COMPILING ? "compiling"
                                                   : "uploading";

    return json_pack("{s:s,s:I,s:s,s:i,s:n,s:n,s:s,s:n}", "pipeline_id",
                     j->id, "version", (json_int_t)j->version, "state",
                     state, "worker_id", (int)ship.worker_id, "xxh128",
                     "size", "message", j->reason, "updated_at");
}

static void ship_list_one(const char *key, void *value, void *cls)
{
    const struct job *j = value;

    (void)key;
    if (j->kind != JOB_FAILURE)
        json_array_append_new(cls, ship_job_json(j));
}

void shipper_list_json(json_t *array)
{
    pthread_mutex_lock(&ship_lock);
    if (ship_jobs != NULL)
        strmap_each(ship_jobs, ship_list_one, array);
    pthread_mutex_unlock(&ship_lock);
}

struct ship_pick {
    const char *id;
    const struct job *best;
};

static void ship_pick_one(const char *key, void *value, void *cls)
{
    struct ship_pick *p = cls;
    const struct job *j = value;

    (void)key;
    if (j->kind == JOB_FAILURE || strcmp(j->id, p->id) != 0)
        return;
    if (p->best == NULL || j->version > p->best->version)
        p->best = j;
}

json_t *shipper_entry_json(const char *id)
{
    struct ship_pick p = {id, NULL};
    json_t *o = NULL;

    pthread_mutex_lock(&ship_lock);
    if (ship_jobs != NULL)
        strmap_each(ship_jobs, ship_pick_one, &p);
    if (p.best != NULL)
        o = ship_job_json(p.best);
    pthread_mutex_unlock(&ship_lock);
    return o;
}

void shipper_counts(long *queued, long *active, long *failed)
{
    *queued = atomic_load(&ship_nqueued);
    *active = atomic_load(&ship_nactive);
    *failed = atomic_load(&ship_nfailed);
}

static void ship_free_one(const char *key, void *value, void *cls)
{
    (void)key;
    (void)cls;
    ship_release(value);
    free(value);
}

void shipper_close(void)
{
    pthread_mutex_lock(&ship_lock);
    if (ship_jobs != NULL)
        strmap_each(ship_jobs, ship_free_one, NULL);
    strmap_free(ship_jobs);
    ship_jobs = NULL;
    pthread_mutex_unlock(&ship_lock);
    free(ship_heap);
    ship_heap = NULL;
    ship_nheap = ship_heap_cap = 0;
    if (ship_multi != NULL)
        curl_multi_cleanup(ship_multi);
    ship_multi = NULL;
    ledger_close();
    watch_close();
    if (ship_outfd >= 0)
        close(ship_outfd);
    ship_outfd = -1;
}
