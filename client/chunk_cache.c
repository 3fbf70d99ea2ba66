/* Per-handle cache of chunk locations, filled in batches by GetChunks. */
#include <errno.h>
#include <stdlib.h>

#include "client/fs_internal.h"

/* How many chunk indexes one GetChunks asks for. */
#define CACHE_BATCH 32u

static void cache_put_locked(cfs_file *f, uint32_t index, chunk_loc *c)
{
    int err;
    chunk_loc *old = index_map_put(&f->cache, index, c, &err);
    if (err < 0)
        chunk_loc_free(c); /* not cached: the next read fetches again */
    else
        chunk_loc_free(old);
}

static int fetch_batch(cfs_file *f, uint32_t first)
{
    Chunkfs__MetaRequest req = CHUNKFS__META_REQUEST__INIT;
    Chunkfs__GetChunksReq op = CHUNKFS__GET_CHUNKS_REQ__INIT;
    op.ino = f->ino;
    op.first = first;
    op.count = CACHE_BATCH;
    req.op_case = CHUNKFS__META_REQUEST__OP_GET_CHUNKS;
    req.get_chunks = &op;
    Chunkfs__MetaResponse *resp = NULL;
    int rc = meta_call(f->fs, &f->cred, &req, &resp);
    if (rc < 0) {
        if (resp) chunkfs__meta_response__free_unpacked(resp, NULL);
        return rc;
    }
    if (resp->result_case != CHUNKFS__META_RESPONSE__RESULT_CHUNKS || !resp->chunks) {
        chunkfs__meta_response__free_unpacked(resp, NULL);
        return -EPROTO;
    }
    Chunkfs__ChunksResp *cr = resp->chunks;
    pthread_mutex_lock(&f->mu);
    if (cr->chunk_size) {
        f->chunk_size = cr->chunk_size;
        f->chunk_size_known = true;
    }
    if (!f->writable) f->size = cr->size;
    pthread_mutex_unlock(&f->mu);

    pthread_mutex_lock(&f->cache_mu);
    /* Every index of the batch not returned is a hole (or past EOF). */
    for (uint32_t i = 0; i < CACHE_BATCH && first + i >= first; i++)
        cache_put_locked(f, first + i, CHUNK_HOLE);
    for (size_t i = 0; i < cr->n_chunks; i++) {
        chunk_loc *c;
        if (chunk_loc_from_pb(cr->chunks[i], &c) == 0) cache_put_locked(f, c->index, c);
    }
    pthread_mutex_unlock(&f->cache_mu);
    chunkfs__meta_response__free_unpacked(resp, NULL);
    return 0;
}

int chunk_cache_get(cfs_file *f, uint32_t index, chunk_loc **out)
{
    for (int pass = 0; pass < 2; pass++) {
        pthread_mutex_lock(&f->cache_mu);
        chunk_loc *c = index_map_get(&f->cache, index);
        int rc = c ? chunk_loc_copy(c, out) : 1;
        pthread_mutex_unlock(&f->cache_mu);
        if (rc <= 0) return rc;
        if (pass == 0) {
            rc = fetch_batch(f, index);
            if (rc < 0) return rc;
        }
    }
    return -ENOMEM; /* the batch could not be cached */
}

void chunk_cache_invalidate(cfs_file *f, uint32_t index)
{
    pthread_mutex_lock(&f->cache_mu);
    chunk_loc_free(index_map_del(&f->cache, index));
    pthread_mutex_unlock(&f->cache_mu);
}

void chunk_cache_clear(cfs_file *f)
{
    pthread_mutex_lock(&f->cache_mu);
    for (size_t i = 0; i < f->cache.cap; i++)
        if (f->cache.vals[i]) chunk_loc_free(f->cache.vals[i]);
    index_map_free(&f->cache);
    pthread_mutex_unlock(&f->cache_mu);
}

int chunk_size_of(cfs_file *f, uint64_t *out)
{
    pthread_mutex_lock(&f->mu);
    bool known = f->chunk_size_known;
    *out = f->chunk_size;
    pthread_mutex_unlock(&f->mu);
    if (known) return 0;
    int rc = fetch_batch(f, 0);
    if (rc < 0) return rc;
    pthread_mutex_lock(&f->mu);
    known = f->chunk_size_known;
    *out = f->chunk_size;
    pthread_mutex_unlock(&f->mu);
    return known ? 0 : -EPROTO;
}
