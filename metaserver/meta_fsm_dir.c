/* Directories: a treap of entries per directory, ordered by name (bytewise), so lookups are
 * O(log n) and readdir pages resume after a name cursor: an entry present for the whole
 * listing is returned exactly once however many entries come and go between pages.
 * Priorities are a keyed hash of the name (see name_prio); the key only changes the shape,
 * which no output depends on, so replicas with different keys stay identical. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "metaserver/meta_fsm_internal.h"

/* Priority of a name: a keyed hash, so names cannot be chosen to unbalance the tree (a
 * degenerate treap would make lookups linear and the recursive insert/merge/walk deep). The
 * key is process-local: the shape never shows in any output, only in speed. Recomputed rather
 * than stored, which keeps dentries in a smaller malloc size class; only inserts and removals
 * need it (O(log n) hashes of short names). */
static uint64_t name_prio(uint64_t seed, const char *name, size_t len)
{
    uint64_t h = seed ^ (0x9e3779b97f4a7c15ull * (len + 1));
    for (size_t i = 0; i < len; i++) {
        h ^= (uint8_t)name[i];
        h *= 0xff51afd7ed558ccdull;
        h ^= h >> 29;
    }
    h ^= seed >> 7;
    h *= 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 32);
}

static uint64_t prio(uint64_t seed, const struct mf_dentry *d)
{
    return name_prio(seed, d->name, d->nlen);
}

int mf_name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c) return c;
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

struct mf_dentry *mf_dir_find(const struct mf_inode *dir, const char *name, size_t nlen)
{
    struct mf_dentry *d = dir->ext->u.dir.root;
    while (d) {
        int c = mf_name_cmp(name, nlen, d->name, d->nlen);
        if (c == 0) return d;
        d = c < 0 ? d->l : d->r;
    }
    return NULL;
}

static struct mf_dentry *rot_right(struct mf_dentry *t)
{
    struct mf_dentry *l = t->l;
    t->l = l->r;
    l->r = t;
    return l;
}

static struct mf_dentry *rot_left(struct mf_dentry *t)
{
    struct mf_dentry *r = t->r;
    t->r = r->l;
    r->l = t;
    return r;
}

static struct mf_dentry *insert(uint64_t seed, struct mf_dentry *t, struct mf_dentry *n)
{
    if (!t) return n;
    if (mf_name_cmp(n->name, n->nlen, t->name, t->nlen) < 0) {
        t->l = insert(seed, t->l, n);
        if (prio(seed, t->l) > prio(seed, t)) t = rot_right(t);
    } else {
        t->r = insert(seed, t->r, n);
        if (prio(seed, t->r) > prio(seed, t)) t = rot_left(t);
    }
    return t;
}

int mf_dir_add(const meta_fsm *fsm, struct mf_inode *dir, const char *name, size_t nlen,
               uint64_t ino)
{
    struct mf_dentry *n = malloc(offsetof(struct mf_dentry, name) + nlen);
    if (!n) return -ENOMEM;
    n->l = n->r = NULL;
    n->ino = ino;
    n->nlen = (uint8_t)nlen;
    memcpy(n->name, name, nlen);
    dir->ext->u.dir.root = insert(fsm->hash_seed, dir->ext->u.dir.root, n);
    dir->ext->u.dir.count++;
    return 0;
}

static struct mf_dentry *merge(uint64_t seed, struct mf_dentry *a, struct mf_dentry *b)
{
    if (!a) return b;
    if (!b) return a;
    if (prio(seed, a) > prio(seed, b)) {
        a->r = merge(seed, a->r, b);
        return a;
    }
    b->l = merge(seed, a, b->l);
    return b;
}

struct mf_dentry *mf_dir_remove(const meta_fsm *fsm, struct mf_inode *dir, const char *name,
                                size_t nlen)
{
    struct mf_dentry **link = &dir->ext->u.dir.root;
    while (*link) {
        int c = mf_name_cmp(name, nlen, (*link)->name, (*link)->nlen);
        if (c == 0) {
            struct mf_dentry *d = *link;
            *link = merge(fsm->hash_seed, d->l, d->r);
            d->l = d->r = NULL;
            dir->ext->u.dir.count--;
            return d;
        }
        link = c < 0 ? &(*link)->l : &(*link)->r;
    }
    return NULL;
}

void mf_dir_free_all(struct mf_dentry *root)
{
    /* Iterative (Morris-style flattening) so a deep tree cannot exhaust the stack. */
    while (root) {
        if (root->l) {
            struct mf_dentry *l = root->l;
            root->l = l->r;
            l->r = root;
            root = l;
        } else {
            struct mf_dentry *r = root->r;
            free(root);
            root = r;
        }
    }
}

int mf_dir_walk(const struct mf_dentry *t, const char *after, size_t after_len,
                int (*fn)(void *arg, const struct mf_dentry *d), void *arg)
{
    while (t) {
        bool greater = after_len == SIZE_MAX || mf_name_cmp(t->name, t->nlen, after, after_len) > 0;
        if (!greater) {
            t = t->r; /* this node and its left subtree are <= after */
            continue;
        }
        int rc = mf_dir_walk(t->l, after, after_len, fn, arg);
        if (rc) return rc;
        rc = fn(arg, t);
        if (rc) return rc;
        /* Everything right of t is > t > after: walk it without comparisons. */
        after = NULL;
        after_len = SIZE_MAX;
        t = t->r;
    }
    return 0;
}
