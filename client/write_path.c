/* The write path: per-handle write-behind buffers, chunk allocation, pipelined chain writes
 * on a small thread pool, replica failover, and commits to the metaserver. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client/extent_list.h"
#include "client/fs_internal.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/rpc.h"

/* Most servers one chunk write may exclude before giving up. */
#define MAX_EXCLUDED 16

typedef struct write_job {
    cfs_file *f;
    wchunk *wc;
    struct write_job *next;
} write_job;

struct write_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    write_job *head, *tail;
    bool stop;
    int nthreads;
    pthread_t *threads;
};

static void run_job(cfs_file *f, wchunk *wc);

static void *pool_worker(void *arg)
{
    write_pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->head && !p->stop)
            pthread_cond_wait(&p->cv, &p->mu);
        if (!p->head) break; /* stopping and drained */
        write_job *j = p->head;
        p->head = j->next;
        if (!p->head) p->tail = NULL;
        pthread_mutex_unlock(&p->mu);
        run_job(j->f, j->wc);
        free(j);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int write_pool_create(int threads, write_pool **out)
{
    write_pool *p = calloc(1, sizeof(*p));
    if (!p) return -ENOMEM;
    p->threads = calloc((size_t)threads, sizeof(pthread_t));
    if (!p->threads) {
        free(p);
        return -ENOMEM;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&p->threads[i], NULL, pool_worker, p) != 0) {
            write_pool_destroy(p);
            return -EAGAIN;
        }
        p->nthreads++;
    }
    *out = p;
    return 0;
}

void write_pool_destroy(write_pool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->threads);
    free(p);
}

static int pool_submit(write_pool *p, cfs_file *f, wchunk *wc)
{
    write_job *j = calloc(1, sizeof(*j));
    if (!j) return -ENOMEM;
    j->f = f;
    j->wc = wc;
    pthread_mutex_lock(&p->mu);
    if (p->tail)
        p->tail->next = j;
    else
        p->head = j;
    p->tail = j;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

/* ------------------------------------------------------------------ metaserver calls */

static int alloc_chunk_once(cfs_file *f, uint32_t index, const uint64_t *excl, size_t nexcl,
                            chunk_loc **out)
{
    Chunkfs__MetaRequest req = CHUNKFS__META_REQUEST__INIT;
    Chunkfs__AllocChunkReq op = CHUNKFS__ALLOC_CHUNK_REQ__INIT;
    op.ino = f->ino;
    op.lease_id = f->lease_id;
    op.index = index;
    op.n_exclude_servers = nexcl;
    op.exclude_servers = (uint64_t *)excl;
    req.op_case = CHUNKFS__META_REQUEST__OP_ALLOC_CHUNK;
    req.alloc_chunk = &op;
    Chunkfs__MetaResponse *resp = NULL;
    int rc = meta_call(f->fs, &f->cred, &req, &resp);
    if (rc == 0) {
        if (resp->result_case != CHUNKFS__META_RESPONSE__RESULT_CHUNKS || !resp->chunks ||
            resp->chunks->n_chunks < 1)
            rc = -EPROTO;
        else
            rc = chunk_loc_from_pb(resp->chunks->chunks[0], out);
        if (rc == 0 && (*out)->nreplicas == 0) {
            chunk_loc_free(*out);
            rc = -CFS_ENOSERVERS;
        }
    }
    if (resp) chunkfs__meta_response__free_unpacked(resp, NULL);
    return rc;
}

/* AllocChunk, waiting while the metaserver has no live replica to offer: replicas of a just
 * committed version show up with the chunkservers' next reports. Bounded by the op timeout. */
static int alloc_chunk(cfs_file *f, uint32_t index, const uint64_t *excl, size_t nexcl,
                       chunk_loc **out)
{
    int64_t deadline = cfs_mono_ms() + f->fs->opt.op_timeout_ms;
    int delay = 50;
    for (;;) {
        int rc = alloc_chunk_once(f, index, excl, nexcl, out);
        if (rc != -CFS_ENOSERVERS) return rc;
        int64_t left = deadline - cfs_mono_ms();
        if (left <= 0) return rc;
        cfs_sleep_ms(delay < left ? delay : left);
        delay = delay * 2 > 1000 ? 1000 : delay * 2;
    }
}

/* Commits `n` written chunks and the file size. */
static int commit_chunks(cfs_file *f, pending_commit **pcs, size_t n, uint64_t size)
{
    Chunkfs__ChunkCommit *cc = n ? calloc(n, sizeof(*cc)) : NULL;
    Chunkfs__ChunkCommit **ccp = n ? calloc(n, sizeof(*ccp)) : NULL;
    if (n && (!cc || !ccp)) {
        free(cc);
        free(ccp);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        chunkfs__chunk_commit__init(&cc[i]);
        cc[i].index = pcs[i]->index;
        cc[i].chunk_id = pcs[i]->chunk_id;
        cc[i].version = pcs[i]->version;
        cc[i].length = pcs[i]->length;
        ccp[i] = &cc[i];
    }
    Chunkfs__MetaRequest req = CHUNKFS__META_REQUEST__INIT;
    Chunkfs__CommitWriteReq op = CHUNKFS__COMMIT_WRITE_REQ__INIT;
    op.ino = f->ino;
    op.lease_id = f->lease_id;
    op.n_chunks = n;
    op.chunks = ccp;
    op.size = size;
    op.mtime_ns = cfs_real_ns();
    req.op_case = CHUNKFS__META_REQUEST__OP_COMMIT_WRITE;
    req.commit_write = &op;
    Chunkfs__MetaResponse *resp = NULL;
    int rc = meta_call(f->fs, &f->cred, &req, &resp);
    if (rc == 0 && resp->result_case == CHUNKFS__META_RESPONSE__RESULT_ATTR && resp->attr) {
        cfs_attr a;
        attr_from_pb(resp->attr, &a);
        pthread_mutex_lock(&f->mu);
        f->attr = a;
        pthread_mutex_unlock(&f->mu);
    }
    if (resp) chunkfs__meta_response__free_unpacked(resp, NULL);
    free(cc);
    free(ccp);
    if (rc == 0) {
        pthread_mutex_lock(&f->mu);
        for (size_t i = 0; i < n; i++) {
            pending_commit *cur = index_map_get(&f->pending, pcs[i]->index);
            if (cur && cur->version == pcs[i]->version && cur->length == pcs[i]->length) {
                index_map_del(&f->pending, pcs[i]->index);
                free(cur);
            }
        }
        if (size > f->committed_size) f->committed_size = size;
        pthread_mutex_unlock(&f->mu);
        /* Versions changed: this handle's read cache is stale now. */
        chunk_cache_clear(f);
        read_path_drop_readahead(f);
    }
    return rc;
}

/* ------------------------------------------------------------------ chain write stream */

/* Streams wc's extents to loc->replicas[0] (which forwards along the chain). On failure,
 * *failed is the replica index that failed (-1 when unknown). */
static int stream_chunk(cfs_file *f, const chunk_loc *loc, const wchunk *wc, int *failed)
{
    *failed = 0;
    const char **chain = NULL;
    if (loc->nreplicas > 1) {
        chain = calloc(loc->nreplicas - 1, sizeof(*chain));
        if (!chain) return -ENOMEM;
        for (size_t i = 1; i < loc->nreplicas; i++)
            chain[i - 1] = loc->replicas[i].address;
    }
    Chunkfs__WriteHeader hdr = CHUNKFS__WRITE_HEADER__INIT;
    hdr.chunk_id = loc->chunk_id;
    hdr.version = loc->version;
    hdr.base_version = loc->base_version;
    hdr.n_chain = loc->nreplicas - 1;
    hdr.chain = (char **)chain;
    hdr.sync_at_close = true;
    hdr.token.data = loc->token;
    hdr.token.len = loc->token_len;

    rpc_stream *st = NULL;
    int rc = rpc_stream_open(loc->replicas[0].address, CFS_CHUNK_WRITE_METHOD,
                             f->fs->opt.op_timeout_ms, &st);
    if (rc < 0) {
        free(chain);
        return rc;
    }
    bool first = true;
    int send_rc = 0;
    for (const extent *e = wc->extents; e && send_rc == 0; e = e->next) {
        for (uint64_t p = 0; p < e->len && send_rc == 0; p += CFS_DATA_PIECE) {
            Chunkfs__WriteReq wr = CHUNKFS__WRITE_REQ__INIT;
            wr.header = first ? &hdr : NULL;
            first = false;
            wr.offset = e->off + p;
            wr.data.len = e->len - p < CFS_DATA_PIECE ? e->len - p : CFS_DATA_PIECE;
            wr.data.data = e->data + p;
            uint8_t *buf;
            size_t len;
            send_rc = rpc_pack(&wr.base, &buf, &len);
            if (send_rc == 0) {
                send_rc = rpc_stream_send_owned(st, buf, len);
            }
        }
    }
    if (send_rc == 0) send_rc = rpc_stream_close_send(st);
    /* Read the verdict even after a send failure: the server says which replica failed. */
    Chunkfs__WriteResp *last = NULL;
    for (;;) {
        uint8_t *buf;
        size_t len;
        int r = rpc_stream_recv(st, &buf, &len);
        if (r <= 0) {
            if (r < 0 && rc == 0) rc = r;
            break;
        }
        Chunkfs__WriteResp *m = chunkfs__write_resp__unpack(NULL, len, buf);
        free(buf);
        if (!m) {
            rc = -EBADMSG;
            break;
        }
        if (last) chunkfs__write_resp__free_unpacked(last, NULL);
        last = m;
    }
    int fin = rpc_stream_finish(st);
    rpc_stream_free(st);
    if (last && last->err != 0) {
        rc = last->err;
        *failed = 0;
        if (last->failed_address && last->failed_address[0]) {
            *failed = -1;
            for (size_t i = 0; i < loc->nreplicas; i++)
                if (strcmp(loc->replicas[i].address, last->failed_address) == 0) *failed = (int)i;
        }
    } else if (rc == 0 && fin < 0) {
        rc = fin;
    } else if (rc == 0 && send_rc < 0) {
        rc = send_rc;
    } else if (rc == 0 && !last) {
        rc = -EPROTO;
    }
    if (last) chunkfs__write_resp__free_unpacked(last, NULL);
    free(chain);
    return rc;
}

/* Allocates (once per session) and writes one chunk's buffered extents, failing over to the
 * surviving replicas. On success *pc describes what to commit. */
static int send_chunk(cfs_file *f, wchunk *wc, pending_commit *pc)
{
    uint32_t idx = wc->index;
    chunk_loc *loc = NULL;
    pthread_mutex_lock(&f->mu);
    chunk_loc *cached = index_map_get(&f->allocs, idx);
    int rc = cached ? chunk_loc_copy(cached, &loc) : 0;
    pthread_mutex_unlock(&f->mu);
    if (rc < 0) return rc;
    uint64_t session_len = 0;
    if (!loc) {
        rc = alloc_chunk(f, idx, NULL, 0, &loc);
        if (rc < 0) return rc;
        pthread_mutex_lock(&f->mu);
        bool untouched = idx == 0 && f->first_prealloc && !f->first_streamed;
        pthread_mutex_unlock(&f->mu);
        /* Chunk 0 allocated by our create but never written (e.g. the session was reset by
         * a truncate): the bump finds no replica at the old version anywhere, so the
         * servers create it as a new chunk at the bumped version. */
        if (untouched && loc->base_version == 1 && loc->length == 0) loc->base_version = 0;
    }
    if (idx == 0) {
        pthread_mutex_lock(&f->mu);
        f->first_streamed = true;
        pthread_mutex_unlock(&f->mu);
    }
    session_len = loc->length;
    /* Bytes between the chunk's current length and our first write must read as zeros. */
    rc = wchunk_fill_gaps(wc, session_len, wchunk_end(wc));
    if (rc < 0) {
        chunk_loc_free(loc);
        return rc;
    }
    uint64_t excl[MAX_EXCLUDED];
    size_t nexcl = 0;
    int reconnects = 0, token_refreshes = 0;
    bool need_bump = false;
    int64_t busy_deadline = cfs_mono_ms() + f->fs->opt.op_timeout_ms;
    int busy_delay = 20;
    for (;;) {
        int failed;
        rc = stream_chunk(f, loc, wc, &failed);
        int64_t busy_left = busy_deadline - cfs_mono_ms();
        if (rc == -EBUSY && busy_left > 0) {
            /* A replica runs its cap of streams from us (or from the chunkserver before it in
             * the chain): nothing is wrong with it, so the same stream is sent again later. */
            cfs_sleep_ms(busy_delay < busy_left ? busy_delay : busy_left);
            busy_delay = busy_delay * 2 > 1000 ? 1000 : busy_delay * 2;
            continue;
        }
        if (rc == -CFS_ETOKEN && token_refreshes++ < 2) {
            /* The write token expired (an allocation kept for this session outlived it): a new
             * allocation brings a fresh one; it bumps the version on the same replicas, which
             * keep what this session wrote, exactly as after a replica failure. */
            need_bump = true;
            rc = 0;
        }
        if (rc == 0) {
            if (!need_bump) break;
            /* The survivors hold the data now: have the metaserver bump the version on them
             * (so the failed replica is detectably stale) and write again at that version. */
            need_bump = false;
            chunk_loc *nloc = NULL;
            rc = alloc_chunk(f, idx, excl, nexcl, &nloc);
            if (rc < 0) {
                if (rc == -CFS_ENOSERVERS) rc = -EIO;
                break;
            }
            chunk_loc_free(loc);
            loc = nloc;
            /* The bumped version keeps what earlier streams of this session wrote. */
            if (loc->length < session_len) loc->length = session_len;
            continue;
        }
        if (rc == -ENOTCONN && failed == 0 && reconnects < 2) {
            /* A dropped connection to the head is often transient (the channel reconnects):
             * the same stream may be sent again at the same version before giving up on it. */
            cfs_sleep_ms(100 << reconnects);
            reconnects++;
            continue;
        }
        if (failed < 0 || rc == -ENOMEM || rc == -CFS_ELEASE) {
            if (failed < 0) rc = -EIO;
            break;
        }
        LOG_WARN("inode %llu chunk %u: replica %s failed (%s); continuing without it",
                 (unsigned long long)f->ino, idx, loc->replicas[failed].address, cfs_strerror(rc));
        if (nexcl == MAX_EXCLUDED || loc->nreplicas <= 1) {
            /* Every replica refused: a full disk everywhere is the caller's ENOSPC, a refused
             * token says more than "I/O error". */
            if (rc != -ENOSPC && rc != -EACCES) rc = -EIO;
            break;
        }
        excl[nexcl++] = loc->replicas[failed].server_id;
        /* First land the data on the survivors at the current version: a new chunk exists
         * nowhere else yet, and the metaserver can only bump replicas it knows about. */
        free(loc->replicas[failed].address);
        memmove(&loc->replicas[failed], &loc->replicas[failed + 1],
                (loc->nreplicas - (size_t)failed - 1) * sizeof(loc->replicas[0]));
        loc->nreplicas--;
        need_bump = true;
        reconnects = 0;
    }
    if (rc == 0) {
        uint64_t end = wchunk_end(wc);
        if (loc->length < end) loc->length = end;
        pc->index = idx;
        pc->chunk_id = loc->chunk_id;
        pc->version = loc->version;
        pc->length = loc->length;
        pthread_mutex_lock(&f->mu);
        int err;
        chunk_loc *old = index_map_put(&f->allocs, idx, loc, &err);
        pthread_mutex_unlock(&f->mu);
        if (err < 0)
            chunk_loc_free(loc);
        else
            chunk_loc_free(old);
    } else {
        LOG_WARN("inode %llu chunk %u: write failed: %s", (unsigned long long)f->ino, idx,
                 cfs_strerror(rc));
        /* Versions may have moved under us: allocate afresh next time. */
        pthread_mutex_lock(&f->mu);
        chunk_loc_free(index_map_del(&f->allocs, idx));
        pthread_mutex_unlock(&f->mu);
        chunk_loc_free(loc);
    }
    return rc;
}

static void run_job(cfs_file *f, wchunk *wc)
{
    pending_commit pc;
    int rc = send_chunk(f, wc, &pc);
    if (rc == 0) {
        pending_commit *p = malloc(sizeof(*p));
        if (!p) {
            rc = -ENOMEM;
        } else {
            *p = pc;
            pthread_mutex_lock(&f->mu);
            int err;
            free(index_map_put(&f->pending, pc.index, p, &err));
            pthread_mutex_unlock(&f->mu);
            if (err < 0) {
                free(p);
                rc = err;
            }
        }
    }
    /* A full chunk is committed at once, so big copies become visible chunk by chunk. */
    if (rc == 0 && pc.length >= f->chunk_size) {
        pending_commit *one = &pc;
        uint64_t end = (uint64_t)pc.index * f->chunk_size + pc.length;
        pthread_mutex_lock(&f->mu);
        uint64_t size = end > f->committed_size ? end : f->committed_size;
        pthread_mutex_unlock(&f->mu);
        rc = commit_chunks(f, &one, 1, size);
    }
    pthread_mutex_lock(&f->mu);
    if (rc < 0 && f->err == 0) f->err = rc;
    index_map_del(&f->inflight, wc->index);
    f->ninflight--;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    wchunk_clear(wc);
    free(wc);
}

/* ------------------------------------------------------------------ buffering */

/* Hands wc (already removed from f->dirty) to the pool. Called with f->mu held. */
static int submit_locked(cfs_file *f, wchunk *wc)
{
    int err;
    index_map_put(&f->inflight, wc->index, (void *)1, &err);
    if (err < 0) return err;
    f->ninflight++;
    f->dirty_bytes -= wc->bytes;
    int rc = pool_submit(f->fs->pool, f, wc);
    if (rc < 0) {
        index_map_del(&f->inflight, wc->index);
        f->ninflight--;
        f->dirty_bytes += wc->bytes;
    }
    return rc;
}

/* Finds a dirty chunk that may be sent now: `want` if given, else any. */
static wchunk *pick_locked(cfs_file *f, bool any, uint32_t want, bool *blocked)
{
    *blocked = false;
    if (!any) {
        wchunk *wc = index_map_get(&f->dirty, want);
        if (wc && index_map_get(&f->inflight, want)) *blocked = true;
        return *blocked ? NULL : wc;
    }
    wchunk *best = NULL;
    for (size_t i = 0; i < f->dirty.cap; i++) {
        wchunk *wc = f->dirty.vals[i];
        if (!wc) continue;
        if (index_map_get(&f->inflight, wc->index)) {
            *blocked = true;
            continue;
        }
        if (!best || wc->index < best->index) best = wc;
    }
    return best;
}

/* Sends dirty chunks while the policy says so: `full` (a complete chunk) always, others when
 * more than the write-behind budget is buffered, or everything when `all`. Waits for free
 * stream slots. Called with f->mu held. */
static int drain_locked(cfs_file *f, bool all, bool have_full, uint32_t full_index)
{
    for (;;) {
        if (f->err) return f->err;
        bool over = f->dirty_bytes > f->fs->opt.write_behind_bytes;
        bool want_full = have_full && index_map_get(&f->dirty, full_index);
        if (!all && !over && !want_full) return 0;
        if (f->dirty.count == 0) return 0;
        bool blocked;
        wchunk *wc = pick_locked(f, all || over, full_index, &blocked);
        if (!wc || f->ninflight >= f->fs->opt.write_streams) {
            if (!wc && !blocked) return 0;
            pthread_cond_wait(&f->cv, &f->mu);
            continue;
        }
        index_map_del(&f->dirty, wc->index);
        int rc = submit_locked(f, wc);
        if (rc < 0) {
            int err;
            index_map_put(&f->dirty, wc->index, wc, &err);
            return rc;
        }
    }
}

int write_path_pwrite(cfs_file *f, const void *buf, size_t size, uint64_t off)
{
    const uint8_t *p = buf;
    uint64_t cs;
    int crc = chunk_size_of(f, &cs);
    if (crc < 0) return crc;
    pthread_mutex_lock(&f->mu);
    if (f->err) {
        int e = f->err;
        pthread_mutex_unlock(&f->mu);
        return e;
    }
    if (f->append) off = f->size;
    if (off + size < off || (off + size) / cs > UINT32_MAX) {
        pthread_mutex_unlock(&f->mu);
        return -EFBIG;
    }
    int rc = 0;
    uint64_t done = 0;
    while (done < size && rc == 0) {
        uint64_t pos = off + done;
        uint32_t idx = (uint32_t)(pos / cs);
        uint64_t coff = pos % cs;
        uint64_t n = cs - coff < size - done ? cs - coff : size - done;
        wchunk *wc = index_map_get(&f->dirty, idx);
        if (!wc) {
            wc = calloc(1, sizeof(*wc));
            if (!wc) {
                rc = -ENOMEM;
                break;
            }
            wc->index = idx;
            int err;
            index_map_put(&f->dirty, idx, wc, &err);
            if (err < 0) {
                free(wc);
                rc = err;
                break;
            }
        }
        uint64_t before = wc->bytes;
        rc = wchunk_insert(wc, coff, p + done, n);
        f->dirty_bytes += wc->bytes - before;
        if (rc < 0) break;
        done += n;
        if (pos + n > f->size) f->size = pos + n;
        rc = drain_locked(f, false, wc->bytes >= cs, idx);
    }
    if (rc < 0 && f->err == 0 && rc != -EFBIG)
        f->err = rc; /* buffered data may be partly lost: the handle is failed */
    pthread_mutex_unlock(&f->mu);
    return rc < 0 ? rc : 0;
}

int write_path_flush(cfs_file *f)
{
    pthread_mutex_lock(&f->mu);
    int rc = drain_locked(f, true, false, 0);
    while (f->ninflight > 0)
        pthread_cond_wait(&f->cv, &f->mu);
    if (rc == 0) rc = f->err;
    if (rc < 0) {
        pthread_mutex_unlock(&f->mu);
        return rc;
    }
    size_t n = f->pending.count;
    bool size_changed = f->size != f->committed_size;
    if (n == 0 && !size_changed) {
        pthread_mutex_unlock(&f->mu);
        return 0;
    }
    pending_commit **pcs = n ? calloc(n, sizeof(*pcs)) : NULL;
    pending_commit *copies = n ? calloc(n, sizeof(*copies)) : NULL;
    if (n && (!pcs || !copies)) {
        pthread_mutex_unlock(&f->mu);
        free(pcs);
        free(copies);
        return -ENOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < f->pending.cap && k < n; i++) {
        if (f->pending.vals[i]) {
            copies[k] = *(pending_commit *)f->pending.vals[i];
            pcs[k] = &copies[k];
            k++;
        }
    }
    uint64_t size = f->size;
    pthread_mutex_unlock(&f->mu);
    rc = commit_chunks(f, pcs, k, size);
    free(pcs);
    free(copies);
    if (rc < 0) {
        pthread_mutex_lock(&f->mu);
        if (f->err == 0) f->err = rc;
        pthread_mutex_unlock(&f->mu);
    }
    return rc;
}

void write_path_forget_allocs(cfs_file *f)
{
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < f->allocs.cap; i++)
        if (f->allocs.vals[i]) chunk_loc_free(f->allocs.vals[i]);
    index_map_free(&f->allocs);
    pthread_mutex_unlock(&f->mu);
}

void write_path_release(cfs_file *f)
{
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < f->dirty.cap; i++) {
        wchunk *wc = f->dirty.vals[i];
        if (wc) {
            wchunk_clear(wc);
            free(wc);
        }
    }
    index_map_free(&f->dirty);
    f->dirty_bytes = 0;
    for (size_t i = 0; i < f->pending.cap; i++)
        free(f->pending.vals[i]);
    index_map_free(&f->pending);
    index_map_free(&f->inflight);
    pthread_mutex_unlock(&f->mu);
    write_path_forget_allocs(f);
}
