/* The RPC layer against a real echo service on 127.0.0.1 (in-process server, free port). */
#include "common/errors.h"
#include "common/log.h"
#include "common/rpc.h"
#include "common/time_util.h"
#include "proto/chunkfs.pb-c.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIB (1024u * 1024u)
#define BULK_MIB 256

static rpc_server *g_srv;
static char g_addr[64];
static atomic_int g_stream_handler_result; /* last rc seen inside the Hold handler */
static atomic_int g_hold_entered;

/* Deterministic content of message `i` of a bulk transfer, so both ends can check bytes. */
static void fill_pattern(uint8_t *buf, size_t len, uint32_t i)
{
    uint32_t x = i * 2654435761u + 12345u;
    for (size_t j = 0; j < len; j++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[j] = (uint8_t)x;
    }
}

/* ------------------------------------------------------------------ echo service */

static int h_echo(void *arg, const char *peer, const uint8_t *req, size_t len, uint8_t **resp,
                  size_t *resp_len)
{
    (void)arg;
    (void)peer;
    if (len == 0) {
        *resp = NULL;
        *resp_len = 0;
        return 0;
    }
    *resp = malloc(len);
    if (!*resp) return -ENOMEM;
    memcpy(*resp, req, len);
    *resp_len = len;
    return 0;
}

/* Request: decimal errno to return (e.g. "-2"). */
static int h_fail(void *arg, const char *peer, const uint8_t *req, size_t len, uint8_t **resp,
                  size_t *resp_len)
{
    (void)arg;
    (void)peer;
    (void)resp;
    (void)resp_len;
    char tmp[32];
    if (len >= sizeof tmp) return -EINVAL;
    memcpy(tmp, req, len);
    tmp[len] = 0;
    return atoi(tmp);
}

/* Request: decimal milliseconds to sleep, then echo. */
static int h_sleep(void *arg, const char *peer, const uint8_t *req, size_t len, uint8_t **resp,
                   size_t *resp_len)
{
    char tmp[32];
    if (len >= sizeof tmp) return -EINVAL;
    memcpy(tmp, req, len);
    tmp[len] = 0;
    cfs_sleep_ms(atoi(tmp));
    return h_echo(arg, peer, req, len, resp, resp_len);
}

static int h_huge(void *arg, const char *peer, const uint8_t *req, size_t len, uint8_t **resp,
                  size_t *resp_len)
{
    (void)arg;
    (void)peer;
    (void)req;
    (void)len;
    *resp_len = CFS_RPC_MAX_MESSAGE + 1;
    *resp = calloc(1, *resp_len);
    return *resp ? 0 : -ENOMEM;
}

/* Client stream: checks every message against the pattern; answers "count bad" in 16 bytes. */
static int s_upload(void *arg, rpc_call *c)
{
    (void)arg;
    uint8_t *expect = malloc(MIB);
    if (!expect) return -ENOMEM;
    uint64_t count = 0, bad = 0;
    for (;;) {
        uint8_t *buf;
        size_t len;
        int r = rpc_call_recv(c, &buf, &len);
        if (r < 0) {
            free(expect);
            return r;
        }
        if (r == 0) break;
        fill_pattern(expect, MIB, (uint32_t)count);
        if (len != MIB || memcmp(buf, expect, MIB) != 0) bad++;
        count++;
        free(buf);
    }
    free(expect);
    uint64_t out[2] = {count, bad};
    return rpc_call_send(c, (const uint8_t *)out, sizeof out);
}

/* Server stream: request = decimal number of MiB messages to send. */
static int s_download(void *arg, rpc_call *c)
{
    (void)arg;
    uint8_t *req;
    size_t len;
    int r = rpc_call_recv(c, &req, &len);
    if (r <= 0) return r < 0 ? r : -EINVAL;
    char tmp[32];
    if (len >= sizeof tmp) {
        free(req);
        return -EINVAL;
    }
    memcpy(tmp, req, len);
    tmp[len] = 0;
    free(req);
    int n = atoi(tmp);
    uint8_t *buf = malloc(MIB);
    if (!buf) return -ENOMEM;
    for (int i = 0; i < n; i++) {
        fill_pattern(buf, MIB, (uint32_t)i);
        r = rpc_call_send(c, buf, MIB);
        if (r < 0) break;
    }
    free(buf);
    return r < 0 ? r : 0;
}

/* Bidi: echoes every message until the client half-closes. */
static int s_bidi(void *arg, rpc_call *c)
{
    (void)arg;
    for (;;) {
        uint8_t *buf;
        size_t len;
        int r = rpc_call_recv(c, &buf, &len);
        if (r <= 0) return r;
        r = rpc_call_send(c, buf, len);
        free(buf);
        if (r < 0) return r;
    }
}

/* Reads one message, then fails with the errno it carries (decimal). */
static int s_fail(void *arg, rpc_call *c)
{
    (void)arg;
    uint8_t *buf;
    size_t len;
    int r = rpc_call_recv(c, &buf, &len);
    if (r <= 0) return r < 0 ? r : -EINVAL;
    char tmp[32];
    size_t n = len < sizeof tmp - 1 ? len : sizeof tmp - 1;
    memcpy(tmp, buf, n);
    tmp[n] = 0;
    free(buf);
    return atoi(tmp);
}

/* Sends the deadline it sees (ms left), then reads until the stream ends. */
static int s_hold(void *arg, rpc_call *c)
{
    (void)arg;
    int64_t left = rpc_call_deadline_left_ms(c);
    atomic_store(&g_hold_entered, 1);
    int r = rpc_call_send(c, (const uint8_t *)&left, sizeof left);
    while (r >= 0) {
        uint8_t *buf;
        size_t len;
        r = rpc_call_recv(c, &buf, &len);
        if (r == 1) free(buf);
        if (r == 0) break;
    }
    atomic_store(&g_stream_handler_result, r);
    return r;
}

/* Reads one message, answers "early" and ends the call while the client may still send. */
static int s_early(void *arg, rpc_call *c)
{
    (void)arg;
    uint8_t *buf;
    size_t len;
    int r = rpc_call_recv(c, &buf, &len);
    if (r <= 0) return r < 0 ? r : -EINVAL;
    free(buf);
    return rpc_call_send(c, (const uint8_t *)"early", 5);
}

static rpc_server *start_echo(char *addr, size_t addr_len)
{
    rpc_server_opts o = {.cq_threads = 2, .handler_threads = 12};
    rpc_server *s = rpc_server_create(&o);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(rpc_server_add_unary(s, "/test.Echo/Echo", h_echo, NULL), 0);
    ck_assert_int_eq(rpc_server_add_unary(s, "/test.Echo/Fail", h_fail, NULL), 0);
    ck_assert_int_eq(rpc_server_add_unary(s, "/test.Echo/Sleep", h_sleep, NULL), 0);
    ck_assert_int_eq(rpc_server_add_unary(s, "/test.Echo/Huge", h_huge, NULL), 0);
    ck_assert_int_eq(rpc_server_add_stream(s, "/test.Echo/Upload", s_upload, NULL), 0);
    ck_assert_int_eq(rpc_server_add_stream(s, "/test.Echo/Download", s_download, NULL), 0);
    ck_assert_int_eq(rpc_server_add_stream(s, "/test.Echo/Bidi", s_bidi, NULL), 0);
    ck_assert_int_eq(rpc_server_add_stream(s, "/test.Echo/StreamFail", s_fail, NULL), 0);
    ck_assert_int_eq(rpc_server_add_stream(s, "/test.Echo/Hold", s_hold, NULL), 0);
    ck_assert_int_eq(rpc_server_add_stream(s, "/test.Echo/Early", s_early, NULL), 0);
    ck_assert_int_eq(rpc_server_add_unary(s, "/test.Echo/Echo", h_echo, NULL), -EEXIST);
    int port = rpc_server_start(s, "127.0.0.1:0");
    ck_assert_int_gt(port, 0);
    snprintf(addr, addr_len, "127.0.0.1:%d", port);
    return s;
}

static void setup(void)
{
    rpc_global_init();
    g_srv = start_echo(g_addr, sizeof g_addr);
}

static void teardown(void)
{
    rpc_server_destroy(g_srv);
    g_srv = NULL;
    rpc_global_shutdown();
}

static int call_str_to(const char *addr, const char *method, const char *req, int timeout_ms)
{
    uint8_t *resp = NULL;
    size_t len = 0;
    int r = rpc_unary(addr, method, (const uint8_t *)req, strlen(req), timeout_ms, &resp, &len);
    if (r == 0) ck_assert(len == strlen(req) && (len == 0 || memcmp(resp, req, len) == 0));
    free(resp);
    return r;
}

static int call_str(const char *method, const char *req, int timeout_ms)
{
    return call_str_to(g_addr, method, req, timeout_ms);
}

/* ------------------------------------------------------------------ tests */

START_TEST(test_unary_echo)
{
    static const size_t sizes[] = {0, 1, 100, 65536, MIB, 4 * MIB + 3};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        uint8_t *req = malloc(n + 1);
        fill_pattern(req, n, (uint32_t)k);
        uint8_t *resp = NULL;
        size_t len = 99;
        ck_assert_int_eq(rpc_unary(g_addr, "/test.Echo/Echo", req, n, 5000, &resp, &len), 0);
        ck_assert_uint_eq(len, n);
        ck_assert_ptr_nonnull(resp);
        ck_assert(memcmp(req, resp, n) == 0);
        free(resp);
        free(req);
    }
}
END_TEST

START_TEST(test_unary_pb)
{
    Chunkfs__ReadReq rq = CHUNKFS__READ_REQ__INIT;
    rq.chunk_id = 42;
    rq.version = 7;
    rq.offset = 1u << 20;
    rq.length = 12345;
    ProtobufCMessage *out = NULL;
    ck_assert_int_eq(rpc_unary_pb(g_addr, "/test.Echo/Echo", &rq.base,
                                  &chunkfs__read_req__descriptor, 5000, &out),
                     0);
    Chunkfs__ReadReq *back = (Chunkfs__ReadReq *)out;
    ck_assert_uint_eq(back->chunk_id, 42);
    ck_assert_uint_eq(back->version, 7);
    ck_assert_uint_eq(back->offset, 1u << 20);
    ck_assert_uint_eq(back->length, 12345);
    protobuf_c_message_free_unpacked(out, NULL);
    /* A reply that does not parse as the expected message: field 4 is bytes in Chunkfs__ReadResp
     * but a varint in Chunkfs__ReadReq. */
    Chunkfs__ReadResp rr = CHUNKFS__READ_RESP__INIT;
    uint8_t junk[5] = {1, 2, 3, 4, 5};
    rr.data.data = junk;
    rr.data.len = sizeof junk;
    out = NULL;
    ck_assert_int_eq(rpc_unary_pb(g_addr, "/test.Echo/Echo", &rr.base,
                                  &chunkfs__read_req__descriptor, 5000, &out),
                     -EBADMSG);
    ck_assert_ptr_null(out);
}
END_TEST

START_TEST(test_errno_round_trip)
{
    static const int errs[] = {-ENOENT,         -EEXIST,       -ENOTEMPTY, -EACCES,
                               -ENOSPC,         -EINVAL,       -EIO,       -ENOTCONN,
                               -ETIMEDOUT,      -ENOSYS,       -E2BIG,     -CFS_ENOTLEADER,
                               -CFS_ESTALE_VER, -CFS_ECORRUPT, -CFS_ELEASE};
    for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++) {
        char req[16];
        snprintf(req, sizeof req, "%d", errs[i]);
        ck_assert_int_eq(call_str("/test.Echo/Fail", req, 5000), errs[i]);
    }
    /* A positive handler return is a handler bug, reported as a protocol error. */
    ck_assert_int_eq(call_str("/test.Echo/Fail", "5", 5000), -EPROTO);
}
END_TEST

START_TEST(test_unknown_method)
{
    int64_t t0 = cfs_mono_ms();
    ck_assert_int_eq(call_str("/test.Echo/NoSuchMethod", "x", 30000), -ENOSYS);
    ck_assert_int_eq(call_str("/other.Svc/Call", "x", 30000), -ENOSYS);
    ck_assert_int_lt(cfs_mono_ms() - t0, 15000); /* answered, not timed out */
}
END_TEST

START_TEST(test_bad_args)
{
    uint8_t *resp;
    size_t len;
    ck_assert_int_eq(rpc_unary(g_addr, "/test.Echo/Echo", NULL, 0, 0, &resp, &len), -EINVAL);
    ck_assert_int_eq(rpc_unary(g_addr, "nopath", NULL, 0, 100, &resp, &len), -EINVAL);
    ck_assert_int_eq(rpc_unary("", "/test.Echo/Echo", NULL, 0, 100, &resp, &len), -EINVAL);
    rpc_stream *st;
    ck_assert_int_eq(rpc_stream_open(g_addr, "/test.Echo/Bidi", -1, &st), -EINVAL);
    ck_assert_int_eq(rpc_unary_retry(g_addr, "/test.Echo/Echo", NULL, 0, 100, 0, &resp, &len),
                     -EINVAL);
}
END_TEST

START_TEST(test_deadline_expires)
{
    int64_t t0 = cfs_mono_ms();
    ck_assert_int_eq(call_str("/test.Echo/Sleep", "3000", 300), -ETIMEDOUT);
    int64_t took = cfs_mono_ms() - t0;
    ck_assert_int_ge(took, 250);
    ck_assert_int_lt(took, 2500); /* did not wait for the handler */
    /* The server is still fine afterwards. */
    ck_assert_int_eq(call_str("/test.Echo/Sleep", "10", 10000), 0);
    /* Streams time out too, and the handler sees the caller's deadline. */
    rpc_stream *st;
    int64_t t_open = cfs_mono_ms();
    ck_assert_int_eq(rpc_stream_open(g_addr, "/test.Echo/Hold", 2000, &st), 0);
    uint8_t *buf;
    size_t len;
    ck_assert_int_eq(rpc_stream_recv(st, &buf, &len), 1);
    int64_t elapsed = cfs_mono_ms() - t_open;
    int64_t left;
    ck_assert_uint_eq(len, sizeof left);
    memcpy(&left, buf, sizeof left);
    free(buf);
    ck_assert_int_le(left, 2000 + 50); /* grpc-timeout is sent rounded up */
    ck_assert_int_ge(left, 2000 - elapsed - 100);
    ck_assert_int_eq(rpc_stream_recv(st, &buf, &len), -ETIMEDOUT);
    ck_assert_int_eq(rpc_stream_finish(st), -ETIMEDOUT);
    rpc_stream_free(st);
}
END_TEST

START_TEST(test_server_gone)
{
    char addr[64];
    rpc_server *s = start_echo(addr, sizeof addr);
    uint8_t *resp;
    size_t len;
    ck_assert_int_eq(rpc_unary(addr, "/test.Echo/Echo", (const uint8_t *)"a", 1, 5000, &resp, &len),
                     0);
    free(resp);
    rpc_server_destroy(s);
    int64_t t0 = cfs_mono_ms();
    ck_assert_int_eq(
        rpc_unary(addr, "/test.Echo/Echo", (const uint8_t *)"a", 1, 20000, &resp, &len), -ENOTCONN);
    ck_assert_int_eq(
        rpc_unary(addr, "/test.Echo/Echo", (const uint8_t *)"a", 1, 20000, &resp, &len), -ENOTCONN);
    rpc_stream *st;
    int r = rpc_stream_open(addr, "/test.Echo/Bidi", 20000, &st);
    if (r == 0) {
        ck_assert_int_eq(rpc_stream_recv(st, &resp, &len), -ENOTCONN);
        rpc_stream_free(st);
    } else {
        ck_assert_int_eq(r, -ENOTCONN);
    }
    /* Bounded retries give up with the last error, after the backoff (50 + 100 ms). */
    int64_t t1 = cfs_mono_ms();
    ck_assert_int_eq(
        rpc_unary_retry(addr, "/test.Echo/Echo", (const uint8_t *)"a", 1, 20000, 3, &resp, &len),
        -ENOTCONN);
    ck_assert_int_ge(cfs_mono_ms() - t1, 150);
    ck_assert_int_lt(cfs_mono_ms() - t0, 15000);
}
END_TEST

START_TEST(test_server_restart_same_port)
{
    /* The cached channel reconnects to a new server on the same address. */
    char addr[64];
    rpc_server *s = start_echo(addr, sizeof addr);
    ck_assert_int_eq(call_str_to(addr, "/test.Echo/Echo", "one", 5000), 0);
    rpc_server_destroy(s);
    ck_assert_int_eq(call_str_to(addr, "/test.Echo/Echo", "down", 5000), -ENOTCONN);
    s = rpc_server_create(NULL);
    ck_assert_int_eq(rpc_server_add_unary(s, "/test.Echo/Echo", h_echo, NULL), 0);
    ck_assert_int_gt(rpc_server_start(s, addr), 0);
    uint8_t *resp = NULL;
    size_t len = 0;
    ck_assert_int_eq(
        rpc_unary_retry(addr, "/test.Echo/Echo", (const uint8_t *)"two", 3, 5000, 20, &resp, &len),
        0);
    ck_assert_uint_eq(len, 3);
    ck_assert(memcmp(resp, "two", 3) == 0);
    free(resp);
    rpc_server_destroy(s);
}
END_TEST

START_TEST(test_port_in_use)
{
    rpc_server *s = rpc_server_create(NULL);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(rpc_server_add_unary(s, "/test.Echo/Echo", h_echo, NULL), 0);
    ck_assert_int_eq(rpc_server_start(s, g_addr), -EADDRINUSE);
    rpc_server_destroy(s);
    /* A server that was never started is destroyed cleanly as well. */
    rpc_server_destroy(rpc_server_create(NULL));
}
END_TEST

START_TEST(test_message_over_limit)
{
    size_t n = CFS_RPC_MAX_MESSAGE + 1;
    uint8_t *big = calloc(1, n);
    ck_assert_ptr_nonnull(big);
    uint8_t *resp = NULL;
    size_t len;
    ck_assert_int_eq(rpc_unary(g_addr, "/test.Echo/Echo", big, n, 30000, &resp, &len), -EMSGSIZE);
    rpc_stream *st;
    ck_assert_int_eq(rpc_stream_open(g_addr, "/test.Echo/Bidi", 30000, &st), 0);
    ck_assert_int_eq(rpc_stream_send(st, big, n), -EMSGSIZE);
    rpc_stream_free(st);
    free(big);
    /* A handler whose reply is over the limit fails the call cleanly. */
    ck_assert_int_eq(call_str("/test.Echo/Huge", "", 30000), -EMSGSIZE);
    /* The largest allowed message itself passes, both ways. */
    n = CFS_RPC_MAX_MESSAGE;
    big = malloc(n);
    ck_assert_ptr_nonnull(big);
    fill_pattern(big, n, 77);
    ck_assert_int_eq(rpc_unary(g_addr, "/test.Echo/Echo", big, n, 60000, &resp, &len), 0);
    ck_assert_uint_eq(len, n);
    ck_assert(memcmp(big, resp, n) == 0);
    free(resp);
    free(big);
}
END_TEST

START_TEST(test_client_stream_bulk)
{
    rpc_stream *st;
    ck_assert_int_eq(rpc_stream_open(g_addr, "/test.Echo/Upload", 60000, &st), 0);
    uint8_t *buf = malloc(MIB);
    for (uint32_t i = 0; i < BULK_MIB; i++) {
        fill_pattern(buf, MIB, i);
        ck_assert_int_eq(rpc_stream_send(st, buf, MIB), 0);
    }
    free(buf);
    ck_assert_int_eq(rpc_stream_close_send(st), 0);
    uint8_t *resp;
    size_t len;
    ck_assert_int_eq(rpc_stream_recv(st, &resp, &len), 1);
    uint64_t out[2];
    ck_assert_uint_eq(len, sizeof out);
    memcpy(out, resp, sizeof out);
    free(resp);
    ck_assert_uint_eq(out[0], BULK_MIB);
    ck_assert_uint_eq(out[1], 0);
    ck_assert_int_eq(rpc_stream_recv(st, &resp, &len), 0);
    ck_assert_int_eq(rpc_stream_finish(st), 0);
    rpc_stream_free(st);
}
END_TEST

START_TEST(test_server_stream_bulk)
{
    rpc_stream *st;
    ck_assert_int_eq(rpc_stream_open(g_addr, "/test.Echo/Download", 60000, &st), 0);
    char req[16];
    snprintf(req, sizeof req, "%d", BULK_MIB);
    ck_assert_int_eq(rpc_stream_send(st, (const uint8_t *)req, strlen(req)), 0);
    ck_assert_int_eq(rpc_stream_close_send(st), 0);
    uint8_t *expect = malloc(MIB);
    uint32_t got = 0;
    for (;;) {
        uint8_t *buf;
        size_t len;
        int r = rpc_stream_recv(st, &buf, &len);
        ck_assert_int_ge(r, 0);
        if (r == 0) break;
        ck_assert_uint_eq(len, MIB);
        fill_pattern(expect, MIB, got);
        ck_assert(memcmp(buf, expect, MIB) == 0);
        free(buf);
        got++;
    }
    free(expect);
    ck_assert_uint_eq(got, BULK_MIB);
    ck_assert_int_eq(rpc_stream_finish(st), 0);
    rpc_stream_free(st);
}
END_TEST

struct bidi_sender {
    rpc_stream *st;
    int n;
    int rc;
};

static void *bidi_send_thread(void *arg)
{
    struct bidi_sender *b = arg;
    uint8_t buf[4096];
    b->rc = 0;
    for (int i = 0; i < b->n && b->rc == 0; i++) {
        size_t len = (size_t)(i * 37) % sizeof buf + 1;
        fill_pattern(buf, len, (uint32_t)i);
        b->rc = rpc_stream_send(b->st, buf, len);
    }
    if (b->rc == 0) b->rc = rpc_stream_close_send(b->st);
    return NULL;
}

START_TEST(test_bidi_stream)
{
    rpc_stream *st;
    ck_assert_int_eq(rpc_stream_open(g_addr, "/test.Echo/Bidi", 30000, &st), 0);
    /* Ping-pong first, then a concurrent sender thread while this thread receives. */
    for (int i = 0; i < 50; i++) {
        char msg[32];
        int n = snprintf(msg, sizeof msg, "ping %d", i);
        ck_assert_int_eq(rpc_stream_send(st, (const uint8_t *)msg, (size_t)n), 0);
        uint8_t *buf;
        size_t len;
        ck_assert_int_eq(rpc_stream_recv(st, &buf, &len), 1);
        ck_assert_uint_eq(len, (size_t)n);
        ck_assert(memcmp(buf, msg, len) == 0);
        free(buf);
    }
    struct bidi_sender b = {st, 500, -1};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, bidi_send_thread, &b), 0);
    uint8_t expect[4096];
    int got = 0;
    for (;;) {
        uint8_t *buf;
        size_t len;
        int r = rpc_stream_recv(st, &buf, &len);
        ck_assert_int_ge(r, 0);
        if (r == 0) break;
        size_t want = (size_t)(got * 37) % sizeof expect + 1;
        fill_pattern(expect, want, (uint32_t)got);
        ck_assert_uint_eq(len, want);
        ck_assert(memcmp(buf, expect, len) == 0);
        free(buf);
        got++;
    }
    pthread_join(t, NULL);
    ck_assert_int_eq(b.rc, 0);
    ck_assert_int_eq(got, 500);
    ck_assert_int_eq(rpc_stream_finish(st), 0);
    rpc_stream_free(st);
}
END_TEST

START_TEST(test_stream_handler_error)
{
    static const int errs[] = {-EACCES, -CFS_ENOTLEADER, -CFS_ECORRUPT};
    for (size_t i = 0; i < 3; i++) {
        rpc_stream *st;
        ck_assert_int_eq(rpc_stream_open(g_addr, "/test.Echo/StreamFail", 5000, &st), 0);
        char req[16];
        snprintf(req, sizeof req, "%d", errs[i]);
        ck_assert_int_eq(rpc_stream_send(st, (const uint8_t *)req, strlen(req)), 0);
        uint8_t *buf;
        size_t len;
        ck_assert_int_eq(rpc_stream_recv(st, &buf, &len), errs[i]);
        ck_assert_int_eq(rpc_stream_finish(st), errs[i]);
        rpc_stream_free(st);
    }
    /* Unknown streaming method. */
    rpc_stream *st;
    int r = rpc_stream_open(g_addr, "/test.Echo/Nope", 5000, &st);
    if (r == 0) {
        uint8_t *buf;
        size_t len;
        ck_assert_int_eq(rpc_stream_recv(st, &buf, &len), -ENOSYS);
        rpc_stream_free(st);
    } else {
        ck_assert_int_eq(r, -ENOSYS);
    }
}
END_TEST

START_TEST(test_stream_client_cancels)
{
    /* The client frees a stream mid-way: the handler sees the cancel, the server goes on. */
    atomic_store(&g_stream_handler_result, 1);
    rpc_stream *st;
    ck_assert_int_eq(rpc_stream_open(g_addr, "/test.Echo/Hold", 30000, &st), 0);
    uint8_t *buf;
    size_t len;
    ck_assert_int_eq(rpc_stream_recv(st, &buf, &len), 1);
    free(buf);
    ck_assert_int_eq(rpc_stream_send(st, (const uint8_t *)"x", 1), 0);
    rpc_stream_free(st);
    int64_t t0 = cfs_mono_ms();
    while (atomic_load(&g_stream_handler_result) == 1 && cfs_mono_ms() - t0 < 20000)
        cfs_sleep_ms(5);
    ck_assert_int_eq(atomic_load(&g_stream_handler_result), -ECANCELED);
    ck_assert_int_eq(call_str("/test.Echo/Echo", "ok", 5000), 0);
}
END_TEST

START_TEST(test_server_ends_early)
{
    /* The server answers and ends while the client is still sending: a send may fail, but
     * the reply and the status stay readable and nothing hangs. */
    rpc_stream *st;
    ck_assert_int_eq(rpc_stream_open(g_addr, "/test.Echo/Early", 30000, &st), 0);
    uint8_t *buf = calloc(1, MIB);
    int64_t t0 = cfs_mono_ms();
    int sent = 0, rc = 0;
    for (int i = 0; i < 64 && rc == 0; i++) {
        rc = rpc_stream_send(st, buf, MIB);
        if (rc == 0) sent++;
    }
    free(buf);
    ck_assert_int_ge(sent, 1);
    ck_assert_int_le(rc, 0);
    uint8_t *resp;
    size_t len;
    ck_assert_int_eq(rpc_stream_recv(st, &resp, &len), 1);
    ck_assert_uint_eq(len, 5);
    ck_assert(memcmp(resp, "early", 5) == 0);
    free(resp);
    ck_assert_int_eq(rpc_stream_recv(st, &resp, &len), 0);
    ck_assert_int_eq(rpc_stream_finish(st), 0);
    rpc_stream_free(st);
    ck_assert_int_lt(cfs_mono_ms() - t0, 25000); /* the call's deadline is 30 s */
}
END_TEST

START_TEST(test_finish_with_unread_messages)
{
    /* finish discards messages the caller did not read instead of waiting for the deadline. */
    rpc_stream *st;
    ck_assert_int_eq(rpc_stream_open(g_addr, "/test.Echo/Download", 30000, &st), 0);
    ck_assert_int_eq(rpc_stream_send(st, (const uint8_t *)"8", 1), 0);
    ck_assert_int_eq(rpc_stream_close_send(st), 0);
    uint8_t *buf;
    size_t len;
    ck_assert_int_eq(rpc_stream_recv(st, &buf, &len), 1);
    free(buf);
    int64_t t0 = cfs_mono_ms();
    ck_assert_int_eq(rpc_stream_finish(st), 0);
    ck_assert_int_lt(cfs_mono_ms() - t0, 25000);
    rpc_stream_free(st);
}
END_TEST

static char *g_self; /* this program, for the vanishing-client helper */

/* Helper process: opens a Hold stream, reads the first message, sends one and exits without
 * closing anything, as a crashed client would. */
static int vanishing_client(const char *addr)
{
    rpc_global_init();
    rpc_stream *st;
    if (rpc_stream_open(addr, "/test.Echo/Hold", 30000, &st) < 0) return 3;
    uint8_t *buf;
    size_t len;
    if (rpc_stream_recv(st, &buf, &len) != 1) return 4;
    free(buf);
    if (rpc_stream_send(st, (const uint8_t *)"x", 1) < 0) return 5;
    _exit(0);
}

START_TEST(test_client_process_vanishes)
{
    atomic_store(&g_stream_handler_result, 1);
    char *argv[] = {g_self, "--vanishing-client", g_addr, NULL};
    pid_t pid;
    ck_assert_int_eq(posix_spawn(&pid, g_self, NULL, NULL, argv, environ), 0);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
    /* The connection is gone: the handler's pending recv fails instead of hanging. */
    int64_t t0 = cfs_mono_ms();
    while (atomic_load(&g_stream_handler_result) == 1 && cfs_mono_ms() - t0 < 20000)
        cfs_sleep_ms(5);
    ck_assert_int_eq(atomic_load(&g_stream_handler_result), -ECANCELED);
    ck_assert_int_eq(call_str("/test.Echo/Echo", "ok", 5000), 0);
}
END_TEST

struct conc_arg {
    int id;
    int ok;
};

static void *conc_thread(void *arg)
{
    struct conc_arg *a = arg;
    for (int i = 0; i < 200; i++) {
        char req[64];
        int n = snprintf(req, sizeof req, "thread %d call %d", a->id, i);
        uint8_t *resp = NULL;
        size_t len = 0;
        int r = rpc_unary(g_addr, "/test.Echo/Echo", (const uint8_t *)req, (size_t)n, 10000, &resp,
                          &len);
        if (r == 0 && len == (size_t)n && memcmp(resp, req, len) == 0) a->ok++;
        free(resp);
    }
    return NULL;
}

START_TEST(test_concurrent_clients)
{
    pthread_t t[8];
    struct conc_arg a[8];
    int created = 0, create_err = 0;
    for (int i = 0; i < 8 && !create_err; i++) {
        a[i] = (struct conc_arg){i, 0};
        create_err = pthread_create(&t[i], NULL, conc_thread, &a[i]);
        if (!create_err) created++;
    }
    /* Join everything before any assertion: a failed check must not leave threads running. */
    for (int i = 0; i < created; i++)
        pthread_join(t[i], NULL);
    ck_assert_int_eq(create_err, 0);
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(a[i].ok, 200);
}
END_TEST

START_TEST(test_destroy_with_active_stream)
{
    char addr[64];
    atomic_store(&g_hold_entered, 0);
    rpc_server *s = start_echo(addr, sizeof addr);
    rpc_stream *st;
    ck_assert_int_eq(rpc_stream_open(addr, "/test.Echo/Hold", 30000, &st), 0);
    uint8_t *buf;
    size_t len;
    ck_assert_int_eq(rpc_stream_recv(st, &buf, &len), 1);
    free(buf);
    ck_assert_int_eq(atomic_load(&g_hold_entered), 1);
    int64_t t0 = cfs_mono_ms();
    rpc_server_destroy(s);
    ck_assert_int_lt(cfs_mono_ms() - t0, 20000);
    int r = rpc_stream_recv(st, &buf, &len);
    ck_assert_int_lt(r, 0);
    ck_assert_int_lt(rpc_stream_finish(st), 0);
    rpc_stream_free(st);
}
END_TEST

static Suite *rpc_suite(void)
{
    Suite *s = suite_create("rpc");
    TCase *tc = tcase_create("echo");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_unary_echo);
    tcase_add_test(tc, test_unary_pb);
    tcase_add_test(tc, test_errno_round_trip);
    tcase_add_test(tc, test_unknown_method);
    tcase_add_test(tc, test_bad_args);
    tcase_add_test(tc, test_deadline_expires);
    tcase_add_test(tc, test_server_gone);
    tcase_add_test(tc, test_server_restart_same_port);
    tcase_add_test(tc, test_port_in_use);
    tcase_add_test(tc, test_message_over_limit);
    tcase_add_test(tc, test_client_stream_bulk);
    tcase_add_test(tc, test_server_stream_bulk);
    tcase_add_test(tc, test_bidi_stream);
    tcase_add_test(tc, test_stream_handler_error);
    tcase_add_test(tc, test_stream_client_cancels);
    tcase_add_test(tc, test_client_process_vanishes);
    tcase_add_test(tc, test_server_ends_early);
    tcase_add_test(tc, test_finish_with_unread_messages);
    tcase_add_test(tc, test_concurrent_clients);
    tcase_add_test(tc, test_destroy_with_active_stream);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--vanishing-client") == 0) return vanishing_client(argv[2]);
    g_self = argv[0];
    cfs_log_set_component("test_rpc");
    SRunner *sr = srunner_create(rpc_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
