/* Open-addressing hash set of nonces (linear probing) with a timestamp per entry; compaction
 * rebuilds into a second table of the same size, so steady state never allocates. */
#include "common/replay_cache.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct entry {
    uint8_t nonce[REPLAY_NONCE_LEN];
    int64_t ts;
    bool used;
};

struct replay_cache {
    struct entry *tab, *spare;
    int64_t *scratch; /* timestamps, for the median when compacting */
    size_t cap, count;
    int64_t window_ms;
    int64_t floor; /* ts <= floor is refused */
};

replay_cache *replay_cache_create(size_t capacity, int64_t window_ms)
{
    size_t cap = 16;
    while (cap < capacity && cap < ((size_t)1 << 30))
        cap <<= 1;
    replay_cache *rc = calloc(1, sizeof *rc);
    if (!rc) return NULL;
    rc->tab = calloc(cap, sizeof *rc->tab);
    rc->spare = calloc(cap, sizeof *rc->spare);
    rc->scratch = calloc(cap, sizeof *rc->scratch);
    if (!rc->tab || !rc->spare || !rc->scratch) {
        replay_cache_destroy(rc);
        return NULL;
    }
    rc->cap = cap;
    rc->window_ms = window_ms;
    rc->floor = INT64_MIN;
    return rc;
}

void replay_cache_destroy(replay_cache *rc)
{
    if (!rc) return;
    free(rc->tab);
    free(rc->spare);
    free(rc->scratch);
    free(rc);
}

size_t replay_cache_count(const replay_cache *rc)
{
    return rc ? rc->count : 0;
}

static size_t slot_of(const replay_cache *rc, const uint8_t *nonce)
{
    uint64_t a, b;
    memcpy(&a, nonce, 8);
    memcpy(&b, nonce + 8, 8);
    uint64_t h = (a ^ (b * 0x9e3779b97f4a7c15ull)) * 0xbf58476d1ce4e5b9ull;
    return (size_t)(h ^ (h >> 31)) & (rc->cap - 1);
}

/* Finds the nonce's slot, or the empty slot where it belongs. */
static struct entry *probe(struct entry *tab, const replay_cache *rc, const uint8_t *nonce)
{
    size_t i = slot_of(rc, nonce);
    while (tab[i].used && memcmp(tab[i].nonce, nonce, REPLAY_NONCE_LEN) != 0)
        i = (i + 1) & (rc->cap - 1);
    return &tab[i];
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Drops entries at or below `floor` into the spare table and swaps. */
static void rebuild_above(replay_cache *rc, int64_t floor)
{
    memset(rc->spare, 0, rc->cap * sizeof *rc->spare);
    size_t n = 0;
    for (size_t i = 0; i < rc->cap; i++) {
        if (!rc->tab[i].used || rc->tab[i].ts <= floor) continue;
        *probe(rc->spare, rc, rc->tab[i].nonce) = rc->tab[i];
        n++;
    }
    struct entry *t = rc->tab;
    rc->tab = rc->spare;
    rc->spare = t;
    rc->count = n;
    if (floor > rc->floor) rc->floor = floor;
}

/* Called when half full: forget what the window refuses anyway; if still over a quarter
 * full, forget the older half too (raising the floor to its newest timestamp). */
static void compact(replay_cache *rc, int64_t now_ms)
{
    rebuild_above(rc, now_ms - rc->window_ms - 1);
    if (rc->count < rc->cap / 4) return;
    size_t n = 0;
    for (size_t i = 0; i < rc->cap; i++)
        if (rc->tab[i].used) rc->scratch[n++] = rc->tab[i].ts;
    qsort(rc->scratch, n, sizeof *rc->scratch, cmp_i64);
    rebuild_above(rc, rc->scratch[n / 2]);
}

int replay_cache_check_add(replay_cache *rc, const uint8_t nonce[REPLAY_NONCE_LEN], int64_t ts_ms,
                           int64_t now_ms)
{
    if (ts_ms <= rc->floor) return -ESTALE;
    struct entry *e = probe(rc->tab, rc, nonce);
    if (e->used) return -EALREADY;
    memcpy(e->nonce, nonce, REPLAY_NONCE_LEN);
    e->ts = ts_ms;
    e->used = true;
    rc->count++;
    if (rc->count >= rc->cap / 2) compact(rc, now_ms);
    return 0;
}
