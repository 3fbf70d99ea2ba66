/* ClusterService requests applied to the registry (see cluster_apply.h). */
#include "metaserver/cluster_apply.h"

#include <errno.h>
#include <string.h>

#include "common/log.h"

int cluster_apply_register(registry *reg, uint64_t id, const Chunkfs__RegisterReq *req,
                           int64_t now_ms)
{
    const char *http = req->http_address ? req->http_address : "";
    if (strlen(http) >= REG_ADDR_MAX) return -EINVAL; /* checked before any change */
    int err =
        registry_register(reg, id, req->address, req->domain, req->capacity, req->used, now_ms);
    if (!err) err = registry_set_http(reg, id, http);
    return err;
}

int cluster_apply_heartbeat(registry *reg, const Chunkfs__HeartbeatReq *req, int64_t now_ms,
                            uint64_t *corrupt, cluster_beat_cmds *cmds)
{
    cmds->n_dels = 0;
    cmds->n_repls = 0;
    int err = registry_heartbeat(reg, req->server_id, req->capacity, req->used, req->chunk_count,
                                 req->load, now_ms);
    for (size_t i = 0; !err && i < req->n_added; i++) {
        const Chunkfs__ChunkReplica *c = req->added[i];
        int rc = registry_add_replica(reg, req->server_id, c->chunk_id, c->version, c->length);
        if (rc == -EINVAL)
            LOG_WARN("chunkserver %llu reported invalid replica %llu v%llu",
                     (unsigned long long)req->server_id, (unsigned long long)c->chunk_id,
                     (unsigned long long)c->version);
        else if (rc)
            err = rc;
    }
    for (size_t i = 0; !err && i < req->n_removed; i++)
        registry_remove_replica(reg, req->server_id, req->removed[i]->chunk_id);
    for (size_t i = 0; !err && i < req->n_corrupt; i++) {
        const Chunkfs__ChunkReplica *c = req->corrupt[i];
        (*corrupt)++;
        LOG_WARN_KV("corrupt replica reported; deleting it", "server=%llu chunk=%llu version=%llu",
                    (unsigned long long)req->server_id, (unsigned long long)c->chunk_id,
                    (unsigned long long)c->version);
        registry_repair_cancel(reg, c->chunk_id);
        err = registry_queue_delete(reg, req->server_id, c->chunk_id, c->version);
    }
    if (!err) {
        cmds->n_dels = registry_take_deletes(reg, req->server_id, cmds->dels, cmds->max_dels);
        cmds->n_repls = registry_take_replicates(reg, req->server_id, cmds->repls, cmds->max_repls);
    }
    return err;
}

int cluster_apply_report(registry *reg, const Chunkfs__ChunkReportReq *req, size_t *bad)
{
    int err = 0;
    for (size_t i = 0; !err && i < req->n_chunks; i++) {
        const Chunkfs__ChunkReplica *c = req->chunks[i];
        int rc = registry_add_replica(reg, req->server_id, c->chunk_id, c->version, c->length);
        if (rc == -EINVAL)
            (*bad)++;
        else if (rc)
            err = rc;
    }
    if (!err && req->last) err = registry_report_done(reg, req->server_id);
    return err;
}
