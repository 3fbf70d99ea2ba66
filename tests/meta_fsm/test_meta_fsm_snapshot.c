/* meta_fsm snapshot round trip (random tree of 2,000 operations), rejection of bad images,
 * malformed log entries, and paged readdir stability under concurrent changes. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "tests/meta_fsm/fsm_helpers.h"

#define ROOT 1

/* Deterministic test-side generator (the fsm itself never draws random numbers). */
static uint64_t rng_state;
static uint32_t rnd(uint32_t n)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 33) % n;
}

/* A random workload over a small name space so that operations collide and fail often. */
static void random_ops(int count)
{
    uint64_t dirs[64] = {ROOT}, files[256];
    int nd = 1, nf = 0;
    static const uint32_t groups[1] = {50};
    for (int i = 0; i < count; i++) {
        TNOW += 1000;
        char name[16], name2[16];
        snprintf(name, sizeof(name), "n%u", rnd(40));
        snprintf(name2, sizeof(name2), "n%u", rnd(40));
        uint64_t d = dirs[rnd((uint32_t)nd)], d2 = dirs[rnd((uint32_t)nd)], ino;
        if (rnd(10) == 0)
            th_as(1000 + rnd(2), 100, 1, groups);
        else
            th_root();
        TCLIENT = 1 + rnd(3);
        switch (rnd(12)) {
        case 0:
            if (th_mkdir(d, name, 0777, &ino) == 0 && nd < 64) dirs[nd++] = ino;
            break;
        case 1:
        case 2: {
            uint64_t lease = 0;
            if (th_create_full(d, name, 0666, 0, 0, rnd(2), &ino, &lease) == 0) {
                if (nf < 256) files[nf++] = ino;
                if (lease) {
                    uint64_t id, ver;
                    uint32_t idx = rnd(3);
                    if (th_alloc(ino, lease, idx, &id, &ver, NULL) == 0 && rnd(2))
                        th_commit(ino, lease, idx, id, ver, rnd(1000), rnd(3) * 1000);
                    if (rnd(2)) th_close(ino, lease);
                }
            }
            break;
        }
        case 3:
            th_unlink(d, name);
            break;
        case 4:
            th_rmdir(d, name);
            break;
        case 5:
            th_rename(d, name, d2, name2, rnd(4) == 0 ? rnd(3) : 0);
            break;
        case 6:
            if (nf) th_link(files[rnd((uint32_t)nf)], d, name);
            break;
        case 7:
            th_symlink(d, name, name2, NULL);
            break;
        case 8:
            if (nf)
                th_setattr(files[rnd((uint32_t)nf)],
                           META_SETATTR_MODE | (rnd(2) ? META_SETATTR_SIZE : 0), rnd(07777), 0, 0,
                           rnd(5000), 0, 0, NULL);
            break;
        case 9:
            th_setxattr(rnd(2) && nf ? files[rnd((uint32_t)nf)] : d, rnd(2) ? "user.a" : "user.b",
                        name, 0);
            break;
        case 10:
            th_removexattr(d, "user.a");
            break;
        case 11:
            if (nd > 1) th_set_goal(dirs[rnd((uint32_t)nd)], 1 + rnd(5), rnd(2));
            break;
        }
    }
    th_root();
    TCLIENT = 77;
}

START_TEST(t_snapshot_roundtrip)
{
    rng_state = 12345;
    random_ops(2000);
    meta_fsm_info info;
    meta_fsm_get_info(TF, &info);
    ck_assert_uint_gt(info.dirs + info.files + info.symlinks, 20);

    uint8_t *img;
    size_t len;
    ck_assert_int_eq(meta_fsm_snapshot(TF, &img, &len), 0);
    meta_fsm *copy = meta_fsm_create();
    meta_fsm_set_hash_seed(copy, 0xdeadbeef); /* another tree shape: nothing observable */
    ck_assert_int_eq(meta_fsm_restore(copy, img, len), 0);
    ck_assert(meta_fsm_equal(TF, copy));
    uint8_t *img2;
    size_t len2;
    ck_assert_int_eq(meta_fsm_snapshot(copy, &img2, &len2), 0);
    ck_assert_uint_eq(len, len2);
    ck_assert_int_eq(memcmp(img, img2, len), 0);
    meta_fsm_info info2;
    meta_fsm_get_info(copy, &info2);
    ck_assert_int_eq(memcmp(&info, &info2, sizeof(info)), 0);

    /* the restored copy behaves identically: replay the same workload on both */
    meta_fsm *orig = TF;
    uint64_t saved_rng = 999;
    int64_t saved_now = TNOW;
    uint64_t saved_req = TREQ;
    rng_state = saved_rng;
    random_ops(500);
    TF = copy;
    TNOW = saved_now;
    TREQ = saved_req;
    rng_state = saved_rng;
    random_ops(500);
    TF = orig;
    ck_assert(meta_fsm_equal(TF, copy));
    meta_fsm_destroy(copy);
    free(img);
    free(img2);
}
END_TEST

static void put_crc(uint8_t *img, size_t len)
{
    uint32_t c = (uint32_t)crc32_z(0L, img, len - 4);
    for (int i = 0; i < 4; i++)
        img[len - 4 + (size_t)i] = (uint8_t)(c >> (8 * i));
}

START_TEST(t_snapshot_bad_rejected)
{
    uint64_t d, f;
    ck_assert_int_eq(th_mkdir(ROOT, "d", 0755, &d), 0);
    ck_assert_int_eq(th_create(d, "f", 0644, &f), 0);
    uint8_t *img;
    size_t len;
    ck_assert_int_eq(meta_fsm_snapshot(TF, &img, &len), 0);

    meta_fsm *victim = meta_fsm_create();
    ck_assert_int_eq(th_format("keep", 0, 0), 0); /* TF differs from victim from here on */
    uint8_t *before;
    size_t before_len;
    ck_assert_int_eq(meta_fsm_snapshot(victim, &before, &before_len), 0);

    ck_assert_int_eq(meta_fsm_restore(victim, img, len - 1), -EINVAL);
    ck_assert_int_eq(meta_fsm_restore(victim, img, 3), -EINVAL);
    ck_assert_int_eq(meta_fsm_restore(victim, NULL, 0), -EINVAL);
    uint8_t *bad = malloc(len);
    for (size_t pos = 0; pos < len; pos += 7) {
        memcpy(bad, img, len);
        bad[pos] ^= 0x5a;
        ck_assert_int_eq(meta_fsm_restore(victim, bad, len), -EINVAL); /* checksum */
    }
    /* structurally bad images with a valid checksum: flip bytes everywhere but the CRC and
     * fix the CRC; every one must be rejected or restore a self-consistent state. */
    int rejected = 0;
    for (size_t pos = 8; pos + 4 < len; pos++) {
        memcpy(bad, img, len);
        bad[pos] ^= 0xff;
        put_crc(bad, len);
        meta_fsm *probe = meta_fsm_create();
        int rc = meta_fsm_restore(probe, bad, len);
        ck_assert(rc == 0 || rc == -EINVAL);
        if (rc == 0) {
            /* accepted (e.g. a time or uid changed): it must round-trip exactly */
            uint8_t *again;
            size_t alen;
            ck_assert_int_eq(meta_fsm_snapshot(probe, &again, &alen), 0);
            ck_assert_uint_eq(alen, len);
            ck_assert_int_eq(memcmp(again, bad, len), 0);
            free(again);
        } else {
            rejected++;
        }
        meta_fsm_destroy(probe);
    }
    ck_assert_int_gt(rejected, 20);
    /* the failed restores left the victim untouched */
    uint8_t *after;
    size_t after_len;
    ck_assert_int_eq(meta_fsm_snapshot(victim, &after, &after_len), 0);
    ck_assert_uint_eq(after_len, before_len);
    ck_assert_int_eq(memcmp(before, after, after_len), 0);
    free(img);
    free(bad);
    free(before);
    free(after);
    meta_fsm_destroy(victim);
}
END_TEST

START_TEST(t_malformed_entries)
{
    ck_assert_int_eq(th_mkdir(ROOT, "d", 0755, NULL), 0);
    uint8_t *before;
    size_t blen;
    ck_assert_int_eq(meta_fsm_snapshot(TF, &before, &blen), 0);
    Chunkfs__MetaResponse *r;
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x01};
    ck_assert_int_eq(th_apply_packed(junk, sizeof(junk), &r), 0);
    ck_assert_int_eq(r->err, -EINVAL);
    chunkfs__meta_response__free_unpacked(r, NULL);
    ck_assert_int_eq(th_apply_packed(NULL, 0, &r), 0); /* empty command: no cmd set */
    ck_assert_int_eq(r->err, -EINVAL);
    chunkfs__meta_response__free_unpacked(r, NULL);
    /* a client command with no op */
    Chunkfs__MetaRequest req = CHUNKFS__META_REQUEST__INIT;
    req.client_id = 1;
    req.request_id = 1;
    Chunkfs__MetaCommand cmd = CHUNKFS__META_COMMAND__INIT;
    cmd.cmd_case = CHUNKFS__META_COMMAND__CMD_CLIENT;
    cmd.client = &req;
    uint8_t buf[64];
    size_t n = chunkfs__meta_command__pack(&cmd, buf);
    ck_assert_int_eq(th_apply_packed(buf, n, &r), 0);
    ck_assert_int_eq(r->err, -EINVAL);
    chunkfs__meta_response__free_unpacked(r, NULL);
    /* shell-only ops are not state machine commands */
    Chunkfs__LockReq lk = CHUNKFS__LOCK_REQ__INIT;
    req.op_case = CHUNKFS__META_REQUEST__OP_LOCK;
    req.lock = &lk;
    n = chunkfs__meta_command__pack(&cmd, buf);
    ck_assert_int_eq(th_apply_packed(buf, n, &r), 0);
    ck_assert_int_eq(r->err, -EINVAL);
    chunkfs__meta_response__free_unpacked(r, NULL);
    uint8_t *after;
    size_t alen;
    ck_assert_int_eq(meta_fsm_snapshot(TF, &after, &alen), 0);
    ck_assert_uint_eq(alen, blen);
    ck_assert_int_eq(memcmp(before, after, alen), 0);
    free(before);
    free(after);
}
END_TEST

/* Reads one page; returns eof and appends names to seen[] (with their count). */
static int read_page(uint64_t dir, const char *after, uint32_t max, char (*names)[16], int *n)
{
    Chunkfs__ReaddirReq rd = CHUNKFS__READDIR_REQ__INIT;
    rd.ino = dir;
    rd.after = (char *)after;
    rd.max = max;
    rd.with_attrs = true;
    Chunkfs__MetaRequest req = CHUNKFS__META_REQUEST__INIT;
    req.op_case = CHUNKFS__META_REQUEST__OP_READDIR;
    req.readdir = &rd;
    Chunkfs__MetaResponse *r = th_run(&req);
    ck_assert_int_eq(r->err, 0);
    if (max) ck_assert_uint_le(r->readdir->n_entries, max);
    for (size_t i = 0; i < r->readdir->n_entries; i++) {
        const Chunkfs__DirEntry *e = r->readdir->entries[i];
        ck_assert_ptr_nonnull(e->attr);
        ck_assert_uint_eq(e->attr->ino, e->ino);
        snprintf(names[*n], 16, "%s", e->name);
        (*n)++;
    }
    int eof = r->readdir->eof;
    chunkfs__meta_response__free_unpacked(r, NULL);
    return eof;
}

START_TEST(t_readdir_paged_concurrent)
{
    enum { N = 10000 };
    uint64_t dir;
    ck_assert_int_eq(th_mkdir(ROOT, "big", 0755, &dir), 0);
    char name[16];
    /* "s" entries stay throughout; "v" entries are deleted while paging; "n" entries appear */
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof(name), "%c%05d", i % 2 ? 's' : 'v', i);
        ck_assert_int_eq(th_create(dir, name, 0644, NULL), 0);
    }
    char(*seen)[16] = calloc(3 * N, 16);
    int nseen = 0, pages = 0;
    char cursor[16] = "";
    rng_state = 7;
    for (;;) {
        int before = nseen;
        int eof = read_page(dir, cursor, 97, seen, &nseen);
        pages++;
        if (nseen > before) snprintf(cursor, sizeof(cursor), "%s", seen[nseen - 1]);
        if (eof) break;
        ck_assert_int_lt(pages, 1000);
        for (int k = 0; k < 20; k++) { /* concurrent changes all over the name space */
            snprintf(name, sizeof(name), "v%05d", (int)rnd(N / 2) * 2);
            th_unlink(dir, name);
            snprintf(name, sizeof(name), "n%05d", (int)rnd(N));
            th_create(dir, name, 0644, NULL);
            snprintf(name, sizeof(name), "%c%05d", rnd(2) ? 'a' : 'z', (int)rnd(N));
            th_create(dir, name, 0644, NULL);
        }
    }
    /* strictly increasing: no entry twice */
    for (int i = 1; i < nseen; i++)
        ck_assert_int_lt(strcmp(seen[i - 1], seen[i]), 0);
    /* every entry present throughout was returned */
    int s_count = 0;
    for (int i = 0; i < nseen; i++)
        if (seen[i][0] == 's') s_count++;
    ck_assert_int_eq(s_count, N / 2);
    /* a page bigger than the directory is eof at once; unreadable dirs are refused */
    int n2 = 0;
    char(*all)[16] = calloc(4 * N, 16);
    ck_assert_int_eq(read_page(dir, "", 10000, all, &n2), 0); /* > 10000 entries now */
    free(all);
    Chunkfs__ReaddirReq rd = CHUNKFS__READDIR_REQ__INIT;
    rd.ino = dir;
    rd.after = (char *)"";
    Chunkfs__MetaRequest req = CHUNKFS__META_REQUEST__INIT;
    req.op_case = CHUNKFS__META_REQUEST__OP_READDIR;
    req.readdir = &rd;
    ck_assert_int_eq(th_setattr(dir, META_SETATTR_MODE, 0711, 0, 0, 0, 0, 0, NULL), 0);
    static const uint32_t g[1] = {1};
    th_as(1000, 1000, 1, g);
    Chunkfs__MetaResponse *r = th_run(&req);
    ck_assert_int_eq(r->err, -EACCES);
    chunkfs__meta_response__free_unpacked(r, NULL);
    rd.ino = 999999;
    r = th_run(&req);
    ck_assert_int_eq(r->err, -ENOENT);
    chunkfs__meta_response__free_unpacked(r, NULL);
    free(seen);
}
END_TEST

START_TEST(t_readdir_small)
{
    uint64_t d;
    ck_assert_int_eq(th_mkdir(ROOT, "d", 0755, &d), 0);
    char names[8][16];
    int n = 0;
    ck_assert_int_eq(read_page(d, "", 5, names, &n), 1);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(th_create(d, "b", 0644, NULL), 0);
    ck_assert_int_eq(th_mkdir(d, "a", 0755, NULL), 0);
    ck_assert_int_eq(th_symlink(d, "c", "b", NULL), 0);
    ck_assert_int_eq(read_page(d, "", 2, names, &n), 0);
    ck_assert_int_eq(n, 2);
    ck_assert_str_eq(names[0], "a");
    ck_assert_str_eq(names[1], "b");
    ck_assert_int_eq(read_page(d, "b", 2, names, &n), 1);
    ck_assert_int_eq(n, 3);
    ck_assert_str_eq(names[2], "c");
    ck_assert_int_eq(read_page(d, "bb", 0, names, &n), 1);
    ck_assert_int_eq(n, 4);
    ck_assert_str_eq(names[3], "c");
}
END_TEST

Suite *snap_suite(void)
{
    Suite *s = suite_create("meta_fsm_snapshot");
    TCase *tc = tcase_create("snapshot");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_add_test(tc, t_snapshot_roundtrip);
    tcase_add_test(tc, t_snapshot_bad_rejected);
    tcase_add_test(tc, t_malformed_entries);
    tcase_add_test(tc, t_readdir_paged_concurrent);
    tcase_add_test(tc, t_readdir_small);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(snap_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
