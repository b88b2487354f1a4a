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

/* Stops what compcache_setup() started; for a clean exit. */
void compcache_stop(enum compcache_kind kind, const char *cachedir);

#endif
