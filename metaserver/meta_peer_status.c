/* AdminReq op "self" and the leader's parallel peer queries (see meta_peer_status.h). */
#include "metaserver/meta_peer_status.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "common/log.h"

void meta_self_figures(meta_server *ms, meta_node_figures *out)
{
    raft_node_status st;
    raft_node_get_status(ms->raft, &st);
    memset(out, 0, sizeof(*out));
    out->reachable = true;
    snprintf(out->role, sizeof(out->role), "%s", st.role ? st.role : "");
    out->term = st.term;
    out->commit_index = st.commit_index;
    out->applied_index = st.applied_index;
    pthread_mutex_lock(&ms->soft_lock);
    snprintf(out->http, sizeof(out->http), "%s", ms->http_address);
    pthread_mutex_unlock(&ms->soft_lock);
}

int meta_self_status_reply(meta_server *ms, uint8_t **out, size_t *len)
{
    meta_node_figures f;
    meta_self_figures(ms, &f);
    Chunkfs__NodeSelfStatus s = CHUNKFS__NODE_SELF_STATUS__INIT;
    s.id = ms->id;
    s.role = f.role;
    s.term = f.term;
    s.commit_index = f.commit_index;
    s.applied_index = f.applied_index;
    s.http = f.http;
    Chunkfs__AdminResp a = CHUNKFS__ADMIN_RESP__INIT;
    a.text = (char *)"";
    a.self = &s;
    Chunkfs__MetaResponse r = CHUNKFS__META_RESPONSE__INIT;
    r.result_case = CHUNKFS__META_RESPONSE__RESULT_ADMIN;
    r.admin = &a;
    return rpc_pack(&r.base, out, len);
}

typedef struct peer_query {
    const char *addr;
    int timeout_ms;
    meta_node_figures *out;
    pthread_t thread;
    bool started;
} peer_query;

static int ask_peer(const char *addr, int timeout_ms, meta_node_figures *out)
{
    Chunkfs__AdminReq a = CHUNKFS__ADMIN_REQ__INIT;
    a.op = (char *)"self";
    Chunkfs__MetaRequest req = CHUNKFS__META_REQUEST__INIT;
    req.op_case = CHUNKFS__META_REQUEST__OP_ADMIN;
    req.admin = &a;
    uint8_t *buf = NULL, *resp_buf = NULL;
    size_t len = 0, resp_len = 0;
    int rc = rpc_pack(&req.base, &buf, &len);
    if (rc) return rc;
    rc = rpc_unary(addr, "/chunkfs.MetaService/Call", buf, len, timeout_ms, &resp_buf, &resp_len);
    free(buf);
    if (rc) return rc;
    Chunkfs__MetaResponse *resp = chunkfs__meta_response__unpack(NULL, resp_len, resp_buf);
    free(resp_buf);
    if (!resp) return -EBADMSG;
    const Chunkfs__NodeSelfStatus *s =
        resp->err == 0 && resp->result_case == CHUNKFS__META_RESPONSE__RESULT_ADMIN && resp->admin
            ? resp->admin->self
            : NULL;
    rc = s ? 0 : resp->err ? resp->err : -EBADMSG; /* an older node answers -EINVAL */
    if (s) {
        out->reachable = true;
        snprintf(out->role, sizeof(out->role), "%s", s->role);
        out->term = s->term;
        out->commit_index = s->commit_index;
        out->applied_index = s->applied_index;
        snprintf(out->http, sizeof(out->http), "%s", s->http);
    }
    chunkfs__meta_response__free_unpacked(resp, NULL);
    return rc;
}

static void *peer_main(void *arg)
{
    peer_query *q = arg;
    int rc = ask_peer(q->addr, q->timeout_ms, q->out);
    if (rc) LOG_DEBUG("self status of %s: %s", q->addr, cfs_strerror(rc));
    return NULL;
}

void meta_peer_figures(const char *const *addrs, size_t n, int timeout_ms, meta_node_figures *out)
{
    for (size_t i = 0; i < n; i++)
        memset(&out[i], 0, sizeof(out[i]));
    peer_query *q = calloc(n ? n : 1, sizeof(*q));
    if (!q) return; /* every peer stays reachable=false */
    for (size_t i = 0; i < n; i++) {
        q[i] = (peer_query){.addr = addrs[i], .timeout_ms = timeout_ms, .out = &out[i]};
        q[i].started = pthread_create(&q[i].thread, NULL, peer_main, &q[i]) == 0;
        if (!q[i].started) peer_main(&q[i]); /* no thread: ask inline, still bounded */
    }
    for (size_t i = 0; i < n; i++)
        if (q[i].started) pthread_join(q[i].thread, NULL);
    free(q);
}
