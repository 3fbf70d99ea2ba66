/* FUSE namespace operations: names, attributes, directories, statfs, access. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/statvfs.h>

#include "common/errors.h"
#include "common/log.h"
#include "fuse/fuse_ctx.h"
#include "fuse/fuse_dcache.h"

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    cfsm *m = req_mount(req);
    cfs_cred cred;
    req_cred(req, &cred);
    cfs_attr a;
    int rc;
    uint64_t entry_parent = parent;
    double fresh_s = HUGE_VAL;
    if (strcmp(name, ".") == 0) {
        rc = cfs_getattr(m->fs, parent, &cred, &a);
        entry_parent = inode_table_parent(m->inodes, parent);
    } else if (strcmp(name, "..") == 0) {
        /* Only asked for by NFS-style lookups; answered from the recorded parent. */
        uint64_t pp = inode_table_parent(m->inodes, parent);
        rc = pp ? cfs_getattr(m->fs, pp, &cred, &a) : cfs_lookup(m->fs, parent, name, &cred, &a);
        entry_parent = pp ? inode_table_parent(m->inodes, pp) : 0;
    } else {
        rc = fuse_check_name(name);
        if (rc == 0) rc = fdc_lookup(m, parent, name, &cred, &a, &fresh_s);
    }
    if (rc < 0) {
        reply_err(req, rc);
        return;
    }
    reply_entry_within(req, &a, entry_parent, fresh_s);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
    inode_table_forget(req_mount(req)->inodes, ino, nlookup);
    fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
    cfsm *m = req_mount(req);
    for (size_t i = 0; i < count; i++)
        inode_table_forget(m->inodes, forgets[i].ino, forgets[i].nlookup);
    fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    cfsm *m = req_mount(req);
    cfs_attr a;
    int rc;
    double fresh_s = HUGE_VAL;
    if (fi && fi->fh) {
        rc = ofile_getattr((open_ref *)(uintptr_t)fi->fh, &a);
    } else if (fdc_getattr(m, ino, &a, &fresh_s)) {
        rc = 0;
    } else {
        cfs_cred cred;
        req_cred(req, &cred);
        rc = cfs_getattr(m->fs, ino, &cred, &a);
    }
    if (rc < 0)
        reply_err(req, rc);
    else
        reply_attr_within(req, &a, fresh_s);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
                       struct fuse_file_info *fi)
{
    cfsm *m = req_mount(req);
    cfs_cred cred;
    req_cred(req, &cred);
    cfs_attr in;
    memset(&in, 0, sizeof in);
    uint32_t valid = 0;
    if (to_set & FUSE_SET_ATTR_MODE) {
        valid |= CFS_SET_MODE;
        in.mode = attr->st_mode & 07777;
    }
    if (to_set & FUSE_SET_ATTR_UID) {
        valid |= CFS_SET_UID;
        in.uid = attr->st_uid;
    }
    if (to_set & FUSE_SET_ATTR_GID) {
        valid |= CFS_SET_GID;
        in.gid = attr->st_gid;
    }
    if (to_set & FUSE_SET_ATTR_SIZE) {
        if (attr->st_size < 0) {
            fuse_reply_errno(req, EINVAL);
            return;
        }
        valid |= CFS_SET_SIZE;
        in.size = (uint64_t)attr->st_size;
    }
    if (to_set & FUSE_SET_ATTR_ATIME_NOW) {
        valid |= CFS_SET_ATIME_NOW;
    } else if (to_set & FUSE_SET_ATTR_ATIME) {
        valid |= CFS_SET_ATIME;
        in.atime = attr->st_atim;
    }
    if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
        valid |= CFS_SET_MTIME_NOW;
    } else if (to_set & FUSE_SET_ATTR_MTIME) {
        valid |= CFS_SET_MTIME;
        in.mtime = attr->st_mtim;
    }
    if ((to_set & FUSE_SET_ATTR_CTIME) && valid == 0) valid |= CFS_SET_CTIME;
    int rc;
    cfs_attr out;
    if (valid & CFS_SET_SIZE && fi && fi->fh) {
        /* ftruncate: the data buffered in this mount must land before the size changes. */
        rc = ofile_commit((open_ref *)(uintptr_t)fi->fh);
        if (rc < 0) {
            reply_err(req, rc);
            return;
        }
    }
    if (valid == 0) {
        rc = cfs_getattr(m->fs, ino, &cred, &out);
    } else {
        rc = cfs_setattr(m->fs, ino, &in, valid, &cred, &out);
        fdc_attr_changed(m, ino);
    }
    if (rc == 0 && (valid & CFS_SET_SIZE)) open_files_size_changed(m->files, ino);
    if (rc < 0)
        reply_err(req, rc);
    else
        reply_attr(req, &out);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
    cfsm *m = req_mount(req);
    cfs_cred cred;
    req_cred(req, &cred);
    char *buf = malloc(CFS_PATH_MAX + 1);
    if (!buf) {
        fuse_reply_errno(req, ENOMEM);
        return;
    }
    int rc = cfs_readlink(m->fs, ino, &cred, buf, CFS_PATH_MAX + 1);
    if (rc < 0)
        reply_err(req, rc);
    else
        fuse_reply_readlink(req, buf);
    free(buf);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
    (void)rdev;
    cfsm *m = req_mount(req);
    if (!S_ISREG(mode)) {
        /* Only regular files, directories and symlinks exist in chunkfs. */
        fuse_reply_errno(req, EPERM);
        return;
    }
    int rc = fuse_check_name(name);
    if (rc < 0) {
        reply_err(req, rc);
        return;
    }
    cfs_cred cred;
    req_cred(req, &cred);
    cfs_attr a;
    cfs_file *fh = NULL;
    uint64_t token = fdc_begin(m);
    rc = cfs_create(m->fs, parent, name, mode & 07777, O_RDONLY | O_EXCL, &cred, &a, &fh);
    fdc_made(m, token, rc, parent, name, &a);
    fdc_end(m, token);
    if (rc == 0) rc = cfs_close(fh);
    if (rc < 0)
        reply_err(req, rc);
    else
        reply_entry(req, &a, parent);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
    cfsm *m = req_mount(req);
    int rc = fuse_check_name(name);
    cfs_attr a;
    if (rc == 0) {
        cfs_cred cred;
        req_cred(req, &cred);
        uint64_t token = fdc_begin(m);
        rc = cfs_mkdir(m->fs, parent, name, mode & 07777, &cred, &a);
        fdc_made(m, token, rc, parent, name, &a);
        fdc_end(m, token);
    }
    if (rc < 0)
        reply_err(req, rc);
    else
        reply_entry(req, &a, parent);
}

/* Unlinking the last name of a file open in this mount hides it instead (see
 * open_files_hide) so the open descriptors keep working. Returns 1 if hidden. */
static int hide_if_open(cfsm *m, uint64_t parent, const char *name, const cfs_cred *cred,
                        char *hidden, size_t hidden_size)
{
    if (!open_files_any(m->files)) return 0;
    cfs_attr a;
    if (cfs_lookup(m->fs, parent, name, cred, &a) != 0 || !S_ISREG(a.mode) || a.nlink != 1)
        return 0;
    return open_files_hide(m->files, a.ino, parent, name, cred, hidden, hidden_size);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    cfsm *m = req_mount(req);
    int rc = fuse_check_name(name);
    if (rc == 0) {
        cfs_cred cred;
        req_cred(req, &cred);
        char hidden[64];
        uint64_t token = fdc_begin(m);
        rc = hide_if_open(m, parent, name, &cred, hidden, sizeof hidden);
        if (rc == 1) {
            /* Renamed to the hidden name instead (the file is open here). */
            rc = 0;
            fdc_renamed(m, token, rc, parent, name, parent, hidden, false);
        } else {
            if (rc == 0) rc = cfs_unlink(m->fs, parent, name, &cred);
            fdc_removed(m, token, rc, parent, name);
        }
        fdc_end(m, token);
    }
    reply_err(req, rc);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    cfsm *m = req_mount(req);
    int rc = fuse_check_name(name);
    if (rc == 0) {
        cfs_cred cred;
        req_cred(req, &cred);
        uint64_t token = fdc_begin(m);
        rc = cfs_rmdir(m->fs, parent, name, &cred);
        fdc_removed(m, token, rc, parent, name);
        fdc_end(m, token);
    }
    reply_err(req, rc);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
    cfsm *m = req_mount(req);
    int rc = fuse_check_name(name);
    if (rc == 0 && (link[0] == 0 || strlen(link) >= CFS_PATH_MAX))
        rc = link[0] ? -ENAMETOOLONG : -ENOENT;
    cfs_attr a;
    if (rc == 0) {
        cfs_cred cred;
        req_cred(req, &cred);
        uint64_t token = fdc_begin(m);
        rc = cfs_symlink(m->fs, parent, name, link, &cred, &a);
        fdc_made(m, token, rc, parent, name, &a);
        fdc_end(m, token);
    }
    if (rc < 0)
        reply_err(req, rc);
    else
        reply_entry(req, &a, parent);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
                      const char *newname, unsigned int flags)
{
    cfsm *m = req_mount(req);
    if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE) ||
        (flags & RENAME_NOREPLACE && flags & RENAME_EXCHANGE)) {
        fuse_reply_errno(req, EINVAL);
        return;
    }
    int rc = fuse_check_name(name);
    if (rc == 0) rc = fuse_check_name(newname);
    cfs_cred cred;
    req_cred(req, &cred);
    if (rc == 0) {
        uint32_t cflags = 0;
        if (flags & RENAME_NOREPLACE) cflags |= CFS_RENAME_NOREPLACE;
        if (flags & RENAME_EXCHANGE) cflags |= CFS_RENAME_EXCHANGE;
        uint64_t token = fdc_begin(m);
        rc = cfs_rename(m->fs, parent, name, newparent, newname, cflags, &cred);
        fdc_renamed(m, token, rc, parent, name, newparent, newname, (flags & RENAME_EXCHANGE) != 0);
        fdc_end(m, token);
    }
    if (rc == 0 && parent != newparent) {
        /* Keep the parent map right for a directory that moved (best effort: the rename is
         * done, a failing lookup only leaves a stale ".." inode number in readdir). */
        cfs_attr a;
        if (cfs_lookup(m->fs, newparent, newname, &cred, &a) == 0 && S_ISDIR(a.mode))
            inode_table_set_parent(m->inodes, a.ino, newparent);
        if ((flags & RENAME_EXCHANGE) && cfs_lookup(m->fs, parent, name, &cred, &a) == 0 &&
            S_ISDIR(a.mode))
            inode_table_set_parent(m->inodes, a.ino, parent);
    }
    reply_err(req, rc);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
    cfsm *m = req_mount(req);
    int rc = fuse_check_name(newname);
    cfs_attr a;
    if (rc == 0) {
        cfs_cred cred;
        req_cred(req, &cred);
        uint64_t token = fdc_begin(m);
        rc = cfs_link(m->fs, ino, newparent, newname, &cred, &a);
        /* (a file with two names keeps no cached attributes, see dir_cache_set_entry) */
        fdc_made(m, token, rc, newparent, newname, &a);
        fdc_end(m, token);
    }
    if (rc < 0)
        reply_err(req, rc);
    else
        reply_entry(req, &a, 0);
}

/* ------------------------------------------------------------------ directories */

/* An open directory: the listing fetched so far, in name order. FUSE offsets are positions in
 * it: 0 ".", 1 "..", 2 + i entry i. Pages are fetched on demand after the last name seen, so a
 * huge directory is never loaded at once; offset 0 (rewinddir) starts a fresh listing. */
typedef struct dir_handle {
    pthread_mutex_t lock;
    uint64_t ino;
    cfs_dirent *ents;
    size_t n, cap;
    bool eof;
    bool fresh;           /* first page just fetched by opendir */
    bool complete;        /* every name from the first page on (none skipped) */
    uint64_t cache_token; /* dir cache token and time taken before the first page */
    uint64_t cache_at;
} dir_handle;

static void dir_clear(dir_handle *d)
{
    for (size_t i = 0; i < d->n; i++)
        free(d->ents[i].name);
    d->n = 0;
    d->eof = false;
}

static int dir_fetch(cfsm *m, dir_handle *d, const cfs_cred *cred)
{
    cfs_dir_page page;
    memset(&page, 0, sizeof page);
    if (d->n == 0) {
        fdc_listing_begin(m, &d->cache_token, &d->cache_at);
        d->complete = true;
    }
    int rc = cfs_readdir(m->fs, d->ino, d->n ? d->ents[d->n - 1].name : "", 0, true, cred, &page);
    if (rc < 0) return rc;
    if (d->n + page.count > d->cap) {
        size_t ncap = d->cap ? d->cap : 256;
        while (ncap < d->n + page.count)
            ncap *= 2;
        cfs_dirent *ne = realloc(d->ents, ncap * sizeof *ne);
        if (!ne) {
            cfs_dir_page_free(&page);
            return -ENOMEM;
        }
        d->ents = ne;
        d->cap = ncap;
    }
    for (size_t i = 0; i < page.count; i++) {
        cfs_dirent e = page.entries[i];
        if (fuse_check_name(e.name) != 0 || strcmp(e.name, ".") == 0 || strcmp(e.name, "..") == 0) {
            LOG_WARN("dir %llu: skipping bad entry name from metaserver",
                     (unsigned long long)d->ino);
            d->complete = false;
            continue;
        }
        e.name = strdup(e.name);
        if (!e.name) {
            cfs_dir_page_free(&page);
            return -ENOMEM;
        }
        d->ents[d->n++] = e;
    }
    /* An empty page that is not the end would loop forever: treat it as the end. */
    d->eof = page.eof || page.count == 0;
    cfs_dir_page_free(&page);
    /* A whole listing read (ls, ls -l): later lookups in it need no round trip. */
    if (d->eof && d->complete && d->n <= FDC_MAX_ENTRIES)
        fdc_listing_done(m, d->cache_token, d->cache_at, d->ino, d->ents, d->n);
    return 0;
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    cfsm *m = req_mount(req);
    dir_handle *d = calloc(1, sizeof *d);
    if (!d) {
        fuse_reply_errno(req, ENOMEM);
        return;
    }
    pthread_mutex_init(&d->lock, NULL);
    d->ino = ino;
    cfs_cred cred;
    req_cred(req, &cred);
    /* Fetching the first page also checks read permission now, as open(2) must. */
    int rc = dir_fetch(m, d, &cred);
    if (rc < 0) {
        dir_clear(d);
        free(d->ents);
        pthread_mutex_destroy(&d->lock);
        free(d);
        reply_err(req, rc);
        return;
    }
    d->fresh = true;
    fi->fh = (uintptr_t)d;
    if (fuse_reply_open(req, fi) != 0) {
        dir_clear(d);
        free(d->ents);
        pthread_mutex_destroy(&d->lock);
        free(d);
    }
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi, bool plus)
{
    cfsm *m = req_mount(req);
    dir_handle *d = (dir_handle *)(uintptr_t)fi->fh;
    cfs_cred cred;
    req_cred(req, &cred);
    char *buf = malloc(size);
    if (!buf) {
        fuse_reply_errno(req, ENOMEM);
        return;
    }
    pthread_mutex_lock(&d->lock);
    int rc = 0;
    if (off == 0 && !d->fresh) {
        dir_clear(d);
        rc = dir_fetch(m, d, &cred);
    }
    d->fresh = false;
    size_t pos = 0;
    for (uint64_t idx = off < 0 ? 0 : (uint64_t)off; rc == 0; idx++) {
        const char *name;
        struct fuse_entry_param e;
        memset(&e, 0, sizeof e);
        const cfs_dirent *de = NULL;
        if (idx == 0) {
            name = ".";
            e.attr.st_ino = ino;
            e.attr.st_mode = S_IFDIR;
        } else if (idx == 1) {
            name = "..";
            uint64_t p = inode_table_parent(m->inodes, ino);
            e.attr.st_ino = p ? p : ino;
            e.attr.st_mode = S_IFDIR;
        } else {
            size_t k = (size_t)(idx - 2);
            if (k >= d->n) {
                if (d->eof) break;
                rc = dir_fetch(m, d, &cred);
                if (rc < 0 || k >= d->n) break;
            }
            de = &d->ents[k];
            name = de->name;
            if (plus && de->has_attr) {
                fill_entry(m, &de->attr, &e);
            } else {
                e.attr.st_ino = de->ino;
                e.attr.st_mode = de->mode & S_IFMT;
            }
        }
        size_t need;
        if (plus)
            need = fuse_add_direntry_plus(req, buf + pos, size - pos, name, &e, (off_t)idx + 1);
        else
            need = fuse_add_direntry(req, buf + pos, size - pos, name, &e.attr, (off_t)idx + 1);
        if (need > size - pos) break;
        pos += need;
        /* An entry with attributes counts as a lookup for the kernel. */
        if (plus && de && e.ino) inode_table_add_ref(m->inodes, &de->attr, ino);
    }
    pthread_mutex_unlock(&d->lock);
    if (rc < 0 && pos == 0)
        reply_err(req, rc);
    else
        fuse_reply_buf(req, buf, pos);
    free(buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi)
{
    do_readdir(req, ino, size, off, fi, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                           struct fuse_file_info *fi)
{
    do_readdir(req, ino, size, off, fi, true);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)ino;
    dir_handle *d = (dir_handle *)(uintptr_t)fi->fh;
    dir_clear(d);
    free(d->ents);
    pthread_mutex_destroy(&d->lock);
    free(d);
    fuse_reply_errno(req, 0);
}

static void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
    (void)ino, (void)datasync, (void)fi;
    /* Namespace changes are durable (committed through Raft) before they are acknowledged. */
    fuse_reply_errno(req, 0);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
    (void)ino;
    cfsm *m = req_mount(req);
    cfs_cred cred;
    req_cred(req, &cred);
    cfs_statfs s;
    int rc = cfs_statfs_get(m->fs, &cred, &s);
    if (rc < 0) {
        reply_err(req, rc);
        return;
    }
    struct statvfs v;
    memset(&v, 0, sizeof v);
    v.f_bsize = 4096;
    v.f_frsize = 4096;
    v.f_blocks = s.total_bytes / 4096;
    v.f_bfree = (s.free_bytes < s.total_bytes ? s.free_bytes : s.total_bytes) / 4096;
    v.f_bavail = v.f_bfree;
    /* Inodes are limited by metaserver memory only: report plenty free. */
    v.f_ffree = 1ULL << 32;
    v.f_files = s.files + v.f_ffree;
    v.f_favail = v.f_ffree;
    v.f_namemax = CFS_NAME_MAX;
    fuse_reply_statfs(req, &v);
}

static void op_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
    cfsm *m = req_mount(req);
    cfs_cred cred;
    req_cred(req, &cred);
    reply_err(req, cfs_access(m->fs, ino, mask, &cred));
}

void fuse_ops_ns_fill(struct fuse_lowlevel_ops *ops)
{
    ops->lookup = op_lookup;
    ops->forget = op_forget;
    ops->forget_multi = op_forget_multi;
    ops->getattr = op_getattr;
    ops->setattr = op_setattr;
    ops->readlink = op_readlink;
    ops->mknod = op_mknod;
    ops->mkdir = op_mkdir;
    ops->unlink = op_unlink;
    ops->rmdir = op_rmdir;
    ops->symlink = op_symlink;
    ops->rename = op_rename;
    ops->link = op_link;
    ops->opendir = op_opendir;
    ops->readdir = op_readdir;
    ops->readdirplus = op_readdirplus;
    ops->releasedir = op_releasedir;
    ops->fsyncdir = op_fsyncdir;
    ops->statfs = op_statfs;
    ops->access = op_access;
}
