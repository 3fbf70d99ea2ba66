/* The RPC authentication proof (valid, wrong secret, expired, tampered, replayed), the replay
 * cache, and the process-wide glue that adds and checks proofs on real gRPC calls. */
#include "common/errors.h"
#include "common/replay_cache.h"
#include "common/rpc.h"
#include "common/rpc_auth.h"
#include "common/rpc_internal.h"
#include "common/secret.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOW 1765000000000LL /* a fixed "now" in ms */
#define M "/chunkfs.MetaService/Call"

static cfs_secret secret_of(const char *text)
{
    cfs_secret s;
    memset(&s, 0, sizeof s);
    s.len = strlen(text);
    memcpy(s.bytes, text, s.len);
    uint8_t id[CFS_HMAC_LEN];
    ck_assert_int_eq(cfs_secret_derive(&s, "chunkfs key id v1", id), 0);
    cfs_hex_encode(id, CFS_KEY_ID_HEX / 2, s.key_id);
    return s;
}

static rpc_auth_key key_of(const char *text)
{
    cfs_secret s = secret_of(text);
    rpc_auth_key k;
    ck_assert_int_eq(rpc_auth_key_from_secret(&s, &k), 0);
    return k;
}

static const uint8_t nonce1[RPC_AUTH_NONCE_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14};

static enum rpc_auth_result verify(const rpc_auth_key *k, const char *method, const char *p,
                                   int64_t now)
{
    uint8_t n[RPC_AUTH_NONCE_LEN];
    int64_t ts;
    return rpc_auth_verify(k, method, p, p ? strlen(p) : 0, now, RPC_AUTH_WINDOW_MS, n, &ts);
}

START_TEST(test_proof_valid_and_refused)
{
    rpc_auth_key k = key_of("the cluster secret, 32 bytes....");
    rpc_auth_key other = key_of("another cluster secret of 32 b..");
    char p[RPC_AUTH_PROOF_MAX];
    int n = rpc_auth_make(&k, M, NOW, nonce1, p, sizeof p);
    ck_assert_int_gt(n, 0);
    ck_assert_uint_eq(strlen(p), (size_t)n);
    ck_assert(strncmp(p, "v1.", 3) == 0);
    /* The secret itself never appears in the proof. */
    ck_assert_ptr_null(strstr(p, "cluster"));

    ck_assert_int_eq(verify(&k, M, p, NOW), RPC_AUTH_OK);
    uint8_t got[RPC_AUTH_NONCE_LEN];
    int64_t ts = 0;
    ck_assert_int_eq(rpc_auth_verify(&k, M, p, (size_t)n, NOW, RPC_AUTH_WINDOW_MS, got, &ts),
                     RPC_AUTH_OK);
    ck_assert_int_eq(ts, NOW);
    ck_assert_int_eq(memcmp(got, nonce1, sizeof got), 0);
    /* Clock skew inside the window is fine, outside is not. */
    ck_assert_int_eq(verify(&k, M, p, NOW + RPC_AUTH_WINDOW_MS), RPC_AUTH_OK);
    ck_assert_int_eq(verify(&k, M, p, NOW - RPC_AUTH_WINDOW_MS), RPC_AUTH_OK);
    ck_assert_int_eq(verify(&k, M, p, NOW + RPC_AUTH_WINDOW_MS + 1), RPC_AUTH_EXPIRED);
    ck_assert_int_eq(verify(&k, M, p, NOW - RPC_AUTH_WINDOW_MS - 1), RPC_AUTH_EXPIRED);
    /* Wrong secret, missing proof, another method. */
    ck_assert_int_eq(verify(&other, M, p, NOW), RPC_AUTH_WRONG_KEY);
    ck_assert_int_eq(verify(&k, M, NULL, NOW), RPC_AUTH_MISSING);
    ck_assert_int_eq(verify(&k, M, "", NOW), RPC_AUTH_MISSING);
    ck_assert_int_eq(verify(&k, "/chunkfs.ChunkService/Write", p, NOW), RPC_AUTH_BAD_MAC);
    /* A proof forged with another secret but this key id. */
    char forged[RPC_AUTH_PROOF_MAX];
    rpc_auth_key fk = other;
    memcpy(fk.key_id, k.key_id, sizeof fk.key_id);
    ck_assert_int_gt(rpc_auth_make(&fk, M, NOW, nonce1, forged, sizeof forged), 0);
    ck_assert_int_eq(verify(&k, M, forged, NOW), RPC_AUTH_BAD_MAC);
    ck_assert_str_ne(rpc_auth_result_str(RPC_AUTH_WRONG_KEY), "");
}
END_TEST

START_TEST(test_proof_tampered)
{
    rpc_auth_key k = key_of("the cluster secret, 32 bytes....");
    char p[RPC_AUTH_PROOF_MAX];
    int n = rpc_auth_make(&k, M, NOW, nonce1, p, sizeof p);
    ck_assert_int_gt(n, 0);
    /* Changing any digit of the timestamp, nonce or MAC breaks the MAC. */
    const char *dot2 = strchr(strchr(p, '.') + 1, '.');
    for (int i = (int)(dot2 - p) + 1; i < n; i++) {
        if (p[i] == '.') continue;
        char t[RPC_AUTH_PROOF_MAX];
        memcpy(t, p, (size_t)n + 1);
        t[i] = t[i] == '1' ? '2' : '1';
        enum rpc_auth_result r = verify(&k, M, t, NOW);
        ck_assert_msg(r == RPC_AUTH_BAD_MAC || r == RPC_AUTH_EXPIRED, "digit %d: result %d", i,
                      (int)r);
        ck_assert_int_ne(r, RPC_AUTH_OK);
    }
    /* Shapes that are not a proof. */
    const char *bad[] = {
        "v1", "v1....", "v2.x.1.2.3", "v1.0011.1.22.33", "garbage", "v1.zzzzzzzzzzzzzzzz.1.00.00"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_int_eq(verify(&k, M, bad[i], NOW), RPC_AUTH_MALFORMED);
    char t[RPC_AUTH_PROOF_MAX + 10];
    memcpy(t, p, (size_t)n + 1);
    strcat(t, ".x");
    ck_assert_int_eq(verify(&k, M, t, NOW), RPC_AUTH_MALFORMED);
    memset(t, '1', sizeof t - 1);
    t[sizeof t - 1] = 0;
    ck_assert_int_eq(verify(&k, M, t, NOW), RPC_AUTH_MALFORMED);
    /* Too small an output buffer. */
    char small[40];
    ck_assert_int_eq(rpc_auth_make(&k, M, NOW, nonce1, small, sizeof small), -ENAMETOOLONG);
}
END_TEST

START_TEST(test_replay_cache)
{
    replay_cache *rc = replay_cache_create(64, 1000);
    ck_assert_ptr_nonnull(rc);
    uint8_t n[REPLAY_NONCE_LEN] = {0};
    ck_assert_int_eq(replay_cache_check_add(rc, n, NOW, NOW), 0);
    ck_assert_int_eq(replay_cache_check_add(rc, n, NOW, NOW), -EALREADY);
    ck_assert_int_eq(replay_cache_check_add(rc, n, NOW + 5, NOW + 5), -EALREADY);
    /* Many distinct nonces inside the window: all accepted once, each refused again while
     * remembered; compaction keeps memory bounded and raises the floor. */
    int64_t now = NOW;
    for (uint32_t i = 1; i < 1000; i++) {
        memcpy(n, &i, sizeof i);
        now++;
        ck_assert_int_eq(replay_cache_check_add(rc, n, now, now), 0);
        ck_assert_int_eq(replay_cache_check_add(rc, n, now, now), -EALREADY);
        ck_assert_uint_lt(replay_cache_count(rc), 32);
    }
    /* An old proof whose nonce may be forgotten is refused by the floor. */
    uint32_t fresh = 5000;
    memcpy(n, &fresh, sizeof fresh);
    ck_assert_int_eq(replay_cache_check_add(rc, n, NOW + 10, now), -ESTALE);
    ck_assert_int_eq(replay_cache_check_add(rc, n, now, now), 0);
    replay_cache_destroy(rc);

    /* Low rate: entries expire with the window, the floor never refuses a fresh proof. */
    rc = replay_cache_create(64, 1000);
    now = NOW;
    for (uint32_t i = 0; i < 500; i++) {
        memcpy(n, &i, sizeof i);
        now += 100; /* 10 per window */
        ck_assert_int_eq(replay_cache_check_add(rc, n, now - 900, now), 0);
    }
    replay_cache_destroy(rc);
}
END_TEST

static grpc_metadata_array md_of(grpc_metadata *m, int have)
{
    grpc_metadata_array a;
    a.count = have ? 1 : 0;
    a.capacity = 1;
    a.metadata = m;
    return a;
}

START_TEST(test_glue_replay_and_wrong_secret)
{
    rpc_global_init();
    cfs_secret a = secret_of("secret A secret A secret A");
    cfs_secret b = secret_of("secret B secret B secret B");
    cfs_secret_install(&a);
    grpc_metadata m;
    ck_assert_int_eq(rpc_auth_md_make(M, &m), 1);
    grpc_metadata_array arr = md_of(&m, 1);
    ck_assert_int_eq(rpc_auth_server_check(M, &arr, "test"), 0);
    /* The same proof again is a replay. */
    ck_assert_int_eq(rpc_auth_server_check(M, &arr, "test"), -CFS_EAUTH);
    /* A fresh proof for another method does not pass for this one. */
    grpc_metadata m2;
    ck_assert_int_eq(rpc_auth_md_make("/chunkfs.ChunkService/Read", &m2), 1);
    grpc_metadata_array arr2 = md_of(&m2, 1);
    ck_assert_int_eq(rpc_auth_server_check(M, &arr2, "test"), -CFS_EAUTH);
    /* No proof at all. */
    grpc_metadata_array none = md_of(&m, 0);
    ck_assert_int_eq(rpc_auth_server_check(M, &none, "test"), -CFS_EAUTH);
    /* A server with secret B refuses a proof made with A. */
    grpc_metadata m3;
    ck_assert_int_eq(rpc_auth_md_make(M, &m3), 1);
    cfs_secret_install(&b);
    grpc_metadata_array arr3 = md_of(&m3, 1);
    ck_assert_int_eq(rpc_auth_server_check(M, &arr3, "test"), -CFS_EAUTH);
    /* Without a secret nothing is added and nothing is checked. */
    cfs_secret_install(NULL);
    grpc_metadata m4;
    ck_assert_int_eq(rpc_auth_md_make(M, &m4), 0);
    ck_assert_int_eq(rpc_auth_server_check(M, &none, "test"), 0);
    grpc_slice_unref(m.value);
    grpc_slice_unref(m2.value);
    grpc_slice_unref(m3.value);
    rpc_global_shutdown();
}
END_TEST

static int echo(void *arg, const char *peer, const uint8_t *req, size_t len, uint8_t **resp,
                size_t *resp_len)
{
    (void)arg;
    (void)peer;
    *resp = malloc(len ? len : 1);
    if (!*resp) return -ENOMEM;
    memcpy(*resp, req, len);
    *resp_len = len;
    return 0;
}

static int count_stream(void *arg, rpc_call *c)
{
    (void)arg;
    uint8_t *buf;
    size_t len;
    int rc, n = 0;
    while ((rc = rpc_call_recv(c, &buf, &len)) == 1) {
        free(buf);
        n++;
    }
    if (rc < 0) return rc;
    uint8_t out = (uint8_t)n;
    return rpc_call_send(c, &out, 1);
}

START_TEST(test_authenticated_calls)
{
    rpc_global_init();
    cfs_secret a = secret_of("secret A secret A secret A");
    cfs_secret_install(&a);
    rpc_server *s = rpc_server_create(NULL);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(rpc_server_add_unary(s, "/t.E/Echo", echo, NULL), 0);
    ck_assert_int_eq(rpc_server_add_stream(s, "/t.E/Count", count_stream, NULL), 0);
    int port = rpc_server_start(s, "127.0.0.1:0");
    ck_assert_int_gt(port, 0);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    /* Every call carries a fresh proof: many calls in a row all pass (no false replays). */
    for (int i = 0; i < 200; i++) {
        uint8_t *resp = NULL;
        size_t len = 0;
        ck_assert_int_eq(
            rpc_unary_retry(addr, "/t.E/Echo", (const uint8_t *)"hi", 2, 5000, 5, &resp, &len), 0);
        ck_assert_uint_eq(len, 2);
        free(resp);
    }
    rpc_stream *st;
    ck_assert_int_eq(rpc_stream_open(addr, "/t.E/Count", 5000, &st), 0);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(rpc_stream_send(st, (const uint8_t *)"x", 1), 0);
    ck_assert_int_eq(rpc_stream_close_send(st), 0);
    uint8_t *buf;
    size_t len;
    ck_assert_int_eq(rpc_stream_recv(st, &buf, &len), 1);
    ck_assert_int_eq(buf[0], 3);
    free(buf);
    ck_assert_int_eq(rpc_stream_finish(st), 0);
    rpc_stream_free(st);
    rpc_server_destroy(s);
    cfs_secret_install(NULL);
    rpc_global_shutdown();
}
END_TEST

/* Writes text to a fresh temp file; returns its path (static buffer per slot). */
static const char *temp_file(int slot, const char *text)
{
    static char paths[2][256];
    const char *tmp = getenv("TMPDIR");
    snprintf(paths[slot], sizeof paths[slot], "%s/cfs-tls-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemp(paths[slot]);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return paths[slot];
}

START_TEST(test_tls_config_refused)
{
    char err[512] = "";
    rpc_tls_config c = {"/nonexistent/ca.crt", NULL, NULL, 0};
    ck_assert_int_eq(rpc_set_tls(&c, err, sizeof err), -ENOENT);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/ca.crt"));
    const char *junk = temp_file(0, "not a certificate\n");
    c.ca_file = junk;
    ck_assert_int_eq(rpc_set_tls(&c, err, sizeof err), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "not a PEM file"));
    const char *fake =
        temp_file(1, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    c.ca_file = fake;
    ck_assert_int_eq(rpc_set_tls(&c, err, sizeof err), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "no certificate in it"));
    c.cert_file = fake; /* a certificate without its key */
    ck_assert_int_eq(rpc_set_tls(&c, err, sizeof err), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "go together"));
    rpc_tls_config none = {NULL, NULL, NULL, 0};
    ck_assert_int_eq(rpc_set_tls(&none, err, sizeof err), -EINVAL);
    ck_assert_int_eq(rpc_set_tls(NULL, err, sizeof err), 0);
    unlink(junk);
    unlink(fake);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("rpc_auth");
    TCase *tc = tcase_create("rpc_auth");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_proof_valid_and_refused);
    tcase_add_test(tc, test_proof_tampered);
    tcase_add_test(tc, test_replay_cache);
    tcase_add_test(tc, test_glue_replay_and_wrong_secret);
    tcase_add_test(tc, test_authenticated_calls);
    tcase_add_test(tc, test_tls_config_refused);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
