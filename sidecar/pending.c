/* pending.c - the leader's list of pipelines still waiting for a result. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsio.h"
#include "health.h"
#include "ident.h"
#include "manifest.h"
#include "pending.h"
#include "textbuf.h"

struct pending_item {
    char id[IDENT_ID_MAX + 1];
    int64_t version;
};

static const char *pending_dir;
static long pending_workers = 1;
static pthread_mutex_t pending_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pending_item *pending_items;
static size_t pending_count;

void pending_init(const char *dir, long workers)
{
    pending_dir = dir;
    pending_workers = workers;
}

/* The version in <dir>/<id>/pipeline.json, or 0 if it has none. */
static int64_t pending_version(int dirfd, const char *id)
{
    char path[IDENT_ID_MAX + 32];
    char err[128];
    int64_t v = 0;
    char *buf;
    size_t len;

    snprintf(path, sizeof(path), "%s/pipeline.json", id);
    if (fsio_read_small_follow(dirfd, path, PIPELINE_FILE_MAX, &buf, &len) < 0)
        return 0;
    if (pipeline_parse(buf, len, &v, err, sizeof(err)) < 0)
        v = 0;
    free(buf);
    return v;
}

static size_t pending_scan(DIR *dir, struct pending_item **out)
{
    struct pending_item *items = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;

    while ((de = readdir(dir)) != NULL) {
        int64_t v;

        if (de->d_name[0] == '.' || !ident_valid(de->d_name))
            continue;
        v = pending_version(dirfd(dir), de->d_name);
        if (v <= 0)
            continue;
        if (n == cap) {
            struct pending_item *p;

            cap = cap ? cap * 2 : 64;
            p = realloc(items, cap * sizeof(*p));
            if (p == NULL)
                break;
            items = p;
        }
        snprintf(items[n].id, sizeof(items[n].id), "%s", de->d_name);
        items[n].version = v;
        n++;
    }
    *out = items;
    return n;
}

void pending_refresh(void)
{
    struct pending_item *items = NULL;
    size_t n = 0;
    DIR *dir;

    if (pending_dir == NULL)
        return;
    dir = opendir(pending_dir);
    if (dir != NULL) {
        n = pending_scan(dir, &items);
        closedir(dir);
    }
    pthread_mutex_lock(&pending_lock);
    free(pending_items);
    pending_items = items;
    pending_count = n;
    pthread_mutex_unlock(&pending_lock);
}

static json_t *pending_json(const struct pending_item *it)
{
    int k = ident_worker(it->id, pending_workers);
    char problem[256], msg[300];

    if (health_worker_problem(k, problem, sizeof(problem)) != NULL)
        snprintf(msg, sizeof(msg), "waiting for worker %d: %s", k, problem);
    else
        snprintf(msg, sizeof(msg), "waiting for worker %d", k);
    return json_pack("{s:s,s:I,s:s,s:i,s:n,s:n,s:s,s:n}", "pipeline_id", it->id,
                     "version", (json_int_t)it->version, "state", "pending",
                     "worker_id", k, "xxh128", "size", "message", msg,
                     "updated_at");
}

/* The pending entry's text; under the store's lock (store_extra). */
static void pending_append(void *cls, size_t i, struct textbuf *out)
{
    const struct pending_item *items = cls;
    json_t *o = pending_json(&items[i]);
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
    const struct pending_item *items = cls;

    *version = items[i].version;
    return items[i].id;
}

/*
 * A copy, so that no lock of this module is held under the store's:
 * a few dozen bytes per pipeline.
 */
void pending_extra(struct store_extra *x)
{
    memset(x, 0, sizeof(*x));
    x->item = pending_item_of;
    x->append = pending_append;
    pthread_mutex_lock(&pending_lock);
    if (pending_count > 0)
        x->cls = malloc(pending_count * sizeof(*pending_items));
    if (x->cls != NULL) {
        memcpy(x->cls, pending_items, pending_count * sizeof(*pending_items));
        x->count = pending_count;
    }
    pthread_mutex_unlock(&pending_lock);
}

void pending_extra_free(struct store_extra *x)
{
    free(x->cls);
    x->cls = NULL;
    x->count = 0;
}

json_t *pending_entry_json(const char *id, int64_t recorded)
{
    json_t *o = NULL;

    pthread_mutex_lock(&pending_lock);
    for (size_t i = 0; i < pending_count; i++) {
        if (pending_items[i].version > recorded &&
            strcmp(pending_items[i].id, id) == 0)
            o = pending_json(&pending_items[i]);
    }
    pthread_mutex_unlock(&pending_lock);
    return o;
}
