/* Metaserver metrics (see meta_metrics.h): per-op request series registered once for every
 * MetaRequest operation, Raft gauges refreshed from raft_node_get_status and cluster gauges
 * (chunks by state, chunkservers, capacity/usage) from the leader's own cluster_status
 * answer, both at scrape time. */
#include "metaserver/meta_metrics.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "common/http_server.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/time_util.h"
#include "metaserver/meta_server_internal.h"

#define MAX_OP 64

typedef struct op_series {
    cfs_counter *requests, *errors;
    cfs_histogram *latency;
} op_series;

static op_series ops[MAX_OP];
static pthread_once_t ops_once = PTHREAD_ONCE_INIT;

/* Every op of the MetaRequest oneof appears from the start (at 0), so rates work at once. */
static void ops_init(void)
{
    const ProtobufCMessageDescriptor *d = &chunkfs__meta_request__descriptor;
    cfs_metrics *r = cfs_metrics_global();
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->id >= MAX_OP || !(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)) continue;
        const char *l[] = {"op", f->name, NULL};
        op_series *o = &ops[f->id];
        if (cfs_metrics_counter(r, "cfs_meta_requests_total", "MetaService calls by operation.", l,
                                &o->requests) ||
            cfs_metrics_counter(r, "cfs_meta_request_errors_total",
                                "MetaService calls answered with err != 0, by operation.", l,
                                &o->errors) ||
            cfs_metrics_histogram(r, "cfs_meta_request_seconds",
                                  "MetaService call latency by operation.", l, cfs_latency_buckets,
                                  cfs_latency_buckets_n, &o->latency)) {
            LOG_ERROR("metrics: cannot register op %s", f->name);
            memset(o, 0, sizeof(*o));
        }
    }
}

void meta_metrics_observe(int op_case, const uint8_t *resp, size_t resp_len, int64_t start_ns)
{
    pthread_once(&ops_once, ops_init);
    if (op_case <= 0 || op_case >= MAX_OP || !ops[op_case].requests) return;
    op_series *o = &ops[op_case];
    cfs_counter_inc(o->requests);
    /* MetaResponse field 1 (err, varint) is packed first and only when nonzero. */
    if (resp && resp_len > 0 && resp[0] == 0x08) cfs_counter_inc(o->errors);
    cfs_histogram_observe(o->latency, (double)(cfs_mono_ns() - start_ns) / 1e9);
}

/* ---------------------------------------------------------------- scrape-time gauges */

static void set_gauge(cfs_metrics *r, const char *name, const char *help, const char *const *labels,
                      double v)
{
    cfs_gauge *g;
    if (cfs_metrics_gauge(r, name, help, labels, &g) == 0) cfs_gauge_set(g, v);
}

static const char *const roles[] = {"leader", "follower", "candidate", "precandidate", "learner"};

static void raft_hook(cfs_metrics *r, void *arg)
{
    meta_server *ms = arg;
    raft_node_status st;
    raft_node_get_status(ms->raft, &st);
    set_gauge(r, "cfs_raft_term", "Current Raft term.", NULL, (double)st.term);
    set_gauge(r, "cfs_raft_is_leader", "1 on the Raft leader, else 0.", NULL, st.is_leader);
    for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
        const char *l[] = {"role", roles[i], NULL};
        set_gauge(r, "cfs_raft_role", "1 for this node's current Raft role.", l,
                  st.role && strcmp(st.role, roles[i]) == 0);
    }
    set_gauge(r, "cfs_raft_commit_index", "Highest log index known committed.", NULL,
              (double)st.commit_index);
    set_gauge(r, "cfs_raft_applied_index", "Highest log index applied to the namespace.", NULL,
              (double)st.applied_index);
    set_gauge(r, "cfs_raft_last_index", "Last index in the local log.", NULL,
              (double)st.last_index);
    set_gauge(r, "cfs_raft_snapshot_index", "Index covered by the latest snapshot.", NULL,
              (double)st.snapshot_index);
    set_gauge(r, "cfs_raft_log_bytes", "Size of the local Raft log.", NULL, (double)st.log_bytes);
    set_gauge(r, "cfs_raft_snapshot_bytes", "Size of the snapshot files kept on disk.", NULL,
              (double)st.snapshot_bytes);
    set_gauge(r, "cfs_raft_members", "Members of the Raft group.", NULL, st.n_members);

    /* Where proposal latency goes (raft_trace.h): sums since start; divide by the counts. */
    raft_trace_totals tr;
    raft_node_get_trace(ms->raft, &tr);
    set_gauge(r, "cfs_raft_traced_proposals",
              "Proposals traced stage by stage (one at a time, as leader).", NULL,
              (double)tr.samples);
    for (int s = 0; s < RAFT_STAGE_COUNT; s++) {
        const char *l[] = {"stage", raft_trace_stage_name(s), NULL};
        set_gauge(r, "cfs_raft_proposal_stage_seconds",
                  "Time the traced proposals spent in each stage, summed.", l,
                  (double)tr.stage_ns[s] / 1e9);
    }
    set_gauge(r, "cfs_raft_follower_batches", "Batches with entries received as follower.", NULL,
              (double)tr.follower_batches);
    set_gauge(r, "cfs_raft_follower_answer_seconds",
              "Time from receiving such a batch to its answer being ready, summed.", NULL,
              (double)(tr.follower_step_ns + tr.follower_answer_ns) / 1e9);
    set_gauge(r, "cfs_raft_follower_fsyncs", "WAL writes with fsync as follower.", NULL,
              (double)tr.follower_fsyncs);
    set_gauge(r, "cfs_raft_follower_fsync_seconds", "Time of those WAL writes, summed.", NULL,
              (double)tr.follower_fsync_ns / 1e9);
    set_gauge(r, "cfs_raft_send_calls", "RaftService.Send calls made to peers.", NULL,
              (double)tr.sent_batches);
    set_gauge(r, "cfs_raft_send_queue_seconds",
              "Time each call's first message waited for the peer's sender thread, summed.", NULL,
              (double)tr.send_queue_ns / 1e9);
    set_gauge(r, "cfs_raft_send_call_seconds", "Time the Send calls took, summed.", NULL,
              (double)tr.send_rpc_ns / 1e9);
}

static int count_lease(void *arg, const meta_lease_ref *l)
{
    (void)l;
    (*(uint64_t *)arg)++;
    return 0;
}

/* The replicated namespace as this node has applied it (every node, leader or not). */
static void fsm_hook(cfs_metrics *r, void *arg)
{
    meta_server *ms = arg;
    meta_fsm_info info;
    uint64_t leases = 0;
    pthread_rwlock_rdlock(&ms->fsm_lock);
    meta_fsm_get_info(ms->fsm, &info);
    int rc = meta_fsm_lease_foreach(ms->fsm, count_lease, &leases);
    pthread_rwlock_unlock(&ms->fsm_lock);
    const char *lf[] = {"type", "file", NULL}, *ld[] = {"type", "dir", NULL},
               *ls[] = {"type", "symlink", NULL};
    const char *help = "Inodes by type in the applied namespace.";
    set_gauge(r, "cfs_meta_inodes", help, lf, (double)info.files);
    set_gauge(r, "cfs_meta_inodes", help, ld, (double)info.dirs);
    set_gauge(r, "cfs_meta_inodes", help, ls, (double)info.symlinks);
    set_gauge(r, "cfs_meta_file_chunks", "Chunks referenced by files.", NULL, (double)info.chunks);
    set_gauge(r, "cfs_meta_deleted_chunks_pending", "Deleted chunks not yet scheduled for removal.",
              NULL, (double)info.deleted_pending);
    set_gauge(r, "cfs_meta_client_sessions", "Exactly-once client sessions.", NULL,
              (double)info.sessions);
    if (rc == 0)
        set_gauge(r, "cfs_meta_open_write_leases", "Write leases held (files open for write).",
                  NULL, (double)leases);
}

/* Asks this node's own MetaService for the cluster status (served only by the leader). */
static Chunkfs__ClusterStatusResp *local_status(meta_server *ms, Chunkfs__MetaResponse **holder)
{
    Chunkfs__MetaRequest req = CHUNKFS__META_REQUEST__INIT;
    Chunkfs__ClusterStatusReq cs = CHUNKFS__CLUSTER_STATUS_REQ__INIT;
    req.op_case = CHUNKFS__META_REQUEST__OP_CLUSTER_STATUS;
    req.cluster_status = &cs;
    uint8_t *buf = NULL, *out = NULL;
    size_t len = 0, out_len = 0;
    *holder = NULL;
    if (rpc_pack(&req.base, &buf, &len) != 0) return NULL;
    int rc = meta_service_call(ms, "metrics", buf, len, &out, &out_len);
    free(buf);
    if (rc != 0) return NULL;
    Chunkfs__MetaResponse *resp = chunkfs__meta_response__unpack(NULL, out_len, out);
    free(out);
    if (!resp) return NULL;
    *holder = resp;
    return resp->err == 0 ? resp->cluster_status : NULL;
}

static void cluster_hook(cfs_metrics *r, void *arg)
{
    meta_server *ms = arg;
    if (!raft_node_is_leader(ms->raft)) return; /* only the leader knows; see docs */
    Chunkfs__MetaResponse *holder;
    const Chunkfs__ClusterStatusResp *c = local_status(ms, &holder);
    if (c) {
        uint64_t under = c->under_replicated, missing = c->missing;
        uint64_t bad = under + missing;
        struct {
            const char *state;
            uint64_t v;
        } st[] = {{"healthy", c->chunks > bad ? c->chunks - bad : 0},
                  {"under_replicated", under},
                  {"missing", missing},
                  {"corrupt", c->corrupt}};
        for (size_t i = 0; i < 4; i++) {
            const char *l[] = {"state", st[i].state, NULL};
            set_gauge(r, "cfs_meta_chunks", "Chunks by state (leader only; corrupt: reports).", l,
                      (double)st[i].v);
        }
        set_gauge(r, "cfs_meta_files", "Files in the namespace (leader only).", NULL,
                  (double)c->files);
        set_gauge(r, "cfs_meta_dirs", "Directories in the namespace (leader only).", NULL,
                  (double)c->dirs);
        double alive = 0, dead = 0, draining = 0;
        for (size_t i = 0; i < c->n_chunkservers; i++) {
            const Chunkfs__ChunkserverStatus *s = c->chunkservers[i];
            alive += strcmp(s->state, "alive") == 0;
            dead += strcmp(s->state, "dead") == 0;
            draining += strcmp(s->state, "draining") == 0;
            char id[24];
            snprintf(id, sizeof(id), "%llu", (unsigned long long)s->id);
            const char *l[] = {"id", id, "address", s->address, "domain", s->domain, NULL};
            set_gauge(r, "cfs_chunkserver_capacity_bytes", "Chunkserver capacity (leader's view).",
                      l, (double)s->capacity);
            set_gauge(r, "cfs_chunkserver_used_bytes", "Chunkserver usage (leader's view).", l,
                      (double)s->used);
            set_gauge(r, "cfs_chunkserver_chunks", "Replicas held (leader's view).", l,
                      (double)s->chunks);
            set_gauge(r, "cfs_chunkserver_up", "1 if the chunkserver is alive.", l,
                      strcmp(s->state, "dead") != 0);
            set_gauge(r, "cfs_chunkserver_heartbeat_age_seconds",
                      "Time since the chunkserver's last heartbeat.", l,
                      (double)s->last_heartbeat_ms / 1000.0);
        }
        struct {
            const char *name, *help;
            double v;
        } heal[] = {
            {"cfs_meta_repair_queued", "Under-replicated chunks waiting for a copy slot.",
             (double)c->repair_queued},
            {"cfs_meta_repair_inflight", "Replica copies (repairs, moves) not yet reported.",
             (double)c->repair_inflight},
            {"cfs_meta_repair_done", "Copies confirmed since this leader took over.",
             (double)c->repair_done},
            {"cfs_meta_repair_scheduled", "Repair copies handed out since this leader took over.",
             (double)c->repair_scheduled},
            {"cfs_meta_trimmed", "Surplus replicas deleted since this leader took over.",
             (double)c->trimmed},
            {"cfs_meta_draining_replicas", "Replicas still on decommissioning servers.",
             (double)c->draining_replicas},
            {"cfs_meta_rebalance_inflight", "Rebalancing moves copying.",
             (double)c->rebalance_inflight},
            {"cfs_meta_rebalance_done", "Rebalancing moves finished since this leader took over.",
             (double)c->rebalance_done},
            {"cfs_meta_balanced", "1 if every server's fill is within the rebalance spread.",
             c->balanced ? 1 : 0},
            {"cfs_meta_gc_waiting", "Orphan/stale replicas inside their grace period.",
             (double)c->gc_waiting},
            {"cfs_meta_repair_per_minute", "Copies confirmed per minute over the last minute.",
             c->repair_per_min},
            {"cfs_meta_rebalance_per_minute", "Rebalancing moves finished per minute, last minute.",
             c->rebalance_per_min},
        };
        for (size_t i = 0; i < sizeof(heal) / sizeof(heal[0]); i++)
            set_gauge(r, heal[i].name, heal[i].help, NULL, heal[i].v);
        const char *la[] = {"state", "alive", NULL}, *ld[] = {"state", "dead", NULL},
                   *lr[] = {"state", "draining", NULL};
        set_gauge(r, "cfs_meta_chunkservers", "Chunkservers by state (leader only).", la, alive);
        set_gauge(r, "cfs_meta_chunkservers", "Chunkservers by state (leader only).", ld, dead);
        set_gauge(r, "cfs_meta_chunkservers", "Chunkservers by state (leader only).", lr, draining);
    }
    if (holder) chunkfs__meta_response__free_unpacked(holder, NULL);
}

/* ---------------------------------------------------------------- HTTP */

struct meta_http {
    meta_server *ms;
    cfs_http_server *http;
};

static int serve_status_json(void *arg, const cfs_http_request *req, cfs_http_response *resp)
{
    (void)req;
    meta_http *h = arg;
    int rc = meta_status_json(h->ms, &resp->body, &resp->len);
    if (rc == -CFS_ENOTLEADER)
        return cfs_http_set_text(resp, 503, "application/json",
                                 "{\"error\": \"no reachable leader\"}\n");
    resp->content_type = "application/json";
    return rc;
}

static int serve_page(void *arg, const cfs_http_request *req, cfs_http_response *resp)
{
    (void)arg;
    (void)req;
    return cfs_http_set_text(resp, 200, "text/html; charset=utf-8", meta_status_html);
}

static bool wildcard_host(const char *host, int len)
{
    return len == 0 || (len == 7 && strncmp(host, "0.0.0.0", 7) == 0) ||
           (len == 4 && strncmp(host, "[::]", 4) == 0);
}

/* Records where others reach this node's http server (cluster status shows it): the listen
 * host with the bound port, or, for a wildcard listen host, the host of its Raft address. */
static void set_http_address(meta_server *ms, const char *listen, int port)
{
    raft_node_status st;
    raft_node_get_status(ms->raft, &st);
    const char *host = listen;
    const char *colon = strrchr(listen, ':');
    int hl = colon ? (int)(colon - listen) : (int)strlen(listen);
    for (int i = 0; wildcard_host(host, hl) && i < st.n_members && i < 16; i++) {
        if (st.members[i].id != ms->id) continue;
        host = st.members[i].addr;
        colon = strrchr(host, ':');
        hl = colon ? (int)(colon - host) : (int)strlen(host);
    }
    if (wildcard_host(host, hl)) { /* not a member yet: the RPC listen address */
        host = ms->listen;
        colon = strrchr(host, ':');
        hl = colon ? (int)(colon - host) : (int)strlen(host);
    }
    pthread_mutex_lock(&ms->soft_lock);
    snprintf(ms->http_address, sizeof(ms->http_address), "%.*s:%d", hl, host, port);
    pthread_mutex_unlock(&ms->soft_lock);
}

int meta_http_start(meta_server *ms, const char *listen, meta_http **out, int *port)
{
    meta_http *h = calloc(1, sizeof(*h));
    if (!h) return -ENOMEM;
    h->ms = ms;
    pthread_once(&ops_once, ops_init);
    cfs_metrics *r = cfs_metrics_global();
    int rc = cfs_metrics_add_hook(r, raft_hook, ms);
    if (rc == 0) rc = cfs_metrics_add_hook(r, fsm_hook, ms);
    if (rc == 0) rc = cfs_metrics_add_hook(r, cluster_hook, ms);
    if (rc == 0) rc = cfs_http_server_new(&h->http);
    if (rc == 0) rc = cfs_http_server_route(h->http, "/", serve_page, h);
    if (rc == 0) rc = cfs_http_server_route(h->http, "/status.json", serve_status_json, h);
    if (rc == 0) rc = cfs_http_server_start(h->http, listen, port);
    if (rc) {
        meta_http_stop(h);
        return rc;
    }
    set_http_address(ms, listen, *port);
    *out = h;
    return 0;
}

void meta_http_stop(meta_http *h)
{
    if (!h) return;
    pthread_mutex_lock(&h->ms->soft_lock);
    h->ms->http_address[0] = '\0';
    pthread_mutex_unlock(&h->ms->soft_lock);
    cfs_http_server_free(h->http);
    cfs_metrics_forget(cfs_metrics_global(), h->ms);
    free(h);
}
