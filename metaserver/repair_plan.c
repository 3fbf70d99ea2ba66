#include "metaserver/repair_plan.h"

#include <stdlib.h>
#include <string.h>

static int cmp_item(const void *a, const void *b)
{
    const repair_item *x = a, *y = b;
    if (x->live != y->live) return x->live < y->live ? -1 : 1;
    int64_t dx = (int64_t)x->goal - x->live, dy = (int64_t)y->goal - y->live;
    if (dx != dy) return dx > dy ? -1 : 1;
    return x->chunk_id < y->chunk_id ? -1 : x->chunk_id > y->chunk_id;
}

void repair_order(repair_item *v, size_t n)
{
    if (v && n > 1) qsort(v, n, sizeof(*v), cmp_item);
}

static bool same_domain(const trim_replica *a, const trim_replica *b)
{
    /* An unlabelled server is its own domain. */
    if (!a->domain || !b->domain || !*a->domain || !*b->domain) return false;
    return strcmp(a->domain, b->domain) == 0;
}

/* a fuller than b: compare used/capacity without division (capacity 0 counts as full). */
static bool fuller(const trim_replica *a, const trim_replica *b)
{
    if (a->capacity == 0 || b->capacity == 0) {
        if ((a->capacity == 0) != (b->capacity == 0)) return a->capacity == 0;
        return a->server_id > b->server_id;
    }
    unsigned __int128 l = (unsigned __int128)a->used * b->capacity;
    unsigned __int128 r = (unsigned __int128)b->used * a->capacity;
    if (l != r) return l > r;
    return a->server_id > b->server_id;
}

int repair_pick_trim(const trim_replica *reps, size_t n)
{
    if (!reps || n == 0) return -1;
    /* Class 2: draining, 1: duplicate domain, 0: the rest; highest class, then fullest. */
    int best = -1, best_class = -1;
    for (size_t i = 0; i < n; i++) {
        int cls = 0;
        if (reps[i].draining) {
            cls = 2;
        } else {
            for (size_t j = 0; j < n && cls == 0; j++)
                if (j != i && !reps[j].draining && same_domain(&reps[i], &reps[j])) cls = 1;
        }
        if (cls > best_class || (cls == best_class && fuller(&reps[i], &reps[best]))) {
            best = (int)i;
            best_class = cls;
        }
    }
    return best;
}
