/* pending.h - pipelines on disk that no worker has reported yet (leader). */
#ifndef BINRELAY_PENDING_H
#define BINRELAY_PENDING_H

#include <jansson.h>
#include <stdint.h>

#include "store.h"

/* 'dir' is the pipelines directory; NULL turns the whole module off. */
void pending_init(const char *dir, long workers);

/* Rescans the directory; cheap enough to call every few seconds. */
void pending_refresh(void);

/*
 * Fills 'x' with the pipelines on disk as the last refresh found them (a
 * reference, not a copy), to be merged into one listing of the store
 * (store_list_text): a pipeline the store has no entry for, or an older
 * version of, is listed in state "pending", or "compile_error" at
 * version 0 when its pipeline.json names none.  A pending entry names
 * its assigned worker and says "waiting for worker K", with ": <reason>"
 * added while the last cluster check found that worker unhealthy.
 * Before any refresh 'x' is empty.  pending_extra_free() drops the
 * reference.
 */
void pending_extra(struct store_extra *x);
void pending_extra_free(struct store_extra *x);

/*
 * The pending entry of 'id' as a new object the caller releases, or
 * NULL when the store's 'recorded' version of it (0 for none) is not
 * older than the one on disk.
 */
json_t *pending_entry_json(const char *id, int64_t recorded);

#endif
