/* meta_server: wiring of RPC server, Raft node, fsm and soft state; the Raft fsm callbacks. */
#include "metaserver/meta_server.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "common/log.h"
#include "common/time_util.h"
#include "metaserver/meta_cmd.h"
#include "metaserver/meta_server_internal.h"

static bool soft_update_locked(meta_server *ms, bool is_leader, uint64_t term);

/* ---------------------------------------------------------------- Raft fsm callbacks */

static int fsm_apply(void *arg, uint64_t index, const uint8_t *data, size_t len, void **result)
{
    meta_server *ms = arg;
    Chunkfs__MetaResponse *resp = NULL;
    pthread_rwlock_wrlock(&ms->fsm_lock);
    int rc = meta_fsm_apply(ms->fsm, data, len, &resp);
    if (rc == 0) ms->applied_index = index;
    pthread_rwlock_unlock(&ms->fsm_lock);
    if (rc != 0) {
        LOG_ERROR("apply of entry %llu failed: %s; this node stops applying",
                  (unsigned long long)index, cfs_strerror(rc));
        return rc;
    }
    *result = resp;
    return 0;
}

static void fsm_free_result(void *arg, void *result)
{
    (void)arg;
    if (result) chunkfs__meta_response__free_unpacked(result, NULL);
}

static int fsm_snapshot(void *arg, uint8_t **buf, size_t *len)
{
    meta_server *ms = arg;
    pthread_rwlock_rdlock(&ms->fsm_lock);
    int rc = meta_fsm_snapshot(ms->fsm, buf, len);
    pthread_rwlock_unlock(&ms->fsm_lock);
    return rc;
}

static int fsm_restore(void *arg, const uint8_t *buf, size_t len)
{
    meta_server *ms = arg;
    pthread_rwlock_wrlock(&ms->fsm_lock);
    int rc = meta_fsm_restore(ms->fsm, buf, len);
    pthread_rwlock_unlock(&ms->fsm_lock);
    if (rc != 0) LOG_ERROR("snapshot restore failed: %s", cfs_strerror(rc));
    return rc;
}

static void fsm_role_changed(void *arg, bool is_leader, uint64_t term)
{
    meta_server *ms = arg;
    LOG_INFO_KV("role change", "role=%s term=%llu", is_leader ? "leader" : "not-leader",
                (unsigned long long)term);
    /* No call back into the Raft node from here (it may hold its own locks). */
    pthread_mutex_lock(&ms->soft_lock);
    (void)soft_update_locked(ms, is_leader, term);
    pthread_mutex_unlock(&ms->soft_lock);
    /* Let the maintenance thread act at once (a new leader may have to format the cluster). */
    pthread_mutex_lock(&ms->gc_mu);
    pthread_cond_signal(&ms->gc_cv);
    pthread_mutex_unlock(&ms->gc_mu);
}

static const raft_fsm_ops fsm_ops = {
    .apply = fsm_apply,
    .free_result = fsm_free_result,
    .snapshot = fsm_snapshot,
    .restore = fsm_restore,
    .role_changed = fsm_role_changed,
};

/* ---------------------------------------------------------------- shared helpers */

static int reset_soft_state(meta_server *ms)
{
    registry *reg = registry_create(ms->dead_timeout_ms);
    lock_table *locks = lock_table_create();
    if (!reg || !locks) {
        registry_destroy(reg);
        lock_table_destroy(locks);
        return -ENOMEM;
    }
    registry_destroy(ms->reg);
    lock_table_destroy(ms->locks);
    ms->reg = reg;
    ms->locks = locks;
    ms->next_server_seq = 0;
    ms->corrupt_reports = 0;
    ms->heal = (ms_heal_stats){0};
    rate_window_init(&ms->repair_rate, 60000);
    rate_window_init(&ms->rebalance_rate, 60000);
    return 0;
}

/* Brings the soft state in line with (is_leader, term); returns is_leader, or false when
 * out of memory. */
static bool soft_update_locked(meta_server *ms, bool is_leader, uint64_t term)
{
    /* Views of the role are taken before this lock, so they may be stale: a leadership is
     * only ever (re)started by a newer term, and the old soft state is dropped then (a node
     * never leads twice in one term). A follower just leaves it untouched and unused. */
    if (!is_leader || term < ms->leader_term) return false;
    if (ms->leader_term != term) {
        if (reset_soft_state(ms) != 0) {
            LOG_ERROR("out of memory resetting the registry for term %llu",
                      (unsigned long long)term);
            return false;
        }
        ms->leader_term = term;
        ms->leader_since_ms = cfs_mono_ms();
        LOG_INFO("leading term %llu: registry starts empty, chunkservers re-register",
                 (unsigned long long)term);
    }
    return true;
}

ms_role ms_role_now(meta_server *ms)
{
    raft_node_status st;
    raft_node_get_status(ms->raft, &st);
    return (ms_role){.leader = st.is_leader, .term = st.term};
}

bool ms_soft_enter(meta_server *ms, ms_role role)
{
    pthread_mutex_lock(&ms->soft_lock);
    return soft_update_locked(ms, role.leader, role.term);
}

int ms_propose(meta_server *ms, const uint8_t *buf, size_t len, Chunkfs__MetaResponse **out)
{
    void *result = NULL;
    int rc = raft_node_propose(ms->raft, buf, len, MS_PROPOSE_TIMEOUT_MS, &result);
    if (rc != 0) {
        if (result) chunkfs__meta_response__free_unpacked(result, NULL);
        return rc;
    }
    *out = result;
    return 0;
}

int ms_ensure_formatted(meta_server *ms)
{
    if (atomic_load(&ms->formatted)) return 0;
    pthread_mutex_lock(&ms->format_mu);
    /* After the barrier every committed entry is applied: an unformatted state is new. */
    int rc = raft_node_read_barrier(ms->raft, MS_BARRIER_TIMEOUT_MS);
    meta_fsm_info info;
    if (rc == 0) {
        pthread_rwlock_rdlock(&ms->fsm_lock);
        meta_fsm_get_info(ms->fsm, &info);
        pthread_rwlock_unlock(&ms->fsm_lock);
    }
    if (rc == 0 && info.cluster_id[0] == '\0') {
        uint8_t *cmd;
        size_t len;
        rc = meta_cmd_pack_format(ms->params.cluster_id, ms->params.chunk_size, ms->params.goal,
                                  cfs_real_ns(), &cmd, &len);
        Chunkfs__MetaResponse *resp = NULL;
        if (rc == 0) {
            rc = ms_propose(ms, cmd, len, &resp);
            free(cmd);
        }
        if (rc == 0 && resp && resp->err != 0 && resp->err != -EEXIST) rc = resp->err;
        if (resp) chunkfs__meta_response__free_unpacked(resp, NULL);
        if (rc == 0)
            LOG_INFO("cluster %s formatted: chunk size %llu, goal %u", ms->params.cluster_id,
                     (unsigned long long)ms->params.chunk_size, ms->params.goal);
        else if (rc != -CFS_ENOTLEADER)
            LOG_WARN("format proposal: %s", cfs_strerror(rc));
    } else if (rc == 0 && strcmp(info.cluster_id, ms->params.cluster_id) != 0) {
        LOG_ERROR("replicated cluster id %s differs from %s/cluster.ini (%s): data dirs of "
                  "different clusters mixed?",
                  info.cluster_id, ms->data_dir, ms->params.cluster_id);
    }
    if (rc == 0) atomic_store(&ms->formatted, true);
    pthread_mutex_unlock(&ms->format_mu);
    return rc;
}

/* ---------------------------------------------------------------- lifetime */

int meta_server_create(const meta_server_config *cfg, meta_server **out, int *port)
{
    if (!cfg || cfg->id == 0 || !cfg->data_dir || !cfg->listen || (!cfg->join && cfg->n_peers <= 0))
        return -EINVAL;
    if (cfg->tokens && cfg->token_lifetime_ms > cfg->tokens->rotation_ms)
        return -EINVAL; /* a token must not outlive the overlap of its key */
    meta_server *ms = calloc(1, sizeof(*ms));
    if (!ms) return -ENOMEM;
    ms->id = cfg->id;
    snprintf(ms->listen, sizeof(ms->listen), "%s", cfg->listen);
    snprintf(ms->data_dir, sizeof(ms->data_dir), "%s", cfg->data_dir);
    ms->dead_timeout_ms = cfg->dead_timeout_ms > 0 ? cfg->dead_timeout_ms : 5000;
    ms->lease_ms = cfg->lease_ms ? cfg->lease_ms : META_FSM_DEFAULT_LEASE_MS;
    ms->max_open_per_client = cfg->max_open_per_client;
    ms->gc_grace_ms = cfg->gc_grace_ms > 0 ? cfg->gc_grace_ms : 0;
    ms->delete_grace_ms = cfg->delete_grace_ms > 0 ? cfg->delete_grace_ms : 0;
    ms->repair_max_inflight = cfg->repair_max_inflight ? cfg->repair_max_inflight : 64;
    ms->repair_max_per_server = cfg->repair_max_per_server ? cfg->repair_max_per_server : 4;
    ms->rebalance_spread = cfg->rebalance_spread;
    ms->rebalance_max_inflight = cfg->rebalance_max_inflight;
    ms->tokens_on = cfg->tokens != NULL;
    if (cfg->tokens) ms->tokens = *cfg->tokens;
    ms->token_lifetime_ms =
        cfg->token_lifetime_ms > 0 ? cfg->token_lifetime_ms : CHUNK_TOKEN_LIFETIME_MS;
    pthread_rwlock_init(&ms->fsm_lock, NULL);
    pthread_mutex_init(&ms->soft_lock, NULL);
    pthread_mutex_init(&ms->gc_mu, NULL);
    pthread_mutex_init(&ms->format_mu, NULL);
    atomic_init(&ms->formatted, false);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&ms->gc_cv, &ca);
    pthread_condattr_destroy(&ca);

    int rc = meta_format_read(cfg->data_dir, &ms->params);
    if (rc != 0) {
        LOG_ERROR("data dir %s: %s (run `chunkfs-metaserver format --data-dir %s` first)",
                  cfg->data_dir, rc == -ENOENT ? "not formatted" : cfs_strerror(rc), cfg->data_dir);
        goto fail;
    }
    ms->fsm = meta_fsm_create();
    if (!ms->fsm || reset_soft_state(ms) != 0) {
        rc = -ENOMEM;
        goto fail;
    }
    ms->rpc = rpc_server_create(NULL);
    if (!ms->rpc) {
        rc = -ENOMEM;
        goto fail;
    }
    if ((rc = rpc_server_add_unary(ms->rpc, "/chunkfs.MetaService/Call", meta_service_call, ms)) ||
        (rc = rpc_server_add_unary(ms->rpc, "/chunkfs.ClusterService/RegisterServer",
                                   cluster_service_register, ms)) ||
        (rc = rpc_server_add_unary(ms->rpc, "/chunkfs.ClusterService/Heartbeat",
                                   cluster_service_heartbeat, ms)) ||
        (rc = rpc_server_add_unary(ms->rpc, "/chunkfs.ClusterService/ReportChunks",
                                   cluster_service_report, ms)))
        goto fail;

    char raft_dir[PATH_MAX];
    if (snprintf(raft_dir, sizeof(raft_dir), "%s/raft", cfg->data_dir) >= (int)sizeof(raft_dir)) {
        rc = -ENAMETOOLONG;
        goto fail;
    }
    raft_node_config rc_cfg = {
        .id = cfg->id,
        .peers = cfg->peers,
        .n_peers = cfg->n_peers,
        .data_dir = raft_dir,
        .tick_ms = cfg->tick_ms,
        .election_ticks = cfg->election_ticks,
        .snapshot_entries = cfg->snapshot_entries,
        .join = cfg->join,
    };
    rc = raft_node_create(&rc_cfg, &fsm_ops, ms, ms->rpc, &ms->raft);
    if (rc != 0) {
        LOG_ERROR("raft node: %s", cfs_strerror(rc));
        goto fail;
    }
    rc = rpc_server_start(ms->rpc, cfg->listen);
    if (rc < 0) {
        LOG_ERROR("cannot listen on %s: %s", cfg->listen, cfs_strerror(rc));
        goto fail;
    }
    *port = rc;
    raft_node_status st;
    raft_node_get_status(ms->raft, &st);
    LOG_INFO("metaserver %llu of cluster %s on %s (port %d): recovered term %llu, last index "
             "%llu, snapshot index %llu",
             (unsigned long long)cfg->id, ms->params.cluster_id, cfg->listen, *port,
             (unsigned long long)st.term, (unsigned long long)st.last_index,
             (unsigned long long)st.snapshot_index);
    *out = ms;
    return 0;
fail:
    meta_server_destroy(ms);
    return rc;
}

int meta_server_start(meta_server *ms)
{
    int rc = raft_node_start(ms->raft);
    if (rc != 0) {
        LOG_ERROR("raft start: %s", cfs_strerror(rc));
        return rc;
    }
    ms->raft_started = true;
    rc = pthread_create(&ms->gc_thread, NULL, meta_gc_main, ms);
    if (rc != 0) return -rc;
    ms->gc_started = true;
    return 0;
}

void meta_server_destroy(meta_server *ms)
{
    if (!ms) return;
    if (ms->gc_started) {
        pthread_mutex_lock(&ms->gc_mu);
        ms->stopping = true;
        pthread_cond_signal(&ms->gc_cv);
        pthread_mutex_unlock(&ms->gc_mu);
        pthread_join(ms->gc_thread, NULL);
    }
    /* Stop the RPC server first: handlers use the Raft node and the fsm. */
    if (ms->rpc) rpc_server_destroy(ms->rpc);
    if (ms->raft) raft_node_destroy(ms->raft);
    meta_fsm_destroy(ms->fsm);
    registry_destroy(ms->reg);
    lock_table_destroy(ms->locks);
    free(ms->suspects);
    free(ms->deleted_seen);
    pthread_rwlock_destroy(&ms->fsm_lock);
    pthread_mutex_destroy(&ms->soft_lock);
    pthread_mutex_destroy(&ms->gc_mu);
    pthread_mutex_destroy(&ms->format_mu);
    pthread_cond_destroy(&ms->gc_cv);
    free(ms);
}
