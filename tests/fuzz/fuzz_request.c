/* fuzz_request.c - libFuzzer target: a write's headers and reports. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Each header value is a NUL-terminated copy of the input. */
static void check_headers(const char *s)
{
    int64_t len = request_length(s, NULL);
    long w = request_worker(s);

    /* A length or a worker is only ever what its digits say. */
    if (len >= 0 && (s[0] == '\0' || strspn(s, "0123456789") != strlen(s)))
        abort();
    if (len < -2 || request_length(s, "chunked") != -2)
        abort();
    if (w < -2 || w >= REQUEST_WORKER_MAX)
        abort();
    if (w >= 0 && strspn(s, "0123456789") != strlen(s))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct request_report r;
    char err[256];
    char *s = malloc(size + 1);

    if (s == NULL)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    check_headers(s);

    if (request_report((const char *)data, size, &r, err, sizeof(err)) == 0) {
        if (r.state == STATE_SUCCESS || r.state == STATE_INVALID ||
            r.message == NULL || r.worker < -1 ||
            r.worker >= REQUEST_WORKER_MAX)
            abort();
        request_report_free(&r);
    } else if (err[0] == '\0' || r.message != NULL) {
        abort();
    }
    free(s);
    return 0;
}
