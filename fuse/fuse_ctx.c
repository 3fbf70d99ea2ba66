#include "fuse/fuse_ctx.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "common/errors.h"
#include "common/log.h"

void req_cred(fuse_req_t req, cfs_cred *c)
{
    const struct fuse_ctx *ctx = fuse_req_ctx(req);
    const mount_opts *o = &req_mount(req)->opts;
    c->ngids = 0;
    if (o->all_squash) {
        c->uid = o->squash_uid;
        c->gid = o->squash_gid;
        return;
    }
    bool squash_root = o->root_squash != 0;
    c->uid = squash_root && ctx->uid == 0 ? o->squash_uid : ctx->uid;
    c->gid = squash_root && ctx->gid == 0 ? o->squash_gid : ctx->gid;
    if (c->uid == 0) return; /* root passes every group check: skip the /proc read */
    gid_t list[CFS_CRED_MAX_GIDS];
    int n = fuse_req_getgroups(req, CFS_CRED_MAX_GIDS, list);
    /* n < 0: the caller is gone or /proc is unreadable; its primary group still applies. */
    if (n > CFS_CRED_MAX_GIDS) n = CFS_CRED_MAX_GIDS;
    for (int i = 0; i < n; i++)
        c->gids[c->ngids++] = squash_root && list[i] == 0 ? o->squash_gid : list[i];
}

int posix_errno(int err)
{
    if (err >= 0) return 0;
    int e = cfs_err_to_posix(err);
    if (e == -ETIMEDOUT || e == -ENOTCONN || e == -ECANCELED || e == -EPROTO) return EIO;
    if (e >= 0 || e < -4095) return EIO;
    return -e;
}

void reply_err(fuse_req_t req, int err)
{
    int e = posix_errno(err);
    if (e == EIO)
        LOG_WARN("request of pid %d fails with EIO: %s", (int)fuse_req_ctx(req)->pid,
                 cfs_strerror(err));
    fuse_reply_errno(req, e);
}

void fill_entry(const cfsm *m, const cfs_attr *a, struct fuse_entry_param *e)
{
    memset(e, 0, sizeof *e);
    e->ino = a->ino;
    e->generation = 1;
    cfs_attr_to_stat(a, &e->attr);
    e->attr_timeout = m->opts.attr_timeout;
    e->entry_timeout = m->opts.entry_timeout;
}

void reply_entry(fuse_req_t req, const cfs_attr *a, uint64_t parent)
{
    reply_entry_within(req, a, parent, HUGE_VAL);
}

void reply_entry_within(fuse_req_t req, const cfs_attr *a, uint64_t parent, double max_s)
{
    cfsm *m = req_mount(req);
    struct fuse_entry_param e;
    fill_entry(m, a, &e);
    if (e.entry_timeout > max_s) e.entry_timeout = max_s;
    if (e.attr_timeout > max_s) e.attr_timeout = max_s;
    int rc = inode_table_add_ref(m->inodes, a, parent);
    if (rc < 0) {
        reply_err(req, rc);
        return;
    }
    /* If the kernel is gone (interrupted request), it never counts this lookup. */
    if (fuse_reply_entry(req, &e) != 0) inode_table_forget(m->inodes, a->ino, 1);
}

void reply_attr(fuse_req_t req, const cfs_attr *a)
{
    reply_attr_within(req, a, HUGE_VAL);
}

void reply_attr_within(fuse_req_t req, const cfs_attr *a, double max_s)
{
    cfsm *m = req_mount(req);
    struct stat st;
    cfs_attr_to_stat(a, &st);
    inode_table_update(m->inodes, a);
    fuse_reply_attr(req, &st, m->opts.attr_timeout < max_s ? m->opts.attr_timeout : max_s);
}

int fuse_check_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || strchr(name, '/')) return -EINVAL;
    if (n > CFS_NAME_MAX) return -ENAMETOOLONG;
    return 0;
}
