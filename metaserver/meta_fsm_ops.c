/* Namespace mutations: mkdir, create, unlink, rmdir, link, symlink, open for writing and
 * set_goal. Each validates everything first (in Linux's order of checks, so error codes match
 * a local file system) and only then changes state. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "metaserver/meta_fsm_internal.h"

static void touch_dir(const struct mf_ctx *c, struct mf_inode *dir)
{
    dir->mtime = dir->ctime = c->now;
}

/* Common checks for adding `name` to `parent`: 0 with dir and name length, or an error. */
static int prep_new_entry(const struct mf_ctx *c, uint64_t parent, const char *name,
                          struct mf_inode **dir, size_t *len)
{
    int rc = mf_dir_search(c, parent, dir);
    if (rc) return rc;
    rc = mf_check_name(name, len, -EEXIST); /* "." and ".." always exist */
    if (rc) return rc;
    if (mf_dir_find(*dir, name, *len)) return -EEXIST;
    return mf_access(c->cred, *dir, MF_W);
}

/* Owner and mode of a new inode in dir (setgid directories pass their group on). */
static void new_owner(const struct mf_ctx *c, const struct mf_inode *dir, uint8_t type,
                      uint32_t *mode, uint32_t *gid)
{
    *mode &= 07777;
    *gid = c->cred->gid;
    if (dir->mode & 02000) {
        *gid = dir->gid;
        if (type == MF_DIR) *mode |= 02000;
    }
    if (type != MF_DIR && (*mode & 02000) && c->cred->uid != 0 && !mf_in_group(c->cred, *gid))
        *mode &= ~02000u;
}

static struct mf_inode *add_new(struct mf_ctx *c, struct mf_inode *dir, const char *name,
                                size_t len, uint8_t type, uint32_t mode)
{
    uint32_t gid;
    new_owner(c, dir, type, &mode, &gid);
    struct mf_inode *in =
        mf_inode_new(c->fsm, type, (uint16_t)mode, c->cred->uid, gid, dir->goal, c->now);
    if (!in) return NULL;
    if (mf_dir_add(c->fsm, dir, name, len, in->ino) != 0) {
        (void)mf_inode_free(c->fsm, in); /* fails the apply with ENOMEM anyway */
        return NULL;
    }
    touch_dir(c, dir);
    return in;
}

int mf_op_mkdir(struct mf_ctx *c, const Chunkfs__MkdirReq *r, Chunkfs__MetaResponse *resp)
{
    struct mf_inode *dir;
    size_t len;
    int rc = prep_new_entry(c, r->parent, r->name, &dir, &len);
    if (rc) return rc;
    if (dir->nlink >= META_FSM_LINK_MAX) return -EMLINK;
    struct mf_inode *in = add_new(c, dir, r->name, len, MF_DIR, r->mode);
    if (!in) return -ENOMEM;
    in->ext->u.dir.parent = dir->ino;
    dir->nlink++;
    return mf_resp_attr(resp, in);
}

int mf_do_truncate(struct mf_ctx *c, struct mf_inode *in, uint64_t size)
{
    if (size > mf_max_file_size(c->fsm)) return -EFBIG;
    if (size < in->size) {
        int rc = mf_truncate_chunks(c->fsm, in, size);
        if (rc) return rc;
    }
    in->size = size;
    in->mtime = in->ctime = c->now;
    in->generation++;
    mf_kill_suid(c->cred, in);
    return 0;
}

/* Open an existing regular file for writing and/or truncation (create and open share it). */
static int open_existing(struct mf_ctx *c, struct mf_inode *in, bool want_read, bool want_write,
                         bool truncate, Chunkfs__MetaResponse *resp)
{
    int mask = (want_read ? MF_R : 0) | (want_write || truncate ? MF_W : 0);
    int rc = mf_access(c->cred, in, mask);
    if (rc) return rc;
    if (want_write && mf_lease_conflict(c, in)) return -CFS_ELEASE;
    if (want_write && (rc = mf_lease_may_acquire(c, in)) != 0) return rc;
    if (truncate) {
        rc = mf_do_truncate(c, in, 0);
        if (rc) return rc;
    }
    struct mf_lease *l = NULL;
    if (want_write) {
        rc = mf_lease_acquire(c, in, &l);
        if (rc) return rc;
    }
    return mf_set_open_resp(c, in, l, resp);
}

int mf_op_create(struct mf_ctx *c, const Chunkfs__CreateReq *r, Chunkfs__MetaResponse *resp)
{
    struct mf_inode *dir;
    int rc = mf_dir_search(c, r->parent, &dir);
    if (rc) return rc;
    size_t len;
    /* "." and ".." name directories: open(O_CREAT) of one is EISDIR, with O_EXCL EEXIST. */
    rc = mf_check_name(r->name, &len, r->exclusive ? -EEXIST : -EISDIR);
    if (rc) return rc;
    struct mf_dentry *d = mf_dir_find(dir, r->name, len);
    if (d) {
        if (r->exclusive) return -EEXIST;
        struct mf_inode *in = mf_iget(c->fsm, d->ino);
        if (in->type == MF_DIR) return -EISDIR;
        if (in->type != MF_FILE) return -EEXIST;
        if (!r->open_write && !r->truncate) {
            rc = mf_access(c->cred, in, MF_R);
            return rc ? rc : mf_resp_attr(resp, in);
        }
        return open_existing(c, in, !r->open_write, r->open_write, r->truncate, resp);
    }
    rc = mf_access(c->cred, dir, MF_W);
    if (rc) return rc;
    if (r->open_write && (rc = mf_lease_may_acquire(c, NULL)) != 0) return rc;
    struct mf_inode *in = add_new(c, dir, r->name, len, MF_FILE, r->mode);
    if (!in) return -ENOMEM;
    if (!r->open_write) return mf_resp_attr(resp, in);
    struct mf_lease *l;
    rc = mf_lease_acquire(c, in, &l);
    if (rc) return rc;
    rc = mf_set_open_resp(c, in, l, resp);
    if (rc == 0 && r->alloc_first_chunk) rc = mf_alloc_first_chunk(c, in, resp->open);
    return rc;
}

int mf_op_open(struct mf_ctx *c, const Chunkfs__OpenReq *r, Chunkfs__MetaResponse *resp)
{
    struct mf_inode *in = mf_iget(c->fsm, r->ino);
    if (!in) return -ENOENT;
    uint32_t acc = r->flags & O_ACCMODE;
    bool trunc = (r->flags & O_TRUNC) != 0;
    if (acc == O_ACCMODE) return -EINVAL;
    bool want_write = acc != O_RDONLY;
    if (in->type == MF_DIR) {
        if (want_write || trunc) return -EISDIR;
        int rc = mf_access(c->cred, in, MF_R);
        return rc ? rc : mf_set_open_resp(c, in, NULL, resp);
    }
    if (in->type != MF_FILE) return -ELOOP;
    if (c->cmd == NULL && (want_write || trunc)) return -EINVAL; /* must go through the log */
    return open_existing(c, in, acc != O_WRONLY, want_write, trunc, resp);
}

int mf_op_unlink(struct mf_ctx *c, const Chunkfs__UnlinkReq *r, Chunkfs__MetaResponse *resp)
{
    (void)resp;
    struct mf_inode *dir;
    int rc = mf_dir_search(c, r->parent, &dir);
    if (rc) return rc;
    size_t len;
    rc = mf_check_name(r->name, &len, -EISDIR);
    if (rc) return rc;
    struct mf_dentry *d = mf_dir_find(dir, r->name, len);
    if (!d) return -ENOENT;
    struct mf_inode *in = mf_iget(c->fsm, d->ino);
    rc = mf_access(c->cred, dir, MF_W);
    if (rc) return rc;
    rc = mf_sticky_ok(c->cred, dir, in);
    if (rc) return rc;
    if (in->type == MF_DIR) return -EISDIR;
    free(mf_dir_remove(c->fsm, dir, r->name, len));
    touch_dir(c, dir);
    if (--in->nlink == 0) return mf_inode_free(c->fsm, in);
    in->ctime = c->now;
    return 0;
}

int mf_op_rmdir(struct mf_ctx *c, const Chunkfs__RmdirReq *r, Chunkfs__MetaResponse *resp)
{
    (void)resp;
    struct mf_inode *dir;
    int rc = mf_dir_search(c, r->parent, &dir);
    if (rc) return rc;
    size_t len;
    rc = mf_check_name(r->name, &len, MF_DOT_RMDIR);
    if (rc) return rc;
    struct mf_dentry *d = mf_dir_find(dir, r->name, len);
    if (!d) return -ENOENT;
    struct mf_inode *in = mf_iget(c->fsm, d->ino);
    rc = mf_access(c->cred, dir, MF_W);
    if (rc) return rc;
    rc = mf_sticky_ok(c->cred, dir, in);
    if (rc) return rc;
    if (in->type != MF_DIR) return -ENOTDIR;
    if (in->ext->u.dir.count) return -ENOTEMPTY;
    free(mf_dir_remove(c->fsm, dir, r->name, len));
    dir->nlink--;
    touch_dir(c, dir);
    return mf_inode_free(c->fsm, in);
}

/* Linux's protected_hardlinks (on by default in distributions): linking a file one does not
 * own needs read and write access to it, and it must be a regular file without setuid or
 * setgid-exec, so nobody can pin another user's file or a privileged binary in a place
 * they control (a sticky /tmp) after its owner removed or replaced it. */
static int may_hardlink(const Chunkfs__Cred *cred, const struct mf_inode *in)
{
    if (mf_is_owner_or_root(cred, in)) return 0;
    bool safe = in->type == MF_FILE && !(in->mode & 04000) && (in->mode & 02010) != 02010 &&
                mf_access(cred, in, MF_R | MF_W) == 0;
    return safe ? 0 : -EPERM;
}

int mf_op_link(struct mf_ctx *c, const Chunkfs__LinkReq *r, Chunkfs__MetaResponse *resp)
{
    struct mf_inode *in = mf_iget(c->fsm, r->ino);
    if (!in) return -ENOENT;
    struct mf_inode *dir;
    size_t len;
    int rc = prep_new_entry(c, r->new_parent, r->new_name, &dir, &len);
    if (rc) return rc;
    if (in->type == MF_DIR) return -EPERM;
    rc = may_hardlink(c->cred, in);
    if (rc) return rc;
    if (in->nlink >= META_FSM_LINK_MAX) return -EMLINK;
    if (mf_dir_add(c->fsm, dir, r->new_name, len, in->ino) != 0) return -ENOMEM;
    in->nlink++;
    in->ctime = c->now;
    touch_dir(c, dir);
    return mf_resp_attr(resp, in);
}

int mf_op_symlink(struct mf_ctx *c, const Chunkfs__SymlinkReq *r, Chunkfs__MetaResponse *resp)
{
    size_t tlen = strlen(r->target);
    if (tlen == 0) return -ENOENT;
    if (tlen > META_FSM_SYMLINK_MAX) return -ENAMETOOLONG;
    struct mf_inode *dir;
    size_t len;
    int rc = prep_new_entry(c, r->parent, r->name, &dir, &len);
    if (rc) return rc;
    char *t = mf_strdup(r->target, tlen);
    if (!t) return -ENOMEM;
    struct mf_inode *in = add_new(c, dir, r->name, len, MF_SYMLINK, 0777);
    if (!in) {
        free(t);
        return -ENOMEM;
    }
    in->ext->u.target = t;
    in->size = tlen;
    return mf_resp_attr(resp, in);
}

struct goal_walk {
    meta_fsm *fsm;
    const Chunkfs__Cred *cred;
    uint8_t goal;
    uint64_t *stack;
    size_t n, cap;
};

static int goal_visit(void *arg, const struct mf_dentry *d)
{
    struct goal_walk *w = arg;
    struct mf_inode *in = mf_iget(w->fsm, d->ino);
    /* Entries the caller does not own keep their goal (as chmod -R would fail on them). */
    if (mf_is_owner_or_root(w->cred, in)) in->goal = w->goal;
    if (in->type != MF_DIR) return 0;
    if (w->n == w->cap) {
        uint64_t *s = realloc(w->stack, w->cap * 2 * sizeof(*s));
        if (!s) return -ENOMEM;
        w->stack = s;
        w->cap *= 2;
    }
    w->stack[w->n++] = in->ino;
    return 0;
}

int mf_op_set_goal(struct mf_ctx *c, const Chunkfs__SetGoalReq *r, Chunkfs__MetaResponse *resp)
{
    struct mf_inode *top = mf_iget(c->fsm, r->ino);
    if (!top) return -ENOENT;
    if (r->goal < 1 || r->goal > META_FSM_MAX_GOAL) return -EINVAL;
    if (!mf_is_owner_or_root(c->cred, top)) return -EPERM;
    top->goal = (uint8_t)r->goal;
    if (r->recursive && top->type == MF_DIR) {
        /* Depth-first over the subtree with an explicit stack of directories. */
        struct goal_walk w = {c->fsm, c->cred, (uint8_t)r->goal, NULL, 0, 64};
        w.stack = malloc(w.cap * sizeof(*w.stack));
        if (!w.stack) return -ENOMEM;
        w.stack[w.n++] = top->ino;
        int rc = 0;
        while (w.n && rc == 0) {
            struct mf_inode *dir = mf_iget(c->fsm, w.stack[--w.n]);
            rc = mf_dir_walk(dir->ext->u.dir.root, NULL, SIZE_MAX, goal_visit, &w);
        }
        free(w.stack);
        if (rc) return rc;
    }
    return mf_resp_attr(resp, top);
}
