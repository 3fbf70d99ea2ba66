#ifndef CFS_RAFT_WAL_H
#define CFS_RAFT_WAL_H
/* raft_wal: the durable Raft log. Segment files data_dir/wal/<seq>-<first>.wal (16 hex digits
 * each: a sequence number that orders segments, and the index the segment's first entry has),
 * each a sequence of records:
 *   u32 payload length | u32 CRC32C (over length, type, reserved and payload) |
 *   u8 type | 3 reserved zero bytes | payload
 * Record types: an entry (u64 term, u64 index, u32 entry type, data) or a hard state
 * (u64 term, u64 vote, u64 commit). All integers little-endian.
 *
 * A segment supersedes, from its first index on, everything earlier segments hold: replacing
 * a conflicting suffix starts a new segment at the conflict index (then deletes segments that
 * became wholly obsolete), so no file is ever rewritten in place and a crash at any point
 * leaves a log that recovers to either the old or the new state. The newest hard state is
 * always in the last segment (every new segment starts with a copy of it).
 *
 * Recovery: a torn or corrupt last record of the last segment (a crash during an append that
 * was never acknowledged) is truncated with a log line saying how much; a corrupt record that
 * is followed by a valid one, a corrupt record in any segment but the last, or a gap between
 * segments not covered by the snapshot makes raft_wal_open fail with -EIO: committed entries
 * are never silently dropped.
 *
 * Not thread-safe: one owner (the node's persist thread) calls everything. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft/raft.h"

#define RAFT_WAL_DEFAULT_SEGMENT (64u * 1024 * 1024)
/* Largest entry payload accepted (a record above this on disk is treated as corrupt). */
#define RAFT_WAL_MAX_ENTRY (128u * 1024 * 1024)

typedef struct raft_wal raft_wal;

/* What raft_wal_open found on disk. Free with raft_wal_recovered_free. */
typedef struct raft_wal_recovered {
    bool has_hard_state;
    raft_hard_state hs;
    raft_entry *entries; /* contiguous by index; each data malloc'd */
    size_t n_entries;
    uint64_t dropped_bytes; /* torn tail bytes truncated */
    uint64_t dropped_records;
} raft_wal_recovered;

/* Opens (creating `dir`, the wal directory itself, if needed) the log, recovering every
 * record as described above. `snap_index` is the index of the snapshot the caller loaded (0 if
 * none): a gap between segments is tolerated only below snap_index + 1 (entries before such a
 * gap are dropped), and an empty log starts at snap_index + 1. `segment_bytes` 0 =
 * RAFT_WAL_DEFAULT_SEGMENT (a segment is closed once it reaches this size). On success *out is
 * open, positioned to append after the last entry. Returns 0, -EIO on corruption that cannot
 * be a torn tail (with a log line naming the file and offset), or another -errno. */
int raft_wal_open(const char *dir, uint64_t segment_bytes, uint64_t snap_index, raft_wal **out,
                  raft_wal_recovered *rec);
void raft_wal_recovered_free(raft_wal_recovered *rec);

/* Appends entries (and then, if hs != NULL, a hard state) in one write. Entries must be
 * contiguous and ents[0].index must be in [first_index, last_index + 1] of the log (or
 * anything when the log is empty); entries at or above ents[0].index already in the log are
 * cut off first (conflict). Not durable until raft_wal_sync. 0 or -errno (-EINVAL on a gap). */
int raft_wal_append(raft_wal *w, const raft_entry *ents, size_t n, const raft_hard_state *hs);
/* fsyncs everything appended so far. 0 or -errno. */
int raft_wal_sync(raft_wal *w);

/* Removes whole segments whose entries are all <= upto (never the last segment). */
int raft_wal_compact(raft_wal *w, uint64_t upto);
/* Drops the whole log (e.g. after installing a snapshot past its end): afterwards the next
 * append must start at next_index. Writes `hs` into the new segment and syncs. */
int raft_wal_reset(raft_wal *w, uint64_t next_index, const raft_hard_state *hs);

/* First and last entry index on disk (first > last when empty; first = next append index). */
uint64_t raft_wal_first_index(const raft_wal *w);
uint64_t raft_wal_last_index(const raft_wal *w);
/* Total bytes of all segments. */
uint64_t raft_wal_bytes(const raft_wal *w);

void raft_wal_close(raft_wal *w);

#endif
