/* watch.h - inotify on the shared volume's ready/ and building/ folders. */
#ifndef BINRELAY_WATCH_H
#define BINRELAY_WATCH_H

#include <stdint.h>

#include "ident.h"

enum watch_dir {
    WATCH_READY,    /* OUT/ready: a result to ship */
    WATCH_BUILDING, /* OUT/building: a build under way */
};

/* Called with the result name ("<id>@<version>") of each manifest. */
typedef void (*watch_fn)(enum watch_dir dir, const char *name, void *cls);

/*
 * Watches 'ready' and 'building' (descriptors of open directories,
 * borrowed).  Two watches, however many pipelines there are.  Returns
 * the inotify descriptor to poll, or -1 with errno.
 */
int watch_open(const char *ready, const char *building);

/*
 * Reads pending events, calling 'fn' for each manifest renamed into a
 * watched folder.  Names starting with '.' and names that are not
 * "<id>@<version>.json" are skipped.  Returns 1 when events may have
 * been lost (the kernel's queue overflowed, or a watched folder was
 * removed or made again): the caller rescans.  Else 0.
 */
int watch_read(watch_fn fn, void *cls);

/*
 * Lists the folder 'path' and calls 'fn' for each manifest in it, as if
 * each had just arrived.  Returns how many, or -1 with errno.
 */
long watch_scan(const char *path, enum watch_dir dir, watch_fn fn, void *cls);

/* Splits "<id>@<version>.json"; returns 0, or -1 for any other name. */
int watch_parse_name(const char *file, char *name, char *id, int64_t *version);

/* Removes the watches and closes the inotify descriptor. */
void watch_close(void);

#endif
