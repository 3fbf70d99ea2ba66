/* ClusterService: chunkservers register, heartbeat and report their replicas to the leader.
 * Everything here is soft state (the registry); only the leader answers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "common/log.h"
#include "common/pb_strings.h"
#include "common/time_util.h"
#include "metaserver/cluster_apply.h"
#include "metaserver/meta_cmd.h"
#include "metaserver/meta_server_internal.h"

#define MAX_DELETES_PER_BEAT 1000
/* Replicas one ReportChunks call may carry (chunkservers send 10000 by default). */
#define REPORT_MAX_REPLICAS 100000
#define MAX_REPLICATES_PER_BEAT 16

/* Every ClusterService response starts with (err, errmsg, leader_hint) as fields 1..3; the
 * three reply helpers fill them on the specific message. */
static void not_leader_hint(meta_server *ms, char *hint, size_t len)
{
    raft_node_leader_addr(ms->raft, hint, len);
}

/* ---------------------------------------------------------------- RegisterServer */

static int register_reply(int err, const char *msg, const char *hint, uint64_t id, uint8_t **out,
                          size_t *len)
{
    Chunkfs__RegisterResp r = CHUNKFS__REGISTER_RESP__INIT;
    r.err = err;
    r.errmsg = (char *)(msg ? msg : (err ? cfs_strerror(err) : ""));
    r.leader_hint = (char *)(hint ? hint : "");
    r.server_id = id;
    return rpc_pack(&r.base, out, len);
}

int cluster_service_register(void *arg, const char *peer, const uint8_t *buf, size_t buf_len,
                             uint8_t **out, size_t *len)
{
    meta_server *ms = arg;
    Chunkfs__RegisterReq *req = chunkfs__register_req__unpack(NULL, buf_len, buf);
    if (!req) return register_reply(-EINVAL, "malformed RegisterReq", NULL, 0, out, len);
    if (cfs_pb_check_strings(&chunkfs__register_req__descriptor, buf, buf_len) != 0) {
        chunkfs__register_req__free_unpacked(req, NULL);
        return register_reply(-EINVAL, "an address, domain or cluster id holds a NUL byte", NULL, 0,
                              out, len);
    }
    int rc;
    if (strcmp(req->cluster_id ? req->cluster_id : "", ms->params.cluster_id) != 0) {
        LOG_WARN_KV("chunkserver refused: wrong cluster id",
                    "addr=%s peer=%s cluster_id=\"%s\" ours=%s", req->address ? req->address : "?",
                    peer ? peer : "?", req->cluster_id ? req->cluster_id : "",
                    ms->params.cluster_id);
        rc = register_reply(-CFS_ECLUSTER, "wrong cluster id", NULL, 0, out, len);
        goto done;
    }
    ms_role role = ms_role_now(ms);
    if (!role.leader) {
        char hint[128];
        not_leader_hint(ms, hint, sizeof(hint));
        rc = register_reply(-CFS_ENOTLEADER, "not the leader", hint, 0, out, len);
        goto done;
    }
    bool leader = ms_soft_enter(ms, role);
    uint64_t id = req->server_id;
    int err = 0;
    if (!leader) {
        err = -CFS_ENOTLEADER;
    } else {
        if (id == 0) {
            id = meta_server_id_make(role.term, ms->next_server_seq + 1);
            if (id == 0)
                err = -EAGAIN; /* this term's id range is used up; the next term has one */
            else
                ms->next_server_seq++;
        }
        if (!err) err = cluster_apply_register(ms->reg, id, req, cfs_mono_ms());
    }
    pthread_mutex_unlock(&ms->soft_lock);
    if (err == -CFS_ENOTLEADER) {
        char hint[128];
        not_leader_hint(ms, hint, sizeof(hint));
        rc = register_reply(err, "not the leader", hint, 0, out, len);
    } else if (err) {
        rc = register_reply(err, err == -EINVAL ? "bad address, http address or domain" : NULL,
                            NULL, 0, out, len);
    } else {
        LOG_INFO_KV("chunkserver registered",
                    "id=%llu addr=%s domain=\"%s\" capacity=%llu used=%llu new_id=%d",
                    (unsigned long long)id, req->address, req->domain ? req->domain : "",
                    (unsigned long long)req->capacity, (unsigned long long)req->used,
                    req->server_id == 0);
        rc = register_reply(0, "", NULL, id, out, len);
    }
done:
    chunkfs__register_req__free_unpacked(req, NULL);
    return rc;
}

/* ---------------------------------------------------------------- Heartbeat */

static int heartbeat_reply(int err, const char *msg, const char *hint, uint8_t **out, size_t *len)
{
    Chunkfs__HeartbeatResp r = CHUNKFS__HEARTBEAT_RESP__INIT;
    r.err = err;
    r.errmsg = (char *)(msg ? msg : (err ? cfs_strerror(err) : ""));
    r.leader_hint = (char *)(hint ? hint : "");
    return rpc_pack(&r.base, out, len);
}

int cluster_service_heartbeat(void *arg, const char *peer, const uint8_t *buf, size_t buf_len,
                              uint8_t **out, size_t *len)
{
    meta_server *ms = arg;
    (void)peer;
    Chunkfs__HeartbeatReq *req = chunkfs__heartbeat_req__unpack(NULL, buf_len, buf);
    if (!req) return heartbeat_reply(-EINVAL, "malformed HeartbeatReq", NULL, out, len);
    reg_delete *dels = calloc(MAX_DELETES_PER_BEAT, sizeof(*dels));
    reg_replicate *repls = calloc(MAX_REPLICATES_PER_BEAT, sizeof(*repls));
    if (!dels || !repls) {
        free(dels);
        free(repls);
        chunkfs__heartbeat_req__free_unpacked(req, NULL);
        return heartbeat_reply(-ENOMEM, NULL, NULL, out, len);
    }
    size_t n_dels = 0, n_repls = 0;
    ms_role role = ms_role_now(ms);
    bool leader = role.leader && ms_soft_enter(ms, role);
    int err = 0;
    if (role.leader) {
        if (!leader) {
            err = -CFS_ENOTLEADER;
        } else {
            cluster_beat_cmds cmds = {.dels = dels,
                                      .max_dels = MAX_DELETES_PER_BEAT,
                                      .repls = repls,
                                      .max_repls = MAX_REPLICATES_PER_BEAT};
            err = cluster_apply_heartbeat(ms->reg, req, cfs_mono_ms(), &ms->corrupt_reports, &cmds);
            n_dels = cmds.n_dels;
            n_repls = cmds.n_repls;
        }
        pthread_mutex_unlock(&ms->soft_lock);
    }
    int rc;
    if (!role.leader || err == -CFS_ENOTLEADER) {
        char hint[128];
        not_leader_hint(ms, hint, sizeof(hint));
        rc = heartbeat_reply(-CFS_ENOTLEADER, "not the leader", hint, out, len);
    } else if (err == -ENOENT) {
        rc = heartbeat_reply(-ENOENT, "unknown server: register again", NULL, out, len);
    } else if (err) {
        rc = heartbeat_reply(err, NULL, NULL, out, len);
    } else {
        Chunkfs__HeartbeatResp r = CHUNKFS__HEARTBEAT_RESP__INIT;
        Chunkfs__ChunkReplica *reps = calloc(n_dels ? n_dels : 1, sizeof(*reps));
        Chunkfs__ChunkReplica **ptrs = calloc(n_dels ? n_dels : 1, sizeof(*ptrs));
        Chunkfs__ReplicateCmd *rc_cmds = calloc(n_repls ? n_repls : 1, sizeof(*rc_cmds));
        Chunkfs__ReplicateCmd **rc_ptrs = calloc(n_repls ? n_repls : 1, sizeof(*rc_ptrs));
        /* One token per command: delete tokens parallel to delete, one in each ReplicateCmd. */
        size_t n_toks = n_dels + n_repls;
        uint8_t(*toks)[CHUNK_TOKEN_SIZE] = calloc(n_toks ? n_toks : 1, sizeof(*toks));
        ProtobufCBinaryData *del_toks = calloc(n_dels ? n_dels : 1, sizeof(*del_toks));
        if (!reps || !ptrs || !rc_cmds || !rc_ptrs || !toks || !del_toks) {
            rc = heartbeat_reply(-ENOMEM, NULL, NULL, out, len);
        } else {
            int serr = 0;
            for (size_t i = 0; i < n_dels; i++) {
                chunkfs__chunk_replica__init(&reps[i]);
                reps[i].chunk_id = dels[i].chunk_id;
                reps[i].version = dels[i].version;
                ptrs[i] = &reps[i];
                if (!serr)
                    serr = ms_sign_token(ms, CHUNK_TOKEN_DELETE, dels[i].chunk_id, dels[i].version,
                                         toks[i], &del_toks[i].len);
                del_toks[i].data = toks[i];
            }
            if (ms->tokens_on) {
                r.n_delete_tokens = n_dels;
                r.delete_tokens = del_toks;
            }
            r.errmsg = (char *)"";
            r.leader_hint = (char *)"";
            r.n_delete_ = n_dels;
            r.delete_ = ptrs;
            for (size_t i = 0; i < n_repls; i++) {
                chunkfs__replicate_cmd__init(&rc_cmds[i]);
                rc_cmds[i].chunk_id = repls[i].chunk_id;
                rc_cmds[i].version = repls[i].version;
                rc_cmds[i].source = repls[i].source;
                if (!serr)
                    serr = ms_sign_token(ms, CHUNK_TOKEN_REPLICATE, repls[i].chunk_id,
                                         repls[i].version, toks[n_dels + i], &rc_cmds[i].token.len);
                rc_cmds[i].token.data = toks[n_dels + i];
                rc_ptrs[i] = &rc_cmds[i];
            }
            r.n_replicate = n_repls;
            r.replicate = rc_ptrs;
            /* Commands already taken from the queues are lost on this error; the repair scan
             * and the orphan collector schedule them again. */
            rc = serr ? heartbeat_reply(serr, NULL, NULL, out, len) : rpc_pack(&r.base, out, len);
        }
        free(toks);
        free(del_toks);
        free(reps);
        free(ptrs);
        free(rc_cmds);
        free(rc_ptrs);
    }
    free(dels);
    free(repls);
    chunkfs__heartbeat_req__free_unpacked(req, NULL);
    return rc;
}

/* ---------------------------------------------------------------- ReportChunks */

static int report_reply(int err, const char *msg, const char *hint, uint8_t **out, size_t *len)
{
    Chunkfs__ChunkReportResp r = CHUNKFS__CHUNK_REPORT_RESP__INIT;
    r.err = err;
    r.errmsg = (char *)(msg ? msg : (err ? cfs_strerror(err) : ""));
    r.leader_hint = (char *)(hint ? hint : "");
    return rpc_pack(&r.base, out, len);
}

int cluster_service_report(void *arg, const char *peer, const uint8_t *buf, size_t buf_len,
                           uint8_t **out, size_t *len)
{
    meta_server *ms = arg;
    (void)peer;
    Chunkfs__ChunkReportReq *req = chunkfs__chunk_report_req__unpack(NULL, buf_len, buf);
    if (!req) return report_reply(-EINVAL, "malformed ChunkReportReq", NULL, out, len);
    if (req->n_chunks > REPORT_MAX_REPLICAS) {
        /* The registry lock is held for the whole batch: keep a batch short. */
        LOG_WARN("chunkserver %llu: report of %zu replicas refused (at most %d per call)",
                 (unsigned long long)req->server_id, req->n_chunks, REPORT_MAX_REPLICAS);
        chunkfs__chunk_report_req__free_unpacked(req, NULL);
        return report_reply(-E2BIG, "too many replicas in one report: send them in batches", NULL,
                            out, len);
    }
    ms_role role = ms_role_now(ms);
    int err = 0;
    size_t bad = 0;
    if (!role.leader) {
        err = -CFS_ENOTLEADER;
    } else {
        if (!ms_soft_enter(ms, role))
            err = -CFS_ENOTLEADER;
        else
            err = cluster_apply_report(ms->reg, req, &bad);
        pthread_mutex_unlock(&ms->soft_lock);
    }
    if (bad)
        LOG_WARN("chunkserver %llu: %zu invalid replicas (id or version 0) ignored in report",
                 (unsigned long long)req->server_id, bad);
    if (!err && req->last)
        LOG_INFO("chunkserver %llu: full chunk report complete",
                 (unsigned long long)req->server_id);
    int rc;
    if (err == -CFS_ENOTLEADER) {
        char hint[128];
        not_leader_hint(ms, hint, sizeof(hint));
        rc = report_reply(err, "not the leader", hint, out, len);
    } else if (err == -ENOENT) {
        rc = report_reply(err, "unknown server: register again", NULL, out, len);
    } else {
        rc = report_reply(err, NULL, NULL, out, len);
    }
    chunkfs__chunk_report_req__free_unpacked(req, NULL);
    return rc;
}
