/* job.h - one build: a shell in its own process group and scratch dir. */
#ifndef BINRELAY_JOB_H
#define BINRELAY_JOB_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ident.h"
#include "timeutil.h"

/* What became of a build once its process group is asked to stop. */
enum job_end {
    JOB_RUNNING,   /* still ours to publish */
    JOB_TIMED_OUT, /* killed for --build-timeout: a compile error */
    JOB_CANCELLED, /* overtaken, removed or shut down: publish nothing */
};

struct job {
    char id[IDENT_ID_MAX + 1];
    int64_t version;
    pid_t pid; /* the shell, which leads its own process group */
    char scratch[PATH_MAX];
    char artifact[PATH_MAX];               /* PIPELINE_OUT */
    char started_at[TIMEUTIL_RFC3339_LEN]; /* set by the caller */
    int64_t started_ms;
    int64_t deadline_ms; /* monotonic: when the build times out */
    enum job_end end;
    int nocache; /* built again without the compiler cache */
    /* Why the compiler cache failed this build, redacted; or "". */
    char cache_failure[384];
};

/* What every build shares. */
struct job_env {
    const char *cmd;       /* run with /bin/sh -c */
    const char *pipelines; /* absolute; PIPELINE_SRC is <this>/<id> */
    const char *tmpdir;    /* absolute OUT/tmp, where scratch dirs go */
    long timeout_s;
    /*
     * For a build without the compiler cache: "NAME=value" entries that
     * replace the builder's own, "NAME=" to drop one; NULL-terminated.
     */
    const char *const *nocache;
    /*
     * For a build through the cache: "NAME=file" entries, each set to
     * that file in the build's scratch directory; NULL-terminated, at
     * most JOB_FILES_MAX, or NULL.
     */
    const char *const *files;
};

#define JOB_FILES_MAX 4

/* The scratch dir files a job leaves for its own and later builders. */
#define JOB_LOG_FILE  "log"
#define JOB_PGID_FILE "pgid"

/*
 * Creates a scratch directory under e->tmpdir, records the process group
 * in it and starts the build there.  'j' must have id and version set.
 * Returns 0, or -1 with errno (and no scratch directory left behind).
 */
int job_start(struct job *j, const struct job_env *e);

/*
 * Runs 'cmd' with /bin/sh -c in 'dir', in a session of its own, with a
 * build's allow-listed environment (HOME and TMPDIR being 'dir') plus
 * 'extra' ("NAME=value", or NULL), and waits for the shell.  Whatever
 * it leaves running (a compiler cache's server) outlives every build.
 * Its output goes to the file 'outname' in 'dir', whose first 'size' - 1
 * bytes are copied to 'out', NUL-terminated, before it is removed.
 * Returns the shell's exit status, or -1 with errno.
 */
int job_run_helper(const char *cmd, const char *dir, const char *extra,
                   const char *outname, char *out, size_t size);

/* Sends 'sig' to the whole process group of 'j'. */
void job_signal(const struct job *j, int sig);

/*
 * Reaps one exited build shell without blocking.  The shell's group is
 * killed with SIGKILL before the shell is reaped, while its pid cannot
 * yet be reused, so no stray grandchild outlives its build.  Returns the
 * pid and sets *status, 0 when no child has exited, or -1 with errno
 * (ECHILD when there are no children).
 */
pid_t job_reap(int *status);

/*
 * Reads at most 'max' bytes from the end of the build's log into a
 * malloc'd buffer, NUL-terminated, that the caller frees.  A missing
 * log reads as empty.  Returns 0, or -1 with errno.
 */
int job_log_tail(const struct job *j, size_t max, char **buf, size_t *len);

/* Removes the scratch directory of 'j'. */
void job_remove_scratch(const struct job *j);

/*
 * Kills the process groups that builds of a previous, SIGKILLed builder
 * recorded in the scratch dirs under 'tmpfd', so that nothing of theirs
 * writes into OUT while it is being cleaned.  Returns how many.
 */
int job_kill_leftovers(int tmpfd);

#endif
