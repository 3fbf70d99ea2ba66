/* Snapshot image of the whole state machine (format in docs/meta_fsm.md): little-endian
 * fixed-width fields, inodes in inode-number order, directory entries and xattrs in name
 * order, sessions in client-id order, then a CRC32 of everything before it. Equal states give
 * equal bytes. Restore validates every field and the tree's shape before replacing state. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "metaserver/meta_fsm_internal.h"

static const char MAGIC[8] = {'C', 'F', 'S', 'M', 'E', 'T', 'A', '1'};
#define FORMAT_VERSION 1u

/* ---------------------------------------------------------------- writer */

struct wbuf {
    uint8_t *p;
    size_t len, cap;
    bool oom;
};

static void put(struct wbuf *w, const void *data, size_t n)
{
    if (w->oom) return;
    if (w->len + n > w->cap) {
        size_t ncap = w->cap ? w->cap : 4096;
        while (ncap < w->len + n)
            ncap *= 2;
        uint8_t *np = realloc(w->p, ncap);
        if (!np) {
            w->oom = true;
            return;
        }
        w->p = np;
        w->cap = ncap;
    }
    memcpy(w->p + w->len, data, n);
    w->len += n;
}

static void put_u(struct wbuf *w, uint64_t v, int bytes)
{
    uint8_t b[8];
    for (int i = 0; i < bytes; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    put(w, b, (size_t)bytes);
}

#define PUT8(w, v) put_u(w, (uint64_t)(v), 1)
#define PUT16(w, v) put_u(w, (uint64_t)(v), 2)
#define PUT32(w, v) put_u(w, (uint64_t)(v), 4)
#define PUT64(w, v) put_u(w, (uint64_t)(v), 8)

static int dentry_put(void *arg, const struct mf_dentry *d)
{
    struct wbuf *w = arg;
    PUT8(w, d->nlen);
    put(w, d->name, d->nlen);
    PUT64(w, d->ino);
    return 0;
}

static void inode_put(struct wbuf *w, const struct mf_inode *in)
{
    PUT64(w, in->ino);
    PUT8(w, in->type);
    PUT16(w, in->mode);
    PUT8(w, in->goal);
    PUT32(w, in->uid);
    PUT32(w, in->gid);
    PUT32(w, in->nlink);
    PUT64(w, in->size);
    PUT64(w, in->atime);
    PUT64(w, in->mtime);
    PUT64(w, in->ctime);
    PUT64(w, in->generation);
    uint32_t nx = 0;
    const struct mf_xattr *xs = in->ext ? in->ext->xattrs : NULL;
    for (const struct mf_xattr *x = xs; x; x = x->next)
        nx++;
    PUT32(w, nx);
    for (const struct mf_xattr *x = xs; x; x = x->next) {
        PUT8(w, x->nlen);
        put(w, x->data, x->nlen);
        PUT32(w, x->vlen);
        put(w, x->data + x->nlen + 1, x->vlen);
    }
    const struct mf_lease *l = in->ext ? in->ext->lease : NULL;
    PUT8(w, l != NULL);
    if (l) {
        PUT64(w, l->id);
        PUT64(w, l->client_id);
        PUT64(w, l->expiry_ns);
        PUT32(w, l->opens);
    }
    if (in->type == MF_FILE) {
        PUT32(w, in->nchunks);
        const struct mf_chunk *ch = mf_chunks_c(in);
        for (uint32_t i = 0; i < in->nchunks; i++) {
            PUT32(w, ch[i].index);
            PUT32(w, ch[i].length);
            PUT64(w, ch[i].id);
            PUT64(w, ch[i].version);
        }
    } else if (in->type == MF_DIR) {
        PUT64(w, in->ext->u.dir.parent);
        PUT64(w, in->ext->u.dir.count);
        mf_dir_walk(in->ext->u.dir.root, NULL, SIZE_MAX, dentry_put, w);
    } else {
        uint32_t tl = (uint32_t)strlen(in->ext->u.target);
        PUT32(w, tl);
        put(w, in->ext->u.target, tl);
    }
}

static int cmp_inode(const void *a, const void *b)
{
    uint64_t x = (*(struct mf_inode *const *)a)->ino, y = (*(struct mf_inode *const *)b)->ino;
    return x < y ? -1 : x > y;
}

static int cmp_session(const void *a, const void *b)
{
    uint64_t x = (*(struct mf_session *const *)a)->client_id;
    uint64_t y = (*(struct mf_session *const *)b)->client_id;
    return x < y ? -1 : x > y;
}

int meta_fsm_snapshot(const meta_fsm *fsm, uint8_t **buf, size_t *len)
{
    struct wbuf w = {0};
    size_t ni = fsm->inodes.n, ns = fsm->sessions.n;
    struct mf_inode **ins = malloc((ni ? ni : 1) * sizeof(*ins));
    struct mf_session **ss = malloc((ns ? ns : 1) * sizeof(*ss));
    if (!ins || !ss) {
        free(ins);
        free(ss);
        return -ENOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < fsm->inodes.cap; i++)
        if (fsm->inodes.slots[i]) ins[k++] = fsm->inodes.slots[i];
    qsort(ins, ni, sizeof(*ins), cmp_inode);
    k = 0;
    for (size_t i = 0; i < fsm->sessions.cap; i++)
        if (fsm->sessions.slots[i].key)
            ss[k++] = (struct mf_session *)(uintptr_t)fsm->sessions.slots[i].val;
    qsort(ss, ns, sizeof(*ss), cmp_session);

    put(&w, MAGIC, sizeof(MAGIC));
    PUT32(&w, FORMAT_VERSION);
    PUT64(&w, fsm->chunk_size);
    PUT64(&w, fsm->next_ino);
    PUT64(&w, fsm->next_chunk_id);
    PUT64(&w, fsm->next_lease_id);
    PUT64(&w, fsm->last_sweep_ns);
    uint32_t idlen = (uint32_t)strlen(fsm->cluster_id);
    PUT32(&w, idlen);
    put(&w, fsm->cluster_id, idlen);
    PUT64(&w, ni);
    for (size_t i = 0; i < ni; i++)
        inode_put(&w, ins[i]);
    PUT64(&w, ns);
    for (size_t i = 0; i < ns; i++) {
        const struct mf_session *s = ss[i];
        PUT64(&w, s->client_id);
        PUT64(&w, s->last_seen_ns);
        PUT64(&w, s->floor);
        PUT32(&w, s->n);
        for (uint32_t e = 0; e < s->n; e++) {
            PUT64(&w, s->ring[e].request_id);
            PUT32(&w, s->ring[e].len);
            put(&w, s->ring[e].resp, s->ring[e].len);
        }
    }
    PUT64(&w, fsm->deleted_n);
    for (size_t i = 0; i < fsm->deleted_n; i++) {
        PUT64(&w, fsm->deleted[fsm->deleted_head + i].chunk_id);
        PUT64(&w, fsm->deleted[fsm->deleted_head + i].version);
    }
    free(ins);
    free(ss);
    if (!w.oom) PUT32(&w, crc32_z(0L, w.p, w.len) & 0xffffffffu);
    if (w.oom) {
        free(w.p);
        return -ENOMEM;
    }
    *buf = w.p;
    *len = w.len;
    return 0;
}

/* ---------------------------------------------------------------- reader */

struct rbuf {
    const uint8_t *p;
    size_t len, off;
    bool bad;
};

static const uint8_t *take(struct rbuf *r, size_t n)
{
    if (r->bad || n > r->len - r->off) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *p = r->p + r->off;
    r->off += n;
    return p;
}

static uint64_t get_u(struct rbuf *r, int bytes)
{
    const uint8_t *b = take(r, (size_t)bytes);
    uint64_t v = 0;
    if (!b) return 0;
    for (int i = 0; i < bytes; i++)
        v |= (uint64_t)b[i] << (8 * i);
    return v;
}

#define GET8(r) ((uint8_t)get_u(r, 1))
#define GET16(r) ((uint16_t)get_u(r, 2))
#define GET32(r) ((uint32_t)get_u(r, 4))
#define GET64(r) get_u(r, 8)

static bool name_ok(const uint8_t *n, size_t len)
{
    if (len == 0 || len > META_FSM_NAME_MAX) return false;
    if (memchr(n, '/', len) || memchr(n, '\0', len)) return false;
    if ((len == 1 && n[0] == '.') || (len == 2 && n[0] == '.' && n[1] == '.')) return false;
    return true;
}

static int read_xattrs(struct rbuf *r, struct mf_inode *in)
{
    uint32_t nx = GET32(r);
    struct mf_xattr **tail = NULL;
    const char *prev = NULL;
    size_t prev_len = 0;
    for (uint32_t i = 0; i < nx && !r->bad; i++) {
        uint8_t nlen = GET8(r);
        const uint8_t *name = take(r, nlen);
        uint32_t vlen = GET32(r);
        const uint8_t *val = take(r, vlen);
        if (r->bad || nlen == 0 || memchr(name, '\0', nlen) || vlen > META_FSM_XATTR_VALUE_MAX)
            return -EINVAL;
        if (prev && mf_name_cmp(prev, prev_len, (const char *)name, nlen) >= 0) return -EINVAL;
        struct mf_xattr *x = malloc(sizeof(*x) + nlen + 1 + vlen);
        if (!x || !mf_ext_get(in)) {
            free(x);
            return -ENOMEM;
        }
        x->next = NULL;
        x->nlen = nlen;
        x->vlen = vlen;
        memcpy(x->data, name, nlen);
        x->data[nlen] = '\0';
        if (vlen) memcpy(x->data + nlen + 1, val, vlen);
        if (!tail) tail = &in->ext->xattrs;
        *tail = x;
        tail = &x->next;
        prev = x->data;
        prev_len = nlen;
    }
    return r->bad ? -EINVAL : 0;
}

static int read_lease(struct rbuf *r, meta_fsm *nf, struct mf_inode *in)
{
    uint8_t has = GET8(r);
    if (has > 1) return -EINVAL;
    if (!has) return 0;
    struct mf_lease tmp = {0};
    tmp.id = GET64(r);
    tmp.client_id = GET64(r);
    tmp.expiry_ns = (int64_t)GET64(r);
    tmp.opens = GET32(r);
    if (r->bad || in->type != MF_FILE || tmp.id == 0 || tmp.id >= nf->next_lease_id ||
        tmp.opens == 0 || tmp.client_id == 0)
        return -EINVAL;
    struct mf_lease *l = malloc(sizeof(*l));
    if (!l || !mf_ext_get(in)) {
        free(l);
        return -ENOMEM;
    }
    *l = tmp;
    l->ino = in->ino;
    int rc = mf_lease_link(nf, l);
    if (rc) {
        free(l);
        return rc;
    }
    in->ext->lease = l;
    return 0;
}

static int read_chunks(struct rbuf *r, meta_fsm *nf, struct mf_inode *in)
{
    uint32_t n = GET32(r);
    if (r->bad || (uint64_t)n * 24 > r->len - r->off) return -EINVAL;
    struct mf_chunk *m = NULL;
    if (n >= 2) {
        m = malloc(sizeof(*m) * ((n & (n - 1)) ? (size_t)1 << (64 - __builtin_clzll(n)) : n));
        if (!m) return -ENOMEM;
        in->ch.many = m;
    }
    in->nchunks = n;
    struct mf_chunk *dst = mf_chunks(in);
    for (uint32_t i = 0; i < n; i++) {
        struct mf_chunk c;
        c.index = GET32(r);
        c.length = GET32(r);
        c.id = GET64(r);
        c.version = GET64(r);
        if (r->bad || c.id == 0 || c.id >= nf->next_chunk_id || c.version == 0 ||
            c.length > nf->chunk_size || (i > 0 && c.index <= dst[i - 1].index))
            return -EINVAL; /* entries past i are never read by mf_fsm_clear */
        dst[i] = c;
        if (mf_cidx_push(&nf->chunks, c.id, in->ino) != 0) return -ENOMEM;
    }
    return 0;
}

static int read_dir(struct rbuf *r, meta_fsm *nf, struct mf_inode *in)
{
    uint64_t parent = GET64(r), count = GET64(r);
    if (r->bad || count > r->len - r->off) return -EINVAL;
    in->ext->u.dir.parent = parent;
    const struct mf_dentry *prev = NULL;
    for (uint64_t i = 0; i < count; i++) {
        uint8_t nlen = GET8(r);
        const uint8_t *name = take(r, nlen);
        uint64_t ino = GET64(r);
        if (r->bad || !name_ok(name, nlen) || ino == 0) return -EINVAL;
        if (prev && mf_name_cmp(prev->name, prev->nlen, (const char *)name, nlen) >= 0)
            return -EINVAL;
        if (mf_dir_add(nf, in, (const char *)name, nlen, ino) != 0) return -ENOMEM;
        prev = mf_dir_find(in, (const char *)name, nlen);
    }
    return 0;
}

static int read_inode(struct rbuf *r, meta_fsm *nf, uint64_t prev_ino, struct mf_inode **out)
{
    struct mf_inode *in = calloc(1, sizeof(*in));
    if (!in) return -ENOMEM;
    in->ino = GET64(r);
    in->type = GET8(r);
    in->mode = GET16(r);
    in->goal = GET8(r);
    in->uid = GET32(r);
    in->gid = GET32(r);
    in->nlink = GET32(r);
    in->size = GET64(r);
    in->atime = (int64_t)GET64(r);
    in->mtime = (int64_t)GET64(r);
    in->ctime = (int64_t)GET64(r);
    in->generation = GET64(r);
    if (r->bad || in->ino <= prev_ino || in->ino >= nf->next_ino || in->type < MF_FILE ||
        in->type > MF_SYMLINK || in->mode > 07777 || in->goal < 1 || in->goal > META_FSM_MAX_GOAL ||
        in->nlink == 0) {
        free(in);
        return -EINVAL;
    }
    if ((in->type != MF_FILE && !mf_ext_get(in)) || mf_iput(nf, in) != 0) {
        free(in->ext);
        free(in);
        return -ENOMEM;
    }
    /* From here on the inode is in the table: mf_fsm_clear frees it on failure. */
    *out = in;
    if (in->type == MF_FILE) nf->n_files++;
    if (in->type == MF_DIR) nf->n_dirs++;
    if (in->type == MF_SYMLINK) nf->n_symlinks++;
    int rc = read_xattrs(r, in);
    if (!rc) rc = read_lease(r, nf, in);
    if (rc) return rc;
    if (in->type == MF_FILE) {
        if (in->size > mf_max_file_size(nf)) return -EINVAL;
        return read_chunks(r, nf, in);
    }
    if (in->type == MF_DIR) return read_dir(r, nf, in);
    uint32_t tl = GET32(r);
    const uint8_t *t = take(r, tl);
    if (r->bad || tl == 0 || tl > META_FSM_SYMLINK_MAX || memchr(t, '\0', tl) || in->size != tl)
        return -EINVAL;
    in->ext->u.target = mf_strdup((const char *)t, tl);
    return in->ext->u.target ? 0 : -ENOMEM;
}

struct shape {
    const meta_fsm *fsm;
    struct mf_inode *dir;
    uint32_t *refs; /* by position in the sorted inode array */
    struct mf_inode **ins;
    size_t n;
    uint64_t *queue; /* BFS over directories */
    size_t qn;
    uint32_t subdirs;
    bool bad;
};

static size_t pos_of(const struct shape *s, uint64_t ino)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->ins[mid]->ino < ino)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int shape_visit(void *arg, const struct mf_dentry *d)
{
    struct shape *s = arg;
    size_t p = pos_of(s, d->ino);
    if (p == s->n || s->ins[p]->ino != d->ino || d->ino == MF_ROOT_INO) {
        s->bad = true;
        return 1;
    }
    struct mf_inode *child = s->ins[p];
    s->refs[p]++;
    if (child->type == MF_DIR) {
        s->subdirs++;
        if (s->refs[p] > 1 || child->ext->u.dir.parent != s->dir->ino) {
            s->bad = true;
            return 1;
        }
        s->queue[s->qn++] = child->ino;
    }
    return 0;
}

/* Link counts, parent pointers, one name per directory, everything reachable from "/". */
static int check_shape(meta_fsm *nf, struct mf_inode **ins, size_t n)
{
    struct mf_inode *root = mf_iget(nf, MF_ROOT_INO);
    if (!root || root->type != MF_DIR || root->ext->u.dir.parent != MF_ROOT_INO) return -EINVAL;
    struct shape s = {
        nf, NULL, calloc(n, sizeof(uint32_t)), ins, n, malloc(n * sizeof(uint64_t)), 0, 0, false};
    int rc = 0;
    if (!s.refs || !s.queue) {
        rc = -ENOMEM;
        goto out;
    }
    s.queue[s.qn++] = MF_ROOT_INO;
    for (size_t qi = 0; qi < s.qn && !s.bad; qi++) {
        s.dir = mf_iget(nf, s.queue[qi]);
        s.subdirs = 0;
        mf_dir_walk(s.dir->ext->u.dir.root, NULL, SIZE_MAX, shape_visit, &s);
        if (s.dir->nlink != 2 + s.subdirs) s.bad = true;
    }
    if (s.bad || s.qn != nf->n_dirs) {
        rc = -EINVAL;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (ins[i]->type != MF_DIR && ins[i]->nlink != s.refs[i]) {
            rc = -EINVAL;
            goto out;
        }
    }
out:
    free(s.refs);
    free(s.queue);
    return rc;
}

static int read_sessions(struct rbuf *r, meta_fsm *nf)
{
    uint64_t ns = GET64(r), prev = 0;
    if (r->bad || ns > r->len - r->off) return -EINVAL;
    for (uint64_t i = 0; i < ns; i++) {
        uint64_t id = GET64(r);
        if (r->bad || id <= prev) return -EINVAL;
        prev = id;
        struct mf_session *s = calloc(1, sizeof(*s));
        if (!s) return -ENOMEM;
        s->client_id = id;
        if (mf_kv_put(&nf->sessions, id, (uint64_t)(uintptr_t)s) != 0) {
            free(s);
            return -ENOMEM;
        }
        s->last_seen_ns = (int64_t)GET64(r);
        s->floor = GET64(r);
        uint32_t n = GET32(r);
        if (r->bad || n > MF_SESSION_WINDOW) return -EINVAL;
        if (n) {
            s->ring = calloc(n, sizeof(*s->ring));
            if (!s->ring) return -ENOMEM;
            s->cap = n;
        }
        for (uint32_t e = 0; e < n; e++) {
            uint64_t rid = GET64(r);
            uint32_t len = GET32(r);
            const uint8_t *data = take(r, len);
            if (r->bad) return -EINVAL;
            Chunkfs__MetaResponse *m = chunkfs__meta_response__unpack(NULL, len, data);
            if (!m) return -EINVAL;
            chunkfs__meta_response__free_unpacked(m, NULL);
            uint8_t *copy = malloc(len ? len : 1);
            if (!copy) return -ENOMEM;
            memcpy(copy, data, len);
            s->ring[s->n++] = (struct mf_sess_entry){rid, copy, len};
        }
    }
    return 0;
}

static int read_all(struct rbuf *r, meta_fsm *nf)
{
    const uint8_t *magic = take(r, sizeof(MAGIC));
    if (!magic || memcmp(magic, MAGIC, sizeof(MAGIC)) != 0) return -EINVAL;
    if (GET32(r) != FORMAT_VERSION) return -EINVAL;
    nf->chunk_size = GET64(r);
    nf->next_ino = GET64(r);
    nf->next_chunk_id = GET64(r);
    nf->next_lease_id = GET64(r);
    nf->last_sweep_ns = (int64_t)GET64(r);
    uint32_t idlen = GET32(r);
    const uint8_t *id = take(r, idlen);
    uint64_t cs = nf->chunk_size;
    if (r->bad || idlen >= sizeof(nf->cluster_id) || memchr(id, '\0', idlen) || cs == 0 ||
        (cs & (cs - 1)) || cs > (1u << 30) || nf->next_ino < 2 || nf->next_chunk_id == 0 ||
        nf->next_lease_id == 0)
        return -EINVAL;
    memcpy(nf->cluster_id, id, idlen);
    nf->cluster_id[idlen] = '\0';
    uint64_t ni = GET64(r);
    if (r->bad || ni == 0 || ni > r->len - r->off) return -EINVAL;
    struct mf_inode **ins = malloc(ni * sizeof(*ins));
    if (!ins) return -ENOMEM;
    int rc = 0;
    uint64_t prev = 0;
    for (uint64_t i = 0; i < ni && rc == 0; i++) {
        rc = read_inode(r, nf, prev, &ins[i]);
        if (rc == 0) prev = ins[i]->ino;
    }
    if (rc == 0) rc = mf_cidx_sort(&nf->chunks); /* also: no chunk id in two places */
    if (rc == 0) rc = check_shape(nf, ins, ni);
    free(ins);
    if (rc) return rc;
    rc = read_sessions(r, nf);
    if (rc) return rc;
    uint64_t nd = GET64(r);
    if (r->bad || nd > r->len - r->off) return -EINVAL;
    for (uint64_t i = 0; i < nd; i++) {
        uint64_t cid = GET64(r), ver = GET64(r);
        if (r->bad || cid == 0) return -EINVAL;
        if (mf_deleted_push(nf, cid, ver) != 0) return -ENOMEM;
    }
    return 0;
}

int meta_fsm_restore(meta_fsm *fsm, const uint8_t *buf, size_t len)
{
    if (!buf || len < sizeof(MAGIC) + 4 + 4) return -EINVAL;
    uint32_t want = (uint32_t)buf[len - 4] | (uint32_t)buf[len - 3] << 8 |
                    (uint32_t)buf[len - 2] << 16 | (uint32_t)buf[len - 1] << 24;
    if ((crc32_z(0L, buf, len - 4) & 0xffffffffu) != want) return -EINVAL;
    meta_fsm *nf = calloc(1, sizeof(*nf));
    if (!nf) return -ENOMEM;
    nf->hash_seed = fsm->hash_seed; /* process-local, not part of the image */
    struct rbuf r = {buf, len - 4, 0, false};
    int rc = read_all(&r, nf);
    if (rc == 0 && (r.bad || r.off != r.len)) rc = -EINVAL;
    if (rc) {
        mf_fsm_clear(nf);
        free(nf);
        return rc;
    }
    mf_fsm_clear(fsm);
    *fsm = *nf;
    free(nf);
    return 0;
}
