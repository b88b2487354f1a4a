/* pending.h - pipelines on disk that no worker has reported yet (leader). */
#ifndef BINRELAY_PENDING_H
#define BINRELAY_PENDING_H

#include <jansson.h>
#include <stdint.h>

/* 'dir' is the pipelines directory; NULL turns the whole module off. */
void pending_init(const char *dir, long workers);

/* Rescans the directory; cheap enough to call every few seconds. */
void pending_refresh(void);

/*
 * Merges the pipelines on disk into 'array' (the store's entries): one
 * that has no entry is appended in state "pending", and one whose entry
 * is of an older version than pipeline.json's is replaced by a pending
 * entry of the new version.  A pending entry names its assigned worker
 * and says "waiting for worker K", with ": <reason>" added while the
 * last cluster check found that worker unhealthy.
 */
void pending_merge_json(json_t *array);

/*
 * The pending entry of 'id', or NULL when the store's 'recorded' version
 * of it (0 for none) is not older than the one on disk.
 */
json_t *pending_entry_json(const char *id, int64_t recorded);

#endif
