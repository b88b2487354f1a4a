/* compcache.h - --compiler-cache: builds through sccache or ccache. */
#ifndef BINRELAY_COMPCACHE_H
#define BINRELAY_COMPCACHE_H

#include <stddef.h>

enum compcache_kind {
    COMPCACHE_NONE,
    COMPCACHE_SCCACHE,
    COMPCACHE_CCACHE,
};

/* How the cache fared in one build (see compcache_judge()). */
enum compcache_verdict {
    COMPCACHE_FINE,     /* nothing of the cache failed */
    COMPCACHE_DEGRADED, /* its shared store failed; the build went on */
    COMPCACHE_BROKEN,   /* the cache failed the build: try without it */
};

/* Room for a reason, the cache's own line included. */
#define COMPCACHE_REASON_MAX 384

/* "none", "sccache" or "ccache".  Returns 0, or -1 for anything else. */
int compcache_parse(const char *name, enum compcache_kind *kind);

/*
 * The cache when --compiler-cache is not given: "sccache" when
 * SCCACHE_BUCKET is set (as Feldera's chart switches it on), else
 * "none".
 */
const char *compcache_default(void);

/*
 * Prepares every later build to compile through the cache: checks that
 * the tool is on PATH, wraps CC and CXX in it (and RUSTC_WRAPPER for
 * sccache), gives it a cache directory under 'cachedir' unless one is
 * configured, sets CCACHE_REMOTE_STORAGE to 'remote' when not NULL,
 * and starts the
 * sccache server in a session of its own so that it outlives each
 * build's process group.  A server that does not start leaves the cache
 * degraded, not the builder stopped: builds try it and fall back.  The
 * variables are set in the builder's own environment, whose allow-list
 * passes them on.  Whatever the cache, even none, it first notes the
 * secrets among those variables (which reach every build) for
 * compcache_redact() and has the log mask them in every line.  Returns
 * 0, or -1 with a one-line reason in 'err'.
 */
int compcache_setup(enum compcache_kind kind, const char *cachedir,
                    const char *remote, char *err, size_t errsize);

/*
 * The environment entries (for struct job_env's 'nocache') that undo
 * the wrapping: CC, CXX and RUSTC_WRAPPER as they were before setup.
 */
const char *const *compcache_plain_env(void);

/*
 * Files each build through the cache gets in its build directory, as
 * "NAME=file" entries (for struct job_env's 'files'): ccache's log and
 * statistics log, which compcache_judge() reads.  NULL-terminated.
 */
const char *const *compcache_build_files(enum compcache_kind kind);

/*
 * Judges a finished build from its log tail 'log' and the files in its
 * build directory 'dir': BROKEN when the cache itself failed ("sccache:
 * error: ..."), DEGRADED when ccache's remote storage failed and ccache
 * carried on with its local cache.  For both, copies the cache's line,
 * redacted, into 'reason'.
 */
enum compcache_verdict compcache_judge(enum compcache_kind kind,
                                       const char *dir, const char *log,
                                       char *reason, size_t size);

/*
 * Records how the cache fared, for the heartbeat: degraded with a
 * reason after a failure, fine again (NULL) after a build through it
 * succeeds without one.
 */
void compcache_note(const char *reason);

/*
 * A malloc'd copy of the 'len' bytes of 'text' fit to leave the
 * builder: every configured secret (AWS_SECRET_ACCESS_KEY and the like,
 * the passwords of the cache URLs) masked everywhere, and on the
 * cache's own lines ("sccache: ...", "ccache: ...") every URL's
 * password and query string too.  Sets *outlen.  Returns NULL with
 * errno on failure.
 */
char *compcache_redact(const char *text, size_t len, size_t *outlen);

/*
 * As compcache_redact(), for a text whose beginning was cut off (a log
 * tail): what is left at its start of a secret cut in two is masked
 * too.
 */
char *compcache_redact_tail(const char *text, size_t len, size_t *outlen);

/*
 * The heartbeat's "cache" member, {"tool":...,"status":"ok"|"degraded",
 * "reason":...}, as a malloc'd JSON text, or NULL when no cache is used.
 */
char *compcache_status_json(enum compcache_kind kind);

/* Stops what compcache_setup() started; for a clean exit. */
void compcache_stop(enum compcache_kind kind, const char *cachedir);

#endif
