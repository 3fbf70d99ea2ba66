#ifndef CFS_FUSE_OPEN_FILES_H
#define CFS_FUSE_OPEN_FILES_H
/* Open files of the mount, shared per inode. All FUSE file handles of one inode share one
 * libchunkfs write handle (one write lease per file and client; writes through any
 * descriptor see each other at once) and, when needed, one read handle. The write handle
 * (and with it the file's write lease) is taken at the first write and given back when the
 * last writing descriptor is closed. Every open checks the caller's permission on the
 * metaserver: by cfs_open when it opens a read handle, and by cfs_access. Thread-safe; no
 * FUSE inside. */
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "client/chunkfs.h"
#include "fuse/dir_cache.h"

typedef struct open_files open_files;
typedef struct ofile ofile;

/* One FUSE file handle: the shared per-inode state plus this descriptor's access mode. */
typedef struct open_ref {
    ofile *of;
    bool reader;
    bool writer;
} open_ref;

/* lease_wait_ms: how long a first write waits for another client's write lease to end. */
open_files *open_files_new(cfs_fs *fs, int lease_wait_ms);
/* Closes every handle still open (committing buffered writes; errors are logged) and frees
 * the table. No other call may run concurrently. */
void open_files_free(open_files *t);

/* Opens inode `ino` with `flags` (O_ACCMODE bits are used) for `cred`. On success *ref is
 * filled and *fresh tells whether *attr holds attributes fetched now (the data version to
 * compare with the kernel's cache); fresh=false when this mount already holds the file's
 * write lease, so nobody else can have changed it. Returns 0 or a negative errno. */
int open_files_open(open_files *t, uint64_t ino, int flags, const cfs_cred *cred, open_ref *ref,
                    cfs_attr *attr, bool *fresh);
/* Takes over `fh` from cfs_create (opened with `flags`) for inode `ino`. */
int open_files_adopt(open_files *t, uint64_t ino, cfs_file *fh, int flags, const cfs_cred *cred,
                     open_ref *ref);
/* Drops the handle: when the last writer goes, the write handle is closed (data committed,
 * lease released). Returns the first error of the buffered writes, if any. */
int open_files_release(open_files *t, open_ref *ref);

/* True if any file is open in this mount (cheap; lets callers skip lookups). */
bool open_files_any(open_files *t);
/* True if inode `ino` is open in this mount. */
bool open_files_is_open(open_files *t, uint64_t ino);
/* Hidden names removed at the last close are reported to this directory cache. */
void open_files_set_dir_cache(open_files *t, dir_cache *c);
/* If inode `ino` is open in this mount, renames `name` in `parent` (its last link) to a hidden
 * name in the same directory and returns 1: the inode stays readable and writable through
 * the open descriptors, and the hidden name is unlinked at the last close (POSIX semantics of
 * unlinking an open file, as NFS's silly rename). Returns 0 if the inode is not open here
 * (nothing done), or a negative errno from the rename. */
int open_files_hide(open_files *t, uint64_t ino, uint64_t parent, const char *name,
                    const cfs_cred *cred, char *hidden, size_t hidden_size);

/* The file's size was changed by setattr: read handles drop what they cached. */
void open_files_size_changed(open_files *t, uint64_t ino);

/* Data calls: bytes or a negative errno (-EBADF without the needed access). */
ssize_t ofile_read(const open_ref *ref, void *buf, size_t size, uint64_t off);
ssize_t ofile_write(const open_ref *ref, const void *buf, size_t size, uint64_t off);
/* close(2) of a descriptor: commits its writes; when it is the only writing descriptor,
 * also gives the write lease back (another client may write as soon as close returns). */
int ofile_flush(const open_ref *ref);
/* Commits this inode's buffered writes (fsync). */
int ofile_commit(const open_ref *ref);
/* Attributes as the open handles see them (size includes buffered writes). */
int ofile_getattr(const open_ref *ref, cfs_attr *out);
/* POSIX locks were taken on this inode through this mount: close must release them. */
void ofile_set_locked(const open_ref *ref);
bool ofile_locked(const open_ref *ref);
uint64_t ofile_ino(const open_ref *ref);

#endif
