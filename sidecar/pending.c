/* pending.c - the leader's list of pipelines still waiting for a result. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fsio.h"
#include "health.h"
#include "ident.h"
#include "manifest.h"
#include "pending.h"
#include "textbuf.h"
#include "timeutil.h"

struct pending_item {
    char id[IDENT_ID_MAX + 1];
    int64_t version; /* 0 when pipeline.json names none */
    time_t since;    /* pipeline.json's mtime: when it appeared */
    char *bad;       /* why pipeline.json is unusable, or NULL; owned */
};

/*
 * One scan of the directory, never changed once made.  A listing holds
 * a reference instead of copying it, so a refresh meanwhile frees it
 * only when the listing is done.
 */
struct pending_snap {
    int refs; /* under pending_lock */
    size_t count;
    struct pending_item *items;
};

static const char *pending_dir;
static long pending_workers = 1;
static pthread_mutex_t pending_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pending_snap *pending_now;

void pending_init(const char *dir, long workers)
{
    pending_dir = dir;
    pending_workers = workers;
}

/*
 * Reads <dir>/<id>/pipeline.json into 'it': its version and mtime, or
 * the reason it names no version.
 */
static void pending_read(int dirfd, const char *id, struct pending_item *it)
{
    char path[IDENT_ID_MAX + 32], err[160];
    struct stat st;
    char *buf;
    size_t len;

    memset(it, 0, sizeof(*it));
    snprintf(it->id, sizeof(it->id), "%s", id);
    snprintf(path, sizeof(path), "%s/pipeline.json", id);
    if (fstatat(dirfd, path, &st, 0) == 0)
        it->since = st.st_mtime;
    if (fsio_read_small_follow(dirfd, path, PIPELINE_FILE_MAX, &buf, &len) <
        0) {
        if (asprintf(&it->bad, "cannot read pipeline.json: %s",
                     strerror(errno)) < 0)
            it->bad = NULL;
        return;
    }
    if (manifest_parse_pipeline(buf, len, &it->version, err, sizeof(err)) < 0) {
        it->version = 0;
        if (asprintf(&it->bad, "invalid pipeline.json: %s", err) < 0)
            it->bad = NULL;
    }
    free(buf);
}

/* Drops a reference to 'snap'; the last one frees it.  Under the lock. */
static void pending_drop(struct pending_snap *snap)
{
    if (snap == NULL || --snap->refs > 0)
        return;
    for (size_t i = 0; i < snap->count; i++)
        free(snap->items[i].bad);
    free(snap->items);
    free(snap);
}

static size_t pending_scan(DIR *dir, struct pending_item **out)
{
    struct pending_item *items = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;

    while ((de = readdir(dir)) != NULL) {
        if (de->d_name[0] == '.' || !ident_valid(de->d_name))
            continue;
        if (n == cap) {
            struct pending_item *p;

            cap = cap ? cap * 2 : 64;
            p = realloc(items, cap * sizeof(*p));
            if (p == NULL)
                break;
            items = p;
        }
        pending_read(dirfd(dir), de->d_name, &items[n]);
        n++;
    }
    *out = items;
    return n;
}

void pending_refresh(void)
{
    struct pending_snap *snap;
    DIR *dir;

    if (pending_dir == NULL)
        return;
    snap = calloc(1, sizeof(*snap));
    if (snap == NULL)
        return;
    snap->refs = 1;
    dir = opendir(pending_dir);
    if (dir != NULL) {
        snap->count = pending_scan(dir, &snap->items);
        closedir(dir);
    }

    pthread_mutex_lock(&pending_lock);
    pending_drop(pending_now);
    pending_now = snap;
    pthread_mutex_unlock(&pending_lock);
}

/*
 * A pipeline no worker has reported: "pending" while its worker is to
 * build it, or "compile_error" at version 0 when its pipeline.json names
 * no version, since no worker ever will.
 */
static json_t *pending_json(const struct pending_item *it)
{
    int k = ident_worker(it->id, pending_workers);
    char problem[256], msg[300], since[TIMEUTIL_RFC3339_LEN];

    if (it->bad != NULL)
        snprintf(msg, sizeof(msg), "%s", it->bad);
    else if (health_worker_problem(k, problem, sizeof(problem)) != NULL)
        snprintf(msg, sizeof(msg), "waiting for worker %d: %s", k, problem);
    else
        snprintf(msg, sizeof(msg), "waiting for worker %d", k);
    timeutil_rfc3339(since, it->since);
    return json_pack("{s:s,s:I,s:s,s:i,s:n,s:n,s:s,s:s}", "pipeline_id", it->id,
                     "version", (json_int_t)it->version, "state",
                     it->bad != NULL ? "compile_error" : "pending", "worker_id",
                     k, "xxh128", "size", "message", msg, "updated_at", since);
}

/* The pending entry's text; under the store's lock (store_extra). */
static void pending_append(void *cls, size_t i, struct textbuf *out)
{
    const struct pending_snap *snap = cls;
    json_t *o = pending_json(&snap->items[i]);
    char *text = json_dumps(o, JSON_COMPACT);

    json_decref(o);
    if (text == NULL) {
        out->failed = 1;
        return;
    }
    textbuf_puts(out, text);
    free(text);
}

static const char *pending_item_of(void *cls, size_t i, int64_t *version)
{
    const struct pending_snap *snap = cls;

    *version = snap->items[i].version;
    return snap->items[i].id;
}

/*
 * A reference to the current scan, so that no lock of this module is
 * held under the store's while the listing reads it.
 */
void pending_extra(struct store_extra *x)
{
    struct pending_snap *snap;

    memset(x, 0, sizeof(*x));
    x->item = pending_item_of;
    x->append = pending_append;
    pthread_mutex_lock(&pending_lock);
    snap = pending_now;
    if (snap != NULL) {
        snap->refs++;
        x->cls = snap;
        x->count = snap->count;
    }
    pthread_mutex_unlock(&pending_lock);
}

void pending_extra_free(struct store_extra *x)
{
    pthread_mutex_lock(&pending_lock);
    pending_drop(x->cls);
    pthread_mutex_unlock(&pending_lock);
    x->cls = NULL;
    x->count = 0;
}

json_t *pending_entry_json(const char *id, int64_t recorded)
{
    json_t *o = NULL;

    pthread_mutex_lock(&pending_lock);
    /* A bad one (version 0) shows only where nothing is recorded. */
    for (size_t i = 0; pending_now != NULL && i < pending_now->count; i++) {
        const struct pending_item *it = &pending_now->items[i];

        if ((it->version > recorded || (it->version == 0 && recorded == 0)) &&
            strcmp(it->id, id) == 0)
            o = pending_json(it);
    }
    pthread_mutex_unlock(&pending_lock);
    return o;
}
