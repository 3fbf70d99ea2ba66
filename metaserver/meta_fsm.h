#ifndef CFS_META_FSM_H
#define CFS_META_FSM_H
/* meta_fsm: the metaserver's namespace state machine (inodes, directories, xattrs, the
 * file -> chunk map, write leases, exactly-once sessions). PURE: no sockets, files, clocks,
 * threads or random numbers; not thread-safe (the shell serialises every call under its lock).
 *
 * Mutations arrive as packed chunkfs.MetaCommand (Chunkfs__MetaCommand) entries
 * (proto/meta_log.proto) through meta_fsm_apply, on every node in log order. The leader fills
 * now_ns, the alloc_chunk placement (replicas) and lease_ms; apply allocates new inode numbers,
 * chunk ids and lease ids from counters stored in the state machine, so every node computes the
 * same ids. Reads (lookup, getattr, readdir, ...) go through meta_fsm_read without the log.
 *
 * Responses are heap-allocated MetaResponse trees built with malloc only; free them with
 * chunkfs__meta_response__free_unpacked(resp, NULL). Errors are negative errno values (exact POSIX
 * codes, or -CFS_ELEASE / -CFS_ESTALE_VER / -CFS_ENOSERVERS) in resp->err; an operation that
 * fails changes nothing.
 *
 * Conventions: root is ino 1; Attr.mode holds permission bits (07777) only; inode numbers,
 * chunk ids and lease ids are never reused. Chunk replicas are NOT stored here (soft state in
 * the shell): ChunkInfo.replicas in responses is empty except for alloc_chunk, which echoes
 * the command's replicas. StatfsResp byte counts are 0 (the shell fills them). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/chunkfs.pb-c.h"
#include "proto/meta_log.pb-c.h"

typedef struct meta_fsm meta_fsm;

#define META_FSM_DEFAULT_GOAL 3
#define META_FSM_DEFAULT_CHUNK_SIZE (64ull << 20)
#define META_FSM_DEFAULT_LEASE_MS 30000u
#define META_FSM_NAME_MAX 255
#define META_FSM_SYMLINK_MAX 4095
#define META_FSM_XATTR_NAME_MAX 255
#define META_FSM_XATTR_VALUE_MAX 65536
#define META_FSM_READDIR_MAX 10000   /* entries per readdir page (max 0 means this) */
#define META_FSM_GET_CHUNKS_MAX 4096 /* chunk indexes one get_chunks covers (count 0: this) */
#define META_FSM_MAX_GOAL 16
#define META_FSM_LINK_MAX 65000

/* SetattrReq.valid bits (chunkfs.proto). */
#define META_SETATTR_MODE 1u
#define META_SETATTR_UID 2u
#define META_SETATTR_GID 4u
#define META_SETATTR_SIZE 8u
#define META_SETATTR_ATIME 16u
#define META_SETATTR_MTIME 32u
#define META_SETATTR_ATIME_NOW 64u
#define META_SETATTR_MTIME_NOW 128u
#define META_SETATTR_CTIME 256u

#define META_RENAME_NOREPLACE 1u
#define META_RENAME_EXCHANGE 2u
#define META_XATTR_CREATE 1u
#define META_XATTR_REPLACE 2u

/* A fresh state: only "/" (ino 1, dir, 0755, uid 0, gid 0, goal 3, times 0), chunk size
 * 64 MiB, unformatted (empty cluster id). NULL on out of memory. */
meta_fsm *meta_fsm_create(void);
void meta_fsm_destroy(meta_fsm *fsm);

/* Sets the key of the directory trees' balancing hash. The shell should call it once after
 * create with a random value (from its own entropy source: the fsm draws no random numbers),
 * so clients cannot choose names that unbalance a directory and make it slow. It changes no
 * observable state (not part of snapshots or equality) and may be called at any time. */
void meta_fsm_set_hash_seed(meta_fsm *fsm, uint64_t seed);

/* Applies one committed log entry (packed MetaCommand). Always sets *out to a response (err 0
 * or negative errno; a malformed entry gives err -EINVAL and changes nothing). Returns 0, or
 * -ENOMEM (then *out is NULL and the state may be partially changed: the caller must treat
 * it as fatal, since replicas would diverge).
 * Client mutations are exactly-once per (client_id, request_id): a retry of an applied
 * request returns the remembered response without re-executing it; a request older than the
 * remembered window (the last 128 per client) gets -ESTALE. Sessions idle for 1 h (by now_ns)
 * are forgotten. Read-only ops in a command are answered like meta_fsm_read, not remembered. */
int meta_fsm_apply(meta_fsm *fsm, const uint8_t *entry, size_t len, Chunkfs__MetaResponse **out);

/* True if the mutation (client_id, request_id) was applied and its response is remembered:
 * proposing it again replays that response instead of executing it. */
bool meta_fsm_request_applied(const meta_fsm *fsm, uint64_t client_id, uint64_t request_id);

/* True if `req` changes state and must go through the log: setattr, mkdir, create, unlink,
 * rmdir, rename, link, symlink, setxattr, removexattr, open for writing or with O_TRUNC,
 * close, renew_lease, alloc_chunk, commit_write, set_goal. */
bool meta_fsm_is_mutation(const Chunkfs__MetaRequest *req);

/* Serves a read-only request with the caller's credentials: lookup, getattr, resolve,
 * readlink, readdir, statfs, getxattr, listxattr, access, open (read-only, no O_TRUNC: checks
 * permission, lease_id 0), get_chunks, file_info. Other ops get err -EINVAL. Returns 0 with
 * *out set, or -ENOMEM. */
int meta_fsm_read(const meta_fsm *fsm, const Chunkfs__MetaRequest *req,
                  Chunkfs__MetaResponse **out);

/* Snapshot: a compact, deterministic binary image (equal states give equal bytes, so
 * comparing images is the canonical equality test). *buf is malloc'd. 0 or -ENOMEM. */
int meta_fsm_snapshot(const meta_fsm *fsm, uint8_t **buf, size_t *len);
/* Replaces the state with an image after validating all of it (checksum, bounds, names,
 * link counts, tree shape, unique ids). -EINVAL on a bad image and -ENOMEM on out of memory:
 * in both cases fsm is unchanged. */
int meta_fsm_restore(meta_fsm *fsm, const uint8_t *buf, size_t len);
/* Snapshot images equal. */
bool meta_fsm_equal(const meta_fsm *a, const meta_fsm *b);

/* ---- queries for the shell (placement, registry, repair, GC, status) ---- */

typedef struct meta_fsm_info {
    char cluster_id[64]; /* "" until formatted */
    uint64_t chunk_size;
    uint64_t files, dirs, symlinks; /* inode counts by type */
    uint64_t chunks;                /* chunks referenced by files */
    uint64_t next_ino, next_chunk_id, next_lease_id;
    uint64_t deleted_pending; /* entries in the deleted-chunks queue */
    uint64_t sessions;
} meta_fsm_info;
void meta_fsm_get_info(const meta_fsm *fsm, meta_fsm_info *info);

typedef struct meta_chunk_ref {
    uint64_t chunk_id;
    uint64_t version; /* current version (the latest allocated one) */
    uint64_t ino;     /* owning file */
    uint32_t index;   /* chunk index in the file */
    uint32_t length;  /* committed bytes */
    uint32_t goal;    /* the file's replication goal */
} meta_chunk_ref;

/* Looks up a chunk by id: 0, or -ENOENT if no file references it. */
int meta_fsm_chunk_lookup(const meta_fsm *fsm, uint64_t chunk_id, meta_chunk_ref *out);
/* The chunk at `index` of file `ino`: 0, -ENOENT (no such file or a hole), -EISDIR/-EINVAL
 * (not a regular file). */
int meta_fsm_file_chunk(const meta_fsm *fsm, uint64_t ino, uint32_t index, meta_chunk_ref *out);
/* Calls fn for every chunk (in no particular order); stops early and returns fn's value when
 * it is nonzero, else returns 0. fn must not modify the fsm. */
int meta_fsm_chunk_foreach(const meta_fsm *fsm, int (*fn)(void *arg, const meta_chunk_ref *c),
                           void *arg);

typedef struct meta_deleted_chunk {
    uint64_t chunk_id;
    uint64_t version; /* the version it had when deleted */
} meta_deleted_chunk;
/* The queue of chunks no file references any more (oldest first), for the shell to tell
 * chunkservers to delete them; *n entries at *arr (valid until the next apply). The shell
 * drops entries it has scheduled by proposing a DropDeletedCmd. */
void meta_fsm_deleted(const meta_fsm *fsm, const meta_deleted_chunk **arr, size_t *n);

typedef struct meta_lease_ref {
    uint64_t ino;
    uint64_t lease_id;
    uint64_t client_id;
    int64_t expiry_ns;
} meta_lease_ref;
/* Calls fn for every held write lease (lease recovery by the shell); same contract as
 * meta_fsm_chunk_foreach. */
int meta_fsm_lease_foreach(const meta_fsm *fsm, int (*fn)(void *arg, const meta_lease_ref *l),
                           void *arg);

#endif
