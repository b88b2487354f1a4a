/* strmap.h - a small hash map from strings to pointers. */
#ifndef BINRELAY_STRMAP_H
#define BINRELAY_STRMAP_H

#include <stddef.h>

/*
 * Open addressing with linear probing and tombstones.  Keys are copied;
 * values are the caller's.  Not thread-safe: callers lock.
 */
struct strmap;

/* An empty map, or NULL with errno ENOMEM.  strmap_free() releases it. */
struct strmap *strmap_new(void);

/* Frees the map and its keys, not the values. */
void strmap_free(struct strmap *m);

/* The value stored under 'key', or NULL. */
void *strmap_get(const struct strmap *m, const char *key);

/* Stores 'value' under 'key', replacing any.  Returns 0, or -1 (ENOMEM). */
int strmap_put(struct strmap *m, const char *key, void *value);

/* Removes 'key'; returns its value, or NULL if it was absent. */
void *strmap_del(struct strmap *m, const char *key);

/* How many keys 'm' holds. */
size_t strmap_count(const struct strmap *m);

/* Calls 'fn' for every entry, in no particular order.  'fn' must not
 * change the map. */
void strmap_each(const struct strmap *m,
                 void (*fn)(const char *key, void *value, void *cls),
                 void *cls);

#endif
