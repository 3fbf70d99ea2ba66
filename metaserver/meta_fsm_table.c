/* Lookup structures of meta_fsm: open-addressing hash tables (linear probing, backward-shift
 * deletion; power-of-two capacities grown at 75 % load) for inode pointers keyed by inode
 * number and for u64 -> u64 maps (sessions), and the sorted chunk id index. */
#include <stdlib.h>
#include <string.h>

#include "metaserver/meta_fsm_internal.h"

static size_t mix(uint64_t k, size_t cap)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return (size_t)k & (cap - 1);
}

struct mf_inode *mf_iget(const meta_fsm *fsm, uint64_t ino)
{
    const struct mf_itable *t = &fsm->inodes;
    if (t->cap == 0) return NULL;
    for (size_t i = mix(ino, t->cap);; i = (i + 1) & (t->cap - 1)) {
        struct mf_inode *in = t->slots[i];
        if (!in) return NULL;
        if (in->ino == ino) return in;
    }
}

static void iinsert(struct mf_itable *t, struct mf_inode *in)
{
    size_t i = mix(in->ino, t->cap);
    while (t->slots[i])
        i = (i + 1) & (t->cap - 1);
    t->slots[i] = in;
    t->n++;
}

int mf_iput(meta_fsm *fsm, struct mf_inode *in)
{
    struct mf_itable *t = &fsm->inodes;
    if ((t->n + 1) * 4 > t->cap * 3) {
        size_t ncap = t->cap ? t->cap * 2 : 64;
        struct mf_inode **ns = calloc(ncap, sizeof(*ns));
        if (!ns) return -ENOMEM;
        struct mf_itable nt = {ns, ncap, 0};
        for (size_t i = 0; i < t->cap; i++)
            if (t->slots[i]) iinsert(&nt, t->slots[i]);
        free(t->slots);
        *t = nt;
    }
    iinsert(t, in);
    return 0;
}

void mf_idel(meta_fsm *fsm, uint64_t ino)
{
    struct mf_itable *t = &fsm->inodes;
    if (t->cap == 0) return;
    size_t mask = t->cap - 1, i = mix(ino, t->cap);
    while (t->slots[i] && t->slots[i]->ino != ino)
        i = (i + 1) & mask;
    if (!t->slots[i]) return;
    t->slots[i] = NULL;
    t->n--;
    /* Backward shift: move later members of the probe run into the hole when allowed. */
    for (size_t j = (i + 1) & mask; t->slots[j]; j = (j + 1) & mask) {
        size_t home = mix(t->slots[j]->ino, t->cap);
        bool movable = (i <= j) ? (home <= i || home > j) : (home <= i && home > j);
        if (movable) {
            t->slots[i] = t->slots[j];
            t->slots[j] = NULL;
            i = j;
        }
    }
}

void mf_itable_free(struct mf_itable *t)
{
    free(t->slots);
    t->slots = NULL;
    t->cap = t->n = 0;
}

static void kvinsert(struct mf_kvtable *t, uint64_t key, uint64_t val)
{
    size_t i = mix(key, t->cap);
    while (t->slots[i].key && t->slots[i].key != key)
        i = (i + 1) & (t->cap - 1);
    if (!t->slots[i].key) t->n++;
    t->slots[i].key = key;
    t->slots[i].val = val;
}

int mf_kv_put(struct mf_kvtable *t, uint64_t key, uint64_t val)
{
    if (key == 0) return -EINVAL;
    if (mf_kv_get(t, key, NULL)) {
        kvinsert(t, key, val); /* replaces in place: never grows, never fails */
        return 0;
    }
    if ((t->n + 1) * 4 > t->cap * 3) {
        size_t ncap = t->cap ? t->cap * 2 : 64;
        struct mf_kv *ns = calloc(ncap, sizeof(*ns));
        if (!ns) return -ENOMEM;
        struct mf_kvtable nt = {ns, ncap, 0};
        for (size_t i = 0; i < t->cap; i++)
            if (t->slots[i].key) kvinsert(&nt, t->slots[i].key, t->slots[i].val);
        free(t->slots);
        *t = nt;
    }
    kvinsert(t, key, val);
    return 0;
}

bool mf_kv_get(const struct mf_kvtable *t, uint64_t key, uint64_t *val)
{
    if (t->cap == 0 || key == 0) return false;
    for (size_t i = mix(key, t->cap);; i = (i + 1) & (t->cap - 1)) {
        if (t->slots[i].key == 0) return false;
        if (t->slots[i].key == key) {
            if (val) *val = t->slots[i].val;
            return true;
        }
    }
}

void mf_kv_del(struct mf_kvtable *t, uint64_t key)
{
    if (t->cap == 0 || key == 0) return;
    size_t mask = t->cap - 1, i = mix(key, t->cap);
    while (t->slots[i].key && t->slots[i].key != key)
        i = (i + 1) & mask;
    if (!t->slots[i].key) return;
    t->slots[i].key = 0;
    t->n--;
    for (size_t j = (i + 1) & mask; t->slots[j].key; j = (j + 1) & mask) {
        size_t home = mix(t->slots[j].key, t->cap);
        bool movable = (i <= j) ? (home <= i || home > j) : (home <= i && home > j);
        if (movable) {
            t->slots[i] = t->slots[j];
            t->slots[j].key = 0;
            i = j;
        }
    }
}

void mf_kv_free(struct mf_kvtable *t)
{
    free(t->slots);
    t->slots = NULL;
    t->cap = t->n = 0;
}

static size_t cidx_find(const struct mf_cindex *x, uint64_t id)
{
    size_t lo = 0, hi = x->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (x->a[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int mf_cidx_push(struct mf_cindex *x, uint64_t id, uint64_t ino)
{
    if (x->n == x->cap) {
        /* Grow by a quarter: the array is the bulk of the index, so keep slack small. */
        size_t ncap = x->cap + x->cap / 4 + 64;
        struct mf_cref *na = realloc(x->a, ncap * sizeof(*na));
        if (!na) return -ENOMEM;
        x->a = na;
        x->cap = ncap;
    }
    x->a[x->n++] = (struct mf_cref){id, ino};
    return 0;
}

int mf_cidx_append(struct mf_cindex *x, uint64_t id, uint64_t ino)
{
    if (x->n && x->a[x->n - 1].id >= id) return -EINVAL;
    return mf_cidx_push(x, id, ino);
}

static int cmp_cref(const void *a, const void *b)
{
    uint64_t x = ((const struct mf_cref *)a)->id, y = ((const struct mf_cref *)b)->id;
    return x < y ? -1 : x > y;
}

int mf_cidx_sort(struct mf_cindex *x)
{
    if (x->n < 2) return 0;
    qsort(x->a, x->n, sizeof(*x->a), cmp_cref);
    for (size_t i = 1; i < x->n; i++)
        if (x->a[i - 1].id == x->a[i].id) return -EINVAL;
    return 0;
}

bool mf_cidx_get(const struct mf_cindex *x, uint64_t id, uint64_t *ino)
{
    size_t p = cidx_find(x, id);
    if (p == x->n || x->a[p].id != id || x->a[p].ino == 0) return false;
    if (ino) *ino = x->a[p].ino;
    return true;
}

void mf_cidx_del(struct mf_cindex *x, uint64_t id)
{
    size_t p = cidx_find(x, id);
    if (p == x->n || x->a[p].id != id || x->a[p].ino == 0) return;
    x->a[p].ino = 0;
    x->dead++;
    if (x->dead < 1024 || x->dead * 4 < x->n) return;
    size_t k = 0;
    for (size_t i = 0; i < x->n; i++)
        if (x->a[i].ino) x->a[k++] = x->a[i];
    x->n = k;
    x->dead = 0;
    size_t ncap = k + k / 4 + 64;
    struct mf_cref *na = realloc(x->a, ncap * sizeof(*na));
    if (na) { /* on failure the larger array simply stays */
        x->a = na;
        x->cap = ncap;
    }
}

size_t mf_cidx_live(const struct mf_cindex *x)
{
    return x->n - x->dead;
}

void mf_cidx_free(struct mf_cindex *x)
{
    free(x->a);
    memset(x, 0, sizeof(*x));
}
