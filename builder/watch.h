/* watch.h - inotify on the pipelines directory, its parent and entries. */
#ifndef BINRELAY_WATCH_H
#define BINRELAY_WATCH_H

/* At most this many pipeline directories are watched one by one. */
#define WATCH_PIPELINES_MAX 8192

struct watch;

/*
 * Starts watching 'root' (absolute): the directory it names now, its
 * parent (so that a symlink re-pointed in the parent is seen), and the
 * pipelines that watch_pipeline() adds.  Returns NULL with errno only
 * when inotify itself is unavailable.
 */
struct watch *watch_open(const char *root);
void watch_close(struct watch *w);

/* The descriptor to poll for input. */
int watch_fd(const struct watch *w);

/*
 * Drains pending events.  Returns 1 when they call for a rescan (an
 * entry of the root added, removed or renamed, a pipeline.json written
 * or replaced, the root itself swapped, or lost events), else 0.
 */
int watch_read(struct watch *w);

/*
 * A rescan goes: watch_begin() (re-resolves the root, so that a swapped
 * symlink is followed), watch_pipeline() for each entry before it is
 * read, then watch_end(), which drops the watches no entry uses now.
 * Failures only log a warning once: the periodic rescan still finds
 * what the watches would have.
 */
void watch_begin(struct watch *w);
void watch_pipeline(struct watch *w, const char *name);
void watch_end(struct watch *w);

#endif
