/* store.c - durable installs and the status table, the leader's truth. */
#include <dirent.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "crashpoint.h"
#include "fsio.h"
#include "ident.h"
#include "log.h"
#include "metrics.h"
#include "store.h"
#include "strmap.h"
#include "textbuf.h"
#include "timeutil.h"

#define STORE_STATUS_MAX (512 * 1024)
/* Writeback is started every this many bytes, overlapping the receipt. */
#define STORE_FLUSH_WINDOW (8 * 1024 * 1024)
/* Kept free beyond an upload's length, for status files and the rest. */
#define STORE_MARGIN_MIN (64 * 1024)
#define STORE_MARGIN_MAX (16 * 1024 * 1024)
/* "<id>@<version>.<xxh128>" and its NUL. */
#define STORE_NAME_MAX (IDENT_NAME_MAX + HASH_HEX_LEN)

struct store_kept {
    int64_t version;
    int64_t size;
    char xxh[HASH_HEX_LEN];
};

struct store_entry {
    char id[IDENT_ID_MAX + 1];
    int64_t version;
    enum state state;
    long worker_id;
    char xxh[HASH_HEX_LEN]; /* of 'version', when state is success */
    int64_t size;
    char *message;
    char updated_at[TIMEUTIL_RFC3339_LEN];
    struct store_kept *kept; /* installed versions, newest first */
    int nkept;
    int uploading; /* uploads of a newer version in flight */
    int64_t uploading_version;
    long uploading_worker;
    char uploading_since[TIMEUTIL_RFC3339_LEN];
    /*
     * The API's JSON text of the entry as recorded, rendered when first
     * listed after a change: a listing then copies text instead of
     * building and serializing a tree per entry.  NULL until rendered.
     */
    char *view;
    size_t view_len;
    size_t merged; /* during a listing: 1 + the extra item shown instead */
};

struct store {
    pthread_mutex_t lock;
    struct store_config cfg;
    int dirfd, binfd, statfd, tmpfd;
    struct store_entry **entries; /* in arrival order */
    size_t count, cap;
    struct strmap *index; /* id -> entry */
    struct strmap *live;  /* temporaries of uploads in flight */
};

struct store_upload {
    struct store *s;
    char id[IDENT_ID_MAX + 1];
    int64_t version;
    int64_t length;
    int64_t received;
    int64_t flushed;
    long worker_id;
    char xxh[HASH_HEX_LEN];
    char tmp[64];
    int fd;
    int64_t started_ms;
    struct hash_state *hash;
    int marked; /* counted in its entry's 'uploading' */
};

static struct store_entry *store_find(struct store *s, const char *id)
{
    return strmap_get(s->index, id);
}

/*
 * A binary's file is named for its content as well as its version:
 * "<id>@<version>.<xxh128>".  Another binary of the same version then
 * never replaces a file that a status names, so a crash between the
 * rename and the status leaves the old status true.
 */
static void store_binary_name(char buf[STORE_NAME_MAX], const char *id,
                              int64_t version, const char *xxh)
{
    snprintf(buf, STORE_NAME_MAX, "%s@%lld.%s", id, (long long)version, xxh);
}

static int store_grow(struct store *s)
{
    size_t cap = s->cap ? s->cap * 2 : 256;
    struct store_entry **p;

    if (s->count + 1 <= s->cap)
        return 0;
    p = realloc(s->entries, cap * sizeof(*p));
    if (p == NULL)
        return -1;
    s->entries = p;
    s->cap = cap;
    return 0;
}

static struct store_entry *store_add(struct store *s, const char *id)
{
    struct store_entry *e;

    if (store_grow(s) < 0)
        return NULL;
    e = calloc(1, sizeof(*e));
    if (e == NULL)
        return NULL;
    snprintf(e->id, sizeof(e->id), "%s", id);
    e->worker_id = -1;
    e->state = STATE_PENDING;
    if (strmap_put(s->index, e->id, e) < 0) {
        free(e);
        return NULL;
    }
    s->entries[s->count++] = e;
    return e;
}

static void store_entry_free(struct store_entry *e)
{
    free(e->message);
    free(e->kept);
    free(e->view);
    free(e);
}

/* The persisted form: the API's fields plus the installed versions. */
static json_t *store_entry_encode(const struct store_entry *e, int internal)
{
    json_t *o = json_object();

    json_object_set_new(o, "pipeline_id", json_string(e->id));
    json_object_set_new(o, "version", json_integer(e->version));
    json_object_set_new(o, "state", json_string(state_name(e->state)));
    json_object_set_new(o, "worker_id",
                        e->worker_id >= 0 ? json_integer(e->worker_id)
                                          : json_null());
    json_object_set_new(o, "xxh128",
                        e->xxh[0] ? json_string(e->xxh) : json_null());
    json_object_set_new(o, "size",
                        e->xxh[0] ? json_integer(e->size) : json_null());
    json_object_set_new(o, "message",
                        json_string(e->message ? e->message : ""));
    json_object_set_new(o, "updated_at", json_string(e->updated_at));
    if (!internal)
        return o;

    json_t *kept = json_array();

    for (int i = 0; i < e->nkept; i++) {
        json_t *k = json_object();

        json_object_set_new(k, "version", json_integer(e->kept[i].version));
        json_object_set_new(k, "xxh128", json_string(e->kept[i].xxh));
        json_object_set_new(k, "size", json_integer(e->kept[i].size));
        json_array_append_new(kept, k);
    }
    json_object_set_new(o, "binaries", kept);
    return o;
}

static int store_persist(struct store *s, const struct store_entry *e)
{
    char name[IDENT_ID_MAX + 8];
    json_t *o = store_entry_encode(e, 1);
    char *text = json_dumps(o, JSON_COMPACT);
    int rc = -1;

    json_decref(o);
    if (text == NULL) {
        errno = ENOMEM;
        return -1;
    }
    snprintf(name, sizeof(name), "%s.json", e->id);
    rc = fsio_write_atomic(s->statfd, name, text, strlen(text), 0644);
    free(text);
    return rc;
}

static void store_set_message(struct store_entry *e, const char *message)
{
    char *copy = strdup(message ? message : "");

    if (copy == NULL)
        return;
    free(e->message);
    e->message = copy;
}

/* ---- loading ---------------------------------------------------------- */

static int store_decode_kept(struct store_entry *e, json_t *arr)
{
    size_t n = json_array_size(arr);

    e->kept = calloc(n ? n : 1, sizeof(*e->kept));
    if (e->kept == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        json_t *k = json_array_get(arr, i);
        const char *x = json_string_value(json_object_get(k, "xxh128"));

        if (x == NULL || !hash_hex_valid(x))
            continue;
        e->kept[e->nkept].version =
            json_integer_value(json_object_get(k, "version"));
        e->kept[e->nkept].size = json_integer_value(json_object_get(k, "size"));
        snprintf(e->kept[e->nkept].xxh, HASH_HEX_LEN, "%s", x);
        e->nkept++;
    }
    return 0;
}

static int store_decode(struct store *s, json_t *o)
{
    const char *id = json_string_value(json_object_get(o, "pipeline_id"));
    const char *st = json_string_value(json_object_get(o, "state"));
    const char *x = json_string_value(json_object_get(o, "xxh128"));
    const char *at = json_string_value(json_object_get(o, "updated_at"));
    json_t *w = json_object_get(o, "worker_id");
    struct store_entry *e;

    if (id == NULL || !ident_valid(id) || st == NULL ||
        state_parse(st) == STATE_INVALID || store_find(s, id) != NULL)
        return -1;
    e = store_add(s, id);
    if (e == NULL)
        return -1;
    e->version = json_integer_value(json_object_get(o, "version"));
    e->state = state_parse(st);
    e->worker_id = json_is_integer(w) ? (long)json_integer_value(w) : -1;
    if (x != NULL && hash_hex_valid(x))
        snprintf(e->xxh, sizeof(e->xxh), "%s", x);
    e->size = json_integer_value(json_object_get(o, "size"));
    store_set_message(e, json_string_value(json_object_get(o, "message")));
    snprintf(e->updated_at, sizeof(e->updated_at), "%s", at ? at : "");
    return store_decode_kept(e, json_object_get(o, "binaries"));
}

static void store_load_one(struct store *s, const char *name)
{
    json_error_t jerr;
    char *buf;
    size_t len;
    json_t *o;

    if (fsio_read_small(s->statfd, name, STORE_STATUS_MAX, &buf, &len) < 0) {
        log_warn("cannot read status", "file=%s error=\"%s\"", name,
                 strerror(errno));
        return;
    }
    o = json_loadb(buf, len, 0, &jerr);
    free(buf);
    if (o == NULL || store_decode(s, o) < 0)
        log_warn("ignoring bad status file", "file=%s", name);
    json_decref(o);
}

/*
 * A directory stream of its own for 'fd': a dup(2) would share the
 * read position, and a stream that another scan left at the end reads
 * nothing.  Returns NULL with errno.
 */
static DIR *store_opendir(int fd)
{
    int own = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *dir;

    if (own < 0)
        return NULL;
    dir = fdopendir(own);
    if (dir == NULL)
        close(own);
    return dir;
}

static int store_load(struct store *s)
{
    DIR *dir = store_opendir(s->statfd);
    struct dirent *de;

    if (dir == NULL)
        return -1;
    while ((de = readdir(dir)) != NULL) {
        size_t n = strlen(de->d_name);

        if (de->d_name[0] == '.')
            continue;
        if (n > 5 && strcmp(de->d_name + n - 5, ".json") == 0)
            store_load_one(s, de->d_name);
    }
    closedir(dir);
    return 0;
}

static int store_kept_index(const struct store_entry *e, int64_t version,
                            const char *xxh)
{
    for (int i = 0; e != NULL && i < e->nkept; i++) {
        if (e->kept[i].version == version && strcmp(e->kept[i].xxh, xxh) == 0)
            return i;
    }
    return -1;
}

/* True when 'name' in binaries/ is one that a status keeps. */
static int store_is_kept(struct store *s, const char *name)
{
    const char *dot = strrchr(name, '.');
    char id[IDENT_ID_MAX + 1];
    int64_t version;

    if (dot == NULL || !hash_hex_valid(dot + 1) ||
        ident_split_name(name, (size_t)(dot - name), id, &version) < 0)
        return 0;
    return store_kept_index(store_find(s, id), version, dot + 1) >= 0;
}

/*
 * Drops the records of binaries that are not on disk as recorded, so
 * that no status ever names a missing file.  Only damage from outside
 * (a restored backup, a hand-deleted file) gets here.
 */
static void store_check_kept(struct store *s, struct store_entry *e)
{
    char name[STORE_NAME_MAX];
    struct stat st;
    int n = 0;

    for (int i = 0; i < e->nkept; i++) {
        const struct store_kept *k = &e->kept[i];

        store_binary_name(name, e->id, k->version, k->xxh);
        if (fstatat(s->binfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISREG(st.st_mode) && st.st_size == k->size) {
            e->kept[n++] = *k;
            continue;
        }
        log_warn("binary missing from the store", "file=%s", name);
    }
    e->nkept = n;
    if (e->state == STATE_SUCCESS &&
        store_kept_index(e, e->version, e->xxh) < 0) {
        e->state = STATE_SYSTEM_ERROR;
        e->xxh[0] = '\0';
        store_set_message(e, "the installed binary is missing from the store");
    }
}

/*
 * A binary renamed into place just before a crash, whose status was
 * never written, is unknown to every reader: remove it.
 */
static void store_remove_orphans(struct store *s)
{
    DIR *dir = store_opendir(s->binfd);
    struct dirent *de;
    char q[600];

    if (dir == NULL)
        return;
    while ((de = readdir(dir)) != NULL) {
        if (de->d_name[0] == '.' &&
            strncmp(de->d_name, FSIO_TMP_PREFIX, strlen(FSIO_TMP_PREFIX)) != 0)
            continue;
        if (store_is_kept(s, de->d_name))
            continue;
        if (unlinkat(s->binfd, de->d_name, 0) == 0)
            log_info("removed unreferenced binary", "file=%s",
                     log_quote(q, sizeof(q), de->d_name));
    }
    closedir(dir);
}

/*
 * After a restart with a smaller --keep-versions: the status forgets the
 * extra binaries first, then store_remove_orphans() removes them.
 */
static void store_trim_kept(struct store *s, struct store_entry *e)
{
    int had = e->nkept;

    if (e->nkept <= s->cfg.keep_versions)
        return;
    e->nkept = (int)s->cfg.keep_versions;
    if (store_persist(s, e) < 0) {
        e->nkept = had;
        log_warn("cannot record status", "pipeline=%s error=\"%s\"", e->id,
                 strerror(errno));
    }
}

static int store_open_dir(int parent, const char *name)
{
    if (mkdirat(parent, name, 0755) < 0 && errno != EEXIST)
        return -1;
    return openat(parent, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

struct store *store_open(const struct store_config *cfg)
{
    struct store *s = calloc(1, sizeof(*s));
    char q[4200];
    int saved;

    if (s == NULL)
        return NULL;
    pthread_mutex_init(&s->lock, NULL);
    s->cfg = *cfg;
    if (s->cfg.keep_versions < 1)
        s->cfg.keep_versions = 1;
    s->dirfd = s->binfd = s->statfd = s->tmpfd = -1;

    if (fsio_mkdirs(cfg->dir, 0755) < 0)
        goto out_close;
    s->dirfd = open(cfg->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->dirfd < 0)
        goto out_close;
    s->binfd = store_open_dir(s->dirfd, "binaries");
    s->statfd = store_open_dir(s->dirfd, "status");
    s->tmpfd = store_open_dir(s->dirfd, "tmp");
    s->index = strmap_new();
    s->live = strmap_new();
    if (s->binfd < 0 || s->statfd < 0 || s->tmpfd < 0 || s->index == NULL ||
        s->live == NULL)
        goto out_close;

    store_clean_temps(s);
    fsio_remove_prefixed(s->statfd, FSIO_TMP_PREFIX);
    if (store_load(s) < 0)
        goto out_close;
    for (size_t i = 0; i < s->count; i++) {
        store_check_kept(s, s->entries[i]);
        store_trim_kept(s, s->entries[i]);
    }
    store_remove_orphans(s);
    log_info("store opened", "dir=%s pipelines=%zu",
             log_quote(q, sizeof(q), cfg->dir), s->count);
    return s;

out_close:
    saved = errno;
    store_close(s);
    errno = saved;
    return NULL;
}

void store_close(struct store *s)
{
    int fds[4];

    if (s == NULL)
        return;
    fds[0] = s->dirfd, fds[1] = s->binfd, fds[2] = s->statfd;
    fds[3] = s->tmpfd;
    for (int i = 0; i < 4; i++) {
        if (fds[i] >= 0)
            close(fds[i]);
    }
    for (size_t i = 0; i < s->count; i++)
        store_entry_free(s->entries[i]);
    free(s->entries);
    strmap_free(s->index);
    strmap_free(s->live);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* Under the lock, so that no upload creates a temporary meanwhile. */
static int store_remove_dead_temps(struct store *s)
{
    size_t plen = strlen(FSIO_TMP_PREFIX);
    DIR *dir = store_opendir(s->tmpfd);
    struct dirent *de;
    int n = 0;

    if (dir == NULL)
        return 0;
    while ((de = readdir(dir)) != NULL) {
        if (strncmp(de->d_name, FSIO_TMP_PREFIX, plen) != 0 ||
            strmap_get(s->live, de->d_name) != NULL)
            continue;
        if (fsio_remove_tree(s->tmpfd, de->d_name) == 0)
            n++;
    }
    closedir(dir);
    return n;
}

int store_clean_temps(struct store *s)
{
    int n;

    pthread_mutex_lock(&s->lock);
    n = store_remove_dead_temps(s);
    pthread_mutex_unlock(&s->lock);
    if (n > 0)
        log_info("removed orphaned temporaries", "count=%d", n);
    return n;
}

/* ---- uploads ---------------------------------------------------------- */

static int store_reply(char *err, size_t errsize, int code, const char *fmt,
                       ...) __attribute__((format(printf, 4, 5)));

static int store_reply(char *err, size_t errsize, int code, const char *fmt,
                       ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errsize, fmt, ap);
    va_end(ap);
    return code;
}

static int store_errno_code(int e)
{
    return e == ENOSPC || e == EDQUOT ? 507 : 500;
}

/*
 * The same bytes of the same version are installed: the current one, or
 * an older one still kept (a worker that lost the answer to its upload
 * and sent it again after a newer version landed is told it is done).
 */
static int store_is_identical(const struct store_entry *e, int64_t version,
                              const char *xxh)
{
    if (e == NULL)
        return 0;
    if (e->version == version)
        return e->state == STATE_SUCCESS && strcmp(e->xxh, xxh) == 0;
    return version < e->version && store_kept_index(e, version, xxh) >= 0;
}

/*
 * Room for 'length' bytes and a margin for the status files: 1/64 of
 * the filesystem, between 64 KiB and 16 MiB, so that a small volume is
 * still usable and a large one never fills to its last block.  Sets
 * *avail to the bytes free.
 */
static int store_space_ok(struct store *s, int64_t length, uint64_t *avail)
{
    struct statvfs vfs;
    uint64_t margin;

    *avail = 0;
    if (fstatvfs(s->tmpfd, &vfs) < 0)
        return 1;
    *avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
    margin = (uint64_t)vfs.f_blocks * vfs.f_frsize / 64;
    if (margin < STORE_MARGIN_MIN)
        margin = STORE_MARGIN_MIN;
    if (margin > STORE_MARGIN_MAX)
        margin = STORE_MARGIN_MAX;
    return *avail >= (uint64_t)length + margin;
}

/* Header checks, under the lock: identical, older, too big, no room. */
static int store_admit(struct store *s, const char *id, int64_t version,
                       int64_t length, const char *xxh, char *err,
                       size_t errsize)
{
    struct store_entry *e = store_find(s, id);
    uint64_t avail;

    if (store_is_identical(e, version, xxh))
        return store_reply(err, errsize, 200, "already installed");
    if (e != NULL && e->version > version)
        return store_reply(err, errsize, 409,
                           "version %lld is older than installed %lld",
                           (long long)version, (long long)e->version);
    if (length > s->cfg.max_binary_bytes)
        return store_reply(
            err, errsize, 413, "binary of %lld bytes exceeds the limit of %lld",
            (long long)length, (long long)s->cfg.max_binary_bytes);
    if (!store_space_ok(s, length, &avail))
        return store_reply(
            err, errsize, 507,
            "not enough space in the store: %lld bytes needed, %llu free",
            (long long)length, (unsigned long long)avail);
    return 0;
}

static void store_mark_uploading(struct store *s, const char *id,
                                 int64_t version, long worker_id, int delta)
{
    struct store_entry *e = store_find(s, id);

    if (e == NULL && delta > 0)
        e = store_add(s, id);
    if (e == NULL)
        return;
    e->uploading += delta;
    if (delta > 0) {
        e->uploading_version = version;
        e->uploading_worker = worker_id;
        timeutil_now_rfc3339(e->uploading_since);
    }
}

/*
 * Under the lock: the temporary is created and registered as live in
 * one step, so that the hourly sweep never removes it under an upload.
 */
static int store_upload_tmpfile(struct store_upload *up)
{
    struct store *s = up->s;
    int saved;

    up->fd = fsio_tmpfile(s->tmpfd, up->tmp, sizeof(up->tmp), 0644);
    if (up->fd < 0) {
        up->tmp[0] = '\0';
        return -1;
    }
    if (strmap_put(s->live, up->tmp, up) == 0)
        return 0;
    saved = errno;
    close(up->fd);
    unlinkat(s->tmpfd, up->tmp, 0);
    up->fd = -1;
    up->tmp[0] = '\0';
    errno = saved;
    return -1;
}

static struct store_upload *store_upload_new(struct store *s, const char *id,
                                             int64_t version, int64_t length,
                                             const char *xxh, long worker_id)
{
    struct store_upload *up = calloc(1, sizeof(*up));

    if (up == NULL)
        return NULL;
    up->s = s;
    up->fd = -1;
    snprintf(up->id, sizeof(up->id), "%s", id);
    snprintf(up->xxh, sizeof(up->xxh), "%s", xxh);
    up->version = version;
    up->length = length;
    up->worker_id = worker_id;
    up->started_ms = timeutil_mono_ms();
    up->hash = hash_new();
    if (up->hash == NULL) {
        free(up);
        return NULL;
    }
    return up;
}

/* Under the lock: admission, the temporary, and the "uploading" mark. */
static int store_upload_start(struct store_upload *up, char *err,
                              size_t errsize)
{
    struct store *s = up->s;
    int code =
        store_admit(s, up->id, up->version, up->length, up->xxh, err, errsize);

    if (code != 0)
        return code;
    if (store_upload_tmpfile(up) < 0)
        return store_reply(err, errsize, store_errno_code(errno),
                           "cannot create temporary: %s", strerror(errno));

    /*
     * Reserve the blocks now, so that a full disk fails before the body
     * rather than in its middle; and under the lock, so that two uploads
     * admitted at once cannot both count the same free space.
     * fallocate(2), unlike posix_fallocate, never falls back to writing
     * zeros where it is not supported.
     */
    if (up->length > 0 && fallocate(up->fd, 0, 0, up->length) < 0 &&
        (errno == ENOSPC || errno == EDQUOT))
        return store_reply(err, errsize, 507,
                           "not enough space in the store for %lld bytes",
                           (long long)up->length);
    store_mark_uploading(s, up->id, up->version, up->worker_id, 1);
    up->marked = 1;
    return 0;
}

int store_upload_begin(struct store *s, const char *id, int64_t version,
                       int64_t length, const char *xxh, long worker_id,
                       struct store_upload **out, char *err, size_t errsize)
{
    struct store_upload *up;
    int code;

    up = store_upload_new(s, id, version, length, xxh, worker_id);
    if (up == NULL)
        return store_reply(err, errsize, 500, "out of memory");
    pthread_mutex_lock(&s->lock);
    code = store_upload_start(up, err, errsize);
    pthread_mutex_unlock(&s->lock);
    if (code != 0) {
        store_upload_abort(up);
        return code;
    }
    *out = up;
    return 0;
}

/*
 * Starts writeback of each window as soon as it is written, without
 * waiting for it: the disk works while the rest of the body arrives, and
 * the final fsync finds little left to do.  Waiting here instead would
 * tie the receipt to the disk's pace window by window, which measured
 * slower; the kernel's dirty-page limits still bound the memory.
 */
static void store_flush_window(struct store_upload *up)
{
    int64_t start = up->flushed;
    int64_t len = up->received - start;

    if (len < STORE_FLUSH_WINDOW)
        return;
    sync_file_range(up->fd, start, len, SYNC_FILE_RANGE_WRITE);
    up->flushed = up->received;
}

int store_upload_write(struct store_upload *up, const void *data, size_t len,
                       char *err, size_t errsize)
{
    if (up->received + (int64_t)len > up->length)
        return store_reply(err, errsize, 422,
                           "body is longer than Content-Length");
    if (fsio_write_all(up->fd, data, len) < 0)
        return store_reply(err, errsize, store_errno_code(errno),
                           "cannot write binary: %s", strerror(errno));
    hash_update(up->hash, data, len);
    up->received += (int64_t)len;
    store_flush_window(up);
    return 0;
}

void store_upload_abort(struct store_upload *up)
{
    struct store *s;

    if (up == NULL)
        return;
    s = up->s;
    if (up->fd >= 0)
        close(up->fd);
    pthread_mutex_lock(&s->lock);
    if (up->tmp[0] != '\0') {
        unlinkat(s->tmpfd, up->tmp, 0);
        strmap_del(s->live, up->tmp);
    }
    if (up->marked)
        store_mark_uploading(s, up->id, up->version, up->worker_id, -1);
    pthread_mutex_unlock(&s->lock);
    hash_free(up->hash);
    free(up);
}

static int store_verify(struct store_upload *up, char *err, size_t errsize)
{
    char hex[HASH_HEX_LEN];
    int rc;

    if (up->received != up->length)
        return store_reply(err, errsize, 422,
                           "received %lld bytes, expected %lld",
                           (long long)up->received, (long long)up->length);
    hash_hex(up->hash, hex);
    if (strcmp(hex, up->xxh) != 0)
        return store_reply(err, errsize, 422,
                           "XXH3-128 mismatch: body is %s, header says %s", hex,
                           up->xxh);
    if (fsync(up->fd) < 0)
        return store_reply(err, errsize, store_errno_code(errno),
                           "cannot fsync binary: %s", strerror(errno));

    /* Some filesystems report a failed write only at close: checked
     * before the rename, not after. */
    rc = close(up->fd);
    up->fd = -1;
    if (rc < 0)
        return store_reply(err, errsize, store_errno_code(errno),
                           "cannot close binary: %s", strerror(errno));
    crashpoint("store-verified");
    return 0;
}

/*
 * The kept list with 'k' added, newest first, any other binary of the
 * same version replaced, cut to the newest keep_versions.  Returns a
 * new array (its length in *n), or NULL.
 */
static struct store_kept *store_kept_with(const struct store *s,
                                          const struct store_entry *e,
                                          const struct store_kept *k, int *n)
{
    struct store_kept *out = malloc((size_t)(e->nkept + 1) * sizeof(*out));
    int m = 0, added = 0;

    if (out == NULL)
        return NULL;
    for (int i = 0; i < e->nkept; i++) {
        if (!added && e->kept[i].version <= k->version) {
            out[m++] = *k;
            added = 1;
        }
        if (e->kept[i].version != k->version)
            out[m++] = e->kept[i];
    }
    if (!added)
        out[m++] = *k;
    *n = m < s->cfg.keep_versions ? m : (int)s->cfg.keep_versions;
    return out;
}

/* Removes the binaries 'old' kept that 'e' keeps no more. */
static void store_unlink_dropped(struct store *s, const struct store_entry *e,
                                 const struct store_kept *old, int nold)
{
    char name[STORE_NAME_MAX];

    for (int i = 0; i < nold; i++) {
        if (store_kept_index(e, old[i].version, old[i].xxh) >= 0)
            continue;
        store_binary_name(name, e->id, old[i].version, old[i].xxh);
        if (unlinkat(s->binfd, name, 0) < 0 && errno != ENOENT)
            log_warn("cannot remove old binary", "file=%s error=\"%s\"", name,
                     strerror(errno));
    }
}

/*
 * Persists 'e', or puts back 'old' (what 'e' was before, still owning
 * its message and kept list) so that memory never claims what the disk
 * does not hold.  Frees whichever state lost.  Returns 0 or -1.
 */
static int store_commit_entry(struct store *s, struct store_entry *e,
                              struct store_entry *old)
{
    int saved;

    if (store_persist(s, e) == 0) {
        crashpoint("store-recorded");
        if (old->kept != e->kept)
            store_unlink_dropped(s, e, old->kept, old->nkept);
        if (old->kept != e->kept)
            free(old->kept);
        free(old->message);
        /* 'old' shared the rendered text, which no longer holds. */
        free(e->view);
        e->view = NULL;
        return 0;
    }
    saved = errno;
    if (old->kept != e->kept)
        free(e->kept);
    free(e->message);
    *e = *old;
    errno = saved;
    return -1;
}

/* Under the lock: the status of an installed binary, made durable. */
static int store_record(struct store *s, struct store_entry *e,
                        const struct store_upload *up, char *err,
                        size_t errsize)
{
    struct store_kept k = {.version = up->version, .size = up->length};
    struct store_entry old = *e;
    int n = 0;

    snprintf(k.xxh, sizeof(k.xxh), "%s", up->xxh);
    e->kept = store_kept_with(s, &old, &k, &n);
    e->message = strdup("");
    if (e->kept == NULL || e->message == NULL) {
        free(e->kept);
        free(e->message);
        *e = old;
        return store_reply(err, errsize, 500, "out of memory");
    }
    e->nkept = n;
    e->version = up->version;
    e->state = STATE_SUCCESS;
    e->worker_id = up->worker_id;
    e->size = up->length;
    snprintf(e->xxh, sizeof(e->xxh), "%s", up->xxh);
    timeutil_now_rfc3339(e->updated_at);
    if (store_commit_entry(s, e, &old) < 0)
        return store_reply(err, errsize, store_errno_code(errno),
                           "cannot record status of '%s': %s", up->id,
                           strerror(errno));
    return 0;
}

/* Under the lock: the rename, then the status, each made durable. */
static int store_install(struct store *s, struct store_upload *up, char *err,
                         size_t errsize)
{
    struct store_entry *e = store_find(s, up->id);
    char name[STORE_NAME_MAX];
    int was_kept, code;

    if (store_is_identical(e, up->version, up->xxh))
        return store_reply(err, errsize, 200, "already installed");
    if (e != NULL && e->version > up->version)
        return store_reply(err, errsize, 409,
                           "version %lld is older than installed %lld",
                           (long long)up->version, (long long)e->version);
    if (e == NULL && (e = store_add(s, up->id)) == NULL)
        return store_reply(err, errsize, 500, "out of memory");

    store_binary_name(name, up->id, up->version, up->xxh);
    was_kept = store_kept_index(e, up->version, up->xxh) >= 0;
    /*
     * Only binaries/ needs its fsync: should tmp/ still list the old name
     * after a crash, the link there is swept at start like any temporary.
     */
    if (renameat(s->tmpfd, up->tmp, s->binfd, name) < 0 ||
        fsio_fsync_dirfd(s->binfd) < 0)
        return store_reply(err, errsize, store_errno_code(errno),
                           "cannot install '%s': %s", name, strerror(errno));
    strmap_del(s->live, up->tmp);
    up->tmp[0] = '\0';
    crashpoint("store-renamed");
    code = store_record(s, e, up, err, errsize);
    /* No status names it: a binary nobody can see must not stay. */
    if (code != 0 && !was_kept)
        unlinkat(s->binfd, name, 0);
    return code != 0 ? code : 201;
}

int store_upload_commit(struct store_upload *up, char *err, size_t errsize)
{
    struct store *s = up->s;
    int code = store_verify(up, err, errsize);

    if (code == 0) {
        pthread_mutex_lock(&s->lock);
        code = store_install(s, up, err, errsize);
        pthread_mutex_unlock(&s->lock);
    }
    if (code == 201) {
        atomic_fetch_add(&metrics.install_bytes, (uint64_t)up->length);
        log_info("binary installed",
                 "pipeline=%s version=%lld bytes=%lld worker=%ld ms=%lld",
                 up->id, (long long)up->version, (long long)up->length,
                 up->worker_id,
                 (long long)(timeutil_mono_ms() - up->started_ms));
    }
    store_upload_abort(up);
    return code;
}

int store_install_fd(struct store *s, const char *id, int64_t version, int fd,
                     const char *xxh, long worker_id, char *err, size_t errsize)
{
    struct store_upload *up;
    struct stat st;
    char *buf;
    off_t off = 0;
    int code;

    if (fstat(fd, &st) < 0)
        return store_reply(err, errsize, 500, "cannot stat: %s",
                           strerror(errno));
    code = store_upload_begin(s, id, version, st.st_size, xxh, worker_id, &up,
                              err, errsize);
    if (code != 0)
        return code;
    buf = malloc(256 * 1024);
    if (buf == NULL) {
        store_upload_abort(up);
        return store_reply(err, errsize, 500, "out of memory");
    }
    for (;;) {
        ssize_t n = pread(fd, buf, 256 * 1024, off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            code = n < 0 ? store_reply(err, errsize, 500, "cannot read: %s",
                                       strerror(errno))
                         : 0;
            break;
        }
        off += n;
        code = store_upload_write(up, buf, (size_t)n, err, errsize);
        if (code != 0)
            break;
    }
    free(buf);
    if (code != 0) {
        store_upload_abort(up);
        return code;
    }
    return store_upload_commit(up, err, errsize);
}

/* ---- reports and queries ---------------------------------------------- */

/* Under the lock: a state without a binary, made durable. */
static int store_report_record(struct store *s, struct store_entry *e,
                               int64_t version, enum state state,
                               long worker_id, const char *message, char *err,
                               size_t errsize)
{
    struct store_entry old = *e;

    e->message = strdup(message ? message : "");
    if (e->message == NULL) {
        *e = old;
        return store_reply(err, errsize, 500, "out of memory");
    }
    e->version = version;
    e->state = state;
    e->worker_id = worker_id;
    e->xxh[0] = '\0';
    e->size = 0;
    timeutil_now_rfc3339(e->updated_at);
    if (store_commit_entry(s, e, &old) < 0)
        return store_reply(err, errsize, store_errno_code(errno),
                           "cannot record status: %s", strerror(errno));
    return 200;
}

int store_report(struct store *s, const char *id, int64_t version,
                 enum state state, long worker_id, const char *message,
                 char *err, size_t errsize)
{
    struct store_entry *e;
    int code = 200;

    pthread_mutex_lock(&s->lock);
    e = store_find(s, id);
    if (e != NULL && e->version > version) {
        code = store_reply(err, errsize, 409,
                           "version %lld is older than recorded %lld",
                           (long long)version, (long long)e->version);
        goto out_unlock;
    }
    if (e != NULL && e->version == version &&
        state_rank(state) < state_rank(e->state))
        goto out_unlock;
    if (e == NULL && (e = store_add(s, id)) == NULL) {
        code = store_reply(err, errsize, 500, "out of memory");
        goto out_unlock;
    }

    code = store_report_record(s, e, version, state, worker_id, message, err,
                               errsize);

out_unlock:
    pthread_mutex_unlock(&s->lock);
    return code;
}

static const struct store_kept *store_pick(const struct store_entry *e,
                                           int64_t version)
{
    for (int i = 0; i < e->nkept; i++) {
        if (version == 0 || e->kept[i].version == version)
            return &e->kept[i];
    }
    return NULL;
}

int store_open_binary(struct store *s, const char *id, int64_t *version,
                      int *fd, int64_t *size, char hex[HASH_HEX_LEN])
{
    const struct store_kept *k = NULL;
    struct store_entry *e;
    char name[STORE_NAME_MAX];
    int code = 404;

    pthread_mutex_lock(&s->lock);
    e = store_find(s, id);
    if (e != NULL)
        k = store_pick(e, *version);
    if (k != NULL) {
        store_binary_name(name, id, k->version, k->xxh);
        /* Opened under the lock: GC cannot remove it in between. */
        *fd = openat(s->binfd, name, O_RDONLY | O_CLOEXEC);
        if (*fd >= 0) {
            *version = k->version;
            *size = k->size;
            memcpy(hex, k->xxh, HASH_HEX_LEN);
            code = 200;
        }
    }
    pthread_mutex_unlock(&s->lock);
    return code;
}

/* Whether an upload in flight is what the API shows for 'e'. */
static int store_shows_upload(const struct store_entry *e)
{
    return e->uploading > 0 && e->uploading_version >= e->version &&
           !(e->uploading_version == e->version && e->state == STATE_SUCCESS);
}

/* Whether the API lists 'e' at all: a state recorded, or an upload. */
static int store_shown(const struct store_entry *e)
{
    return e->updated_at[0] != '\0' || e->uploading > 0;
}

static int64_t store_shown_version(const struct store_entry *e)
{
    return store_shows_upload(e) ? e->uploading_version : e->version;
}

/*
 * The API's view: an upload in flight shows as "uploading", every field
 * of it about that upload: no hash or size until it is installed, and
 * nothing left over from the version before.
 */
static json_t *store_view(const struct store_entry *e)
{
    if (!store_shows_upload(e))
        return store_entry_encode(e, 0);
    return json_pack(
        "{s:s,s:I,s:s,s:o,s:n,s:n,s:s,s:s}", "pipeline_id", e->id, "version",
        (json_int_t)e->uploading_version, "state", "uploading", "worker_id",
        e->uploading_worker >= 0 ? json_integer(e->uploading_worker)
                                 : json_null(),
        "xxh128", "size", "message", "", "updated_at", e->uploading_since);
}

json_t *store_entry_json(struct store *s, const char *id, int64_t *version)
{
    struct store_entry *e;
    json_t *o = NULL;

    pthread_mutex_lock(&s->lock);
    e = store_find(s, id);
    if (e != NULL && store_shown(e)) {
        o = store_view(e);
        if (version != NULL)
            *version = e->version;
    }
    pthread_mutex_unlock(&s->lock);
    return o;
}

/*
 * Appends the API's text of 'e'.  An upload in flight changes from one
 * listing to the next, so that view is rendered each time; the recorded
 * one only after a change.
 */
static void store_append_entry(struct store_entry *e, struct textbuf *out)
{
    json_t *o;
    char *text;

    if (!store_shows_upload(e) && e->view != NULL) {
        textbuf_add(out, e->view, e->view_len);
        return;
    }
    o = store_view(e);
    text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (text == NULL) {
        out->failed = 1;
        return;
    }
    textbuf_puts(out, text);
    if (store_shows_upload(e)) {
        free(text);
        return;
    }
    e->view = text;
    e->view_len = strlen(text);
}

/* Marks each entry that an extra item of a newer version replaces. */
static void store_mark_extra(struct store *s, const struct store_extra *x)
{
    for (size_t i = 0; i < x->count; i++) {
        int64_t version;
        const char *id = x->item(x->cls, i, &version);
        struct store_entry *e = store_find(s, id);

        if (e != NULL && store_shown(e) && store_shown_version(e) < version)
            e->merged = i + 1;
    }
}

/* Appends the extra items of ids that the store does not list. */
static size_t store_append_extra(struct store *s, const struct store_extra *x,
                                 size_t n, struct textbuf *out)
{
    for (size_t i = 0; i < x->count; i++) {
        int64_t version;
        const char *id = x->item(x->cls, i, &version);
        struct store_entry *e = store_find(s, id);

        if (e != NULL && store_shown(e))
            continue;
        if (n++ > 0)
            textbuf_add(out, ",", 1);
        x->append(x->cls, i, out);
    }
    return n;
}

size_t store_list_text(struct store *s, const struct store_extra *extra,
                       struct textbuf *out)
{
    size_t n = 0;

    pthread_mutex_lock(&s->lock);
    if (extra != NULL)
        store_mark_extra(s, extra);
    for (size_t i = 0; i < s->count; i++) {
        struct store_entry *e = s->entries[i];

        if (!store_shown(e))
            continue;
        if (n++ > 0)
            textbuf_add(out, ",", 1);
        if (e->merged > 0)
            extra->append(extra->cls, e->merged - 1, out);
        else
            store_append_entry(e, out);
        e->merged = 0;
    }
    if (extra != NULL)
        n = store_append_extra(s, extra, n, out);
    pthread_mutex_unlock(&s->lock);
    return n;
}

int store_usage(struct store *s, uint64_t *used, uint64_t *avail)
{
    struct statvfs vfs;

    if (fstatvfs(s->dirfd, &vfs) < 0)
        return -1;
    *avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
    *used = (uint64_t)(vfs.f_blocks - vfs.f_bfree) * vfs.f_frsize;
    return 0;
}

size_t store_receiving(struct store *s)
{
    size_t n;

    pthread_mutex_lock(&s->lock);
    n = strmap_count(s->live);
    pthread_mutex_unlock(&s->lock);
    return n;
}

size_t store_count(struct store *s)
{
    size_t n;

    pthread_mutex_lock(&s->lock);
    n = 0;
    for (size_t i = 0; i < s->count; i++)
        n += s->entries[i]->updated_at[0] != '\0';
    pthread_mutex_unlock(&s->lock);
    return n;
}
