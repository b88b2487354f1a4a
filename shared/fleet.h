/* fleet.h - who this worker is and how many workers there are. */
#ifndef BINRELAY_FLEET_H
#define BINRELAY_FLEET_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* Where Kubernetes mounts a pod's service-account token, CA, namespace. */
#define FLEET_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

struct fleet_opts {
    const char *worker_id;   /* "K" or "auto" */
    const char *workers;     /* "N" or "k8s" */
    const char *statefulset; /* NULL: the hostname minus its ordinal */
    const char *sa_dir;      /* NULL: FLEET_SA_DIR */
    long check_interval;     /* seconds between replica checks (k8s) */
    long start_timeout;      /* seconds an unanswered API is retried at
                                start; 0: FLEET_START_TIMEOUT_S */
};

/* The API may lag a pod's start by a few seconds; longer is an error. */
#define FLEET_START_TIMEOUT_S 30

/* The options' defaults, for a daemon's flag table. */
#define FLEET_OPTS_DEFAULT                                                     \
    {                                                                          \
        .worker_id = "auto", .workers = "1", .sa_dir = FLEET_SA_DIR,           \
        .check_interval = 30, .start_timeout = FLEET_START_TIMEOUT_S,          \
    }

/* The flags of 'fo' (a struct fleet_opts) in a config_opt table; both
 * daemons take them alike. */
#define FLEET_CONFIG_OPTS(fo)                                                  \
    CONFIG_S("worker-id", (fo).worker_id, "K|auto",                            \
             "this worker; auto (default): the hostname's trailing -<n>"),     \
        CONFIG_S("workers", (fo).workers, "N|k8s",                             \
                 "fleet size (1); k8s: the StatefulSet's spec.replicas"),      \
        CONFIG_S(                                                              \
            "statefulset", (fo).statefulset, "NAME",                           \
            "StatefulSet for --workers k8s; default: hostname less -<n>"),     \
        CONFIG_L("k8s-check-interval", (fo).check_interval, "SECONDS",         \
                 "how often the replica count is checked again (30)", 1,       \
                 86400),                                                       \
        CONFIG_S("k8s-serviceaccount-dir", (fo).sa_dir, "DIR",                 \
                 "token, ca.crt and namespace for the Kubernetes API"),        \
        CONFIG_L("k8s-start-timeout", (fo).start_timeout, "SECONDS",           \
                 "how long an unanswered Kubernetes API is retried at start "  \
                 "(30)",                                                       \
                 1, 3600)

struct fleet {
    long worker_id;
    long workers;
    int from_k8s; /* the count comes from the StatefulSet */
    char statefulset[256];
    int64_t next_check_ms; /* monotonic; when fleet_check() asks again */
    long check_interval_ms;
    const char *sa_dir;
};

/*
 * Resolves the options into 'f'.  With "auto" the worker id is the
 * hostname's trailing "-<n>"; with "k8s" the count is the StatefulSet's
 * spec.replicas, asked of the in-cluster API (retried for a while when
 * it does not answer).  A bad option or an unanswered API is a
 * configuration error: prints "<prog>: <reason>" and exits 2.
 */
void fleet_resolve(const char *prog, const struct fleet_opts *o,
                   struct fleet *f);

/*
 * Call from the main loop; does nothing until the check is due.  Returns
 * 0 while the replica count is unchanged (or cannot be read just now),
 * or -1 after logging "SCALING DETECTED: ..." when it changed: the
 * caller then exits 1 so that Kubernetes restarts it with the new count.
 */
int fleet_check(struct fleet *f);

/* Milliseconds until fleet_check() has work, or -1 for never. */
int64_t fleet_next_ms(const struct fleet *f);

/*
 * The StatefulSet a pod belongs to: 'hostname' less its trailing
 * "-<n>".  Returns 0, or -1 when it has no ordinal or 'size' is short.
 */
int fleet_statefulset_name(const char *hostname, char *buf, size_t size);

/*
 * Reads spec.replicas from a StatefulSet object (absent means 1, as in
 * Kubernetes).  Returns 0, or -1 with a reason in 'err'.
 */
int fleet_parse_replicas(const char *json, size_t len, long *replicas,
                         char *err, size_t errsize);

#endif
