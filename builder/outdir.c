/* outdir.c - publishing results, markers and the heartbeat into OUT. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fsio.h"
#include "job.h"
#include "log.h"
#include "outdir.h"

#define OUTDIR_JSON ".json"
#define OUTDIR_LOCK ".builder.lock"

static int outdir_absolute(char *buf, size_t size, const char *path)
{
    char cwd[PATH_MAX];
    int n;

    if (path[0] == '/') {
        n = snprintf(buf, size, "%s", path);
    } else {
        if (getcwd(cwd, sizeof(cwd)) == NULL)
            return -1;
        n = snprintf(buf, size, "%s/%s", cwd, path);
    }
    if (n < 0 || (size_t)n >= size) {
        errno = ENAMETOOLONG;
        return -1;
    }
    while (n > 1 && buf[n - 1] == '/')
        buf[--n] = '\0';
    return 0;
}

static int outdir_subdir(const struct outdir *o, const char *name)
{
    if (mkdirat(o->fd, name, 0755) < 0 && errno != EEXIST)
        return -1;
    return openat(o->fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/*
 * Start-up cleaning kills and wipes whatever a previous builder left, so
 * a second builder on the same volume would destroy the first one's
 * builds.  The lock dies with its process, even by SIGKILL.
 */
static int outdir_lock(struct outdir *o)
{
    int fd = openat(o->fd, OUTDIR_LOCK, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

    if (fd < 0)
        return -1;
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int saved = errno == EWOULDBLOCK ? EBUSY : errno;

        close(fd);
        errno = saved;
        return -1;
    }
    o->lockfd = fd;
    return 0;
}

int outdir_open(struct outdir *o, const char *path)
{
    o->fd = o->tmpfd = o->artifactsfd = o->readyfd = o->buildingfd = -1;
    o->lockfd = -1;
    if (outdir_absolute(o->path, sizeof(o->path), path) < 0)
        return -1;
    snprintf(o->tmp, sizeof(o->tmp), "%s/tmp", o->path);
    if (fsio_mkdirs(o->path, 0755) < 0)
        return -1;
    o->fd = open(o->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (o->fd < 0 || outdir_lock(o) < 0)
        return -1;
    o->tmpfd = outdir_subdir(o, "tmp");
    o->artifactsfd = outdir_subdir(o, "artifacts");
    o->readyfd = outdir_subdir(o, "ready");
    o->buildingfd = outdir_subdir(o, "building");
    if (o->tmpfd < 0 || o->artifactsfd < 0 || o->readyfd < 0 ||
        o->buildingfd < 0)
        return -1;
    return 0;
}

/*
 * Removes every entry of 'dirfd'.  Not fsio_remove_prefixed(fd, ""):
 * that would match "..", and so the parent of the directory.
 */
static int outdir_empty(int dirfd)
{
    struct dirent *de;
    DIR *dir;
    int fd = dup(dirfd), removed = 0;

    if (fd < 0 || (dir = fdopendir(fd)) == NULL) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
    rewinddir(dir);
    while ((de = readdir(dir)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (fsio_remove_tree(dirfd, de->d_name) == 0)
            removed++;
    }
    closedir(dir);
    return removed;
}

void outdir_clean(struct outdir *o)
{
    int killed = job_kill_leftovers(o->tmpfd);
    int tmp, markers, temps;

    tmp = outdir_empty(o->tmpfd);
    markers = outdir_empty(o->buildingfd);
    temps = fsio_remove_prefixed(o->artifactsfd, FSIO_TMP_PREFIX) +
            fsio_remove_prefixed(o->readyfd, FSIO_TMP_PREFIX);
    if (killed + tmp + markers + temps > 0)
        log_info("cleaned up after a previous builder",
                 "killed_groups=%d scratch=%d markers=%d temporaries=%d",
                 killed, tmp, markers, temps);
}

static void outdir_list(int dirfd,
                        void (*fn)(const char *id, int64_t version, void *arg),
                        void *arg)
{
    char id[IDENT_ID_MAX + 1];
    struct dirent *de;
    int64_t version;
    DIR *dir;
    int fd = dup(dirfd);

    if (fd < 0 || (dir = fdopendir(fd)) == NULL) {
        if (fd >= 0)
            close(fd);
        return;
    }
    rewinddir(dir);
    while ((de = readdir(dir)) != NULL) {
        size_t len = strlen(de->d_name);
        size_t sfx = strlen(OUTDIR_JSON);

        if (len <= sfx || strcmp(de->d_name + len - sfx, OUTDIR_JSON) != 0)
            continue;
        if (ident_split_name(de->d_name, len - sfx, id, &version) == 0)
            fn(id, version, arg);
    }
    closedir(dir);
}

void outdir_published(const struct outdir *o,
                      void (*fn)(const char *id, int64_t version, void *arg),
                      void *arg)
{
    /* done/ belongs to the sidecar, which may not have made it yet. */
    int donefd = openat(o->fd, "done", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    outdir_list(o->readyfd, fn, arg);
    if (donefd >= 0) {
        outdir_list(donefd, fn, arg);
        close(donefd);
    }
}

static void outdir_json_name(char *buf, size_t size, const char *id,
                             int64_t version)
{
    char name[IDENT_NAME_MAX];

    ident_format_name(name, id, version);
    snprintf(buf, size, "%s" OUTDIR_JSON, name);
}

/* Reads and parses manifest 'file' in 'dirfd'. */
static int outdir_read_manifest(int dirfd, const char *file, struct manifest *m)
{
    char err[256];
    size_t len;
    char *text;
    int rc;

    if (fsio_read_small(dirfd, file, MANIFEST_FILE_MAX, &text, &len) < 0)
        return -1;
    rc = manifest_parse(text, len, m, err, sizeof(err));
    free(text);
    if (rc < 0)
        errno = EINVAL;
    return rc;
}

int outdir_read_result(const struct outdir *o, const char *id, int64_t version,
                       struct manifest *m)
{
    char file[IDENT_NAME_MAX + 8];
    int donefd, rc;

    outdir_json_name(file, sizeof(file), id, version);
    if (outdir_read_manifest(o->readyfd, file, m) == 0)
        return 0;
    /* Not in ready/: the sidecar has moved it to done/, maybe just now. */
    if (errno != ENOENT)
        return -1;
    donefd = openat(o->fd, "done", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (donefd < 0)
        return -1;
    rc = outdir_read_manifest(donefd, file, m);
    close(donefd);
    return rc;
}

int outdir_mark_building(const struct outdir *o, const char *id,
                         int64_t version, long worker_id,
                         const char *started_at)
{
    char file[IDENT_NAME_MAX + 8];
    json_t *root;
    char *text;
    int rc;

    root = json_pack("{s:s, s:I, s:i, s:s}", "pipeline_id", id, "version",
                     (json_int_t)version, "worker_id", (int)worker_id,
                     "started_at", started_at);
    text = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    if (text == NULL) {
        errno = ENOMEM;
        return -1;
    }
    outdir_json_name(file, sizeof(file), id, version);
    rc = fsio_write_atomic(o->buildingfd, file, text, strlen(text), 0644);
    free(text);
    return rc;
}

void outdir_unmark_building(const struct outdir *o, const char *id,
                            int64_t version)
{
    char file[IDENT_NAME_MAX + 8], quoted[IDENT_NAME_MAX + 16];

    outdir_json_name(file, sizeof(file), id, version);
    if (unlinkat(o->buildingfd, file, 0) < 0 && errno != ENOENT)
        log_warn("cannot remove building marker", "file=%s error=\"%s\"",
                 log_quote(quoted, sizeof(quoted), file), strerror(errno));
}

/* fsync the finished binary itself before its name makes it final. */
static int outdir_sync_file(const char *path)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    int rc, saved;

    if (fd < 0)
        return -1;
    rc = fsync(fd);
    saved = errno;
    if (close(fd) < 0 && rc == 0)
        return -1;
    errno = saved;
    return rc;
}

static int outdir_place_artifact(const struct outdir *o, struct manifest *m,
                                 const char *artifact)
{
    char name[IDENT_NAME_MAX], dir[PATH_MAX];
    const char *base = strrchr(artifact, '/');
    int dirfd, rc, saved;

    if (base == NULL || (size_t)(base - artifact) >= sizeof(dir)) {
        errno = EINVAL;
        return -1;
    }
    memcpy(dir, artifact, (size_t)(base - artifact));
    dir[base - artifact] = '\0';
    ident_format_name(name, m->pipeline_id, m->version);
    if (outdir_sync_file(artifact) < 0)
        return -1;
    dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        return -1;
    rc = fsio_rename_durable(dirfd, base + 1, o->artifactsfd, name);
    saved = errno;
    close(dirfd);
    errno = saved;
    if (rc == 0)
        snprintf(m->artifact, sizeof(m->artifact), "artifacts/%s", name);
    return rc;
}

int outdir_publish(const struct outdir *o, struct manifest *m,
                   const char *artifact)
{
    char file[IDENT_NAME_MAX + 8];
    char *text;
    int rc, saved;

    if (m->state == STATE_SUCCESS && artifact == NULL) {
        errno = EINVAL;
        return -1;
    }
    if (m->state == STATE_SUCCESS && outdir_place_artifact(o, m, artifact) < 0)
        return -1;
    text = manifest_encode(m);
    if (text == NULL)
        return -1;
    outdir_json_name(file, sizeof(file), m->pipeline_id, m->version);
    rc = fsio_write_atomic(o->readyfd, file, text, strlen(text), 0644);
    saved = errno;
    free(text);
    errno = saved;
    return rc;
}

int outdir_heartbeat(const struct outdir *o, long worker_id, int building,
                     int queued, const char *cache, bool stopped)
{
    static const char tmp[] = FSIO_TMP_PREFIX "heartbeat";
    /* Room for the cache's reason escaped, and within what the sidecar
     * reads of it. */
    char line[3072], ts[TIMEUTIL_RFC3339_LEN];
    time_t now = time(NULL);
    int fd, n;

    n = snprintf(line, sizeof(line),
                 "{\"pid\":%ld,\"worker_id\":%ld,\"ts_unix\":%lld,"
                 "\"ts\":\"%s\",\"building\":%d,\"queued\":%d%s%s%s}\n",
                 (long)getpid(), worker_id, (long long)now,
                 timeutil_rfc3339(ts, now), building, queued,
                 stopped ? ",\"stopped\":true" : "", cache ? ",\"cache\":" : "",
                 cache ? cache : "");
    if (n < 0 || (size_t)n >= sizeof(line)) {
        errno = EOVERFLOW;
        return -1;
    }
    fd = openat(o->tmpfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    if (fsio_write_all(fd, line, (size_t)n) < 0) {
        int saved = errno;

        close(fd);
        errno = saved;
        return -1;
    }
    if (close(fd) < 0)
        return -1;
    return renameat(o->tmpfd, tmp, o->fd, "heartbeat");
}
