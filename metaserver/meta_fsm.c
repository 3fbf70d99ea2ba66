/* meta_fsm core: lifetime, the inode table, inode records and the shell's queries. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "metaserver/meta_fsm_internal.h"

static void sessions_free(meta_fsm *fsm)
{
    for (size_t i = 0; i < fsm->sessions.cap; i++) {
        if (!fsm->sessions.slots[i].key) continue;
        struct mf_session *s = (struct mf_session *)(uintptr_t)fsm->sessions.slots[i].val;
        for (uint32_t k = 0; k < s->n; k++)
            free(s->ring[k].resp);
        free(s->ring);
        free(s);
    }
    mf_kv_free(&fsm->sessions);
}

static void free_inode_mem(struct mf_inode *in)
{
    if (in->nchunks >= 2) free(in->ch.many);
    if (in->ext) {
        mf_xattrs_free(in->ext->xattrs);
        free(in->ext->lease);
        if (in->type == MF_DIR) mf_dir_free_all(in->ext->u.dir.root);
        if (in->type == MF_SYMLINK) free(in->ext->u.target);
        free(in->ext);
    }
    free(in);
}

void mf_fsm_clear(meta_fsm *fsm)
{
    for (size_t i = 0; i < fsm->inodes.cap; i++)
        if (fsm->inodes.slots[i]) free_inode_mem(fsm->inodes.slots[i]);
    mf_itable_free(&fsm->inodes);
    mf_cidx_free(&fsm->chunks);
    sessions_free(fsm);
    mf_kv_free(&fsm->lease_counts);
    free(fsm->deleted);
}

meta_fsm *meta_fsm_create(void)
{
    meta_fsm *fsm = calloc(1, sizeof(*fsm));
    if (!fsm) return NULL;
    fsm->chunk_size = META_FSM_DEFAULT_CHUNK_SIZE;
    fsm->hash_seed = 0x243f6a8885a308d3ull; /* until the shell sets a secret one */
    fsm->next_ino = MF_ROOT_INO;
    fsm->next_chunk_id = 1;
    fsm->next_lease_id = 1;
    struct mf_inode *root = mf_inode_new(fsm, MF_DIR, 0755, 0, 0, META_FSM_DEFAULT_GOAL, 0);
    if (!root) {
        mf_fsm_clear(fsm);
        free(fsm);
        return NULL;
    }
    root->ext->u.dir.parent = MF_ROOT_INO;
    return fsm;
}

void meta_fsm_set_hash_seed(meta_fsm *fsm, uint64_t seed)
{
    fsm->hash_seed = seed;
}

void meta_fsm_destroy(meta_fsm *fsm)
{
    if (!fsm) return;
    mf_fsm_clear(fsm);
    free(fsm);
}

struct mf_ext *mf_ext_get(struct mf_inode *in)
{
    if (!in->ext) in->ext = calloc(1, sizeof(*in->ext));
    return in->ext;
}

void mf_ext_trim(struct mf_inode *in)
{
    if (in->type == MF_FILE && in->ext && !in->ext->xattrs && !in->ext->lease) {
        free(in->ext);
        in->ext = NULL;
    }
}

struct mf_inode *mf_inode_new(meta_fsm *fsm, uint8_t type, uint16_t mode, uint32_t uid,
                              uint32_t gid, uint8_t goal, int64_t now)
{
    struct mf_inode *in = calloc(1, sizeof(*in));
    if (!in) return NULL;
    in->ino = fsm->next_ino;
    in->type = type;
    in->mode = mode & 07777;
    in->uid = uid;
    in->gid = gid;
    in->goal = goal;
    in->nlink = type == MF_DIR ? 2 : 1;
    in->atime = in->mtime = in->ctime = now;
    if (type != MF_FILE && !mf_ext_get(in)) {
        free(in);
        return NULL;
    }
    if (mf_iput(fsm, in) != 0) {
        free(in->ext);
        free(in);
        return NULL;
    }
    fsm->next_ino++;
    if (type == MF_FILE) fsm->n_files++;
    if (type == MF_DIR) fsm->n_dirs++;
    if (type == MF_SYMLINK) fsm->n_symlinks++;
    return in;
}

int mf_inode_free(meta_fsm *fsm, struct mf_inode *in)
{
    const struct mf_chunk *ch = mf_chunks_c(in);
    int rc = 0;
    for (uint32_t i = 0; i < in->nchunks; i++) {
        mf_cidx_del(&fsm->chunks, ch[i].id);
        if (mf_deleted_push(fsm, ch[i].id, ch[i].version) != 0) rc = -ENOMEM;
    }
    if (in->ext && in->ext->lease) mf_lease_release(fsm, in);
    if (in->type == MF_FILE) fsm->n_files--;
    if (in->type == MF_DIR) fsm->n_dirs--;
    if (in->type == MF_SYMLINK) fsm->n_symlinks--;
    mf_idel(fsm, in->ino);
    free_inode_mem(in);
    return rc;
}

void mf_fill_attr(const struct mf_inode *in, Chunkfs__Attr *a)
{
    chunkfs__attr__init(a);
    a->ino = in->ino;
    a->type = (Chunkfs__FileType)in->type;
    a->mode = in->mode;
    a->uid = in->uid;
    a->gid = in->gid;
    a->nlink = in->nlink;
    a->size = in->size;
    a->atime_ns = in->atime;
    a->mtime_ns = in->mtime;
    a->ctime_ns = in->ctime;
    a->goal = in->goal;
    a->generation = in->generation;
}

void meta_fsm_get_info(const meta_fsm *fsm, meta_fsm_info *info)
{
    memset(info, 0, sizeof(*info));
    memcpy(info->cluster_id, fsm->cluster_id, sizeof(info->cluster_id));
    info->chunk_size = fsm->chunk_size;
    info->files = fsm->n_files;
    info->dirs = fsm->n_dirs;
    info->symlinks = fsm->n_symlinks;
    info->chunks = mf_cidx_live(&fsm->chunks);
    info->next_ino = fsm->next_ino;
    info->next_chunk_id = fsm->next_chunk_id;
    info->next_lease_id = fsm->next_lease_id;
    info->deleted_pending = fsm->deleted_n;
    info->sessions = fsm->sessions.n;
}

static void chunk_ref(const struct mf_inode *in, const struct mf_chunk *c, meta_chunk_ref *out)
{
    out->chunk_id = c->id;
    out->version = c->version;
    out->ino = in->ino;
    out->index = c->index;
    out->length = c->length;
    out->goal = in->goal;
}

int meta_fsm_chunk_lookup(const meta_fsm *fsm, uint64_t chunk_id, meta_chunk_ref *out)
{
    uint64_t ino;
    if (!mf_cidx_get(&fsm->chunks, chunk_id, &ino)) return -ENOENT;
    const struct mf_inode *in = mf_iget(fsm, ino);
    if (!in) return -ENOENT;
    const struct mf_chunk *ch = mf_chunks_c(in);
    for (uint32_t i = 0; i < in->nchunks; i++) {
        if (ch[i].id == chunk_id) {
            chunk_ref(in, &ch[i], out);
            return 0;
        }
    }
    return -ENOENT;
}

int meta_fsm_file_chunk(const meta_fsm *fsm, uint64_t ino, uint32_t index, meta_chunk_ref *out)
{
    struct mf_inode *in = mf_iget(fsm, ino);
    if (!in) return -ENOENT;
    if (in->type == MF_DIR) return -EISDIR;
    if (in->type != MF_FILE) return -EINVAL;
    const struct mf_chunk *c = mf_chunk_at(in, index);
    if (!c) return -ENOENT;
    chunk_ref(in, c, out);
    return 0;
}

int meta_fsm_chunk_foreach(const meta_fsm *fsm, int (*fn)(void *arg, const meta_chunk_ref *c),
                           void *arg)
{
    for (size_t i = 0; i < fsm->inodes.cap; i++) {
        const struct mf_inode *in = fsm->inodes.slots[i];
        if (!in || in->nchunks == 0) continue;
        const struct mf_chunk *ch = mf_chunks_c(in);
        for (uint32_t k = 0; k < in->nchunks; k++) {
            meta_chunk_ref r;
            chunk_ref(in, &ch[k], &r);
            int rc = fn(arg, &r);
            if (rc) return rc;
        }
    }
    return 0;
}

void meta_fsm_deleted(const meta_fsm *fsm, const meta_deleted_chunk **arr, size_t *n)
{
    *arr = fsm->deleted ? fsm->deleted + fsm->deleted_head : NULL;
    *n = fsm->deleted_n;
}

int meta_fsm_lease_foreach(const meta_fsm *fsm, int (*fn)(void *arg, const meta_lease_ref *l),
                           void *arg)
{
    for (const struct mf_lease *l = fsm->leases; l; l = l->next) {
        meta_lease_ref r = {l->ino, l->id, l->client_id, l->expiry_ns};
        int rc = fn(arg, &r);
        if (rc) return rc;
    }
    return 0;
}

bool meta_fsm_is_mutation(const Chunkfs__MetaRequest *req)
{
    switch (req->op_case) {
    case CHUNKFS__META_REQUEST__OP_SETATTR:
    case CHUNKFS__META_REQUEST__OP_MKDIR:
    case CHUNKFS__META_REQUEST__OP_CREATE:
    case CHUNKFS__META_REQUEST__OP_UNLINK:
    case CHUNKFS__META_REQUEST__OP_RMDIR:
    case CHUNKFS__META_REQUEST__OP_RENAME:
    case CHUNKFS__META_REQUEST__OP_LINK:
    case CHUNKFS__META_REQUEST__OP_SYMLINK:
    case CHUNKFS__META_REQUEST__OP_SETXATTR:
    case CHUNKFS__META_REQUEST__OP_REMOVEXATTR:
    case CHUNKFS__META_REQUEST__OP_CLOSE:
    case CHUNKFS__META_REQUEST__OP_RENEW_LEASE:
    case CHUNKFS__META_REQUEST__OP_ALLOC_CHUNK:
    case CHUNKFS__META_REQUEST__OP_COMMIT_WRITE:
    case CHUNKFS__META_REQUEST__OP_SET_GOAL:
        return true;
    case CHUNKFS__META_REQUEST__OP_OPEN:
        return req->open &&
               ((req->open->flags & O_ACCMODE) != O_RDONLY || (req->open->flags & O_TRUNC));
    default:
        return false;
    }
}

bool meta_fsm_equal(const meta_fsm *a, const meta_fsm *b)
{
    uint8_t *ba = NULL, *bb = NULL;
    size_t la = 0, lb = 0;
    bool eq = meta_fsm_snapshot(a, &ba, &la) == 0 && meta_fsm_snapshot(b, &bb, &lb) == 0 &&
              la == lb && memcmp(ba, bb, la) == 0;
    free(ba);
    free(bb);
    return eq;
}
