/* FUSE file operations: create, open, read, write, flush, release, fsync. File handles are
 * open_refs (see open_files.h): one libchunkfs write handle per inode shared by every
 * descriptor of this mount. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "common/log.h"
#include "fuse/fuse_ctx.h"
#include "fuse/fuse_dcache.h"

static open_ref *ref_of(struct fuse_file_info *fi)
{
    return (open_ref *)(uintptr_t)fi->fh;
}

/* Flags libchunkfs should see: the access mode, O_TRUNC and O_EXCL. O_APPEND is left to the
 * kernel, which turns it into write offsets at the end of file; a shared handle must not
 * append for every descriptor. */
static int handle_flags(int flags)
{
    return flags & (O_ACCMODE | O_TRUNC | O_EXCL);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    cfsm *m = req_mount(req);
    cfs_cred cred;
    req_cred(req, &cred);
    open_ref *ref = malloc(sizeof *ref);
    if (!ref) {
        fuse_reply_errno(req, ENOMEM);
        return;
    }
    cfs_attr a;
    bool fresh = false;
    int rc = open_files_open(m->files, ino, handle_flags(fi->flags), &cred, ref, &a, &fresh);
    if (fi->flags & O_TRUNC) fdc_attr_changed(m, ino);
    if (rc < 0) {
        free(ref);
        reply_err(req, rc);
        return;
    }
    /* Close-to-open: cached pages survive only if the data did not change since the kernel
     * last saw it; otherwise drop them and the cached size too (the kernel re-reads both). */
    fi->keep_cache = 0;
    if (!fresh || inode_table_data_unchanged(m->inodes, &a)) {
        fi->keep_cache = 1;
    } else {
        int nrc = fuse_lowlevel_notify_inval_inode(m->se, ino, -1, 0);
        if (nrc < 0 && nrc != -ENOENT)
            LOG_DEBUG("invalidating attributes of %llu: %d", (unsigned long long)ino, nrc);
    }
    fi->fh = (uintptr_t)ref;
    if (fuse_reply_open(req, fi) != 0) {
        open_files_release(m->files, ref);
        free(ref);
    }
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                      struct fuse_file_info *fi)
{
    cfsm *m = req_mount(req);
    int rc = fuse_check_name(name);
    if (rc < 0) {
        reply_err(req, rc);
        return;
    }
    cfs_cred cred;
    req_cred(req, &cred);
    open_ref *ref = malloc(sizeof *ref);
    if (!ref) {
        fuse_reply_errno(req, ENOMEM);
        return;
    }
    cfs_attr a;
    cfs_file *fh = NULL;
    int flags = handle_flags(fi->flags);
    uint64_t token = fdc_begin(m);
    rc = cfs_create(m->fs, parent, name, mode & 07777, flags, &cred, &a, &fh);
    fdc_made(m, token, rc, parent, name, &a);
    fdc_end(m, token);
    if (rc == 0) rc = open_files_adopt(m->files, a.ino, fh, flags, &cred, ref);
    if (rc < 0) {
        free(ref);
        reply_err(req, rc);
        return;
    }
    struct fuse_entry_param e;
    fill_entry(m, &a, &e);
    rc = inode_table_add_ref(m->inodes, &a, parent);
    if (rc < 0) {
        open_files_release(m->files, ref);
        free(ref);
        reply_err(req, rc);
        return;
    }
    fi->fh = (uintptr_t)ref;
    fi->keep_cache = 1;
    if (fuse_reply_create(req, &e, fi) != 0) {
        inode_table_forget(m->inodes, a.ino, 1);
        open_files_release(m->files, ref);
        free(ref);
    }
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
    (void)ino;
    if (off < 0) {
        fuse_reply_errno(req, EINVAL);
        return;
    }
    char *buf = malloc(size ? size : 1);
    if (!buf) {
        fuse_reply_errno(req, ENOMEM);
        return;
    }
    ssize_t n = ofile_read(ref_of(fi), buf, size, (uint64_t)off);
    if (n < 0)
        reply_err(req, (int)n);
    else if (fuse_reply_buf(req, buf, (size_t)n) == 0)
        fuse_metrics_read((size_t)n);
    free(buf);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                     struct fuse_file_info *fi)
{
    (void)ino;
    if (off < 0) {
        fuse_reply_errno(req, EINVAL);
        return;
    }
    ssize_t n = ofile_write(ref_of(fi), buf, size, (uint64_t)off);
    if (n < 0)
        reply_err(req, (int)n);
    else if (fuse_reply_write(req, (size_t)n) == 0)
        fuse_metrics_written((size_t)n);
}

/* Every close(2) of a descriptor: commit its writes (close-to-open) and drop the closing
 * process's POSIX locks on the file, as close(2) must. */
static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    cfsm *m = req_mount(req);
    open_ref *ref = ref_of(fi);
    int rc = 0;
    if (ref->writer) {
        rc = ofile_commit(ref);
        fdc_attr_changed(m, ino);
    }
    if (ofile_locked(ref)) {
        cfs_cred cred;
        req_cred(req, &cred);
        cfs_lock lk = {.type = F_UNLCK, .start = 0, .end = CFS_LOCK_EOF};
        int lrc = cfs_setlk(m->fs, ino, fi->lock_owner, &lk, false, &cred);
        if (lrc < 0)
            LOG_WARN("releasing locks of inode %llu at close: %s", (unsigned long long)ino,
                     cfs_strerror(lrc));
    }
    reply_err(req, rc);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    cfsm *m = req_mount(req);
    open_ref *ref = ref_of(fi);
    if (fi->flock_release) {
        cfs_cred cred;
        req_cred(req, &cred);
        int lrc = cfs_flock(m->fs, ino, fi->lock_owner, LOCK_UN, &cred);
        if (lrc < 0)
            LOG_WARN("releasing flock of inode %llu: %s", (unsigned long long)ino,
                     cfs_strerror(lrc));
    }
    bool writer = ref->writer;
    int rc = open_files_release(m->files, ref);
    if (writer) fdc_attr_changed(m, ino);
    if (rc < 0)
        LOG_ERROR("inode %llu: buffered writes failed at last close: %s", (unsigned long long)ino,
                  cfs_strerror(rc));
    free(ref);
    /* The kernel ignores release errors; flush already reported them to close(2). */
    fuse_reply_errno(req, 0);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
    (void)datasync;
    int rc = ofile_commit(ref_of(fi));
    fdc_attr_changed(req_mount(req), ino);
    reply_err(req, rc);
}

void fuse_ops_file_fill(struct fuse_lowlevel_ops *ops)
{
    ops->open = op_open;
    ops->create = op_create;
    ops->read = op_read;
    ops->write = op_write;
    ops->flush = op_flush;
    ops->release = op_release;
    ops->fsync = op_fsync;
}
