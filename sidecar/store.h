/* store.h - the leader's installed binaries and every pipeline's status. */
#ifndef BINRELAY_STORE_H
#define BINRELAY_STORE_H

#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>

#include "hash.h"
#include "state.h"

/*
 * Layout under the store directory:
 *   binaries/<id>@<version>.<xxh128>
 *                    installed binaries, never partial; named for their
 *                    content, so none is ever replaced in place
 *   status/<id>.json one pipeline's status, replaced atomically
 *   tmp/             uploads in flight; emptied at start
 *
 * Functions that answer a request return the HTTP status the API gives
 * that outcome (200, 201, 404, 409, 413, 422, 507, 500), and write a
 * one-line reason into 'err' when it is not a success.  All of them are
 * safe to call from several threads.
 */

struct store;
struct store_upload;

struct store_config {
    const char *dir;
    long keep_versions;       /* installed versions kept per pipeline */
    int64_t max_binary_bytes; /* larger uploads get 413 */
};

/*
 * Opens (creating) the store: loads every status, forgets binaries that
 * are missing or beyond keep_versions, and removes temporaries and
 * binaries no status refers to.  Returns NULL with errno on failure.
 */
struct store *store_open(const struct store_config *cfg);
void store_close(struct store *s);

/*
 * Checks an upload's headers before any of its body is read.  Returns 0
 * with *up set when the body should be received; otherwise the answer
 * to give at once: 200 when this exact binary is installed already, or
 * 409, 413, 507, 500.
 */
int store_upload_begin(struct store *s, const char *id, int64_t version,
                       int64_t length, const char *xxh, long worker_id,
                       struct store_upload **up, char *err, size_t errsize);

/* Appends body bytes, hashing them.  Returns 0, or an HTTP status. */
int store_upload_write(struct store_upload *up, const void *data, size_t len,
                       char *err, size_t errsize);

/*
 * Verifies length and hash, fsyncs, renames into place, fsyncs the
 * directory, and only then records success; versions beyond
 * keep_versions are removed after that.  When the status cannot be
 * written the install is undone.  Always consumes 'up'.  Returns 201,
 * 200 (an identical binary won a race), 409, 422, 507, 500.
 */
int store_upload_commit(struct store_upload *up, char *err, size_t errsize);

/* Drops an upload that did not finish: its temporary is removed. */
void store_upload_abort(struct store_upload *up);

/*
 * Installs the open regular file 'fd' through the same verified path as
 * an upload (used for the leader's own results).  Returns as commit.
 */
int store_install_fd(struct store *s, const char *id, int64_t version, int fd,
                     const char *xxh, long worker_id, char *err,
                     size_t errsize);

/*
 * Records a state that carries no binary.  Returns 200, 409 (older than
 * the recorded version), or 500.  A report of the same version that
 * ranks below the recorded state (state_rank) is accepted and ignored.
 */
int store_report(struct store *s, const char *id, int64_t version,
                 enum state state, long worker_id, const char *message,
                 char *err, size_t errsize);

/*
 * Opens an installed binary; version 0 means the newest success.
 * Returns 200 with *fd (the caller closes it), *size, 'hex' and
 * *version set, or 404.
 */
int store_open_binary(struct store *s, const char *id, int64_t *version,
                      int *fd, int64_t *size, char hex[HASH_HEX_LEN]);

/*
 * The status entry of 'id' as a new JSON object, or NULL when the store
 * has none.  *version (if not NULL) receives its version.
 */
json_t *store_entry_json(struct store *s, const char *id, int64_t *version);

struct textbuf;

/*
 * Items from elsewhere merged into the status list: the pipelines that
 * no worker has reported yet.  An item is listed instead of the store's
 * entry of its id when the store has none or shows an older version.
 */
struct store_extra {
    size_t count;
    void *cls;
    /* The id of item i; its version in *version. */
    const char *(*item)(void *cls, size_t i, int64_t *version);
    /* Appends item i as JSON text.  Called under the store's lock: it
     * must not call into the store. */
    void (*append)(void *cls, size_t i, struct textbuf *out);
};

/*
 * Appends every listed entry as JSON text, comma-separated, merged with
 * 'extra' (NULL for none), to 'out'; returns how many.  Each entry's
 * text is rendered once per change, so a listing mostly copies.
 */
size_t store_list_text(struct store *s, const struct store_extra *extra,
                       struct textbuf *out);

/*
 * Removes temporaries left by uploads that died; those of uploads in
 * flight stay.  Returns the count.
 */
int store_clean_temps(struct store *s);

/* Bytes used and available on the store's filesystem.  Returns 0, or -1
 * with errno from fstatvfs(2), the counts then left unchanged. */
int store_usage(struct store *s, uint64_t *used, uint64_t *avail);

/* Number of uploads being received (their temporaries in tmp/). */
size_t store_receiving(struct store *s);

/* Number of status entries (pipelines with a recorded state). */
size_t store_count(struct store *s);

#endif
