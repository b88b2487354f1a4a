/* fuzz_ident.c - libFuzzer target: ids, versions, names and paths. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ident.h"
#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_name(const char *s, size_t len)
{
    char id[IDENT_ID_MAX + 1], name[IDENT_NAME_MAX];
    int64_t version;

    if (ident_split_name(s, len, id, &version) < 0)
        return;
    /* A valid name names no path: no separator, no dot-dot. */
    if (!ident_valid(id) || version < 1 || strchr(id, '/') || strstr(id, ".."))
        abort();
    ident_format_name(name, id, version);
    if (strlen(name) != len || memcmp(name, s, len) != 0)
        abort();
}

/* True when some '/'-separated component of 's' is exactly "..". */
static int has_dotdot(const char *s)
{
    for (const char *p = s; *p;) {
        size_t n = strcspn(p, "/");

        if (n == 2 && p[0] == '.' && p[1] == '.')
            return 1;
        p += n;
        if (*p == '/')
            p++;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    int64_t version;

    if (s == NULL)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';

    if (ident_valid(s)) {
        int k = ident_worker(s, 7);

        if (k < 0 || k >= 7 || strlen(s) > IDENT_ID_MAX)
            abort();
    }
    if (ident_parse_version(s, size, &version) == 0 && version < 1)
        abort();
    check_name(s, size);
    if (manifest_artifact_valid(s) && (s[0] == '/' || has_dotdot(s)))
        abort();
    ident_ordinal(s);
    free(s);
    return 0;
}
