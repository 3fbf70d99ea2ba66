/* FUSE extended attributes and locks (fcntl byte ranges and flock), both kept by the
 * metaserver so every mount sees the same. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/xattr.h>
#include <time.h>

#include "common/errors.h"
#include "fuse/fuse_ctx.h"
#include "fuse/fuse_dcache.h"

#define XATTR_NAME_MAX_LEN 255
#define XATTR_SIZE_MAX_LEN 65536

/* Namespaces chunkfs does not store: security labels and capabilities (the kernel asks for
 * security.capability on every write, so answering locally also saves a round trip) and
 * system.* (POSIX ACLs are not supported). */
static int foreign_namespace(const char *name, bool reading)
{
    if (strncmp(name, "security.", 9) == 0) return reading ? -ENODATA : -EOPNOTSUPP;
    if (strncmp(name, "system.", 7) == 0) return -EOPNOTSUPP;
    return 0;
}

static int check_xattr_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > XATTR_NAME_MAX_LEN) return -ERANGE;
    return 0;
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
                        size_t size, int flags)
{
    cfsm *m = req_mount(req);
    int rc = check_xattr_name(name);
    if (rc == 0) rc = foreign_namespace(name, false);
    if (rc == 0 && size > XATTR_SIZE_MAX_LEN) rc = -E2BIG;
    if (rc == 0 && (flags & ~(XATTR_CREATE | XATTR_REPLACE))) rc = -EINVAL;
    if (rc == 0) {
        cfs_cred cred;
        req_cred(req, &cred);
        rc = cfs_setxattr(m->fs, ino, name, value, size, flags, &cred);
        fdc_attr_changed(m, ino); /* ctime */
    }
    reply_err(req, rc);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
    cfsm *m = req_mount(req);
    int rc = check_xattr_name(name);
    if (rc == 0) rc = foreign_namespace(name, true);
    if (rc < 0) {
        reply_err(req, rc);
        return;
    }
    cfs_cred cred;
    req_cred(req, &cred);
    char *buf = size ? malloc(size) : NULL;
    if (size && !buf) {
        fuse_reply_errno(req, ENOMEM);
        return;
    }
    ssize_t n = cfs_getxattr(m->fs, ino, name, buf, size, &cred);
    if (n < 0)
        reply_err(req, (int)n);
    else if (size == 0)
        fuse_reply_xattr(req, (size_t)n);
    else
        fuse_reply_buf(req, buf, (size_t)n);
    free(buf);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
    cfsm *m = req_mount(req);
    cfs_cred cred;
    req_cred(req, &cred);
    char *buf = size ? malloc(size) : NULL;
    if (size && !buf) {
        fuse_reply_errno(req, ENOMEM);
        return;
    }
    ssize_t n = cfs_listxattr(m->fs, ino, buf, size, &cred);
    if (n < 0)
        reply_err(req, (int)n);
    else if (size == 0)
        fuse_reply_xattr(req, (size_t)n);
    else
        fuse_reply_buf(req, buf, (size_t)n);
    free(buf);
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
    cfsm *m = req_mount(req);
    int rc = check_xattr_name(name);
    if (rc == 0) rc = foreign_namespace(name, true);
    if (rc == 0) {
        cfs_cred cred;
        req_cred(req, &cred);
        rc = cfs_removexattr(m->fs, ino, name, &cred);
        fdc_attr_changed(m, ino); /* ctime */
    }
    reply_err(req, rc);
}

/* ------------------------------------------------------------------ locks */

static void to_cfs_lock(const struct flock *fl, cfs_lock *lk)
{
    memset(lk, 0, sizeof *lk);
    lk->type = fl->l_type;
    lk->start = fl->l_start < 0 ? 0 : (uint64_t)fl->l_start;
    lk->end = fl->l_len <= 0 ? CFS_LOCK_EOF : lk->start + (uint64_t)fl->l_len - 1;
    lk->pid = fl->l_pid > 0 ? (uint32_t)fl->l_pid : 0;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static void op_getlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct flock *lock)
{
    cfsm *m = req_mount(req);
    cfs_cred cred;
    req_cred(req, &cred);
    cfs_lock lk;
    to_cfs_lock(lock, &lk);
    int rc = cfs_getlk(m->fs, ino, fi->lock_owner, &lk, &cred);
    if (rc < 0) {
        reply_err(req, rc);
        return;
    }
    struct flock out;
    memset(&out, 0, sizeof out);
    out.l_whence = SEEK_SET;
    out.l_type = (short)lk.type;
    if (lk.type != F_UNLCK) {
        if (lk.end < lk.start) {
            fuse_reply_errno(req, EIO); /* a malformed answer */
            return;
        }
        out.l_start = (off_t)lk.start;
        out.l_len = lk.end == CFS_LOCK_EOF ? 0 : (off_t)(lk.end - lk.start + 1);
        out.l_pid = (pid_t)lk.pid;
    }
    fuse_reply_lock(req, &out);
}

/* F_SETLKW and blocking flock wait here (not in libchunkfs) so a signal to the waiting process
 * (FUSE interrupt) ends the wait with EINTR. */
static void op_setlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct flock *lock,
                     int sleep)
{
    cfsm *m = req_mount(req);
    if (lock->l_type != F_RDLCK && lock->l_type != F_WRLCK && lock->l_type != F_UNLCK) {
        fuse_reply_errno(req, EINVAL);
        return;
    }
    cfs_cred cred;
    req_cred(req, &cred);
    cfs_lock lk;
    to_cfs_lock(lock, &lk);
    open_ref *ref = (open_ref *)(uintptr_t)fi->fh;
    if (lk.type != F_UNLCK && ref) ofile_set_locked(ref);
    int rc, wait_ms = 5;
    for (;;) {
        rc = cfs_setlk(m->fs, ino, fi->lock_owner, &lk, false, &cred);
        if (rc != -EAGAIN || !sleep) break;
        if (fuse_req_interrupted(req)) {
            rc = -EINTR;
            break;
        }
        sleep_ms(wait_ms);
        wait_ms = wait_ms * 2 > 500 ? 500 : wait_ms * 2;
    }
    reply_err(req, rc);
}

static void op_flock(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, int op)
{
    cfsm *m = req_mount(req);
    cfs_cred cred;
    req_cred(req, &cred);
    bool nb = op & LOCK_NB;
    int kind = op & ~LOCK_NB;
    if (kind != LOCK_SH && kind != LOCK_EX && kind != LOCK_UN) {
        fuse_reply_errno(req, EINVAL);
        return;
    }
    int rc, wait_ms = 5;
    for (;;) {
        rc = cfs_flock(m->fs, ino, fi->lock_owner, kind == LOCK_UN ? kind : kind | LOCK_NB, &cred);
        if (rc != -EWOULDBLOCK || nb || kind == LOCK_UN) break;
        if (fuse_req_interrupted(req)) {
            rc = -EINTR;
            break;
        }
        sleep_ms(wait_ms);
        wait_ms = wait_ms * 2 > 500 ? 500 : wait_ms * 2;
    }
    reply_err(req, rc);
}

void fuse_ops_xattr_lock_fill(struct fuse_lowlevel_ops *ops)
{
    ops->setxattr = op_setxattr;
    ops->getxattr = op_getxattr;
    ops->listxattr = op_listxattr;
    ops->removexattr = op_removexattr;
    ops->getlk = op_getlk;
    ops->setlk = op_setlk;
    ops->flock = op_flock;
}
