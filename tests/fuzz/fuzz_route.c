/* fuzz_route.c - libFuzzer target: the request router. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const methods[] = {"GET",  "HEAD",   "PUT",
                                          "POST", "DELETE", "get"};
    char *path;
    struct route r;

    if (size < 1)
        return 0;
    path = malloc(size);
    if (path == NULL)
        return 0;
    memcpy(path, data + 1, size - 1);
    path[size - 1] = '\0';
    route_match(methods[data[0] % 6], path, &r);

    /* Whatever reaches a handler carries a valid id and version. */
    if ((r.kind == ROUTE_STATUS_GET || r.kind == ROUTE_STATUS_PUT ||
         r.kind == ROUTE_BINARY_GET || r.kind == ROUTE_BINARY_PUT) &&
        !ident_valid(r.id))
        abort();
    if ((r.kind == ROUTE_STATUS_PUT || r.kind == ROUTE_BINARY_PUT) &&
        r.version < 1)
        abort();
    if (r.kind == ROUTE_BINARY_GET && !r.latest && r.version < 1)
        abort();
    free(path);
    return 0;
}
