/* outdir.h - the builder's side of the shared volume (OUT). */
#ifndef BINRELAY_OUTDIR_H
#define BINRELAY_OUTDIR_H

#include <stdbool.h>
#include <limits.h>
#include <stdint.h>

#include "manifest.h"

/* Directories of OUT, each opened once; -1 where one does not exist. */
struct outdir {
    char path[PATH_MAX]; /* absolute */
    char tmp[PATH_MAX];  /* absolute OUT/tmp */
    int fd, tmpfd, artifactsfd, readyfd, buildingfd;
    int lockfd; /* held while this builder runs */
};

/*
 * Makes OUT absolute, locks it against a second builder, creates tmp/,
 * artifacts/, ready/ and building/ in it and opens them.  Returns 0, or
 * -1 with errno (EBUSY: another builder holds OUT).
 */
int outdir_open(struct outdir *o, const char *path);

/*
 * Start-up cleaning after a builder that may have been SIGKILLed: kills
 * the process groups its builds left, empties tmp/, and removes stale
 * building/ markers and temporaries in artifacts/ and ready/.
 */
void outdir_clean(struct outdir *o);

/*
 * Calls fn(id, version, arg) for every result manifest in ready/ and
 * done/: what is already published and must not be built again.
 */
void outdir_published(const struct outdir *o,
                      void (*fn)(const char *id, int64_t version, void *arg),
                      void *arg);

/*
 * Reads the result manifest of 'id' at 'version' from ready/ or, when
 * it is not there, from done/, into 'm' (released with manifest_free()).
 * Returns 0, or -1 with errno (ENOENT: in neither; EINVAL: not a
 * manifest).
 */
int outdir_read_result(const struct outdir *o, const char *id, int64_t version,
                       struct manifest *m);

/* Writes, or removes, the building/<id>@<version>.json marker. */
int outdir_mark_building(const struct outdir *o, const char *id,
                         int64_t version, long worker_id,
                         const char *started_at);
void outdir_unmark_building(const struct outdir *o, const char *id,
                            int64_t version);

/*
 * Publishes 'm' with two durable renames: for a success, the file at
 * 'artifact' (an absolute path in OUT) becomes artifacts/<id>@<version>
 * and m->artifact is set to name it; then the manifest is written to
 * ready/<id>@<version>.json.  Returns 0, or -1 with errno and nothing in
 * ready/.
 */
int outdir_publish(const struct outdir *o, struct manifest *m,
                   const char *artifact);

/*
 * Replaces OUT/heartbeat; 'cache' is the JSON of its "cache" member, or
 * NULL for none.  'stopped' marks the builder's last one, written as it
 * exits, so that /healthz need not wait for it to go stale.  No fsync: a
 * heartbeat lost in a crash is stale anyway.  Returns 0, or -1 with
 * errno.
 */
int outdir_heartbeat(const struct outdir *o, long worker_id, int building,
                     int queued, const char *cache, bool stopped);

#endif
