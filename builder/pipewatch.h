/* pipewatch.h - inotify on the pipelines dir, its parent and entries. */
#ifndef BINRELAY_PIPEWATCH_H
#define BINRELAY_PIPEWATCH_H

/* At most this many pipeline directories are watched one by one. */
#define PIPEWATCH_PIPELINES_MAX 8192

struct pipewatch;

/*
 * Starts watching 'root' (absolute): the directory it names now, its
 * parent (so that a symlink re-pointed in the parent is seen), and the
 * pipelines that pipewatch_pipeline() adds.  Returns NULL with errno only
 * when inotify itself is unavailable.
 */
struct pipewatch *pipewatch_open(const char *root);
void pipewatch_close(struct pipewatch *w);

/* The descriptor to poll for input. */
int pipewatch_fd(const struct pipewatch *w);

/*
 * Drains pending events.  Returns 1 when they call for a rescan (an
 * entry of the root added, removed or renamed, a pipeline.json written
 * or replaced, the root itself swapped, or lost events), else 0.
 */
int pipewatch_read(struct pipewatch *w);

/*
 * A rescan goes: pipewatch_begin() (re-resolves the root, so that a swapped
 * symlink is followed), pipewatch_pipeline() for each entry before it is
 * read, then pipewatch_end(), which drops the watches no entry uses now.
 * Failures only log a warning once: the periodic rescan still finds
 * what the watches would have.
 */
void pipewatch_begin(struct pipewatch *w);
void pipewatch_pipeline(struct pipewatch *w, const char *name);
void pipewatch_end(struct pipewatch *w);

#endif
