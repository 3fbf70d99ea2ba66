#ifndef CFS_META_FSM_INTERNAL_H
#define CFS_META_FSM_INTERNAL_H
/* Private structures of meta_fsm, shared by its source files (not for other modules).
 * Layout is chosen for memory: a regular file with one chunk costs one inode record with the
 * chunk inline, one slot in the inode table, one entry in the chunk-id index and one
 * dentry. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/errors.h"
#include "metaserver/meta_fsm.h"

#define MF_ROOT_INO 1ull
/* Remembered mutations per client: wide enough for a multi-threaded client whose requests
 * are retried out of order after a leader change. The ring grows on demand up to this. */
#define MF_SESSION_WINDOW 128
#define MF_SESSION_IDLE_NS (3600ll * 1000000000ll)
#define MF_SESSION_SWEEP_NS (60ll * 1000000000ll)

enum mf_type { MF_FILE = 1, MF_DIR = 2, MF_SYMLINK = 3 }; /* = Chunkfs__FileType values */

struct mf_chunk {
    uint64_t id;
    uint64_t version;
    uint32_t index;
    uint32_t length; /* committed bytes (chunk_size <= 1 GiB fits) */
};

/* Directory entry: a node of the directory's treap, ordered by name (bytewise), heap-ordered
 * by a hash of the name, so the shape depends on the names only. Allocated with
 * offsetof(name) + nlen bytes: the name is NOT NUL-terminated. */
struct mf_dentry {
    struct mf_dentry *l, *r;
    uint64_t ino;
    uint8_t nlen;
    char name[]; /* nlen bytes */
};

struct mf_xattr {
    struct mf_xattr *next; /* list sorted by name */
    uint32_t vlen;
    uint8_t nlen;
    char data[]; /* name, NUL, value bytes */
};

struct mf_lease {
    uint64_t id;
    uint64_t client_id;
    int64_t expiry_ns;
    uint32_t opens; /* write opens by this client sharing the lease */
    uint64_t ino;
    struct mf_lease *prev, *next; /* list of all leases (for lease recovery) */
};

/* Optional part of an inode: every dir and symlink has one; files only with xattrs/lease. */
struct mf_ext {
    struct mf_xattr *xattrs;
    struct mf_lease *lease;
    union {
        struct {
            struct mf_dentry *root;
            uint64_t parent;
            uint64_t count;
        } dir;
        char *target; /* symlink */
    } u;
};

struct mf_inode {
    uint64_t ino;
    uint64_t size;
    int64_t atime, mtime, ctime;
    uint64_t generation;
    uint32_t uid, gid, nlink;
    uint16_t mode;
    uint8_t type;
    uint8_t goal;
    uint32_t nchunks;
    struct mf_ext *ext;
    union {
        struct mf_chunk one;   /* nchunks <= 1 */
        struct mf_chunk *many; /* nchunks >= 2, sorted by index */
    } ch;
};

/* Open-addressing table of inode pointers keyed by inode number. */
struct mf_itable {
    struct mf_inode **slots;
    size_t cap, n;
};

/* Open-addressing table u64 key (nonzero) -> u64 value. */
struct mf_kvtable {
    struct mf_kv {
        uint64_t key, val;
    } * slots;
    size_t cap, n;
};

struct mf_sess_entry {
    uint64_t request_id;
    uint8_t *resp; /* packed MetaResponse */
    uint32_t len;
};

struct mf_session {
    uint64_t client_id;
    int64_t last_seen_ns;
    uint64_t floor;  /* highest request id evicted from the window */
    uint32_t n, cap; /* entries used (oldest first) and allocated */
    struct mf_sess_entry *ring;
};

/* Chunk id -> owning ino, sorted by id. New chunk ids come from a counter, so they are
 * appended; deletions leave tombstones (ino 0) that are compacted away in batches. 16 bytes
 * per chunk, about half of what a hash table at a sane load factor costs. */
struct mf_cindex {
    struct mf_cref {
        uint64_t id, ino;
    } * a;
    size_t n, cap, dead;
};

struct meta_fsm {
    struct mf_itable inodes;
    struct mf_cindex chunks;    /* chunk id -> owning ino */
    struct mf_kvtable sessions; /* client id -> struct mf_session * */
    struct mf_lease *leases;
    uint64_t n_leases;
    struct mf_kvtable lease_counts; /* client id -> leases it holds (derived: not in images) */
    char cluster_id[64];
    uint64_t chunk_size;
    uint64_t next_ino, next_chunk_id, next_lease_id;
    uint64_t n_files, n_dirs, n_symlinks;
    int64_t last_sweep_ns;
    uint64_t hash_seed; /* treap priorities; process-local (see meta_fsm_set_hash_seed) */
    meta_deleted_chunk *deleted;
    size_t deleted_head, deleted_n, deleted_cap; /* live entries: [head, head+n) */
};

/* Everything an operation needs besides its request. */
struct mf_ctx {
    meta_fsm *fsm;
    const Chunkfs__Cred *cred; /* never NULL (missing creds become "nobody") */
    uint64_t client_id;
    int64_t now;
    uint32_t lease_ms;
    const Chunkfs__MetaCommand *cmd; /* NULL for reads */
    uint32_t max_open;               /* leases one client may hold; 0 = no cap */
};

/* ---- tables (meta_fsm_table.c) ---- */
struct mf_inode *mf_iget(const meta_fsm *fsm, uint64_t ino);
int mf_iput(meta_fsm *fsm, struct mf_inode *in); /* 0 or -ENOMEM */
void mf_idel(meta_fsm *fsm, uint64_t ino);
/* 0, -EINVAL (key 0) or -ENOMEM; replacing the value of a present key never fails. */
int mf_kv_put(struct mf_kvtable *t, uint64_t key, uint64_t val);
bool mf_kv_get(const struct mf_kvtable *t, uint64_t key, uint64_t *val);
void mf_kv_del(struct mf_kvtable *t, uint64_t key);
void mf_kv_free(struct mf_kvtable *t);
void mf_itable_free(struct mf_itable *t);
/* Adds a chunk whose id is above every id in the index: 0, -EINVAL (not above), -ENOMEM. */
int mf_cidx_append(struct mf_cindex *x, uint64_t id, uint64_t ino);
/* Restore: adds in any order, then mf_cidx_sort (-EINVAL on a duplicate id). */
int mf_cidx_push(struct mf_cindex *x, uint64_t id, uint64_t ino);
int mf_cidx_sort(struct mf_cindex *x);
bool mf_cidx_get(const struct mf_cindex *x, uint64_t id, uint64_t *ino);
void mf_cidx_del(struct mf_cindex *x, uint64_t id);
size_t mf_cidx_live(const struct mf_cindex *x);
void mf_cidx_free(struct mf_cindex *x);

/* ---- inodes (meta_fsm.c) ---- */
/* Frees everything the fsm owns (leaves the struct itself). */
void mf_fsm_clear(meta_fsm *fsm);
/* New inode with a fresh number, registered, counted; NULL on ENOMEM. Needs an ext for
 * dirs/symlinks (allocated here). */
struct mf_inode *mf_inode_new(meta_fsm *fsm, uint8_t type, uint16_t mode, uint32_t uid,
                              uint32_t gid, uint8_t goal, int64_t now);
/* Removes and frees an inode and everything it owns; its chunks go to the deleted queue.
 * Returns 0, or -ENOMEM if the queue could not grow (the inode is freed anyway; the caller
 * must fail the apply, since replicas would now differ). */
int mf_inode_free(meta_fsm *fsm, struct mf_inode *in);
/* The ext of in, allocated on demand; NULL on ENOMEM. */
struct mf_ext *mf_ext_get(struct mf_inode *in);
/* Frees in->ext if it holds nothing (files only). */
void mf_ext_trim(struct mf_inode *in);
void mf_fill_attr(const struct mf_inode *in, Chunkfs__Attr *a);

/* ---- directories (meta_fsm_dir.c) ---- */
struct mf_dentry *mf_dir_find(const struct mf_inode *dir, const char *name, size_t nlen);
int mf_dir_add(const meta_fsm *fsm, struct mf_inode *dir, const char *name, size_t nlen,
               uint64_t ino); /* 0 or -ENOMEM */
/* Unlinks the entry and returns it (caller frees or reuses); NULL if absent. */
struct mf_dentry *mf_dir_remove(const meta_fsm *fsm, struct mf_inode *dir, const char *name,
                                size_t nlen);
void mf_dir_free_all(struct mf_dentry *root);
/* In-order walk of entries with name > after (all if after_len == SIZE_MAX); stops when fn
 * returns nonzero and returns that value. */
int mf_dir_walk(const struct mf_dentry *root, const char *after, size_t after_len,
                int (*fn)(void *arg, const struct mf_dentry *d), void *arg);
int mf_name_cmp(const char *a, size_t alen, const char *b, size_t blen);

/* ---- permissions and names (meta_fsm_perm.c) ---- */
#define MF_R 4
#define MF_W 2
#define MF_X 1
bool mf_in_group(const Chunkfs__Cred *c, uint32_t gid);
int mf_access(const Chunkfs__Cred *c, const struct mf_inode *in, int mask); /* 0, -EACCES */
/* A name usable as a directory entry: 0, -ENOENT (empty), -ENAMETOOLONG, -EINVAL ('/').
 * "." and ".." give dot_err, the error Linux gives for them in the operation at hand
 * (mkdir -EEXIST, unlink -EISDIR, rename -EBUSY, ...). */
int mf_check_name(const char *name, size_t *len, int dot_err);
/* rmdir's answer for "." (-EINVAL) and ".." (-ENOTEMPTY). */
#define MF_DOT_RMDIR 1
/* Sticky-bit rule for removing/replacing `victim` from `dir`: 0 or -EPERM. */
int mf_sticky_ok(const Chunkfs__Cred *c, const struct mf_inode *dir, const struct mf_inode *victim);
bool mf_is_owner_or_root(const Chunkfs__Cred *c, const struct mf_inode *in);
/* Clears setuid (and setgid if group-exec) after a data change by a non-root caller. */
void mf_kill_suid(const Chunkfs__Cred *c, struct mf_inode *in);
/* Looks up a dir whose entries are about to be used: must exist (-ENOENT), be a dir
 * (-ENOTDIR) and allow search (-EACCES). Write permission is checked by the caller after the
 * name itself, in Linux's order (EEXIST before EACCES for create). */
int mf_dir_search(const struct mf_ctx *c, uint64_t ino, struct mf_inode **out);

/* ---- chunks (meta_fsm_chunks.c) ---- */
struct mf_chunk *mf_chunks(struct mf_inode *in);
const struct mf_chunk *mf_chunks_c(const struct mf_inode *in);
struct mf_chunk *mf_chunk_at(struct mf_inode *in, uint32_t index);
/* Cuts the file's chunk list to new_size (drops/cuts chunks, queues dropped ones). */
int mf_truncate_chunks(meta_fsm *fsm, struct mf_inode *in, uint64_t new_size);
uint64_t mf_max_file_size(const meta_fsm *fsm);
int mf_deleted_push(meta_fsm *fsm, uint64_t id, uint64_t version);
int mf_op_alloc_chunk(struct mf_ctx *c, const Chunkfs__AllocChunkReq *r,
                      Chunkfs__MetaResponse *resp);
/* Create with alloc_first_chunk: allocates chunk 0 of the new file `in` on the command's
 * replicas (none: nothing happens) and describes it in o->first_chunk. 0 or -ENOMEM. */
int mf_alloc_first_chunk(struct mf_ctx *c, struct mf_inode *in, Chunkfs__OpenResp *o);
/* Deletes chunk 0 if it was never written (version 1, length 0): queued for deletion. */
int mf_drop_unwritten_first(meta_fsm *fsm, struct mf_inode *in);
int mf_op_commit_write(struct mf_ctx *c, const Chunkfs__CommitWriteReq *r,
                       Chunkfs__MetaResponse *resp);
int mf_read_chunks(const struct mf_ctx *c, uint64_t ino, uint32_t first, uint32_t count,
                   bool check_perm, Chunkfs__MetaResponse *resp);
int mf_cmd_drop_deleted(meta_fsm *fsm, const Chunkfs__DropDeletedCmd *d);
int mf_cmd_recover_lease(struct mf_ctx *c, const Chunkfs__RecoverLeaseCmd *r);

/* ---- leases (meta_fsm_lease.c) ---- */
/* The lease on `in` if it is held by this client with this id, else NULL. */
struct mf_lease *mf_lease_check(const struct mf_ctx *c, const struct mf_inode *in,
                                uint64_t lease_id);
/* Whether another client holds an unexpired lease on in. */
bool mf_lease_conflict(const struct mf_ctx *c, const struct mf_inode *in);
/* Whether the caller may take a lease on `in` (NULL: a file about to be created): 0, or
 * -EMFILE if it would be a new lease and the client already holds c->max_open. Checked
 * before an open changes anything. */
int mf_lease_may_acquire(const struct mf_ctx *c, const struct mf_inode *in);
/* Grants (or joins) the caller's lease; the conflict and cap checks must have passed. */
int mf_lease_acquire(struct mf_ctx *c, struct mf_inode *in, struct mf_lease **out);
/* Links a new lease into the fsm's list and the client's count (0 or -ENOMEM, then
 * nothing is linked). */
int mf_lease_link(meta_fsm *fsm, struct mf_lease *l);
void mf_lease_release(meta_fsm *fsm, struct mf_inode *in);
int mf_op_close(struct mf_ctx *c, const Chunkfs__CloseReq *r, Chunkfs__MetaResponse *resp);
int mf_op_renew(struct mf_ctx *c, const Chunkfs__RenewLeaseReq *r, Chunkfs__MetaResponse *resp);
int mf_set_open_resp(const struct mf_ctx *c, const struct mf_inode *in, const struct mf_lease *l,
                     Chunkfs__MetaResponse *resp);

/* ---- xattrs (meta_fsm_xattr.c) ---- */
int mf_op_setxattr(struct mf_ctx *c, const Chunkfs__SetxattrReq *r, Chunkfs__MetaResponse *resp);
int mf_op_removexattr(struct mf_ctx *c, const Chunkfs__RemovexattrReq *r,
                      Chunkfs__MetaResponse *resp);
int mf_read_getxattr(const struct mf_ctx *c, const Chunkfs__GetxattrReq *r,
                     Chunkfs__MetaResponse *resp);
int mf_read_listxattr(const struct mf_ctx *c, const Chunkfs__ListxattrReq *r,
                      Chunkfs__MetaResponse *resp);
void mf_xattrs_free(struct mf_xattr *x);

/* ---- namespace mutations (meta_fsm_ops.c, meta_fsm_rename.c, meta_fsm_setattr.c) ---- */
int mf_op_mkdir(struct mf_ctx *c, const Chunkfs__MkdirReq *r, Chunkfs__MetaResponse *resp);
int mf_op_create(struct mf_ctx *c, const Chunkfs__CreateReq *r, Chunkfs__MetaResponse *resp);
int mf_op_unlink(struct mf_ctx *c, const Chunkfs__UnlinkReq *r, Chunkfs__MetaResponse *resp);
int mf_op_rmdir(struct mf_ctx *c, const Chunkfs__RmdirReq *r, Chunkfs__MetaResponse *resp);
int mf_op_link(struct mf_ctx *c, const Chunkfs__LinkReq *r, Chunkfs__MetaResponse *resp);
int mf_op_symlink(struct mf_ctx *c, const Chunkfs__SymlinkReq *r, Chunkfs__MetaResponse *resp);
int mf_op_open(struct mf_ctx *c, const Chunkfs__OpenReq *r, Chunkfs__MetaResponse *resp);
int mf_op_set_goal(struct mf_ctx *c, const Chunkfs__SetGoalReq *r, Chunkfs__MetaResponse *resp);
int mf_op_rename(struct mf_ctx *c, const Chunkfs__RenameReq *r, Chunkfs__MetaResponse *resp);
int mf_op_setattr(struct mf_ctx *c, const Chunkfs__SetattrReq *r, Chunkfs__MetaResponse *resp);
/* Truncates a regular file to size (chunks, size, mtime/ctime, generation). */
int mf_do_truncate(struct mf_ctx *c, struct mf_inode *in, uint64_t size);

/* ---- reads (meta_fsm_read.c) ---- */
int mf_read_dispatch(const struct mf_ctx *c, const Chunkfs__MetaRequest *req,
                     Chunkfs__MetaResponse *resp);

/* ---- responses (meta_fsm_resp.c) ---- */
Chunkfs__MetaResponse *mf_resp_new(void);
int mf_resp_attr(Chunkfs__MetaResponse *resp, const struct mf_inode *in); /* 0 or -ENOMEM */
char *mf_strdup(const char *s, size_t len);

#endif
