/* job.h - one build: a shell in its own process group and directory. */
#ifndef BINRELAY_JOB_H
#define BINRELAY_JOB_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ident.h"
#include "manifest.h"
#include "timeutil.h"

/* What became of a build once its process group is asked to stop. */
enum job_end {
    JOB_RUNNING,   /* still ours to publish */
    JOB_TIMED_OUT, /* killed for --build-timeout: a compile error */
    JOB_CANCELLED, /* overtaken, removed or shut down: publish nothing */
};

/* A manifest's log is at most this much of the build's output. */
#define JOB_TAIL_MAX MANIFEST_LOG_MAX

/*
 * The last bytes a build printed, in a ring: however much it prints,
 * the builder keeps only what a manifest can hold, in memory.
 */
struct job_tail {
    char *buf;        /* JOB_TAIL_MAX bytes, malloc'd by job_start() */
    size_t head, len; /* where the next byte goes; bytes held */
    uint64_t total;   /* bytes printed in all */
};

struct job {
    char id[IDENT_ID_MAX + 1];
    int64_t version;
    pid_t pid; /* the shell, which leads its own process group */
    /*
     * The build's own directory under OUT/tmp.  The build runs in its
     * work/ subdirectory (also HOME and TMPDIR); the builder's files
     * (the pgid record, PIPELINE_OUT, ccache's logs) sit beside it, out
     * of the way of whatever the build does in its working directory.
     */
    char dir[PATH_MAX];
    char artifact[PATH_MAX];               /* PIPELINE_OUT */
    char started_at[TIMEUTIL_RFC3339_LEN]; /* set by the caller */
    int64_t started_ms;
    int64_t deadline_ms; /* monotonic: when the build times out */
    enum job_end end;
    int nocache; /* built again without the compiler cache */
    /* Why the compiler cache failed this build, redacted; or "". */
    char cache_failure[384];
    int outfd; /* read end of the build's stdout and stderr, or -1 */
    struct job_tail tail;
};

/* What every build shares. */
struct job_env {
    const char *cmd;       /* run with /bin/sh -c */
    const char *pipelines; /* absolute; PIPELINE_SRC is <this>/<id> */
    const char *tmpdir;    /* absolute OUT/tmp, where build dirs go */
    long timeout_s;
    /*
     * For a build without the compiler cache: "NAME=value" entries that
     * replace the builder's own, "NAME=" to drop one; NULL-terminated.
     */
    const char *const *nocache;
    /*
     * For a build through the cache: "NAME=file" entries, each set to
     * that file in the build's directory (beside work/, so that the
     * build cannot trip over them); NULL-terminated, at most
     * JOB_FILES_MAX, or NULL.
     */
    const char *const *files;
};

#define JOB_FILES_MAX 4

/* In a build's directory: its working directory, and the builder's own
 * record of its process group, read by the next builder after a crash. */
#define JOB_WORK_DIR  "work"
#define JOB_PGID_FILE "pgid"

/*
 * Creates the build's directory under e->tmpdir, with work/ in it,
 * and starts the build in work/ with its stdout and stderr on a pipe
 * whose read end is j->outfd (non-blocking).  The shell records its
 * process group in the directory before it runs anything.  'j' must
 * have id and version set.  Returns 0, or -1 with errno (and no
 * directory left behind).
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
 * Reads what the build printed since the last call, without blocking
 * and at most about a MiB at a time, into its tail.  At the end of the
 * output (every writer gone) j->outfd is closed and set to -1.  Call it
 * whenever j->outfd polls readable or hung up.
 */
void job_read_output(struct job *j);

/*
 * For a build whose shell was reaped: takes what is left in the pipe
 * and closes it.  A process that left the group (setsid) and still
 * holds the pipe is not waited for: the build is over.
 */
void job_collect(struct job *j);

/*
 * Copies at most 'max' bytes from the end of the build's output into a
 * malloc'd buffer, NUL-terminated, that the caller frees.  When earlier
 * output was dropped, the copy starts on a UTF-8 character boundary
 * and *cut is set to 1 ('cut' may be NULL).  Returns 0, or -1 with
 * errno.
 */
int job_log_tail(const struct job *j, size_t max, char **buf, size_t *len,
                 int *cut);

/*
 * Closes what job_start() opened, frees the tail and removes the
 * build's directory.
 */
void job_release(struct job *j);

/*
 * Kills the process groups that builds of a previous, SIGKILLed builder
 * recorded in their directories under 'tmpfd', so that nothing of
 * theirs writes into OUT while it is being cleaned.  Returns how many.
 */
int job_kill_leftovers(int tmpfd);

#endif
