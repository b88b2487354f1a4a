/* crashpoint.h - named places where the fault tests kill a daemon. */
#ifndef BINRELAY_CRASHPOINT_H
#define BINRELAY_CRASHPOINT_H

/*
 * When the environment variable BINRELAY_CRASHPOINT equals 'name', the
 * process logs the fact and kills itself with SIGKILL, exactly as an OOM
 * kill or a node failure would at that moment.  The fault tests use it to
 * stop a daemon between two steps that a signal from outside cannot hit
 * reliably (after hashing, between the leader's commit and the ledger).
 * Unset, it costs one comparison.
 */
void crashpoint(const char *name);

#endif
