/* Read-only operations, served without the log: lookup, getattr, resolve, readlink, readdir,
 * statfs, xattr reads, access, read-only open, get_chunks, file_info. */
#include <stdlib.h>
#include <string.h>

#include "metaserver/meta_fsm_internal.h"

#define RESOLVE_MAX_LINKS 40
#define RESOLVE_PATH_MAX 4096

static int op_lookup(const struct mf_ctx *c, const Chunkfs__LookupReq *r,
                     Chunkfs__MetaResponse *resp)
{
    struct mf_inode *dir;
    int rc = mf_dir_search(c, r->parent, &dir);
    if (rc) return rc;
    size_t len;
    rc = mf_check_name(r->name, &len, -EINVAL); /* the client resolves dot names */
    if (rc) return rc;
    const struct mf_dentry *d = mf_dir_find(dir, r->name, len);
    if (!d) return -ENOENT;
    return mf_resp_attr(resp, mf_iget(c->fsm, d->ino));
}

static int op_getattr(const struct mf_ctx *c, uint64_t ino, Chunkfs__MetaResponse *resp)
{
    const struct mf_inode *in = mf_iget(c->fsm, ino);
    return in ? mf_resp_attr(resp, in) : -ENOENT;
}

/* Walks an absolute path from "/", following symlinks in the middle (and at the end when
 * `follow`), with search permission checked on every directory passed. */
static int op_resolve(const struct mf_ctx *c, const Chunkfs__ResolveReq *r,
                      Chunkfs__MetaResponse *resp)
{
    size_t plen = strlen(r->path);
    if (plen == 0) return -ENOENT;
    if (r->path[0] != '/') return -EINVAL;
    if (plen >= RESOLVE_PATH_MAX) return -ENAMETOOLONG;
    char *buf = malloc(2 * RESOLVE_PATH_MAX + 2);
    if (!buf) return -ENOMEM;
    memcpy(buf, r->path, plen + 1);
    const struct mf_inode *cur = mf_iget(c->fsm, MF_ROOT_INO);
    char *p = buf;
    int links = 0, rc = 0;
    for (;;) {
        while (*p == '/')
            p++;
        if (!*p) break;
        char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        bool last = true;
        for (char *q = p + len; *q; q++)
            if (*q != '/') last = false;
        if (cur->type != MF_DIR) {
            rc = -ENOTDIR;
            break;
        }
        rc = mf_access(c->cred, cur, MF_X);
        if (rc) break;
        if (len > META_FSM_NAME_MAX) {
            rc = -ENAMETOOLONG;
            break;
        }
        const struct mf_inode *next;
        if (len == 1 && p[0] == '.') {
            next = cur;
        } else if (len == 2 && p[0] == '.' && p[1] == '.') {
            next = mf_iget(c->fsm, cur->ext->u.dir.parent);
        } else {
            const struct mf_dentry *d = mf_dir_find(cur, p, len);
            if (!d) {
                rc = -ENOENT;
                break;
            }
            next = mf_iget(c->fsm, d->ino);
        }
        p += len;
        if (next->type == MF_SYMLINK && (!last || r->follow)) {
            if (++links > RESOLVE_MAX_LINKS) {
                rc = -ELOOP;
                break;
            }
            const char *t = next->ext->u.target;
            size_t tlen = strlen(t), rest = strlen(p);
            if (tlen + 1 + rest >= 2 * RESOLVE_PATH_MAX) {
                rc = -ENAMETOOLONG;
                break;
            }
            /* New remaining path = target + rest (rest starts with '/' or is empty). */
            memmove(buf + tlen, p, rest + 1);
            memcpy(buf, t, tlen);
            p = buf;
            if (t[0] == '/') cur = mf_iget(c->fsm, MF_ROOT_INO);
            continue;
        }
        cur = next;
    }
    free(buf);
    return rc ? rc : mf_resp_attr(resp, cur);
}

static int op_readlink(const struct mf_ctx *c, uint64_t ino, Chunkfs__MetaResponse *resp)
{
    const struct mf_inode *in = mf_iget(c->fsm, ino);
    if (!in) return -ENOENT;
    if (in->type != MF_SYMLINK) return -EINVAL;
    char *t = mf_strdup(in->ext->u.target, strlen(in->ext->u.target));
    if (!t) return -ENOMEM;
    resp->result_case = CHUNKFS__META_RESPONSE__RESULT_TARGET;
    resp->target = t;
    return 0;
}

struct readdir_walk {
    const meta_fsm *fsm;
    Chunkfs__ReaddirResp *rr;
    uint32_t max;
    bool with_attrs;
    int err;
};

static int readdir_visit(void *arg, const struct mf_dentry *d)
{
    struct readdir_walk *w = arg;
    if (w->rr->n_entries == w->max) return 1; /* one more exists: not eof */
    const struct mf_inode *in = mf_iget(w->fsm, d->ino);
    Chunkfs__DirEntry *e = malloc(sizeof(*e));
    if (!e) goto oom;
    chunkfs__dir_entry__init(e);
    w->rr->entries[w->rr->n_entries++] = e;
    e->name = mf_strdup(d->name, d->nlen);
    if (!e->name) goto oom;
    e->ino = d->ino;
    e->type = (Chunkfs__FileType)in->type;
    if (w->with_attrs) {
        e->attr = malloc(sizeof(*e->attr));
        if (!e->attr) goto oom;
        mf_fill_attr(in, e->attr);
    }
    return 0;
oom:
    w->err = -ENOMEM;
    return -1;
}

static int op_readdir(const struct mf_ctx *c, const Chunkfs__ReaddirReq *r,
                      Chunkfs__MetaResponse *resp)
{
    const struct mf_inode *dir = mf_iget(c->fsm, r->ino);
    if (!dir) return -ENOENT;
    if (dir->type != MF_DIR) return -ENOTDIR;
    int rc = mf_access(c->cred, dir, MF_R);
    if (rc) return rc;
    uint32_t max = (r->max == 0 || r->max > META_FSM_READDIR_MAX) ? META_FSM_READDIR_MAX : r->max;
    Chunkfs__ReaddirResp *rr = malloc(sizeof(*rr));
    if (!rr) return -ENOMEM;
    chunkfs__readdir_resp__init(rr);
    resp->result_case = CHUNKFS__META_RESPONSE__RESULT_READDIR;
    resp->readdir = rr;
    uint64_t n = dir->ext->u.dir.count < max ? dir->ext->u.dir.count : max;
    if (n) {
        rr->entries = calloc(n, sizeof(*rr->entries));
        if (!rr->entries) return -ENOMEM;
    }
    struct readdir_walk w = {c->fsm, rr, (uint32_t)n, r->with_attrs, 0};
    size_t alen = strlen(r->after);
    rc = mf_dir_walk(dir->ext->u.dir.root, r->after, alen ? alen : SIZE_MAX, readdir_visit, &w);
    if (w.err) return w.err;
    rr->eof = rc == 0;
    return 0;
}

static int op_statfs(const struct mf_ctx *c, Chunkfs__MetaResponse *resp)
{
    Chunkfs__StatfsResp *s = malloc(sizeof(*s));
    if (!s) return -ENOMEM;
    chunkfs__statfs_resp__init(s);
    s->files = c->fsm->inodes.n;
    s->chunk_size = c->fsm->chunk_size;
    resp->result_case = CHUNKFS__META_RESPONSE__RESULT_STATFS;
    resp->statfs = s;
    return 0;
}

static int op_access(const struct mf_ctx *c, const Chunkfs__AccessReq *r)
{
    const struct mf_inode *in = mf_iget(c->fsm, r->ino);
    if (!in) return -ENOENT;
    if (r->mask & ~7u) return -EINVAL;
    return r->mask ? mf_access(c->cred, in, (int)r->mask) : 0;
}

int mf_read_dispatch(const struct mf_ctx *c, const Chunkfs__MetaRequest *req,
                     Chunkfs__MetaResponse *resp)
{
    switch (req->op_case) {
    case CHUNKFS__META_REQUEST__OP_LOOKUP:
        return op_lookup(c, req->lookup, resp);
    case CHUNKFS__META_REQUEST__OP_GETATTR:
        return op_getattr(c, req->getattr->ino, resp);
    case CHUNKFS__META_REQUEST__OP_RESOLVE:
        return op_resolve(c, req->resolve, resp);
    case CHUNKFS__META_REQUEST__OP_READLINK:
        return op_readlink(c, req->readlink->ino, resp);
    case CHUNKFS__META_REQUEST__OP_READDIR:
        return op_readdir(c, req->readdir, resp);
    case CHUNKFS__META_REQUEST__OP_STATFS:
        return op_statfs(c, resp);
    case CHUNKFS__META_REQUEST__OP_GETXATTR:
        return mf_read_getxattr(c, req->getxattr, resp);
    case CHUNKFS__META_REQUEST__OP_LISTXATTR:
        return mf_read_listxattr(c, req->listxattr, resp);
    case CHUNKFS__META_REQUEST__OP_ACCESS:
        return op_access(c, req->access);
    case CHUNKFS__META_REQUEST__OP_OPEN:
        /* Read-only open changes nothing; mf_op_open refuses writes when c->cmd is NULL. */
        return mf_op_open((struct mf_ctx *)c, req->open, resp);
    case CHUNKFS__META_REQUEST__OP_GET_CHUNKS: {
        /* Bounded, so a reply of a huge file stays far below the message size limit:
         * clients page through with `first`. */
        uint32_t count = req->get_chunks->count;
        if (count == 0 || count > META_FSM_GET_CHUNKS_MAX) count = META_FSM_GET_CHUNKS_MAX;
        return mf_read_chunks(c, req->get_chunks->ino, req->get_chunks->first, count, true, resp);
    }
    case CHUNKFS__META_REQUEST__OP_FILE_INFO:
        return mf_read_chunks(c, req->file_info->ino, 0, 0, false, resp);
    default:
        return -EINVAL;
    }
}
