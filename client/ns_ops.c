/* Inode-based namespace operations (lookup, getattr, setattr, mkdir, create, unlink, ...). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/fs_internal.h"
#include "common/errors.h"

#define REQ(var)                                                                                   \
    Chunkfs__MetaRequest var;                                                                      \
    chunkfs__meta_request__init(&var)

int check_name(const char *name)
{
    if (!name || !name[0]) return -ENOENT;
    if (strchr(name, '/')) return -EINVAL;
    if (strlen(name) > CFS_NAME_MAX) return -ENAMETOOLONG;
    return 0;
}

/* Runs a call whose result is an Attr and copies it to *out (may be NULL). */
static int call_attr(cfs_fs *fs, const cfs_cred *cred, Chunkfs__MetaRequest *req, cfs_attr *out)
{
    Chunkfs__MetaResponse *resp = NULL;
    int rc = meta_call(fs, cred, req, &resp);
    if (rc == 0) {
        if (resp->result_case != CHUNKFS__META_RESPONSE__RESULT_ATTR)
            rc = -EPROTO;
        else if (out)
            attr_from_pb(resp->attr, out);
    }
    if (resp) chunkfs__meta_response__free_unpacked(resp, NULL);
    return rc;
}

/* The directory attributes of this thread's last namespace change (cfs_last_dir_attrs):
 * per thread because the FUSE daemon runs each request on one thread and asks right after. */
static _Thread_local cfs_dir_attrs last_dir_attrs;

static void note_dir_attrs(const Chunkfs__MetaResponse *resp)
{
    memset(&last_dir_attrs, 0, sizeof last_dir_attrs);
    if (!resp || resp->err != 0) return;
    if (resp->parent_attr) {
        attr_from_pb(resp->parent_attr, &last_dir_attrs.parent);
        last_dir_attrs.has_parent = true;
    }
    if (resp->new_parent_attr) {
        attr_from_pb(resp->new_parent_attr, &last_dir_attrs.new_parent);
        last_dir_attrs.has_new_parent = true;
    }
}

void cfs_last_dir_attrs(cfs_dir_attrs *out)
{
    *out = last_dir_attrs;
}

/* Runs a namespace change and records the parents' attributes it reports; with want_attr the
 * result must be an Attr, copied to *out (may be NULL). */
static int call_ns_change(cfs_fs *fs, const cfs_cred *cred, Chunkfs__MetaRequest *req,
                          bool want_attr, cfs_attr *out)
{
    memset(&last_dir_attrs, 0, sizeof last_dir_attrs);
    Chunkfs__MetaResponse *resp = NULL;
    int rc = meta_call(fs, cred, req, &resp);
    if (rc == 0 && want_attr) {
        if (resp->result_case != CHUNKFS__META_RESPONSE__RESULT_ATTR)
            rc = -EPROTO;
        else if (out)
            attr_from_pb(resp->attr, out);
    }
    if (rc == 0) note_dir_attrs(resp);
    if (resp) chunkfs__meta_response__free_unpacked(resp, NULL);
    return rc;
}

int cfs_lookup(cfs_fs *fs, uint64_t parent, const char *name, const cfs_cred *cred, cfs_attr *out)
{
    if (!name || !name[0] || strchr(name, '/')) return -EINVAL;
    if (strlen(name) > CFS_NAME_MAX) return -ENAMETOOLONG;
    REQ(req);
    Chunkfs__LookupReq op = CHUNKFS__LOOKUP_REQ__INIT;
    op.parent = parent;
    op.name = (char *)name;
    req.op_case = CHUNKFS__META_REQUEST__OP_LOOKUP;
    req.lookup = &op;
    return call_attr(fs, cred, &req, out);
}

int cfs_getattr(cfs_fs *fs, uint64_t ino, const cfs_cred *cred, cfs_attr *out)
{
    REQ(req);
    Chunkfs__GetattrReq op = CHUNKFS__GETATTR_REQ__INIT;
    op.ino = ino;
    req.op_case = CHUNKFS__META_REQUEST__OP_GETATTR;
    req.getattr = &op;
    cfs_attr a;
    int rc = call_attr(fs, cred, &req, &a);
    if (rc < 0) return rc;
    cfs_file *w = lease_get_writer(fs, ino);
    if (w) {
        /* Our own buffered writes are part of the file as this client sees it. */
        pthread_mutex_lock(&w->mu);
        a.size = w->size;
        pthread_mutex_unlock(&w->mu);
        lease_put(w);
    }
    *out = a;
    return 0;
}

int cfs_setattr(cfs_fs *fs, uint64_t ino, const cfs_attr *in, uint32_t valid, const cfs_cred *cred,
                cfs_attr *out)
{
    REQ(req);
    Chunkfs__SetattrReq op = CHUNKFS__SETATTR_REQ__INIT;
    op.ino = ino;
    if (valid & CFS_SET_ATIME) {
        if (in->atime.tv_nsec == UTIME_NOW)
            valid = (valid & ~CFS_SET_ATIME) | CFS_SET_ATIME_NOW;
        else if (in->atime.tv_nsec == UTIME_OMIT)
            valid &= ~CFS_SET_ATIME;
        else
            op.atime_ns = (int64_t)in->atime.tv_sec * 1000000000 + in->atime.tv_nsec;
    }
    if (valid & CFS_SET_MTIME) {
        if (in->mtime.tv_nsec == UTIME_NOW)
            valid = (valid & ~CFS_SET_MTIME) | CFS_SET_MTIME_NOW;
        else if (in->mtime.tv_nsec == UTIME_OMIT)
            valid &= ~CFS_SET_MTIME;
        else
            op.mtime_ns = (int64_t)in->mtime.tv_sec * 1000000000 + in->mtime.tv_nsec;
    }
    op.valid = valid;
    op.mode = in->mode & 07777;
    op.uid = in->uid;
    op.gid = in->gid;
    op.size = in->size;
    req.op_case = CHUNKFS__META_REQUEST__OP_SETATTR;
    req.setattr = &op;

    cfs_file *w = NULL;
    if (valid & CFS_SET_SIZE) {
        w = lease_get_writer(fs, ino);
        if (w) {
            int frc = write_path_flush(w);
            if (frc < 0) {
                lease_put(w);
                return frc;
            }
            op.lease_id = w->lease_id;
        }
    }
    cfs_attr a;
    int rc = call_attr(fs, cred, &req, &a);
    if (w) {
        if (rc == 0) {
            pthread_mutex_lock(&w->mu);
            w->size = w->committed_size = a.size;
            pthread_mutex_unlock(&w->mu);
            write_path_forget_allocs(w);
            chunk_cache_clear(w);
            read_path_drop_readahead(w);
        }
        lease_put(w);
    }
    if (rc == 0 && out) *out = a;
    return rc;
}

int cfs_mkdir(cfs_fs *fs, uint64_t parent, const char *name, uint32_t mode, const cfs_cred *cred,
              cfs_attr *out)
{
    int rc = check_name(name);
    if (rc < 0) return rc;
    REQ(req);
    Chunkfs__MkdirReq op = CHUNKFS__MKDIR_REQ__INIT;
    op.parent = parent;
    op.name = (char *)name;
    op.mode = mode & 07777;
    req.op_case = CHUNKFS__META_REQUEST__OP_MKDIR;
    req.mkdir = &op;
    return call_ns_change(fs, cred, &req, true, out);
}

int cfs_create(cfs_fs *fs, uint64_t parent, const char *name, uint32_t mode, int flags,
               const cfs_cred *cred, cfs_attr *out, cfs_file **fh)
{
    int rc = check_name(name);
    if (rc < 0) return rc;
    int acc = flags & O_ACCMODE;
    if (acc != O_RDONLY && acc != O_WRONLY && acc != O_RDWR) return -EINVAL;
    bool write = acc != O_RDONLY;
    REQ(req);
    Chunkfs__CreateReq op = CHUNKFS__CREATE_REQ__INIT;
    op.parent = parent;
    op.name = (char *)name;
    op.mode = mode & 07777;
    op.exclusive = (flags & O_EXCL) != 0;
    op.truncate = (flags & O_TRUNC) != 0;
    op.open_write = write;
    /* If the file is new, its chunk 0 comes allocated: one metadata round less per file. */
    op.alloc_first_chunk = write;
    op.client_id = fs->client_id;
    req.op_case = CHUNKFS__META_REQUEST__OP_CREATE;
    req.create = &op;
    Chunkfs__MetaResponse *resp = NULL;
    memset(&last_dir_attrs, 0, sizeof last_dir_attrs);
    rc = meta_call(fs, cred, &req, &resp);
    if (rc == 0) {
        const Chunkfs__OpenResp *open = NULL;
        const Chunkfs__Attr *attr = NULL;
        if (resp->result_case == CHUNKFS__META_RESPONSE__RESULT_OPEN && resp->open) {
            open = resp->open;
            attr = open->attr;
        } else if (resp->result_case == CHUNKFS__META_RESPONSE__RESULT_ATTR) {
            attr = resp->attr;
        }
        if (!attr || (write && !open)) {
            rc = -EPROTO;
        } else {
            if (out) attr_from_pb(attr, out);
            rc = file_handle_new(fs, cred, flags, open, attr, fh);
            if (rc == 0) note_dir_attrs(resp);
        }
    }
    if (resp) chunkfs__meta_response__free_unpacked(resp, NULL);
    return rc;
}

int cfs_unlink(cfs_fs *fs, uint64_t parent, const char *name, const cfs_cred *cred)
{
    int rc = check_name(name);
    if (rc < 0) return rc;
    REQ(req);
    Chunkfs__UnlinkReq op = CHUNKFS__UNLINK_REQ__INIT;
    op.parent = parent;
    op.name = (char *)name;
    req.op_case = CHUNKFS__META_REQUEST__OP_UNLINK;
    req.unlink = &op;
    return call_ns_change(fs, cred, &req, false, NULL);
}

int cfs_rmdir(cfs_fs *fs, uint64_t parent, const char *name, const cfs_cred *cred)
{
    int rc = check_name(name);
    if (rc < 0) return rc;
    REQ(req);
    Chunkfs__RmdirReq op = CHUNKFS__RMDIR_REQ__INIT;
    op.parent = parent;
    op.name = (char *)name;
    req.op_case = CHUNKFS__META_REQUEST__OP_RMDIR;
    req.rmdir = &op;
    return call_ns_change(fs, cred, &req, false, NULL);
}

int cfs_rename(cfs_fs *fs, uint64_t src_parent, const char *src_name, uint64_t dst_parent,
               const char *dst_name, uint32_t flags, const cfs_cred *cred)
{
    int rc = check_name(src_name);
    if (rc == 0) rc = check_name(dst_name);
    if (rc < 0) return rc;
    if (flags & ~(CFS_RENAME_NOREPLACE | CFS_RENAME_EXCHANGE)) return -EINVAL;
    if ((flags & CFS_RENAME_NOREPLACE) && (flags & CFS_RENAME_EXCHANGE)) return -EINVAL;
    REQ(req);
    Chunkfs__RenameReq op = CHUNKFS__RENAME_REQ__INIT;
    op.src_parent = src_parent;
    op.src_name = (char *)src_name;
    op.dst_parent = dst_parent;
    op.dst_name = (char *)dst_name;
    op.flags = flags;
    req.op_case = CHUNKFS__META_REQUEST__OP_RENAME;
    req.rename = &op;
    return call_ns_change(fs, cred, &req, false, NULL);
}

int cfs_link(cfs_fs *fs, uint64_t ino, uint64_t new_parent, const char *new_name,
             const cfs_cred *cred, cfs_attr *out)
{
    int rc = check_name(new_name);
    if (rc < 0) return rc;
    REQ(req);
    Chunkfs__LinkReq op = CHUNKFS__LINK_REQ__INIT;
    op.ino = ino;
    op.new_parent = new_parent;
    op.new_name = (char *)new_name;
    req.op_case = CHUNKFS__META_REQUEST__OP_LINK;
    req.link = &op;
    return call_ns_change(fs, cred, &req, true, out);
}

int cfs_symlink(cfs_fs *fs, uint64_t parent, const char *name, const char *target,
                const cfs_cred *cred, cfs_attr *out)
{
    int rc = check_name(name);
    if (rc < 0) return rc;
    if (!target || !target[0]) return -ENOENT;
    if (strlen(target) >= CFS_PATH_MAX) return -ENAMETOOLONG;
    REQ(req);
    Chunkfs__SymlinkReq op = CHUNKFS__SYMLINK_REQ__INIT;
    op.parent = parent;
    op.name = (char *)name;
    op.target = (char *)target;
    req.op_case = CHUNKFS__META_REQUEST__OP_SYMLINK;
    req.symlink = &op;
    return call_ns_change(fs, cred, &req, true, out);
}

int cfs_readlink(cfs_fs *fs, uint64_t ino, const cfs_cred *cred, char *buf, size_t size)
{
    REQ(req);
    Chunkfs__ReadlinkReq op = CHUNKFS__READLINK_REQ__INIT;
    op.ino = ino;
    req.op_case = CHUNKFS__META_REQUEST__OP_READLINK;
    req.readlink = &op;
    Chunkfs__MetaResponse *resp = NULL;
    int rc = meta_call(fs, cred, &req, &resp);
    if (rc == 0) {
        if (resp->result_case != CHUNKFS__META_RESPONSE__RESULT_TARGET || !resp->target) {
            rc = -EPROTO;
        } else {
            size_t n = strlen(resp->target);
            if (size == 0 || n > size - 1) {
                rc = -ENAMETOOLONG;
            } else {
                memcpy(buf, resp->target, n + 1);
                rc = (int)n;
            }
        }
    }
    if (resp) chunkfs__meta_response__free_unpacked(resp, NULL);
    return rc;
}

static uint32_t dirent_type_bits(Chunkfs__FileType t)
{
    switch (t) {
    case CHUNKFS__FILE_TYPE__FT_DIR:
        return S_IFDIR;
    case CHUNKFS__FILE_TYPE__FT_SYMLINK:
        return S_IFLNK;
    default:
        return S_IFREG;
    }
}

int cfs_readdir(cfs_fs *fs, uint64_t ino, const char *after, uint32_t max, bool with_attrs,
                const cfs_cred *cred, cfs_dir_page *page)
{
    memset(page, 0, sizeof(*page));
    REQ(req);
    Chunkfs__ReaddirReq op = CHUNKFS__READDIR_REQ__INIT;
    op.ino = ino;
    op.after = (char *)(after ? after : "");
    op.max = max;
    op.with_attrs = with_attrs;
    req.op_case = CHUNKFS__META_REQUEST__OP_READDIR;
    req.readdir = &op;
    Chunkfs__MetaResponse *resp = NULL;
    int rc = meta_call(fs, cred, &req, &resp);
    if (rc == 0) {
        if (resp->result_case != CHUNKFS__META_RESPONSE__RESULT_READDIR || !resp->readdir) {
            rc = -EPROTO;
        } else {
            Chunkfs__ReaddirResp *rd = resp->readdir;
            page->eof = rd->eof;
            if (rd->n_entries) {
                page->entries = calloc(rd->n_entries, sizeof(cfs_dirent));
                if (!page->entries) rc = -ENOMEM;
            }
            for (size_t i = 0; rc == 0 && i < rd->n_entries; i++) {
                const Chunkfs__DirEntry *e = rd->entries[i];
                cfs_dirent *d = &page->entries[i];
                d->name = strdup(e->name ? e->name : "");
                if (!d->name) {
                    rc = -ENOMEM;
                    break;
                }
                page->count++;
                d->ino = e->ino;
                d->mode = dirent_type_bits(e->type);
                if (e->attr) {
                    d->has_attr = true;
                    attr_from_pb(e->attr, &d->attr);
                    d->mode = d->attr.mode;
                }
            }
            if (rc < 0) cfs_dir_page_free(page);
        }
    }
    if (resp) chunkfs__meta_response__free_unpacked(resp, NULL);
    return rc;
}

void cfs_dir_page_free(cfs_dir_page *page)
{
    for (size_t i = 0; i < page->count; i++)
        free(page->entries[i].name);
    free(page->entries);
    memset(page, 0, sizeof(*page));
}

int cfs_statfs_get(cfs_fs *fs, const cfs_cred *cred, cfs_statfs *out)
{
    REQ(req);
    Chunkfs__StatfsReq op = CHUNKFS__STATFS_REQ__INIT;
    req.op_case = CHUNKFS__META_REQUEST__OP_STATFS;
    req.statfs = &op;
    Chunkfs__MetaResponse *resp = NULL;
    int rc = meta_call(fs, cred, &req, &resp);
    if (rc == 0) {
        if (resp->result_case != CHUNKFS__META_RESPONSE__RESULT_STATFS || !resp->statfs) {
            rc = -EPROTO;
        } else {
            out->total_bytes = resp->statfs->total_bytes;
            out->free_bytes = resp->statfs->free_bytes;
            out->used_bytes = resp->statfs->used_bytes;
            out->files = resp->statfs->files;
            out->chunk_size = resp->statfs->chunk_size;
        }
    }
    if (resp) chunkfs__meta_response__free_unpacked(resp, NULL);
    return rc;
}

int cfs_access(cfs_fs *fs, uint64_t ino, int mask, const cfs_cred *cred)
{
    if (mask & ~(R_OK | W_OK | X_OK)) return -EINVAL;
    REQ(req);
    Chunkfs__AccessReq op = CHUNKFS__ACCESS_REQ__INIT;
    op.ino = ino;
    op.mask = (uint32_t)mask;
    req.op_case = CHUNKFS__META_REQUEST__OP_ACCESS;
    req.access = &op;
    return meta_call(fs, cred, &req, NULL);
}
