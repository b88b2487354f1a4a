/* metrics.h - counters and gauges served at /metrics. */
#ifndef BINRELAY_METRICS_H
#define BINRELAY_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

/* Upload outcomes on the worker side, one counter each. */
enum metrics_upload {
    METRICS_UPLOAD_OK,
    METRICS_UPLOAD_RETRY,
    METRICS_UPLOAD_FAILED,
    METRICS_UPLOAD_CHANGED,
    METRICS_UPLOAD_COUNT,
};

/* Install outcomes on the leader, by HTTP status class. */
enum metrics_install {
    METRICS_INSTALL_CREATED,
    METRICS_INSTALL_IDENTICAL,
    METRICS_INSTALL_REJECTED,
    METRICS_INSTALL_ABORTED,
    METRICS_INSTALL_COUNT,
};

#define METRICS_BUCKETS 12

struct metrics {
    atomic_uint_fast64_t uploads[METRICS_UPLOAD_COUNT];
    atomic_uint_fast64_t upload_bytes;
    atomic_uint_fast64_t upload_seconds_bucket[METRICS_BUCKETS];
    atomic_uint_fast64_t upload_seconds_count;
    atomic_uint_fast64_t upload_ms_sum;
    atomic_uint_fast64_t reports;
    atomic_uint_fast64_t rescans;
    atomic_int_fast64_t queue_depth;
    atomic_uint_fast64_t installs[METRICS_INSTALL_COUNT];
    atomic_uint_fast64_t install_bytes;
    atomic_uint_fast64_t http_requests;
    atomic_uint_fast64_t auth_failures;
};

extern struct metrics metrics;

/* Records one finished upload attempt that took 'ms' milliseconds. */
void metrics_observe_upload(int64_t ms);

/*
 * Renders every metric in the Prometheus text format, with 'extra'
 * (already formatted lines, or NULL) appended.  Returns a malloc'd
 * string, or NULL.
 */
char *metrics_render(const char *extra);

#endif
