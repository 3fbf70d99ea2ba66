/* Fuzz target: ClusterService requests (RegisterServer, Heartbeat, ReportChunks) from
 * chunkservers into the leader's registry, through cluster_apply.c as cluster_service.c
 * calls it. Each record (see fuzz_util.h) is an op byte and a payload: op 0 RegisterReq
 * (server id 0 gets a fresh id, as the leader assigns), 1 HeartbeatReq, 2 ChunkReportReq,
 * 3 time passes by payload[0] seconds and dead servers expire. Invariants: every replica
 * the registry lists is on a known, alive server with a nonzero chunk id and version;
 * locations of a chunk are a subset of its replicas. */
#include <stdlib.h>
#include <string.h>

#include "common/pb_strings.h"
#include "fuzz_util.h"
#include "metaserver/cluster_apply.h"

#define MAX_OPS 64
#define DEAD_MS 10000
#define MAX_DELS 1000
#define MAX_REPLS 16

static void check_replica(void *arg, uint64_t chunk_id, const reg_replica *rep)
{
    const registry *reg = arg;
    reg_server_info si;
    if (chunk_id == 0 || rep->version == 0) fuzz_fail("replica with id or version 0");
    if (registry_get_server(reg, rep->server_id, &si) != 0 || !si.alive)
        fuzz_fail("replica of chunk %llu on unknown or dead server %llu",
                  (unsigned long long)chunk_id, (unsigned long long)rep->server_id);
    reg_location locs[16];
    size_t n = registry_locations(reg, chunk_id, rep->version, locs, 16);
    reg_replica reps[64];
    size_t nr = registry_replicas(reg, chunk_id, reps, 64);
    if (n > nr) fuzz_fail("more locations than replicas");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet_logs();
    registry *reg = registry_create(DEAD_MS);
    reg_delete *dels = calloc(MAX_DELS, sizeof *dels);
    reg_replicate *repls = calloc(MAX_REPLS, sizeof *repls);
    if (!reg || !dels || !repls) fuzz_fail("out of memory");
    int64_t now = 1000000;
    uint64_t next_id = 1, corrupt = 0;
    fuzz_in in = {data, size};
    const uint8_t *p;
    size_t len;
    for (int i = 0; i < MAX_OPS && fuzz_take_record(&in, &p, &len); i++) {
        if (len == 0) continue;
        uint8_t op = p[0] & 3;
        p++;
        len--;
        if (op == 0) {
            Chunkfs__RegisterReq *r = chunkfs__register_req__unpack(NULL, len, p);
            if (!r) continue;
            /* cluster_service_register refuses strings with NUL bytes before the registry. */
            if (cfs_pb_check_strings(&chunkfs__register_req__descriptor, p, len) != 0) {
                chunkfs__register_req__free_unpacked(r, NULL);
                continue;
            }
            cluster_apply_register(reg, r->server_id ? r->server_id : next_id++, r, now);
            chunkfs__register_req__free_unpacked(r, NULL);
        } else if (op == 1) {
            Chunkfs__HeartbeatReq *h = chunkfs__heartbeat_req__unpack(NULL, len, p);
            if (!h) continue;
            cluster_beat_cmds cmds = {
                .dels = dels, .max_dels = MAX_DELS, .repls = repls, .max_repls = MAX_REPLS};
            cluster_apply_heartbeat(reg, h, now, &corrupt, &cmds);
            if (cmds.n_dels > MAX_DELS || cmds.n_repls > MAX_REPLS) fuzz_fail("commands overflow");
            chunkfs__heartbeat_req__free_unpacked(h, NULL);
        } else if (op == 2) {
            Chunkfs__ChunkReportReq *r = chunkfs__chunk_report_req__unpack(NULL, len, p);
            if (!r) continue;
            size_t bad = 0;
            cluster_apply_report(reg, r, &bad);
            chunkfs__chunk_report_req__free_unpacked(r, NULL);
        } else {
            now += (int64_t)(len ? p[0] : 1) * 1000;
            uint64_t dead[16];
            registry_expire(reg, now, dead, 16);
        }
        registry_foreach_replica(reg, check_replica, reg);
    }
    uint64_t cap, used;
    registry_totals(reg, &cap, &used);
    free(dels);
    free(repls);
    registry_destroy(reg);
    return 0;
}
