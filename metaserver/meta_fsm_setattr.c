/* setattr: chmod, chown, truncate and utimes with Linux's permission rules
 * (setattr_prepare / setattr_copy / chown_common). All checks run before any change. */
#include "metaserver/meta_fsm_internal.h"

#define SETATTR_KNOWN                                                                              \
    (META_SETATTR_MODE | META_SETATTR_UID | META_SETATTR_GID | META_SETATTR_SIZE |                 \
     META_SETATTR_ATIME | META_SETATTR_MTIME | META_SETATTR_ATIME_NOW | META_SETATTR_MTIME_NOW |   \
     META_SETATTR_CTIME)

static int check(const struct mf_ctx *c, const struct mf_inode *in, const Chunkfs__SetattrReq *r)
{
    const Chunkfs__Cred *cr = c->cred;
    uint32_t v = r->valid;
    bool root = cr->uid == 0, owner = cr->uid == in->uid;
    if (v & ~SETATTR_KNOWN) return -EINVAL;
    /* (uid_t)-1 means "unchanged" to chown(2), so it can never be an owner (Linux: EINVAL). */
    if (((v & META_SETATTR_UID) && r->uid == UINT32_MAX) ||
        ((v & META_SETATTR_GID) && r->gid == UINT32_MAX))
        return -EINVAL;
    if ((v & META_SETATTR_MODE) && !root && !owner) return -EPERM;
    if ((v & META_SETATTR_UID) && !root && !(owner && r->uid == in->uid)) return -EPERM;
    if ((v & META_SETATTR_GID) && !root &&
        !(owner && (r->gid == in->gid || mf_in_group(cr, r->gid))))
        return -EPERM;
    if (v & META_SETATTR_SIZE) {
        if (in->type == MF_DIR) return -EISDIR;
        if (in->type != MF_FILE) return -EINVAL;
        if (r->size > mf_max_file_size(c->fsm)) return -EFBIG;
        /* ftruncate by the writer holding the lease needs no permission (the fd has it). */
        if (!mf_lease_check(c, in, r->lease_id)) {
            int rc = mf_access(cr, in, MF_W);
            if (rc) return rc;
        }
    }
    if ((v & (META_SETATTR_ATIME | META_SETATTR_MTIME)) && !root && !owner) return -EPERM;
    if ((v & (META_SETATTR_ATIME_NOW | META_SETATTR_MTIME_NOW)) && !root && !owner &&
        mf_access(cr, in, MF_W) != 0)
        return -EACCES;
    return 0;
}

int mf_op_setattr(struct mf_ctx *c, const Chunkfs__SetattrReq *r, Chunkfs__MetaResponse *resp)
{
    struct mf_inode *in = mf_iget(c->fsm, r->ino);
    if (!in) return -ENOENT;
    int rc = check(c, in, r);
    if (rc) return rc;
    uint32_t v = r->valid;
    if (v & META_SETATTR_SIZE) {
        rc = mf_do_truncate(c, in, r->size);
        if (rc) return rc;
    }
    if (v & (META_SETATTR_UID | META_SETATTR_GID)) {
        if (v & META_SETATTR_UID) in->uid = r->uid;
        if (v & META_SETATTR_GID) in->gid = r->gid;
        /* chown of a non-directory drops setuid, and setgid when it means "setgid exec". */
        if (in->type != MF_DIR) {
            in->mode &= (uint16_t)~04000;
            if (in->mode & 0010) in->mode &= (uint16_t)~02000;
        }
    }
    if (v & META_SETATTR_MODE) {
        uint32_t m = r->mode & 07777;
        if (c->cred->uid != 0 && !mf_in_group(c->cred, in->gid)) m &= ~02000u;
        in->mode = (uint16_t)m;
    }
    if (v & META_SETATTR_ATIME) in->atime = r->atime_ns;
    if (v & META_SETATTR_ATIME_NOW) in->atime = c->now;
    if (v & META_SETATTR_MTIME) in->mtime = r->mtime_ns;
    if (v & META_SETATTR_MTIME_NOW) in->mtime = c->now;
    if (v) in->ctime = c->now;
    return mf_resp_attr(resp, in);
}
