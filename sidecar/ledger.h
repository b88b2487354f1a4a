/* ledger.h - what the leader has acknowledged, kept in OUT/done/. */
#ifndef BINRELAY_LEDGER_H
#define BINRELAY_LEDGER_H

#include <stdint.h>
#include <sys/types.h>

/*
 * The ledger is the folder OUT/done/: a result the leader acknowledged
 * has its manifest renamed there from OUT/ready/, one atomic rename
 * made durable by ledger_flush(), so a restart does not ship it again.  Only
 * the newest version of each pipeline is kept.  It is a cache: the leader
 * answers an identical re-upload with 200, which counts as done too.
 */

/*
 * Opens the ledger of the volume 'outfd' (borrowed), prunes it and
 * removes acknowledged artifacts beyond the newest 'keep_uploaded'.
 * Returns 0, or -1 with errno.
 */
int ledger_open(int outfd, long keep_uploaded);

/*
 * Records result 'name' as acknowledged: moves its manifest to done/,
 * removes the pipeline's older entries, and lets its artifact ('NULL'
 * for none) go once 'keep_uploaded' newer ones exist.
 *
 * 'manifest_ino' and 'artifact_ino' are the inodes that were shipped.
 * When ready/ holds another manifest by then (the result was published
 * again), nothing is recorded and 1 is returned: the caller ships the
 * new one.  An artifact is removed only while its name still holds the
 * shipped file.  Returns 0, 1, or -1 with errno (the result will then
 * be shipped again: harmless).
 */
int ledger_record(const char *name, const char *id, int64_t version,
                  const char *artifact, ino_t manifest_ino, ino_t artifact_ino);

/*
 * Makes the records since the last call durable, with one fsync of
 * done/ and of ready/ for all of them, then removes the artifacts they
 * let go.  Call once per turn of the main loop.  Returns 0, or -1 with
 * errno (the records may then be lost in a crash: shipped again, and
 * answered 200).
 */
int ledger_flush(void);

/* Flushes, then releases everything. */
void ledger_close(void);

#endif
