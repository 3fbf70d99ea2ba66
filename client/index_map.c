/* Open-addressing hash map from chunk index to pointer (see index_map.h). */
#include "client/index_map.h"

#include <errno.h>
#include <stdlib.h>

static size_t slot_of(uint32_t key, size_t cap)
{
    /* Fibonacci hashing spreads consecutive chunk indexes over the table. */
    return (size_t)((key * 2654435769u) & (uint32_t)(cap - 1));
}

void index_map_init(index_map *m)
{
    m->keys = NULL;
    m->vals = NULL;
    m->cap = 0;
    m->count = 0;
}

void index_map_free(index_map *m)
{
    free(m->keys);
    free(m->vals);
    index_map_init(m);
}

void *index_map_get(const index_map *m, uint32_t key)
{
    if (m->cap == 0) return NULL;
    for (size_t i = slot_of(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (!m->vals[i]) return NULL;
        if (m->keys[i] == key) return m->vals[i];
    }
}

static void raw_insert(uint32_t *keys, void **vals, size_t cap, uint32_t key, void *val)
{
    size_t i = slot_of(key, cap);
    while (vals[i] && keys[i] != key)
        i = (i + 1) & (cap - 1);
    keys[i] = key;
    vals[i] = val;
}

static int grow(index_map *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 16;
    uint32_t *nk = calloc(ncap, sizeof(*nk));
    void **nv = calloc(ncap, sizeof(*nv));
    if (!nk || !nv) {
        free(nk);
        free(nv);
        return -ENOMEM;
    }
    for (size_t i = 0; i < m->cap; i++)
        if (m->vals[i]) raw_insert(nk, nv, ncap, m->keys[i], m->vals[i]);
    free(m->keys);
    free(m->vals);
    m->keys = nk;
    m->vals = nv;
    m->cap = ncap;
    return 0;
}

void *index_map_put(index_map *m, uint32_t key, void *val, int *err)
{
    *err = 0;
    void *old = index_map_get(m, key);
    if (old) {
        raw_insert(m->keys, m->vals, m->cap, key, val);
        return old;
    }
    /* Keep the load factor under 1/2 so probes stay short. */
    if ((m->count + 1) * 2 > m->cap) {
        int rc = grow(m);
        if (rc < 0) {
            *err = rc;
            return NULL;
        }
    }
    raw_insert(m->keys, m->vals, m->cap, key, val);
    m->count++;
    return NULL;
}

void *index_map_del(index_map *m, uint32_t key)
{
    if (m->cap == 0) return NULL;
    size_t i = slot_of(key, m->cap);
    while (m->vals[i] && m->keys[i] != key)
        i = (i + 1) & (m->cap - 1);
    void *val = m->vals[i];
    if (!val) return NULL;
    m->vals[i] = NULL;
    m->count--;
    /* Re-insert the rest of the probe cluster so lookups do not stop at the new gap. */
    for (size_t j = (i + 1) & (m->cap - 1); m->vals[j]; j = (j + 1) & (m->cap - 1)) {
        uint32_t k = m->keys[j];
        void *v = m->vals[j];
        m->vals[j] = NULL;
        raw_insert(m->keys, m->vals, m->cap, k, v);
    }
    return val;
}
