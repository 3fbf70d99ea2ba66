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

#define GC_PERIOD_MS 1000
#define GC_MAX_DELETED 10000      /* deleted-queue entries handled per round */
#define GC_MAX_LEASES 64          /* leases recovered per round */
#define LEASE_GRACE_NS 2000000000 /* clock skew allowance between successive leaders */
#define MAX_REPS 16
#define GC_MAX_REPAIRS 64          /* replica copies scheduled per scan */
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

static void schedule_deleted(meta_server *ms, ms_role role)
{
    size_t handled = 0;
    pthread_rwlock_rdlock(&ms->fsm_lock);
    const meta_deleted_chunk *arr;
    size_t n;
    meta_fsm_deleted(ms->fsm, &arr, &n);
    if (n > GC_MAX_DELETED) n = GC_MAX_DELETED;
    if (n > 0 && ms_soft_enter(ms, role)) {
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
        pthread_mutex_unlock(&ms->soft_lock);
    } else if (n > 0) {
        pthread_mutex_unlock(&ms->soft_lock);
    }
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

static void delete_orphans_and_stale(meta_server *ms, ms_role role)
{
    ino_list open = {0};
    replica_scan s = {0};
    pthread_rwlock_rdlock(&ms->fsm_lock);
    (void)meta_fsm_lease_foreach(ms->fsm, collect_open, &open);
    if (!open.oom) {
        if (open.n > 1) qsort(open.v, open.n, sizeof(uint64_t), cmp_u64);
        s.fsm = ms->fsm;
        s.open_inos = open.v;
        s.n_open = open.n;
        if (ms_soft_enter(ms, role)) {
            registry_foreach_replica(ms->reg, judge_replica, &s);
            for (size_t i = 0; i < s.n; i++) {
                LOG_INFO("deleting %s replica of chunk %llu v%llu on server %llu",
                         s.v[i].orphan ? "orphan" : "stale", (unsigned long long)s.v[i].chunk_id,
                         (unsigned long long)s.v[i].version, (unsigned long long)s.v[i].server_id);
                if (registry_queue_delete(ms->reg, s.v[i].server_id, s.v[i].chunk_id,
                                          s.v[i].version) == -ENOMEM)
                    break;
            }
        }
        pthread_mutex_unlock(&ms->soft_lock);
    }
    pthread_rwlock_unlock(&ms->fsm_lock);
    free(open.v);
    free(s.v);
}

/* ---------------------------------------------------------------- repair */

/* A chunk below its goal: copy it from a live holder to a new server (placement spreads
 * over domains, avoiding the holders), one copy per chunk per round, a bounded number per
 * round, never for a file being written (its replicas are in flux). The target pulls the
 * replica (ChunkService.Replicate) and reports it; until then the repair is "in flight". */
typedef struct repair_scan {
    meta_server *ms;
    const uint64_t *open_inos;
    size_t n_open;
    size_t scheduled;
    int64_t now_ms;
    uint64_t chunk_size;
} repair_scan;

static int repair_one(void *arg, const meta_chunk_ref *c)
{
    repair_scan *s = arg;
    registry *reg = s->ms->reg;
    if (s->scheduled >= GC_MAX_REPAIRS) return 1;
    reg_location locs[MAX_REPS];
    size_t live = registry_locations(reg, c->chunk_id, c->version, locs, MAX_REPS);
    if (live == 0 || live >= c->goal) return 0;
    if (s->n_open && bsearch(&c->ino, s->open_inos, s->n_open, sizeof(uint64_t), cmp_u64)) return 0;
    reg_replica reps[MAX_REPS];
    size_t nr = registry_replicas(reg, c->chunk_id, reps, MAX_REPS);
    if (nr > MAX_REPS) nr = MAX_REPS;
    uint64_t holders[MAX_REPS];
    for (size_t i = 0; i < nr; i++)
        holders[i] = reps[i].server_id;
    placement_candidate cands[256];
    size_t nc = registry_candidates(reg, cands, 256);
    if (nc > 256) nc = 256;
    placement_request pr = {.want = 1,
                            .min_free = s->chunk_size,
                            .existing = holders,
                            .n_existing = nr,
                            .seed = c->chunk_id ^ (uint64_t)s->now_ms};
    uint64_t target;
    if (placement_choose(cands, nc, &pr, &target) != 1) return 0;
    if (!registry_repair_begin(reg, c->chunk_id, s->now_ms, GC_REPAIR_TIMEOUT_MS)) return 0;
    if (registry_queue_replicate(reg, target, c->chunk_id, c->version, locs[0].address) != 0)
        return 0;
    registry_note_allocation(reg, &target, 1, s->chunk_size);
    s->scheduled++;
    LOG_INFO("repair: chunk %llu v%llu has %zu of %u replicas; copying from %s to server %llu",
             (unsigned long long)c->chunk_id, (unsigned long long)c->version, live, c->goal,
             locs[0].address, (unsigned long long)target);
    return 0;
}

static void schedule_repairs(meta_server *ms, ms_role role)
{
    ino_list open = {0};
    pthread_rwlock_rdlock(&ms->fsm_lock);
    (void)meta_fsm_lease_foreach(ms->fsm, collect_open, &open);
    meta_fsm_info info;
    meta_fsm_get_info(ms->fsm, &info);
    if (!open.oom) {
        if (open.n > 1) qsort(open.v, open.n, sizeof(uint64_t), cmp_u64);
        repair_scan s = {.ms = ms,
                         .open_inos = open.v,
                         .n_open = open.n,
                         .now_ms = cfs_mono_ms(),
                         .chunk_size = info.chunk_size};
        if (ms_soft_enter(ms, role)) (void)meta_fsm_chunk_foreach(ms->fsm, repair_one, &s);
        pthread_mutex_unlock(&ms->soft_lock);
    }
    pthread_rwlock_unlock(&ms->fsm_lock);
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
        if (!meta_settle_chunk(reps, nr, c->version, &version, &length)) continue;
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
        LOG_INFO("recovered expired write lease %llu of inode %llu held by client %llx (%d "
                 "chunks settled); dropping that client's locks",
                 (unsigned long long)ls.v[i].lease_id, (unsigned long long)ls.v[i].ino,
                 (unsigned long long)ls.v[i].client_id, n);
        /* A client that let a write lease lapse is taken as gone: its locks would otherwise
         * block others until the next leader change. */
        if (ms_soft_enter(ms, role)) lock_table_release_client(ms->locks, ls.v[i].client_id);
        pthread_mutex_unlock(&ms->soft_lock);
    }
}

/* ---------------------------------------------------------------- the loop */

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
        LOG_WARN("chunkserver %llu is dead (no heartbeat for %lld ms)", (unsigned long long)dead[i],
                 (long long)ms->dead_timeout_ms);

    if (raft_node_read_barrier(ms->raft, MS_BARRIER_TIMEOUT_MS) != 0) return;
    if (ms_ensure_formatted(ms) != 0 || stopping(ms)) return;
    schedule_deleted(ms, role);
    /* Repairs only once chunkservers had time to report to this leader: before that every
     * chunk looks under-replicated. */
    if (++ms->gc_rounds % GC_SCAN_EVERY == 1) {
        delete_orphans_and_stale(ms, role);
        if (leading_ms > ms->dead_timeout_ms) schedule_repairs(ms, role);
    }
    /* Replica lengths are only known once chunkservers re-reported to this leader. */
    if (leading_ms > ms->dead_timeout_ms) recover_leases(ms, role);
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
