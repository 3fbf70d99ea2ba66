#ifndef CFS_META_CMD_H
#define CFS_META_CMD_H
/* Pure helpers of the metaserver shell: packing the Raft log commands (MetaCommand) the
 * leader proposes, and the decisions the leader takes from soft state (which replicas to
 * delete, how to settle a recovered lease, how healthy a chunk is). No I/O, no clock: the
 * caller passes times in, so all of it is unit-tested directly. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metaserver/registry.h"
#include "proto/chunkfs.pb-c.h"
#include "proto/meta_log.pb-c.h"

/* Packs a client mutation: MetaCommand{now_ns, client = req, replicas, lease_ms, max_open}
 * into a malloc'd buffer. `replicas` (may be NULL when n == 0) are the alloc_chunk targets;
 * max_open is the per-client cap on write leases (0: none).
 * 0, -EINVAL (req NULL or without an op), -ENOMEM. */
int meta_cmd_pack_client(const Chunkfs__MetaRequest *req, int64_t now_ns, uint32_t lease_ms,
                         uint32_t max_open, const reg_location *replicas, size_t n_replicas,
                         uint8_t **buf, size_t *len);

/* Packs FormatCmd (the first entry of a new cluster). -EINVAL for an empty/too long id. */
int meta_cmd_pack_format(const char *cluster_id, uint64_t chunk_size, uint32_t goal, int64_t now_ns,
                         uint8_t **buf, size_t *len);

/* Packs DropDeletedCmd{count}. -EINVAL for count 0. */
int meta_cmd_pack_drop_deleted(uint64_t count, int64_t now_ns, uint8_t **buf, size_t *len);

typedef struct meta_settle {
    uint32_t index;
    uint64_t chunk_id;
    uint64_t version;
    uint64_t length;
} meta_settle;

/* Packs RecoverLeaseCmd{ino, lease_id, chunks}. -EINVAL for ino or lease_id 0. */
int meta_cmd_pack_recover_lease(uint64_t ino, uint64_t lease_id, const meta_settle *chunks,
                                size_t n, int64_t now_ns, uint8_t **buf, size_t *len);

/* What to do with a replica a chunkserver holds. */
typedef enum meta_replica_verdict {
    META_REPLICA_KEEP = 0,   /* current (or possibly being written) */
    META_REPLICA_ORPHAN = 1, /* no file references the chunk: delete */
    META_REPLICA_STALE = 2,  /* older than the chunk's version and no write is open: delete */
    META_REPLICA_FUTURE = 3, /* newer than the chunk's version: keep, report in fsck */
} meta_replica_verdict;

/* known: the fsm references the chunk; fsm_version: its current version; write_open: the
 * owning file holds a write lease (its replicas may still be at the base version). */
meta_replica_verdict meta_replica_judge(bool known, uint64_t fsm_version, uint64_t replica_version,
                                        bool write_open);

/* Lease recovery for one chunk (like HDFS block recovery): among the live replicas, the
 * highest version not above fsm_version wins. At fsm_version itself the committed length
 * fsm_length stands: a commit names only bytes every replica at that version acknowledged,
 * and reported replica lengths lag the writes (they are not a reason to drop acknowledged
 * data). Rolled back to an older version, the length is the smallest of fsm_length and the
 * lengths of the replicas at that version (the bytes every one of them holds). Returns true
 * and fills version/length when some replica qualifies, false when there is none. */
bool meta_settle_chunk(const reg_replica *reps, size_t n, uint64_t fsm_version, uint64_t fsm_length,
                       uint64_t *version, uint64_t *length);

/* Health of one chunk from its count of live replicas at the current version. */
typedef enum meta_chunk_health {
    META_CHUNK_HEALTHY = 0,
    META_CHUNK_UNDER = 1, /* 0 < live < goal */
    META_CHUNK_MISSING = 2,
    META_CHUNK_OVER = 3, /* live > goal */
} meta_chunk_health;
meta_chunk_health meta_chunk_judge(size_t live, uint32_t goal);

/* New chunkserver id, unique across leader changes without a log entry: only one leader
 * exists per term and a term is never reused, so (term, per-term counter) is unique.
 * Layout: term << 24 | counter, counter in 1 .. 2^24-1. 0 when term is 0, term >= 2^40 or
 * the counter is exhausted (the caller answers -EAGAIN; the next term has a fresh range). */
uint64_t meta_server_id_make(uint64_t term, uint64_t counter);

#endif
