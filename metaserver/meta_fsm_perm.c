/* POSIX permission checks and name rules (as Linux's generic_permission and may_delete). */
#include <string.h>

#include "metaserver/meta_fsm_internal.h"

bool mf_in_group(const Chunkfs__Cred *c, uint32_t gid)
{
    if (c->gid == gid) return true;
    for (size_t i = 0; i < c->n_gids; i++)
        if (c->gids[i] == gid) return true;
    return false;
}

int mf_access(const Chunkfs__Cred *c, const struct mf_inode *in, int mask)
{
    mask &= MF_R | MF_W | MF_X;
    if (c->uid == 0) {
        /* Root may read and write anything; it may execute a file only if someone can. */
        if ((mask & MF_X) && in->type != MF_DIR && !(in->mode & 0111)) return -EACCES;
        return 0;
    }
    unsigned bits;
    if (c->uid == in->uid)
        bits = (in->mode >> 6) & 7;
    else if (mf_in_group(c, in->gid))
        bits = (in->mode >> 3) & 7;
    else
        bits = in->mode & 7;
    return ((bits & (unsigned)mask) == (unsigned)mask) ? 0 : -EACCES;
}

int mf_check_name(const char *name, size_t *len, int dot_err)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0) return -ENOENT;
    if (n > META_FSM_NAME_MAX) return -ENAMETOOLONG;
    if (strchr(name, '/')) return -EINVAL;
    bool dot = strcmp(name, ".") == 0, dotdot = strcmp(name, "..") == 0;
    if (dot_err == MF_DOT_RMDIR && (dot || dotdot)) return dot ? -EINVAL : -ENOTEMPTY;
    if (dot || dotdot) return dot_err;
    *len = n;
    return 0;
}

bool mf_is_owner_or_root(const Chunkfs__Cred *c, const struct mf_inode *in)
{
    return c->uid == 0 || c->uid == in->uid;
}

int mf_sticky_ok(const Chunkfs__Cred *c, const struct mf_inode *dir, const struct mf_inode *victim)
{
    if (!(dir->mode & 01000)) return 0;
    if (c->uid == 0 || c->uid == dir->uid || c->uid == victim->uid) return 0;
    return -EPERM;
}

void mf_kill_suid(const Chunkfs__Cred *c, struct mf_inode *in)
{
    if (c->uid == 0) return;
    in->mode &= (uint16_t)~04000;
    if (in->mode & 0010) in->mode &= (uint16_t)~02000;
}

int mf_dir_search(const struct mf_ctx *c, uint64_t ino, struct mf_inode **out)
{
    struct mf_inode *d = mf_iget(c->fsm, ino);
    if (!d) return -ENOENT;
    if (d->type != MF_DIR) return -ENOTDIR;
    int rc = mf_access(c->cred, d, MF_X);
    if (rc) return rc;
    *out = d;
    return 0;
}
