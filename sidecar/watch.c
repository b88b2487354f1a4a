/* watch.c - which manifests have arrived, by inotify and by scanning. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "log.h"
#include "watch.h"

/*
 * Only a rename into the folder publishes a manifest; a file written in
 * place could be seen half-written, so IN_CLOSE_WRITE is not watched.
 * IN_CREATE is not either: renames are the contract.
 */
#define WATCH_MASK (IN_MOVED_TO | IN_ONLYDIR | IN_DONT_FOLLOW)

static int watch_ifd = -1;
static int watch_wd[2] = {-1, -1};
static char watch_path[2][4096];

int watch_parse_name(const char *file, char *name, char *id, int64_t *version)
{
    size_t len = strlen(file);

    if (file[0] == '.' || len <= 5 || len - 5 >= IDENT_NAME_MAX ||
        strcmp(file + len - 5, ".json") != 0)
        return -1;
    if (ident_split_name(file, len - 5, id, version) < 0)
        return -1;
    memcpy(name, file, len - 5);
    name[len - 5] = '\0';
    return 0;
}

int watch_open(const char *ready, const char *building)
{
    snprintf(watch_path[WATCH_READY], sizeof(watch_path[0]), "%s", ready);
    snprintf(watch_path[WATCH_BUILDING], sizeof(watch_path[0]), "%s", building);
    watch_ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (watch_ifd < 0)
        return -1;
    watch_wd[WATCH_READY] = inotify_add_watch(watch_ifd, ready, WATCH_MASK);
    watch_wd[WATCH_BUILDING] =
        inotify_add_watch(watch_ifd, building, WATCH_MASK);
    if (watch_wd[WATCH_READY] < 0 || watch_wd[WATCH_BUILDING] < 0) {
        int saved = errno;

        watch_close();
        errno = saved;
        return -1;
    }
    return watch_ifd;
}

static void watch_event(const struct inotify_event *ev, watch_fn fn, void *cls)
{
    char name[IDENT_NAME_MAX], id[IDENT_ID_MAX + 1];
    int64_t version;

    if (ev->len == 0 || watch_parse_name(ev->name, name, id, &version) < 0)
        return;
    if (ev->wd == watch_wd[WATCH_READY])
        fn(WATCH_READY, name, cls);
    else if (ev->wd == watch_wd[WATCH_BUILDING])
        fn(WATCH_BUILDING, name, cls);
}

/*
 * The kernel dropped a watch: its folder was removed.  Returns 1 so
 * that the caller rescans; watch_rearm() watches it again once it is
 * made anew.
 */
static int watch_lost(int wd)
{
    char q[4200];

    for (int i = 0; i < 2; i++) {
        if (watch_wd[i] != wd)
            continue;
        watch_wd[i] = -1;
        log_warn("watched folder removed, waiting for it", "dir=%s",
                 log_quote(q, sizeof(q), watch_path[i]));
        return 1;
    }
    return 0;
}

/* Returns 1 when a lost watch was set again: what arrived meanwhile was
 * seen by nobody, so the caller rescans. */
static int watch_rearm(void)
{
    char q[4200];
    int again = 0;

    for (int i = 0; i < 2; i++) {
        if (watch_wd[i] >= 0)
            continue;
        watch_wd[i] = inotify_add_watch(watch_ifd, watch_path[i], WATCH_MASK);
        if (watch_wd[i] < 0)
            continue;
        log_info("watching again", "dir=%s",
                 log_quote(q, sizeof(q), watch_path[i]));
        again = 1;
    }
    return again;
}

int watch_read(watch_fn fn, void *cls)
{
    char buf[64 * 1024]
        __attribute__((aligned(__alignof__(struct inotify_event))));
    int overflow = watch_ifd >= 0 ? watch_rearm() : 0;

    for (;;) {
        ssize_t n = read(watch_ifd, buf, sizeof(buf));

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const void *)p;

            if (ev->mask & IN_Q_OVERFLOW)
                overflow = 1;
            else if (ev->mask & IN_IGNORED)
                overflow |= watch_lost(ev->wd);
            else
                watch_event(ev, fn, cls);
            p += sizeof(*ev) + ev->len;
        }
    }
    return overflow;
}

long watch_scan(const char *path, enum watch_dir dir, watch_fn fn, void *cls)
{
    char name[IDENT_NAME_MAX], id[IDENT_ID_MAX + 1];
    struct dirent *de;
    int64_t version;
    long n = 0;
    DIR *d = opendir(path);

    if (d == NULL)
        return -1;
    while ((de = readdir(d)) != NULL) {
        if (watch_parse_name(de->d_name, name, id, &version) < 0)
            continue;
        fn(dir, name, cls);
        n++;
    }
    closedir(d);
    return n;
}

void watch_close(void)
{
    if (watch_ifd >= 0)
        close(watch_ifd);
    watch_ifd = -1;
    watch_wd[0] = watch_wd[1] = -1;
}
