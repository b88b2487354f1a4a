/* ledger.c - acknowledged results, and the clean-up of their artifacts. */
#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsio.h"
#include "ident.h"
#include "ledger.h"
#include "log.h"
#include "strmap.h"
#include "watch.h"

/*
 * Folders are named through the volume on every use, never held open:
 * a ready/ or done/ removed and made again is then simply the new one.
 */
static int ledger_outfd = -1;
static long ledger_keep;
static struct strmap *ledger_newest; /* id -> newest version, boxed */

/* Acknowledged artifacts still in the volume: a ring, oldest first. */
struct ledger_kept {
    char *path;
    ino_t ino; /* 0: whatever the name holds */
};

static struct ledger_kept *ledger_kept;
static size_t ledger_head, ledger_nkept, ledger_cap;
static struct strmap *ledger_kept_set; /* the ring's paths, for lookup */
static char ledger_present;            /* the set's one value */
/* Moves into done/ not yet made durable by ledger_flush(). */
static bool ledger_dirty;

static void ledger_forget_done(const char *id, int64_t version)
{
    char name[IDENT_NAME_MAX], path[IDENT_NAME_MAX + 16];

    ident_format_name(name, id, version);
    snprintf(path, sizeof(path), "done/%s.json", name);
    unlinkat(ledger_outfd, path, 0);
}

/* Notes 'version' as acknowledged; drops the older entry it replaces. */
static int ledger_note(const char *id, int64_t version)
{
    int64_t *newest = strmap_get(ledger_newest, id);

    if (newest == NULL) {
        newest = malloc(sizeof(*newest));
        if (newest == NULL || strmap_put(ledger_newest, id, newest) < 0) {
            free(newest);
            return -1;
        }
        *newest = version;
        return 0;
    }
    if (*newest == version)
        return 0;
    ledger_forget_done(id, *newest < version ? *newest : version);
    if (*newest < version)
        *newest = version;
    return 0;
}

/* Removes an acknowledged artifact, unless its name now holds a newer
 * file: that one belongs to a result not yet shipped. */
static void ledger_remove_artifact(const struct ledger_kept *k)
{
    struct stat st;

    if (fstatat(ledger_outfd, k->path, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
        (k->ino != 0 && st.st_ino != k->ino))
        return;
    if (unlinkat(ledger_outfd, k->path, 0) == 0)
        log_debug("artifact removed", "artifact=%s", k->path);
}

static void ledger_trim(void)
{
    while (ledger_nkept > (size_t)ledger_keep) {
        struct ledger_kept *k = &ledger_kept[ledger_head];

        ledger_remove_artifact(k);
        strmap_del(ledger_kept_set, k->path);
        free(k->path);
        ledger_head = (ledger_head + 1) % ledger_cap;
        ledger_nkept--;
    }
}

/* Doubles the ring, unrolling it so that the oldest entry comes first. */
static int ledger_grow(void)
{
    size_t cap = ledger_cap ? ledger_cap * 2 : 16;
    struct ledger_kept *p = malloc(cap * sizeof(*p));

    if (p == NULL)
        return -1;
    for (size_t i = 0; i < ledger_nkept; i++)
        p[i] = ledger_kept[(ledger_head + i) % ledger_cap];
    free(ledger_kept);
    ledger_kept = p;
    ledger_cap = cap;
    ledger_head = 0;
    return 0;
}

static int ledger_keep_artifact(const char *path, ino_t ino)
{
    struct ledger_kept *k;

    /* Shipped again (a record lost, or answered 200): kept once. */
    if (strmap_get(ledger_kept_set, path) != NULL)
        return 0;
    if (ledger_nkept == ledger_cap && ledger_grow() < 0)
        return -1;
    k = &ledger_kept[(ledger_head + ledger_nkept) % ledger_cap];
    k->path = strdup(path);
    if (k->path == NULL ||
        strmap_put(ledger_kept_set, path, &ledger_present) < 0) {
        free(k->path);
        return -1;
    }
    k->ino = ino;
    ledger_nkept++;
    return 0;
}

struct ledger_seen {
    char name[IDENT_NAME_MAX];
    struct timespec mtime;
};

static int ledger_by_mtime(const void *a, const void *b)
{
    const struct ledger_seen *x = a, *y = b;

    if (x->mtime.tv_sec != y->mtime.tv_sec)
        return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
    if (x->mtime.tv_nsec != y->mtime.tv_nsec)
        return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
    return 0;
}

/* The artifacts of acknowledged results, oldest acknowledgement first. */
static void ledger_load_artifacts(struct ledger_seen *seen, size_t n)
{
    char path[IDENT_NAME_MAX + 16];
    struct stat st;

    if (n > 1)
        qsort(seen, n, sizeof(*seen), ledger_by_mtime);
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "artifacts/%s", seen[i].name);
        if (fstatat(ledger_outfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0)
            ledger_keep_artifact(path, st.st_ino);
    }
}

static size_t ledger_scan(DIR *dir, struct ledger_seen **out)
{
    struct ledger_seen *seen = NULL;
    char id[IDENT_ID_MAX + 1];
    size_t n = 0, cap = 0;
    struct dirent *de;
    int64_t version;
    struct stat st;

    while ((de = readdir(dir)) != NULL) {
        char name[IDENT_NAME_MAX];

        if (watch_parse_name(de->d_name, name, id, &version) < 0 ||
            fstatat(dirfd(dir), de->d_name, &st, 0) < 0)
            continue;
        ledger_note(id, version);
        if (n == cap) {
            struct ledger_seen *p;

            cap = cap ? cap * 2 : 64;
            p = realloc(seen, cap * sizeof(*p));
            if (p == NULL)
                break;
            seen = p;
        }
        snprintf(seen[n].name, sizeof(seen[n].name), "%s", name);
        seen[n].mtime = st.st_mtim;
        n++;
    }
    *out = seen;
    return n;
}

int ledger_open(int outfd, long keep_uploaded)
{
    struct ledger_seen *seen = NULL;
    int fd;
    DIR *dir;
    size_t n;

    ledger_outfd = outfd;
    ledger_keep = keep_uploaded;
    ledger_newest = strmap_new();
    ledger_kept_set = strmap_new();
    if (ledger_newest == NULL || ledger_kept_set == NULL)
        return -1;

    fd = openat(outfd, "done", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    dir = fd >= 0 ? fdopendir(fd) : NULL;
    if (dir == NULL) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    n = ledger_scan(dir, &seen);
    closedir(dir);
    ledger_load_artifacts(seen, n);
    free(seen);
    ledger_trim();
    return 0;
}

static bool ledger_holds(const char *path, ino_t ino)
{
    struct stat st;

    return fstatat(ledger_outfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
           st.st_ino == ino;
}

/*
 * Moves the manifest to done/ if it is still the one shipped.  A newer
 * one renamed into ready/ between the check and the move is moved back
 * (an event the watch sees), so it is never taken as acknowledged.
 */
static int ledger_move(const char *file, ino_t ino)
{
    char ready[IDENT_NAME_MAX + 16], done[IDENT_NAME_MAX + 16];
    int fd = ledger_outfd;

    snprintf(ready, sizeof(ready), "ready/%s", file);
    snprintf(done, sizeof(done), "done/%s", file);
    if (!ledger_holds(ready, ino))
        return 1;
    /* A done/ removed meanwhile is made again, rather than every result
     * shipped again for want of it. */
    if (renameat(fd, ready, fd, done) < 0 &&
        (errno != ENOENT || mkdirat(fd, "done", 0755) < 0 ||
         renameat(fd, ready, fd, done) < 0))
        return -1;
    ledger_dirty = true;
    if (ledger_holds(done, ino))
        return 0;
    if (renameat2(fd, done, fd, ready, RENAME_NOREPLACE) < 0 && errno != EEXIST)
        log_warn("cannot move manifest back to ready/", "file=%s error=\"%s\"",
                 file, strerror(errno));
    return 1;
}

int ledger_record(const char *name, const char *id, int64_t version,
                  const char *artifact, ino_t manifest_ino, ino_t artifact_ino)
{
    char file[IDENT_NAME_MAX + 8];
    int rc;

    snprintf(file, sizeof(file), "%s.json", name);
    rc = ledger_move(file, manifest_ino);
    if (rc != 0)
        return rc;
    ledger_note(id, version);
    if (artifact != NULL)
        ledger_keep_artifact(artifact, artifact_ino);
    return 0;
}

static int ledger_fsync(const char *dir)
{
    return fsio_fsync_dirat(ledger_outfd, dir);
}

int ledger_flush(void)
{
    int rc = 0;

    /* A failed fsync leaves the flag set, so the next flush tries again
     * and nothing is trimmed on the strength of an unsynced record. */
    if (ledger_dirty) {
        if (ledger_fsync("done") < 0 || ledger_fsync("ready") < 0)
            rc = -1;
        else
            ledger_dirty = false;
    }
    /* Only once its record is durable may an artifact go: a crash must
     * not leave a manifest in ready/ whose binary is gone. */
    if (rc == 0)
        ledger_trim();
    return rc;
}

static void ledger_free_value(const char *key, void *value, void *cls)
{
    (void)key;
    (void)cls;
    free(value);
}

void ledger_close(void)
{
    ledger_flush();
    if (ledger_newest != NULL)
        strmap_each(ledger_newest, ledger_free_value, NULL);
    strmap_free(ledger_newest);
    strmap_free(ledger_kept_set);
    ledger_kept_set = NULL;
    ledger_newest = NULL;
    for (size_t i = 0; i < ledger_nkept; i++)
        free(ledger_kept[(ledger_head + i) % ledger_cap].path);
    free(ledger_kept);
    ledger_kept = NULL;
    ledger_nkept = ledger_head = ledger_cap = 0;
    ledger_outfd = -1;
}
