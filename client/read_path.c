/* The read path: chunk reads from one replica with failover, bad-replica reports,
 * zero-filled holes, and a sequential read-ahead window. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "client/fs_internal.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/rpc.h"

static void report_bad(cfs_file *f, uint64_t chunk_id, uint64_t server_id, int why)
{
    Chunkfs__MetaRequest req = CHUNKFS__META_REQUEST__INIT;
    Chunkfs__ReportBadReq op = CHUNKFS__REPORT_BAD_REQ__INIT;
    op.chunk_id = chunk_id;
    op.server_id = server_id;
    op.reason = (char *)cfs_strerror(why);
    req.op_case = CHUNKFS__META_REQUEST__OP_REPORT_BAD;
    req.report_bad = &op;
    int rc = meta_call(f->fs, &f->cred, &req, NULL);
    if (rc < 0)
        LOG_WARN("report of bad chunk %llu on server %llu failed: %s", (unsigned long long)chunk_id,
                 (unsigned long long)server_id, cfs_strerror(rc));
}

/* Index of the replica to try first: spread over the replicas, and different in every
 * client process (rand() unseeded made every new process start at the same one). */
static size_t first_replica(cfs_fs *fs, size_t n)
{
    uint64_t x = atomic_fetch_add(&fs->next_pick, 0x9e3779b97f4a7c15ULL);
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return n ? (size_t)(x % n) : 0;
}

/* Reads exactly [off, off+len) of a chunk replica into buf. */
static int read_replica(cfs_file *f, const char *addr, const chunk_loc *c, uint64_t off,
                        uint64_t len, uint8_t *buf)
{
    Chunkfs__ReadReq rq = CHUNKFS__READ_REQ__INIT;
    rq.chunk_id = c->chunk_id;
    rq.version = c->version;
    rq.offset = off;
    rq.length = len;
    rq.token.data = c->token;
    rq.token.len = c->token_len;
    uint8_t *req;
    size_t req_len;
    int rc = rpc_pack(&rq.base, &req, &req_len);
    if (rc < 0) return rc;
    rpc_stream *st = NULL;
    rc = rpc_stream_open(addr, CFS_CHUNK_READ_METHOD, f->fs->opt.op_timeout_ms, &st);
    if (rc < 0) {
        free(req);
        return rc;
    }
    rc = rpc_stream_send(st, req, req_len);
    free(req);
    if (rc == 0) rc = rpc_stream_close_send(st);
    uint64_t got = 0;
    while (rc == 0) {
        uint8_t *m;
        size_t mlen;
        int r = rpc_stream_recv(st, &m, &mlen);
        if (r == 0) break;
        if (r < 0) {
            rc = r;
            break;
        }
        Chunkfs__ReadResp *rr = chunkfs__read_resp__unpack(NULL, mlen, m);
        free(m);
        if (!rr) {
            rc = -EBADMSG;
            break;
        }
        if (rr->err != 0) {
            rc = rr->err;
        } else if (rr->offset != off + got || rr->data.len > len - got) {
            rc = -EPROTO; /* out of order or more than asked: do not trust this replica */
        } else {
            memcpy(buf + got, rr->data.data, rr->data.len);
            got += rr->data.len;
        }
        chunkfs__read_resp__free_unpacked(rr, NULL);
    }
    int fin = rpc_stream_finish(st);
    rpc_stream_free(st);
    if (rc == 0 && fin < 0) rc = fin;
    if (rc == 0 && got != len) rc = -EIO; /* replica shorter than the committed length */
    return rc;
}

/* Fills buf with [coff, coff+n) of chunk `index`: data, or zeros for holes and for bytes
 * past the chunk's committed length. */
static int read_chunk_range(cfs_file *f, uint32_t index, uint64_t coff, uint64_t n, uint8_t *buf)
{
    /* Replicas of a freshly committed version appear once chunkservers report it (within a
     * heartbeat), and a replica may be down: keep trying, bounded by the operation timeout. */
    int64_t deadline = cfs_mono_ms() + f->fs->opt.op_timeout_ms;
    int delay = 50;
    int rc = -EIO;
    int token_refreshes = 0;
    for (int pass = 0;; pass++) {
        chunk_loc *c;
        rc = chunk_cache_get(f, index, &c);
        if (rc < 0) return rc;
        if (c == CHUNK_HOLE) {
            memset(buf, 0, n);
            return 0;
        }
        uint64_t data = c->length > coff ? c->length - coff : 0;
        if (data > n) data = n;
        memset(buf + data, 0, n - data);
        if (data == 0) {
            chunk_loc_free(c);
            return 0;
        }
        rc = -EIO;
        size_t start = first_replica(f->fs, c->nreplicas);
        for (size_t k = 0; k < c->nreplicas; k++) {
            const chunk_replica *r = &c->replicas[(start + k) % c->nreplicas];
            rc = read_replica(f, r->address, c, coff, data, buf);
            if (rc == 0) break;
            if (rc == -EBUSY) continue;   /* its stream cap: tried again after the backoff */
            if (rc == -CFS_ETOKEN) break; /* every replica says so: fetch a fresh token */
            LOG_WARN("inode %llu chunk %llu v%llu: read from %s failed: %s",
                     (unsigned long long)f->ino, (unsigned long long)c->chunk_id,
                     (unsigned long long)c->version, r->address, cfs_strerror(rc));
            if (rc == -CFS_ECORRUPT) report_bad(f, c->chunk_id, r->server_id, rc);
        }
        if (c->nreplicas == 0 && pass == 0)
            LOG_DEBUG("inode %llu chunk %llu v%llu: no live replica yet, waiting",
                      (unsigned long long)f->ino, (unsigned long long)c->chunk_id,
                      (unsigned long long)c->version);
        chunk_loc_free(c);
        if (rc == 0) return 0;
        if (rc == -ENOMEM) return rc;
        /* Locations, versions or the token may be stale: ask the metaserver again. */
        chunk_cache_invalidate(f, index);
        if (rc == -CFS_ETOKEN || rc == -EACCES) {
            /* A refused token: a fresh one at once; refused again, it is a configuration
             * error (e.g. another token secret on the chunkservers), not worth waiting on. */
            if (token_refreshes++ < 2) continue;
            return rc;
        }
        int64_t left = deadline - cfs_mono_ms();
        if (left <= 0) break;
        cfs_sleep_ms(delay < left ? delay : left);
        delay = delay * 2 > 1000 ? 1000 : delay * 2;
    }
    return -EIO;
}

static int read_direct(cfs_file *f, uint8_t *buf, uint64_t n, uint64_t off)
{
    uint64_t cs;
    int crc = chunk_size_of(f, &cs);
    if (crc < 0) return crc;
    uint64_t done = 0;
    while (done < n) {
        uint64_t pos = off + done;
        uint32_t idx = (uint32_t)(pos / cs);
        uint64_t coff = pos % cs;
        uint64_t take = cs - coff < n - done ? cs - coff : n - done;
        int rc = read_chunk_range(f, idx, coff, take, buf + done);
        if (rc < 0) return rc;
        done += take;
    }
    return 0;
}

/* Waits until no prefetch thread runs and reaps a finished one. Called with ra_mu held; the
 * wait drops it, so callers must re-check any window state afterwards. */
static void prefetch_reap_locked(cfs_file *f)
{
    for (;;) {
        if (f->pf_state == 1) {
            pthread_cond_wait(&f->ra_cv, &f->ra_mu);
            continue;
        }
        if (f->pf_state == 2) {
            /* The thread set "done" under ra_mu and only returns after that: no deadlock. */
            pthread_join(f->pf_thread, NULL);
            f->pf_state = 0;
        }
        return;
    }
}

static void prefetch_discard_locked(cfs_file *f)
{
    prefetch_reap_locked(f);
    /* ra_mu is held from the last check on: no prefetch can have started meanwhile. */
    free(f->pf_buf);
    f->pf_buf = NULL;
    f->pf_len = 0;
}

void read_path_drop_readahead(cfs_file *f)
{
    pthread_mutex_lock(&f->ra_mu);
    prefetch_discard_locked(f);
    free(f->ra_buf);
    f->ra_buf = NULL;
    f->ra_len = 0;
    pthread_mutex_unlock(&f->ra_mu);
}

static void *prefetch_main(void *arg)
{
    cfs_file *f = arg;
    pthread_mutex_lock(&f->ra_mu);
    uint8_t *buf = f->pf_buf;
    uint64_t off = f->pf_off, len = f->pf_len;
    pthread_mutex_unlock(&f->ra_mu);
    int rc = read_direct(f, buf, len, off);
    pthread_mutex_lock(&f->ra_mu);
    f->pf_rc = rc;
    f->pf_state = 2;
    pthread_cond_broadcast(&f->ra_cv);
    pthread_mutex_unlock(&f->ra_mu);
    return NULL;
}

/* Once a sequential reader is past the middle of the window, fetch the next one in the
 * background so it is ready when the reader gets there. Called with ra_mu held. */
static void maybe_prefetch_locked(cfs_file *f, uint64_t pos, uint64_t fsize)
{
    size_t ra = f->fs->opt.readahead_bytes;
    if (!f->ra_buf || f->pf_state != 0 || f->pf_buf || ra == 0) return;
    uint64_t next = f->ra_off + f->ra_len;
    if (pos < f->ra_off + f->ra_len / 2 || next >= fsize) return;
    uint64_t len = fsize - next < ra ? fsize - next : ra;
    f->pf_buf = malloc(len);
    if (!f->pf_buf) return; /* no prefetch: the reader fetches synchronously */
    f->pf_off = next;
    f->pf_len = len;
    f->pf_rc = 0;
    f->pf_state = 1;
    if (pthread_create(&f->pf_thread, NULL, prefetch_main, f) != 0) {
        f->pf_state = 0;
        free(f->pf_buf);
        f->pf_buf = NULL;
    }
}

/* Serves [off, off+n) from the window if it holds it all. Called with ra_mu held. */
static bool serve_window_locked(cfs_file *f, void *buf, uint64_t n, uint64_t off, uint64_t fsize)
{
    for (;;) {
        if (f->ra_buf && off >= f->ra_off && off + n <= f->ra_off + f->ra_len) {
            memcpy(buf, f->ra_buf + (off - f->ra_off), n);
            f->last_read_end = off + n;
            maybe_prefetch_locked(f, off + n, fsize);
            return true;
        }
        /* The prefetched window may hold it: make it the current one. */
        if (!f->pf_buf || off < f->pf_off || off + n > f->pf_off + f->pf_len) return false;
        if (f->pf_state == 1) {
            /* Other readers may change both windows while we wait: look again after. */
            pthread_cond_wait(&f->ra_cv, &f->ra_mu);
            continue;
        }
        prefetch_reap_locked(f); /* state 2 -> 0 without dropping ra_mu */
        if (f->pf_rc < 0) {
            free(f->pf_buf);
            f->pf_buf = NULL;
            f->pf_len = 0;
            return false; /* the reader's own fetch reports the error */
        }
        free(f->ra_buf);
        f->ra_buf = f->pf_buf;
        f->ra_off = f->pf_off;
        f->ra_len = f->pf_len;
        f->pf_buf = NULL;
        f->pf_len = 0;
    }
}

ssize_t read_path_pread(cfs_file *f, void *buf, size_t size, uint64_t off)
{
    if (f->writable) {
        /* Reading our own writes: make them committed and visible first. */
        int rc = write_path_flush(f);
        if (rc < 0) return rc;
    }
    pthread_mutex_lock(&f->mu);
    uint64_t fsize = f->size;
    pthread_mutex_unlock(&f->mu);
    if (!f->writable && off >= fsize) {
        /* The file may have grown since we looked: one refresh. */
        chunk_cache_clear(f);
        chunk_loc *c;
        int rc = chunk_cache_get(f, 0, &c);
        if (rc < 0) return rc;
        chunk_loc_free(c);
        pthread_mutex_lock(&f->mu);
        fsize = f->size;
        pthread_mutex_unlock(&f->mu);
    }
    if (off >= fsize || size == 0) return 0;
    uint64_t n = fsize - off < size ? fsize - off : size;
    size_t ra = f->fs->opt.readahead_bytes;

    pthread_mutex_lock(&f->ra_mu);
    if (serve_window_locked(f, buf, n, off, fsize)) {
        pthread_mutex_unlock(&f->ra_mu);
        return (ssize_t)n;
    }
    bool sequential = ra > 0 && n < ra && off == f->last_read_end;
    if (sequential) {
        uint64_t win = fsize - off < ra ? fsize - off : ra;
        uint8_t *nb = malloc(win);
        if (nb) {
            prefetch_discard_locked(f);
            int rc = read_direct(f, nb, win, off);
            if (rc < 0) {
                free(nb);
                pthread_mutex_unlock(&f->ra_mu);
                return rc;
            }
            free(f->ra_buf);
            f->ra_buf = nb;
            f->ra_off = off;
            f->ra_len = win;
            bool ok = serve_window_locked(f, buf, n, off, fsize);
            pthread_mutex_unlock(&f->ra_mu);
            return ok ? (ssize_t)n : -EIO;
        }
    }
    f->last_read_end = off + n;
    pthread_mutex_unlock(&f->ra_mu);
    int rc = read_direct(f, buf, n, off);
    return rc < 0 ? rc : (ssize_t)n;
}
