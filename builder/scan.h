/* scan.h - reading the pipelines directory. */
#ifndef BINRELAY_SCAN_H
#define BINRELAY_SCAN_H

#include <stdbool.h>
#include <stdint.h>

/* What one entry of the pipelines directory holds. */
struct scan_result {
    bool valid_id;
    int64_t version; /* > 0 when pipeline.json is good */
    /*
     * When pipeline.json is bad: the reason, and the version it still
     * names (a complete object with a positive "version" followed by
     * junk), or 0 when it names none.
     */
    char err[256];
    int64_t bad_version;
};

/*
 * Calls fn(name, arg) for each entry of 'rootfd' whose name does not
 * start with '.': those are drop-ins in progress or, as "..data", the
 * machinery of a ConfigMap volume.  Returns 0, or -1 with errno when
 * the directory cannot be read.
 */
int scan_names(int rootfd, void (*fn)(const char *name, void *arg), void *arg);

/* True when entry 'name' of 'rootfd' is a directory, through symlinks. */
bool scan_is_dir(int rootfd, const char *name);

/*
 * Reads entry 'name' of 'rootfd' (a directory, through symlinks) and
 * its pipeline.json (a regular file, through symlinks too).
 */
void scan_pipeline(int rootfd, const char *name, struct scan_result *r);

#endif
