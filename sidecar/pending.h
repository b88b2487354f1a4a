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
 * Appends an entry in state "pending" for each pipeline on disk whose
 * version the store has not recorded, with its assigned worker and, when
 * that worker is unhealthy, "waiting for worker K: <reason>".
 */
void pending_list_json(struct store *store, json_t *array);

/* The pending entry of 'id', or NULL.  'recorded' is the store's version
 * of it (0 for none). */
json_t *pending_entry_json(const char *id, int64_t recorded);

#endif
