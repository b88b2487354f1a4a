/* health.h - this pod's health, and the whole fleet's on the leader. */
#ifndef BINRELAY_HEALTH_H
#define BINRELAY_HEALTH_H

#include <jansson.h>
#include <stdbool.h>

struct health_config {
    const char *out; /* the shared volume, where the heartbeat is */
    long worker_id;
    long workers;
    long heartbeat_timeout;   /* seconds before the builder counts as dead */
    const char *url_template; /* "http://binrelay-{k}.binrelay:8085" */
    const char *ca_file;
    long timeout_ms; /* for each worker's /healthz */
};

/* Copies 'cfg' (its strings must outlive the module).  Call once. */
void health_init(const struct health_config *cfg);

/*
 * This pod's health as the body of /healthz.  Returns true when healthy;
 * otherwise 'reason' (at least 256 bytes) says why.
 */
bool health_local(json_t *body, char *reason, size_t size);

/*
 * Asks every worker's /healthz at once (this one locally) and returns
 * the body of /cluster_healthz, a new object the caller releases (NULL
 * without memory); *all_healthy tells 200 from 503.
 */
json_t *health_cluster(bool *all_healthy);

/*
 * The reason worker 'k' was unhealthy at the last cluster check, or
 * NULL when it was healthy or never checked.  Copies into 'buf'.
 */
const char *health_worker_problem(long k, char *buf, size_t size);

/* Seconds since the sidecar started. */
long health_uptime(void);

#endif
