/* The chunk map: each file's chunks (sorted by index, inline when there is one), the global
 * chunk id -> file index, allocation (new chunk or version bump), commit (the second phase of
 * a write), truncation, and the queue of deleted chunks the shell drains. */
#include <stdlib.h>
#include <string.h>

#include "metaserver/meta_fsm_internal.h"

struct mf_chunk *mf_chunks(struct mf_inode *in)
{
    return in->nchunks <= 1 ? &in->ch.one : in->ch.many;
}

const struct mf_chunk *mf_chunks_c(const struct mf_inode *in)
{
    return in->nchunks <= 1 ? &in->ch.one : in->ch.many;
}

/* Position of the first chunk with index >= `index`. */
static uint32_t chunk_pos(const struct mf_inode *in, uint32_t index)
{
    const struct mf_chunk *ch = mf_chunks_c(in);
    uint32_t lo = 0, hi = in->nchunks;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (ch[mid].index < index)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

struct mf_chunk *mf_chunk_at(struct mf_inode *in, uint32_t index)
{
    uint32_t p = chunk_pos(in, index);
    struct mf_chunk *ch = mf_chunks(in);
    return (p < in->nchunks && ch[p].index == index) ? &ch[p] : NULL;
}

/* Array capacity for n >= 2 chunks: the next power of two. */
static uint32_t chunk_cap(uint32_t n)
{
    uint32_t c = 2;
    while (c < n)
        c *= 2;
    return c;
}

static int chunk_insert(struct mf_inode *in, uint32_t pos, const struct mf_chunk *c)
{
    uint32_t n = in->nchunks;
    if (n == 0) {
        in->ch.one = *c;
        in->nchunks = 1;
        return 0;
    }
    if (n == UINT32_MAX) return -EFBIG;
    struct mf_chunk *m;
    if (n == 1) {
        m = malloc(2 * sizeof(*m));
        if (!m) return -ENOMEM;
        m[0] = in->ch.one;
    } else {
        m = in->ch.many;
        if (chunk_cap(n) == n) {
            m = realloc(m, (size_t)n * 2 * sizeof(*m));
            if (!m) return -ENOMEM;
        }
    }
    memmove(&m[pos + 1], &m[pos], (size_t)(n - pos) * sizeof(*m));
    m[pos] = *c;
    in->ch.many = m;
    in->nchunks = n + 1;
    return 0;
}

/* Keeps only the first n chunks (n < nchunks); dropped ones must be handled by the caller. */
static void chunk_keep(struct mf_inode *in, uint32_t n)
{
    if (in->nchunks <= 1 || n == in->nchunks) {
        in->nchunks = n;
        return;
    }
    struct mf_chunk *m = in->ch.many;
    if (n <= 1) {
        if (n == 1) in->ch.one = m[0];
        free(m);
        in->nchunks = n;
        return;
    }
    /* Shrink the array to its new capacity; on failure the bigger array is still valid. */
    struct mf_chunk *s = realloc(m, (size_t)chunk_cap(n) * sizeof(*m));
    in->ch.many = s ? s : m;
    in->nchunks = n;
}

uint64_t mf_max_file_size(const meta_fsm *fsm)
{
    uint64_t m = fsm->chunk_size << 32;
    return m > (uint64_t)INT64_MAX ? (uint64_t)INT64_MAX : m;
}

int mf_deleted_push(meta_fsm *fsm, uint64_t id, uint64_t version)
{
    if (fsm->deleted_head > 0 && fsm->deleted_head + fsm->deleted_n == fsm->deleted_cap) {
        memmove(fsm->deleted, fsm->deleted + fsm->deleted_head,
                fsm->deleted_n * sizeof(*fsm->deleted));
        fsm->deleted_head = 0;
    }
    if (fsm->deleted_head + fsm->deleted_n == fsm->deleted_cap) {
        size_t ncap = fsm->deleted_cap ? fsm->deleted_cap * 2 : 64;
        meta_deleted_chunk *d = realloc(fsm->deleted, ncap * sizeof(*d));
        if (!d) return -ENOMEM;
        fsm->deleted = d;
        fsm->deleted_cap = ncap;
    }
    fsm->deleted[fsm->deleted_head + fsm->deleted_n++] = (meta_deleted_chunk){id, version};
    return 0;
}

int mf_truncate_chunks(meta_fsm *fsm, struct mf_inode *in, uint64_t new_size)
{
    uint64_t cs = fsm->chunk_size;
    uint64_t first_gone = (new_size + cs - 1) / cs; /* chunks at index >= this are dropped */
    uint32_t keep = first_gone > UINT32_MAX ? in->nchunks : chunk_pos(in, (uint32_t)first_gone);
    struct mf_chunk *ch = mf_chunks(in);
    for (uint32_t i = keep; i < in->nchunks; i++) {
        mf_cidx_del(&fsm->chunks, ch[i].id);
        int rc = mf_deleted_push(fsm, ch[i].id, ch[i].version);
        if (rc) return rc;
    }
    if (keep > 0) {
        struct mf_chunk *last = &ch[keep - 1];
        uint64_t start = (uint64_t)last->index * cs;
        if (new_size - start < last->length) last->length = (uint32_t)(new_size - start);
    }
    chunk_keep(in, keep);
    return 0;
}

/* Deep copy of the placement chosen by the leader into a response ChunkInfo. */
static int copy_replicas(const Chunkfs__MetaCommand *cmd, Chunkfs__ChunkInfo *ci)
{
    ci->replicas = calloc(cmd->n_replicas, sizeof(*ci->replicas));
    if (!ci->replicas) return -ENOMEM;
    for (size_t i = 0; i < cmd->n_replicas; i++) {
        const Chunkfs__ChunkLocation *src = cmd->replicas[i];
        Chunkfs__ChunkLocation *l = malloc(sizeof(*l));
        if (!l) return -ENOMEM;
        chunkfs__chunk_location__init(l);
        ci->replicas[ci->n_replicas++] = l;
        l->server_id = src->server_id;
        l->address = mf_strdup(src->address, strlen(src->address));
        if (!l->address) return -ENOMEM;
        l->domain = mf_strdup(src->domain, strlen(src->domain));
        if (!l->domain) return -ENOMEM;
    }
    return 0;
}

static int chunks_resp(Chunkfs__MetaResponse *resp, const meta_fsm *fsm, const struct mf_inode *in,
                       size_t n, Chunkfs__ChunksResp **out)
{
    Chunkfs__ChunksResp *cr = malloc(sizeof(*cr));
    if (!cr) return -ENOMEM;
    chunkfs__chunks_resp__init(cr);
    resp->result_case = CHUNKFS__META_RESPONSE__RESULT_CHUNKS;
    resp->chunks = cr;
    cr->size = in->size;
    cr->chunk_size = fsm->chunk_size;
    if (n) {
        cr->chunks = calloc(n, sizeof(*cr->chunks));
        if (!cr->chunks) return -ENOMEM;
    }
    *out = cr;
    return 0;
}

static Chunkfs__ChunkInfo *chunk_info_add(Chunkfs__ChunksResp *cr, const struct mf_chunk *c)
{
    Chunkfs__ChunkInfo *ci = malloc(sizeof(*ci));
    if (!ci) return NULL;
    chunkfs__chunk_info__init(ci);
    ci->index = c->index;
    ci->chunk_id = c->id;
    ci->version = c->version;
    ci->length = c->length;
    cr->chunks[cr->n_chunks++] = ci;
    return ci;
}

static int writable_file(const meta_fsm *fsm, uint64_t ino, struct mf_inode **out)
{
    struct mf_inode *in = mf_iget(fsm, ino);
    if (!in) return -ENOENT;
    if (in->type == MF_DIR) return -EISDIR;
    if (in->type != MF_FILE) return -EINVAL;
    *out = in;
    return 0;
}

/* Adds a new chunk (version 1, empty) at `index`, which must not exist. */
static int chunk_new(meta_fsm *fsm, struct mf_inode *in, uint32_t index, struct mf_chunk *out)
{
    *out = (struct mf_chunk){fsm->next_chunk_id, 1, index, 0};
    int rc = mf_cidx_append(&fsm->chunks, out->id, in->ino);
    if (rc) return rc;
    rc = chunk_insert(in, chunk_pos(in, index), out);
    if (rc) {
        mf_cidx_del(&fsm->chunks, out->id);
        return rc;
    }
    fsm->next_chunk_id++;
    return 0;
}

int mf_alloc_first_chunk(struct mf_ctx *c, struct mf_inode *in, Chunkfs__OpenResp *o)
{
    if (c->cmd == NULL || c->cmd->n_replicas == 0 || in->nchunks != 0) return 0;
    struct mf_chunk now;
    int rc = chunk_new(c->fsm, in, 0, &now);
    if (rc) return rc;
    Chunkfs__ChunkInfo *ci = malloc(sizeof(*ci));
    if (!ci) return -ENOMEM;
    chunkfs__chunk_info__init(ci);
    o->first_chunk = ci;
    ci->index = now.index;
    ci->chunk_id = now.id;
    ci->version = now.version;
    return copy_replicas(c->cmd, ci);
}

int mf_drop_unwritten_first(meta_fsm *fsm, struct mf_inode *in)
{
    struct mf_chunk *ch = mf_chunk_at(in, 0);
    if (!ch || ch->version != 1 || ch->length != 0) return 0;
    int rc = mf_deleted_push(fsm, ch->id, ch->version);
    if (rc) return rc;
    mf_cidx_del(&fsm->chunks, ch->id);
    /* Chunk 0 is the first in index order. */
    uint32_t n = in->nchunks;
    if (n == 1) {
        in->nchunks = 0;
        return 0;
    }
    struct mf_chunk *m = in->ch.many;
    memmove(&m[0], &m[1], (size_t)(n - 1) * sizeof(*m));
    chunk_keep(in, n - 1);
    return 0;
}

int mf_op_alloc_chunk(struct mf_ctx *c, const Chunkfs__AllocChunkReq *r,
                      Chunkfs__MetaResponse *resp)
{
    struct mf_inode *in;
    int rc = writable_file(c->fsm, r->ino, &in);
    if (rc) return rc;
    if (!mf_lease_check(c, in, r->lease_id)) return -CFS_ELEASE;
    if (c->cmd->n_replicas == 0) return -CFS_ENOSERVERS;

    struct mf_chunk *cur = mf_chunk_at(in, r->index);
    uint64_t base;
    struct mf_chunk now;
    if (cur) {
        base = cur->version;
        cur->version++;
        now = *cur;
    } else {
        base = 0;
        rc = chunk_new(c->fsm, in, r->index, &now);
        if (rc) return rc;
    }
    Chunkfs__ChunksResp *cr;
    rc = chunks_resp(resp, c->fsm, in, 1, &cr);
    if (rc) return rc;
    Chunkfs__ChunkInfo *ci = chunk_info_add(cr, &now);
    if (!ci) return -ENOMEM;
    ci->base_version = base;
    return copy_replicas(c->cmd, ci);
}

int mf_op_commit_write(struct mf_ctx *c, const Chunkfs__CommitWriteReq *r,
                       Chunkfs__MetaResponse *resp)
{
    struct mf_inode *in;
    int rc = writable_file(c->fsm, r->ino, &in);
    if (rc) return rc;
    if (!mf_lease_check(c, in, r->lease_id)) return -CFS_ELEASE;
    if (r->size > mf_max_file_size(c->fsm)) return -EFBIG;
    for (size_t i = 0; i < r->n_chunks; i++) {
        const Chunkfs__ChunkCommit *cc = r->chunks[i];
        const struct mf_chunk *ch = mf_chunk_at(in, cc->index);
        if (!ch || ch->id != cc->chunk_id || ch->version != cc->version) return -CFS_ESTALE_VER;
        if (cc->length > c->fsm->chunk_size) return -EINVAL;
    }
    for (size_t i = 0; i < r->n_chunks; i++) {
        const Chunkfs__ChunkCommit *cc = r->chunks[i];
        struct mf_chunk *ch = mf_chunk_at(in, cc->index);
        if (cc->length > ch->length) ch->length = (uint32_t)cc->length;
    }
    if (r->size > in->size) in->size = r->size;
    in->mtime = r->mtime_ns ? r->mtime_ns : c->now;
    in->ctime = c->now;
    in->generation++;
    mf_kill_suid(c->cred, in);
    return mf_resp_attr(resp, in);
}

int mf_read_chunks(const struct mf_ctx *c, uint64_t ino, uint32_t first, uint32_t count,
                   bool check_perm, Chunkfs__MetaResponse *resp)
{
    struct mf_inode *in = mf_iget(c->fsm, ino);
    if (!in) return -ENOENT;
    if (in->type == MF_DIR) return -EISDIR;
    if (in->type != MF_FILE) return -EINVAL;
    /* The writer may fetch chunks of a file it may not read (opened before a chmod). */
    if (check_perm && mf_access(c->cred, in, MF_R) != 0 &&
        !(in->ext && in->ext->lease && in->ext->lease->client_id == c->client_id))
        return -EACCES;
    uint64_t end = count ? (uint64_t)first + count : UINT64_MAX;
    uint32_t p = chunk_pos(in, first), q = p;
    const struct mf_chunk *ch = mf_chunks_c(in);
    while (q < in->nchunks && ch[q].index < end)
        q++;
    Chunkfs__ChunksResp *cr;
    int rc = chunks_resp(resp, c->fsm, in, q - p, &cr);
    if (rc) return rc;
    for (uint32_t i = p; i < q; i++)
        if (!chunk_info_add(cr, &ch[i])) return -ENOMEM;
    return 0;
}

int mf_cmd_drop_deleted(meta_fsm *fsm, const Chunkfs__DropDeletedCmd *d)
{
    if (d->count > fsm->deleted_n) return -EINVAL;
    fsm->deleted_head += d->count;
    fsm->deleted_n -= d->count;
    if (fsm->deleted_n == 0) fsm->deleted_head = 0;
    return 0;
}

int mf_cmd_recover_lease(struct mf_ctx *c, const Chunkfs__RecoverLeaseCmd *r)
{
    struct mf_inode *in;
    int rc = writable_file(c->fsm, r->ino, &in);
    if (rc) return rc;
    struct mf_lease *l = in->ext ? in->ext->lease : NULL;
    if (!l || l->id != r->lease_id) return -CFS_ELEASE;
    if (c->now < l->expiry_ns) return -EBUSY;
    for (size_t i = 0; i < r->n_chunks; i++) {
        const Chunkfs__ChunkCommit *cc = r->chunks[i];
        const struct mf_chunk *ch = mf_chunk_at(in, cc->index);
        if (ch && ch->id == cc->chunk_id && (cc->version == 0 || cc->version > ch->version))
            return -EINVAL;
    }
    for (size_t i = 0; i < r->n_chunks; i++) {
        const Chunkfs__ChunkCommit *cc = r->chunks[i];
        struct mf_chunk *ch = mf_chunk_at(in, cc->index);
        if (!ch || ch->id != cc->chunk_id) continue;
        ch->version = cc->version;
        if (cc->length < ch->length) ch->length = (uint32_t)cc->length;
    }
    mf_lease_release(c->fsm, in);
    return 0;
}
