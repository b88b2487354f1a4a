/* sched.h - which builds run: newest version wins, within --jobs. */
#ifndef BINRELAY_SCHED_H
#define BINRELAY_SCHED_H

#include <poll.h>
#include <stdint.h>
#include <sys/types.h>

#include "compcache.h"
#include "job.h"
#include "outdir.h"
#include "pipewatch.h"

/* Everything the scheduler is told at start; it owns none of it. */
struct sched_config {
    long worker_id;
    long workers;
    long jobs;
    long stop_grace_s;     /* SIGTERM, then SIGKILL after this */
    const char *pipelines; /* absolute */
    struct job_env env;
    const struct outdir *out;
    struct pipewatch *watch; /* NULL: periodic rescans only */
    enum compcache_kind cache;
};

struct sched;

/* Returns a scheduler with nothing known yet, or NULL with errno. */
struct sched *sched_new(const struct sched_config *cfg);
void sched_free(struct sched *s);

/*
 * Reads the pipelines directory and what OUT already holds, then
 * cancels builds that are overtaken or removed and starts due ones.
 */
void sched_rescan(struct sched *s);

/* Handles the exit of build shell 'pid' (already reaped). */
void sched_reaped(struct sched *s, pid_t pid, int status);

/*
 * Fills one entry of 'fds' per build slot (--jobs of them, fd -1 for an
 * idle slot or a build whose output has ended) to poll for the builds'
 * output.  Returns how many entries it filled.
 */
int sched_pollfds(const struct sched *s, struct pollfd *fds);

/*
 * Reads the output of the builds whose entries in 'fds' (as filled by
 * sched_pollfds() and then polled) are ready.  Builds block on a full
 * pipe until this runs, so the main loop calls it after every poll.
 */
void sched_output(struct sched *s, const struct pollfd *fds);

/*
 * Enforces timeouts and the stop grace, retries held work, and starts
 * builds for free slots.  Call whenever sched_next_ms() comes due.
 */
void sched_tick(struct sched *s);

/* Milliseconds until sched_tick() or a rescan has work, or -1. */
int64_t sched_next_ms(const struct sched *s);

/* 1 when a rescan is wanted now (a bad pipeline.json has settled). */
int sched_rescan_due(const struct sched *s);

/*
 * Stops: no build starts from now on, running ones get SIGTERM to their
 * group and SIGKILL after the grace, and none of them is published.
 */
void sched_stop(struct sched *s);

/* Kills every build at once and waits for them; for a fatal exit. */
void sched_abort(struct sched *s);

/* Builds still running (cancelled ones included until reaped). */
int sched_running(const struct sched *s);

/* For the heartbeat: builds in progress, and pipelines waiting. */
void sched_counts(const struct sched *s, int *building, int *queued);

#endif
