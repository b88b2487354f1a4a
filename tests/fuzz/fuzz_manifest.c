/* fuzz_manifest.c - libFuzzer target: manifest parsing and re-encoding. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct manifest m, back;
    char err[256];
    char *json;

    if (manifest_parse((const char *)data, size, &m, err, sizeof(err)) < 0)
        return 0;
    /* Whatever parses must encode, and parse back to the same result. */
    json = manifest_encode(&m);
    if (json == NULL)
        abort();
    if (manifest_parse(json, strlen(json), &back, err, sizeof(err)) < 0 ||
        strcmp(back.pipeline_id, m.pipeline_id) != 0 ||
        back.version != m.version || strcmp(back.log, m.log) != 0 ||
        !manifest_artifact_valid(m.state == STATE_SUCCESS ? m.artifact : "x"))
        abort();
    free(json);
    manifest_free(&m);
    manifest_free(&back);
    return 0;
}
