/* shipper.h - ships results from the shared volume to the leader. */
#ifndef BINRELAY_SHIPPER_H
#define BINRELAY_SHIPPER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <poll.h>

#include "store.h"

struct shipper_config {
    const char *out;     /* the shared volume */
    const char *leader;  /* base URL; NULL on the leader itself */
    struct store *store; /* the leader installs its own results here */
    long worker_id;
    long retries;            /* after the first attempt */
    long retry_delay_ms;     /* first delay, doubled each retry */
    long concurrency;        /* uploads at once */
    long upload_timeout;     /* seconds for a whole upload */
    long keep_uploaded;      /* acknowledged artifacts kept in the volume */
    long reconcile_interval; /* seconds between backstop scans */
    const char *ca_file;
};

/*
 * Opens the volume's folders (making those missing) and the inotify
 * watch, and scans what is already published.  Returns 0, or -1 with
 * errno from the failed open, mkdir or inotify call.
 */
int shipper_init(const struct shipper_config *cfg);

/*
 * The descriptors the main loop must poll besides curl's: fills up to
 * 'max' entries and returns how many.
 */
int shipper_fds(struct pollfd *fds, int max);

/*
 * Does whatever is due: reads inotify events, starts and finishes
 * transfers, retries.  Returns the milliseconds until it next has work
 * without an event (at most 1000).
 */
int64_t shipper_run(void);

/* Waits on curl and the given extra descriptors for at most 'ms'. */
void shipper_wait(struct pollfd *extra, int nextra, int64_t ms);

/*
 * Stops taking new work.  Returns true once nothing is in flight; the
 * caller keeps running shipper_run() until then, or until its bound
 * passes and shipper_abandon() drops what is left (shipped again after
 * a restart).
 */
bool shipper_drain(void);
void shipper_abandon(void);

/* This worker's own view for its /v1/status: results not yet shipped
 * and those that failed. */
void shipper_list_json(json_t *array);

/* The newest entry of 'id' in that view, as a new object the caller
 * releases, or NULL when this worker holds none. */
json_t *shipper_entry_json(const char *id);

/* Counts for /healthz: queued, in flight, failed. */
void shipper_counts(long *queued, long *active, long *failed);

/* Ends every transfer, flushes the ledger and frees the module. */
void shipper_close(void);

#endif
