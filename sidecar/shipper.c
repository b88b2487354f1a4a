/* shipper.c - every result in ready/ reaches the leader once, whole. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crashpoint.h"
#include "fsio.h"
#include "hash.h"
#include "ledger.h"
#include "log.h"
#include "manifest.h"
#include "metrics.h"
#include "shipper.h"
#include "sink.h"
#include "strmap.h"
#include "timeutil.h"
#include "token.h"
#include "watch.h"

/* Reports of failures wait at most this long between attempts. */
#define SHIP_REPORT_MAX_DELAY_MS 60000
#define SHIP_MAX_DELAY_MS        (5 * 60 * 1000)
/* A leader asking for more than this is not taken at its word. */
#define SHIP_RETRY_AFTER_MAX_MS (60 * 60 * 1000)
#define SHIP_RESPONSE_MAX       1024
/*
 * File times tick with the kernel's coarse clock, so a write in the same
 * tick as the snapshot's fstat leaves them unchanged.  A file changed
 * this recently before its snapshot is hashed again after sending.
 */
#define SHIP_RACY_MS 50
/*
 * A binary is hashed a slice per turn of the loop, so that hashing a
 * large one never stalls the transfers under way for long.
 */
#define SHIP_HASH_SLICE (8 * 1024 * 1024)
#define SHIP_HASH_CHUNK (256 * 1024)

enum job_kind {
    JOB_RESULT,    /* a manifest in ready/: a binary or a compile error */
    JOB_COMPILING, /* a marker in building/: tell the leader */
    JOB_FAILURE,   /* a result that could not be shipped: say so */
};

enum job_phase {
    PHASE_QUEUED,  /* in the run queue */
    PHASE_WAITING, /* backing off until 'due_ms' */
    PHASE_ACTIVE,  /* a transfer is under way */
    PHASE_FAILED,  /* given up until the result is published again */
};

/*
 * What one attempt holds.  It exists only while the attempt runs, so a
 * queue of many thousands of results stays small.
 */
struct xfer {
    CURL *easy;
    struct curl_slist *headers;
    int fd;
    struct stat before;
    bool racy;               /* changed too recently for its times to tell */
    bool changed;            /* seen changed before the body's last byte */
    struct hash_state *hash; /* while being hashed */
    int64_t hashed;
    char *body; /* a status report's JSON */
    char response[SHIP_RESPONSE_MAX];
    struct sink sink; /* collects 'response' */
    char curl_err[CURL_ERROR_SIZE];
    int64_t sent;
};

struct job {
    struct job *next; /* run queue */
    enum job_kind kind;
    enum job_phase phase;
    char key[IDENT_NAME_MAX + 2];
    char name[IDENT_NAME_MAX];
    char id[IDENT_ID_MAX + 1];
    int64_t version;
    int attempts;
    bool hopeless; /* the result itself is malformed: no retry helps */
    int64_t due_ms;
    int64_t started_ms;
    bool binary; /* the result carries a binary, not a compile error */
    int64_t size;
    char xxh[HASH_HEX_LEN];
    ino_t manifest_ino; /* tells a manifest published again */
    ino_t artifact_ino;
    char *artifact; /* relative to OUT, as the manifest names it */
    char *reason;   /* why the last attempt failed; under ship_lock */
    char *message;  /* JOB_FAILURE: what to tell the leader */
    struct xfer *x; /* while active */
    char changed_at[TIMEUTIL_RFC3339_LEN]; /* last phase change; ship_lock */
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
static struct job_list ship_hashing; /* active, not yet hashed */
static char *ship_hash_buf;
static long ship_active;
static bool ship_draining;
static int64_t ship_next_reconcile;
static atomic_long ship_nqueued, ship_nactive, ship_nfailed, ship_nwaiting;

/* Guards ship_jobs and each job's phase and reason, which the HTTP
 * threads read for this worker's own /v1/status. */
static pthread_mutex_t ship_lock = PTHREAD_MUTEX_INITIALIZER;

static size_t ship_nheap;

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

/* Sets the reason shown in this worker's /v1/status; keeps errno. */
static void ship_set_reason(struct job *j, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void ship_set_reason(struct job *j, const char *fmt, ...)
{
    char buf[1024];
    char *copy, *old;
    int saved = errno;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    copy = strdup(buf);
    pthread_mutex_lock(&ship_lock);
    old = j->reason;
    j->reason = copy;
    pthread_mutex_unlock(&ship_lock);
    free(old);
    errno = saved;
}

static const char *ship_reason(const struct job *j)
{
    return j->reason != NULL ? j->reason : "";
}

/* A job hashing or transferring holds one of --upload-concurrency slots. */
static void ship_slot_take(void)
{
    ship_active++;
    atomic_fetch_add(&ship_nactive, 1);
}

static void ship_slot_free(void)
{
    ship_active--;
    atomic_fetch_sub(&ship_nactive, 1);
}

static void ship_gauge(void)
{
    atomic_store(&ship_nwaiting, (long)ship_nheap);
    atomic_store(&metrics.queue_depth,
                 atomic_load(&ship_nqueued) + (long)ship_nheap);
}

static void ship_set_phase(struct job *j, enum job_phase phase)
{
    pthread_mutex_lock(&ship_lock);
    if (j->phase == PHASE_FAILED)
        atomic_fetch_sub(&ship_nfailed, 1);
    if (phase == PHASE_FAILED)
        atomic_fetch_add(&ship_nfailed, 1);
    j->phase = phase;
    timeutil_now_rfc3339(j->changed_at);
    pthread_mutex_unlock(&ship_lock);
}

static void ship_enqueue(struct job *j)
{
    ship_set_phase(j, PHASE_QUEUED);
    list_push(j->kind == JOB_COMPILING ? &ship_low : &ship_queue, j);
    atomic_fetch_add(&ship_nqueued, 1);
    ship_gauge();
}

static struct job *ship_add(enum job_kind kind, const char *name)
{
    struct job *j = calloc(1, sizeof(*j));

    if (j == NULL)
        return NULL;
    j->kind = kind;
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

static void ship_release(struct job *j);

static void ship_free(struct job *j)
{
    ship_release(j);
    free(j->artifact);
    free(j->reason);
    free(j->message);
    free(j);
}

/* Forgets a job that is in no list and has no transfer. */
static void ship_remove(struct job *j)
{
    pthread_mutex_lock(&ship_lock);
    strmap_del(ship_jobs, j->key);
    if (j->phase == PHASE_FAILED)
        atomic_fetch_sub(&ship_nfailed, 1);
    pthread_mutex_unlock(&ship_lock);
    ship_free(j);
}

/* True when ready/ holds another manifest than the one 'j' loaded. */
static bool ship_republished(const struct job *j)
{
    char file[IDENT_NAME_MAX + 16];
    struct stat st;

    snprintf(file, sizeof(file), "ready/%s.json", j->name);
    return fstatat(ship_outfd, file, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
           st.st_ino != j->manifest_ino;
}

/*
 * A result given up on is tried again, with a fresh budget, only once
 * it is published anew; a rescan alone must not restart a retry storm.
 */
static void ship_found_result(const char *name)
{
    struct job *j = ship_find(JOB_RESULT, name);

    if (j == NULL) {
        ship_add(JOB_RESULT, name);
        return;
    }
    if (j->phase != PHASE_FAILED || !ship_republished(j))
        return;
    log_info("result published again, shipping it anew",
             "pipeline=%s version=%lld", j->id, (long long)j->version);
    j->attempts = 0;
    j->hopeless = false;
    ship_enqueue(j);
}

/* A watch event or a scan found manifest 'name'. */
static void ship_found(enum watch_dir dir, const char *name, void *cls)
{
    (void)cls;
    if (dir == WATCH_READY) {
        ship_found_result(name);
        return;
    }
    if (ship_find(JOB_RESULT, name) == NULL &&
        ship_find(JOB_COMPILING, name) == NULL)
        ship_add(JOB_COMPILING, name);
}

static void ship_rescan(const char *why)
{
    int64_t start = timeutil_mono_ms();
    long n = watch_scan(ship_ready, WATCH_READY, ship_found, NULL);

    watch_scan(ship_building, WATCH_BUILDING, ship_found, NULL);
    atomic_fetch_add(&metrics.rescans, 1);
    log_info("rescanned", "why=\"%s\" results=%ld queued=%ld ms=%lld", why, n,
             (long)atomic_load(&ship_nqueued),
             (long long)(timeutil_mono_ms() - start));
}

/* ---- opening what a manifest names ------------------------------------ */

/*
 * Opens the artifact beneath OUT, following no symlink anywhere on the
 * way, so a hostile manifest can name nothing outside the volume.
 */
static int ship_open_artifact(const char *path)
{
    return fsio_open_beneath(ship_outfd, path, O_RDONLY | O_NONBLOCK);
}

/* Reads ready/<name>.json.  Returns 0, -2 when it is gone, or -1. */
static int ship_read_manifest(struct job *j, char **buf, size_t *len)
{
    char file[IDENT_NAME_MAX + 16];
    struct stat st;

    snprintf(file, sizeof(file), "ready/%s.json", j->name);
    /* Stat first: should it be replaced in between, the newer content
     * is read under the older inode, and is shipped once more. */
    if (fstatat(ship_outfd, file, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
        fsio_read_small(ship_outfd, file, MANIFEST_FILE_MAX, buf, len) < 0) {
        int e = errno;

        /* fsio_read_small() says EINVAL for anything but a plain file. */
        ship_set_reason(j, "cannot read manifest: %s",
                        e == EINVAL ? "not a regular file" : strerror(e));
        j->hopeless = e == EINVAL || e == ELOOP || e == EFBIG;
        return e == ENOENT ? -2 : -1;
    }
    j->manifest_ino = st.st_ino;
    return 0;
}

static int ship_load_manifest(struct job *j, struct manifest *m)
{
    char err[256];
    char *buf;
    size_t len;
    int rc;

    rc = ship_read_manifest(j, &buf, &len);
    if (rc < 0)
        return rc;
    rc = manifest_parse(buf, len, m, err, sizeof(err));
    free(buf);
    if (rc < 0) {
        ship_set_reason(j, "invalid manifest: %s", err);
        j->hopeless = true;
        return -1;
    }
    if (strcmp(m->pipeline_id, j->id) != 0 || m->version != j->version) {
        ship_set_reason(j, "invalid manifest: it names %s@%lld", m->pipeline_id,
                        (long long)m->version);
        j->hopeless = true;
        manifest_free(m);
        return -1;
    }
    return 0;
}

static int64_t ship_ts_ms(const struct timespec *ts)
{
    return (int64_t)ts->tv_sec * 1000 + ts->tv_nsec / 1000000;
}

static bool ship_is_racy(const struct stat *st, const struct timespec *now)
{
    int64_t changed = ship_ts_ms(&st->st_mtim);

    if (ship_ts_ms(&st->st_ctim) > changed)
        changed = ship_ts_ms(&st->st_ctim);
    return changed + SHIP_RACY_MS >= ship_ts_ms(now);
}

static int ship_open_checked(struct job *j, const char *artifact)
{
    struct xfer *x = j->x;

    x->fd = ship_open_artifact(artifact);
    if (x->fd < 0) {
        j->hopeless = errno == ELOOP || errno == ENOTDIR;
        ship_set_reason(j, "cannot open artifact '%s': %s", artifact,
                        j->hopeless ? "it is or passes through a symlink"
                                    : strerror(errno));
        return -1;
    }
    if (fstat(x->fd, &x->before) < 0 || !S_ISREG(x->before.st_mode)) {
        ship_set_reason(j, "artifact '%s' is not a regular file", artifact);
        j->hopeless = true;
        return -1;
    }
    return 0;
}

/*
 * Opens and hashes the artifact.  The fstat comes first: whatever
 * changes the file from then on shows when the attempt ends.  Returns
 * 0 or -1 (final).
 */
static int ship_snapshot(struct job *j, const struct manifest *m)
{
    struct timespec now;

    free(j->artifact);
    j->artifact = strdup(m->artifact);
    if (j->artifact == NULL) {
        ship_set_reason(j, "out of memory");
        return -1;
    }
    clock_gettime(CLOCK_REALTIME, &now);
    if (ship_open_checked(j, m->artifact) < 0)
        return -1;
    j->x->racy = ship_is_racy(&j->x->before, &now);
    j->artifact_ino = j->x->before.st_ino;
    j->x->hash = hash_new();
    if (j->x->hash == NULL) {
        ship_set_reason(j, "out of memory");
        return -1;
    }
    return 0;
}

/*
 * Hashes the next slice of the artifact.  Returns 1 once all of it is
 * hashed (j->xxh and j->size set), 0 while more remains, or -1 with
 * the reason set.
 */
static int ship_hash_slice(struct job *j)
{
    struct xfer *x = j->x;
    int64_t end = x->hashed + SHIP_HASH_SLICE;

    while (x->hashed < end) {
        ssize_t n = pread(x->fd, ship_hash_buf, SHIP_HASH_CHUNK, x->hashed);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            ship_set_reason(j, "cannot read '%s': %s", j->artifact,
                            strerror(errno));
            return -1;
        }
        if (n == 0) {
            hash_hex(x->hash, j->xxh);
            j->size = x->hashed;
            return 1;
        }
        hash_update(x->hash, ship_hash_buf, (size_t)n);
        x->hashed += n;
    }
    return 0;
}

static bool ship_same_stat(const struct stat *a, const struct stat *b)
{
    return a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
           a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
           a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
           a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/*
 * True when what was sent may not be what the volume now holds: the
 * file was written to, or another file was renamed over its name.  A
 * file since removed is not changed: what was sent was its last word.
 */
static bool ship_changed(const struct job *j)
{
    const struct xfer *x = j->x;
    char hex[HASH_HEX_LEN];
    struct stat now, path;
    off_t size;

    if (fstat(x->fd, &now) < 0 || !ship_same_stat(&x->before, &now) ||
        now.st_size != j->size)
        return true;
    if (fstatat(ship_outfd, j->artifact, &path, AT_SYMLINK_NOFOLLOW) < 0)
        return errno != ENOENT;
    if (path.st_ino != now.st_ino || path.st_dev != now.st_dev)
        return true;
    if (!x->racy)
        return false;
    return hash_fd(x->fd, hex, &size) < 0 || size != j->size ||
           strcmp(hex, j->xxh) != 0;
}

static void ship_release(struct job *j)
{
    struct xfer *x = j->x;

    if (x == NULL)
        return;
    if (x->easy != NULL) {
        curl_multi_remove_handle(ship_multi, x->easy);
        curl_easy_cleanup(x->easy);
    }
    curl_slist_free_all(x->headers);
    hash_free(x->hash);
    if (x->fd >= 0)
        close(x->fd);
    free(x->body);
    free(x);
    j->x = NULL;
}

/* ---- waiting: a min-heap on due time ---------------------------------- */

static struct job **ship_heap;
static size_t ship_heap_cap;

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
    int64_t cap =
        ship_is_report(j) ? SHIP_REPORT_MAX_DELAY_MS : SHIP_MAX_DELAY_MS;
    int64_t d = (int64_t)ship.retry_delay_ms << (shift < 0 ? 0 : shift);

    if (d > cap)
        d = cap;
    /* Jitter of +-25% keeps a fleet from retrying in step. */
    d = d * 3 / 4 + (d > 1 ? random() % (d / 2 + 1) : 0);
    if (retry_after_s > 0 && retry_after_s * 1000 > d)
        d = retry_after_s * 1000;
    return d < SHIP_RETRY_AFTER_MAX_MS ? d : SHIP_RETRY_AFTER_MAX_MS;
}

static void ship_wait(struct job *j, long retry_after_s)
{
    j->due_ms = timeutil_mono_ms() + ship_delay(j, retry_after_s);
    ship_set_phase(j, PHASE_WAITING);
    if (heap_push(j) < 0)
        ship_enqueue(j);
    ship_gauge();
}

/* The leader must hear why a result will not be shipped: a report of
 * its own, queued until the leader answers. */
static void ship_report_failure(const struct job *j, const char *msg)
{
    struct job *f = ship_find(JOB_FAILURE, j->name);
    char *copy = strdup(msg);

    if (copy == NULL)
        return;
    if (f == NULL)
        f = ship_add(JOB_FAILURE, j->name);
    if (f == NULL) {
        free(copy);
        return;
    }
    free(f->message);
    f->message = copy;
}

static void ship_give_up(struct job *j)
{
    char msg[1200], q[1300];

    snprintf(msg, sizeof(msg), "Failed to upload binary %s: %s", j->name,
             ship_reason(j));
    ship_set_reason(j, "%s", msg);
    ship_set_phase(j, PHASE_FAILED);
    atomic_fetch_add(&metrics.uploads[METRICS_UPLOAD_FAILED], 1);
    log_error("upload failed", "pipeline=%s version=%lld attempts=%d reason=%s",
              j->id, (long long)j->version, j->attempts,
              log_quote(q, sizeof(q), msg));
    if (j->kind == JOB_RESULT)
        ship_report_failure(j, msg);
}

/*
 * Records an acknowledged result.  Returns 1 when it was published
 * again meanwhile (the new manifest is still in ready/ and must be
 * shipped), else 0.
 */
static int ship_acknowledged(struct job *j, int code)
{
    int rc = ledger_record(j->name, j->id, j->version,
                           j->binary ? j->artifact : NULL, j->manifest_ino,
                           j->artifact_ino);

    if (rc < 0)
        log_warn("cannot record upload in the ledger",
                 "pipeline=%s version=%lld error=\"%s\"", j->id,
                 (long long)j->version, strerror(errno));
    if (rc > 0) {
        log_info("result published again during upload, shipping it anew",
                 "pipeline=%s version=%lld", j->id, (long long)j->version);
        return 1;
    }
    log_info(code == 409 ? "result superseded at the leader"
             : j->binary ? "binary shipped"
                         : "result reported",
             "pipeline=%s version=%lld code=%d bytes=%lld attempts=%d ms=%lld",
             j->id, (long long)j->version, code, (long long)j->size,
             j->attempts + 1, (long long)(timeutil_mono_ms() - j->started_ms));
    return 0;
}

static bool ship_done_code(const struct job *j, int code)
{
    /* 409: a newer version is installed; this one has nothing to add. */
    return code == 200 || code == 201 || (code == 409 && j->kind == JOB_RESULT);
}

static void ship_succeeded(struct job *j, int code)
{
    if (j->kind != JOB_RESULT) {
        ship_remove(j);
        return;
    }
    atomic_fetch_add(&metrics.uploads[METRICS_UPLOAD_OK], 1);
    /* The leader has it; the ledger does not know yet. */
    crashpoint("ship-after-ack");
    if (ship_acknowledged(j, code) > 0) {
        j->attempts = 0;
        ship_enqueue(j);
        return;
    }
    ship_remove(j);
}

static void ship_retry(struct job *j, const char *what, long retry_after_s)
{
    char q[1100];

    atomic_fetch_add(&metrics.uploads[METRICS_UPLOAD_RETRY], 1);
    log_warn(what, "pipeline=%s version=%lld attempt=%d reason=%s", j->id,
             (long long)j->version, j->attempts,
             log_quote(q, sizeof(q), ship_reason(j)));
    ship_wait(j, retry_after_s);
}

/* Nothing more will be tried until the result is published again. */
static void ship_final(struct job *j)
{
    char q[1100];

    if (j->kind == JOB_COMPILING) {
        ship_remove(j);
        return;
    }
    if (!ship_is_report(j)) {
        ship_give_up(j);
        return;
    }
    log_error("report refused", "pipeline=%s version=%lld reason=%s", j->id,
              (long long)j->version, log_quote(q, sizeof(q), ship_reason(j)));
    ship_set_phase(j, PHASE_FAILED);
}

/* Decides what follows an attempt that ended with HTTP 'code' (0: no
 * answer).  The job's transfer is already released. */
static void ship_outcome(struct job *j, int code, long retry_after_s)
{
    if (ship_done_code(j, code)) {
        ship_succeeded(j, code);
        return;
    }

    j->attempts++;
    if (ship_retryable(code) &&
        (ship_is_report(j) || j->attempts <= ship.retries)) {
        ship_retry(j, "attempt failed, will retry", retry_after_s);
        return;
    }
    ship_final(j);
}

/*
 * Ends an attempt the leader answered with 'code'.  A binary that
 * changed while it was read is shipped anew whatever the answer, so
 * that the leader ends with what the volume holds; a file that never
 * stops changing spends the retry budget like any failure.
 */
static void ship_settle(struct job *j, int code, long retry_after_s)
{
    bool changed = j->binary && j->kind == JOB_RESULT && j->x != NULL &&
                   j->x->fd >= 0 && (j->x->changed || ship_changed(j));

    ship_release(j);
    if (!changed) {
        ship_outcome(j, code, retry_after_s);
        return;
    }
    atomic_fetch_add(&metrics.uploads[METRICS_UPLOAD_CHANGED], 1);
    log_warn("artifact changed during upload, shipping it again",
             "pipeline=%s version=%lld code=%d", j->id, (long long)j->version,
             code);
    ship_set_reason(j, "artifact '%s' changed during upload", j->artifact);
    ship_outcome(j, 0, 0);
}

/* ---- transfers --------------------------------------------------------- */

static size_t ship_read(char *buf, size_t size, size_t n, void *cls)
{
    struct job *j = cls;
    struct xfer *x = j->x;
    size_t want = size * n;
    ssize_t r;

    /* Never more than was hashed: a file grown since is caught later. */
    if ((int64_t)want > j->size - x->sent)
        want = (size_t)(j->size - x->sent);
    do {
        r = pread(x->fd, buf, want, x->sent);
    } while (r < 0 && errno == EINTR);
    if (r < 0)
        return CURL_READFUNC_ABORT;
    /* Checked before the last byte leaves, so that the leader, which
     * installs only a whole body, never installs a stale file. */
    if (r > 0 && x->sent + r >= j->size) {
        if (ship_changed(j)) {
            x->changed = true;
            return CURL_READFUNC_ABORT;
        }
        /* Its content is verified; from now on its times tell. */
        x->racy = false;
    }
    x->sent += r;
    return (size_t)r;
}

static int ship_seek(void *cls, curl_off_t offset, int origin)
{
    struct job *j = cls;

    if (origin != SEEK_SET)
        return CURL_SEEKFUNC_CANTSEEK;
    j->x->sent = offset;
    return CURL_SEEKFUNC_OK;
}

static int ship_headers(struct job *j, const char *type)
{
    struct xfer *x = j->x;
    char line[4200];

    if (token_header(line + 15, sizeof(line) - 15) == 0) {
        memcpy(line, "Authorization: ", 15);
        x->headers = curl_slist_append(x->headers, line);
    }
    snprintf(line, sizeof(line), "Content-Type: %s", type);
    x->headers = curl_slist_append(x->headers, line);
    if (j->binary && j->kind == JOB_RESULT) {
        snprintf(line, sizeof(line), "X-Content-Xxh128: %s", j->xxh);
        x->headers = curl_slist_append(x->headers, line);
    }
    snprintf(line, sizeof(line), "X-Worker-Id: %ld", ship.worker_id);
    x->headers = curl_slist_append(x->headers, line);
    explicit_bzero(line, sizeof(line));
    return x->headers != NULL ? 0 : -1;
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
    j->x->sink =
        (struct sink){.buf = j->x->response, .size = sizeof(j->x->response)};
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sink_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &j->x->sink);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, j->x->curl_err);
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
    CURL *e;

    snprintf(path, sizeof(path), "/v1/binaries/%s/%lld", j->id,
             (long long)j->version);
    e = j->x->easy = ship_easy(j, path);
    if (e == NULL || ship_headers(j, "application/octet-stream") < 0)
        return -1;
    j->x->sent = 0;
    curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)j->size);
    curl_easy_setopt(e, CURLOPT_READFUNCTION, ship_read);
    curl_easy_setopt(e, CURLOPT_READDATA, j);
    curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, ship_seek);
    curl_easy_setopt(e, CURLOPT_SEEKDATA, j);
    curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, j->x->headers);
    return 0;
}

static int ship_put_status(struct job *j)
{
    char path[IDENT_NAME_MAX + 32];
    CURL *e;

    snprintf(path, sizeof(path), "/v1/status/%s/%lld", j->id,
             (long long)j->version);
    e = j->x->easy = ship_easy(j, path);
    if (e == NULL || ship_headers(j, "application/json") < 0)
        return -1;
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, j->x->body);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, j->x->headers);
    return 0;
}

/* Why the leader refused, from its {"error": ...} body. */
static void ship_http_reason(struct job *j, int code)
{
    json_t *o = json_loads(j->x->response, 0, NULL);
    const char *err = json_string_value(json_object_get(o, "error"));

    ship_set_reason(j, "leader answered %d: %s", code,
                    err ? err : "no reason given");
    json_decref(o);
}

/* curl says 'rc' for job 'j': settle its attempt. */
static void ship_transfer_done(struct job *j, CURLcode rc)
{
    struct xfer *x = j->x;
    curl_off_t retry_after = 0;
    long code = 0;

    ship_slot_free();
    metrics_observe_upload(timeutil_mono_ms() - j->started_ms);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_getinfo(x->easy, CURLINFO_RETRY_AFTER, &retry_after);
        if (code != 200 && code != 201)
            ship_http_reason(j, (int)code);
        else if (j->binary)
            atomic_fetch_add(&metrics.upload_bytes, (uint64_t)j->size);
    } else {
        ship_set_reason(j, "%s",
                        x->curl_err[0] ? x->curl_err : curl_easy_strerror(rc));
    }
    ship_settle(j, (int)code, (long)retry_after);
}

/* ---- starting an attempt ----------------------------------------------- */

static char *ship_report_body(const char *state, const char *message)
{
    json_t *o =
        json_pack("{s:s,s:i,s:s}", "state", state, "worker_id",
                  (int)ship.worker_id, "message", message ? message : "");
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;

    json_decref(o);
    return text;
}

static enum state ship_report_state(const struct job *j)
{
    if (j->kind == JOB_COMPILING)
        return STATE_COMPILING;
    return j->kind == JOB_FAILURE ? STATE_SYSTEM_ERROR : STATE_COMPILE_ERROR;
}

/* The leader ships its own results into its store, through the same
 * verified install as an upload: no HTTP, same answers. */
static int ship_local(struct job *j, const struct manifest *m)
{
    const char *msg = j->kind == JOB_FAILURE ? j->message
                      : m != NULL            ? m->log
                                             : "";
    char err[512];
    int code;

    if (j->kind == JOB_RESULT && j->binary)
        code = store_install_fd(ship.store, j->id, j->version, j->x->fd, j->xxh,
                                ship.worker_id, err, sizeof(err));
    else
        code = store_report(ship.store, j->id, j->version, ship_report_state(j),
                            ship.worker_id, msg ? msg : "", err, sizeof(err));
    if (code != 200 && code != 201)
        ship_set_reason(j, "store answered %d: %s", code, err);
    return code;
}

static bool ship_result_exists(const char *dir, const char *name)
{
    char path[IDENT_NAME_MAX + 16];
    struct stat st;

    snprintf(path, sizeof(path), "%s/%s.json", dir, name);
    return fstatat(ship_outfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static int ship_prepare_report(struct job *j)
{
    if (j->kind == JOB_COMPILING) {
        /* The result overtook the marker: nothing to say any more. */
        if (ship_result_exists("ready", j->name) ||
            ship_result_exists("done", j->name)) {
            ship_remove(j);
            return 1;
        }
        j->x->body = ship_report_body("compiling", "");
    } else {
        j->x->body = ship_report_body("system_error", j->message);
    }
    if (j->x->body == NULL) {
        ship_set_reason(j, "out of memory");
        return -1;
    }
    return 0;
}

/*
 * Prepares job 'j'.  Returns 0 when it is ready to send, 1 when it has
 * nothing left to do (already removed), or -1 for a final failure with
 * its reason set.  On success 'm' may hold the parsed manifest.
 */
static int ship_prepare(struct job *j, struct manifest *m, bool *loaded)
{
    int rc;

    if (j->kind != JOB_RESULT)
        return ship_prepare_report(j);

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
    if (j->binary)
        return ship_snapshot(j, m);
    j->size = 0;
    j->x->body = ship_report_body("compile_error", m->log);
    if (j->x->body == NULL) {
        ship_set_reason(j, "out of memory");
        return -1;
    }
    return 0;
}

static int ship_begin_transfer(struct job *j)
{
    int rc = j->binary && j->kind == JOB_RESULT ? ship_put_binary(j)
                                                : ship_put_status(j);

    if (rc < 0 || curl_multi_add_handle(ship_multi, j->x->easy) != CURLM_OK) {
        ship_set_reason(j, "cannot start transfer");
        return -1;
    }
    if (j->kind == JOB_FAILURE || (j->kind == JOB_RESULT && !j->binary))
        atomic_fetch_add(&metrics.reports, 1);
    return 0;
}

/*
 * The result could not even be read.  A read error may heal, so it
 * spends the retry budget; a manifest that does not parse or names a
 * symlink or a folder will not, and fails at once.  Either way the
 * leader then hears of it like any upload that failed, and a result
 * published again is tried afresh.
 */
static void ship_unpreparable(struct job *j)
{
    if (j->kind != JOB_RESULT) {
        ship_outcome(j, 400, 0);
        return;
    }
    j->attempts++;
    if (!j->hopeless && j->attempts <= ship.retries) {
        ship_retry(j, "cannot prepare upload, will retry", 0);
        return;
    }
    ship_give_up(j);
}

/* Sends a prepared job: to the leader, or into the leader's own store. */
static void ship_send(struct job *j, const struct manifest *m)
{
    if (ship.store != NULL) {
        ship_slot_free();
        ship_settle(j, ship_local(j, m), 0);
        return;
    }
    if (ship_begin_transfer(j) < 0) {
        ship_slot_free();
        ship_release(j);
        ship_outcome(j, 0, 0);
    }
}

/* Hashes a slice of 'j'; sends it once hashed, else it waits its turn. */
static void ship_hash_turn(struct job *j)
{
    int rc = ship_hash_slice(j);

    if (rc == 0) {
        list_push(&ship_hashing, j);
        return;
    }
    if (rc < 0) {
        ship_slot_free();
        ship_release(j);
        ship_unpreparable(j);
        return;
    }
    crashpoint("ship-after-hash");
    ship_send(j, NULL);
}

static void ship_start(struct job *j)
{
    struct manifest m = {0};
    bool loaded = false;
    int rc;

    j->started_ms = timeutil_mono_ms();
    j->x = calloc(1, sizeof(*j->x));
    if (j->x == NULL) {
        ship_wait(j, 0);
        return;
    }
    j->x->fd = -1;
    rc = ship_prepare(j, &m, &loaded);
    if (rc == 1)
        goto out_free;
    ship_set_phase(j, PHASE_ACTIVE);
    if (rc < 0) {
        ship_release(j);
        ship_unpreparable(j);
        goto out_free;
    }

    ship_slot_take();
    /* The first slice at once: most binaries need no second. */
    if (j->kind == JOB_RESULT && j->binary)
        ship_hash_turn(j);
    else
        ship_send(j, loaded ? &m : NULL);

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
        ship_gauge();
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
    if (ship_hashing.head != NULL) {
        ship_hash_turn(list_pop(&ship_hashing));
        more = true;
    }
    /* A transfer just added has bytes to send before the next poll. */
    if (ship_active > 0)
        ship_reap();
    if (ledger_flush() < 0)
        log_warn("cannot make the ledger durable", "error=\"%s\"",
                 strerror(errno));

    if (more)
        return 0;
    if (ship_nheap > 0 && ship_heap[0]->due_ms - now < next)
        next = ship_heap[0]->due_ms - now;
    if (ship_next_reconcile - now < next)
        next = ship_next_reconcile - now;
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
    static const char *const dirs[] = {"artifacts", "ready", "done", "building",
                                       "tmp"};

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
    ship_hash_buf = malloc(SHIP_HASH_CHUNK);
    if (ship_jobs == NULL || ship_multi == NULL || ship_hash_buf == NULL)
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
    if (j->phase == PHASE_ACTIVE && j->x != NULL) {
        log_warn("upload abandoned at shutdown, will ship after restart",
                 "pipeline=%s version=%lld", j->id, (long long)j->version);
        ship_release(j);
    }
}

void shipper_abandon(void)
{
    strmap_each(ship_jobs, ship_abandon_one, NULL);
    ship_hashing.head = ship_hashing.tail = NULL;
    ship_active = 0;
}

/* ---- this worker's own view -------------------------------------------- */

static json_t *ship_job_json(const struct job *j)
{
    const char *state = j->phase == PHASE_FAILED   ? "system_error"
                        : j->kind == JOB_COMPILING ? "compiling"
                                                   : "uploading";

    return json_pack("{s:s,s:I,s:s,s:i,s:n,s:n,s:s,s:s}", "pipeline_id", j->id,
                     "version", (json_int_t)j->version, "state", state,
                     "worker_id", (int)ship.worker_id, "xxh128", "size",
                     "message", ship_reason(j), "updated_at", j->changed_at);
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
    *queued = atomic_load(&ship_nqueued) + atomic_load(&ship_nwaiting);
    *active = atomic_load(&ship_nactive);
    *failed = atomic_load(&ship_nfailed);
}

static void ship_free_one(const char *key, void *value, void *cls)
{
    (void)key;
    (void)cls;
    ship_free(value);
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
    free(ship_hash_buf);
    ship_hash_buf = NULL;
    ship_hashing.head = ship_hashing.tail = NULL;
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
