/* pipewatch.c - turning inotify events into "rescan now". */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "log.h"
#include "pipewatch.h"

/* Entries created, removed or renamed, and files finished or replaced. */
#define PIPEWATCH_MASK                                                         \
    (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_CLOSE_WRITE |    \
     IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

enum pipewatch_kind {
    PIPEWATCH_PARENT,
    PIPEWATCH_ROOT,
    PIPEWATCH_PIPELINE,
};

struct pipewatch_entry {
    int wd;
    enum pipewatch_kind kind;
    unsigned gen; /* the rescan that last asked for it */
};

struct pipewatch {
    int fd;
    char root[PATH_MAX];
    char parent[PATH_MAX];
    const char *base; /* the root's last component */
    struct pipewatch_entry *e;
    int n, cap;
    unsigned gen;
    int warned; /* the watch limit was reported */
    int missed; /* a watch could not be added in this rescan */
};

static struct pipewatch_entry *pipewatch_find(struct pipewatch *w, int wd)
{
    for (int i = 0; i < w->n; i++) {
        if (w->e[i].wd == wd)
            return &w->e[i];
    }
    return NULL;
}

static void pipewatch_forget(struct pipewatch *w, int wd)
{
    for (int i = 0; i < w->n; i++) {
        if (w->e[i].wd == wd) {
            w->e[i] = w->e[--w->n];
            return;
        }
    }
}

static void pipewatch_limit(struct pipewatch *w, const char *path, int err)
{
    char quoted[PATH_MAX + 8];

    w->missed = 1;
    if (w->warned)
        return;
    w->warned = 1;
    log_warn("inotify watch limit reached; relying on rescans",
             "path=%s error=\"%s\"", log_quote(quoted, sizeof(quoted), path),
             strerror(err));
}

/*
 * Adds or refreshes the watch on 'path'.  inotify hands back the same
 * wd for the same directory, so one entry can serve several names;
 * the root's kind wins over a pipeline's.  Returns the wd, or -1.
 */
static int pipewatch_add(struct pipewatch *w, const char *path,
                         enum pipewatch_kind kind)
{
    struct pipewatch_entry *e;
    int wd;

    if (kind == PIPEWATCH_PIPELINE && w->n >= PIPEWATCH_PIPELINES_MAX) {
        pipewatch_limit(w, path, ENOSPC);
        return -1;
    }
    wd = inotify_add_watch(w->fd, path, PIPEWATCH_MASK);
    if (wd < 0) {
        if (errno == ENOSPC || errno == ENOMEM)
            pipewatch_limit(w, path, errno);
        return -1;
    }
    e = pipewatch_find(w, wd);
    if (e == NULL) {
        if (w->n == w->cap) {
            int cap = w->cap ? w->cap * 2 : 64;
            struct pipewatch_entry *ne =
                realloc(w->e, sizeof(*ne) * (size_t)cap);

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

struct pipewatch *pipewatch_open(const char *root)
{
    struct pipewatch *w = calloc(1, sizeof(*w));
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
    pipewatch_begin(w);
    return w;
}

void pipewatch_close(struct pipewatch *w)
{
    if (w == NULL)
        return;
    close(w->fd);
    free(w->e);
    free(w);
}

int pipewatch_fd(const struct pipewatch *w)
{
    return w->fd;
}

void pipewatch_begin(struct pipewatch *w)
{
    w->gen++;
    w->missed = 0;
    /* Both re-resolved each time: a swapped symlink leads elsewhere now. */
    pipewatch_add(w, w->parent, PIPEWATCH_PARENT);
    pipewatch_add(w, w->root, PIPEWATCH_ROOT);
}

void pipewatch_pipeline(struct pipewatch *w, const char *name)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/%s", w->root, name);
    pipewatch_add(w, path, PIPEWATCH_PIPELINE);
}

void pipewatch_end(struct pipewatch *w)
{
    for (int i = 0; i < w->n;) {
        if (w->e[i].gen == w->gen) {
            i++;
            continue;
        }
        inotify_rm_watch(w->fd, w->e[i].wd);
        w->e[i] = w->e[--w->n];
    }
    /* Warned again only if the limit is hit anew after a full rescan. */
    if (!w->missed)
        w->warned = 0;
}

/* Whether one event calls for a rescan. */
static int pipewatch_event(struct pipewatch *w, const struct inotify_event *ev)
{
    struct pipewatch_entry *e;

    if (ev->mask & IN_Q_OVERFLOW)
        return 1;
    e = pipewatch_find(w, ev->wd);
    if (ev->mask & IN_IGNORED) {
        int gone = e != NULL && e->kind != PIPEWATCH_PARENT;

        /* The directory is gone, or was swapped away from under us. */
        pipewatch_forget(w, ev->wd);
        return gone;
    }
    if (e == NULL)
        return 0;
    switch (e->kind) {
    case PIPEWATCH_PARENT:
        return ev->len > 0 && strcmp(ev->name, w->base) == 0;
    case PIPEWATCH_ROOT:
        return 1;
    case PIPEWATCH_PIPELINE:
        return (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) ||
               (ev->len > 0 && strcmp(ev->name, "pipeline.json") == 0);
    }
    return 0;
}

int pipewatch_read(struct pipewatch *w)
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

            rescan |= pipewatch_event(w, ev);
            p += sizeof(*ev) + ev->len;
        }
    }
    return rescan;
}
