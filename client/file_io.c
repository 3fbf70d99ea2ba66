/* File handles: open, read, write, fsync, truncate, close. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "client/fs_internal.h"
#include "common/errors.h"
#include "common/log.h"

/* Chunk size used until the metaserver tells us (only for a handle that never saw one). */
#define FALLBACK_CHUNK_SIZE (64u << 20)

/* Frees a handle's buffers, caches and locks (the lease is the caller's business). */
static void handle_destroy(cfs_file *f)
{
    write_path_forget_allocs(f);
    chunk_cache_clear(f);
    read_path_drop_readahead(f);
    index_map_free(&f->dirty);
    index_map_free(&f->inflight);
    index_map_free(&f->allocs);
    index_map_free(&f->pending);
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->cache_mu);
    pthread_mutex_destroy(&f->ra_mu);
    pthread_cond_destroy(&f->ra_cv);
    free(f);
}

int file_handle_new(cfs_fs *fs, const cfs_cred *cred, int flags, const Chunkfs__OpenResp *open,
                    const Chunkfs__Attr *attr, cfs_file **out)
{
    cfs_file *f = calloc(1, sizeof(*f));
    if (!f) return -ENOMEM;
    f->fs = fs;
    f->flags = flags;
    f->writable = (flags & O_ACCMODE) != O_RDONLY;
    f->append = (flags & O_APPEND) != 0;
    f->cred = *cred;
    attr_from_pb(attr, &f->attr);
    if (!S_ISREG(f->attr.mode)) {
        int rc = S_ISDIR(f->attr.mode) ? -EISDIR : -EINVAL;
        free(f);
        return rc;
    }
    f->ino = f->attr.ino;
    f->size = f->committed_size = f->attr.size;
    f->chunk_size = FALLBACK_CHUNK_SIZE;
    if (open) {
        f->lease_id = open->lease_id;
        f->lease_ms = open->lease_ms;
        if (open->chunk_size) {
            f->chunk_size = open->chunk_size;
            f->chunk_size_known = true;
        }
    }
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    pthread_mutex_init(&f->cache_mu, NULL);
    pthread_mutex_init(&f->ra_mu, NULL);
    pthread_cond_init(&f->ra_cv, NULL);
    index_map_init(&f->dirty);
    index_map_init(&f->inflight);
    index_map_init(&f->allocs);
    index_map_init(&f->pending);
    index_map_init(&f->cache);
    if (open && open->first_chunk && f->writable) {
        /* The create allocated chunk 0: the first write goes straight to its servers. */
        chunk_loc *loc = NULL;
        int err = chunk_loc_from_pb(open->first_chunk, &loc);
        if (err == 0) (void)index_map_put(&f->allocs, 0, loc, &err);
        if (err < 0) {
            if (loc) chunk_loc_free(loc);
            handle_destroy(f);
            return err;
        }
        f->first_prealloc = true;
    }
    lease_register(f);
    *out = f;
    return 0;
}

int cfs_open(cfs_fs *fs, uint64_t ino, int flags, const cfs_cred *cred, cfs_file **out)
{
    int acc = flags & O_ACCMODE;
    if (acc != O_RDONLY && acc != O_WRONLY && acc != O_RDWR) return -EINVAL;
    Chunkfs__MetaRequest req = CHUNKFS__META_REQUEST__INIT;
    Chunkfs__OpenReq op = CHUNKFS__OPEN_REQ__INIT;
    op.ino = ino;
    op.flags = (uint32_t)(flags & (O_ACCMODE | O_TRUNC));
    op.client_id = fs->client_id;
    req.op_case = CHUNKFS__META_REQUEST__OP_OPEN;
    req.open = &op;
    Chunkfs__MetaResponse *resp = NULL;
    int rc = meta_call(fs, cred, &req, &resp);
    if (rc == 0) {
        const Chunkfs__OpenResp *open = NULL;
        const Chunkfs__Attr *attr = NULL;
        if (resp->result_case == CHUNKFS__META_RESPONSE__RESULT_OPEN && resp->open) {
            open = resp->open;
            attr = open->attr;
        } else if (resp->result_case == CHUNKFS__META_RESPONSE__RESULT_ATTR) {
            attr = resp->attr;
        }
        if (!attr || (acc != O_RDONLY && !open))
            rc = -EPROTO;
        else
            rc = file_handle_new(fs, cred, flags, open, attr, out);
    }
    if (resp) chunkfs__meta_response__free_unpacked(resp, NULL);
    return rc;
}

ssize_t cfs_pread(cfs_file *f, void *buf, size_t size, uint64_t off)
{
    if ((f->flags & O_ACCMODE) == O_WRONLY) return -EBADF;
    if (size > SSIZE_MAX) size = SSIZE_MAX;
    return read_path_pread(f, buf, size, off);
}

ssize_t cfs_pwrite(cfs_file *f, const void *buf, size_t size, uint64_t off)
{
    if (!f->writable) return -EBADF;
    if (size > SSIZE_MAX) return -EINVAL;
    if (size == 0) return 0;
    read_path_drop_readahead(f);
    int rc = write_path_pwrite(f, buf, size, off);
    return rc < 0 ? rc : (ssize_t)size;
}

int cfs_fsync(cfs_file *f)
{
    if (!f->writable) return 0;
    return write_path_flush(f);
}

int cfs_ftruncate(cfs_file *f, uint64_t size)
{
    if (!f->writable) return -EBADF;
    int rc = write_path_flush(f);
    if (rc < 0) return rc;
    cfs_attr in;
    memset(&in, 0, sizeof(in));
    in.size = size;
    /* cfs_setattr finds this handle (or another writer of the inode on this fs) and uses its
     * lease, then resets the handle's size and session. */
    return cfs_setattr(f->fs, f->ino, &in, CFS_SET_SIZE | CFS_SET_MTIME_NOW, &f->cred, NULL);
}

int cfs_fgetattr(cfs_file *f, cfs_attr *out)
{
    int rc = cfs_getattr(f->fs, f->ino, &f->cred, out);
    if (rc == 0 && f->writable) {
        pthread_mutex_lock(&f->mu);
        out->size = f->size;
        pthread_mutex_unlock(&f->mu);
    }
    return rc;
}

uint64_t cfs_file_ino(const cfs_file *f)
{
    return f->ino;
}

static int release_lease(cfs_file *f)
{
    Chunkfs__MetaRequest req = CHUNKFS__META_REQUEST__INIT;
    Chunkfs__CloseReq op = CHUNKFS__CLOSE_REQ__INIT;
    op.ino = f->ino;
    op.lease_id = f->lease_id;
    op.drop_unwritten_first = f->first_prealloc;
    req.op_case = CHUNKFS__META_REQUEST__OP_CLOSE;
    req.close = &op;
    return meta_call(f->fs, &f->cred, &req, NULL);
}

int cfs_close(cfs_file *f)
{
    if (!f) return -EBADF;
    int rc = 0;
    if (f->writable) rc = write_path_flush(f);
    lease_unregister(f);
    if (f->writable) {
        int lrc = release_lease(f);
        if (lrc < 0 && lrc != -CFS_ELEASE)
            LOG_WARN("inode %llu: releasing the write lease: %s", (unsigned long long)f->ino,
                     cfs_strerror(lrc));
        write_path_release(f);
    }
    handle_destroy(f);
    return rc;
}
