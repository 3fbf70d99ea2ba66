#ifndef CFS_RAFT_SNAPSHOT_H
#define CFS_RAFT_SNAPSHOT_H
/* raft_snapshot: state machine images on disk, data_dir/snap/snap-<term>-<index> (16 hex
 * digits each). File layout (integers little-endian):
 *   magic "CFSSNAP1" | u32 format version (1) | u32 conf length | u64 index | u64 term |
 *   u64 raw image length | u64 compressed length | u32 CRC32C of everything after the header |
 *   u32 CRC32C of the header before this field | conf bytes (raft_conf_encode) |
 *   zlib-compressed image
 * A file is written to a temp name, fsynced, renamed into place and the directory fsynced, so
 * a crash leaves either the old set of files or the old set plus the complete new one. */
#include <stddef.h>
#include <stdint.h>

#include "raft/raft.h"

/* Writes `s` (meta + image) into `dir` (created if missing), durably, then deletes all but
 * the newest `keep` (>= 1) snapshot files. 0 or -errno. */
int raft_snapshot_save(const char *dir, const raft_snapshot *s, int keep);

/* Loads the newest valid snapshot in `dir` into *out (out->data malloc'd). A file that fails
 * its checks is skipped with a log line and the next older one is tried. Returns 0, -ENOENT
 * when there is no snapshot file at all (or no dir), -EIO when files exist but none is valid,
 * or another -errno. When an older file is used, the newer ones that failed are renamed to
 * <name>.corrupt (out of the rotation); when none is valid nothing is renamed. */
int raft_snapshot_load(const char *dir, raft_snapshot *out);

/* Index of the oldest snapshot file kept in `dir` that is valid-looking by name (0 if none);
 * the WAL keeps entries from there on so a fallback to it stays possible. */
uint64_t raft_snapshot_oldest_index(const char *dir);

/* Total size in bytes of the snapshot files kept in `dir` (0 if none or no dir). */
uint64_t raft_snapshot_dir_bytes(const char *dir);

/* Frees out->data (from raft_snapshot_load) and zeroes it. */
void raft_snapshot_release(raft_snapshot *s);

#endif
