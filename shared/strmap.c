/* strmap.c - string-keyed open-addressing hash map. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "strmap.h"

struct strmap_slot {
    char *key; /* NULL: empty; strmap_tomb: removed */
    void *value;
};

struct strmap {
    struct strmap_slot *slots;
    size_t cap;   /* a power of two */
    size_t count; /* live keys */
    size_t used;  /* live keys and tombstones */
};

static char strmap_tomb_mark;
#define strmap_tomb (&strmap_tomb_mark)

static uint64_t strmap_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

struct strmap *strmap_new(void)
{
    struct strmap *m = calloc(1, sizeof(*m));

    if (m == NULL)
        return NULL;
    m->cap = 64;
    m->slots = calloc(m->cap, sizeof(*m->slots));
    if (m->slots == NULL) {
        free(m);
        return NULL;
    }
    return m;
}

void strmap_free(struct strmap *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].key != NULL && m->slots[i].key != strmap_tomb)
            free(m->slots[i].key);
    }
    free(m->slots);
    free(m);
}

/* The slot holding 'key', or NULL. */
static struct strmap_slot *strmap_find(const struct strmap *m, const char *key)
{
    size_t mask = m->cap - 1;

    for (size_t i = strmap_hash(key) & mask;; i = (i + 1) & mask) {
        struct strmap_slot *s = &m->slots[i];

        if (s->key == NULL)
            return NULL;
        if (s->key != strmap_tomb && strcmp(s->key, key) == 0)
            return s;
    }
}

void *strmap_get(const struct strmap *m, const char *key)
{
    struct strmap_slot *s = strmap_find(m, key);

    return s ? s->value : NULL;
}

static void strmap_insert(struct strmap *m, char *key, void *value)
{
    size_t mask = m->cap - 1;
    size_t i = strmap_hash(key) & mask;

    while (m->slots[i].key != NULL && m->slots[i].key != strmap_tomb)
        i = (i + 1) & mask;
    if (m->slots[i].key == NULL)
        m->used++;
    m->slots[i].key = key;
    m->slots[i].value = value;
    m->count++;
}

/* Rebuilds the table, dropping tombstones, growing when it is full. */
static int strmap_rehash(struct strmap *m)
{
    struct strmap_slot *old = m->slots;
    size_t oldcap = m->cap;
    size_t cap = m->count * 4 >= m->cap ? m->cap * 2 : m->cap;

    m->slots = calloc(cap, sizeof(*m->slots));
    if (m->slots == NULL) {
        m->slots = old;
        return -1;
    }
    m->cap = cap;
    m->count = m->used = 0;
    for (size_t i = 0; i < oldcap; i++) {
        if (old[i].key != NULL && old[i].key != strmap_tomb)
            strmap_insert(m, old[i].key, old[i].value);
    }
    free(old);
    return 0;
}

int strmap_put(struct strmap *m, const char *key, void *value)
{
    struct strmap_slot *s = strmap_find(m, key);
    char *copy;

    if (s != NULL) {
        s->value = value;
        return 0;
    }
    if ((m->used + 1) * 2 > m->cap && strmap_rehash(m) < 0)
        return -1;
    copy = strdup(key);
    if (copy == NULL)
        return -1;
    strmap_insert(m, copy, value);
    return 0;
}

void *strmap_del(struct strmap *m, const char *key)
{
    struct strmap_slot *s = strmap_find(m, key);
    void *value;

    if (s == NULL)
        return NULL;
    value = s->value;
    free(s->key);
    s->key = strmap_tomb;
    s->value = NULL;
    m->count--;
    return value;
}

size_t strmap_count(const struct strmap *m)
{
    return m->count;
}

void strmap_each(const struct strmap *m,
                 void (*fn)(const char *key, void *value, void *cls), void *cls)
{
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].key != NULL && m->slots[i].key != strmap_tomb)
            fn(m->slots[i].key, m->slots[i].value, cls);
    }
}
