/* GET /status.json: the leader's ClusterStatus rendered with the schema of
 * `chunkfs status --json` (see docs/operations.md). A follower fetches it from the leader
 * over MetaService, so every metaserver's page shows the same cluster view. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "common/log.h"
#include "common/status_json.h"
#include "metaserver/meta_metrics.h"
#include "metaserver/meta_server_internal.h"

#define PROXY_TIMEOUT_MS 5000

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
            cfs_status_json_write(f, resp->cluster_status, ms->id, via);
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
