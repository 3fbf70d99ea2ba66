/* MetaService.Call: the client's one RPC. Routes each MetaRequest to the fsm (reads after a
 * ReadIndex barrier, mutations through the Raft log) or to the leader's soft state (locks,
 * cluster status, fsck, admin), and fills in what only the leader knows (replica locations,
 * byte totals, placement for alloc_chunk). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "common/errors.h"
#include "common/log.h"
#include "common/pb_strings.h"
#include "common/time_util.h"
#include "metaserver/meta_cmd.h"
#include "metaserver/meta_metrics.h"
#include "metaserver/meta_peer_status.h"
#include "metaserver/meta_server_internal.h"

#define MAX_REPLICAS 16
#define FSCK_MAX_PROBLEMS 100

static int pack_resp(const Chunkfs__MetaResponse *r, uint8_t **out, size_t *len)
{
    return rpc_pack(&r->base, out, len);
}

static int reply_err(int err, const char *msg, uint8_t **out, size_t *len)
{
    Chunkfs__MetaResponse r = CHUNKFS__META_RESPONSE__INIT;
    r.err = err;
    r.errmsg = (char *)(msg ? msg : cfs_strerror(err));
    return pack_resp(&r, out, len);
}

static int reply_not_leader(meta_server *ms, uint8_t **out, size_t *len)
{
    char hint[128];
    raft_node_leader_addr(ms->raft, hint, sizeof(hint));
    Chunkfs__MetaResponse r = CHUNKFS__META_RESPONSE__INIT;
    r.err = -CFS_ENOTLEADER;
    r.errmsg = (char *)"not the leader";
    r.leader_hint = hint;
    return pack_resp(&r, out, len);
}

/* Maps a Raft-level failure to the reply a client acts on. */
static int reply_raft_err(meta_server *ms, int rc, uint8_t **out, size_t *len)
{
    if (rc == -CFS_ENOTLEADER) return reply_not_leader(ms, out, len);
    if (rc == -ETIMEDOUT)
        return reply_err(rc, "not committed in time; retry with the same request_id", out, len);
    return reply_err(rc, NULL, out, len);
}

/* ---------------------------------------------------------------- replica locations */

static int add_location(Chunkfs__ChunkInfo *ci, const reg_location *l)
{
    Chunkfs__ChunkLocation *cl = malloc(sizeof(*cl));
    if (!cl) return -ENOMEM;
    chunkfs__chunk_location__init(cl);
    cl->server_id = l->server_id;
    cl->address = strdup(l->address);
    cl->domain = strdup(l->domain);
    /* Linked before the checks so that free_unpacked releases whatever was allocated. */
    ci->replicas[ci->n_replicas++] = cl;
    return cl->address && cl->domain ? 0 : -ENOMEM;
}

/* Fills each ChunkInfo (without replicas yet) with the live servers holding its current
 * version. Caller holds fsm_lock (read) and soft_lock. */
static int fill_replicas_locked(meta_server *ms, Chunkfs__ChunksResp *cr)
{
    for (size_t i = 0; i < cr->n_chunks; i++) {
        Chunkfs__ChunkInfo *ci = cr->chunks[i];
        if (ci->n_replicas) continue;
        reg_location locs[MAX_REPLICAS];
        size_t n = registry_locations(ms->reg, ci->chunk_id, ci->version, locs, MAX_REPLICAS);
        if (n == 0) continue;
        ci->replicas = calloc(n, sizeof(*ci->replicas));
        if (!ci->replicas) return -ENOMEM;
        for (size_t k = 0; k < n; k++) {
            int rc = add_location(ci, &locs[k]);
            if (rc) return rc;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- reads */

static int serve_read(meta_server *ms, const Chunkfs__MetaRequest *req, uint8_t **out, size_t *len)
{
    int rc = raft_node_read_barrier(ms->raft, MS_BARRIER_TIMEOUT_MS);
    if (rc) return reply_raft_err(ms, rc, out, len);
    ms_role role = ms_role_now(ms);
    Chunkfs__MetaResponse *resp = NULL;
    pthread_rwlock_rdlock(&ms->fsm_lock);
    rc = meta_fsm_read(ms->fsm, req, &resp);
    if (rc == 0 && resp->err == 0) {
        if (resp->result_case == CHUNKFS__META_RESPONSE__RESULT_CHUNKS && resp->chunks) {
            bool leader = ms_soft_enter(ms, role);
            if (leader) rc = fill_replicas_locked(ms, resp->chunks);
            pthread_mutex_unlock(&ms->soft_lock);
        } else if (resp->result_case == CHUNKFS__META_RESPONSE__RESULT_STATFS && resp->statfs) {
            uint64_t cap = 0, used = 0;
            (void)ms_soft_enter(ms, role);
            registry_totals(ms->reg, &cap, &used);
            pthread_mutex_unlock(&ms->soft_lock);
            resp->statfs->total_bytes = cap;
            resp->statfs->used_bytes = used < cap ? used : cap;
            resp->statfs->free_bytes = cap - resp->statfs->used_bytes;
        }
    }
    pthread_rwlock_unlock(&ms->fsm_lock);
    if (rc == 0 && resp->err == 0 && resp->result_case == CHUNKFS__META_RESPONSE__RESULT_CHUNKS)
        rc = ms_sign_chunks(ms, resp->chunks, CHUNK_TOKEN_READ);
    if (rc != 0) {
        if (resp) chunkfs__meta_response__free_unpacked(resp, NULL);
        return reply_err(rc, NULL, out, len);
    }
    rc = pack_resp(resp, out, len);
    chunkfs__meta_response__free_unpacked(resp, NULL);
    return rc;
}

/* ---------------------------------------------------------------- mutations */

static bool id_listed(uint64_t id, const uint64_t *ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id) return true;
    return false;
}

static uint64_t random_seed(void)
{
    uint64_t v;
    if (getrandom(&v, sizeof(v), GRND_NONBLOCK) == (ssize_t)sizeof(v)) return v;
    return (uint64_t)cfs_mono_ns(); /* only a tie-break: any varying value will do */
}

/* Replication goal of inode `ino` as `cred` sees it (0 when it cannot: the fsm will answer
 * the request with the error). Caller holds fsm_lock (read). */
static uint32_t inode_goal(meta_server *ms, Chunkfs__Cred *cred, uint64_t ino)
{
    Chunkfs__MetaRequest g = CHUNKFS__META_REQUEST__INIT;
    Chunkfs__GetattrReq ga = CHUNKFS__GETATTR_REQ__INIT;
    ga.ino = ino;
    g.cred = cred;
    g.op_case = CHUNKFS__META_REQUEST__OP_GETATTR;
    g.getattr = &ga;
    Chunkfs__MetaResponse *gr = NULL;
    uint32_t goal = 0;
    if (meta_fsm_read(ms->fsm, &g, &gr) == 0 && gr->err == 0 && gr->attr)
        goal = gr->attr->goal ? gr->attr->goal : META_FSM_DEFAULT_GOAL;
    if (gr) chunkfs__meta_response__free_unpacked(gr, NULL);
    return goal;
}

/* Placement for a new chunk: `goal` servers, none of `excl`. 0 with *n targets, or
 * -CFS_ENOSERVERS / -ENOSPC. Caller holds fsm_lock (read) and soft_lock, as leader. */
static int place_new_chunk(meta_server *ms, uint32_t goal, const uint64_t *excl, size_t n_excl,
                           reg_location *t, size_t *n)
{
    meta_fsm_info info;
    meta_fsm_get_info(ms->fsm, &info);
    placement_candidate cands[256];
    size_t nc = registry_candidates(ms->reg, cands, 256);
    if (nc > 256) nc = 256;
    uint64_t ids[MAX_REPLICAS];
    placement_request pr = {.want = (int)(goal < MAX_REPLICAS ? goal : MAX_REPLICAS),
                            .min_free = info.chunk_size,
                            .exclude = (uint64_t *)excl,
                            .n_exclude = n_excl,
                            .seed = random_seed()};
    int got = placement_choose(cands, nc, &pr, ids);
    if (got < 0) return got;
    for (int i = 0; i < got; i++) {
        reg_server_info si;
        if (registry_get_server(ms->reg, ids[i], &si) != 0) continue;
        t[*n].server_id = si.id;
        memcpy(t[*n].address, si.address, sizeof(si.address));
        memcpy(t[*n].domain, si.domain, sizeof(si.domain));
        (*n)++;
    }
    registry_note_allocation(ms->reg, ids, (size_t)got, info.chunk_size);
    return 0;
}

/* Targets for an alloc_chunk: a new chunk gets `goal` servers from placement; an existing
 * chunk keeps the live servers holding it (minus the excluded ones: the version bump drops
 * them). Returns 0 with *n targets (0 when the fsm will refuse the request anyway), or a
 * negative error to answer without proposing (-CFS_ENOSERVERS, -ENOSPC). */
static int alloc_targets(meta_server *ms, const Chunkfs__MetaRequest *req, reg_location *t,
                         size_t *n)
{
    const Chunkfs__AllocChunkReq *a = req->alloc_chunk;
    *n = 0;
    int rc = 0;
    ms_role role = ms_role_now(ms);
    pthread_rwlock_rdlock(&ms->fsm_lock);
    /* A retry of an applied allocation (its reply was lost, e.g. all metaservers restarted)
     * is answered from the session table with the servers chosen then. Its chunk exists now
     * and may be on no server yet, so computing targets would refuse it for good. */
    if (meta_fsm_request_applied(ms->fsm, req->client_id, req->request_id)) {
        pthread_rwlock_unlock(&ms->fsm_lock);
        return 0;
    }
    meta_chunk_ref ref;
    int frc = meta_fsm_file_chunk(ms->fsm, a->ino, a->index, &ref);
    /* New chunk (or no such file: the fsm answers that): the file's goal decides. */
    uint32_t goal = frc == -ENOENT ? inode_goal(ms, req->cred, a->ino) : 0;
    bool leader = ms_soft_enter(ms, role);
    if (!leader) {
        rc = -CFS_ENOTLEADER;
    } else if (frc == 0) {
        /* Holders known from reports, plus the servers of the last allocation (the client
         * may have just written them, before their heartbeat reported it). */
        uint64_t cand[2 * MAX_REPLICAS];
        size_t nc = 0;
        reg_replica reps[MAX_REPLICAS];
        size_t nr = registry_replicas(ms->reg, ref.chunk_id, reps, MAX_REPLICAS);
        if (nr > MAX_REPLICAS) nr = MAX_REPLICAS;
        /* A holder newer than the committed version got an uncommitted bump (the old
         * leader died before the commit): it still holds the writer's data and accepts the
         * next bump, so it stays a candidate; skipping it left the chunk unwritable. */
        for (size_t i = 0; i < nr; i++)
            cand[nc++] = reps[i].server_id;
        nc += registry_get_intent(ms->reg, ref.chunk_id, cand + nc, MAX_REPLICAS);
        for (size_t i = 0; i < nc && *n < MAX_REPLICAS; i++) {
            reg_server_info si;
            if (id_listed(cand[i], a->exclude_servers, a->n_exclude_servers) ||
                id_listed(cand[i], cand, i) /* duplicate */ ||
                registry_get_server(ms->reg, cand[i], &si) != 0 || !si.alive)
                continue;
            t[*n].server_id = si.id;
            memcpy(t[*n].address, si.address, sizeof(si.address));
            memcpy(t[*n].domain, si.domain, sizeof(si.domain));
            (*n)++;
        }
        if (*n == 0) rc = -CFS_ENOSERVERS; /* replicas not (re)reported yet: client retries */
    } else if (goal > 0) {
        rc = place_new_chunk(ms, goal, a->exclude_servers, a->n_exclude_servers, t, n);
    }
    pthread_mutex_unlock(&ms->soft_lock);
    pthread_rwlock_unlock(&ms->fsm_lock);
    return rc;
}

/* Targets for chunk 0 of a file a create with alloc_first_chunk may make (the fsm allocates
 * it only if it creates the file). Without a placement (no servers, no space, not leader)
 * there are none: the create itself goes on, and the client's first write asks alloc_chunk,
 * which reports the real error. */
static void create_targets(meta_server *ms, const Chunkfs__MetaRequest *req, reg_location *t,
                           size_t *n)
{
    *n = 0;
    ms_role role = ms_role_now(ms);
    pthread_rwlock_rdlock(&ms->fsm_lock);
    if (!meta_fsm_request_applied(ms->fsm, req->client_id, req->request_id)) {
        /* A new file inherits its directory's goal. */
        uint32_t goal = inode_goal(ms, req->cred, req->create->parent);
        if (ms_soft_enter(ms, role) && goal > 0 && place_new_chunk(ms, goal, NULL, 0, t, n) < 0)
            *n = 0;
        pthread_mutex_unlock(&ms->soft_lock);
    }
    pthread_rwlock_unlock(&ms->fsm_lock);
}

/* Remembers which servers an alloc_chunk handed out (see registry_set_intent). */
static void remember_intent(meta_server *ms, const Chunkfs__ChunkInfo *ci)
{
    uint64_t ids[REG_INTENT_MAX];
    size_t n = 0;
    for (size_t i = 0; i < ci->n_replicas && n < REG_INTENT_MAX; i++)
        ids[n++] = ci->replicas[i]->server_id;
    if (ms_soft_enter(ms, ms_role_now(ms))) registry_set_intent(ms->reg, ci->chunk_id, ids, n);
    pthread_mutex_unlock(&ms->soft_lock);
}

/* The directory's attributes now, or NULL (gone, or out of memory: the reply is still valid
 * without them). Caller holds fsm_lock (read). */
static Chunkfs__Attr *dir_attr_now(meta_server *ms, const Chunkfs__MetaRequest *req, uint64_t ino)
{
    Chunkfs__MetaRequest g = CHUNKFS__META_REQUEST__INIT;
    Chunkfs__GetattrReq ga = CHUNKFS__GETATTR_REQ__INIT;
    ga.ino = ino;
    g.cred = req->cred;
    g.op_case = CHUNKFS__META_REQUEST__OP_GETATTR;
    g.getattr = &ga;
    Chunkfs__MetaResponse *gr = NULL;
    Chunkfs__Attr *a = NULL;
    if (meta_fsm_read(ms->fsm, &g, &gr) == 0 && gr->err == 0 &&
        gr->result_case == CHUNKFS__META_RESPONSE__RESULT_ATTR) {
        a = gr->attr; /* taken over: the response tree frees it with the same allocator */
        gr->attr = NULL;
        gr->result_case = CHUNKFS__META_RESPONSE__RESULT__NOT_SET;
    }
    if (gr) chunkfs__meta_response__free_unpacked(gr, NULL);
    return a;
}

/* A successful namespace change answers with the parent directories' new attributes (the
 * client's next stat of the parent needs no round trip). Read after the apply, so they are
 * at least as new as the change. */
static void add_parent_attrs(meta_server *ms, const Chunkfs__MetaRequest *req,
                             Chunkfs__MetaResponse *resp)
{
    if (resp->err != 0) return;
    uint64_t parent = 0, new_parent = 0;
    switch (req->op_case) {
    case CHUNKFS__META_REQUEST__OP_MKDIR:
        parent = req->mkdir->parent;
        break;
    case CHUNKFS__META_REQUEST__OP_CREATE:
        parent = req->create->parent;
        break;
    case CHUNKFS__META_REQUEST__OP_SYMLINK:
        parent = req->symlink->parent;
        break;
    case CHUNKFS__META_REQUEST__OP_LINK:
        parent = req->link->new_parent;
        break;
    case CHUNKFS__META_REQUEST__OP_UNLINK:
        parent = req->unlink->parent;
        break;
    case CHUNKFS__META_REQUEST__OP_RMDIR:
        parent = req->rmdir->parent;
        break;
    case CHUNKFS__META_REQUEST__OP_RENAME:
        parent = req->rename->src_parent;
        if (req->rename->dst_parent != parent) new_parent = req->rename->dst_parent;
        break;
    default:
        return;
    }
    pthread_rwlock_rdlock(&ms->fsm_lock);
    resp->parent_attr = dir_attr_now(ms, req, parent);
    if (new_parent) resp->new_parent_attr = dir_attr_now(ms, req, new_parent);
    pthread_rwlock_unlock(&ms->fsm_lock);
}

static int serve_mutation(meta_server *ms, const Chunkfs__MetaRequest *req, uint8_t **out,
                          size_t *len)
{
    reg_location targets[MAX_REPLICAS];
    size_t n_targets = 0;
    if (req->op_case == CHUNKFS__META_REQUEST__OP_ALLOC_CHUNK && req->alloc_chunk) {
        int rc = alloc_targets(ms, req, targets, &n_targets);
        if (rc == -CFS_ENOTLEADER) return reply_not_leader(ms, out, len);
        if (rc) return reply_err(rc, NULL, out, len);
    } else if (req->op_case == CHUNKFS__META_REQUEST__OP_CREATE && req->create &&
               req->create->open_write && req->create->alloc_first_chunk) {
        create_targets(ms, req, targets, &n_targets);
    }
    uint8_t *cmd;
    size_t cmd_len;
    int rc = meta_cmd_pack_client(req, cfs_real_ns(), ms->lease_ms, ms->max_open_per_client,
                                  targets, n_targets, &cmd, &cmd_len);
    if (rc) return reply_err(rc, NULL, out, len);
    Chunkfs__MetaResponse *resp = NULL;
    rc = ms_propose(ms, cmd, cmd_len, &resp);
    free(cmd);
    if (rc) return reply_raft_err(ms, rc, out, len);
    if (!resp) return reply_err(-EIO, "apply produced no response", out, len);
    add_parent_attrs(ms, req, resp);
    /* (chunks and open share the response's oneof: look at which one is set) */
    if (n_targets && resp->err == 0 && resp->result_case == CHUNKFS__META_RESPONSE__RESULT_CHUNKS &&
        resp->chunks && resp->chunks->n_chunks == 1)
        remember_intent(ms, resp->chunks->chunks[0]);
    if (n_targets && resp->err == 0 && resp->result_case == CHUNKFS__META_RESPONSE__RESULT_OPEN &&
        resp->open && resp->open->first_chunk)
        remember_intent(ms, resp->open->first_chunk);
    rc = 0;
    if (resp->err == 0 && resp->result_case == CHUNKFS__META_RESPONSE__RESULT_CHUNKS)
        rc = ms_sign_chunks(ms, resp->chunks, CHUNK_TOKEN_WRITE);
    if (resp->err == 0 && resp->result_case == CHUNKFS__META_RESPONSE__RESULT_OPEN && resp->open &&
        resp->open->first_chunk)
        rc = ms_sign_chunk(ms, resp->open->first_chunk, CHUNK_TOKEN_WRITE);
    if (rc == 0) {
        /* The fsm answers EMFILE bare (it knows no flags): say which limit it is. errmsg is
         * put back before the tree is freed, since msg is not the tree's. */
        char msg[128];
        char *fsm_msg = resp->errmsg;
        if (resp->err == -EMFILE) {
            snprintf(msg, sizeof(msg),
                     "this client holds %u files open for writing, the limit "
                     "(--max-open-per-client)",
                     ms->max_open_per_client);
            resp->errmsg = msg;
        }
        rc = pack_resp(resp, out, len);
        resp->errmsg = fsm_msg;
    }
    chunkfs__meta_response__free_unpacked(resp, NULL);
    return rc;
}

/* ---------------------------------------------------------------- locks */

static int serve_lock(meta_server *ms, const Chunkfs__MetaRequest *req, uint8_t **out, size_t *len)
{
    const Chunkfs__LockReq *l = req->lock;
    if (l->type > LOCK_T_WRITE) return reply_err(-EINVAL, "bad lock type", out, len);
    if (l->start > l->end && !l->flock) return reply_err(-EINVAL, "lock start > end", out, len);
    int rc = raft_node_read_barrier(ms->raft, MS_BARRIER_TIMEOUT_MS);
    if (rc) return reply_raft_err(ms, rc, out, len);
    /* The inode must exist and be visible to the caller. */
    Chunkfs__MetaRequest g = CHUNKFS__META_REQUEST__INIT;
    Chunkfs__GetattrReq ga = CHUNKFS__GETATTR_REQ__INIT;
    ga.ino = l->ino;
    g.cred = req->cred;
    g.op_case = CHUNKFS__META_REQUEST__OP_GETATTR;
    g.getattr = &ga;
    Chunkfs__MetaResponse *gr = NULL;
    ms_role role = ms_role_now(ms);
    pthread_rwlock_rdlock(&ms->fsm_lock);
    rc = meta_fsm_read(ms->fsm, &g, &gr);
    pthread_rwlock_unlock(&ms->fsm_lock);
    int err = rc ? rc : gr->err;
    if (gr) chunkfs__meta_response__free_unpacked(gr, NULL);
    if (err) return reply_err(err, NULL, out, len);

    lock_desc d = {.client_id = l->client_id ? l->client_id : req->client_id,
                   .owner = l->owner,
                   .type = l->type,
                   .start = l->start,
                   .end = l->end,
                   .pid = l->pid,
                   .flock = l->flock};
    lock_desc conflict;
    memset(&conflict, 0, sizeof(conflict));
    bool leader = ms_soft_enter(ms, role);
    if (leader)
        rc = l->test ? lock_table_test(ms->locks, l->ino, &d, &conflict)
                     : lock_table_set(ms->locks, l->ino, &d, &conflict);
    pthread_mutex_unlock(&ms->soft_lock);
    if (!leader) return reply_not_leader(ms, out, len);
    Chunkfs__MetaResponse r = CHUNKFS__META_RESPONSE__INIT;
    Chunkfs__LockResp lr = CHUNKFS__LOCK_RESP__INIT;
    r.err = rc;
    if (rc) r.errmsg = (char *)cfs_strerror(rc);
    if (rc == 0 || rc == -EAGAIN) {
        if (l->test || rc == -EAGAIN) {
            lr.type = conflict.type;
            lr.start = conflict.start;
            lr.end = conflict.end;
            lr.pid = conflict.pid;
            lr.owner = conflict.owner;
        } else {
            lr.type = d.type;
            lr.start = d.start;
            lr.end = d.end;
            lr.pid = d.pid;
            lr.owner = d.owner;
        }
        r.result_case = CHUNKFS__META_RESPONSE__RESULT_LOCK;
        r.lock = &lr;
    }
    return pack_resp(&r, out, len);
}

/* ---------------------------------------------------------------- chunk health scan */

typedef struct scan_state {
    meta_server *ms;
    uint64_t chunks, healthy, under, missing, over;
    char **problems;
    size_t n_problems;
    bool want_problems;
    int err;
} scan_state;

static void add_problem(scan_state *s, const char *fmt, unsigned long long a, unsigned long long b,
                        unsigned long long c, unsigned long long d)
{
    if (!s->want_problems || s->n_problems >= FSCK_MAX_PROBLEMS || s->err) return;
    char buf[160];
    snprintf(buf, sizeof(buf), fmt, a, b, c, d);
    char *p = strdup(buf);
    if (!p) {
        s->err = -ENOMEM;
        return;
    }
    s->problems[s->n_problems++] = p;
}

static int scan_chunk(void *arg, const meta_chunk_ref *c)
{
    scan_state *s = arg;
    reg_replica reps[MAX_REPLICAS];
    size_t n = registry_replicas(s->ms->reg, c->chunk_id, reps, MAX_REPLICAS);
    if (n > MAX_REPLICAS) n = MAX_REPLICAS;
    size_t live = 0;
    for (size_t i = 0; i < n; i++) {
        if (reps[i].version == c->version) live++;
        if (reps[i].version > c->version)
            add_problem(s, "chunk %llu: server %llu holds version %llu above current %llu",
                        c->chunk_id, reps[i].server_id, reps[i].version, c->version);
    }
    s->chunks++;
    switch (meta_chunk_judge(live, c->goal)) {
    case META_CHUNK_HEALTHY:
        s->healthy++;
        break;
    case META_CHUNK_UNDER:
        s->under++;
        add_problem(s, "chunk %llu (inode %llu index %llu): under-replicated, %llu live",
                    c->chunk_id, c->ino, c->index, live);
        break;
    case META_CHUNK_MISSING:
        s->missing++;
        add_problem(s, "chunk %llu (inode %llu index %llu): missing, version %llu", c->chunk_id,
                    c->ino, c->index, c->version);
        break;
    case META_CHUNK_OVER:
        s->over++;
        s->healthy++;
        break;
    }
    return 0;
}

static void scan_all(meta_server *ms, scan_state *s)
{
    s->ms = ms;
    ms_role role = ms_role_now(ms);
    pthread_rwlock_rdlock(&ms->fsm_lock);
    (void)ms_soft_enter(ms, role);
    (void)meta_fsm_chunk_foreach(ms->fsm, scan_chunk, s);
    pthread_mutex_unlock(&ms->soft_lock);
    pthread_rwlock_unlock(&ms->fsm_lock);
}

static int serve_fsck(meta_server *ms, uint8_t **out, size_t *len)
{
    int rc = raft_node_read_barrier(ms->raft, MS_BARRIER_TIMEOUT_MS);
    if (rc) return reply_raft_err(ms, rc, out, len);
    scan_state s = {.want_problems = true};
    s.problems = calloc(FSCK_MAX_PROBLEMS, sizeof(char *));
    if (!s.problems) return reply_err(-ENOMEM, NULL, out, len);
    scan_all(ms, &s);
    Chunkfs__MetaResponse r = CHUNKFS__META_RESPONSE__INIT;
    Chunkfs__FsckResp f = CHUNKFS__FSCK_RESP__INIT;
    f.chunks = s.chunks;
    f.healthy = s.healthy;
    f.under_replicated = s.under;
    f.missing = s.missing;
    f.over_replicated = s.over;
    pthread_mutex_lock(&ms->soft_lock);
    f.corrupt = ms->corrupt_reports;
    pthread_mutex_unlock(&ms->soft_lock);
    f.n_problems = s.n_problems;
    f.problems = s.problems;
    r.err = s.err;
    r.result_case = CHUNKFS__META_RESPONSE__RESULT_FSCK;
    r.fsck = &f;
    rc = pack_resp(&r, out, len);
    for (size_t i = 0; i < s.n_problems; i++)
        free(s.problems[i]);
    free(s.problems);
    return rc;
}

/* ---------------------------------------------------------------- cluster status */

/* Each peer's own figures come from asking it (AdminReq "self"), in parallel, bounded by
 * this deadline, so that a status shows a follower's real commit index and http address. */
#define PEER_STATUS_TIMEOUT_MS 500
#define MAX_MEMBERS 16

static int serve_status(meta_server *ms, uint8_t **out, size_t *len)
{
    raft_node_status st;
    raft_node_get_status(ms->raft, &st);
    if (!st.is_leader) return reply_not_leader(ms, out, len);
    int n_members = st.n_members > MAX_MEMBERS ? MAX_MEMBERS : st.n_members;
    meta_node_figures fig[MAX_MEMBERS], peer_fig[MAX_MEMBERS];
    const char *peer_addr[MAX_MEMBERS];
    size_t n_peers = 0;
    for (int i = 0; i < n_members; i++)
        if (st.members[i].id != st.id) peer_addr[n_peers++] = st.members[i].addr;
    meta_peer_figures(peer_addr, n_peers, PEER_STATUS_TIMEOUT_MS, peer_fig);
    for (int i = 0, p = 0; i < n_members; i++) {
        if (st.members[i].id == st.id)
            meta_self_figures(ms, &fig[i]);
        else
            fig[i] = peer_fig[p++];
    }

    Chunkfs__MetaserverStatus ms_st[MAX_MEMBERS], *ms_ptr[MAX_MEMBERS];
    char http_url[MAX_MEMBERS][sizeof(fig[0].http) + 8];
    for (int i = 0; i < n_members; i++) {
        const raft_member_status *m = &st.members[i];
        const meta_node_figures *f = &fig[i];
        Chunkfs__MetaserverStatus *x = &ms_st[i];
        chunkfs__metaserver_status__init(x);
        bool self = m->id == st.id;
        x->id = m->id;
        x->address = (char *)m->addr;
        /* An unreachable peer keeps the leader's view of its role and term. */
        x->role = (char *)(f->reachable ? f->role
                           : self       ? st.role
                           : !m->voter  ? "learner"
                                        : "follower");
        x->term = f->reachable ? f->term : st.term;
        x->commit_index = f->commit_index;
        x->applied_index = f->applied_index;
        x->reachable = f->reachable;
        x->match_index = self ? st.last_index : m->match_index;
        snprintf(http_url[i], sizeof(http_url[i]), "%s%s", *f->http ? "http://" : "", f->http);
        x->http = http_url[i];
        ms_ptr[i] = x;
    }

    scan_state s = {0};
    scan_all(ms, &s);
    meta_fsm_info info;
    pthread_rwlock_rdlock(&ms->fsm_lock);
    meta_fsm_get_info(ms->fsm, &info);
    pthread_rwlock_unlock(&ms->fsm_lock);

    bool leader = ms_soft_enter(ms, (ms_role){.leader = st.is_leader, .term = st.term});
    size_t n_cs = registry_server_count(ms->reg);
    reg_server_info *si = calloc(n_cs ? n_cs : 1, sizeof(*si));
    Chunkfs__ChunkserverStatus *cs = calloc(n_cs ? n_cs : 1, sizeof(*cs));
    Chunkfs__ChunkserverStatus **cs_ptr = calloc(n_cs ? n_cs : 1, sizeof(*cs_ptr));
    char(*cs_http)[REG_ADDR_MAX + 8] = calloc(n_cs ? n_cs : 1, sizeof(*cs_http));
    uint64_t corrupt = ms->corrupt_reports;
    ms_heal_stats heal = ms->heal;
    uint64_t repairs_done = registry_repairs_done(ms->reg);
    if (si) registry_list_servers(ms->reg, si, n_cs);
    pthread_mutex_unlock(&ms->soft_lock);
    int rc;
    if (!leader) {
        rc = reply_not_leader(ms, out, len);
    } else if (!si || !cs || !cs_ptr || !cs_http) {
        rc = reply_err(-ENOMEM, NULL, out, len);
    } else {
        int64_t now = cfs_mono_ms();
        for (size_t i = 0; i < n_cs; i++) {
            chunkfs__chunkserver_status__init(&cs[i]);
            cs[i].id = si[i].id;
            cs[i].address = si[i].address;
            cs[i].domain = si[i].domain;
            cs[i].state = (char *)(!si[i].alive ? "dead" : si[i].draining ? "draining" : "alive");
            cs[i].capacity = si[i].capacity;
            cs[i].used = si[i].used;
            cs[i].chunks = si[i].chunks;
            cs[i].last_heartbeat_ms = now - si[i].last_heartbeat_ms; /* age, not a timestamp */
            snprintf(cs_http[i], sizeof(cs_http[i]), "%s%s", *si[i].http ? "http://" : "",
                     si[i].http);
            cs[i].http = cs_http[i];
            cs_ptr[i] = &cs[i];
        }
        Chunkfs__ClusterStatusResp c = CHUNKFS__CLUSTER_STATUS_RESP__INIT;
        c.cluster_id = ms->params.cluster_id;
        c.n_metaservers = (size_t)n_members;
        c.metaservers = ms_ptr;
        c.n_chunkservers = n_cs;
        c.chunkservers = cs_ptr;
        c.files = info.files;
        c.dirs = info.dirs;
        c.chunks = info.chunks;
        c.under_replicated = s.under;
        c.missing = s.missing;
        c.corrupt = corrupt;
        c.leader_id = st.leader_id ? st.leader_id : st.id;
        c.repair_queued = heal.repair_queued;
        c.repair_inflight = heal.repair_inflight;
        c.repair_done = repairs_done;
        c.repair_scheduled = heal.repair_scheduled;
        c.trimmed = heal.trimmed;
        c.draining_replicas = heal.draining_replicas;
        c.rebalance_inflight = heal.rebalance_inflight;
        c.rebalance_done = heal.rebalance_done;
        c.balanced = heal.balanced;
        c.gc_waiting = heal.gc_waiting;
        c.repair_per_min = heal.repair_per_min;
        c.rebalance_per_min = heal.rebalance_per_min;
        Chunkfs__MetaResponse r = CHUNKFS__META_RESPONSE__INIT;
        r.result_case = CHUNKFS__META_RESPONSE__RESULT_CLUSTER_STATUS;
        r.cluster_status = &c;
        rc = pack_resp(&r, out, len);
    }
    free(si);
    free(cs);
    free(cs_ptr);
    free(cs_http);
    return rc;
}

/* ---------------------------------------------------------------- admin */

static uint64_t fnv1a64(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* "dump": answered by any node from its own applied state, so a test can compare replicas:
 * "applied=<index> hash=<fnv1a64 of the snapshot image> files=<n> dirs=<n>". */
static int admin_dump(meta_server *ms, uint8_t **out, size_t *len)
{
    uint8_t *img = NULL;
    size_t img_len = 0;
    meta_fsm_info info;
    pthread_rwlock_rdlock(&ms->fsm_lock);
    int rc = meta_fsm_snapshot(ms->fsm, &img, &img_len);
    uint64_t applied = ms->applied_index;
    meta_fsm_get_info(ms->fsm, &info);
    pthread_rwlock_unlock(&ms->fsm_lock);
    if (rc) return reply_err(rc, NULL, out, len);
    char text[256];
    snprintf(text, sizeof(text), "applied=%llu hash=%016llx files=%llu dirs=%llu",
             (unsigned long long)applied, (unsigned long long)fnv1a64(img, img_len),
             (unsigned long long)info.files, (unsigned long long)info.dirs);
    free(img);
    Chunkfs__MetaResponse r = CHUNKFS__META_RESPONSE__INIT;
    Chunkfs__AdminResp a = CHUNKFS__ADMIN_RESP__INIT;
    a.text = text;
    r.result_case = CHUNKFS__META_RESPONSE__RESULT_ADMIN;
    r.admin = &a;
    return pack_resp(&r, out, len);
}

static int admin_drain(meta_server *ms, const Chunkfs__MetaRequest *req, bool draining,
                       uint8_t **out, size_t *len)
{
    if (!req->cred || req->cred->uid != 0)
        return reply_err(-EPERM, "decommission needs uid 0", out, len);
    const char *arg = req->admin->arg;
    char *end;
    errno = 0;
    unsigned long long id = arg ? strtoull(arg, &end, 10) : 0;
    if (!arg || !*arg || *end || errno || id == 0)
        return reply_err(-EINVAL, "arg must be a chunkserver id", out, len);
    bool leader = ms_soft_enter(ms, ms_role_now(ms));
    int rc = leader ? registry_set_draining(ms->reg, id, draining) : 0;
    pthread_mutex_unlock(&ms->soft_lock);
    if (!leader) return reply_not_leader(ms, out, len);
    if (rc) return reply_err(rc, "no such chunkserver", out, len);
    LOG_INFO_KV(draining ? "chunkserver decommissioned (draining)" : "chunkserver recommissioned",
                "id=%llu", id);
    char text[96];
    snprintf(text, sizeof(text), "chunkserver %llu %s", id, draining ? "draining" : "active");
    Chunkfs__MetaResponse r = CHUNKFS__META_RESPONSE__INIT;
    Chunkfs__AdminResp a = CHUNKFS__ADMIN_RESP__INIT;
    a.text = text;
    r.result_case = CHUNKFS__META_RESPONSE__RESULT_ADMIN;
    r.admin = &a;
    return pack_resp(&r, out, len);
}

#define MEMBERSHIP_TIMEOUT_MS 30000

/* Raft membership: "add-member" ID=HOST:PORT (joins as a learner, caught up, then promoted),
 * "remove-member" ID, "transfer-leader" ID. Root only; each waits for the change. */
static int admin_membership(meta_server *ms, const Chunkfs__MetaRequest *req, const char *op,
                            uint8_t **out, size_t *len)
{
    if (!req->cred || req->cred->uid != 0)
        return reply_err(-EPERM, "membership changes need uid 0", out, len);
    const char *arg = req->admin->arg ? req->admin->arg : "";
    char *end;
    errno = 0;
    unsigned long long id = strtoull(arg, &end, 10);
    bool add = strcmp(op, "add-member") == 0;
    const char *addr = add && *end == '=' ? end + 1 : NULL;
    if (errno || id == 0 || end == arg || (add ? !addr || !*addr || strlen(addr) >= 128 : *end))
        return reply_err(-EINVAL, add ? "arg must be ID=HOST:PORT" : "arg must be a node id", out,
                         len);
    int rc;
    if (add)
        rc = raft_node_add_member(ms->raft, id, addr, MEMBERSHIP_TIMEOUT_MS);
    else if (strcmp(op, "remove-member") == 0)
        rc = raft_node_remove_member(ms->raft, id, MEMBERSHIP_TIMEOUT_MS);
    else
        rc = raft_node_transfer_leader(ms->raft, id, MEMBERSHIP_TIMEOUT_MS);
    if (rc) return reply_raft_err(ms, rc, out, len);
    LOG_INFO_KV("membership change done", "op=%s arg=%s", op, arg);
    char text[200];
    snprintf(text, sizeof(text), "%s %s: done", op, arg);
    Chunkfs__MetaResponse r = CHUNKFS__META_RESPONSE__INIT;
    Chunkfs__AdminResp a = CHUNKFS__ADMIN_RESP__INIT;
    a.text = text;
    r.result_case = CHUNKFS__META_RESPONSE__RESULT_ADMIN;
    r.admin = &a;
    return pack_resp(&r, out, len);
}

static int serve_admin(meta_server *ms, const Chunkfs__MetaRequest *req, uint8_t **out, size_t *len)
{
    const char *op = req->admin->op ? req->admin->op : "";
    if (strcmp(op, "dump") == 0) return admin_dump(ms, out, len);
    if (strcmp(op, "decommission") == 0) return admin_drain(ms, req, true, out, len);
    if (strcmp(op, "recommission") == 0) return admin_drain(ms, req, false, out, len);
    if (strcmp(op, "add-member") == 0 || strcmp(op, "remove-member") == 0 ||
        strcmp(op, "transfer-leader") == 0)
        return admin_membership(ms, req, op, out, len);
    return reply_err(-EINVAL,
                     "unknown admin op (dump, self, decommission, recommission, add-member, "
                     "remove-member, transfer-leader)",
                     out, len);
}

/* ---------------------------------------------------------------- report_bad */

/* A client found a bad replica: stop handing it out (until the server reports it again).
 * The replica is not deleted on a client's word; the chunkserver's own corrupt report does. */
static int serve_report_bad(meta_server *ms, const Chunkfs__MetaRequest *req, uint8_t **out,
                            size_t *len)
{
    const Chunkfs__ReportBadReq *b = req->report_bad;
    bool leader = ms_soft_enter(ms, ms_role_now(ms));
    if (leader) {
        registry_remove_replica(ms->reg, b->server_id, b->chunk_id);
        registry_repair_cancel(ms->reg, b->chunk_id);
        ms->corrupt_reports++;
    }
    pthread_mutex_unlock(&ms->soft_lock);
    if (!leader) return reply_not_leader(ms, out, len);
    LOG_WARN("client reports chunk %llu on server %llu bad: %s", (unsigned long long)b->chunk_id,
             (unsigned long long)b->server_id, b->reason ? b->reason : "");
    return reply_err(0, "", out, len);
}

/* ---------------------------------------------------------------- entry point */

/* True when the request's oneof case has its message (protobuf-c leaves it NULL only on
 * hand-built requests; unpacked ones always have it). */
static bool op_present(const Chunkfs__MetaRequest *r)
{
    switch (r->op_case) {
    case CHUNKFS__META_REQUEST__OP_LOCK:
        return r->lock != NULL;
    case CHUNKFS__META_REQUEST__OP_ADMIN:
        return r->admin != NULL;
    case CHUNKFS__META_REQUEST__OP_REPORT_BAD:
        return r->report_bad != NULL;
    case CHUNKFS__META_REQUEST__OP_ALLOC_CHUNK:
        return r->alloc_chunk != NULL;
    case CHUNKFS__META_REQUEST__OP__NOT_SET:
        return false;
    default:
        return true;
    }
}

int meta_service_call(void *arg, const char *peer, const uint8_t *req_buf, size_t req_len,
                      uint8_t **out, size_t *len)
{
    meta_server *ms = arg;
    (void)peer;
    int64_t t0 = cfs_mono_ns();
    Chunkfs__MetaRequest *req = chunkfs__meta_request__unpack(NULL, req_len, req_buf);
    if (!req) return reply_err(-EINVAL, "malformed MetaRequest", out, len);
    int rc;
    if (!op_present(req)) {
        rc = reply_err(-EINVAL, "MetaRequest without an operation", out, len);
    } else if (cfs_pb_check_strings(&chunkfs__meta_request__descriptor, req_buf, req_len) != 0) {
        rc = reply_err(-EINVAL, "a name, path or other string holds a NUL byte", out, len);
    } else if (req->op_case == CHUNKFS__META_REQUEST__OP_ADMIN && req->admin->op &&
               strcmp(req->admin->op, "dump") == 0) {
        rc = admin_dump(ms, out, len); /* any node: compares replicas */
    } else if (req->op_case == CHUNKFS__META_REQUEST__OP_ADMIN && req->admin->op &&
               strcmp(req->admin->op, "self") == 0) {
        rc = meta_self_status_reply(ms, out, len); /* any node: the leader's status asks */
    } else if (!raft_node_is_leader(ms->raft)) {
        rc = reply_not_leader(ms, out, len);
    } else if ((rc = ms_ensure_formatted(ms)) != 0) {
        rc = reply_raft_err(ms, rc, out, len);
    } else {
        switch (req->op_case) {
        case CHUNKFS__META_REQUEST__OP_LOCK:
            rc = serve_lock(ms, req, out, len);
            break;
        case CHUNKFS__META_REQUEST__OP_CLUSTER_STATUS:
            rc = serve_status(ms, out, len);
            break;
        case CHUNKFS__META_REQUEST__OP_FSCK:
            rc = serve_fsck(ms, out, len);
            break;
        case CHUNKFS__META_REQUEST__OP_ADMIN:
            rc = serve_admin(ms, req, out, len);
            break;
        case CHUNKFS__META_REQUEST__OP_REPORT_BAD:
            rc = serve_report_bad(ms, req, out, len);
            break;
        default:
            rc = meta_fsm_is_mutation(req) ? serve_mutation(ms, req, out, len)
                                           : serve_read(ms, req, out, len);
            break;
        }
    }
    if (rc == 0) meta_metrics_observe((int)req->op_case, *out, *len, t0);
    chunkfs__meta_request__free_unpacked(req, NULL);
    return rc;
}
