#include "fuse/inode_table.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

/* Open-addressing hash (linear probing, backward-shift deletion) keyed by inode number. */
struct slot {
    uint64_t ino; /* 0 = empty */
    uint64_t nlookup;
    uint64_t parent;
    uint64_t size;
    uint64_t generation;
    int64_t mtime_ns;
    bool has_version;
};

struct inode_table {
    pthread_mutex_t lock;
    struct slot *slots;
    size_t cap; /* power of two */
    size_t used;
};

static size_t hash_ino(uint64_t ino, size_t cap)
{
    ino ^= ino >> 33;
    ino *= 0xff51afd7ed558ccdULL;
    ino ^= ino >> 33;
    return (size_t)ino & (cap - 1);
}

static int64_t ns_of(struct timespec t)
{
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

inode_table *inode_table_new(void)
{
    inode_table *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->cap = 1024;
    t->slots = calloc(t->cap, sizeof *t->slots);
    if (!t->slots) {
        free(t);
        return NULL;
    }
    pthread_mutex_init(&t->lock, NULL);
    return t;
}

void inode_table_free(inode_table *t)
{
    if (!t) return;
    pthread_mutex_destroy(&t->lock);
    free(t->slots);
    free(t);
}

static struct slot *find(inode_table *t, uint64_t ino)
{
    for (size_t i = hash_ino(ino, t->cap);; i = (i + 1) & (t->cap - 1)) {
        if (t->slots[i].ino == ino) return &t->slots[i];
        if (t->slots[i].ino == 0) return NULL;
    }
}

static struct slot *insert_slot(struct slot *slots, size_t cap, uint64_t ino)
{
    size_t i = hash_ino(ino, cap);
    while (slots[i].ino != 0 && slots[i].ino != ino)
        i = (i + 1) & (cap - 1);
    return &slots[i];
}

static int grow(inode_table *t)
{
    size_t ncap = t->cap * 2;
    struct slot *ns = calloc(ncap, sizeof *ns);
    if (!ns) return -ENOMEM;
    for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i].ino) *insert_slot(ns, ncap, t->slots[i].ino) = t->slots[i];
    free(t->slots);
    t->slots = ns;
    t->cap = ncap;
    return 0;
}

static void remove_slot(inode_table *t, struct slot *s)
{
    size_t i = (size_t)(s - t->slots);
    t->slots[i].ino = 0;
    t->used--;
    /* Backward-shift: move later members of the probe run into the hole. */
    for (size_t j = (i + 1) & (t->cap - 1); t->slots[j].ino; j = (j + 1) & (t->cap - 1)) {
        size_t home = hash_ino(t->slots[j].ino, t->cap);
        bool between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!between) {
            t->slots[i] = t->slots[j];
            t->slots[j].ino = 0;
            i = j;
        }
    }
}

static void record_version(struct slot *s, const cfs_attr *a)
{
    s->size = a->size;
    s->generation = a->generation;
    s->mtime_ns = ns_of(a->mtime);
    s->has_version = true;
}

int inode_table_add_ref(inode_table *t, const cfs_attr *a, uint64_t parent)
{
    pthread_mutex_lock(&t->lock);
    struct slot *s = find(t, a->ino);
    if (!s) {
        if ((t->used + 1) * 4 > t->cap * 3 && grow(t) != 0) {
            pthread_mutex_unlock(&t->lock);
            return -ENOMEM;
        }
        s = insert_slot(t->slots, t->cap, a->ino);
        *s = (struct slot){.ino = a->ino};
        t->used++;
    }
    s->nlookup++;
    if (parent && S_ISDIR(a->mode)) s->parent = parent;
    record_version(s, a);
    pthread_mutex_unlock(&t->lock);
    return 0;
}

void inode_table_forget(inode_table *t, uint64_t ino, uint64_t n)
{
    pthread_mutex_lock(&t->lock);
    struct slot *s = find(t, ino);
    if (s) {
        s->nlookup = s->nlookup > n ? s->nlookup - n : 0;
        if (s->nlookup == 0) remove_slot(t, s);
    }
    pthread_mutex_unlock(&t->lock);
}

void inode_table_update(inode_table *t, const cfs_attr *a)
{
    pthread_mutex_lock(&t->lock);
    struct slot *s = find(t, a->ino);
    if (s) record_version(s, a);
    pthread_mutex_unlock(&t->lock);
}

void inode_table_set_parent(inode_table *t, uint64_t ino, uint64_t parent)
{
    pthread_mutex_lock(&t->lock);
    struct slot *s = find(t, ino);
    if (s) s->parent = parent;
    pthread_mutex_unlock(&t->lock);
}

uint64_t inode_table_parent(inode_table *t, uint64_t ino)
{
    if (ino == CFS_ROOT_INO) return CFS_ROOT_INO;
    pthread_mutex_lock(&t->lock);
    struct slot *s = find(t, ino);
    uint64_t p = s ? s->parent : 0;
    pthread_mutex_unlock(&t->lock);
    return p;
}

bool inode_table_data_unchanged(inode_table *t, const cfs_attr *a)
{
    pthread_mutex_lock(&t->lock);
    struct slot *s = find(t, a->ino);
    bool same = s && s->has_version && s->size == a->size && s->generation == a->generation &&
                s->mtime_ns == ns_of(a->mtime);
    if (s) record_version(s, a);
    pthread_mutex_unlock(&t->lock);
    return same;
}

uint64_t inode_table_count(inode_table *t)
{
    pthread_mutex_lock(&t->lock);
    uint64_t n = t->used;
    pthread_mutex_unlock(&t->lock);
    return n;
}
