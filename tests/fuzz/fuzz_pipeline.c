/* fuzz_pipeline.c - libFuzzer target: pipeline.json parsing. */
#include <stdint.h>
#include <stdlib.h>

#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int64_t version = 0;
    char err[256];

    if (manifest_parse_pipeline((const char *)data, size, &version, err,
                                sizeof(err)) == 0 &&
        version < 1)
        abort();
    return 0;
}
