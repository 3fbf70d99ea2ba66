/* GET /status.json: the leader's ClusterStatus rendered with the schema of
 * `chunkfs status --json` (see docs/operations.md). A follower fetches it from the leader
 * over MetaService, so every metaserver's page shows the same cluster view. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "common/log.h"
#include "metaserver/meta_metrics.h"
#include "metaserver/meta_server_internal.h"

#define PROXY_TIMEOUT_MS 5000

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void write_json(FILE *f, const Chunkfs__ClusterStatusResp *st, uint64_t self,
                       const char *via)
{
    fprintf(f, "{\"cluster_id\": ");
    json_str(f, st->cluster_id);
    fprintf(f, ", \"leader_id\": %llu, \"served_by\": %llu, \"via\": ",
            (unsigned long long)st->leader_id, (unsigned long long)self);
    json_str(f, via);
    fprintf(f, ", \"metaservers\": [");
    for (size_t i = 0; i < st->n_metaservers; i++) {
        const Chunkfs__MetaserverStatus *m = st->metaservers[i];
        fprintf(f, "%s\n  {\"id\": %llu, \"address\": ", i ? "," : "", (unsigned long long)m->id);
        json_str(f, m->address);
        fprintf(f, ", \"role\": ");
        json_str(f, m->role);
        fprintf(f,
                ", \"term\": %llu, \"commit_index\": %llu, \"applied_index\": %llu, "
                "\"match_index\": %llu, \"reachable\": %s}",
                (unsigned long long)m->term, (unsigned long long)m->commit_index,
                (unsigned long long)m->applied_index, (unsigned long long)m->match_index,
                m->reachable ? "true" : "false");
    }
    fprintf(f, "%s], \"chunkservers\": [", st->n_metaservers ? "\n" : "");
    for (size_t i = 0; i < st->n_chunkservers; i++) {
        const Chunkfs__ChunkserverStatus *cs = st->chunkservers[i];
        fprintf(f, "%s\n  {\"id\": %llu, \"address\": ", i ? "," : "", (unsigned long long)cs->id);
        json_str(f, cs->address);
        fprintf(f, ", \"state\": ");
        json_str(f, cs->state);
        fprintf(f, ", \"domain\": ");
        json_str(f, cs->domain);
        fprintf(f,
                ", \"capacity\": %llu, \"used\": %llu, \"chunks\": %llu, "
                "\"last_heartbeat_ms\": %lld}",
                (unsigned long long)cs->capacity, (unsigned long long)cs->used,
                (unsigned long long)cs->chunks, (long long)cs->last_heartbeat_ms);
    }
    fprintf(f,
            "%s], \"files\": %llu, \"dirs\": %llu, \"chunks\": %llu, "
            "\"under_replicated\": %llu, \"missing\": %llu, \"corrupt\": %llu",
            st->n_chunkservers ? "\n" : "", (unsigned long long)st->files,
            (unsigned long long)st->dirs, (unsigned long long)st->chunks,
            (unsigned long long)st->under_replicated, (unsigned long long)st->missing,
            (unsigned long long)st->corrupt);
    /* Self-healing progress (leader's soft state since it became leader). */
    fprintf(f,
            ", \"repair_queued\": %llu, \"repair_inflight\": %llu, \"repair_done\": %llu, "
            "\"repair_scheduled\": %llu, \"trimmed\": %llu, \"draining_replicas\": %llu, "
            "\"rebalance_inflight\": %llu, \"rebalance_done\": %llu, \"balanced\": %s, "
            "\"gc_waiting\": %llu}\n",
            (unsigned long long)st->repair_queued, (unsigned long long)st->repair_inflight,
            (unsigned long long)st->repair_done, (unsigned long long)st->repair_scheduled,
            (unsigned long long)st->trimmed, (unsigned long long)st->draining_replicas,
            (unsigned long long)st->rebalance_inflight, (unsigned long long)st->rebalance_done,
            st->balanced ? "true" : "false", (unsigned long long)st->gc_waiting);
}

/* One cluster_status call: in-process when addr is NULL, else over MetaService. */
static int ask(meta_server *ms, const char *addr, Chunkfs__MetaResponse **out)
{
    Chunkfs__MetaRequest req = CHUNKFS__META_REQUEST__INIT;
    Chunkfs__ClusterStatusReq cs = CHUNKFS__CLUSTER_STATUS_REQ__INIT;
    req.op_case = CHUNKFS__META_REQUEST__OP_CLUSTER_STATUS;
    req.cluster_status = &cs;
    uint8_t *buf = NULL, *resp = NULL;
    size_t len = 0, resp_len = 0;
    int rc = rpc_pack(&req.base, &buf, &len);
    if (rc) return rc;
    rc = addr ? rpc_unary(addr, "/chunkfs.MetaService/Call", buf, len, PROXY_TIMEOUT_MS, &resp,
                          &resp_len)
              : meta_service_call(ms, "http", buf, len, &resp, &resp_len);
    free(buf);
    if (rc) return rc;
    *out = chunkfs__meta_response__unpack(NULL, resp_len, resp);
    free(resp);
    return *out ? 0 : -EBADMSG;
}

int meta_status_json(meta_server *ms, char **out, size_t *len)
{
    Chunkfs__MetaResponse *resp = NULL;
    int rc = ask(ms, NULL, &resp);
    char via[128] = "self";
    if (rc == 0 && resp->err == -CFS_ENOTLEADER && resp->leader_hint && *resp->leader_hint) {
        snprintf(via, sizeof(via), "%s", resp->leader_hint);
        chunkfs__meta_response__free_unpacked(resp, NULL);
        resp = NULL;
        rc = ask(ms, via, &resp);
        if (rc) LOG_DEBUG("status from leader %s: %s", via, cfs_strerror(rc));
    }
    if (rc == 0 && (resp->err != 0 || !resp->cluster_status))
        rc = resp->err == -CFS_ENOTLEADER || resp->err == 0 ? -CFS_ENOTLEADER : resp->err;
    if (rc == 0) {
        FILE *f = open_memstream(out, len);
        if (!f) {
            rc = -ENOMEM;
        } else {
            write_json(f, resp->cluster_status, ms->id, via);
            if (fclose(f) != 0) {
                free(*out);
                *out = NULL;
                rc = -ENOMEM;
            }
        }
    } else if (rc != -ENOMEM) {
        rc = -CFS_ENOTLEADER; /* unreachable or unknown leader: the page says so */
    }
    if (resp) chunkfs__meta_response__free_unpacked(resp, NULL);
    return rc;
}
