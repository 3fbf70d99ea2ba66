#include "chunkserver/heartbeat.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chunkserver/token_gate.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/rpc.h"
#include "proto/chunkfs.pb-c.h"

#define M_REGISTER "/chunkfs.ClusterService/RegisterServer"
#define M_HEARTBEAT "/chunkfs.ClusterService/Heartbeat"
#define M_REPORT "/chunkfs.ClusterService/ReportChunks"
#define REPL_QUEUE_CAP 256

struct replica_list {
    Chunkfs__ChunkReplica *v;
    size_t n, cap;
};

struct repl_cmd {
    uint64_t chunk_id, version;
    char source[256];
    uint8_t token[CHUNK_TOKEN_SIZE];
    size_t token_len;
};

struct heartbeat {
    struct heartbeat_opts opts;
    char **metas;
    char *cluster_id, *domain, *address, *http_address;
    pthread_t thread, worker;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* stop requests, replicate queue */
    bool stop;
    uint64_t server_id;
    bool registered;
    size_t meta_idx;
    char leader[256];
    struct replica_list added, removed, corrupt; /* under mu */
    struct repl_cmd rq[REPL_QUEUE_CAP];
    size_t rq_head, rq_count;
};

/* ------------------------------------------------------------------ server id file */

int heartbeat_load_server_id(const char *dir, uint64_t *id)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/server_id", dir);
    FILE *f = fopen(path, "r");
    if (!f) return -errno;
    char line[64] = "";
    char *got = fgets(line, sizeof line, f);
    fclose(f);
    char *end;
    errno = 0;
    unsigned long long v = got ? strtoull(line, &end, 10) : 0;
    if (!got || errno || end == line || (*end != '\n' && *end != '\0') || v == 0) return -EBADMSG;
    *id = v;
    return 0;
}

int heartbeat_save_server_id(const char *dir, uint64_t id)
{
    char path[PATH_MAX], tmp[PATH_MAX + 4];
    snprintf(path, sizeof path, "%s/server_id", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0) return -errno;
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%" PRIu64 "\n", id);
    int rc = write(fd, buf, (size_t)n) == n ? 0 : -EIO;
    if (rc == 0 && fsync(fd) < 0) rc = -errno;
    close(fd);
    if (rc == 0 && rename(tmp, path) < 0) rc = -errno;
    if (rc < 0) {
        unlink(tmp);
        return rc;
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    return 0;
}

/* ------------------------------------------------------------------ incremental lists */

static int list_add(struct replica_list *l, uint64_t id, uint64_t ver, uint64_t len)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 64;
        Chunkfs__ChunkReplica *nv = realloc(l->v, nc * sizeof *nv);
        if (!nv) return -ENOMEM;
        l->v = nv;
        l->cap = nc;
    }
    Chunkfs__ChunkReplica r = CHUNKFS__CHUNK_REPLICA__INIT;
    r.chunk_id = id;
    r.version = ver;
    r.length = len;
    l->v[l->n++] = r;
    return 0;
}

/* Puts `taken` (older events) back in front of what arrived meanwhile. */
static void list_restore(struct replica_list *l, struct replica_list *taken)
{
    for (size_t i = 0; i < l->n; i++)
        list_add(taken, l->v[i].chunk_id, l->v[i].version, l->v[i].length);
    free(l->v);
    *l = *taken;
    *taken = (struct replica_list){0};
}

void heartbeat_on_chunk_event(void *arg, enum chunk_event ev, uint64_t chunk_id, uint64_t version,
                              uint64_t length)
{
    heartbeat *hb = arg;
    pthread_mutex_lock(&hb->mu);
    struct replica_list *l = ev == CHUNK_ADDED     ? &hb->added
                             : ev == CHUNK_REMOVED ? &hb->removed
                                                   : &hb->corrupt;
    if (list_add(l, chunk_id, version, length) < 0)
        LOG_ERROR("out of memory: chunk %016" PRIx64 " left out of the next report", chunk_id);
    pthread_mutex_unlock(&hb->mu);
}

/* ------------------------------------------------------------------ metaserver calls */

static bool stopping(heartbeat *hb)
{
    pthread_mutex_lock(&hb->mu);
    bool s = hb->stop;
    pthread_mutex_unlock(&hb->mu);
    return s;
}

/* Sleeps up to ms, returning early (true) when asked to stop. */
static bool wait_ms(heartbeat *hb, int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&hb->mu);
    while (!hb->stop && pthread_cond_timedwait(&hb->cv, &hb->mu, &ts) == 0)
        ;
    bool s = hb->stop;
    pthread_mutex_unlock(&hb->mu);
    return s;
}

static int32_t resp_err(const ProtobufCMessage *m)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(m->descriptor, "err");
    return f ? *(const int32_t *)((const char *)m + f->offset) : 0;
}

static const char *resp_hint(const ProtobufCMessage *m)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(m->descriptor, "leader_hint");
    return f ? *(char *const *)((const char *)m + f->offset) : NULL;
}

/* One ClusterService call to the leader: follows hints and walks the address list, a bounded
 * number of attempts. Returns 0 with *out set (its err may still be < 0, e.g. -ENOENT), or
 * the last error. */
static int meta_call(heartbeat *hb, const char *method, const ProtobufCMessage *req,
                     const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out)
{
    int last = -ENOTCONN;
    size_t attempts = hb->opts.nmetas * 2 + 1;
    for (size_t a = 0; a < attempts && !stopping(hb); a++) {
        char addr[256];
        if (hb->leader[0])
            snprintf(addr, sizeof addr, "%s", hb->leader);
        else
            snprintf(addr, sizeof addr, "%s", hb->metas[hb->meta_idx % hb->opts.nmetas]);
        ProtobufCMessage *resp = NULL;
        int rc = rpc_unary_pb(addr, method, req, desc, hb->opts.rpc_timeout_ms, &resp);
        if (rc == 0 && resp_err(resp) == -CFS_ENOTLEADER) {
            const char *hint = resp_hint(resp);
            if (hint && hint[0] && strcmp(hint, addr) != 0) {
                snprintf(hb->leader, sizeof hb->leader, "%s", hint);
            } else {
                hb->leader[0] = '\0';
                hb->meta_idx++;
            }
            protobuf_c_message_free_unpacked(resp, NULL);
            last = -CFS_ENOTLEADER;
            continue;
        }
        if (rc < 0) {
            LOG_DEBUG("%s to %s: %s", method, addr, cfs_strerror(rc));
            last = rc;
            hb->leader[0] = '\0';
            hb->meta_idx++;
            /* ENOTLEADER as a status (no hint) also moves on. */
            continue;
        }
        snprintf(hb->leader, sizeof hb->leader, "%s", addr);
        *out = resp;
        return 0;
    }
    return last;
}

/* ------------------------------------------------------------------ protocol steps */

static int do_register(heartbeat *hb)
{
    Chunkfs__RegisterReq req = CHUNKFS__REGISTER_REQ__INIT;
    uint64_t cap = 0, used = 0;
    chunk_store_usage(hb->opts.store, &cap, &used);
    req.cluster_id = hb->cluster_id;
    req.address = hb->address;
    req.http_address = hb->http_address;
    req.domain = hb->domain;
    req.server_id = hb->server_id;
    req.capacity = cap;
    req.used = used;
    ProtobufCMessage *out = NULL;
    int rc = meta_call(hb, M_REGISTER, &req.base, &chunkfs__register_resp__descriptor, &out);
    if (rc < 0) return rc;
    Chunkfs__RegisterResp *resp = (Chunkfs__RegisterResp *)out;
    rc = resp->err;
    if (rc < 0) {
        LOG_WARN("registration refused: %s (%s)", cfs_strerror(rc),
                 resp->errmsg ? resp->errmsg : "");
    } else if (resp->server_id == 0) {
        rc = -EPROTO;
    } else if (resp->server_id != hb->server_id) {
        rc = heartbeat_save_server_id(chunk_store_dir(hb->opts.store, 0), resp->server_id);
        if (rc < 0)
            LOG_ERROR("cannot persist server id %" PRIu64 ": %s", resp->server_id,
                      cfs_strerror(rc));
        else {
            pthread_mutex_lock(&hb->mu);
            hb->server_id = resp->server_id;
            pthread_mutex_unlock(&hb->mu);
        }
    }
    protobuf_c_message_free_unpacked(out, NULL);
    if (rc == 0)
        LOG_INFO("registered with %s as server %" PRIu64 " (%s)", hb->leader, hb->server_id,
                 hb->address);
    return rc;
}

static int full_report(heartbeat *hb)
{
    /* Events so far are covered by the full list; later ones go in heartbeats. Corrupt ones
     * are kept: a full report does not carry them. */
    pthread_mutex_lock(&hb->mu);
    hb->added.n = 0;
    hb->removed.n = 0;
    pthread_mutex_unlock(&hb->mu);
    struct chunk_replica_info *all;
    size_t n;
    int rc = chunk_store_list(hb->opts.store, &all, &n);
    if (rc < 0) return rc;
    size_t batch = hb->opts.report_batch;
    Chunkfs__ChunkReplica *reps = malloc((batch ? batch : 1) * sizeof *reps);
    Chunkfs__ChunkReplica **ptrs = malloc((batch ? batch : 1) * sizeof *ptrs);
    if (!reps || !ptrs) rc = -ENOMEM;
    size_t pos = 0;
    do {
        if (rc < 0) break;
        size_t k = n - pos < batch ? n - pos : batch;
        for (size_t i = 0; i < k; i++) {
            Chunkfs__ChunkReplica r = CHUNKFS__CHUNK_REPLICA__INIT;
            r.chunk_id = all[pos + i].chunk_id;
            r.version = all[pos + i].version;
            r.length = all[pos + i].length;
            reps[i] = r;
            ptrs[i] = &reps[i];
        }
        pos += k;
        Chunkfs__ChunkReportReq req = CHUNKFS__CHUNK_REPORT_REQ__INIT;
        req.server_id = hb->server_id;
        req.chunks = ptrs;
        req.n_chunks = k;
        req.last = pos == n;
        ProtobufCMessage *out = NULL;
        rc = meta_call(hb, M_REPORT, &req.base, &chunkfs__chunk_report_resp__descriptor, &out);
        if (rc == 0) {
            rc = resp_err(out);
            protobuf_c_message_free_unpacked(out, NULL);
        }
    } while (pos < n);
    free(reps);
    free(ptrs);
    free(all);
    if (rc == 0) LOG_INFO("full chunk report sent: %zu replicas", n);
    return rc;
}

static void queue_replicate(heartbeat *hb, const Chunkfs__ReplicateCmd *c)
{
    if (c->chunk_id == 0 || c->version == 0 || !c->source || !c->source[0] ||
        strlen(c->source) >= sizeof hb->rq[0].source)
        return;
    if (token_gate_check(hb->opts.tokens, "replicate command", hb->leader, c->token.data,
                         c->token.len, CHUNK_TOKEN_OP_BIT(CHUNK_TOKEN_REPLICATE), c->chunk_id,
                         c->version, NULL) < 0)
        return;
    pthread_mutex_lock(&hb->mu);
    bool dup = false;
    for (size_t i = 0; i < hb->rq_count; i++) {
        const struct repl_cmd *q = &hb->rq[(hb->rq_head + i) % REPL_QUEUE_CAP];
        dup |= q->chunk_id == c->chunk_id && q->version == c->version;
    }
    if (!dup && hb->rq_count < REPL_QUEUE_CAP) {
        struct repl_cmd *q = &hb->rq[(hb->rq_head + hb->rq_count) % REPL_QUEUE_CAP];
        q->chunk_id = c->chunk_id;
        q->version = c->version;
        snprintf(q->source, sizeof q->source, "%s", c->source);
        /* Passed on to the source unread (a longer one is no token of ours: sent as none). */
        q->token_len = c->token.len <= sizeof q->token ? c->token.len : 0;
        if (q->token_len) memcpy(q->token, c->token.data, q->token_len);
        hb->rq_count++;
        pthread_cond_broadcast(&hb->cv);
    }
    pthread_mutex_unlock(&hb->mu);
}

static void run_commands(heartbeat *hb, const Chunkfs__HeartbeatResp *resp)
{
    for (size_t i = 0; i < resp->n_delete_; i++) {
        const Chunkfs__ChunkReplica *d = resp->delete_[i];
        const ProtobufCBinaryData *tok = i < resp->n_delete_tokens ? &resp->delete_tokens[i] : NULL;
        if (token_gate_check(hb->opts.tokens, "delete command", hb->leader, tok ? tok->data : NULL,
                             tok ? tok->len : 0, CHUNK_TOKEN_OP_BIT(CHUNK_TOKEN_DELETE),
                             d->chunk_id, d->version, NULL) < 0)
            continue;
        struct chunk_replica_info inf;
        if (chunk_store_info(hb->opts.store, d->chunk_id, &inf) < 0) continue; /* already gone */
        /* Version 0 means any; otherwise the named version or an older (stale) one. */
        if (d->version != 0 && inf.version > d->version) continue;
        int rc = chunk_store_delete(hb->opts.store, d->chunk_id, inf.version);
        LOG_INFO("delete %016" PRIx64 " v%" PRIu64 " (metaserver): %s", d->chunk_id, inf.version,
                 rc == 0 ? "done" : cfs_strerror(rc));
    }
    for (size_t i = 0; i < resp->n_replicate; i++)
        queue_replicate(hb, resp->replicate[i]);
}

static int do_heartbeat(heartbeat *hb)
{
    struct replica_list add, rem, bad;
    pthread_mutex_lock(&hb->mu);
    add = hb->added;
    rem = hb->removed;
    bad = hb->corrupt;
    hb->added = hb->removed = hb->corrupt = (struct replica_list){0};
    pthread_mutex_unlock(&hb->mu);
    Chunkfs__ChunkReplica **pa = malloc((add.n + rem.n + bad.n + 1) * sizeof *pa);
    int rc = pa ? 0 : -ENOMEM;
    if (rc == 0) {
        for (size_t i = 0; i < add.n; i++)
            pa[i] = &add.v[i];
        for (size_t i = 0; i < rem.n; i++)
            pa[add.n + i] = &rem.v[i];
        for (size_t i = 0; i < bad.n; i++)
            pa[add.n + rem.n + i] = &bad.v[i];
        Chunkfs__HeartbeatReq req = CHUNKFS__HEARTBEAT_REQ__INIT;
        uint64_t cap = 0, used = 0;
        chunk_store_usage(hb->opts.store, &cap, &used);
        req.server_id = hb->server_id;
        req.capacity = cap;
        req.used = used;
        req.chunk_count = chunk_store_count(hb->opts.store);
        req.load = hb->opts.service ? chunk_service_load(hb->opts.service) : 0;
        req.added = pa;
        req.n_added = add.n;
        req.removed = pa + add.n;
        req.n_removed = rem.n;
        req.corrupt = pa + add.n + rem.n;
        req.n_corrupt = bad.n;
        ProtobufCMessage *out = NULL;
        rc = meta_call(hb, M_HEARTBEAT, &req.base, &chunkfs__heartbeat_resp__descriptor, &out);
        if (rc == 0) {
            Chunkfs__HeartbeatResp *resp = (Chunkfs__HeartbeatResp *)out;
            rc = resp->err;
            if (rc == 0) run_commands(hb, resp);
            protobuf_c_message_free_unpacked(out, NULL);
        }
    }
    free(pa);
    pthread_mutex_lock(&hb->mu);
    if (rc < 0 && rc != -ENOENT) {
        /* Not delivered: send these again next time. (-ENOENT: a full report follows.) */
        list_restore(&hb->added, &add);
        list_restore(&hb->removed, &rem);
    }
    if (rc < 0) list_restore(&hb->corrupt, &bad);
    pthread_mutex_unlock(&hb->mu);
    free(add.v);
    free(rem.v);
    free(bad.v);
    return rc;
}

static void *hb_main(void *arg)
{
    heartbeat *hb = arg;
    int backoff = 200;
    int last_refusal = 0;
    while (!stopping(hb)) {
        bool reg;
        pthread_mutex_lock(&hb->mu);
        reg = hb->registered;
        pthread_mutex_unlock(&hb->mu);
        if (!reg) {
            int rc = do_register(hb);
            if (rc == 0) rc = full_report(hb);
            if (rc < 0) {
                /* A missing or wrong secret will not fix itself: one clear line, not one per
                 * retry (a wrong cluster id is logged by do_register). */
                if (rc == -CFS_EAUTH && last_refusal != rc)
                    LOG_ERROR("registration refused by the metaservers: %s", cfs_strerror(rc));
                last_refusal = rc;
                LOG_DEBUG("registration: %s; retry in %d ms", cfs_strerror(rc), backoff);
                if (wait_ms(hb, backoff)) break;
                backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
                continue;
            }
            backoff = 200;
            pthread_mutex_lock(&hb->mu);
            hb->registered = true;
            pthread_mutex_unlock(&hb->mu);
        }
        int rc = do_heartbeat(hb);
        if (rc == -ENOENT || rc == -CFS_ECLUSTER) {
            LOG_WARN("metaserver does not know this server (%s): registering again",
                     cfs_strerror(rc));
            pthread_mutex_lock(&hb->mu);
            hb->registered = false;
            pthread_mutex_unlock(&hb->mu);
            continue;
        }
        if (rc < 0) LOG_DEBUG("heartbeat: %s", cfs_strerror(rc));
        if (wait_ms(hb, hb->opts.interval_ms)) break;
    }
    return NULL;
}

static void *replicator_main(void *arg)
{
    heartbeat *hb = arg;
    pthread_mutex_lock(&hb->mu);
    for (;;) {
        while (!hb->stop && hb->rq_count == 0)
            pthread_cond_wait(&hb->cv, &hb->mu);
        if (hb->stop) break;
        struct repl_cmd c = hb->rq[hb->rq_head];
        pthread_mutex_unlock(&hb->mu);
        if (hb->opts.service)
            chunk_service_replicate(hb->opts.service, c.chunk_id, c.version, c.source,
                                    (chunk_token_ref){c.token, c.token_len});
        pthread_mutex_lock(&hb->mu);
        hb->rq_head = (hb->rq_head + 1) % REPL_QUEUE_CAP;
        hb->rq_count--;
    }
    pthread_mutex_unlock(&hb->mu);
    return NULL;
}

/* ------------------------------------------------------------------ lifecycle */

int heartbeat_create(const struct heartbeat_opts *opts, heartbeat **out)
{
    if (!opts || !opts->store || !opts->metas || opts->nmetas == 0 || !opts->address)
        return -EINVAL;
    heartbeat *hb = calloc(1, sizeof *hb);
    if (!hb) return -ENOMEM;
    hb->opts = *opts;
    if (hb->opts.interval_ms <= 0) hb->opts.interval_ms = 1000;
    if (hb->opts.rpc_timeout_ms <= 0) hb->opts.rpc_timeout_ms = 3000;
    if (hb->opts.report_batch == 0) hb->opts.report_batch = 10000;
    pthread_mutex_init(&hb->mu, NULL);
    pthread_cond_init(&hb->cv, NULL);
    hb->metas = calloc(opts->nmetas, sizeof *hb->metas);
    hb->cluster_id = strdup(opts->cluster_id ? opts->cluster_id : "");
    hb->domain = strdup(opts->domain ? opts->domain : "");
    hb->address = strdup(opts->address);
    hb->http_address = strdup(opts->http_address ? opts->http_address : "");
    int rc =
        hb->metas && hb->cluster_id && hb->domain && hb->address && hb->http_address ? 0 : -ENOMEM;
    for (size_t i = 0; rc == 0 && i < opts->nmetas; i++)
        if (!(hb->metas[i] = strdup(opts->metas[i]))) rc = -ENOMEM;
    if (rc == 0) {
        rc = heartbeat_load_server_id(chunk_store_dir(opts->store, 0), &hb->server_id);
        if (rc == -ENOENT) rc = 0;
    }
    if (rc < 0) {
        heartbeat_destroy(hb);
        return rc;
    }
    hb->opts.metas = NULL;
    *out = hb;
    return 0;
}

int heartbeat_start(heartbeat *hb)
{
    int rc = pthread_create(&hb->thread, NULL, hb_main, hb);
    if (rc != 0) return -rc;
    rc = pthread_create(&hb->worker, NULL, replicator_main, hb);
    if (rc != 0) {
        pthread_mutex_lock(&hb->mu);
        hb->stop = true;
        pthread_cond_broadcast(&hb->cv);
        pthread_mutex_unlock(&hb->mu);
        pthread_join(hb->thread, NULL);
        return -rc;
    }
    hb->started = true;
    return 0;
}

void heartbeat_destroy(heartbeat *hb)
{
    if (!hb) return;
    if (hb->started) {
        pthread_mutex_lock(&hb->mu);
        hb->stop = true;
        pthread_cond_broadcast(&hb->cv);
        pthread_mutex_unlock(&hb->mu);
        pthread_join(hb->thread, NULL);
        pthread_join(hb->worker, NULL);
    }
    if (hb->metas)
        for (size_t i = 0; i < hb->opts.nmetas; i++)
            free(hb->metas[i]);
    free(hb->metas);
    free(hb->cluster_id);
    free(hb->domain);
    free(hb->address);
    free(hb->http_address);
    free(hb->added.v);
    free(hb->removed.v);
    free(hb->corrupt.v);
    pthread_mutex_destroy(&hb->mu);
    pthread_cond_destroy(&hb->cv);
    free(hb);
}

uint64_t heartbeat_server_id(heartbeat *hb)
{
    pthread_mutex_lock(&hb->mu);
    uint64_t id = hb->server_id;
    pthread_mutex_unlock(&hb->mu);
    return id;
}

bool heartbeat_registered(heartbeat *hb)
{
    pthread_mutex_lock(&hb->mu);
    bool r = hb->registered;
    pthread_mutex_unlock(&hb->mu);
    return r;
}
