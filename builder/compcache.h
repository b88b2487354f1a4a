/* compcache.h - --compiler-cache: builds through sccache or ccache. */
#ifndef BINRELAY_COMPCACHE_H
#define BINRELAY_COMPCACHE_H

#include <stddef.h>

enum compcache_kind {
    COMPCACHE_NONE,
    COMPCACHE_SCCACHE,
    COMPCACHE_CCACHE,
};

/* "none", "sccache" or "ccache".  Returns 0, or -1 for anything else. */
int compcache_parse(const char *name, enum compcache_kind *kind);

/*
 * Prepares every later build to compile through the cache: checks that
 * the tool is on PATH, wraps CC and CXX in it (and RUSTC_WRAPPER for
 * sccache), gives it a cache directory under 'cachedir' unless one is
 * configured, and starts the sccache server in a session of its own so
 * that it outlives each build's process group.  The variables are set
 * in the builder's own environment, whose allow-list passes them on.
 * Returns 0, or -1 with a one-line reason in 'err'.
 */
int compcache_setup(enum compcache_kind kind, const char *cachedir, char *err,
                    size_t errsize);

/*
 * The environment entries (for struct job_env's 'nocache') that undo
 * the wrapping: CC, CXX and RUSTC_WRAPPER as they were before setup.
 */
const char *const *compcache_plain_env(void);

/*
 * True when a failed build's 'log' shows the cache itself failing
 * ("sccache: error: ..."), not the compiler: such a build is worth one
 * more try without the cache.  Copies the cache's line into 'reason'.
 */
int compcache_failed(enum compcache_kind kind, const char *log, char *reason,
                     size_t size);

/*
 * Records how the cache fared, for the heartbeat: degraded with a
 * reason after compcache_failed(), fine again after a build through it
 * succeeds.
 */
void compcache_note(const char *reason);

/*
 * The heartbeat's "cache" member, {"tool":...,"status":"ok"|"degraded",
 * "reason":...}, as a malloc'd JSON text, or NULL when no cache is used.
 */
char *compcache_status_json(enum compcache_kind kind);

/* Stops what compcache_setup() started; for a clean exit. */
void compcache_stop(enum compcache_kind kind, const char *cachedir);

#endif
