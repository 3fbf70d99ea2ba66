#include "fuse/dir_cache.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A name in a cached listing: in the (dir, name) hash and in its directory's list. */
struct name_ent {
    struct name_ent *hnext;
    struct name_ent *dprev, *dnext;
    uint64_t dir;
    uint64_t ino;
    uint32_t type; /* S_IFMT bits */
    char name[];
};

/* What is known about one inode: its attributes, and, for a directory, its listing and the
 * lookups that missed it. Freed as soon as it holds nothing. */
struct node {
    struct node *hnext;
    uint64_t ino;
    bool has_attr;
    uint64_t attr_epoch; /* attributes count only in the cache's current epoch */
    uint64_t attr_at;
    uint64_t forgot; /* `changes` when dir_cache_forget_attr last ran for it */
    cfs_attr attr;
    bool listed;
    uint64_t listed_at;
    struct name_ent *names; /* the listing, unordered */
    size_t n_names;
    unsigned misses;
    uint64_t first_miss;
    uint64_t refused_until;
};

struct dir_cache {
    pthread_mutex_t lock;
    uint64_t entry_ttl, attr_ttl;
    size_t max_entries, max_names;
    struct node **nodes;
    size_t node_cap, n_nodes; /* node_cap: power of two */
    struct name_ent **names;
    size_t name_cap, n_names;
    uint64_t changes;    /* bumped when a change begins or ends, and by forget_attr */
    uint64_t last_begin; /* token of the change that began last */
    uint64_t cleared;    /* `changes` at the last clear (per-node stamps were lost) */
    unsigned busy;       /* changes in flight */
    uint64_t attr_epoch; /* bumped to forget every attribute at once */
};

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

static uint64_t name_hash(uint64_t dir, const char *name)
{
    uint64_t h = 1469598103934665603ULL ^ mix(dir);
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return mix(h);
}

/* Doubles a chained table when it is as full as it is long (rehashing by `key`). */
#define GROW(tab, cap, count, type, key)                                                           \
    do {                                                                                           \
        if ((count) < (cap)) break;                                                                \
        size_t ncap_ = (cap)*2;                                                                    \
        type **nt_ = calloc(ncap_, sizeof *nt_);                                                   \
        if (!nt_) break; /* longer chains, still correct */                                        \
        for (size_t i_ = 0; i_ < (cap); i_++) {                                                    \
            type *e_ = (tab)[i_];                                                                  \
            while (e_) {                                                                           \
                type *next_ = e_->hnext;                                                           \
                size_t b_ = (size_t)(key(e_)) & (ncap_ - 1);                                       \
                e_->hnext = nt_[b_];                                                               \
                nt_[b_] = e_;                                                                      \
                e_ = next_;                                                                        \
            }                                                                                      \
        }                                                                                          \
        free(tab);                                                                                 \
        (tab) = nt_;                                                                               \
        (cap) = ncap_;                                                                             \
    } while (0)

#define NODE_KEY(n) mix((n)->ino)
#define NAME_KEY(e) name_hash((e)->dir, (e)->name)

dir_cache *dir_cache_new(uint64_t entry_ttl_ns, uint64_t attr_ttl_ns, size_t max_entries)
{
    dir_cache *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->entry_ttl = entry_ttl_ns;
    c->attr_ttl = attr_ttl_ns;
    c->max_entries = max_entries;
    c->max_names = max_entries * 8;
    c->node_cap = 256;
    c->name_cap = 1024;
    c->nodes = calloc(c->node_cap, sizeof *c->nodes);
    c->names = calloc(c->name_cap, sizeof *c->names);
    if (!c->nodes || !c->names) {
        free(c->nodes);
        free(c->names);
        free(c);
        return NULL;
    }
    pthread_mutex_init(&c->lock, NULL);
    return c;
}

static struct node *node_find(dir_cache *c, uint64_t ino)
{
    struct node *n = c->nodes[mix(ino) & (c->node_cap - 1)];
    while (n && n->ino != ino)
        n = n->hnext;
    return n;
}

static struct node *node_get(dir_cache *c, uint64_t ino)
{
    struct node *n = node_find(c, ino);
    if (n) return n;
    GROW(c->nodes, c->node_cap, c->n_nodes, struct node, NODE_KEY);
    n = calloc(1, sizeof *n);
    if (!n) return NULL;
    n->ino = ino;
    size_t b = mix(ino) & (c->node_cap - 1);
    n->hnext = c->nodes[b];
    c->nodes[b] = n;
    c->n_nodes++;
    return n;
}

static bool attr_valid(const dir_cache *c, const struct node *n)
{
    return n->has_attr && n->attr_epoch == c->attr_epoch;
}

/* Frees the node if it holds nothing any more. */
static void node_gc(dir_cache *c, struct node *n, uint64_t now)
{
    if (attr_valid(c, n) || n->listed || n->misses || n->refused_until > now) return;
    struct node **pp = &c->nodes[mix(n->ino) & (c->node_cap - 1)];
    while (*pp != n)
        pp = &(*pp)->hnext;
    *pp = n->hnext;
    c->n_nodes--;
    free(n);
}

static struct name_ent **name_slot(dir_cache *c, uint64_t dir, const char *name)
{
    struct name_ent **pp = &c->names[name_hash(dir, name) & (c->name_cap - 1)];
    while (*pp && ((*pp)->dir != dir || strcmp((*pp)->name, name) != 0))
        pp = &(*pp)->hnext;
    return pp;
}

static void name_unlink(dir_cache *c, struct node *d, struct name_ent *e)
{
    struct name_ent **pp = name_slot(c, e->dir, e->name);
    *pp = e->hnext;
    if (e->dprev)
        e->dprev->dnext = e->dnext;
    else
        d->names = e->dnext;
    if (e->dnext) e->dnext->dprev = e->dprev;
    d->n_names--;
    c->n_names--;
    free(e);
}

/* Adds (or re-points) `name` in the listing of d. Returns 0 or -ENOMEM. */
static int name_put(dir_cache *c, struct node *d, const char *name, uint64_t ino, uint32_t type)
{
    struct name_ent **pp = name_slot(c, d->ino, name);
    if (*pp) {
        (*pp)->ino = ino;
        (*pp)->type = type;
        return 0;
    }
    size_t len = strlen(name);
    struct name_ent *e = malloc(sizeof *e + len + 1);
    if (!e) return -ENOMEM;
    memcpy(e->name, name, len + 1);
    e->dir = d->ino;
    e->ino = ino;
    e->type = type;
    GROW(c->names, c->name_cap, c->n_names, struct name_ent, NAME_KEY);
    size_t b = name_hash(d->ino, name) & (c->name_cap - 1);
    e->hnext = c->names[b];
    c->names[b] = e;
    e->dprev = NULL;
    e->dnext = d->names;
    if (d->names) d->names->dprev = e;
    d->names = e;
    d->n_names++;
    c->n_names++;
    return 0;
}

static void listing_drop(dir_cache *c, struct node *d)
{
    while (d->names)
        name_unlink(c, d, d->names);
    d->listed = false;
}

/* The listing of `dir` if it is cached and fresh; an expired one is dropped on the way. */
static struct node *fresh_listing(dir_cache *c, uint64_t dir, uint64_t now)
{
    struct node *d = node_find(c, dir);
    if (!d || !d->listed) return NULL;
    if (now - d->listed_at >= c->entry_ttl) {
        listing_drop(c, d);
        node_gc(c, d, now);
        return NULL;
    }
    return d;
}

static struct name_ent *listed_name(dir_cache *c, struct node *d, const char *name)
{
    return d && d->listed ? *name_slot(c, d->ino, name) : NULL;
}

static void forget_attr_locked(dir_cache *c, uint64_t ino)
{
    struct node *n = node_find(c, ino);
    if (n) n->has_attr = false;
}

/* Non-directories with several names keep no attributes (see dir_cache_set_entry). */
static void store_attr(dir_cache *c, const cfs_attr *a, uint64_t now)
{
    if (!S_ISDIR(a->mode) && a->nlink > 1) {
        forget_attr_locked(c, a->ino);
        return;
    }
    struct node *n = node_get(c, a->ino);
    if (!n) return;
    n->attr = *a;
    n->has_attr = true;
    n->attr_epoch = c->attr_epoch;
    n->attr_at = now;
}

static void clear_locked(dir_cache *c)
{
    for (size_t i = 0; i < c->node_cap; i++) {
        struct node *n = c->nodes[i];
        while (n) {
            struct node *next = n->hnext;
            while (n->names) {
                struct name_ent *e = n->names;
                n->names = e->dnext;
                free(e);
            }
            free(n);
            n = next;
        }
        c->nodes[i] = NULL;
    }
    memset(c->names, 0, c->name_cap * sizeof *c->names);
    c->n_nodes = c->n_names = 0;
    c->cleared = c->changes;
}

/* Nodes left empty by forgotten attributes are not freed one by one: past a bound (where no
 * node pointer is held), everything goes. */
static void bound_nodes(dir_cache *c)
{
    if (c->n_nodes > c->max_names + c->max_entries) clear_locked(c);
}

void dir_cache_free(dir_cache *c)
{
    if (!c) return;
    clear_locked(c);
    free(c->nodes);
    free(c->names);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

dc_result dir_cache_lookup(dir_cache *c, uint64_t dir, const char *name, uint64_t now,
                           cfs_attr *out, uint64_t *left_ns)
{
    dc_result r = DC_MISS;
    pthread_mutex_lock(&c->lock);
    struct node *d = fresh_listing(c, dir, now);
    if (d) {
        struct name_ent *e = listed_name(c, d, name);
        if (!e) {
            r = DC_ABSENT;
        } else {
            struct node *n = node_find(c, e->ino);
            uint64_t ttl = c->entry_ttl < c->attr_ttl ? c->entry_ttl : c->attr_ttl;
            if (n && attr_valid(c, n) && now - n->attr_at < ttl) {
                *out = n->attr;
                r = DC_HIT;
                uint64_t list_left = c->entry_ttl - (now - d->listed_at);
                uint64_t attr_left = c->attr_ttl - (now - n->attr_at);
                if (left_ns) *left_ns = list_left < attr_left ? list_left : attr_left;
            }
        }
    }
    pthread_mutex_unlock(&c->lock);
    return r;
}

bool dir_cache_note_miss(dir_cache *c, uint64_t dir, uint64_t now)
{
    bool fetch = false;
    pthread_mutex_lock(&c->lock);
    /* A fresh listing that missed only lacks the attributes of one name: no refetch. */
    if (!fresh_listing(c, dir, now)) {
        struct node *d = node_get(c, dir);
        if (d && d->refused_until <= now) {
            if (d->misses && now - d->first_miss < c->entry_ttl) {
                d->misses = 0;
                fetch = true;
            } else {
                d->misses = 1;
                d->first_miss = now;
            }
        }
    }
    pthread_mutex_unlock(&c->lock);
    return fetch;
}

bool dir_cache_getattr(dir_cache *c, uint64_t ino, uint64_t now, cfs_attr *out, uint64_t *left_ns)
{
    bool ok = false;
    pthread_mutex_lock(&c->lock);
    struct node *n = node_find(c, ino);
    if (n && attr_valid(c, n) && S_ISDIR(n->attr.mode) && now - n->attr_at < c->attr_ttl) {
        *out = n->attr;
        ok = true;
        if (left_ns) *left_ns = c->attr_ttl - (now - n->attr_at);
    }
    pthread_mutex_unlock(&c->lock);
    return ok;
}

uint64_t dir_cache_fetch_begin(dir_cache *c)
{
    pthread_mutex_lock(&c->lock);
    bound_nodes(c);
    uint64_t t = c->changes;
    pthread_mutex_unlock(&c->lock);
    return t;
}

int dir_cache_fetch_install(dir_cache *c, uint64_t token, uint64_t dir, const cfs_dirent *ents,
                            size_t n, uint64_t now)
{
    int rc = 0;
    pthread_mutex_lock(&c->lock);
    if (c->changes != token || c->busy) {
        rc = -EAGAIN;
        goto out;
    }
    struct node *d = node_get(c, dir);
    if (!d) {
        rc = -ENOMEM;
        goto out;
    }
    if (n > c->max_entries) {
        d->refused_until = now + c->entry_ttl;
        rc = -E2BIG;
        goto out;
    }
    listing_drop(c, d);
    /* Bounded memory: past the total, every other listing goes. */
    if (c->n_names + n > c->max_names) {
        clear_locked(c);
        d = node_get(c, dir);
        if (!d) {
            rc = -ENOMEM;
            goto out;
        }
    }
    d->listed = true;
    d->listed_at = now;
    d->misses = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = name_put(c, d, ents[i].name, ents[i].ino, ents[i].mode & S_IFMT);
        if (rc == 0 && ents[i].has_attr) store_attr(c, &ents[i].attr, now);
    }
    if (rc < 0) listing_drop(c, d);
out:
    pthread_mutex_unlock(&c->lock);
    return rc;
}

void dir_cache_fetch_failed(dir_cache *c, uint64_t dir, uint64_t now)
{
    pthread_mutex_lock(&c->lock);
    struct node *d = node_get(c, dir);
    if (d) {
        d->misses = 0;
        d->refused_until = now + c->entry_ttl;
    }
    pthread_mutex_unlock(&c->lock);
}

uint64_t dir_cache_begin(dir_cache *c)
{
    pthread_mutex_lock(&c->lock);
    bound_nodes(c);
    uint64_t t = ++c->changes;
    c->last_begin = t;
    c->busy++;
    pthread_mutex_unlock(&c->lock);
    return t;
}

void dir_cache_end(dir_cache *c, uint64_t token)
{
    (void)token;
    pthread_mutex_lock(&c->lock);
    c->changes++;
    if (c->busy) c->busy--;
    pthread_mutex_unlock(&c->lock);
}

/* Attributes of `ino` a change reported may be kept only if it is the one change in flight,
 * none began since it did, and nothing changed the inode's attributes since it began:
 * otherwise they may be old already. */
static bool change_alone(dir_cache *c, uint64_t token, uint64_t ino)
{
    if (c->busy != 1 || c->last_begin != token || c->cleared > token) return false;
    const struct node *n = node_find(c, ino);
    return !n || n->forgot <= token;
}

void dir_cache_set_entry(dir_cache *c, uint64_t token, uint64_t dir, const char *name,
                         const cfs_attr *a, uint64_t now)
{
    pthread_mutex_lock(&c->lock);
    struct node *d = fresh_listing(c, dir, now);
    if (d) {
        struct name_ent *old = listed_name(c, d, name);
        if (old && old->ino != a->ino) forget_attr_locked(c, old->ino);
        if (name_put(c, d, name, a->ino, a->mode & S_IFMT) < 0) listing_drop(c, d);
    }
    if (change_alone(c, token, a->ino))
        store_attr(c, a, now);
    else
        forget_attr_locked(c, a->ino);
    pthread_mutex_unlock(&c->lock);
}

void dir_cache_remove_entry(dir_cache *c, uint64_t dir, const char *name)
{
    pthread_mutex_lock(&c->lock);
    struct node *d = node_find(c, dir);
    struct name_ent *e = listed_name(c, d, name);
    if (e) {
        forget_attr_locked(c, e->ino);
        name_unlink(c, d, e);
    }
    pthread_mutex_unlock(&c->lock);
}

void dir_cache_rename(dir_cache *c, uint64_t sdir, const char *sname, uint64_t ddir,
                      const char *dname, bool exchange)
{
    pthread_mutex_lock(&c->lock);
    struct node *s = node_find(c, sdir);
    struct node *d = node_find(c, ddir);
    struct name_ent *se = listed_name(c, s, sname);
    struct name_ent *de = listed_name(c, d, dname);
    /* What each name named before (0 = not known). */
    uint64_t s_ino = se ? se->ino : 0, d_ino = de ? de->ino : 0;
    uint32_t s_type = se ? se->type : 0, d_type = de ? de->type : 0;
    if (s_ino) forget_attr_locked(c, s_ino);
    if (d_ino) forget_attr_locked(c, d_ino);
    /* A moved inode we cannot name may have attributes cached: forget them all. */
    if (!s_ino || (exchange && !d_ino)) c->attr_epoch++;
    /* A listing without a name that was there is stale. */
    if (s && s->listed && !s_ino) listing_drop(c, s);
    if (exchange && d && d->listed && !d_ino) listing_drop(c, d);
    if (exchange) {
        if (s && s->listed && (!d_ino || name_put(c, s, sname, d_ino, d_type) < 0))
            listing_drop(c, s);
        if (d && d->listed && (!s_ino || name_put(c, d, dname, s_ino, s_type) < 0))
            listing_drop(c, d);
    } else {
        if (s && s->listed) name_unlink(c, s, se);
        if (d && d->listed && (!s_ino || name_put(c, d, dname, s_ino, s_type) < 0))
            listing_drop(c, d);
    }
    pthread_mutex_unlock(&c->lock);
}

void dir_cache_set_attr(dir_cache *c, uint64_t token, const cfs_attr *a, uint64_t now)
{
    pthread_mutex_lock(&c->lock);
    if (change_alone(c, token, a->ino))
        store_attr(c, a, now);
    else
        forget_attr_locked(c, a->ino);
    pthread_mutex_unlock(&c->lock);
}

void dir_cache_forget_attr(dir_cache *c, uint64_t ino)
{
    pthread_mutex_lock(&c->lock);
    /* Bumping `changes` keeps out a fetch that may have read the old attributes; the stamp
     * keeps out attributes a change in flight reports for this inode. */
    c->changes++;
    struct node *n = node_get(c, ino);
    if (n) {
        n->has_attr = false;
        n->forgot = c->changes;
    }
    pthread_mutex_unlock(&c->lock);
}

void dir_cache_drop_listing(dir_cache *c, uint64_t dir)
{
    pthread_mutex_lock(&c->lock);
    struct node *d = node_find(c, dir);
    if (d) listing_drop(c, d);
    pthread_mutex_unlock(&c->lock);
}

void dir_cache_clear(dir_cache *c)
{
    pthread_mutex_lock(&c->lock);
    clear_locked(c);
    pthread_mutex_unlock(&c->lock);
}

uint64_t dir_cache_entry_ino(dir_cache *c, uint64_t dir, const char *name)
{
    pthread_mutex_lock(&c->lock);
    struct name_ent *e = listed_name(c, node_find(c, dir), name);
    uint64_t ino = e ? e->ino : 0;
    pthread_mutex_unlock(&c->lock);
    return ino;
}

size_t dir_cache_names(dir_cache *c)
{
    pthread_mutex_lock(&c->lock);
    size_t n = c->n_names;
    pthread_mutex_unlock(&c->lock);
    return n;
}
