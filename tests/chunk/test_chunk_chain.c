/* Integration: real chunkserver processes on 127.0.0.1 without a metaserver.
 *  - a 3-replica chain write of 256 MiB leaves every replica byte-identical (read back from
 *    each), and a version-bumping overwrite goes through the chain too;
 *  - the middle replica killed (-9) during a chain write: the client gets an error naming it
 *    within a bounded time, and the survivors take the rewrite;
 *  - a corrupted block is refused on read, and the scrubber finds another one by itself;
 *  - Replicate pulls a replica from a peer, Delete removes it;
 *  - an acknowledged chain write survives kill -9 of every replica right after the ack, in
 *    both sync modes (the start-up scan cuts whatever the synced header does not cover, so
 *    this fails if any replica acknowledged before its sync). */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
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
#include "proto/chunkfs.pb-c.h"

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
    ssize_t n =
        chunk_client_read(addr, id, version, CHUNK_NO_TOKEN, 0, 0, TIMEOUT_MS, check_sink, &c);
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
        int rc = chunk_client_write(p[0].addr, chain, 2, id, 1, 0, CHUNK_NO_TOKEN, 0,
                                    pattern_source, &src, TIMEOUT_MS, &res);
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
    int rc = chunk_client_write(p[0].addr, chain, 2, 1, 2, 1, CHUNK_NO_TOKEN, at, mem_source, &ms,
                                TIMEOUT_MS, &res);
    ck_assert_msg(rc == 0, "overwrite: %s at %s", cfs_strerror(rc), res.failed_address);
    for (int r = 0; r < 3; r++)
        expect_replica(p[r].addr, 1, 2, CHUNK_MAX_SIZE, model);
    /* a write session based on the old version is refused */
    rc = chunk_client_write(p[0].addr, chain, 2, 1, 3, 1, CHUNK_NO_TOKEN, 0, mem_source, &ms,
                            TIMEOUT_MS, &res);
    ck_assert_int_eq(rc, -CFS_ESTALE_VER);
    ck_assert_str_eq(res.failed_address, p[0].addr);
    free(model);
    for (int r = 0; r < 3; r++)
        cs_proc_stop(&p[r], SIGTERM);
}
END_TEST

struct kill_hook {
    struct cs_proc *victim;
    int64_t killed_at;
};

static void kill_victim(void *arg)
{
    struct kill_hook *k = arg;
    kill(k->victim->pid, SIGKILL);
    k->killed_at = now_ms();
}

START_TEST(test_middle_replica_killed_is_named)
{
    rpc_global_init();
    struct cs_proc p[3];
    start(&p[0], "ka", NULL);
    start(&p[1], "kb", NULL);
    start(&p[2], "kc", NULL);
    const char *chain[2] = {p[1].addr, p[2].addr};
    /* The middle replica dies after 8 MiB of a 64 MiB write session. */
    struct kill_hook k = {.victim = &p[1]};
    struct pattern_src src = {
        .id = 7, .end = CHUNK_MAX_SIZE, .hook_at = 8 * MiB, .hook = kill_victim, .hook_arg = &k};
    struct chunk_write_result res;
    int rc = chunk_client_write(p[0].addr, chain, 2, 7, 1, 0, CHUNK_NO_TOKEN, 0, pattern_source,
                                &src, TIMEOUT_MS, &res);
    int64_t took = now_ms() - k.killed_at;
    ck_assert(src.hooked);
    ck_assert_msg(rc < 0, "the write succeeded although %s was killed", p[1].addr);
    ck_assert_int_eq(res.err, rc);
    ck_assert_str_eq(res.failed_address, p[1].addr);
    fprintf(stderr, "middle replica killed: error \"%s\" naming %s after %" PRId64 " ms\n",
            cfs_strerror(rc), res.failed_address, took);
    ck_assert_msg(took < 10000, "error took %" PRId64 " ms", took);
    cs_proc_stop(&p[1], SIGKILL);

    /* What the client does next (the metaserver having bumped the version to 2 and dropped
     * the dead replica): rewrite the chunk to the survivors, which end identical. The last
     * replica holds version 1 only if B's forwarded stream reached it before B died. */
    uint64_t cv = 0, cl = 0;
    bool c_has = chunk_client_info(p[2].addr, 7, TIMEOUT_MS, &cv, &cl) == 0;
    ck_assert(!c_has || cv == 1);
    const char *chain2[1] = {p[2].addr};
    struct pattern_src src2 = {.id = 7, .end = CHUNK_MAX_SIZE};
    rc = chunk_client_write(p[0].addr, chain2, c_has ? 1 : 0, 7, 2, 1, CHUNK_NO_TOKEN, 0,
                            pattern_source, &src2, TIMEOUT_MS, &res);
    ck_assert_msg(rc == 0, "rewrite: %s at %s", cfs_strerror(rc), res.failed_address);
    expect_replica(p[0].addr, 7, 2, CHUNK_MAX_SIZE, NULL);
    if (c_has) expect_replica(p[2].addr, 7, 2, CHUNK_MAX_SIZE, NULL);

    /* A chain whose last replica does not exist: the error names it. */
    const char *dead_chain[2] = {p[2].addr, p[1].addr};
    struct pattern_src src3 = {.id = 8, .end = 2 * MiB};
    rc = chunk_client_write(p[0].addr, dead_chain, 2, 8, 1, 0, CHUNK_NO_TOKEN, 0, pattern_source,
                            &src3, TIMEOUT_MS, &res);
    ck_assert_int_lt(rc, 0);
    ck_assert_str_eq(res.failed_address, p[1].addr);
    cs_proc_stop(&p[0], SIGTERM);
    cs_proc_stop(&p[2], SIGTERM);
}
END_TEST

static size_t count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        n += de->d_name[0] != '.';
    closedir(d);
    return n;
}

static void write_simple(const char *addr, uint64_t id, uint64_t len)
{
    struct pattern_src src = {.id = id, .end = len};
    struct chunk_write_result res;
    int rc = chunk_client_write(addr, NULL, 0, id, 1, 0, CHUNK_NO_TOKEN, 0, pattern_source, &src,
                                TIMEOUT_MS, &res);
    ck_assert_msg(rc == 0, "write %" PRIu64 ": %s", id, cfs_strerror(rc));
}

static void flip_byte(const char *data_dir, uint64_t id, uint64_t off)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%.3000s/chunks/%02x/%016" PRIx64 ".chk", data_dir,
             (unsigned)(id & 0xff), id);
    int fd = open(path, O_RDWR);
    ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
    uint8_t b;
    ck_assert_int_eq(pread(fd, &b, 1, (off_t)(CHUNK_DATA_OFF + off)), 1);
    b ^= 0x01;
    ck_assert_int_eq(pwrite(fd, &b, 1, (off_t)(CHUNK_DATA_OFF + off)), 1);
    ck_assert_int_eq(fsync(fd), 0);
    close(fd);
}

static int discard_sink(void *arg, uint64_t off, const uint8_t *data, size_t len)
{
    (void)arg;
    (void)off;
    (void)data;
    (void)len;
    return 0;
}

START_TEST(test_corrupt_block_refused_and_scrubbed)
{
    rpc_global_init();
    /* r: scrubber idle (one pass at start over nothing, next in an hour); s: scrubs every
     * second at 64 MiB/s. */
    const char *scrub_fast[] = {"--scrub-interval", "1", "--scrub-rate", "64", NULL};
    struct cs_proc r, s;
    start(&r, "r", NULL);
    start(&s, "s", scrub_fast);
    char qr[PATH_MAX + 16], qs[PATH_MAX + 16];
    snprintf(qr, sizeof qr, "%.3000s/quarantine", r.dir);
    snprintf(qs, sizeof qs, "%.3000s/quarantine", s.dir);

    /* On read: the bad block is refused with -CFS_ECORRUPT, the good ones before it read. */
    write_simple(r.addr, 21, 5 * MiB);
    flip_byte(r.dir, 21, 3 * MiB + 777);
    struct check_sink c = {.id = 21, .tmp = malloc(CHUNK_PIECE_SIZE)};
    ssize_t n =
        chunk_client_read(r.addr, 21, 1, CHUNK_NO_TOKEN, 0, 2 * MiB, TIMEOUT_MS, check_sink, &c);
    ck_assert_int_eq(n, 2 * MiB);
    ck_assert_uint_eq(c.mismatches, 0);
    n = chunk_client_read(r.addr, 21, 1, CHUNK_NO_TOKEN, 0, 0, TIMEOUT_MS, check_sink, &c);
    ck_assert_int_eq(n, -CFS_ECORRUPT);
    ck_assert_uint_eq(c.mismatches, 0);
    free(c.tmp);
    /* ... and the replica is moved aside: gone from the server, in quarantine/. */
    uint64_t v, l;
    ck_assert_int_eq(chunk_client_info(r.addr, 21, TIMEOUT_MS, &v, &l), -ENOENT);
    ck_assert_int_eq(count_entries(qr), 1);

    /* By the scrubber: nobody reads chunk 22, yet it is found and moved aside. */
    write_simple(s.addr, 22, 3 * MiB);
    write_simple(s.addr, 23, 3 * MiB);
    flip_byte(s.dir, 22, 2 * MiB + 5);
    int64_t deadline = now_ms() + 30000;
    while (count_entries(qs) == 0 && now_ms() < deadline)
        usleep(100000);
    ck_assert_int_eq(count_entries(qs), 1);
    ck_assert_int_eq(chunk_client_info(s.addr, 22, TIMEOUT_MS, &v, &l), -ENOENT);
    /* the healthy neighbour is untouched */
    expect_replica(s.addr, 23, 1, 3 * MiB, NULL);
    ck_assert_int_eq(
        chunk_client_read(s.addr, 22, 1, CHUNK_NO_TOKEN, 0, 0, TIMEOUT_MS, discard_sink, NULL),
        -ENOENT);
    cs_proc_stop(&r, SIGTERM);
    cs_proc_stop(&s, SIGTERM);
}
END_TEST

START_TEST(test_replicate_delete_info_set_version)
{
    rpc_global_init();
    struct cs_proc a, b;
    start(&a, "ra", NULL);
    start(&b, "rb", NULL);
    write_simple(a.addr, 31, 9 * MiB + 3);
    /* pull from a peer: same bytes, same version */
    ck_assert_int_eq(chunk_client_replicate(b.addr, 31, 1, a.addr, CHUNK_NO_TOKEN, TIMEOUT_MS), 0);
    expect_replica(b.addr, 31, 1, 9 * MiB + 3, NULL);
    /* a version the source does not have: refused, nothing left behind */
    ck_assert_int_eq(chunk_client_replicate(b.addr, 31, 5, a.addr, CHUNK_NO_TOKEN, TIMEOUT_MS),
                     -CFS_ESTALE_VER);
    expect_replica(b.addr, 31, 1, 9 * MiB + 3, NULL);
    ck_assert_int_eq(chunk_client_replicate(b.addr, 32, 1, a.addr, CHUNK_NO_TOKEN, TIMEOUT_MS),
                     -ENOENT);
    uint64_t v, l;
    ck_assert_int_eq(chunk_client_info(b.addr, 32, TIMEOUT_MS, &v, &l), -ENOENT);
    /* version bump by RPC, then stale replica replaced by a newer pull */
    ck_assert_int_eq(chunk_client_set_version(a.addr, 31, 1, 2, CHUNK_NO_TOKEN, TIMEOUT_MS), 0);
    ck_assert_int_eq(chunk_client_set_version(a.addr, 31, 1, 3, CHUNK_NO_TOKEN, TIMEOUT_MS),
                     -CFS_ESTALE_VER);
    ck_assert_int_eq(chunk_client_replicate(b.addr, 31, 2, a.addr, CHUNK_NO_TOKEN, TIMEOUT_MS), 0);
    expect_replica(b.addr, 31, 2, 9 * MiB + 3, NULL);
    /* stale read version */
    ck_assert_int_eq(
        chunk_client_read(b.addr, 31, 1, CHUNK_NO_TOKEN, 0, 0, TIMEOUT_MS, discard_sink, NULL),
        -CFS_ESTALE_VER);
    /* delete: wrong version refused, right one removes */
    ck_assert_int_eq(chunk_client_delete(b.addr, 31, 1, CHUNK_NO_TOKEN, TIMEOUT_MS),
                     -CFS_ESTALE_VER);
    ck_assert_int_eq(chunk_client_delete(b.addr, 31, 2, CHUNK_NO_TOKEN, TIMEOUT_MS), 0);
    ck_assert_int_eq(chunk_client_info(b.addr, 31, TIMEOUT_MS, &v, &l), -ENOENT);
    /* bad input: id 0 and a write without a header */
    ck_assert_int_eq(chunk_client_info(b.addr, 0, TIMEOUT_MS, &v, &l), -EINVAL);
    ck_assert_int_eq(
        chunk_client_read(b.addr, 0, 1, CHUNK_NO_TOKEN, 0, 0, TIMEOUT_MS, discard_sink, NULL),
        -EINVAL);
    struct chunk_write_result res;
    struct pattern_src src = {.id = 40, .end = MiB};
    ck_assert_int_eq(chunk_client_write(b.addr, NULL, 0, 40, 0, 0, CHUNK_NO_TOKEN, 0,
                                        pattern_source, &src, TIMEOUT_MS, &res),
                     -EINVAL);
    ck_assert_int_eq(
        chunk_client_write(
            b.addr, NULL, 0, 40, 1, 0, CHUNK_NO_TOKEN, CHUNK_MAX_SIZE - 10, pattern_source,
            &(struct pattern_src){.id = 40, .end = CHUNK_MAX_SIZE + 100ull}, TIMEOUT_MS, &res),
        -EINVAL);
    /* malformed messages: a clear error, the server keeps going */
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
    uint8_t *out = NULL;
    size_t olen = 0;
    ck_assert_int_eq(
        rpc_unary(b.addr, CHUNK_METHOD_INFO, junk, sizeof junk, TIMEOUT_MS, &out, &olen), 0);
    Chunkfs__ChunkResp *cr = chunkfs__chunk_resp__unpack(NULL, olen, out);
    ck_assert_ptr_nonnull(cr);
    ck_assert_int_eq(cr->err, -EBADMSG);
    chunkfs__chunk_resp__free_unpacked(cr, NULL);
    free(out);
    rpc_stream *st = NULL;
    ck_assert_int_eq(rpc_stream_open(b.addr, CHUNK_METHOD_WRITE, TIMEOUT_MS, &st), 0);
    ck_assert_int_eq(rpc_stream_send(st, junk, sizeof junk), 0);
    rpc_stream_close_send(st);
    ck_assert_int_eq(rpc_stream_recv(st, &out, &olen), 1);
    Chunkfs__WriteResp *wr = chunkfs__write_resp__unpack(NULL, olen, out);
    ck_assert_ptr_nonnull(wr);
    ck_assert_int_eq(wr->err, -EINVAL);
    ck_assert_str_eq(wr->failed_address, b.addr);
    chunkfs__write_resp__free_unpacked(wr, NULL);
    free(out);
    rpc_stream_finish(st);
    rpc_stream_free(st);
    /* the server still works after all that */
    write_simple(b.addr, 41, MiB);
    expect_replica(b.addr, 41, 1, MiB, NULL);
    /* SIGTERM: clean exit, and the data is there after a restart */
    ck_assert_int_eq(cs_proc_stop(&b, SIGTERM), 0);
    start(&b, "rb", NULL);
    expect_replica(b.addr, 41, 1, MiB, NULL);
    cs_proc_stop(&a, SIGTERM);
    cs_proc_stop(&b, SIGTERM);
}
END_TEST

/* Writes `len` pattern bytes at `off` (session `version`, base `base`) through a->b->c. */
static void chain_write(struct cs_proc *p, uint64_t id, uint64_t version, uint64_t base,
                        uint64_t off, uint64_t len)
{
    const char *chain[2] = {p[1].addr, p[2].addr};
    struct pattern_src src = {.id = id, .end = off + len};
    struct chunk_write_result res;
    int rc = chunk_client_write(p[0].addr, chain, 2, id, version, base, CHUNK_NO_TOKEN, off,
                                pattern_source, &src, TIMEOUT_MS, &res);
    ck_assert_msg(rc == 0, "chunk %" PRIu64 " v%" PRIu64 ": %s at %s", id, version,
                  cfs_strerror(rc), res.failed_address);
    ck_assert_uint_eq(res.length, off + len);
}

static void kill_all_and_restart(struct cs_proc *p, const char *const *names,
                                 const char *const *extra)
{
    for (int r = 0; r < 3; r++)
        cs_proc_stop(&p[r], SIGKILL);
    for (int r = 0; r < 3; r++)
        start(&p[r], names[r], extra);
}

static void ack_survives_kill(const char *mode, const char *const *names)
{
    rpc_global_init();
    const char *extra[] = {"--sync-mode", mode, NULL};
    struct cs_proc p[3];
    for (int r = 0; r < 3; r++)
        start(&p[r], names[r], extra);
    /* A new chunk, several messages and a partial last block. */
    const uint64_t id = 61, len1 = 9 * MiB + 12345, len2 = 3 * MiB + 777;
    chain_write(p, id, 1, 0, 0, len1);
    kill_all_and_restart(p, names, extra);
    for (int r = 0; r < 3; r++)
        expect_replica(p[r].addr, id, 1, len1, NULL);
    /* A second session (version bump) appending to it. */
    chain_write(p, id, 2, 1, len1, len2);
    kill_all_and_restart(p, names, extra);
    for (int r = 0; r < 3; r++)
        expect_replica(p[r].addr, id, 2, len1 + len2, NULL);
    for (int r = 0; r < 3; r++)
        cs_proc_stop(&p[r], SIGTERM);
}

START_TEST(test_ack_survives_kill_close)
{
    const char *names[] = {"dc1", "dc2", "dc3"};
    ack_survives_kill("close", names);
}
END_TEST

START_TEST(test_ack_survives_kill_per_write)
{
    const char *names[] = {"dp1", "dp2", "dp3"};
    ack_survives_kill("per-write", names);
}
END_TEST

int main(void)
{
    if (cs_make_root(g_root, sizeof g_root, "cfs_chain") < 0) return 1;
    Suite *s = suite_create("chunk_chain");
    /* One case per test so that CK_RUN_CASE=<name> runs one alone. */
    const struct {
        const char *name;
        const TTest *test;
    } cases[] = {
        {"chain", test_chain_write_256mib_identical},
        {"kill", test_middle_replica_killed_is_named},
        {"corrupt", test_corrupt_block_refused_and_scrubbed},
        {"replicate", test_replicate_delete_info_set_version},
        {"durable_close", test_ack_survives_kill_close},
        {"durable_per_write", test_ack_survives_kill_per_write},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_set_timeout(tc, 90);
        tcase_add_test(tc, cases[i].test);
        suite_add_tcase(s, tc);
    }
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    if (getenv("CHUNK_TEST_KEEP"))
        fprintf(stderr, "kept %s\n", g_root);
    else
        cs_remove_tree(g_root);
    return failed ? 1 : 0;
}
