/* Heartbeat against a fake ClusterService on 127.0.0.1 (in this process): an unreachable
 * address and a follower's hint are followed to the leader; the server id is persisted; the
 * full report, incremental added/removed/corrupt lists, delete commands and re-registration
 * after -ENOENT all reach the leader. */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "chunk_procs.h"
#include "chunkserver/chunk_store.h"
#include "chunkserver/heartbeat.h"
#include "common/errors.h"
#include "common/rpc.h"
#include "proto/chunkfs.pb-c.h"

static char g_root[1024];

struct fake_meta {
    pthread_mutex_t mu;
    bool leader;
    char leader_addr[64];
    int registrations;
    uint64_t last_register_id; /* server_id the chunkserver sent */
    char last_register_addr[64];
    int reports_done; /* ReportChunks with last = true */
    size_t reported;  /* replicas in the current full report */
    size_t report_calls;
    int heartbeats;
    uint64_t added[64], removed[64], corrupt[64];
    size_t nadded, nremoved, ncorrupt;
    uint64_t delete_id; /* sent once in a heartbeat reply */
    bool forget;        /* answer the next heartbeat with -ENOENT */
};

static bool has(const uint64_t *v, size_t n, uint64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == id) return true;
    return false;
}

static int reply(const ProtobufCMessage *m, uint8_t **resp, size_t *len)
{
    return rpc_pack(m, resp, len);
}

static int fake_register(void *arg, const char *peer, const uint8_t *req, size_t req_len,
                         uint8_t **resp, size_t *resp_len)
{
    (void)peer;
    struct fake_meta *f = arg;
    Chunkfs__RegisterReq *m = chunkfs__register_req__unpack(NULL, req_len, req);
    if (!m) return -EBADMSG;
    Chunkfs__RegisterResp r = CHUNKFS__REGISTER_RESP__INIT;
    pthread_mutex_lock(&f->mu);
    if (!f->leader) {
        r.err = -CFS_ENOTLEADER;
        r.leader_hint = f->leader_addr;
    } else if (strcmp(m->cluster_id, "hbtest") != 0) {
        r.err = -CFS_ECLUSTER;
    } else {
        f->registrations++;
        f->last_register_id = m->server_id;
        snprintf(f->last_register_addr, sizeof f->last_register_addr, "%s", m->address);
        f->reported = 0;
        r.server_id = 42;
    }
    int rc = reply(&r.base, resp, resp_len);
    pthread_mutex_unlock(&f->mu);
    chunkfs__register_req__free_unpacked(m, NULL);
    return rc;
}

static int fake_report(void *arg, const char *peer, const uint8_t *req, size_t req_len,
                       uint8_t **resp, size_t *resp_len)
{
    (void)peer;
    struct fake_meta *f = arg;
    Chunkfs__ChunkReportReq *m = chunkfs__chunk_report_req__unpack(NULL, req_len, req);
    if (!m) return -EBADMSG;
    Chunkfs__ChunkReportResp r = CHUNKFS__CHUNK_REPORT_RESP__INIT;
    pthread_mutex_lock(&f->mu);
    if (!f->leader || m->server_id != 42) {
        r.err = f->leader ? -ENOENT : -CFS_ENOTLEADER;
        r.leader_hint = f->leader ? "" : f->leader_addr;
    } else {
        f->report_calls++;
        f->reported += m->n_chunks;
        if (m->last) f->reports_done++;
    }
    int rc = reply(&r.base, resp, resp_len);
    pthread_mutex_unlock(&f->mu);
    chunkfs__chunk_report_req__free_unpacked(m, NULL);
    return rc;
}

static int fake_heartbeat(void *arg, const char *peer, const uint8_t *req, size_t req_len,
                          uint8_t **resp, size_t *resp_len)
{
    (void)peer;
    struct fake_meta *f = arg;
    Chunkfs__HeartbeatReq *m = chunkfs__heartbeat_req__unpack(NULL, req_len, req);
    if (!m) return -EBADMSG;
    Chunkfs__HeartbeatResp r = CHUNKFS__HEARTBEAT_RESP__INIT;
    Chunkfs__ChunkReplica del = CHUNKFS__CHUNK_REPLICA__INIT;
    Chunkfs__ChunkReplica *dels[1] = {&del};
    pthread_mutex_lock(&f->mu);
    if (!f->leader) {
        r.err = -CFS_ENOTLEADER;
        r.leader_hint = f->leader_addr;
    } else if (f->forget || m->server_id != 42) {
        f->forget = false;
        r.err = -ENOENT;
    } else {
        f->heartbeats++;
        for (size_t i = 0; i < m->n_added && f->nadded < 64; i++)
            f->added[f->nadded++] = m->added[i]->chunk_id;
        for (size_t i = 0; i < m->n_removed && f->nremoved < 64; i++)
            f->removed[f->nremoved++] = m->removed[i]->chunk_id;
        for (size_t i = 0; i < m->n_corrupt && f->ncorrupt < 64; i++)
            f->corrupt[f->ncorrupt++] = m->corrupt[i]->chunk_id;
        if (f->delete_id) {
            del.chunk_id = f->delete_id;
            r.delete_ = dels;
            r.n_delete_ = 1;
            f->delete_id = 0;
        }
    }
    int rc = reply(&r.base, resp, resp_len);
    pthread_mutex_unlock(&f->mu);
    chunkfs__heartbeat_req__free_unpacked(m, NULL);
    return rc;
}

static rpc_server *start_fake(struct fake_meta *f, char *addr, size_t len)
{
    rpc_server_opts o = {.cq_threads = 1, .handler_threads = 2};
    rpc_server *s = rpc_server_create(&o);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(
        rpc_server_add_unary(s, "/chunkfs.ClusterService/RegisterServer", fake_register, f), 0);
    ck_assert_int_eq(
        rpc_server_add_unary(s, "/chunkfs.ClusterService/ReportChunks", fake_report, f), 0);
    ck_assert_int_eq(
        rpc_server_add_unary(s, "/chunkfs.ClusterService/Heartbeat", fake_heartbeat, f), 0);
    int port = rpc_server_start(s, "127.0.0.1:0");
    ck_assert_int_gt(port, 0);
    snprintf(addr, len, "127.0.0.1:%d", port);
    return s;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Polls `cond` on the fake's state for up to 20 s. */
#define WAIT_FOR(f, cond)                                                                          \
    do {                                                                                           \
        int64_t dl_ = now_ms() + 20000;                                                            \
        bool ok_ = false;                                                                          \
        while (!ok_ && now_ms() < dl_) {                                                           \
            pthread_mutex_lock(&(f)->mu);                                                          \
            ok_ = (cond);                                                                          \
            pthread_mutex_unlock(&(f)->mu);                                                        \
            if (!ok_) usleep(20000);                                                               \
        }                                                                                          \
        ck_assert_msg(ok_, "timed out waiting for " #cond);                                        \
    } while (0)

START_TEST(test_register_report_heartbeat_commands)
{
    rpc_global_init();
    char dir[1100];
    snprintf(dir, sizeof dir, "%s/hb", g_root);
    const char *dirs[1] = {dir};
    chunk_store *cs = NULL;
    ck_assert_int_eq(chunk_store_open(dirs, 1, &cs), 0);
    for (uint64_t id = 1; id <= 3; id++)
        ck_assert_int_eq(chunk_store_begin_write(cs, id, 1, 0), 0);

    struct fake_meta follower = {.mu = PTHREAD_MUTEX_INITIALIZER};
    struct fake_meta leader = {.mu = PTHREAD_MUTEX_INITIALIZER, .leader = true};
    char faddr[64], laddr[64];
    rpc_server *ls = start_fake(&leader, laddr, sizeof laddr);
    snprintf(follower.leader_addr, sizeof follower.leader_addr, "%s", laddr);
    rpc_server *fs = start_fake(&follower, faddr, sizeof faddr);

    const char *metas[2] = {"127.0.0.1:1", faddr}; /* nobody listens on port 1 */
    struct heartbeat_opts o = {
        .store = cs,
        .metas = metas,
        .nmetas = 2,
        .cluster_id = "hbtest",
        .domain = "rack1",
        .address = "127.0.0.1:9999",
        .interval_ms = 100,
        .rpc_timeout_ms = 2000,
        .report_batch = 2, /* 3 replicas: two ReportChunks calls */
    };
    heartbeat *hb = NULL;
    ck_assert_int_eq(heartbeat_create(&o, &hb), 0);
    chunk_store_set_listener(cs, heartbeat_on_chunk_event, hb);
    ck_assert_int_eq(heartbeat_start(hb), 0);

    WAIT_FOR(&leader, leader.reports_done == 1 && leader.heartbeats > 0);
    ck_assert_int_eq(leader.registrations, 1);
    ck_assert_uint_eq(leader.last_register_id, 0);
    ck_assert_str_eq(leader.last_register_addr, "127.0.0.1:9999");
    ck_assert_uint_eq(leader.reported, 3);
    ck_assert_uint_eq(leader.report_calls, 2);
    ck_assert_int_eq(follower.registrations, 0);
    ck_assert_uint_eq(heartbeat_server_id(hb), 42);
    uint64_t saved = 0;
    ck_assert_int_eq(heartbeat_load_server_id(dir, &saved), 0);
    ck_assert_uint_eq(saved, 42);

    /* incremental: a new replica, a delete command, a corrupt replica */
    ck_assert_int_eq(chunk_store_begin_write(cs, 4, 1, 0), 0);
    WAIT_FOR(&leader, has(leader.added, leader.nadded, 4));
    pthread_mutex_lock(&leader.mu);
    leader.delete_id = 2;
    pthread_mutex_unlock(&leader.mu);
    WAIT_FOR(&leader, has(leader.removed, leader.nremoved, 2));
    struct chunk_replica_info inf;
    ck_assert_int_eq(chunk_store_info(cs, 2, &inf), -ENOENT);
    ck_assert_int_eq(chunk_store_quarantine(cs, 3, "test"), 0);
    WAIT_FOR(&leader, has(leader.corrupt, leader.ncorrupt, 3));

    /* the leader forgets us: register again (with the persisted id) and report in full */
    pthread_mutex_lock(&leader.mu);
    leader.forget = true;
    pthread_mutex_unlock(&leader.mu);
    WAIT_FOR(&leader, leader.registrations == 2 && leader.reports_done == 2);
    ck_assert_uint_eq(leader.last_register_id, 42);
    ck_assert_uint_eq(leader.reported, 2); /* chunks 1 and 4 */

    heartbeat_destroy(hb);
    chunk_store_set_listener(cs, NULL, NULL);
    rpc_server_destroy(fs);
    rpc_server_destroy(ls);
    chunk_store_close(cs);
}
END_TEST

START_TEST(test_server_id_file)
{
    char dir[1100];
    snprintf(dir, sizeof dir, "%s/idf", g_root);
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    uint64_t id = 0;
    ck_assert_int_eq(heartbeat_load_server_id(dir, &id), -ENOENT);
    ck_assert_int_eq(heartbeat_save_server_id(dir, 123456789012ull), 0);
    ck_assert_int_eq(heartbeat_load_server_id(dir, &id), 0);
    ck_assert_uint_eq(id, 123456789012ull);
    char path[1200];
    snprintf(path, sizeof path, "%s/server_id", dir);
    FILE *f = fopen(path, "w");
    fputs("12x\n", f);
    fclose(f);
    ck_assert_int_eq(heartbeat_load_server_id(dir, &id), -EBADMSG);
}
END_TEST

int main(void)
{
    if (cs_make_root(g_root, sizeof g_root, "cfs_hb") < 0) return 1;
    Suite *s = suite_create("heartbeat");
    TCase *tc = tcase_create("heartbeat");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_server_id_file);
    tcase_add_test(tc, test_register_report_heartbeat_commands);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    cs_remove_tree(g_root);
    return failed ? 1 : 0;
}
