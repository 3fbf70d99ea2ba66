#include "metaserver/meta_cmd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int pack_cmd(const Chunkfs__MetaCommand *cmd, uint8_t **buf, size_t *len)
{
    size_t n = chunkfs__meta_command__get_packed_size(cmd);
    uint8_t *b = malloc(n ? n : 1);
    if (!b) return -ENOMEM;
    chunkfs__meta_command__pack(cmd, b);
    *buf = b;
    *len = n;
    return 0;
}

int meta_cmd_pack_client(const Chunkfs__MetaRequest *req, int64_t now_ns, uint32_t lease_ms,
                         uint32_t max_open, const reg_location *replicas, size_t n_replicas,
                         uint8_t **buf, size_t *len)
{
    if (!req || req->op_case == CHUNKFS__META_REQUEST__OP__NOT_SET || (n_replicas && !replicas))
        return -EINVAL;
    Chunkfs__MetaCommand cmd = CHUNKFS__META_COMMAND__INIT;
    cmd.now_ns = now_ns;
    cmd.cmd_case = CHUNKFS__META_COMMAND__CMD_CLIENT;
    /* The request is only read by pack; the cast drops const for protobuf-c's field type. */
    cmd.client = (Chunkfs__MetaRequest *)req;
    cmd.lease_ms = lease_ms;
    cmd.max_open = max_open;
    Chunkfs__ChunkLocation *locs = NULL, **ptrs = NULL;
    if (n_replicas) {
        locs = calloc(n_replicas, sizeof(*locs));
        ptrs = calloc(n_replicas, sizeof(*ptrs));
        if (!locs || !ptrs) {
            free(locs);
            free(ptrs);
            return -ENOMEM;
        }
        for (size_t i = 0; i < n_replicas; i++) {
            chunkfs__chunk_location__init(&locs[i]);
            locs[i].server_id = replicas[i].server_id;
            locs[i].address = (char *)replicas[i].address;
            locs[i].domain = (char *)replicas[i].domain;
            ptrs[i] = &locs[i];
        }
    }
    cmd.n_replicas = n_replicas;
    cmd.replicas = ptrs;
    int rc = pack_cmd(&cmd, buf, len);
    free(locs);
    free(ptrs);
    return rc;
}

int meta_cmd_pack_format(const char *cluster_id, uint64_t chunk_size, uint32_t goal, int64_t now_ns,
                         uint8_t **buf, size_t *len)
{
    if (!cluster_id || cluster_id[0] == '\0' || strlen(cluster_id) >= 64) return -EINVAL;
    Chunkfs__FormatCmd f = CHUNKFS__FORMAT_CMD__INIT;
    f.cluster_id = (char *)cluster_id;
    f.chunk_size = chunk_size;
    f.root_goal = goal;
    Chunkfs__MetaCommand cmd = CHUNKFS__META_COMMAND__INIT;
    cmd.now_ns = now_ns;
    cmd.cmd_case = CHUNKFS__META_COMMAND__CMD_FORMAT;
    cmd.format = &f;
    return pack_cmd(&cmd, buf, len);
}

int meta_cmd_pack_drop_deleted(uint64_t count, int64_t now_ns, uint8_t **buf, size_t *len)
{
    if (count == 0) return -EINVAL;
    Chunkfs__DropDeletedCmd d = CHUNKFS__DROP_DELETED_CMD__INIT;
    d.count = count;
    Chunkfs__MetaCommand cmd = CHUNKFS__META_COMMAND__INIT;
    cmd.now_ns = now_ns;
    cmd.cmd_case = CHUNKFS__META_COMMAND__CMD_DROP_DELETED;
    cmd.drop_deleted = &d;
    return pack_cmd(&cmd, buf, len);
}

int meta_cmd_pack_recover_lease(uint64_t ino, uint64_t lease_id, const meta_settle *chunks,
                                size_t n, int64_t now_ns, uint8_t **buf, size_t *len)
{
    if (ino == 0 || lease_id == 0 || (n && !chunks)) return -EINVAL;
    Chunkfs__ChunkCommit *cc = NULL, **ptrs = NULL;
    if (n) {
        cc = calloc(n, sizeof(*cc));
        ptrs = calloc(n, sizeof(*ptrs));
        if (!cc || !ptrs) {
            free(cc);
            free(ptrs);
            return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
            chunkfs__chunk_commit__init(&cc[i]);
            cc[i].index = chunks[i].index;
            cc[i].chunk_id = chunks[i].chunk_id;
            cc[i].version = chunks[i].version;
            cc[i].length = chunks[i].length;
            ptrs[i] = &cc[i];
        }
    }
    Chunkfs__RecoverLeaseCmd r = CHUNKFS__RECOVER_LEASE_CMD__INIT;
    r.ino = ino;
    r.lease_id = lease_id;
    r.n_chunks = n;
    r.chunks = ptrs;
    Chunkfs__MetaCommand cmd = CHUNKFS__META_COMMAND__INIT;
    cmd.now_ns = now_ns;
    cmd.cmd_case = CHUNKFS__META_COMMAND__CMD_RECOVER_LEASE;
    cmd.recover_lease = &r;
    int rc = pack_cmd(&cmd, buf, len);
    free(cc);
    free(ptrs);
    return rc;
}

meta_replica_verdict meta_replica_judge(bool known, uint64_t fsm_version, uint64_t replica_version,
                                        bool write_open)
{
    if (!known) return META_REPLICA_ORPHAN;
    if (replica_version == fsm_version) return META_REPLICA_KEEP;
    if (replica_version > fsm_version) return META_REPLICA_FUTURE;
    /* Older: while a write is open the replicas legitimately hold the base version until the
     * client's data reaches them, so only a closed file makes an old version stale. */
    return write_open ? META_REPLICA_KEEP : META_REPLICA_STALE;
}

bool meta_settle_chunk(const reg_replica *reps, size_t n, uint64_t fsm_version, uint64_t fsm_length,
                       uint64_t *version, uint64_t *length)
{
    uint64_t best = 0;
    for (size_t i = 0; i < n; i++)
        if (reps[i].version <= fsm_version && reps[i].version > best) best = reps[i].version;
    if (best == 0) return false;
    uint64_t len = fsm_length;
    for (size_t i = 0; best < fsm_version && i < n; i++)
        if (reps[i].version == best && reps[i].length < len) len = reps[i].length;
    *version = best;
    *length = len;
    return true;
}

meta_chunk_health meta_chunk_judge(size_t live, uint32_t goal)
{
    if (live == 0) return META_CHUNK_MISSING;
    if (live < goal) return META_CHUNK_UNDER;
    if (live > goal) return META_CHUNK_OVER;
    return META_CHUNK_HEALTHY;
}

uint64_t meta_server_id_make(uint64_t term, uint64_t counter)
{
    if (term == 0 || term >= (1ULL << 40) || counter == 0 || counter >= (1ULL << 24)) return 0;
    return term << 24 | counter;
}
