/* manifest.h - the result manifest in OUT/ready/, and pipeline.json. */
#ifndef BINRELAY_MANIFEST_H
#define BINRELAY_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "ident.h"
#include "state.h"
#include "timeutil.h"

/* A manifest keeps at most the last 64 KiB of the build output. */
#define MANIFEST_LOG_MAX (64 * 1024)
/* Anything larger is not a manifest we wrote: 64 KiB of log, escaped. */
#define MANIFEST_FILE_MAX (512 * 1024)
/* pipeline.json is small; a larger one is refused unread. */
#define PIPELINE_FILE_MAX     (1024 * 1024)
#define MANIFEST_ARTIFACT_MAX 256

struct manifest {
    char pipeline_id[IDENT_ID_MAX + 1];
    int64_t version;
    enum state state; /* STATE_SUCCESS or STATE_COMPILE_ERROR */
    char artifact[MANIFEST_ARTIFACT_MAX]; /* relative to OUT; success */
    char *log;                            /* owned; never NULL once set */
    long worker_id;
    char started_at[TIMEUTIL_RFC3339_LEN];
    char finished_at[TIMEUTIL_RFC3339_LEN];
};

/*
 * Parses a manifest.  On success returns 0 and fills 'm', whose log the
 * caller releases with manifest_free().  On failure returns -1 and
 * writes a one-line reason into 'err'; 'm' then owns nothing.
 */
int manifest_parse(const char *json, size_t len, struct manifest *m, char *err,
                   size_t errsize);

/* Returns 'm' as JSON in a malloc'd string, or NULL with errno ENOMEM. */
char *manifest_encode(const struct manifest *m);

/*
 * Keeps the last MANIFEST_LOG_MAX bytes of 'text' as m->log, starting on
 * a character boundary.  Bytes that are not UTF-8 become '?', because
 * JSON strings must be UTF-8; everything else is kept verbatim.  Returns
 * 0, or -1 with errno ENOMEM.
 */
int manifest_set_log(struct manifest *m, const char *text, size_t len);

/* Releases what 'm' owns (its log); 'm' itself is the caller's. */
void manifest_free(struct manifest *m);

/*
 * True when 'path' is relative, has no empty, "." or ".." component and
 * fits MANIFEST_ARTIFACT_MAX: it cannot name anything outside OUT by its
 * spelling.  Symlinks are the opener's business.
 */
int manifest_artifact_valid(const char *path);

/*
 * Parses pipeline.json: a JSON object whose "version" is a positive
 * integer.  Returns 0 and sets *version, or -1 with a reason in 'err'.
 */
int manifest_parse_pipeline(const char *json, size_t len, int64_t *version,
                            char *err, size_t errsize);

#endif
