#include "metaserver/lock_table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define LT_BUCKETS 1024

/* Locks of one inode: a small unsorted array (few locks per file in practice). */
typedef struct ino_locks {
    uint64_t ino;
    lock_desc *v;
    size_t n, cap;
    struct ino_locks *next;
} ino_locks;

struct lock_table {
    ino_locks *buckets[LT_BUCKETS];
};

static size_t bucket_of(uint64_t ino)
{
    return (size_t)((ino * 0x9e3779b97f4a7c15ULL) >> 54) % LT_BUCKETS;
}

lock_table *lock_table_create(void)
{
    return calloc(1, sizeof(lock_table));
}

void lock_table_destroy(lock_table *t)
{
    if (!t) return;
    for (size_t b = 0; b < LT_BUCKETS; b++) {
        ino_locks *il = t->buckets[b];
        while (il) {
            ino_locks *next = il->next;
            free(il->v);
            free(il);
            il = next;
        }
    }
    free(t);
}

static ino_locks *find_ino(const lock_table *t, uint64_t ino)
{
    for (ino_locks *il = t->buckets[bucket_of(ino)]; il; il = il->next)
        if (il->ino == ino) return il;
    return NULL;
}

static void drop_ino_if_empty(lock_table *t, uint64_t ino)
{
    ino_locks **pp = &t->buckets[bucket_of(ino)];
    while (*pp) {
        if ((*pp)->ino == ino) {
            if ((*pp)->n == 0) {
                ino_locks *dead = *pp;
                *pp = dead->next;
                free(dead->v);
                free(dead);
            }
            return;
        }
        pp = &(*pp)->next;
    }
}

static int reserve(ino_locks *il, size_t extra)
{
    if (il->n + extra <= il->cap) return 0;
    size_t cap = il->cap ? il->cap * 2 : 4;
    while (cap < il->n + extra)
        cap *= 2;
    lock_desc *v = realloc(il->v, cap * sizeof(*v));
    if (!v) return -ENOMEM;
    il->v = v;
    il->cap = cap;
    return 0;
}

static bool same_owner(const lock_desc *a, const lock_desc *b)
{
    return a->client_id == b->client_id && a->owner == b->owner && a->flock == b->flock;
}

static bool overlaps(const lock_desc *a, const lock_desc *b)
{
    return a->start <= b->end && b->start <= a->end;
}

/* Normalises a request: flock locks cover the whole file. */
static int normalise(const lock_desc *in, lock_desc *out)
{
    if (in->type > LOCK_T_WRITE) return -EINVAL;
    *out = *in;
    if (out->flock) {
        out->start = 0;
        out->end = UINT64_MAX;
    }
    if (out->start > out->end) return -EINVAL;
    return 0;
}

static const lock_desc *find_conflict(const ino_locks *il, const lock_desc *req)
{
    if (!il || req->type == LOCK_T_UNLOCK) return NULL;
    for (size_t i = 0; i < il->n; i++) {
        const lock_desc *l = &il->v[i];
        if (l->flock != req->flock || same_owner(l, req) || !overlaps(l, req)) continue;
        if (l->type == LOCK_T_WRITE || req->type == LOCK_T_WRITE) return l;
    }
    return NULL;
}

int lock_table_test(lock_table *t, uint64_t ino, const lock_desc *req, lock_desc *conflict)
{
    lock_desc r;
    int rc = normalise(req, &r);
    if (rc) return rc;
    const lock_desc *c = find_conflict(find_ino(t, ino), &r);
    if (conflict) {
        if (c) {
            *conflict = *c;
        } else {
            memset(conflict, 0, sizeof(*conflict));
            conflict->type = LOCK_T_UNLOCK;
        }
    }
    return 0;
}

int lock_table_set(lock_table *t, uint64_t ino, const lock_desc *req, lock_desc *conflict)
{
    lock_desc r;
    int rc = normalise(req, &r);
    if (rc) return rc;
    ino_locks *il = find_ino(t, ino);
    const lock_desc *c = find_conflict(il, &r);
    if (c) {
        if (conflict) *conflict = *c;
        return -EAGAIN;
    }
    if (!il) {
        if (r.type == LOCK_T_UNLOCK) return 0;
        il = calloc(1, sizeof(*il));
        if (!il) return -ENOMEM;
        il->ino = ino;
        size_t b = bucket_of(ino);
        il->next = t->buckets[b];
        t->buckets[b] = il;
    }
    /* Worst case: one split (+1) and the new lock (+1). Reserve first so that the carve
     * below cannot fail half-way. */
    if (reserve(il, 2) != 0) {
        drop_ino_if_empty(t, ino);
        return -ENOMEM;
    }
    /* Merge the owner's same-type locks that overlap or touch the new range into it. */
    if (r.type != LOCK_T_UNLOCK) {
        bool merged = true;
        while (merged) {
            merged = false;
            for (size_t i = 0; i < il->n; i++) {
                lock_desc *l = &il->v[i];
                if (!same_owner(l, &r) || l->type != r.type) continue;
                bool touch = overlaps(l, &r) || (l->end != UINT64_MAX && l->end + 1 == r.start) ||
                             (r.end != UINT64_MAX && r.end + 1 == l->start);
                if (!touch) continue;
                if (l->start < r.start) r.start = l->start;
                if (l->end > r.end) r.end = l->end;
                il->v[i] = il->v[--il->n];
                merged = true;
                break;
            }
        }
    }
    /* Carve the range out of the owner's remaining locks. */
    size_t n = il->n;
    for (size_t i = 0; i < n;) {
        lock_desc *l = &il->v[i];
        if (!same_owner(l, &r) || !overlaps(l, &r)) {
            i++;
            continue;
        }
        bool left = l->start<r.start, right = l->end> r.end;
        if (left && right) {
            lock_desc tail = *l;
            tail.start = r.end + 1;
            l->end = r.start - 1;
            il->v[il->n++] = tail; /* room reserved above; not revisited (i < n) */
            i++;
        } else if (left) {
            l->end = r.start - 1;
            i++;
        } else if (right) {
            l->start = r.end + 1;
            i++;
        } else {
            il->v[i] = il->v[n - 1];
            il->v[n - 1] = il->v[il->n - 1];
            il->n--;
            n--;
        }
    }
    if (r.type != LOCK_T_UNLOCK) il->v[il->n++] = r;
    drop_ino_if_empty(t, ino);
    return 0;
}

void lock_table_release_owner(lock_table *t, uint64_t ino, uint64_t client_id, uint64_t owner)
{
    ino_locks *il = find_ino(t, ino);
    if (!il) return;
    for (size_t i = 0; i < il->n;) {
        if (il->v[i].client_id == client_id && il->v[i].owner == owner)
            il->v[i] = il->v[--il->n];
        else
            i++;
    }
    drop_ino_if_empty(t, ino);
}

void lock_table_release_client(lock_table *t, uint64_t client_id)
{
    for (size_t b = 0; b < LT_BUCKETS; b++) {
        ino_locks **pp = &t->buckets[b];
        while (*pp) {
            ino_locks *il = *pp;
            for (size_t i = 0; i < il->n;) {
                if (il->v[i].client_id == client_id)
                    il->v[i] = il->v[--il->n];
                else
                    i++;
            }
            if (il->n == 0) {
                *pp = il->next;
                free(il->v);
                free(il);
            } else {
                pp = &il->next;
            }
        }
    }
}

size_t lock_table_count(const lock_table *t, uint64_t ino)
{
    const ino_locks *il = find_ino(t, ino);
    return il ? il->n : 0;
}
