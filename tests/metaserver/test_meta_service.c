/* The metaserver shell over real RPC, in one process: a single-node metaserver on 127.0.0.1
 * (free port) and fake chunkservers speaking ClusterService. Checks registration, placement
 * over failure domains, replica locations from reports, orphan/stale/deleted replica
 * deletes in heartbeat replies, dead servers, lease recovery, statfs, cluster status, fsck
 * and decommission. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "common/log.h"
#include "common/rpc.h"
#include "common/time_util.h"
#include "metaserver/meta_format.h"
#include "metaserver/meta_server.h"
#include "proto/chunkfs.pb-c.h"

#define GiB (1024ULL * 1024 * 1024)
#define META "/chunkfs.MetaService/Call"

static char dir[256];
static char addr[64];
static meta_server *ms;
static uint64_t req_id = 1;

/* Lease length and dead timeout of the server under test: long by default, so nothing lapses
 * while a test runs slowly on a loaded machine; short for the lease/dead-server case. */
static uint32_t lease_ms = 30000;
static int64_t dead_ms = 60000; /* likewise: fake chunkservers beat only now and then */

static void setup(void)
{
    cfs_log_set_level(CFS_LOG_WARN);
    rpc_global_init();
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/cfs-msvc-XXXXXX", t && *t ? t : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    meta_cluster_params p = {.cluster_id = "svc-test", .chunk_size = 1 << 20, .goal = 2};
    ck_assert_int_eq(meta_format_write(dir, &p), 0);
    raft_peer self = {.id = 1, .addr = "127.0.0.1:0"};
    meta_server_config cfg = {.id = 1,
                              .peers = &self,
                              .n_peers = 1,
                              .data_dir = dir,
                              .listen = "127.0.0.1:0",
                              .dead_timeout_ms = dead_ms,
                              .lease_ms = lease_ms,
                              .tick_ms = 10,
                              .election_ticks = 10};
    int port = 0;
    ck_assert_int_eq(meta_server_create(&cfg, &ms, &port), 0);
    ck_assert_int_eq(meta_server_start(ms), 0);
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
}

static void setup_short_lease(void)
{
    lease_ms = 1000;
    dead_ms = 3000;
    setup();
}

static void teardown(void)
{
    meta_server_destroy(ms);
    rpc_global_shutdown();
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* rpc_unary_pb that retries transport failures (a fresh channel may fail its first
 * connect under load), like every real caller does, for a bounded time. */
static int call_pb(const char *method, const ProtobufCMessage *req,
                   const ProtobufCMessageDescriptor *desc, ProtobufCMessage **resp)
{
    int rc = -ENOTCONN;
    for (int attempt = 0; attempt < 100; attempt++) {
        rc = rpc_unary_pb(addr, method, req, desc, 5000, resp);
        if (rc != -ENOTCONN && rc != -ETIMEDOUT) return rc;
        cfs_sleep_ms(100);
    }
    return rc;
}

/* One MetaService call as uid `uid`; waits (bounded) while there is no leader yet. */
static Chunkfs__MetaResponse *meta_as(Chunkfs__MetaRequest *req, uint32_t uid, uint64_t client)
{
    Chunkfs__Cred cred = CHUNKFS__CRED__INIT;
    cred.uid = uid;
    cred.gid = uid;
    req->cred = &cred;
    req->client_id = client;
    req->request_id = req_id++;
    for (int attempt = 0; attempt < 200; attempt++) {
        ProtobufCMessage *m = NULL;
        int rc = call_pb(META, &req->base, &chunkfs__meta_response__descriptor, &m);
        ck_assert_int_eq(rc, 0);
        Chunkfs__MetaResponse *r = (Chunkfs__MetaResponse *)m;
        if (r->err != -CFS_ENOTLEADER) return r;
        protobuf_c_message_free_unpacked(m, NULL);
        cfs_sleep_ms(50);
    }
    ck_abort_msg("no leader");
    return NULL;
}

static Chunkfs__MetaResponse *meta(Chunkfs__MetaRequest *req)
{
    return meta_as(req, 0, 77);
}

/* Waits until the single node formatted the cluster (mkdir works) and returns /d's inode. */
static uint64_t make_dir(const char *name)
{
    Chunkfs__MetaRequest q = CHUNKFS__META_REQUEST__INIT;
    Chunkfs__MkdirReq mk = CHUNKFS__MKDIR_REQ__INIT;
    mk.parent = 1;
    mk.name = (char *)name;
    mk.mode = 0777;
    q.op_case = CHUNKFS__META_REQUEST__OP_MKDIR;
    q.mkdir = &mk;
    Chunkfs__MetaResponse *r = meta(&q);
    ck_assert_int_eq(r->err, 0);
    uint64_t ino = r->attr->ino;
    chunkfs__meta_response__free_unpacked(r, NULL);
    return ino;
}

static int reg(const char *cluster, const char *address, const char *domain, uint64_t id,
               uint64_t *out_id)
{
    Chunkfs__RegisterReq q = CHUNKFS__REGISTER_REQ__INIT;
    q.cluster_id = (char *)cluster;
    q.address = (char *)address;
    q.domain = (char *)domain;
    q.server_id = id;
    q.capacity = 100 * GiB;
    q.used = GiB;
    ProtobufCMessage *m = NULL;
    int rc = call_pb("/chunkfs.ClusterService/RegisterServer", &q.base,
                     &chunkfs__register_resp__descriptor, &m);
    ck_assert_int_eq(rc, 0);
    Chunkfs__RegisterResp *r = (Chunkfs__RegisterResp *)m;
    int err = r->err;
    if (out_id) *out_id = r->server_id;
    protobuf_c_message_free_unpacked(m, NULL);
    return err;
}

/* Heartbeat with optional added replicas; returns err and copies up to 16 deletes. */
typedef struct del {
    uint64_t chunk_id, version;
} del;

/* Replicate commands seen by beat() (appended; the test resets n_repl). */
static del repl[16];
static char repl_src[16][64];
static uint64_t repl_to[16];
static size_t n_repl;

static int beat(uint64_t id, const Chunkfs__ChunkReplica *added, size_t n_added, del *dels,
                size_t *n_dels)
{
    Chunkfs__HeartbeatReq q = CHUNKFS__HEARTBEAT_REQ__INIT;
    Chunkfs__ChunkReplica *ptrs[8];
    for (size_t i = 0; i < n_added; i++)
        ptrs[i] = (Chunkfs__ChunkReplica *)&added[i];
    q.server_id = id;
    q.capacity = 100 * GiB;
    q.used = GiB;
    q.n_added = n_added;
    q.added = ptrs;
    ProtobufCMessage *m = NULL;
    int rc = call_pb("/chunkfs.ClusterService/Heartbeat", &q.base,
                     &chunkfs__heartbeat_resp__descriptor, &m);
    ck_assert_int_eq(rc, 0);
    Chunkfs__HeartbeatResp *r = (Chunkfs__HeartbeatResp *)m;
    int err = r->err;
    for (size_t i = 0; i < r->n_replicate && n_repl < 16; i++) {
        repl[n_repl].chunk_id = r->replicate[i]->chunk_id;
        repl[n_repl].version = r->replicate[i]->version;
        snprintf(repl_src[n_repl], sizeof(repl_src[0]), "%s", r->replicate[i]->source);
        repl_to[n_repl++] = id;
    }
    if (n_dels) {
        *n_dels = 0;
        for (size_t i = 0; i < r->n_delete_ && i < 16; i++) {
            dels[i].chunk_id = r->delete_[i]->chunk_id;
            dels[i].version = r->delete_[i]->version;
            (*n_dels)++;
        }
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return err;
}

static Chunkfs__ChunkReplica replica(uint64_t chunk, uint64_t version, uint64_t length)
{
    Chunkfs__ChunkReplica r = CHUNKFS__CHUNK_REPLICA__INIT;
    r.chunk_id = chunk;
    r.version = version;
    r.length = length;
    return r;
}

/* Heartbeats from `id` until a delete of (chunk, version) arrives; false after ~20 s. */
static bool await_delete(uint64_t id, uint64_t chunk, uint64_t version, uint64_t keepalive)
{
    for (int i = 0; i < 200; i++) {
        del d[16];
        size_t n = 0;
        ck_assert_int_eq(beat(id, NULL, 0, d, &n), 0);
        if (keepalive) ck_assert_int_eq(beat(keepalive, NULL, 0, NULL, NULL), 0);
        for (size_t k = 0; k < n; k++)
            if (d[k].chunk_id == chunk && d[k].version == version) return true;
        cfs_sleep_ms(100);
    }
    return false;
}

static uint64_t create_for_write(uint64_t parent, const char *name, uint64_t client,
                                 uint64_t *lease)
{
    Chunkfs__MetaRequest q = CHUNKFS__META_REQUEST__INIT;
    Chunkfs__CreateReq c = CHUNKFS__CREATE_REQ__INIT;
    c.parent = parent;
    c.name = (char *)name;
    c.mode = 0644;
    c.open_write = true;
    c.client_id = client;
    q.op_case = CHUNKFS__META_REQUEST__OP_CREATE;
    q.create = &c;
    Chunkfs__MetaResponse *r = meta_as(&q, 0, client);
    ck_assert_int_eq(r->err, 0);
    ck_assert_ptr_nonnull(r->open);
    uint64_t ino = r->open->attr->ino;
    *lease = r->open->lease_id;
    ck_assert_uint_ne(*lease, 0);
    chunkfs__meta_response__free_unpacked(r, NULL);
    return ino;
}

static int open_write(uint64_t ino, uint64_t client, uint64_t *lease)
{
    Chunkfs__MetaRequest q = CHUNKFS__META_REQUEST__INIT;
    Chunkfs__OpenReq o = CHUNKFS__OPEN_REQ__INIT;
    o.ino = ino;
    o.flags = O_WRONLY;
    o.client_id = client;
    q.op_case = CHUNKFS__META_REQUEST__OP_OPEN;
    q.open = &o;
    Chunkfs__MetaResponse *r = meta_as(&q, 0, client);
    int err = r->err;
    if (!err) *lease = r->open->lease_id;
    chunkfs__meta_response__free_unpacked(r, NULL);
    return err;
}

/* alloc_chunk: returns the response (caller frees); asserts success. */
static Chunkfs__ChunkInfo *alloc(uint64_t ino, uint64_t lease, uint32_t index, uint64_t client,
                                 Chunkfs__MetaResponse **keep)
{
    Chunkfs__MetaRequest q = CHUNKFS__META_REQUEST__INIT;
    Chunkfs__AllocChunkReq a = CHUNKFS__ALLOC_CHUNK_REQ__INIT;
    a.ino = ino;
    a.lease_id = lease;
    a.index = index;
    q.op_case = CHUNKFS__META_REQUEST__OP_ALLOC_CHUNK;
    q.alloc_chunk = &a;
    Chunkfs__MetaResponse *r = meta_as(&q, 0, client);
    ck_assert_msg(r->err == 0, "alloc: %d %s", r->err, r->errmsg);
    ck_assert_uint_eq(r->chunks->n_chunks, 1);
    *keep = r;
    return r->chunks->chunks[0];
}

static void commit(uint64_t ino, uint64_t lease, const Chunkfs__ChunkInfo *ci, uint64_t len,
                   uint64_t client)
{
    Chunkfs__MetaRequest q = CHUNKFS__META_REQUEST__INIT;
    Chunkfs__CommitWriteReq cw = CHUNKFS__COMMIT_WRITE_REQ__INIT;
    Chunkfs__ChunkCommit cc = CHUNKFS__CHUNK_COMMIT__INIT, *ccp = &cc;
    cc.index = ci->index;
    cc.chunk_id = ci->chunk_id;
    cc.version = ci->version;
    cc.length = len;
    cw.ino = ino;
    cw.lease_id = lease;
    cw.n_chunks = 1;
    cw.chunks = &ccp;
    cw.size = (uint64_t)ci->index * (1 << 20) + len;
    q.op_case = CHUNKFS__META_REQUEST__OP_COMMIT_WRITE;
    q.commit_write = &cw;
    Chunkfs__MetaResponse *r = meta_as(&q, 0, client);
    ck_assert_msg(r->err == 0, "commit: %d %s", r->err, r->errmsg);
    chunkfs__meta_response__free_unpacked(r, NULL);
}

static void close_file(uint64_t ino, uint64_t lease, uint64_t client)
{
    Chunkfs__MetaRequest q = CHUNKFS__META_REQUEST__INIT;
    Chunkfs__CloseReq c = CHUNKFS__CLOSE_REQ__INIT;
    c.ino = ino;
    c.lease_id = lease;
    q.op_case = CHUNKFS__META_REQUEST__OP_CLOSE;
    q.close = &c;
    Chunkfs__MetaResponse *r = meta_as(&q, 0, client);
    ck_assert_msg(r->err == 0, "close: %d", r->err);
    chunkfs__meta_response__free_unpacked(r, NULL);
}

static Chunkfs__MetaResponse *get_chunks(uint64_t ino)
{
    Chunkfs__MetaRequest q = CHUNKFS__META_REQUEST__INIT;
    Chunkfs__GetChunksReq g = CHUNKFS__GET_CHUNKS_REQ__INIT;
    g.ino = ino;
    q.op_case = CHUNKFS__META_REQUEST__OP_GET_CHUNKS;
    q.get_chunks = &g;
    Chunkfs__MetaResponse *r = meta(&q);
    ck_assert_int_eq(r->err, 0);
    return r;
}

START_TEST(register_place_locate_status)
{
    uint64_t d = make_dir("d");
    uint64_t ids[3];
    ck_assert_int_eq(reg("svc-test", "127.0.0.1:9001", "a", 0, &ids[0]), 0);
    ck_assert_int_eq(reg("svc-test", "127.0.0.1:9002", "a", 0, &ids[1]), 0);
    ck_assert_int_eq(reg("svc-test", "127.0.0.1:9003", "b", 0, &ids[2]), 0);
    ck_assert(ids[0] && ids[1] && ids[2] && ids[0] != ids[1] && ids[1] != ids[2] &&
              ids[0] != ids[2]);
    uint64_t again;
    ck_assert_int_eq(reg("svc-test", "127.0.0.1:9001", "a", ids[0], &again), 0);
    ck_assert_uint_eq(again, ids[0]);
    ck_assert_int_eq(reg("other-cluster", "127.0.0.1:9004", "a", 0, NULL), -CFS_ECLUSTER);
    ck_assert_int_eq(reg("svc-test", "", "a", 0, NULL), -EINVAL);
    ck_assert_int_eq(beat(424242, NULL, 0, NULL, NULL), -ENOENT);

    uint64_t lease, ino = create_for_write(d, "f", 5, &lease);
    Chunkfs__MetaResponse *keep;
    Chunkfs__ChunkInfo *ci = alloc(ino, lease, 0, 5, &keep);
    ck_assert_uint_eq(ci->version, 1);
    ck_assert_uint_eq(ci->base_version, 0);
    ck_assert_uint_eq(ci->n_replicas, 2); /* goal 2 */
    /* spread over domains: one of them is the only server in "b" */
    ck_assert(ci->replicas[0]->server_id == ids[2] || ci->replicas[1]->server_id == ids[2]);
    ck_assert_str_ne(ci->replicas[0]->domain, ci->replicas[1]->domain);
    uint64_t chunk = ci->chunk_id, t0 = ci->replicas[0]->server_id, t1 = ci->replicas[1]->server_id;

    /* not reported yet: no locations */
    Chunkfs__MetaResponse *g = get_chunks(ino);
    ck_assert_uint_eq(g->chunks->n_chunks, 1);
    ck_assert_uint_eq(g->chunks->chunks[0]->n_replicas, 0);
    chunkfs__meta_response__free_unpacked(g, NULL);

    Chunkfs__ChunkReplica rep = replica(chunk, 1, 1000);
    ck_assert_int_eq(beat(t0, &rep, 1, NULL, NULL), 0);
    ck_assert_int_eq(beat(t1, &rep, 1, NULL, NULL), 0);
    commit(ino, lease, ci, 1000, 5);
    chunkfs__meta_response__free_unpacked(keep, NULL);
    g = get_chunks(ino);
    ck_assert_uint_eq(g->chunks->size, 1000);
    ck_assert_uint_eq(g->chunks->chunks[0]->length, 1000);
    ck_assert_uint_eq(g->chunks->chunks[0]->n_replicas, 2);
    uint64_t r0 = g->chunks->chunks[0]->replicas[0]->server_id,
             r1 = g->chunks->chunks[0]->replicas[1]->server_id;
    ck_assert((r0 == t0 && r1 == t1) || (r0 == t1 && r1 == t0));
    ck_assert_str_ne(g->chunks->chunks[0]->replicas[0]->address, "");
    chunkfs__meta_response__free_unpacked(g, NULL);

    /* statfs: totals from the registry */
    Chunkfs__MetaRequest q = CHUNKFS__META_REQUEST__INIT;
    Chunkfs__StatfsReq sf = CHUNKFS__STATFS_REQ__INIT;
    q.op_case = CHUNKFS__META_REQUEST__OP_STATFS;
    q.statfs = &sf;
    Chunkfs__MetaResponse *r = meta(&q);
    ck_assert_int_eq(r->err, 0);
    ck_assert_uint_eq(r->statfs->total_bytes, 300 * GiB);
    ck_assert_uint_eq(r->statfs->free_bytes + r->statfs->used_bytes, 300 * GiB);
    chunkfs__meta_response__free_unpacked(r, NULL);

    /* fsck: the one chunk has its 2 replicas */
    Chunkfs__FsckReq fr = CHUNKFS__FSCK_REQ__INIT;
    q.op_case = CHUNKFS__META_REQUEST__OP_FSCK;
    q.fsck = &fr;
    r = meta(&q);
    ck_assert_int_eq(r->err, 0);
    ck_assert_uint_eq(r->fsck->chunks, 1);
    ck_assert_uint_eq(r->fsck->healthy, 1);
    ck_assert_uint_eq(r->fsck->missing, 0);
    chunkfs__meta_response__free_unpacked(r, NULL);

    /* decommission: root only */
    Chunkfs__AdminReq ad = CHUNKFS__ADMIN_REQ__INIT;
    char idtext[32];
    snprintf(idtext, sizeof(idtext), "%llu", (unsigned long long)ids[1]);
    ad.op = "decommission";
    ad.arg = idtext;
    q.op_case = CHUNKFS__META_REQUEST__OP_ADMIN;
    q.admin = &ad;
    r = meta_as(&q, 1000, 77);
    ck_assert_int_eq(r->err, -EPERM);
    chunkfs__meta_response__free_unpacked(r, NULL);
    r = meta(&q);
    ck_assert_int_eq(r->err, 0);
    chunkfs__meta_response__free_unpacked(r, NULL);
    ad.arg = "not-a-number";
    r = meta(&q);
    ck_assert_int_eq(r->err, -EINVAL);
    chunkfs__meta_response__free_unpacked(r, NULL);

    /* status: one metaserver (leader 1), three chunkservers, one draining */
    Chunkfs__ClusterStatusReq cs = CHUNKFS__CLUSTER_STATUS_REQ__INIT;
    q.op_case = CHUNKFS__META_REQUEST__OP_CLUSTER_STATUS;
    q.cluster_status = &cs;
    r = meta(&q);
    ck_assert_int_eq(r->err, 0);
    ck_assert_str_eq(r->cluster_status->cluster_id, "svc-test");
    ck_assert_uint_eq(r->cluster_status->leader_id, 1);
    ck_assert_uint_eq(r->cluster_status->n_metaservers, 1);
    ck_assert_str_eq(r->cluster_status->metaservers[0]->role, "leader");
    ck_assert_uint_eq(r->cluster_status->n_chunkservers, 3);
    ck_assert_uint_eq(r->cluster_status->files, 1);
    int draining = 0;
    for (size_t i = 0; i < 3; i++) {
        const Chunkfs__ChunkserverStatus *s = r->cluster_status->chunkservers[i];
        if (strcmp(s->state, "draining") == 0) {
            ck_assert_uint_eq(s->id, ids[1]);
            draining++;
        } else {
            ck_assert_str_eq(s->state, "alive");
        }
    }
    ck_assert_int_eq(draining, 1);
    chunkfs__meta_response__free_unpacked(r, NULL);

    /* a new chunk avoids the draining server */
    for (uint32_t idx = 1; idx < 6; idx++) {
        Chunkfs__ChunkInfo *c2 = alloc(ino, lease, idx, 5, &keep);
        for (size_t k = 0; k < c2->n_replicas; k++)
            ck_assert_uint_ne(c2->replicas[k]->server_id, ids[1]);
        chunkfs__meta_response__free_unpacked(keep, NULL);
    }
}
END_TEST

START_TEST(orphan_stale_and_deleted_replicas)
{
    uint64_t d = make_dir("d");
    uint64_t a, b;
    ck_assert_int_eq(reg("svc-test", "127.0.0.1:9101", "", 0, &a), 0);
    ck_assert_int_eq(reg("svc-test", "127.0.0.1:9102", "", 0, &b), 0);
    /* a chunk no file references is deleted */
    Chunkfs__ChunkReplica orphan = replica(777777, 3, 10);
    ck_assert_int_eq(beat(a, &orphan, 1, NULL, NULL), 0);
    ck_assert(await_delete(a, 777777, 3, b));

    uint64_t lease, ino = create_for_write(d, "f", 6, &lease);
    Chunkfs__MetaResponse *keep;
    Chunkfs__ChunkInfo *ci = alloc(ino, lease, 0, 6, &keep);
    uint64_t chunk = ci->chunk_id;
    Chunkfs__ChunkReplica v1 = replica(chunk, 1, 100);
    ck_assert_int_eq(beat(a, &v1, 1, NULL, NULL), 0);
    ck_assert_int_eq(beat(b, &v1, 1, NULL, NULL), 0);
    commit(ino, lease, ci, 100, 6);
    chunkfs__meta_response__free_unpacked(keep, NULL);
    close_file(ino, lease, 6);
    /* rewrite: version 2 reaches a only */
    ck_assert_int_eq(open_write(ino, 6, &lease), 0);
    ci = alloc(ino, lease, 0, 6, &keep);
    ck_assert_uint_eq(ci->version, 2);
    ck_assert_uint_eq(ci->base_version, 1);
    ck_assert_uint_eq(ci->n_replicas, 2); /* existing holders */
    Chunkfs__ChunkReplica v2 = replica(chunk, 2, 200);
    ck_assert_int_eq(beat(a, &v2, 1, NULL, NULL), 0);
    commit(ino, lease, ci, 200, 6);
    chunkfs__meta_response__free_unpacked(keep, NULL);
    /* while the write is open, b's version 1 is not stale yet */
    del dd[16];
    size_t n = 0;
    for (int i = 0; i < 15; i++) {
        ck_assert_int_eq(beat(b, NULL, 0, dd, &n), 0);
        ck_assert_uint_eq(n, 0);
        cfs_sleep_ms(100);
    }
    close_file(ino, lease, 6);
    ck_assert(await_delete(b, chunk, 1, a));
    /* readers only see a */
    Chunkfs__MetaResponse *g = get_chunks(ino);
    ck_assert_uint_eq(g->chunks->chunks[0]->n_replicas, 1);
    ck_assert_uint_eq(g->chunks->chunks[0]->replicas[0]->server_id, a);
    chunkfs__meta_response__free_unpacked(g, NULL);

    /* unlink: the chunk goes from the deleted queue to a's heartbeat */
    Chunkfs__MetaRequest q = CHUNKFS__META_REQUEST__INIT;
    Chunkfs__UnlinkReq u = CHUNKFS__UNLINK_REQ__INIT;
    u.parent = d;
    u.name = "f";
    q.op_case = CHUNKFS__META_REQUEST__OP_UNLINK;
    q.unlink = &u;
    Chunkfs__MetaResponse *r = meta(&q);
    ck_assert_int_eq(r->err, 0);
    chunkfs__meta_response__free_unpacked(r, NULL);
    ck_assert(await_delete(a, chunk, 0, b) || await_delete(a, chunk, 2, b));
}
END_TEST

START_TEST(dead_server_and_lease_recovery)
{
    uint64_t d = make_dir("d");
    uint64_t a, b;
    ck_assert_int_eq(reg("svc-test", "127.0.0.1:9201", "", 0, &a), 0);
    ck_assert_int_eq(reg("svc-test", "127.0.0.1:9202", "", 0, &b), 0);
    uint64_t lease, ino = create_for_write(d, "f", 8, &lease);
    Chunkfs__MetaResponse *keep;
    Chunkfs__ChunkInfo *ci = alloc(ino, lease, 0, 8, &keep);
    Chunkfs__ChunkReplica ra = replica(ci->chunk_id, 1, 500), rb = replica(ci->chunk_id, 1, 300);
    chunkfs__meta_response__free_unpacked(keep, NULL);
    ck_assert_int_eq(beat(a, &ra, 1, NULL, NULL), 0);
    ck_assert_int_eq(beat(b, &rb, 1, NULL, NULL), 0);
    /* client 8 also holds a write lock on the file */
    Chunkfs__MetaRequest lq = CHUNKFS__META_REQUEST__INIT;
    Chunkfs__LockReq lk = CHUNKFS__LOCK_REQ__INIT;
    lk.ino = ino;
    lk.client_id = 8;
    lk.owner = 1;
    lk.type = 2;
    lk.end = UINT64_MAX;
    lq.op_case = CHUNKFS__META_REQUEST__OP_LOCK;
    lq.lock = &lk;
    Chunkfs__MetaResponse *lr = meta_as(&lq, 0, 8);
    ck_assert_int_eq(lr->err, 0);
    chunkfs__meta_response__free_unpacked(lr, NULL);
    lk.client_id = 9;
    lr = meta_as(&lq, 0, 9);
    ck_assert_int_eq(lr->err, -EAGAIN);
    chunkfs__meta_response__free_unpacked(lr, NULL);
    /* another client cannot write while the lease lives */
    uint64_t l2 = 0;
    ck_assert_int_eq(open_write(ino, 9, &l2), -CFS_ELEASE);
    /* client 8 vanishes: the lease (1 s) expires and the leader recovers it, dropping the
     * client's locks too (the lock is polled, not the file: an open by client 9 would take
     * the expired lease over before recovery) */
    int64_t deadline = cfs_mono_ms() + 20000;
    int err = -EAGAIN;
    while (err == -EAGAIN && cfs_mono_ms() < deadline) {
        ck_assert_int_eq(beat(a, NULL, 0, NULL, NULL), 0);
        ck_assert_int_eq(beat(b, NULL, 0, NULL, NULL), 0);
        cfs_sleep_ms(200);
        lr = meta_as(&lq, 0, 9);
        err = lr->err;
        chunkfs__meta_response__free_unpacked(lr, NULL);
    }
    ck_assert_int_eq(err, 0);
    ck_assert_int_eq(open_write(ino, 9, &l2), 0);
    ck_assert_uint_ne(l2, lease);
    Chunkfs__MetaResponse *g = get_chunks(ino);
    ck_assert_uint_eq(g->chunks->n_chunks, 1);
    ck_assert_uint_eq(g->chunks->chunks[0]->version, 1);
    ck_assert_uint_eq(g->chunks->chunks[0]->n_replicas, 2);
    chunkfs__meta_response__free_unpacked(g, NULL);

    /* b stops beating: dead after 3 s; its heartbeat then asks it to register */
    deadline = cfs_mono_ms() + 15000;
    bool dead = false;
    while (!dead && cfs_mono_ms() < deadline) {
        ck_assert_int_eq(beat(a, NULL, 0, NULL, NULL), 0);
        Chunkfs__MetaRequest q = CHUNKFS__META_REQUEST__INIT;
        Chunkfs__ClusterStatusReq cs = CHUNKFS__CLUSTER_STATUS_REQ__INIT;
        q.op_case = CHUNKFS__META_REQUEST__OP_CLUSTER_STATUS;
        q.cluster_status = &cs;
        Chunkfs__MetaResponse *r = meta(&q);
        ck_assert_int_eq(r->err, 0);
        for (size_t i = 0; i < r->cluster_status->n_chunkservers; i++) {
            const Chunkfs__ChunkserverStatus *s = r->cluster_status->chunkservers[i];
            if (s->id == b && strcmp(s->state, "dead") == 0) dead = true;
            if (s->id == a) ck_assert_str_eq(s->state, "alive");
        }
        chunkfs__meta_response__free_unpacked(r, NULL);
        cfs_sleep_ms(200);
    }
    ck_assert(dead);
    ck_assert_int_eq(beat(b, NULL, 0, NULL, NULL), -ENOENT);
    uint64_t again;
    ck_assert_int_eq(reg("svc-test", "127.0.0.1:9202", "", b, &again), 0);
    ck_assert_uint_eq(again, b);
    ck_assert_int_eq(beat(b, NULL, 0, NULL, NULL), 0);
}
END_TEST

START_TEST(bump_before_report_uses_last_allocation)
{
    uint64_t d = make_dir("d");
    uint64_t a, b, c;
    ck_assert_int_eq(reg("svc-test", "127.0.0.1:9301", "", 0, &a), 0);
    ck_assert_int_eq(reg("svc-test", "127.0.0.1:9302", "", 0, &b), 0);
    ck_assert_int_eq(reg("svc-test", "127.0.0.1:9303", "", 0, &c), 0);
    uint64_t lease, ino = create_for_write(d, "f", 4, &lease);
    Chunkfs__MetaResponse *keep;
    Chunkfs__ChunkInfo *ci = alloc(ino, lease, 0, 4, &keep);
    ck_assert_uint_eq(ci->n_replicas, 2);
    uint64_t t0 = ci->replicas[0]->server_id, t1 = ci->replicas[1]->server_id;
    chunkfs__meta_response__free_unpacked(keep, NULL);
    /* t1 failed; nothing reported yet: the bump keeps t0 from the last allocation */
    Chunkfs__MetaRequest q = CHUNKFS__META_REQUEST__INIT;
    Chunkfs__AllocChunkReq ar = CHUNKFS__ALLOC_CHUNK_REQ__INIT;
    ar.ino = ino;
    ar.lease_id = lease;
    ar.index = 0;
    ar.n_exclude_servers = 1;
    ar.exclude_servers = &t1;
    q.op_case = CHUNKFS__META_REQUEST__OP_ALLOC_CHUNK;
    q.alloc_chunk = &ar;
    Chunkfs__MetaResponse *r = meta_as(&q, 0, 4);
    ck_assert_int_eq(r->err, 0);
    ci = r->chunks->chunks[0];
    ck_assert_uint_eq(ci->version, 2);
    ck_assert_uint_eq(ci->base_version, 1);
    ck_assert_uint_eq(ci->n_replicas, 1);
    ck_assert_uint_eq(ci->replicas[0]->server_id, t0);
    chunkfs__meta_response__free_unpacked(r, NULL);
    /* excluding the last one too: no servers (nothing changes) */
    ar.exclude_servers = &t0;
    r = meta_as(&q, 0, 4);
    ck_assert_int_eq(r->err, -CFS_ENOSERVERS);
    chunkfs__meta_response__free_unpacked(r, NULL);
    (void)c;
}
END_TEST

START_TEST(repair_after_server_death)
{
    uint64_t d = make_dir("d");
    uint64_t ids[3];
    ck_assert_int_eq(reg("svc-test", "127.0.0.1:9401", "", 0, &ids[0]), 0);
    ck_assert_int_eq(reg("svc-test", "127.0.0.1:9402", "", 0, &ids[1]), 0);
    ck_assert_int_eq(reg("svc-test", "127.0.0.1:9403", "", 0, &ids[2]), 0);
    uint64_t lease, ino = create_for_write(d, "f", 3, &lease);
    Chunkfs__MetaResponse *keep;
    Chunkfs__ChunkInfo *ci = alloc(ino, lease, 0, 3, &keep);
    ck_assert_uint_eq(ci->n_replicas, 2);
    uint64_t chunk = ci->chunk_id, t0 = ci->replicas[0]->server_id, t1 = ci->replicas[1]->server_id;
    char t1_addr[64];
    snprintf(t1_addr, sizeof(t1_addr), "%s", ci->replicas[1]->address);
    uint64_t spare = ids[0] != t0 && ids[0] != t1   ? ids[0]
                     : ids[1] != t0 && ids[1] != t1 ? ids[1]
                                                    : ids[2];
    Chunkfs__ChunkReplica rep = replica(chunk, 1, 4096);
    ck_assert_int_eq(beat(t0, &rep, 1, NULL, NULL), 0);
    ck_assert_int_eq(beat(t1, &rep, 1, NULL, NULL), 0);
    commit(ino, lease, ci, 4096, 3);
    chunkfs__meta_response__free_unpacked(keep, NULL);
    close_file(ino, lease, 3);
    /* t0 dies; the spare is told to copy the chunk from t1 */
    n_repl = 0;
    int64_t deadline = cfs_mono_ms() + 30000;
    bool told = false;
    while (!told && cfs_mono_ms() < deadline) {
        ck_assert_int_eq(beat(t1, NULL, 0, NULL, NULL), 0);
        ck_assert_int_eq(beat(spare, NULL, 0, NULL, NULL), 0);
        for (size_t i = 0; i < n_repl; i++) {
            ck_assert_uint_eq(repl_to[i], spare);
            ck_assert_uint_eq(repl[i].chunk_id, chunk);
            ck_assert_uint_eq(repl[i].version, 1);
            ck_assert_str_eq(repl_src[i], t1_addr);
            told = true;
        }
        cfs_sleep_ms(200);
    }
    ck_assert(told);
    /* the copy lands and is reported: the chunk is healthy again, nothing more scheduled */
    ck_assert_int_eq(beat(spare, &rep, 1, NULL, NULL), 0);
    Chunkfs__MetaResponse *g = get_chunks(ino);
    ck_assert_uint_eq(g->chunks->chunks[0]->n_replicas, 2);
    chunkfs__meta_response__free_unpacked(g, NULL);
    n_repl = 0;
    for (int i = 0; i < 30; i++) {
        ck_assert_int_eq(beat(t1, NULL, 0, NULL, NULL), 0);
        ck_assert_int_eq(beat(spare, NULL, 0, NULL, NULL), 0);
        cfs_sleep_ms(200);
    }
    ck_assert_uint_eq(n_repl, 0);
}
END_TEST

START_TEST(malformed_requests)
{
    (void)make_dir("d");
    uint8_t junk[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01};
    const char *methods[] = {"/chunkfs.ClusterService/RegisterServer",
                             "/chunkfs.ClusterService/Heartbeat",
                             "/chunkfs.ClusterService/ReportChunks", META};
    for (size_t i = 0; i < 4; i++) {
        uint8_t *resp = NULL;
        size_t len = 0;
        int rc = -ENOTCONN;
        for (int attempt = 0; attempt < 100 && rc == -ENOTCONN; attempt++) {
            rc = rpc_unary(addr, methods[i], junk, sizeof(junk), 5000, &resp, &len);
            if (rc == -ENOTCONN) cfs_sleep_ms(100);
        }
        ck_assert_int_eq(rc, 0);
        /* every response type has err as field 1 */
        Chunkfs__ChunkReportResp *r = chunkfs__chunk_report_resp__unpack(NULL, len, resp);
        ck_assert_ptr_nonnull(r);
        ck_assert_int_eq(r->err, -EINVAL);
        chunkfs__chunk_report_resp__free_unpacked(r, NULL);
        free(resp);
    }
    /* a report from an unknown server */
    Chunkfs__ChunkReportReq rq = CHUNKFS__CHUNK_REPORT_REQ__INIT;
    rq.server_id = 99;
    rq.last = true;
    ProtobufCMessage *m = NULL;
    ck_assert_int_eq(call_pb("/chunkfs.ClusterService/ReportChunks", &rq.base,
                             &chunkfs__chunk_report_resp__descriptor, &m),
                     0);
    ck_assert_int_eq(((Chunkfs__ChunkReportResp *)m)->err, -ENOENT);
    protobuf_c_message_free_unpacked(m, NULL);
    /* a report batch over 100000 replicas is refused as a whole */
    size_t n = 100001;
    Chunkfs__ChunkReplica *reps = calloc(n, sizeof(*reps));
    Chunkfs__ChunkReplica **ptrs = calloc(n, sizeof(*ptrs));
    ck_assert(reps && ptrs);
    for (size_t i = 0; i < n; i++) {
        reps[i] = replica(i + 1, 1, 0);
        ptrs[i] = &reps[i];
    }
    rq.n_chunks = n;
    rq.chunks = ptrs;
    ck_assert_int_eq(call_pb("/chunkfs.ClusterService/ReportChunks", &rq.base,
                             &chunkfs__chunk_report_resp__descriptor, &m),
                     0);
    ck_assert_int_eq(((Chunkfs__ChunkReportResp *)m)->err, -E2BIG);
    protobuf_c_message_free_unpacked(m, NULL);
    free(reps);
    free(ptrs);
    /* a registration whose address holds a NUL byte */
    Chunkfs__RegisterReq q = CHUNKFS__REGISTER_REQ__INIT;
    q.cluster_id = (char *)"";
    q.address = (char *)"127.0.0.1:9X";
    uint8_t *buf;
    size_t len;
    ck_assert_int_eq(rpc_pack(&q.base, &buf, &len), 0);
    *(uint8_t *)memchr(buf, 'X', len) = 0;
    uint8_t *resp = NULL;
    size_t rlen = 0;
    ck_assert_int_eq(
        rpc_unary(addr, "/chunkfs.ClusterService/RegisterServer", buf, len, 5000, &resp, &rlen), 0);
    Chunkfs__RegisterResp *rr = chunkfs__register_resp__unpack(NULL, rlen, resp);
    ck_assert_ptr_nonnull(rr);
    ck_assert_int_eq(rr->err, -EINVAL);
    chunkfs__register_resp__free_unpacked(rr, NULL);
    free(resp);
    free(buf);
    /* the server still works */
    (void)make_dir("e");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("meta_service");
    TCase *tc = tcase_create("service");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, register_place_locate_status);
    tcase_add_test(tc, orphan_stale_and_deleted_replicas);
    tcase_add_test(tc, bump_before_report_uses_last_allocation);
    tcase_add_test(tc, malformed_requests);
    suite_add_tcase(s, tc);
    TCase *tl = tcase_create("lease");
    tcase_add_checked_fixture(tl, setup_short_lease, teardown);
    tcase_set_timeout(tl, 60);
    tcase_add_test(tl, dead_server_and_lease_recovery);
    tcase_add_test(tl, repair_after_server_death);
    suite_add_tcase(s, tl);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
