/* watch.c - turning inotify events into "rescan now". */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "log.h"
#include "watch.h"

/* Entries created, removed or renamed, and files finished or replaced. */
#define WATCH_MASK                                                           \
    (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_CLOSE_WRITE |  \
     IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

enum watch_kind {
    WATCH_PARENT,
    WATCH_ROOT,
    WATCH_PIPELINE,
};

struct watch_entry {
    int wd;
    enum watch_kind kind;
    unsigned gen; /* the rescan that last asked for it */
};

struct watch {
    int fd;
    char root[PATH_MAX];
    char parent[PATH_MAX];
    const char *base; /* the root's last component */
    struct watch_entry *e;
    int n, cap;
    unsigned gen;
    int warned; /* the watch limit was reported */
};

static struct watch_entry *watch_find(struct watch *w, int wd)
{
    for (int i = 0; i < w->n; i++) {
        if (w->e[i].wd == wd)
            return &w->e[i];
    }
    return NULL;
}

static void watch_forget(struct watch *w, int wd)
{
    for (int i = 0; i < w->n; i++) {
        if (w->e[i].wd == wd) {
            w->e[i] = w->e[--w->n];
            return;
        }
    }
}

static void watch_limit(struct watch *w, const char *path, int err)
{
    if (w->warned)
        return;
    w->warned = 1;
    log_warn("cannot watch any more directories; relying on the periodic "
             "rescan",
             "path=\"%s\" error=\"%s\"", path, strerror(err));
}

/*
 * Adds or refreshes the watch on 'path'.  inotify hands back the same
 * wd for the same directory, so one entry can serve several names;
 * the root's kind wins over a pipeline's.  Returns the wd, or -1.
 */
static int watch_add(struct watch *w, const char *path, enum watch_kind kind)
{
    struct watch_entry *e;
    int wd;

    if (kind == WATCH_PIPELINE && w->n >= WATCH_PIPELINES_MAX) {
        watch_limit(w, path, ENOSPC);
        return -1;
    }
    wd = inotify_add_watch(w->fd, path, WATCH_MASK);
    if (wd < 0) {
        if (errno == ENOSPC || errno == ENOMEM)
            watch_limit(w, path, errno);
        return -1;
    }
    e = watch_find(w, wd);
    if (e == NULL) {
        if (w->n == w->cap) {
            int cap = w->cap ? w->cap * 2 : 64;
            struct watch_entry *ne = realloc(w->e, sizeof(*ne) * (size_t)cap);

            if (ne == NULL) {
                inotify_rm_watch(w->fd, wd);
                return -1;
            }
            w->e = ne;
            w->cap = cap;
        }
        e = &w->e[w->n++];
        e->wd = wd;
        e->kind = kind;
    } else if (kind < e->kind) {
        e->kind = kind;
    }
    e->gen = w->gen;
    return wd;
}

struct watch *watch_open(const char *root)
{
    struct watch *w = calloc(1, sizeof(*w));
    char *slash;

    if (w == NULL)
        return NULL;
    w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (w->fd < 0) {
        free(w);
        return NULL;
    }
    snprintf(w->root, sizeof(w->root), "%s", root);
    snprintf(w->parent, sizeof(w->parent), "%s", root);
    slash = strrchr(w->parent, '/');
    if (slash == w->parent)
        slash[1] = '\0';
    else if (slash != NULL)
        *slash = '\0';
    w->base = strrchr(w->root, '/') ? strrchr(w->root, '/') + 1 : w->root;
    watch_begin(w);
    return w;
}

void watch_close(struct watch *w)
{
    if (w == NULL)
        return;
    close(w->fd);
    free(w->e);
    free(w);
}

int watch_fd(const struct watch *w)
{
    return w->fd;
}

void watch_begin(struct watch *w)
{
    w->gen++;
    /* Both re-resolved each time: a swapped symlink leads elsewhere now. */
    watch_add(w, w->parent, WATCH_PARENT);
    watch_add(w, w->root, WATCH_ROOT);
}

void watch_pipeline(struct watch *w, const char *name)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/%s", w->root, name);
    watch_add(w, path, WATCH_PIPELINE);
}

void watch_end(struct watch *w)
{
    for (int i = 0; i < w->n;) {
        if (w->e[i].gen == w->gen) {
            i++;
            continue;
        }
        inotify_rm_watch(w->fd, w->e[i].wd);
        w->e[i] = w->e[--w->n];
    }
    if (w->n < WATCH_PIPELINES_MAX / 2)
        w->warned = 0;
}

/* Whether one event calls for a rescan. */
static int watch_event(struct watch *w, const struct inotify_event *ev)
{
    struct watch_entry *e;

    if (ev->mask & IN_Q_OVERFLOW)
        return 1;
    e = watch_find(w, ev->wd);
    if (ev->mask & IN_IGNORED) {
        int gone = e != NULL && e->kind != WATCH_PARENT;

        /* The directory is gone, or was swapped away from under us. */
        watch_forget(w, ev->wd);
        return gone;
    }
    if (e == NULL)
        return 0;
    switch (e->kind) {
    case WATCH_PARENT:
        return ev->len > 0 && strcmp(ev->name, w->base) == 0;
    case WATCH_ROOT:
        return 1;
    case WATCH_PIPELINE:
        return (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) ||
               (ev->len > 0 && strcmp(ev->name, "pipeline.json") == 0);
    }
    return 0;
}

int watch_read(struct watch *w)
{
    char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
    int rescan = 0;

    for (;;) {
        ssize_t n = read(w->fd, buf, sizeof(buf));

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const void *)p;

            rescan |= watch_event(w, ev);
            p += sizeof(*ev) + ev->len;
        }
    }
    return rescan;
}
