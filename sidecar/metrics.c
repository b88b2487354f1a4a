/* metrics.c - the Prometheus text exposition of binrelay's counters. */
#include <stdio.h>
#include <stdlib.h>

#include "metrics.h"

struct metrics metrics;

/* Upper bounds of the upload-duration histogram, in milliseconds. */
static const int64_t metrics_bounds_ms[METRICS_BUCKETS] = {
    5, 10, 25, 50, 100, 250, 500, 1000, 2500, 10000, 60000, 600000,
};

static const char *const metrics_upload_names[] = {
    "ok",
    "retry",
    "failed",
    "changed",
};

static const char *const metrics_install_names[] = {
    "created",
    "identical",
    "rejected",
    "aborted",
};

void metrics_observe_upload(int64_t ms)
{
    for (int i = 0; i < METRICS_BUCKETS; i++) {
        if (ms <= metrics_bounds_ms[i])
            atomic_fetch_add(&metrics.upload_seconds_bucket[i], 1);
    }
    atomic_fetch_add(&metrics.upload_seconds_count, 1);
    atomic_fetch_add(&metrics.upload_ms_sum, (uint64_t)ms);
}

static void metrics_histogram(FILE *f)
{
    fputs("# HELP binrelay_upload_duration_seconds Upload attempts by "
          "duration.\n# TYPE binrelay_upload_duration_seconds histogram\n",
          f);
    for (int i = 0; i < METRICS_BUCKETS; i++)
        fprintf(f, "binrelay_upload_duration_seconds_bucket{le=\"%g\"} %lu\n",
                (double)metrics_bounds_ms[i] / 1000,
                (unsigned long)metrics.upload_seconds_bucket[i]);
    fprintf(f,
            "binrelay_upload_duration_seconds_bucket{le=\"+Inf\"} %lu\n"
            "binrelay_upload_duration_seconds_sum %.3f\n"
            "binrelay_upload_duration_seconds_count %lu\n",
            (unsigned long)metrics.upload_seconds_count,
            (double)metrics.upload_ms_sum / 1000,
            (unsigned long)metrics.upload_seconds_count);
}

static void metrics_counter(FILE *f, const char *name, const char *help,
                            uint64_t value)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s counter\n%s %lu\n", name, help, name,
            name, (unsigned long)value);
}

static void metrics_labelled(FILE *f)
{
    fputs("# HELP binrelay_uploads_total Upload attempts by result.\n"
          "# TYPE binrelay_uploads_total counter\n",
          f);
    for (int i = 0; i < METRICS_UPLOAD_COUNT; i++)
        fprintf(f, "binrelay_uploads_total{result=\"%s\"} %lu\n",
                metrics_upload_names[i], (unsigned long)metrics.uploads[i]);
    fputs("# HELP binrelay_installs_total Uploads received by result.\n"
          "# TYPE binrelay_installs_total counter\n",
          f);
    for (int i = 0; i < METRICS_INSTALL_COUNT; i++)
        fprintf(f, "binrelay_installs_total{result=\"%s\"} %lu\n",
                metrics_install_names[i], (unsigned long)metrics.installs[i]);
}

char *metrics_render(const char *extra)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    if (f == NULL)
        return NULL;
    metrics_labelled(f);
    metrics_histogram(f);
    metrics_counter(f, "binrelay_upload_bytes_total", "Bytes uploaded.",
                    metrics.upload_bytes);
    metrics_counter(f, "binrelay_status_reports_total",
                    "Status reports sent to the leader.", metrics.reports);
    metrics_counter(f, "binrelay_rescans_total",
                    "Full scans of the shared volume.", metrics.rescans);
    metrics_counter(f, "binrelay_install_bytes_total",
                    "Bytes installed in the store.", metrics.install_bytes);
    metrics_counter(f, "binrelay_http_requests_total", "HTTP requests.",
                    metrics.http_requests);
    metrics_counter(f, "binrelay_auth_failures_total",
                    "Requests refused for their token.", metrics.auth_failures);
    fprintf(f,
            "# HELP binrelay_upload_queue_depth Results waiting to ship.\n"
            "# TYPE binrelay_upload_queue_depth gauge\n"
            "binrelay_upload_queue_depth %ld\n",
            (long)metrics.queue_depth);
    if (extra != NULL)
        fputs(extra, f);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}
