#ifndef CFS_CLUSTER_APPLY_H
#define CFS_CLUSTER_APPLY_H
/* What ClusterService requests do to the registry, apart from the RPC, leadership and locking
 * around them (cluster_service.c): decoded chunkserver messages in, registry changes and the
 * commands for the heartbeat reply out. No I/O besides log lines; the caller holds the lock
 * that guards `reg` and passes the time in, so the fuzz targets drive it directly. */
#include <stddef.h>
#include <stdint.h>

#include "metaserver/registry.h"
#include "proto/chunkfs.pb-c.h"

/* Registers server `id` (already chosen by the caller) from `req`: address, domain, capacity,
 * used and http address. The http address is checked before anything changes. 0, -EINVAL
 * (bad address, http address or domain: nothing changed), -ENOMEM. */
int cluster_apply_register(registry *reg, uint64_t id, const Chunkfs__RegisterReq *req,
                           int64_t now_ms);

/* Commands a heartbeat reply carries back (arrays owned by the caller). */
typedef struct cluster_beat_cmds {
    reg_delete *dels;
    size_t max_dels, n_dels;
    reg_replicate *repls;
    size_t max_repls, n_repls;
} cluster_beat_cmds;

/* Applies a heartbeat: the server's figures, then its added, removed and corrupt replicas
 * (replicas with id or version 0 are skipped with a log line; a corrupt one cancels the
 * chunk's repair in flight and is queued for deletion), then takes the deletes and
 * replications queued for it into `cmds`. *corrupt counts the corrupt replicas reported.
 * 0, -ENOENT (unknown or dead server: it must register again), -ENOMEM. */
int cluster_apply_heartbeat(registry *reg, const Chunkfs__HeartbeatReq *req, int64_t now_ms,
                            uint64_t *corrupt, cluster_beat_cmds *cmds);

/* Applies one piece of a full chunk report; `last` completes it. *bad counts the replicas
 * skipped for id or version 0. 0, -ENOENT (unknown or dead server), -ENOMEM. */
int cluster_apply_report(registry *reg, const Chunkfs__ChunkReportReq *req, size_t *bad);

#endif
