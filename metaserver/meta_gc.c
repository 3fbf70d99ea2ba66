/* The leader's maintenance thread, once a second:
 *   - formats a new cluster (FormatCmd) when the replicated state has no cluster id yet;
 *   - declares chunkservers dead after the heartbeat timeout;
 *   - turns the fsm's deleted-chunks queue into delete commands (sent in heartbeat replies)
 *     and drops the handled entries from the queue (DropDeletedCmd);
 *   - deletes replicas no file references (orphans) and stale ones (old version, no write
 *     open);
 *   - schedules copies of under-replicated chunks (replicate commands in heartbeat replies);
 *   - recovers write leases whose client vanished (RecoverLeaseCmd), once chunkservers had a
 *     dead-timeout's time to report after a leader change.
 * Deciding that a replica is an orphan is only safe on state that includes every committed
 * entry, so each round starts with a ReadIndex barrier. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/errors.h"
#include "common/log.h"
#include "common/time_util.h"
#include "metaserver/meta_cmd.h"
#include "metaserver/meta_server_internal.h"
#include "metaserver/repair_plan.h"

#define GC_PERIOD_MS 1000
#define GC_MAX_DELETED 10000      /* deleted-queue entries handled per round */
#define GC_MAX_LEASES 64          /* leases recovered per round */
#define LEASE_GRACE_NS 2000000000 /* clock skew allowance between successive leaders */
#define MAX_REPS 16
#define GC_REPAIR_TIMEOUT_MS 60000 /* a copy not reported by then is scheduled again */
#define GC_SCAN_EVERY 5            /* rounds between full replica scans (they hold fsm_lock) */

static int propose_and_free(meta_server *ms, uint8_t *cmd, size_t len, const char *what)
{
    Chunkfs__MetaResponse *resp = NULL;
    int rc = ms_propose(ms, cmd, len, &resp);
    free(cmd);
    if (rc == 0 && resp && resp->err != 0) rc = resp->err;
    if (resp) chunkfs__meta_response__free_unpacked(resp, NULL);
    if (rc != 0 && rc != -CFS_ENOTLEADER) LOG_WARN("%s: %s", what, cfs_strerror(rc));
    return rc;
}

static bool stopping(meta_server *ms)
{
    pthread_mutex_lock(&ms->gc_mu);
    bool stop = ms->stopping;
    pthread_mutex_unlock(&ms->gc_mu);
    return stop;
}

/* ---------------------------------------------------------------- deleted chunks */

/* Deleted chunks wait delete_grace_ms from when this leader first saw them in the queue: an
 * operator's window after a mistaken rm, and no replica is removed under a write that raced
 * the delete. The queue is oldest first and only its head is ever dropped, so the entries
 * old enough form a prefix; their first-seen times are kept in queue order and matched to
 * the queue again each round. Returns how many leading entries are old enough. */
static size_t deleted_aged_prefix(meta_server *ms, ms_role role, const meta_deleted_chunk *arr,
                                  size_t n, int64_t now)
{
    if (ms->deleted_seen_term != role.term) ms->n_deleted_seen = 0;
    ms->deleted_seen_term = role.term;
    struct gc_seen *old = ms->deleted_seen;
    size_t n_old = ms->n_deleted_seen, j = 0;
    struct gc_seen *next = n ? malloc(n * sizeof(*next)) : NULL;
    if (n && !next) return 0; /* out of memory: nothing is old enough this round */
    if (n)                    /* skip the entries dropped from the head since the last round */
        while (j < n_old && old[j].chunk_id != arr[0].chunk_id)
            j++;
    size_t aged = 0;
    bool prefix = true;
    for (size_t i = 0; i < n; i++) {
        bool known = j < n_old && old[j].chunk_id == arr[i].chunk_id;
        next[i] = (struct gc_seen){arr[i].chunk_id, known ? old[j].first_ms : now};
        if (known)
            j++;
        else
            j = n_old; /* everything after a new entry is new too */
        prefix = prefix && now - next[i].first_ms >= ms->delete_grace_ms;
        if (prefix) aged++;
    }
    free(old);
    ms->deleted_seen = next;
    ms->n_deleted_seen = n;
    return aged;
}

static void schedule_deleted(meta_server *ms, ms_role role)
{
    size_t handled = 0;
    pthread_rwlock_rdlock(&ms->fsm_lock);
    const meta_deleted_chunk *arr;
    size_t n;
    meta_fsm_deleted(ms->fsm, &arr, &n);
    if (n > GC_MAX_DELETED) n = GC_MAX_DELETED;
    if (ms_soft_enter(ms, role)) {
        n = deleted_aged_prefix(ms, role, arr, n, cfs_mono_ms());
        for (; handled < n; handled++) {
            reg_replica reps[MAX_REPS];
            size_t nr = registry_replicas(ms->reg, arr[handled].chunk_id, reps, MAX_REPS);
            if (nr > MAX_REPS) nr = MAX_REPS;
            bool failed = false;
            /* Servers that do not hold it now get it later as an orphan from their report. */
            for (size_t k = 0; k < nr && !failed; k++)
                failed = registry_queue_delete(ms->reg, reps[k].server_id, arr[handled].chunk_id,
                                               0) == -ENOMEM;
            if (failed) break;
        }
    }
    pthread_mutex_unlock(&ms->soft_lock);
    pthread_rwlock_unlock(&ms->fsm_lock);
    if (handled == 0) return;
    uint8_t *cmd;
    size_t len;
    if (meta_cmd_pack_drop_deleted(handled, cfs_real_ns(), &cmd, &len) == 0)
        (void)propose_and_free(ms, cmd, len, "drop deleted chunks");
}

/* ---------------------------------------------------------------- orphan / stale replicas */

typedef struct victim {
    uint64_t server_id, chunk_id, version;
    bool orphan;
} victim;

typedef struct replica_scan {
    const meta_fsm *fsm;
    const uint64_t *open_inos; /* sorted inodes with a write lease */
    size_t n_open;
    const uint64_t *deleted; /* sorted chunk ids in the delete queue (their own grace) */
    size_t n_deleted;
    victim *v;
    size_t n, cap;
    bool oom;
} replica_scan;

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void judge_replica(void *arg, uint64_t chunk_id, const reg_replica *rep)
{
    replica_scan *s = arg;
    meta_chunk_ref ref;
    bool known = meta_fsm_chunk_lookup(s->fsm, chunk_id, &ref) == 0;
    bool open = known && s->n_open > 0 &&
                bsearch(&ref.ino, s->open_inos, s->n_open, sizeof(uint64_t), cmp_u64);
    meta_replica_verdict v = meta_replica_judge(known, known ? ref.version : 0, rep->version, open);
    if (v != META_REPLICA_ORPHAN && v != META_REPLICA_STALE) return;
    if (v == META_REPLICA_ORPHAN && s->n_deleted > 0 &&
        bsearch(&chunk_id, s->deleted, s->n_deleted, sizeof(uint64_t), cmp_u64))
        return; /* a removed file's chunk: deleted by the queue after --delete-grace-ms */
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        victim *nv = realloc(s->v, cap * sizeof(*nv));
        if (!nv) {
            s->oom = true;
            return;
        }
        s->v = nv;
        s->cap = cap;
    }
    s->v[s->n++] = (victim){rep->server_id, chunk_id, rep->version, v == META_REPLICA_ORPHAN};
}

typedef struct ino_list {
    uint64_t *v;
    size_t n, cap;
    bool oom;
} ino_list;

static int collect_open(void *arg, const meta_lease_ref *l)
{
    ino_list *s = arg;
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

/* Orphan and stale replicas are deleted only after gc_grace_ms of being seen as such in
 * every scan: a replica reported just before the entry that makes it live is applied here
 * (an allocation racing a report, a new leader catching up) survives. The suspects carry
 * over between scans sorted by (server, chunk); one that is no longer judged a victim drops
 * out and starts over if it shows up again. */
struct gc_suspect {
    uint64_t server_id, chunk_id;
    int64_t first_ms;
};

static int cmp_victim(const void *a, const void *b)
{
    const victim *x = a, *y = b;
    if (x->server_id != y->server_id) return x->server_id < y->server_id ? -1 : 1;
    return x->chunk_id < y->chunk_id ? -1 : x->chunk_id > y->chunk_id;
}

static int cmp_suspect(const void *a, const void *b)
{
    const struct gc_suspect *x = a, *y = b;
    if (x->server_id != y->server_id) return x->server_id < y->server_id ? -1 : 1;
    return x->chunk_id < y->chunk_id ? -1 : x->chunk_id > y->chunk_id;
}

static void delete_orphans_and_stale(meta_server *ms, ms_role role)
{
    ino_list open = {0};
    replica_scan s = {0};
    int64_t now = cfs_mono_ms();
    if (ms->suspects_term != role.term) {
        free(ms->suspects);
        ms->suspects = NULL;
        ms->n_suspects = 0;
        ms->suspects_term = role.term;
    }
    pthread_rwlock_rdlock(&ms->fsm_lock);
    (void)meta_fsm_lease_foreach(ms->fsm, collect_open, &open);
    const meta_deleted_chunk *del;
    size_t n_del;
    meta_fsm_deleted(ms->fsm, &del, &n_del);
    uint64_t *del_ids = n_del ? malloc(n_del * sizeof(uint64_t)) : NULL;
    if (!open.oom && (n_del == 0 || del_ids)) {
        if (open.n > 1) qsort(open.v, open.n, sizeof(uint64_t), cmp_u64);
        for (size_t i = 0; i < n_del; i++)
            del_ids[i] = del[i].chunk_id;
        if (n_del > 1) qsort(del_ids, n_del, sizeof(uint64_t), cmp_u64);
        s.fsm = ms->fsm;
        s.open_inos = open.v;
        s.n_open = open.n;
        s.deleted = del_ids;
        s.n_deleted = n_del;
        if (ms_soft_enter(ms, role)) {
            registry_foreach_replica(ms->reg, judge_replica, &s);
            struct gc_suspect *next = s.n ? calloc(s.n, sizeof(*next)) : NULL;
            size_t n_next = 0;
            if (!s.oom && (s.n == 0 || next)) {
                if (s.n > 1) qsort(s.v, s.n, sizeof(*s.v), cmp_victim);
                for (size_t i = 0; i < s.n; i++) {
                    struct gc_suspect key = {s.v[i].server_id, s.v[i].chunk_id, now};
                    const struct gc_suspect *old =
                        ms->n_suspects
                            ? bsearch(&key, ms->suspects, ms->n_suspects, sizeof(key), cmp_suspect)
                            : NULL;
                    if (old) key.first_ms = old->first_ms;
                    if (now - key.first_ms < ms->gc_grace_ms) {
                        next[n_next++] = key;
                        continue;
                    }
                    LOG_INFO(
                        "deleting %s replica of chunk %llu v%llu on server %llu",
                        s.v[i].orphan ? "orphan" : "stale", (unsigned long long)s.v[i].chunk_id,
                        (unsigned long long)s.v[i].version, (unsigned long long)s.v[i].server_id);
                    if (registry_queue_delete(ms->reg, s.v[i].server_id, s.v[i].chunk_id,
                                              s.v[i].version) == -ENOMEM)
                        break;
                }
                free(ms->suspects);
                ms->suspects = next;
                ms->n_suspects = n_next;
                ms->heal.gc_waiting = n_next;
            } else {
                free(next);
            }
        }
        pthread_mutex_unlock(&ms->soft_lock);
    }
    pthread_rwlock_unlock(&ms->fsm_lock);
    free(open.v);
    free(del_ids);
    free(s.v);
}

/* ---------------------------------------------------------------- repair */

/* Every chunk of a closed file is checked against its goal, counting replicas at the
 * current version on live servers that are not draining:
 *   - below the goal (a server died, a replica went corrupt or stale, setrep raised the
 *     goal, a server is being decommissioned): queued; the queue is served fewest live
 *     replicas first, each copy pulled by a placement-chosen target from a live holder,
 *     within repair_max_inflight copies cluster-wide and repair_max_per_server per target;
 *   - above what it needs (setrep lowered the goal, a dead server came back, a draining
 *     server's copy is no longer needed): one surplus replica per scan is deleted, a
 *     draining server's first, then a duplicate domain's, then the fullest server's;
 *   - no live replica at all: missing; left alone (counted by status and fsck) so the data
 *     comes back if a server holding it returns.
 * Files with a write lease are skipped: their replicas are in flux. */
#define GC_MAX_TRIMS 256 /* surplus replicas deleted per scan */

typedef struct repair_scan {
    meta_server *ms;
    const uint64_t *open_inos;
    size_t n_open;
    int64_t now_ms;
    repair_item *queue;
    size_t n_queue, cap_queue;
    size_t trims;
    uint64_t draining_replicas;
    bool oom;
} repair_scan;

static int queue_push(repair_scan *s, const repair_item *it)
{
    if (s->n_queue == s->cap_queue) {
        size_t cap = s->cap_queue ? s->cap_queue * 2 : 64;
        repair_item *v = realloc(s->queue, cap * sizeof(*v));
        if (!v) return -ENOMEM;
        s->queue = v;
        s->cap_queue = cap;
    }
    s->queue[s->n_queue++] = *it;
    return 0;
}

static void trim_one(repair_scan *s, const meta_chunk_ref *c, const reg_replica *reps, size_t nr)
{
    registry *reg = s->ms->reg;
    trim_replica t[MAX_REPS];
    reg_server_info info[MAX_REPS];
    size_t n = 0;
    for (size_t i = 0; i < nr; i++) {
        if (reps[i].version != c->version) continue;
        if (registry_get_server(reg, reps[i].server_id, &info[n]) != 0) continue;
        t[n] = (trim_replica){.server_id = info[n].id,
                              .domain = info[n].domain,
                              .capacity = info[n].capacity,
                              .used = info[n].used,
                              .draining = info[n].draining};
        n++;
    }
    int k = repair_pick_trim(t, n);
    if (k < 0) return;
    if (registry_queue_delete(reg, t[k].server_id, c->chunk_id, c->version) != 0) return;
    s->trims++;
    s->ms->heal.trimmed++;
    LOG_INFO_KV("trim surplus replica",
                "chunk=%llu version=%llu replicas=%zu goal=%u server=%llu draining=%d",
                (unsigned long long)c->chunk_id, (unsigned long long)c->version, n, c->goal,
                (unsigned long long)t[k].server_id, (int)t[k].draining);
}

static int judge_chunk(void *arg, const meta_chunk_ref *c)
{
    repair_scan *s = arg;
    registry *reg = s->ms->reg;
    if (s->n_open && bsearch(&c->ino, s->open_inos, s->n_open, sizeof(uint64_t), cmp_u64)) return 0;
    reg_replica reps[MAX_REPS];
    size_t nr = registry_replicas(reg, c->chunk_id, reps, MAX_REPS);
    if (nr > MAX_REPS) nr = MAX_REPS;
    uint32_t live = 0, usable = 0;
    for (size_t i = 0; i < nr; i++) {
        if (reps[i].version != c->version) continue;
        reg_server_info si;
        if (registry_get_server(reg, reps[i].server_id, &si) != 0 || !si.alive) continue;
        live++;
        if (si.draining)
            s->draining_replicas++;
        else
            usable++;
    }
    if (live == 0) return 0; /* missing: nothing to copy from */
    if (usable < c->goal) {
        repair_item it = {c->chunk_id, c->version, c->goal, usable};
        if (queue_push(s, &it) != 0) {
            s->oom = true;
            return 1;
        }
    } else if (live > c->goal && s->trims < GC_MAX_TRIMS &&
               !registry_repair_pending(reg, c->chunk_id, s->now_ms, GC_REPAIR_TIMEOUT_MS) &&
               !ms_move_pending(s->ms, c->chunk_id)) {
        trim_one(s, c, reps, nr);
    }
    return 0;
}

/* Schedules one copy of `it`; true if scheduled. Caller holds soft_lock. */
static bool repair_one(repair_scan *s, const repair_item *it, uint64_t chunk_size)
{
    meta_server *ms = s->ms;
    registry *reg = ms->reg;
    reg_location locs[MAX_REPS];
    size_t live = registry_locations(reg, it->chunk_id, it->version, locs, MAX_REPS);
    if (live == 0) return false;
    reg_replica reps[MAX_REPS];
    size_t nr = registry_replicas(reg, it->chunk_id, reps, MAX_REPS);
    if (nr > MAX_REPS) nr = MAX_REPS;
    uint64_t holders[MAX_REPS];
    for (size_t i = 0; i < nr; i++)
        holders[i] = reps[i].server_id;
    placement_candidate cands[256];
    size_t nc = registry_candidates(reg, cands, 256);
    if (nc > 256) nc = 256;
    /* Targets already receiving their share of copies are left out this round. */
    uint64_t busy[256];
    size_t n_busy = 0;
    for (size_t i = 0; i < nc; i++)
        if (registry_repairs_inflight(reg, cands[i].id, s->now_ms, GC_REPAIR_TIMEOUT_MS) >=
            ms->repair_max_per_server)
            busy[n_busy++] = cands[i].id;
    placement_request pr = {.want = 1,
                            .min_free = chunk_size,
                            .exclude = busy,
                            .n_exclude = n_busy,
                            .existing = holders,
                            .n_existing = nr,
                            .seed = it->chunk_id ^ (uint64_t)s->now_ms};
    uint64_t target;
    if (placement_choose(cands, nc, &pr, &target) != 1) return false;
    if (!registry_repair_start(reg, it->chunk_id, target, s->now_ms, GC_REPAIR_TIMEOUT_MS))
        return false;
    if (registry_queue_replicate(reg, target, it->chunk_id, it->version, locs[0].address) != 0)
        return false;
    registry_note_allocation(reg, &target, 1, chunk_size);
    ms->heal.repair_scheduled++;
    LOG_INFO_KV("repair copy scheduled",
                "chunk=%llu version=%llu live=%u goal=%u source=%s target=%llu",
                (unsigned long long)it->chunk_id, (unsigned long long)it->version, it->live,
                it->goal, locs[0].address, (unsigned long long)target);
    return true;
}

static void schedule_repairs(meta_server *ms, ms_role role)
{
    ino_list open = {0};
    pthread_rwlock_rdlock(&ms->fsm_lock);
    (void)meta_fsm_lease_foreach(ms->fsm, collect_open, &open);
    meta_fsm_info info;
    meta_fsm_get_info(ms->fsm, &info);
    repair_scan s = {.ms = ms, .now_ms = cfs_mono_ms()};
    if (!open.oom) {
        if (open.n > 1) qsort(open.v, open.n, sizeof(uint64_t), cmp_u64);
        s.open_inos = open.v;
        s.n_open = open.n;
        if (ms_soft_enter(ms, role)) {
            (void)meta_fsm_chunk_foreach(ms->fsm, judge_chunk, &s);
            repair_order(s.queue, s.n_queue);
            size_t waiting = 0;
            for (size_t i = 0; i < s.n_queue; i++) {
                if (registry_repair_pending(ms->reg, s.queue[i].chunk_id, s.now_ms,
                                            GC_REPAIR_TIMEOUT_MS))
                    continue; /* its copy runs */
                if (registry_repairs_inflight(ms->reg, 0, s.now_ms, GC_REPAIR_TIMEOUT_MS) >=
                        ms->repair_max_inflight ||
                    !repair_one(&s, &s.queue[i], info.chunk_size))
                    waiting++;
            }
            ms->heal.repair_queued = waiting;
            ms->heal.repair_inflight =
                registry_repairs_inflight(ms->reg, 0, s.now_ms, GC_REPAIR_TIMEOUT_MS);
            ms->heal.draining_replicas = s.draining_replicas;
        }
        pthread_mutex_unlock(&ms->soft_lock);
    }
    pthread_rwlock_unlock(&ms->fsm_lock);
    if (s.oom) LOG_WARN("repair scan: out of memory; the queue is partial this round");
    free(s.queue);
    free(open.v);
}

/* ---------------------------------------------------------------- lease recovery */

typedef struct expired_lease {
    uint64_t ino, lease_id, client_id;
} expired_lease;

typedef struct lease_scan {
    int64_t now_ns;
    expired_lease v[GC_MAX_LEASES];
    size_t n;
} lease_scan;

static int collect_expired(void *arg, const meta_lease_ref *l)
{
    lease_scan *s = arg;
    if (l->expiry_ns + LEASE_GRACE_NS >= s->now_ns) return 0;
    s->v[s->n++] = (expired_lease){l->ino, l->lease_id, l->client_id};
    return s->n == GC_MAX_LEASES;
}

/* The settled (version, length) of each chunk of `ino` whose replicas disagree with the
 * state machine, from the file's chunk list and the registry. Caller holds fsm_lock (read)
 * and soft_lock. Returns the count (*out malloc'd, may be NULL when 0) or -ENOMEM/-errno. */
static int settle_file(meta_server *ms, uint64_t ino, meta_settle **out)
{
    *out = NULL;
    Chunkfs__MetaRequest q = CHUNKFS__META_REQUEST__INIT;
    Chunkfs__FileInfoReq fi = CHUNKFS__FILE_INFO_REQ__INIT;
    fi.ino = ino;
    q.op_case = CHUNKFS__META_REQUEST__OP_FILE_INFO;
    q.file_info = &fi;
    Chunkfs__MetaResponse *r = NULL;
    int rc = meta_fsm_read(ms->fsm, &q, &r);
    if (rc == 0 && r->err) rc = r->err;
    if (rc == 0 && !r->chunks) rc = -EPROTO;
    if (rc) {
        if (r) chunkfs__meta_response__free_unpacked(r, NULL);
        return rc;
    }
    size_t n = 0;
    meta_settle *v = r->chunks->n_chunks ? calloc(r->chunks->n_chunks, sizeof(*v)) : NULL;
    if (r->chunks->n_chunks && !v) {
        chunkfs__meta_response__free_unpacked(r, NULL);
        return -ENOMEM;
    }
    for (size_t i = 0; i < r->chunks->n_chunks; i++) {
        const Chunkfs__ChunkInfo *c = r->chunks->chunks[i];
        reg_replica reps[MAX_REPS];
        size_t nr = registry_replicas(ms->reg, c->chunk_id, reps, MAX_REPS);
        if (nr > MAX_REPS) nr = MAX_REPS;
        uint64_t version, length;
        if (!meta_settle_chunk(reps, nr, c->version, c->length, &version, &length)) continue;
        /* Apply only ever lowers a committed length: nothing to do if it would not change. */
        if (version == c->version && length >= c->length) continue;
        v[n++] = (meta_settle){c->index, c->chunk_id, version, length};
    }
    chunkfs__meta_response__free_unpacked(r, NULL);
    *out = v;
    return (int)n;
}

static void recover_leases(meta_server *ms, ms_role role)
{
    lease_scan ls = {.now_ns = cfs_real_ns()};
    pthread_rwlock_rdlock(&ms->fsm_lock);
    (void)meta_fsm_lease_foreach(ms->fsm, collect_expired, &ls);
    pthread_rwlock_unlock(&ms->fsm_lock);
    for (size_t i = 0; i < ls.n && !stopping(ms); i++) {
        meta_settle *v = NULL;
        int n = 0;
        pthread_rwlock_rdlock(&ms->fsm_lock);
        bool leader = ms_soft_enter(ms, role);
        if (leader) n = settle_file(ms, ls.v[i].ino, &v);
        pthread_mutex_unlock(&ms->soft_lock);
        pthread_rwlock_unlock(&ms->fsm_lock);
        if (!leader) return;
        if (n < 0) {
            LOG_WARN("lease recovery of inode %llu: %s", (unsigned long long)ls.v[i].ino,
                     cfs_strerror(n));
            continue;
        }
        uint8_t *cmd;
        size_t len;
        int rc = meta_cmd_pack_recover_lease(ls.v[i].ino, ls.v[i].lease_id, v, (size_t)n,
                                             cfs_real_ns(), &cmd, &len);
        free(v);
        if (rc) continue;
        if (propose_and_free(ms, cmd, len, "lease recovery") != 0) continue;
        LOG_INFO_KV("expired write lease recovered; the client's locks are dropped",
                    "lease=%llu ino=%llu client=%llx chunks_settled=%d",
                    (unsigned long long)ls.v[i].lease_id, (unsigned long long)ls.v[i].ino,
                    (unsigned long long)ls.v[i].client_id, n);
        /* A client that let a write lease lapse is taken as gone: its locks would otherwise
         * block others until the next leader change. */
        if (ms_soft_enter(ms, role)) lock_table_release_client(ms->locks, ls.v[i].client_id);
        pthread_mutex_unlock(&ms->soft_lock);
    }
}

/* ---------------------------------------------------------------- the loop */

/* Copies and moves per minute for status, from the done counters sampled once a round. */
static void sample_rates(meta_server *ms, ms_role role)
{
    if (ms_soft_enter(ms, role)) {
        int64_t now = cfs_mono_ms();
        rate_window_sample(&ms->repair_rate, now, registry_repairs_done(ms->reg));
        rate_window_sample(&ms->rebalance_rate, now, ms->heal.rebalance_done);
        ms->heal.repair_per_min = rate_window_per_minute(&ms->repair_rate, now);
        ms->heal.rebalance_per_min = rate_window_per_minute(&ms->rebalance_rate, now);
    }
    pthread_mutex_unlock(&ms->soft_lock);
}

static void round_once(meta_server *ms)
{
    ms_role role = ms_role_now(ms);
    if (!role.leader) return;
    uint64_t dead[16];
    size_t n_dead = 0;
    int64_t leading_ms = 0;
    if (ms_soft_enter(ms, role)) {
        n_dead = registry_expire(ms->reg, cfs_mono_ms(), dead, 16);
        leading_ms = cfs_mono_ms() - ms->leader_since_ms;
    }
    pthread_mutex_unlock(&ms->soft_lock);
    for (size_t i = 0; i < n_dead && i < 16; i++)
        LOG_WARN_KV("chunkserver dead: no heartbeat", "id=%llu timeout_ms=%lld",
                    (unsigned long long)dead[i], (long long)ms->dead_timeout_ms);

    if (raft_node_read_barrier(ms->raft, MS_BARRIER_TIMEOUT_MS) != 0) return;
    if (ms_ensure_formatted(ms) != 0 || stopping(ms)) return;
    schedule_deleted(ms, role);
    /* Repairs only once chunkservers had time to report to this leader: before that every
     * chunk looks under-replicated. */
    bool full_scan = ++ms->gc_rounds % GC_SCAN_EVERY == 1;
    if (full_scan) delete_orphans_and_stale(ms, role);
    /* While repairs or a drain are under way, every round: copies finish within a round or
     * two and the next ones should not wait for a full-scan round. */
    pthread_mutex_lock(&ms->soft_lock);
    bool busy = ms->heal.repair_queued || ms->heal.repair_inflight || ms->heal.draining_replicas;
    pthread_mutex_unlock(&ms->soft_lock);
    if ((full_scan || busy) && leading_ms > ms->dead_timeout_ms) schedule_repairs(ms, role);
    if (leading_ms > ms->dead_timeout_ms) ms_rebalance_round(ms, role);
    /* Replica lengths are only known once chunkservers re-reported to this leader. */
    if (leading_ms > ms->dead_timeout_ms) recover_leases(ms, role);
    sample_rates(ms, role);
}

void *meta_gc_main(void *arg)
{
    meta_server *ms = arg;
    for (;;) {
        pthread_mutex_lock(&ms->gc_mu);
        if (!ms->stopping) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_sec += GC_PERIOD_MS / 1000;
            ts.tv_nsec += (long)(GC_PERIOD_MS % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&ms->gc_cv, &ms->gc_mu, &ts);
        }
        bool stop = ms->stopping;
        pthread_mutex_unlock(&ms->gc_mu);
        if (stop) break;
        round_once(ms);
    }
    return NULL;
}
