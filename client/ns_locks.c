/* POSIX byte-range locks and flock, held on the metaserver. */
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>

#include "client/fs_internal.h"

/* Wire lock types: 0 unlock, 1 read, 2 write. */
static int type_to_wire(int type, uint32_t *out)
{
    switch (type) {
    case F_UNLCK:
        *out = 0;
        return 0;
    case F_RDLCK:
        *out = 1;
        return 0;
    case F_WRLCK:
        *out = 2;
        return 0;
    default:
        return -EINVAL;
    }
}

static int type_from_wire(uint32_t t)
{
    return t == 1 ? F_RDLCK : t == 2 ? F_WRLCK : F_UNLCK;
}

static int lock_call(cfs_fs *fs, const cfs_cred *cred, Chunkfs__LockReq *op,
                     Chunkfs__MetaResponse **resp)
{
    Chunkfs__MetaRequest req = CHUNKFS__META_REQUEST__INIT;
    op->client_id = fs->client_id;
    req.op_case = CHUNKFS__META_REQUEST__OP_LOCK;
    req.lock = op;
    return meta_call(fs, cred, &req, resp);
}

int cfs_getlk(cfs_fs *fs, uint64_t ino, uint64_t owner, cfs_lock *lk, const cfs_cred *cred)
{
    Chunkfs__LockReq op = CHUNKFS__LOCK_REQ__INIT;
    int rc = type_to_wire(lk->type, &op.type);
    if (rc < 0) return rc;
    if (lk->end < lk->start) return -EINVAL;
    op.ino = ino;
    op.owner = owner;
    op.start = lk->start;
    op.end = lk->end;
    op.pid = lk->pid;
    op.test = true;
    Chunkfs__MetaResponse *resp = NULL;
    rc = lock_call(fs, cred, &op, &resp);
    if (rc == 0) {
        if (resp->result_case == CHUNKFS__META_RESPONSE__RESULT_LOCK && resp->lock &&
            resp->lock->type != 0) {
            lk->type = type_from_wire(resp->lock->type);
            lk->start = resp->lock->start;
            lk->end = resp->lock->end;
            lk->pid = resp->lock->pid;
            lk->owner = resp->lock->owner;
        } else {
            lk->type = F_UNLCK;
        }
    }
    if (resp) chunkfs__meta_response__free_unpacked(resp, NULL);
    return rc;
}

static bool fs_stopping(cfs_fs *fs)
{
    pthread_mutex_lock(&fs->files_mu);
    bool s = fs->stopping;
    pthread_mutex_unlock(&fs->files_mu);
    return s;
}

/* Takes a lock, polling while it conflicts when `wait` is set. */
static int set_lock(cfs_fs *fs, const cfs_cred *cred, Chunkfs__LockReq *op, bool wait)
{
    int delay = 10;
    for (;;) {
        int rc = lock_call(fs, cred, op, NULL);
        if (rc != -EAGAIN || !wait) return rc;
        if (fs_stopping(fs)) return -EINTR;
        cfs_sleep_ms(delay);
        delay = delay * 2 > 500 ? 500 : delay * 2;
    }
}

int cfs_setlk(cfs_fs *fs, uint64_t ino, uint64_t owner, const cfs_lock *lk, bool wait,
              const cfs_cred *cred)
{
    Chunkfs__LockReq op = CHUNKFS__LOCK_REQ__INIT;
    int rc = type_to_wire(lk->type, &op.type);
    if (rc < 0) return rc;
    if (lk->end < lk->start) return -EINVAL;
    op.ino = ino;
    op.owner = owner;
    op.start = lk->start;
    op.end = lk->end;
    op.pid = lk->pid;
    return set_lock(fs, cred, &op, wait && lk->type != F_UNLCK);
}

int cfs_flock(cfs_fs *fs, uint64_t ino, uint64_t owner, int op_flags, const cfs_cred *cred)
{
    Chunkfs__LockReq op = CHUNKFS__LOCK_REQ__INIT;
    bool nb = (op_flags & LOCK_NB) != 0;
    switch (op_flags & ~LOCK_NB) {
    case LOCK_SH:
        op.type = 1;
        break;
    case LOCK_EX:
        op.type = 2;
        break;
    case LOCK_UN:
        op.type = 0;
        break;
    default:
        return -EINVAL;
    }
    op.ino = ino;
    op.owner = owner;
    op.start = 0;
    op.end = UINT64_MAX;
    op.flock = true;
    return set_lock(fs, cred, &op, !nb && op.type != 0);
}
