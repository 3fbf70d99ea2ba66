#ifndef CFS_FUSE_CTX_H
#define CFS_FUSE_CTX_H
/* State shared by the FUSE operation handlers of chunkfs-mount, and the small helpers they
 * all use (caller credentials, error replies, entry/attr replies). */
#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include "client/chunkfs.h"
#include "fuse/dir_cache.h"
#include "fuse/fuse_metrics.h"
#include "fuse/inode_table.h"
#include "fuse/mount_opts.h"
#include "fuse/open_files.h"

typedef struct cfsm {
    cfs_fs *fs;
    mount_opts opts;
    struct fuse_session *se;
    inode_table *inodes;
    open_files *files;
    dir_cache *dcache; /* NULL when off (no_dir_cache, see fuse_dcache.h) */
} cfsm;

static inline cfsm *req_mount(fuse_req_t req)
{
    return (cfsm *)fuse_req_userdata(req);
}

/* The caller's uid, gid and supplementary groups (from /proc for non-root callers), mapped
 * by the mount's root_squash / all_squash options. */
void req_cred(fuse_req_t req, cfs_cred *c);

/* Replies with the POSIX error for a negative libchunkfs error: project codes mapped by
 * cfs_err_to_posix, -ETIMEDOUT (operation timeout) becomes EIO, anything out of range EIO. */
void reply_err(fuse_req_t req, int err);
int posix_errno(int err);

/* Fills a fuse_entry_param for `a` with the configured cache timeouts. */
void fill_entry(const cfsm *m, const cfs_attr *a, struct fuse_entry_param *e);
/* Replies with a new entry and records it in the inode table (lookup count +1). */
void reply_entry(fuse_req_t req, const cfs_attr *a, uint64_t parent);
/* The same, cached by the kernel for at most max_s seconds (an answer from the mount's own
 * cache, which is already that old). */
void reply_entry_within(fuse_req_t req, const cfs_attr *a, uint64_t parent, double max_s);
/* Replies with attributes and records the data version. */
void reply_attr(fuse_req_t req, const cfs_attr *a);
void reply_attr_within(fuse_req_t req, const cfs_attr *a, double max_s);

/* A name the kernel passed us that libchunkfs must never see: empty, too long, with '/'. */
int fuse_check_name(const char *name);

/* The operation tables, filled by the fuse_ops_*.c files. */
void fuse_ops_ns_fill(struct fuse_lowlevel_ops *ops);
void fuse_ops_file_fill(struct fuse_lowlevel_ops *ops);
void fuse_ops_xattr_lock_fill(struct fuse_lowlevel_ops *ops);

#endif
