/* rename(2) with POSIX replace rules, RENAME_NOREPLACE and RENAME_EXCHANGE. */
#include <stdlib.h>

#include "metaserver/meta_fsm_internal.h"

/* True if directory `anc` is `d` or one of its ancestors. */
static bool is_ancestor(const meta_fsm *fsm, const struct mf_inode *anc, const struct mf_inode *d)
{
    for (;;) {
        if (d->ino == anc->ino) return true;
        if (d->ino == MF_ROOT_INO) return false;
        d = mf_iget(fsm, d->ext->u.dir.parent);
    }
}

/* A directory that changes parent gets a new "..": non-root callers need write on it. */
static int may_reparent(const struct mf_ctx *c, const struct mf_inode *in,
                        const struct mf_inode *from, const struct mf_inode *to)
{
    if (in->type != MF_DIR || from == to) return 0;
    return mf_access(c->cred, in, MF_W);
}

static void reparent(struct mf_inode *in, struct mf_inode *from, struct mf_inode *to)
{
    if (in->type != MF_DIR || from == to) return;
    in->ext->u.dir.parent = to->ino;
    from->nlink--;
    to->nlink++;
}

int mf_op_rename(struct mf_ctx *c, const Chunkfs__RenameReq *r, Chunkfs__MetaResponse *resp)
{
    (void)resp;
    if (r->flags & ~(META_RENAME_NOREPLACE | META_RENAME_EXCHANGE)) return -EINVAL;
    if (r->flags == (META_RENAME_NOREPLACE | META_RENAME_EXCHANGE)) return -EINVAL;
    bool exchange = r->flags & META_RENAME_EXCHANGE;
    struct mf_inode *sdir, *ddir;
    int rc = mf_dir_search(c, r->src_parent, &sdir);
    if (rc) return rc;
    rc = mf_dir_search(c, r->dst_parent, &ddir);
    if (rc) return rc;
    size_t slen, dlen;
    rc = mf_check_name(r->src_name, &slen, -EBUSY);
    if (rc) return rc;
    rc = mf_check_name(r->dst_name, &dlen, (r->flags & META_RENAME_NOREPLACE) ? -EEXIST : -EBUSY);
    if (rc) return rc;
    struct mf_dentry *sd = mf_dir_find(sdir, r->src_name, slen);
    if (!sd) return -ENOENT;
    struct mf_dentry *dd = mf_dir_find(ddir, r->dst_name, dlen);
    if (exchange && !dd) return -ENOENT;
    if ((r->flags & META_RENAME_NOREPLACE) && dd) return -EEXIST;
    struct mf_inode *src = mf_iget(c->fsm, sd->ino);
    struct mf_inode *dst = dd ? mf_iget(c->fsm, dd->ino) : NULL;

    rc = mf_access(c->cred, sdir, MF_W);
    if (rc) return rc;
    rc = mf_access(c->cred, ddir, MF_W);
    if (rc) return rc;
    if (dst == src) return 0; /* two names of one inode: POSIX says do nothing */
    rc = mf_sticky_ok(c->cred, sdir, src);
    if (rc) return rc;
    if (dst) {
        rc = mf_sticky_ok(c->cred, ddir, dst);
        if (rc) return rc;
    }
    if (!exchange && dst) {
        if (src->type == MF_DIR && dst->type != MF_DIR) return -ENOTDIR;
        if (src->type != MF_DIR && dst->type == MF_DIR) return -EISDIR;
    }
    if (src->type == MF_DIR && is_ancestor(c->fsm, src, ddir)) return -EINVAL;
    if (exchange && dst->type == MF_DIR && is_ancestor(c->fsm, dst, sdir)) return -EINVAL;
    if (!exchange && dst && dst->type == MF_DIR && dst->ext->u.dir.count) return -ENOTEMPTY;
    rc = may_reparent(c, src, sdir, ddir);
    if (rc) return rc;
    if (exchange) {
        rc = may_reparent(c, dst, ddir, sdir);
        if (rc) return rc;
    }
    if (src->type == MF_DIR && sdir != ddir && !(dst && dst->type == MF_DIR) &&
        ddir->nlink >= META_FSM_LINK_MAX)
        return -EMLINK;

    if (exchange) {
        /* Names stay where they are; the two entries swap inodes. */
        sd->ino = dst->ino;
        dd->ino = src->ino;
        reparent(src, sdir, ddir);
        reparent(dst, ddir, sdir);
        dst->ctime = c->now;
    } else {
        if (dst) {
            free(mf_dir_remove(c->fsm, ddir, r->dst_name, dlen));
            if (dst->type == MF_DIR) ddir->nlink--;
            if (dst->type == MF_DIR || --dst->nlink == 0) {
                rc = mf_inode_free(c->fsm, dst);
                if (rc) return rc;
            } else {
                dst->ctime = c->now;
            }
        }
        free(mf_dir_remove(c->fsm, sdir, r->src_name, slen));
        if (mf_dir_add(c->fsm, ddir, r->dst_name, dlen, src->ino) != 0) return -ENOMEM;
        reparent(src, sdir, ddir);
    }
    src->ctime = c->now;
    sdir->mtime = sdir->ctime = c->now;
    ddir->mtime = ddir->ctime = c->now;
    return 0;
}
