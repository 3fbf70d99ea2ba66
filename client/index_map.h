#ifndef CFS_CLIENT_INDEX_MAP_H
#define CFS_CLIENT_INDEX_MAP_H
/* A small hash map from a chunk index (uint32) to a pointer, open addressing with linear
 * probing. Pure and not thread-safe: callers lock around it. */
#include <stddef.h>
#include <stdint.h>

typedef struct index_map {
    uint32_t *keys;
    void **vals; /* NULL = empty slot */
    size_t cap;  /* power of two or 0 */
    size_t count;
} index_map;

void index_map_init(index_map *m);
/* Frees the table (not the values). */
void index_map_free(index_map *m);
/* Value for key or NULL. */
void *index_map_get(const index_map *m, uint32_t key);
/* Sets key -> val (val must not be NULL); returns the previous value or NULL.
 * -ENOMEM is reported through *err (0 on success). */
void *index_map_put(index_map *m, uint32_t key, void *val, int *err);
/* Removes key; returns its value or NULL. */
void *index_map_del(index_map *m, uint32_t key);
/* Iteration: for (size_t i = 0; i < m->cap; i++) if (m->vals[i]) ... ; do not modify the map
 * while iterating. */

#endif
