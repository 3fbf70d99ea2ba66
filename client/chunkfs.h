#ifndef CHUNKFS_H
#define CHUNKFS_H
/* libchunkfs: the one C client API of chunkfs (used by the `chunkfs` CLI and `chunkfs-mount`).
 *
 * Model. A cfs_fs is a connection to one metaserver group; it is thread-safe: any number of
 * threads may call into the same cfs_fs at once (FUSE calls from many threads). Namespace calls
 * are inode based (root is CFS_ROOT_INO) and take the caller's credentials, which the metaserver
 * checks. Data goes through a cfs_file handle opened by inode; a handle is thread-safe too
 * (concurrent pread/pwrite on one handle are allowed).
 *
 * Errors. Every int-returning function returns 0 (or a byte count where stated) on success and
 * a negative errno on failure. What reaches callers:
 *   - POSIX codes from the metaserver exactly: -ENOENT -EEXIST -ENOTEMPTY -ENOTDIR -EISDIR
 *     -ENAMETOOLONG -EINVAL -EACCES -EPERM -ENOSPC -EXDEV -ERANGE -ENODATA -EAGAIN -EBADF ...
 *   - -ETIMEDOUT: the operation could not complete within cfs_options.op_timeout_ms (no
 *     metaserver leader reachable, no chunkserver answering). A leader change inside that window
 *     is a pause, not an error: calls are retried transparently and each retry reuses its
 *     request id, so a mutation is applied exactly once.
 *   - -EIO: data could not be read from any replica, or could not be written to any replica.
 *   - project codes from common/errors.h: -CFS_ELEASE (the write lease was lost: another client
 *     took the file or the lease expired), -CFS_ENOSERVERS (not enough live chunkservers to
 *     place a chunk). cfs_err_to_posix() maps them to plain errnos for FUSE.
 * -CFS_ENOTLEADER, -CFS_ESTALE_VER and -CFS_ECORRUPT are handled inside and never returned.
 *
 * Data semantics. Writes are buffered per handle (write-behind) and become visible to other
 * clients when committed: at cfs_fsync, cfs_close, and whenever a chunk fills. Errors of
 * buffered writes are reported by the next cfs_pwrite, cfs_fsync or cfs_close on that handle.
 * A handle reads its own writes. Reads past EOF return 0 bytes; holes read as zeros. Opening
 * a file after another client closed it shows all of that client's writes (close-to-open). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#define CFS_ROOT_INO 1u
#define CFS_NAME_MAX 255
#define CFS_PATH_MAX 4096
#define CFS_CRED_MAX_GIDS 64

typedef struct cfs_fs cfs_fs;
typedef struct cfs_file cfs_file;

/* Caller identity, passed to every namespace call (FUSE: from fuse_req_ctx/getgroups). */
typedef struct cfs_cred {
    uint32_t uid;
    uint32_t gid;
    uint32_t ngids;                   /* supplementary groups in use, <= CFS_CRED_MAX_GIDS */
    uint32_t gids[CFS_CRED_MAX_GIDS]; /* supplementary groups */
} cfs_cred;

/* Fills *c with the calling process's uid, gid and supplementary groups. */
void cfs_cred_self(cfs_cred *c);

typedef struct cfs_attr {
    uint64_t ino;
    uint32_t mode; /* full st_mode: S_IFREG/S_IFDIR/S_IFLNK | permission bits (07777) */
    uint32_t uid;
    uint32_t gid;
    uint32_t nlink;
    uint64_t size;
    struct timespec atime;
    struct timespec mtime;
    struct timespec ctime;
    uint32_t goal;       /* replication goal */
    uint64_t generation; /* bumped on every data commit */
} cfs_attr;

/* Fills a struct stat from an attr (st_blocks from size, st_blksize = 64 KiB). */
void cfs_attr_to_stat(const cfs_attr *a, struct stat *st);

typedef struct cfs_options {
    int op_timeout_ms;         /* bound on every operation incl. retries; default 30000 */
    int retry_window_ms;       /* how long to look for a leader before -ETIMEDOUT;
                                  default 20000 (capped by op_timeout_ms) */
    int rpc_timeout_ms;        /* one metadata RPC attempt; default 5000 */
    size_t readahead_bytes;    /* sequential read-ahead window; default 8 MiB, 0 = off */
    size_t write_behind_bytes; /* dirty bytes buffered per handle before sending;
                                  default 16 MiB (at least 1 MiB) */
    int write_streams;         /* chunk write streams in flight per handle; default 4 */
    /* Security (common/security_opts.h), applied process-wide by cfs_connect; each NULL field
     * is taken from the environment (CHUNKFS_SECRET_FILE, CHUNKFS_TLS_CA, CHUNKFS_TLS_CERT,
     * CHUNKFS_TLS_KEY), unset means off. The strings are only read during cfs_connect. */
    const char *secret_file; /* cluster secret file; default NULL */
    const char *tls_ca;      /* CA to verify servers with: TLS on; default NULL */
    const char *tls_cert;    /* client certificate for mutual TLS (with tls_key); default NULL */
    const char *tls_key;
} cfs_options;

/* Sets the defaults above. */
void cfs_options_init(cfs_options *o);

/* Connects to the metaserver group `meta_addrs` ("host:port,host:port,..."). opts may be NULL
 * (defaults). No RPC is made here: an unreachable cluster shows up on the first call.
 * Initialises the RPC layer (rpc_global_init) if needed and installs the security options.
 * -EINVAL on a malformed address list; a secret or TLS file that cannot be used gives its
 * error (-ENOENT, -EACCES, -EINVAL, ...) after logging why. A cluster that refuses the
 * (missing or wrong) secret makes every later call fail with -CFS_EAUTH. */
int cfs_connect(const char *meta_addrs, const cfs_options *opts, cfs_fs **out);
/* Closes every handle still open (flushing it, errors are logged), stops background threads
 * and frees the connection. */
void cfs_disconnect(cfs_fs *fs);

/* ------------------------------------------------------------------ namespace (inode based) */

int cfs_lookup(cfs_fs *fs, uint64_t parent, const char *name, const cfs_cred *cred, cfs_attr *out);
/* Returns the committed attributes; if this cfs_fs has the file open for writing, size and
 * mtime include the data buffered in that handle. */
int cfs_getattr(cfs_fs *fs, uint64_t ino, const cfs_cred *cred, cfs_attr *out);

/* cfs_setattr `valid` bits (same values as the wire protocol). */
#define CFS_SET_MODE 1u
#define CFS_SET_UID 2u
#define CFS_SET_GID 4u
#define CFS_SET_SIZE 8u
#define CFS_SET_ATIME 16u     /* atime = in->atime */
#define CFS_SET_MTIME 32u     /* mtime = in->mtime */
#define CFS_SET_ATIME_NOW 64u /* atime = now (UTIME_NOW) */
#define CFS_SET_MTIME_NOW 128u
#define CFS_SET_CTIME 256u /* touch ctime only */
/* Changes the fields named in `valid` from *in (mode: permission bits only); *out gets the new
 * attributes (out may be NULL). A size change flushes this cfs_fs's write handle on the file
 * first and uses its lease. UTIME_OMIT = leave the bit out. */
int cfs_setattr(cfs_fs *fs, uint64_t ino, const cfs_attr *in, uint32_t valid, const cfs_cred *cred,
                cfs_attr *out);

int cfs_mkdir(cfs_fs *fs, uint64_t parent, const char *name, uint32_t mode, const cfs_cred *cred,
              cfs_attr *out);
/* Creates (or, without O_EXCL, opens an existing) regular file `name` in `parent`.
 * flags: O_RDONLY/O_WRONLY/O_RDWR, O_EXCL (-EEXIST if it exists), O_TRUNC, O_APPEND.
 * *out gets the attributes; *fh the open handle (release with cfs_close). */
int cfs_create(cfs_fs *fs, uint64_t parent, const char *name, uint32_t mode, int flags,
               const cfs_cred *cred, cfs_attr *out, cfs_file **fh);
int cfs_unlink(cfs_fs *fs, uint64_t parent, const char *name, const cfs_cred *cred);
int cfs_rmdir(cfs_fs *fs, uint64_t parent, const char *name, const cfs_cred *cred);
#define CFS_RENAME_NOREPLACE 1u
#define CFS_RENAME_EXCHANGE 2u
int cfs_rename(cfs_fs *fs, uint64_t src_parent, const char *src_name, uint64_t dst_parent,
               const char *dst_name, uint32_t flags, const cfs_cred *cred);
/* Hard link: new name `new_name` in `new_parent` for `ino`; *out = the file's new attrs. */
int cfs_link(cfs_fs *fs, uint64_t ino, uint64_t new_parent, const char *new_name,
             const cfs_cred *cred, cfs_attr *out);
int cfs_symlink(cfs_fs *fs, uint64_t parent, const char *name, const char *target,
                const cfs_cred *cred, cfs_attr *out);
/* The directories a namespace change touched, as the metaserver saw them right after it. */
typedef struct cfs_dir_attrs {
    bool has_parent; /* parent: the directory of the name (rename: the source directory) */
    cfs_attr parent;
    bool has_new_parent; /* rename into another directory: the destination directory */
    cfs_attr new_parent;
} cfs_dir_attrs;
/* What the calling thread's last successful cfs_mkdir, cfs_create, cfs_symlink, cfs_link,
 * cfs_unlink, cfs_rmdir or cfs_rename reported about the directories it changed; both flags
 * are false after a failed call or when the server did not send them (older metaservers).
 * Per thread, valid until the thread's next such call. Lets a cache skip asking again. */
void cfs_last_dir_attrs(cfs_dir_attrs *out);
/* Copies the target, NUL-terminated, into buf; returns its length (without NUL) or
 * -ENAMETOOLONG if it does not fit in size-1 bytes. */
int cfs_readlink(cfs_fs *fs, uint64_t ino, const cfs_cred *cred, char *buf, size_t size);

typedef struct cfs_dirent {
    char *name;
    uint64_t ino;
    uint32_t mode; /* S_IFxxx type bits, plus permission bits when has_attr */
    bool has_attr;
    cfs_attr attr; /* valid when has_attr */
} cfs_dirent;

typedef struct cfs_dir_page {
    cfs_dirent *entries;
    size_t count;
    bool eof; /* no entries after the last one */
} cfs_dir_page;

/* One page of a directory, in name order, starting after `after` ("" or NULL = from the
 * beginning; the cursor is the last name of the previous page). At most `max` entries
 * (0 = server default). "." and ".." are not included. Free with cfs_dir_page_free. */
int cfs_readdir(cfs_fs *fs, uint64_t ino, const char *after, uint32_t max, bool with_attrs,
                const cfs_cred *cred, cfs_dir_page *page);
void cfs_dir_page_free(cfs_dir_page *page);

typedef struct cfs_statfs {
    uint64_t total_bytes;
    uint64_t free_bytes;
    uint64_t used_bytes;
    uint64_t files;
    uint64_t chunk_size;
} cfs_statfs;
int cfs_statfs_get(cfs_fs *fs, const cfs_cred *cred, cfs_statfs *out);

/* xattrs. flags: XATTR_CREATE / XATTR_REPLACE (sys/xattr.h values).
 * cfs_getxattr/cfs_listxattr: size 0 returns the needed size; a too-small buffer -ERANGE;
 * otherwise the bytes copied. A missing attribute: -ENODATA. The list is NUL-separated. */
int cfs_setxattr(cfs_fs *fs, uint64_t ino, const char *name, const void *value, size_t size,
                 int flags, const cfs_cred *cred);
ssize_t cfs_getxattr(cfs_fs *fs, uint64_t ino, const char *name, void *buf, size_t size,
                     const cfs_cred *cred);
ssize_t cfs_listxattr(cfs_fs *fs, uint64_t ino, char *buf, size_t size, const cfs_cred *cred);
int cfs_removexattr(cfs_fs *fs, uint64_t ino, const char *name, const cfs_cred *cred);

/* mask: F_OK or any of R_OK W_OK X_OK. */
int cfs_access(cfs_fs *fs, uint64_t ino, int mask, const cfs_cred *cred);

/* POSIX byte-range locks and flock, coordinated by the metaserver across clients. A lock owner
 * is (this cfs_fs's client id, `owner`). type: F_RDLCK, F_WRLCK, F_UNLCK. end is inclusive;
 * CFS_LOCK_EOF = to the end of file. */
#define CFS_LOCK_EOF UINT64_MAX
typedef struct cfs_lock {
    int type;
    uint64_t start;
    uint64_t end;
    uint32_t pid;
    uint64_t owner; /* getlk: owner of the conflicting lock */
} cfs_lock;
/* F_GETLK: *lk in = the lock wanted; out = the first conflicting lock, or type F_UNLCK. */
int cfs_getlk(cfs_fs *fs, uint64_t ino, uint64_t owner, cfs_lock *lk, const cfs_cred *cred);
/* F_SETLK (wait=false: -EAGAIN on conflict) / F_SETLKW (wait=true: polls until granted, with
 * backoff up to 500 ms; returns -EINTR if cfs_disconnect starts meanwhile). */
int cfs_setlk(cfs_fs *fs, uint64_t ino, uint64_t owner, const cfs_lock *lk, bool wait,
              const cfs_cred *cred);
/* flock(2): op LOCK_SH / LOCK_EX / LOCK_UN, optionally | LOCK_NB. */
int cfs_flock(cfs_fs *fs, uint64_t ino, uint64_t owner, int op, const cfs_cred *cred);

/* ------------------------------------------------------------------ file handles */

/* Opens the regular file `ino`. flags: O_RDONLY/O_WRONLY/O_RDWR, O_TRUNC, O_APPEND.
 * Write opens take the file's write lease (renewed in the background until cfs_close);
 * -CFS_ELEASE if another client holds it. -EISDIR on a directory. */
int cfs_open(cfs_fs *fs, uint64_t ino, int flags, const cfs_cred *cred, cfs_file **out);
/* Returns bytes read (0 at or past EOF; short only at EOF). */
ssize_t cfs_pread(cfs_file *f, void *buf, size_t size, uint64_t off);
/* Returns `size` or a negative errno. On an O_APPEND handle the data goes to the end of file
 * and `off` is ignored. -EBADF on a read-only handle. May return an earlier buffered write's
 * error. */
ssize_t cfs_pwrite(cfs_file *f, const void *buf, size_t size, uint64_t off);
/* Sends every buffered write to the chunkservers and commits it; 0 when it is durable. */
int cfs_fsync(cfs_file *f);
/* Truncates or extends (with a hole) to `size`; needs a write handle. */
int cfs_ftruncate(cfs_file *f, uint64_t size);
/* Attributes as this handle sees them (size includes buffered writes). */
int cfs_fgetattr(cfs_file *f, cfs_attr *out);
uint64_t cfs_file_ino(const cfs_file *f);
/* Flushes, commits, releases the lease and frees the handle (always freed). Returns the first
 * error of any buffered write, else 0. */
int cfs_close(cfs_file *f);

/* ------------------------------------------------------------------ path helpers (CLI) */

/* Absolute path ("/a/b"; repeated and trailing slashes allowed) -> attributes. follow: follow a
 * symlink in the last component (symlinks in the middle are always followed). */
int cfs_resolve(cfs_fs *fs, const char *path, bool follow, const cfs_cred *cred, cfs_attr *out);
/* Splits an absolute path into the parent's path and the last name (copied into the buffers
 * of CFS_PATH_MAX and CFS_NAME_MAX+1 bytes). "/" has no last name: -EINVAL. Pure function. */
int cfs_path_split(const char *path, char *parent, char *name);
/* Opens `path`; with O_CREAT creates it (mode) first. Other flags as cfs_open/cfs_create. */
int cfs_open_path(cfs_fs *fs, const char *path, int flags, uint32_t mode, const cfs_cred *cred,
                  cfs_file **out);
/* mkdir; parents=true behaves as `mkdir -p` (existing directories are fine). */
int cfs_mkdir_path(cfs_fs *fs, const char *path, uint32_t mode, bool parents, const cfs_cred *cred,
                   cfs_attr *out);

/* ------------------------------------------------------------------ administration */

typedef struct cfs_replica {
    char *address;
    uint64_t server_id;
    char *domain;
} cfs_replica;

typedef struct cfs_chunk {
    uint32_t index;
    uint64_t chunk_id;
    uint64_t version;
    uint64_t length;
    size_t nreplicas;
    cfs_replica *replicas;
} cfs_chunk;

typedef struct cfs_file_info {
    uint64_t size;
    uint64_t chunk_size;
    size_t nchunks;
    cfs_chunk *chunks; /* in index order; holes are absent */
} cfs_file_info;

/* Every chunk of a file with its live replicas. Free with cfs_file_info_free. */
int cfs_file_info_get(cfs_fs *fs, uint64_t ino, const cfs_cred *cred, cfs_file_info *out);
void cfs_file_info_free(cfs_file_info *fi);
/* Sets the replication goal of a file (or of a tree, recursive). */
int cfs_set_goal(cfs_fs *fs, uint64_t ino, uint32_t goal, bool recursive, const cfs_cred *cred);

#endif
