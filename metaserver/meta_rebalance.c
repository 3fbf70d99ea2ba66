/* The rebalancer's shell step, run by the maintenance thread every round on the leader:
 *   1. finishes moves whose copy the target has reported: the source replica is deleted
 *      (only when the chunk keeps its goal without it), or drops moves that went stale
 *      (timed out, chunk rewritten or deleted);
 *   2. when no repair is waiting, plans new moves with the pure planner (rebalance.h) from
 *      the bytes of replicas the registry knows per server: a healthy chunk of a closed
 *      file is copied from the fullest to the emptiest server (a replicate command in the
 *      target's heartbeat reply, tracked like a repair), at most rebalance_max_inflight at
 *      once, so client I/O keeps most of the bandwidth.
 * Repairs always go first: moving data while chunks lack replicas would compete with them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/time_util.h"
#include "metaserver/meta_server_internal.h"
#include "metaserver/rebalance.h"

#define MOVE_TIMEOUT_MS 60000 /* a copy not reported by then is given up */
#define MAX_SERVERS 256
#define MAX_REPS 16

bool ms_move_pending(const meta_server *ms, uint64_t chunk_id)
{
    for (size_t i = 0; i < ms->n_moves; i++)
        if (ms->moves[i].chunk_id == chunk_id) return true;
    return false;
}

typedef struct open_set {
    uint64_t *v;
    size_t n, cap;
    bool oom;
} open_set;

static int add_open(void *arg, const meta_lease_ref *l)
{
    open_set *s = arg;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 32;
        uint64_t *nv = realloc(s->v, cap * sizeof(*nv));
        if (!nv) {
            s->oom = true;
            return 1;
        }
        s->v = nv;
        s->cap = cap;
    }
    s->v[s->n++] = l->ino;
    return 0;
}

static bool is_open(const open_set *o, uint64_t ino)
{
    for (size_t i = 0; i < o->n; i++)
        if (o->v[i] == ino) return true;
    return false;
}

/* Live replicas of chunk at `version` on non-draining servers other than `skip`. */
static uint32_t usable_replicas(const registry *reg, uint64_t chunk_id, uint64_t version,
                                uint64_t skip, bool *on_dst, uint64_t dst)
{
    reg_replica reps[MAX_REPS];
    size_t nr = registry_replicas(reg, chunk_id, reps, MAX_REPS);
    if (nr > MAX_REPS) nr = MAX_REPS;
    uint32_t n = 0;
    if (on_dst) *on_dst = false;
    for (size_t i = 0; i < nr; i++) {
        if (on_dst && reps[i].server_id == dst) *on_dst = true;
        if (reps[i].version != version || reps[i].server_id == skip) continue;
        reg_server_info si;
        if (registry_get_server(reg, reps[i].server_id, &si) == 0 && si.alive && !si.draining) n++;
    }
    return n;
}

static void finish_moves(meta_server *ms, int64_t now)
{
    size_t keep = 0;
    for (size_t i = 0; i < ms->n_moves; i++) {
        struct ms_move m = ms->moves[i];
        meta_chunk_ref ref;
        bool known = meta_fsm_chunk_lookup(ms->fsm, m.chunk_id, &ref) == 0;
        reg_server_info dst;
        if (!known || ref.version != m.version || now - m.started_ms > MOVE_TIMEOUT_MS ||
            registry_get_server(ms->reg, m.dst, &dst) != 0 || !dst.alive)
            continue; /* given up: the repair scan takes over */
        reg_replica reps[MAX_REPS];
        size_t nr = registry_replicas(ms->reg, m.chunk_id, reps, MAX_REPS);
        if (nr > MAX_REPS) nr = MAX_REPS;
        bool copied = false;
        for (size_t k = 0; k < nr; k++)
            copied |= reps[k].server_id == m.dst && reps[k].version == m.version;
        if (!copied) {
            ms->moves[keep++] = m;
            continue;
        }
        if (usable_replicas(ms->reg, m.chunk_id, m.version, m.src, NULL, 0) >= ref.goal &&
            registry_queue_delete(ms->reg, m.src, m.chunk_id, m.version) == 0) {
            ms->heal.rebalance_done++;
            LOG_INFO_KV("rebalance move done", "chunk=%llu from=%llu to=%llu",
                        (unsigned long long)m.chunk_id, (unsigned long long)m.src,
                        (unsigned long long)m.dst);
        }
    }
    ms->n_moves = keep;
}

typedef struct move_search {
    meta_server *ms;
    const open_set *open;
    uint64_t src, dst;
    const char *dst_domain;
    int64_t now;
    uint64_t chunk_id, version, length; /* found; chunk_id 0 = none yet */
} move_search;

static void consider(void *arg, uint64_t chunk_id, const reg_replica *rep)
{
    move_search *s = arg;
    if (s->chunk_id || rep->server_id != s->src) return;
    meta_chunk_ref ref;
    if (meta_fsm_chunk_lookup(s->ms->fsm, chunk_id, &ref) != 0 || ref.version != rep->version ||
        ref.length == 0)
        return;
    if (is_open(s->open, ref.ino) || ms_move_pending(s->ms, chunk_id) ||
        registry_repair_pending(s->ms->reg, chunk_id, s->now, MOVE_TIMEOUT_MS))
        return;
    bool on_dst;
    /* Only healthy chunks move, and never onto a server already holding it. */
    if (usable_replicas(s->ms->reg, chunk_id, ref.version, 0, &on_dst, s->dst) < ref.goal || on_dst)
        return;
    /* Keep the domain spread: the target's domain must not hold another replica already. */
    if (s->dst_domain && *s->dst_domain) {
        reg_replica reps[MAX_REPS];
        size_t nr = registry_replicas(s->ms->reg, chunk_id, reps, MAX_REPS);
        if (nr > MAX_REPS) nr = MAX_REPS;
        for (size_t i = 0; i < nr; i++) {
            reg_server_info si;
            if (reps[i].server_id != s->src &&
                registry_get_server(s->ms->reg, reps[i].server_id, &si) == 0 &&
                strcmp(si.domain, s->dst_domain) == 0)
                return;
        }
    }
    s->chunk_id = chunk_id;
    s->version = ref.version;
    s->length = ref.length;
}

typedef struct stored_sum {
    const meta_fsm *fsm;
    rebalance_server *srv;
    size_t n;
} stored_sum;

/* A replica's size is the chunk's committed length: a replica reported while it was being
 * written carries the length it had then. */
static void add_stored(void *arg, uint64_t chunk_id, const reg_replica *rep)
{
    stored_sum *s = arg;
    meta_chunk_ref ref;
    uint64_t len = rep->length;
    if (meta_fsm_chunk_lookup(s->fsm, chunk_id, &ref) == 0 && ref.version == rep->version)
        len = ref.length;
    for (size_t i = 0; i < s->n; i++)
        if (s->srv[i].id == rep->server_id) s->srv[i].stored += len;
}

static size_t index_of(const rebalance_server *srv, size_t n, uint64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (srv[i].id == id) return i;
    return n;
}

static void plan_moves(meta_server *ms, int64_t now, const open_set *open)
{
    static reg_server_info si[MAX_SERVERS]; /* gc thread only */
    rebalance_server srv[MAX_SERVERS];
    size_t n_all = registry_list_servers(ms->reg, si, MAX_SERVERS);
    if (n_all > MAX_SERVERS) n_all = MAX_SERVERS;
    size_t n = 0;
    for (size_t i = 0; i < n_all; i++) {
        /* A server whose full report is not in yet would look empty. */
        if (si[i].alive && !si[i].reported) return;
        if (!si[i].alive || si[i].draining) continue;
        srv[n++] = (rebalance_server){.id = si[i].id, .capacity = si[i].capacity};
    }
    stored_sum sum = {ms->fsm, srv, n};
    registry_foreach_replica(ms->reg, add_stored, &sum);
    meta_fsm_info info;
    meta_fsm_get_info(ms->fsm, &info);
    for (size_t i = 0; i < ms->n_moves; i++) {
        size_t a = index_of(srv, n, ms->moves[i].src), b = index_of(srv, n, ms->moves[i].dst);
        if (a < n && srv[a].stored >= info.chunk_size) srv[a].stored -= info.chunk_size;
        if (b < n) srv[b].stored += info.chunk_size;
    }
    ms->heal.balanced = rebalance_balanced(srv, n, ms->rebalance_spread);
    if (ms->rebalance_spread <= 0) return;
    while (ms->n_moves < ms->rebalance_max_inflight && ms->n_moves < MS_MAX_MOVES) {
        size_t a, b;
        if (rebalance_pick(srv, n, ms->rebalance_spread, 1, &a, &b) != 1) return;
        reg_server_info dst_info, src_info;
        if (registry_get_server(ms->reg, srv[b].id, &dst_info) != 0 ||
            registry_get_server(ms->reg, srv[a].id, &src_info) != 0)
            return;
        move_search s = {.ms = ms,
                         .open = open,
                         .src = srv[a].id,
                         .dst = srv[b].id,
                         .dst_domain = dst_info.domain,
                         .now = now};
        registry_foreach_replica(ms->reg, consider, &s);
        if (!s.chunk_id) return;
        /* The move must not leave the target fuller than the source. */
        if (rebalance_pick(srv, n, ms->rebalance_spread, s.length, &a, &b) != 1 ||
            srv[a].id != s.src || srv[b].id != s.dst)
            return;
        if (!registry_repair_start(ms->reg, s.chunk_id, s.dst, now, MOVE_TIMEOUT_MS)) return;
        if (registry_queue_replicate(ms->reg, s.dst, s.chunk_id, s.version, src_info.address) != 0)
            return;
        ms->moves[ms->n_moves++] =
            (struct ms_move){s.chunk_id, s.version, s.src, s.dst, .started_ms = now};
        srv[a].stored -= s.length;
        srv[b].stored += s.length;
        LOG_INFO_KV(
            "rebalance move started", "chunk=%llu version=%llu bytes=%llu from=%llu to=%llu",
            (unsigned long long)s.chunk_id, (unsigned long long)s.version,
            (unsigned long long)s.length, (unsigned long long)s.src, (unsigned long long)s.dst);
    }
}

void ms_rebalance_round(meta_server *ms, ms_role role)
{
    int64_t now = cfs_mono_ms();
    open_set open = {0};
    pthread_rwlock_rdlock(&ms->fsm_lock);
    (void)meta_fsm_lease_foreach(ms->fsm, add_open, &open);
    if (ms_soft_enter(ms, role)) {
        if (ms->moves_term != role.term) {
            ms->n_moves = 0;
            ms->moves_term = role.term;
        }
        finish_moves(ms, now);
        bool repairs_first = ms->heal.repair_queued > 0;
        if (!open.oom && !repairs_first && ms->rebalance_max_inflight > 0)
            plan_moves(ms, now, &open);
        ms->heal.rebalance_inflight = ms->n_moves;
    }
    pthread_mutex_unlock(&ms->soft_lock);
    pthread_rwlock_unlock(&ms->fsm_lock);
    free(open.v);
}
