#ifndef CFS_CHUNK_STORE_H
#define CFS_CHUNK_STORE_H
/* The chunk store: replicas of chunks kept as files in one or more data directories (one per
 * disk), each <dir>/chunks/<id & 0xff as 2 hex>/<id as 16 hex>.chk in the format of
 * chunk_file.h. Every 64 KiB block carries a CRC32C that is checked on every read.
 *
 * Thread-safe: the index has one lock, each chunk its own; operations on different chunks run
 * in parallel, operations on one chunk are serialised.
 *
 * Durability: write does not fsync; chunk_store_sync makes everything written so far durable
 * (data, CRCs, and the length in the header) with one fdatasync. Version changes and truncate
 * are durable when they return. A new replica is created as <id>.chk.tmp without any sync and
 * becomes durable under its real name with its first sync (fdatasync, rename, directory
 * fsync: two flushes in all); a crash before that leaves a .tmp file the start-up scan never
 * takes. Callers acknowledge writes only after a sync.
 *
 * All functions return 0 (or a count) on success, or a negative errno:
 *   -ENOENT no such chunk, -CFS_ESTALE_VER version mismatch, -CFS_ECORRUPT CRC mismatch (the
 *   replica has been moved to <dir>/quarantine/ and reported as corrupt), -EINVAL bad
 *   arguments (id 0, version 0, range beyond CHUNK_MAX_SIZE), -ENOSPC disk full (the chunk is
 *   left as it was before the call), -EIO and other -errno from the file system. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "chunkserver/chunk_file.h"

typedef struct chunk_store chunk_store;

/* What the store tells its listener (the heartbeat's incremental report). */
enum chunk_event { CHUNK_ADDED = 1, CHUNK_REMOVED = 2, CHUNK_CORRUPT = 3 };
/* Called outside of any store lock, from the thread that made the change. */
typedef void (*chunk_listener_fn)(void *arg, enum chunk_event ev, uint64_t chunk_id,
                                  uint64_t version, uint64_t length);

struct chunk_replica_info {
    uint64_t chunk_id;
    uint64_t version;
    uint64_t length;
};

/* Opens (creating <dir>/chunks and <dir>/quarantine when missing) the given data dirs, scans
 * them and rebuilds the index. Files that are temporary, too short, have no valid header, a
 * name that does not match the header, a length beyond the file's end or a bad last block are
 * moved to <dir>/quarantine/. Data beyond the header's length (written but never synced) is
 * cut off. Full data CRCs are left to the scrubber: a start reads only headers and the last
 * block of each chunk. Duplicate ids across dirs keep the highest version. Each dir is locked
 * (<dir>/LOCK, flock) for the life of the store: -EBUSY when another process uses it. */
int chunk_store_open(const char *const *dirs, size_t ndirs, chunk_store **out);
void chunk_store_close(chunk_store *cs);

/* Sets the change listener (NULL to clear). Set it before the store is shared. */
void chunk_store_set_listener(chunk_store *cs, chunk_listener_fn fn, void *arg);

size_t chunk_store_ndirs(const chunk_store *cs);
const char *chunk_store_dir(const chunk_store *cs, size_t i);

/* Starts (or continues) a write session at `version` with the preamble's rules: if the chunk
 * is held at `version` -> 0 (continue); held at `base_version` (!= 0) -> the header is switched
 * to `version` atomically and durably; absent and base_version == 0 -> created (length 0) on
 * the dir with most free space; being imported -> -EBUSY; anything else -> -CFS_ESTALE_VER. version
 * must be > base_version (else -EINVAL). */
int chunk_store_begin_write(chunk_store *cs, uint64_t chunk_id, uint64_t version,
                            uint64_t base_version);
/* Ends a write session begun with chunk_store_begin_write (returned 0). While sessions run the
 * replica's file stays open, so writes and syncs do not reopen it; the last end closes it.
 * Does not sync. 0 or -ENOENT (the replica went away meanwhile). */
int chunk_store_end_write(chunk_store *cs, uint64_t chunk_id);

/* Copying a replica from a peer: import_begin creates the replica (-EEXIST when the id is
 * held) marked "importing" (on disk too: a crash leaves a file the start-up scan quarantines);
 * it is invisible to read, info, list and reports while chunk_store_write fills it.
 * import_end(ok=true) syncs, clears the mark and reports it added; ok=false deletes it. */
int chunk_store_import_begin(chunk_store *cs, uint64_t chunk_id, uint64_t version);
int chunk_store_import_end(chunk_store *cs, uint64_t chunk_id, uint64_t version, bool ok);

/* Writes `len` bytes at `off` into the replica at `version` (overwrite and/or extend; a gap
 * between the old length and `off` reads as zeros). Partial blocks are merged with the old
 * data, which is CRC-checked first. off + len <= CHUNK_MAX_SIZE. Not durable until
 * chunk_store_sync. On -ENOSPC the chunk is unchanged; on another failure after data reached
 * the file, a replica whose old data may be damaged is quarantined and reported corrupt. */
int chunk_store_write(chunk_store *cs, uint64_t chunk_id, uint64_t version, uint64_t off,
                      const void *buf, size_t len);

/* Makes all writes to the replica durable (header length + fdatasync). */
int chunk_store_sync(chunk_store *cs, uint64_t chunk_id, uint64_t version);

/* Sets the length (shrinking or zero-extending) and syncs. */
int chunk_store_truncate(chunk_store *cs, uint64_t chunk_id, uint64_t version, uint64_t length);

/* Reads up to `len` bytes at `off` of the replica at `version` (0: whatever version is held)
 * into `buf`, verifying the CRC of every block touched. Returns the byte count (short at the
 * end of the replica, 0 at or past its end). */
ssize_t chunk_store_read(chunk_store *cs, uint64_t chunk_id, uint64_t version, uint64_t off,
                         void *buf, size_t len);

/* Checks the CRCs of blocks overlapping [off, off + len) without copying data out (scrubber);
 * from off 0 also that the current header slot on disk is intact and the one last written.
 * Returns the bytes checked (0 at the end) or an error as chunk_store_read; on -CFS_ECORRUPT
 * the replica is quarantined and reported like a bad read. */
ssize_t chunk_store_verify(chunk_store *cs, uint64_t chunk_id, uint64_t off, size_t len);

/* Switches the replica from old_version to new_version atomically and durably. */
int chunk_store_set_version(chunk_store *cs, uint64_t chunk_id, uint64_t old_version,
                            uint64_t new_version);

/* Deletes the replica if it is held at `version` (0: any version). */
int chunk_store_delete(chunk_store *cs, uint64_t chunk_id, uint64_t version);

/* Moves the replica aside to <dir>/quarantine/ and reports it corrupt. */
int chunk_store_quarantine(chunk_store *cs, uint64_t chunk_id, const char *reason);

int chunk_store_info(chunk_store *cs, uint64_t chunk_id, struct chunk_replica_info *out);
/* Reports a held replica to the listener as added again (the metaserver may have asked for a
 * copy of a replica it did not know we hold: its copy completes on that report).
 * 0 or -ENOENT. */
int chunk_store_announce(chunk_store *cs, uint64_t chunk_id);

/* Snapshot of every replica: *out is malloc'd (caller frees), *n its length. */
int chunk_store_list(chunk_store *cs, struct chunk_replica_info **out, size_t *n);

/* Capacity and used bytes over the file systems of all dirs (each file system counted once). */
int chunk_store_usage(chunk_store *cs, uint64_t *capacity, uint64_t *used);
/* Number of data dirs, and one dir's path with the capacity and used bytes of the file system
 * it is on (per-disk figures for metrics). 0, -ERANGE for i >= count, or -errno of statvfs. */
size_t chunk_store_dir_count(chunk_store *cs);
int chunk_store_dir_usage(chunk_store *cs, size_t i, const char **path, uint64_t *capacity,
                          uint64_t *used);
size_t chunk_store_count(chunk_store *cs);

/* Path of a replica's file (for tests and tools): <id>.chk, or <id>.chk.tmp before its first
 * sync; 0, -ENOENT or -ENAMETOOLONG. */
int chunk_store_path(chunk_store *cs, uint64_t chunk_id, char *buf, size_t buflen);

#endif
