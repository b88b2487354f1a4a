/* ledger.h - what the leader has acknowledged, kept in OUT/done/. */
#ifndef BINRELAY_LEDGER_H
#define BINRELAY_LEDGER_H

#include <stdint.h>

/*
 * The ledger is the folder OUT/done/: a result the leader acknowledged
 * has its manifest renamed there from OUT/ready/, one atomic, fsynced
 * rename, so a restart does not ship it again.  Only the newest version
 * of each pipeline is kept.  It is a cache: the leader answers an
 * identical re-upload with 200, which counts as done too.
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
 * for none) go once 'keep_uploaded' newer ones exist.  Returns 0, or
 * -1 with errno (the result will then be shipped again: harmless).
 */
int ledger_record(const char *name, const char *id, int64_t version,
                  const char *artifact);

void ledger_close(void);

#endif
