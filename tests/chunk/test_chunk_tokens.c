/* Integration: chunk access tokens at real chunkserver processes started with a cluster
 * secret and a token secret (no metaserver: this test signs tokens itself with a keyring from
 * the token secret, as the leader would). Every ChunkService call that touches data is refused
 * without a valid, unexpired token for that chunk, version and operation, with the exact error:
 *   -EACCES for a missing, forged (among others: minted from the cluster secret, which clients
 *           hold), wrong-chunk, wrong-version or wrong-operation token,
 *   -CFS_ETOKEN for an expired one,
 * and a valid token is accepted: a chain write lands on both replicas (the downstream checks
 * the token forwarded in the header), reads return the bytes, a replication target presents
 * its replicate token to the source, delete and set-version work. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "chunk_procs.h"
#include "chunkserver/chunk_client.h"
#include "common/chunk_token.h"
#include "common/errors.h"
#include "common/rpc.h"
#include "common/secret.h"

#define MiB (1024u * 1024)
#define TIMEOUT_MS 30000
#define LIFE (10LL * 60 * 1000)

static char g_root[1024];
static char g_secret_path[1100], g_token_secret_path[1100];
static chunk_keyring g_kr, g_cluster_kr;
static struct cs_proc g_a, g_b, g_c;

static int64_t unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A token signed `age_ms` ago for LIFE (so it expired when age_ms >= LIFE). */
struct tok {
    uint8_t b[CHUNK_TOKEN_SIZE];
};

static chunk_token_ref ref(const struct tok *t)
{
    return (chunk_token_ref){t->b, sizeof t->b};
}

static struct tok sign_with(const chunk_keyring *kr, enum chunk_token_op op, uint64_t id,
                            uint64_t ver, int64_t age_ms)
{
    struct tok t;
    ck_assert_int_eq(chunk_token_sign(kr, op, id, ver, unix_ms() - age_ms, LIFE, t.b), 0);
    return t;
}

static struct tok sign(enum chunk_token_op op, uint64_t id, uint64_t ver)
{
    return sign_with(&g_kr, op, id, ver, 0);
}

/* What a client could make: a token from the cluster secret instead of the token secret. */
static struct tok forged(enum chunk_token_op op, uint64_t id, uint64_t ver)
{
    return sign_with(&g_cluster_kr, op, id, ver, 0);
}

static ssize_t pattern_source(void *arg, uint64_t off, uint8_t *buf, size_t max)
{
    uint64_t *end = arg;
    if (off >= *end) return 0;
    size_t n = *end - off < max ? (size_t)(*end - off) : max;
    cs_pattern(1, off, buf, n);
    return (ssize_t)n;
}

static int write_chunk(const char *addr, const char *next, uint64_t id, uint64_t ver, uint64_t base,
                       chunk_token_ref t, struct chunk_write_result *res)
{
    uint64_t end = 2 * MiB;
    const char *chain[1] = {next};
    return chunk_client_write(addr, chain, next ? 1 : 0, id, ver, base, t, 0, pattern_source, &end,
                              TIMEOUT_MS, res);
}

struct check_sink {
    uint8_t *tmp;
    uint64_t mismatches;
};

static int check_sink(void *arg, uint64_t off, const uint8_t *data, size_t len)
{
    struct check_sink *c = arg;
    cs_pattern(1, off, c->tmp, len);
    if (memcmp(c->tmp, data, len) != 0) c->mismatches++;
    return 0;
}

static ssize_t read_chunk(const char *addr, uint64_t id, uint64_t ver, chunk_token_ref t,
                          uint64_t *mismatches)
{
    struct check_sink c = {.tmp = malloc(CHUNK_PIECE_SIZE)};
    ck_assert_ptr_nonnull(c.tmp);
    ssize_t n = chunk_client_read(addr, id, ver, t, 0, 0, TIMEOUT_MS, check_sink, &c);
    free(c.tmp);
    *mismatches = c.mismatches;
    return n;
}

/* Writes a secret file and loads it back; returns its keyring. */
static chunk_keyring make_secret(char *path, size_t len, const char *name, const char *text,
                                 bool install)
{
    snprintf(path, len, "%s/%s", g_root, name);
    int fd = open(path, O_CREAT | O_WRONLY | O_EXCL, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    cfs_secret s;
    char err[256];
    ck_assert_msg(cfs_secret_load(path, &s, err, sizeof err) == 0, "%s", err);
    if (install) cfs_secret_install(&s); /* our calls authenticate like a cluster member */
    chunk_keyring kr;
    ck_assert_int_eq(chunk_keyring_init(&kr, s.bytes, s.len, CHUNK_TOKEN_EPOCH_MS), 0);
    cfs_secret_wipe(&s);
    return kr;
}

static void setup(void)
{
    ck_assert_int_eq(cs_make_root(g_root, sizeof g_root, "cfs_tokens"), 0);
    g_cluster_kr = make_secret(g_secret_path, sizeof g_secret_path, "secret",
                               "cluster-secret-0123456789abcdef\n", true);
    g_kr = make_secret(g_token_secret_path, sizeof g_token_secret_path, "token_secret",
                       "token-secret-for-servers-only-0123\n", false);
    const char *extra[] = {"--secret-file", g_secret_path, "--token-secret-file",
                           g_token_secret_path, NULL};
    ck_assert_int_eq(cs_proc_start(&g_a, g_root, "a", extra), 0);
    ck_assert_int_eq(cs_proc_start(&g_b, g_root, "b", extra), 0);
    ck_assert_int_eq(cs_proc_start(&g_c, g_root, "c", extra), 0);
}

static void teardown(void)
{
    cs_proc_stop(&g_a, SIGKILL);
    cs_proc_stop(&g_b, SIGKILL);
    cs_proc_stop(&g_c, SIGKILL);
    cs_remove_tree(g_root);
}

START_TEST(test_write_tokens)
{
    struct chunk_write_result res;
    /* No token, forged, expired, another chunk's, a read token: each refused by the head. */
    ck_assert_int_eq(write_chunk(g_a.addr, g_b.addr, 1, 1, 0, CHUNK_NO_TOKEN, &res), -EACCES);
    ck_assert_str_eq(res.failed_address, g_a.addr);
    struct tok t = forged(CHUNK_TOKEN_WRITE, 1, 1);
    ck_assert_int_eq(write_chunk(g_a.addr, g_b.addr, 1, 1, 0, ref(&t), &res), -EACCES);
    t = sign_with(&g_kr, CHUNK_TOKEN_WRITE, 1, 1, LIFE + 1000);
    ck_assert_int_eq(write_chunk(g_a.addr, g_b.addr, 1, 1, 0, ref(&t), &res), -CFS_ETOKEN);
    t = sign(CHUNK_TOKEN_WRITE, 2, 1);
    ck_assert_int_eq(write_chunk(g_a.addr, g_b.addr, 1, 1, 0, ref(&t), &res), -EACCES);
    t = sign(CHUNK_TOKEN_READ, 1, 1);
    ck_assert_int_eq(write_chunk(g_a.addr, g_b.addr, 1, 1, 0, ref(&t), &res), -EACCES);
    uint64_t v = 0, l = 0;
    ck_assert_int_eq(chunk_client_info(g_a.addr, 1, TIMEOUT_MS, &v, &l), -ENOENT);
    /* The downstream checks too: straight to B without a token is refused. */
    ck_assert_int_eq(write_chunk(g_b.addr, NULL, 1, 1, 0, CHUNK_NO_TOKEN, &res), -EACCES);
    ck_assert_int_eq(chunk_client_info(g_b.addr, 1, TIMEOUT_MS, &v, &l), -ENOENT);

    /* A valid token: the chain write lands on both (B accepted the forwarded token). */
    t = sign(CHUNK_TOKEN_WRITE, 1, 1);
    int rc = write_chunk(g_a.addr, g_b.addr, 1, 1, 0, ref(&t), &res);
    ck_assert_msg(rc == 0, "valid write: %s at %s", cfs_strerror(rc), res.failed_address);
    struct tok rt = sign(CHUNK_TOKEN_READ, 1, 1);
    const char *both[] = {g_a.addr, g_b.addr};
    for (int i = 0; i < 2; i++) {
        uint64_t bad = 0;
        ck_assert_int_eq(read_chunk(both[i], 1, 1, ref(&rt), &bad), 2 * MiB);
        ck_assert_uint_eq(bad, 0);
    }
}
END_TEST

START_TEST(test_read_tokens)
{
    const uint64_t ID = 11;
    struct chunk_write_result res;
    struct tok t = sign(CHUNK_TOKEN_WRITE, ID, 1);
    ck_assert_int_eq(write_chunk(g_a.addr, NULL, ID, 1, 0, ref(&t), &res), 0);
    uint64_t bad = 0;
    ck_assert_int_eq(read_chunk(g_a.addr, ID, 1, CHUNK_NO_TOKEN, &bad), -EACCES);
    t = forged(CHUNK_TOKEN_READ, ID, 1);
    ck_assert_int_eq(read_chunk(g_a.addr, ID, 1, ref(&t), &bad), -EACCES);
    t = sign_with(&g_kr, CHUNK_TOKEN_READ, ID, 1, LIFE + 1000);
    ck_assert_int_eq(read_chunk(g_a.addr, ID, 1, ref(&t), &bad), -CFS_ETOKEN);
    t = sign(CHUNK_TOKEN_READ, ID + 1, 1);
    ck_assert_int_eq(read_chunk(g_a.addr, ID, 1, ref(&t), &bad), -EACCES);
    t = sign(CHUNK_TOKEN_READ, ID, 2);
    ck_assert_int_eq(read_chunk(g_a.addr, ID, 1, ref(&t), &bad), -EACCES);
    t = sign(CHUNK_TOKEN_WRITE, ID, 1);
    ck_assert_int_eq(read_chunk(g_a.addr, ID, 1, ref(&t), &bad), -EACCES);
    /* Truncated: one byte short of a token. */
    t = sign(CHUNK_TOKEN_READ, ID, 1);
    chunk_token_ref shortened = {t.b, sizeof t.b - 1};
    ck_assert_int_eq(read_chunk(g_a.addr, ID, 1, shortened, &bad), -EACCES);
    ck_assert_int_eq(read_chunk(g_a.addr, ID, 1, ref(&t), &bad), 2 * MiB);
    ck_assert_uint_eq(bad, 0);
}
END_TEST

START_TEST(test_replicate_delete_set_version)
{
    const uint64_t ID = 21;
    struct chunk_write_result res;
    struct tok t = sign(CHUNK_TOKEN_WRITE, ID, 1);
    ck_assert_int_eq(write_chunk(g_a.addr, NULL, ID, 1, 0, ref(&t), &res), 0);

    /* C pulls from A: a read token is not a replicate token (refused by C), an expired one is
     * refused as expired; the valid one is also what A's Read accepts from C. */
    t = sign(CHUNK_TOKEN_READ, ID, 1);
    ck_assert_int_eq(chunk_client_replicate(g_c.addr, ID, 1, g_a.addr, ref(&t), TIMEOUT_MS),
                     -EACCES);
    t = sign_with(&g_kr, CHUNK_TOKEN_REPLICATE, ID, 1, LIFE + 1000);
    ck_assert_int_eq(chunk_client_replicate(g_c.addr, ID, 1, g_a.addr, ref(&t), TIMEOUT_MS),
                     -CFS_ETOKEN);
    uint64_t v = 0, l = 0;
    ck_assert_int_eq(chunk_client_info(g_c.addr, ID, TIMEOUT_MS, &v, &l), -ENOENT);
    t = sign(CHUNK_TOKEN_REPLICATE, ID, 1);
    ck_assert_int_eq(chunk_client_replicate(g_c.addr, ID, 1, g_a.addr, ref(&t), TIMEOUT_MS), 0);
    ck_assert_int_eq(chunk_client_info(g_c.addr, ID, TIMEOUT_MS, &v, &l), 0);
    ck_assert_uint_eq(v, 1);
    ck_assert_uint_eq(l, 2 * MiB);

    /* SetVersion needs a set-version token for the new version. */
    t = sign(CHUNK_TOKEN_SET_VERSION, ID, 1);
    ck_assert_int_eq(chunk_client_set_version(g_c.addr, ID, 1, 2, ref(&t), TIMEOUT_MS), -EACCES);
    ck_assert_int_eq(chunk_client_set_version(g_c.addr, ID, 1, 2, CHUNK_NO_TOKEN, TIMEOUT_MS),
                     -EACCES);
    t = sign(CHUNK_TOKEN_SET_VERSION, ID, 2);
    ck_assert_int_eq(chunk_client_set_version(g_c.addr, ID, 1, 2, ref(&t), TIMEOUT_MS), 0);
    ck_assert_int_eq(chunk_client_info(g_c.addr, ID, TIMEOUT_MS, &v, &l), 0);
    ck_assert_uint_eq(v, 2);

    /* Delete: refused without, with a forged or another chunk's token; the replica stays. */
    ck_assert_int_eq(chunk_client_delete(g_c.addr, ID, 2, CHUNK_NO_TOKEN, TIMEOUT_MS), -EACCES);
    t = forged(CHUNK_TOKEN_DELETE, ID, 2);
    ck_assert_int_eq(chunk_client_delete(g_c.addr, ID, 2, ref(&t), TIMEOUT_MS), -EACCES);
    t = sign(CHUNK_TOKEN_DELETE, ID + 2, 2);
    ck_assert_int_eq(chunk_client_delete(g_c.addr, ID, 2, ref(&t), TIMEOUT_MS), -EACCES);
    t = sign_with(&g_kr, CHUNK_TOKEN_DELETE, ID, 2, LIFE + 1000);
    ck_assert_int_eq(chunk_client_delete(g_c.addr, ID, 2, ref(&t), TIMEOUT_MS), -CFS_ETOKEN);
    ck_assert_int_eq(chunk_client_info(g_c.addr, ID, TIMEOUT_MS, &v, &l), 0);
    t = sign(CHUNK_TOKEN_DELETE, ID, 2);
    ck_assert_int_eq(chunk_client_delete(g_c.addr, ID, 2, ref(&t), TIMEOUT_MS), 0);
    ck_assert_int_eq(chunk_client_info(g_c.addr, ID, TIMEOUT_MS, &v, &l), -ENOENT);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("chunk_tokens");
    TCase *tc = tcase_create("tokens");
    /* One set of servers for all tests (distinct chunk ids); no fork: gRPC is initialised in
     * this process by the setup's readiness probes. */
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_write_tokens);
    tcase_add_test(tc, test_read_tokens);
    tcase_add_test(tc, test_replicate_delete_set_version);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    rpc_global_shutdown();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
