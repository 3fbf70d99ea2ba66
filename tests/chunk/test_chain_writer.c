/* chain_writer against an in-process fake downstream (loopback gRPC): many streams from
 * several threads, served by the reused sender threads, each get their own downstream's
 * verdict with all their bytes delivered in order; end_input lets the downstream answer
 * before finish is called; abort and an unreachable downstream end without hanging. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunkserver/chain_writer.h"
#include "chunkserver/chunk_client.h"
#include "common/rpc.h"
#include "proto/chunkfs.pb-c.h"

#define THREADS 4
#define STREAMS_PER_THREAD 25
#define TIMEOUT_MS 30000

static char g_addr[64];

/* The byte at offset `off` of stream `id`'s data. */
static uint8_t pattern(uint64_t id, uint64_t off)
{
    return (uint8_t)(id * 131 + off * 7);
}

/* The fake replica: the header names the stream (chunk_id) and the bytes to expect
 * (base_version); data must arrive in order with the pattern. Replies err = -(id % 7) with
 * failed_address "fake-<id>", -EIO when the bytes were wrong, -EINVAL for an empty stream. */
static int fake_write(void *arg, rpc_call *call)
{
    (void)arg;
    uint64_t id = 0, want = 0, got = 0;
    bool bad = false, first = true;
    for (;;) {
        uint8_t *buf;
        size_t len;
        int r = rpc_call_recv(call, &buf, &len);
        if (r < 0) return r;
        if (r == 0) break;
        Chunkfs__WriteReq *m = chunkfs__write_req__unpack(NULL, len, buf);
        free(buf);
        if (!m || (first != (m->header != NULL))) {
            bad = true;
        } else {
            if (first) {
                id = m->header->chunk_id;
                want = m->header->base_version;
            }
            if (m->offset != got) bad = true;
            for (size_t i = 0; i < m->data.len && !bad; i++)
                if (m->data.data[i] != pattern(id, got + i)) bad = true;
            got += m->data.len;
        }
        if (m) chunkfs__write_req__free_unpacked(m, NULL);
        first = false;
    }
    char failed[32];
    snprintf(failed, sizeof failed, "fake-%llu", (unsigned long long)id);
    Chunkfs__WriteResp resp = CHUNKFS__WRITE_RESP__INIT;
    resp.err = first ? -EINVAL : bad || got != want ? -EIO : -(int)(id % 7);
    resp.errmsg = (char *)"";
    resp.failed_address = resp.err ? failed : (char *)"";
    resp.length = got;
    uint8_t *out;
    size_t olen;
    int rc = rpc_pack(&resp.base, &out, &olen);
    if (rc < 0) return rc;
    rc = rpc_call_send(call, out, olen);
    free(out);
    return rc;
}

/* A packed WriteReq of `n` pattern bytes at `off` (with a header on the first). 0 or -errno.
 * (No ck_assert here and below: client threads call it.) */
static int pack_piece(uint64_t id, uint64_t total, uint64_t off, size_t n, bool header,
                      uint8_t **buf, size_t *len)
{
    uint8_t *data = malloc(n ? n : 1);
    if (!data) return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        data[i] = pattern(id, off + i);
    Chunkfs__WriteHeader h = CHUNKFS__WRITE_HEADER__INIT;
    h.chunk_id = id;
    h.version = 1;
    h.base_version = total; /* the fake reads it as the byte count to expect */
    Chunkfs__WriteReq m = CHUNKFS__WRITE_REQ__INIT;
    m.header = header ? &h : NULL;
    m.offset = off;
    m.data.data = data;
    m.data.len = n;
    int rc = rpc_pack(&m.base, buf, len);
    free(data);
    return rc;
}

/* One whole stream: `pieces` messages of varying size, then end_input (optionally) and
 * finish. NULL when this stream's downstream verdict came back, else what went wrong. */
static const char *one_stream(uint64_t id, int pieces, bool end_first)
{
    chain_writer *w = NULL;
    if (chain_writer_start(g_addr, TIMEOUT_MS, &w) != 0) return "start failed";
    size_t sizes[8];
    uint64_t total = 0;
    for (int p = 0; p < pieces; p++)
        total += sizes[p] = (size_t)((id * 37 + (uint64_t)p * 1001) % 20000);
    uint64_t off = 0;
    const char *bad = NULL;
    for (int p = 0; p < pieces && !bad; p++) {
        uint8_t *buf;
        size_t len;
        if (pack_piece(id, total, off, sizes[p], p == 0, &buf, &len) != 0)
            bad = "pack failed";
        else if (chain_writer_push(w, buf, len) != 0)
            bad = "push failed";
        off += sizes[p];
    }
    if (end_first) chain_writer_end_input(w);
    int err = 1;
    char *failed = NULL;
    char want[32];
    snprintf(want, sizeof want, "fake-%llu", (unsigned long long)id);
    if (chain_writer_finish(w, bad != NULL, &err, &failed) != 0 && !bad)
        bad = "transport error";
    else if (!bad && err != -(int)(id % 7))
        bad = "wrong verdict (or bytes lost: -EIO)";
    else if (!bad && err != 0 && (!failed || strcmp(failed, want) != 0))
        bad = "wrong failed_address";
    else if (!bad && err == 0 && failed)
        bad = "failed_address on success";
    free(failed);
    return bad;
}

static void *client_thread(void *arg)
{
    uint64_t base = (uint64_t)(uintptr_t)arg;
    for (uint64_t i = 0; i < STREAMS_PER_THREAD; i++) {
        const char *bad = one_stream(base + i, 1 + (int)(i % 8), i % 2 == 0);
        if (bad) return (void *)bad;
    }
    return NULL;
}

START_TEST(test_streams_get_their_own_verdicts)
{
    pthread_t t[THREADS];
    for (uintptr_t i = 0; i < THREADS; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, client_thread, (void *)(1000 * (i + 1))), 0);
    const char *bad[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], (void **)&bad[i]);
    for (int i = 0; i < THREADS; i++)
        ck_assert_msg(bad[i] == NULL, "thread %d: %s", i, bad[i]);
    /* and once more one after the other: idle sender threads are picked up again */
    for (uint64_t id = 7; id < 7 + 20; id++) {
        const char *b = one_stream(id, 2, true);
        ck_assert_msg(b == NULL, "stream %llu: %s", (unsigned long long)id, b);
    }
}
END_TEST

START_TEST(test_abort_and_unreachable_end)
{
    /* abort with messages possibly still queued: returns, whatever the downstream made of it */
    chain_writer *w = NULL;
    ck_assert_int_eq(chain_writer_start(g_addr, TIMEOUT_MS, &w), 0);
    uint8_t *buf;
    size_t len;
    ck_assert_int_eq(pack_piece(5, 100, 0, 50, true, &buf, &len), 0);
    ck_assert_int_eq(chain_writer_push(w, buf, len), 0);
    int err = 0;
    char *failed = NULL;
    int rc = chain_writer_finish(w, true, &err, &failed);
    ck_assert(rc < 0 || err != 0); /* 50 of 100 bytes: never a success */
    free(failed);
    /* nobody listens on port 1: a transport error, from start, push or finish */
    w = NULL;
    rc = chain_writer_start("127.0.0.1:1", 5000, &w);
    if (rc == 0) {
        ck_assert_int_eq(pack_piece(6, 10, 0, 10, true, &buf, &len), 0);
        (void)chain_writer_push(w, buf, len); /* may already know the stream is dead */
        chain_writer_end_input(w);
        err = 0;
        failed = NULL;
        rc = chain_writer_finish(w, false, &err, &failed);
        free(failed);
    }
    ck_assert_int_lt(rc, 0);
}
END_TEST

int main(void)
{
    rpc_global_init();
    rpc_server_opts o = {.cq_threads = 1, .handler_threads = THREADS * 2};
    rpc_server *s = rpc_server_create(&o);
    if (!s || rpc_server_add_stream(s, CHUNK_METHOD_WRITE, fake_write, NULL) != 0) return 1;
    int port = rpc_server_start(s, "127.0.0.1:0");
    if (port <= 0) return 1;
    snprintf(g_addr, sizeof g_addr, "127.0.0.1:%d", port);
    Suite *su = suite_create("chain_writer");
    TCase *tc = tcase_create("chain_writer");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_streams_get_their_own_verdicts);
    tcase_add_test(tc, test_abort_and_unreachable_end);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_set_fork_status(sr, CK_NOFORK); /* the server lives in this process */
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    rpc_server_destroy(s);
    return failed ? 1 : 0;
}
