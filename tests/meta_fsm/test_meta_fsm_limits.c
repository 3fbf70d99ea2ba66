/* meta_fsm input validation and limits: "." and ".." with the errno Linux gives in each
 * operation, name and path lengths, unknown ids, sizes past the maximum, invalid owners, the
 * per-client cap on write leases (EMFILE). Every refused request must change nothing. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "tests/meta_fsm/fsm_helpers.h"

#define ROOT 1

static meta_fsm_info info_now(void)
{
    meta_fsm_info i;
    meta_fsm_get_info(TF, &i);
    return i;
}

START_TEST(t_dot_names)
{
    uint64_t d, f;
    ck_assert_int_eq(th_mkdir(ROOT, "d", 0755, &d), 0);
    ck_assert_int_eq(th_create(d, "f", 0644, &f), 0);
    meta_fsm_info before = info_now();
    const char *dots[2] = {".", ".."};
    for (int i = 0; i < 2; i++) {
        const char *n = dots[i];
        ck_assert_int_eq(th_mkdir(d, n, 0755, NULL), -EEXIST);
        ck_assert_int_eq(th_create(d, n, 0644, NULL), -EEXIST); /* O_CREAT|O_EXCL */
        ck_assert_int_eq(th_create_full(d, n, 0644, 0, 0, 1, NULL, NULL), -EISDIR);
        ck_assert_int_eq(th_symlink(d, n, "target", NULL), -EEXIST);
        ck_assert_int_eq(th_link(f, d, n), -EEXIST);
        ck_assert_int_eq(th_unlink(d, n), -EISDIR);
        ck_assert_int_eq(th_rename(d, n, ROOT, "x", 0), -EBUSY);
        ck_assert_int_eq(th_rename(d, "f", d, n, 0), -EBUSY);
        ck_assert_int_eq(th_rename(d, "f", d, n, META_RENAME_NOREPLACE), -EEXIST);
    }
    ck_assert_int_eq(th_rmdir(d, "."), -EINVAL);
    ck_assert_int_eq(th_rmdir(d, ".."), -ENOTEMPTY);
    meta_fsm_info after = info_now();
    ck_assert_uint_eq(after.files, before.files);
    ck_assert_uint_eq(after.dirs, before.dirs);
    ck_assert_uint_eq(after.symlinks, before.symlinks);
    ck_assert_uint_eq(after.next_ino, before.next_ino);
    ck_assert_int_eq(th_lookup(d, "f", NULL), 0);
}
END_TEST

START_TEST(t_lengths)
{
    uint64_t f;
    ck_assert_int_eq(th_create(ROOT, "f", 0644, &f), 0);
    char name[300];
    memset(name, 'n', sizeof(name));
    name[256] = '\0';
    ck_assert_int_eq(th_symlink(ROOT, name, "t", NULL), -ENAMETOOLONG);
    ck_assert_int_eq(th_link(f, ROOT, name), -ENAMETOOLONG);
    ck_assert_int_eq(th_rename(ROOT, "f", ROOT, name, 0), -ENAMETOOLONG);
    ck_assert_int_eq(th_unlink(ROOT, name), -ENAMETOOLONG);
    ck_assert_int_eq(th_rmdir(ROOT, name), -ENAMETOOLONG);
    /* symlink targets: up to 4095 bytes (PATH_MAX - 1) */
    char *target = malloc(4097);
    ck_assert_ptr_nonnull(target);
    memset(target, 't', 4096);
    target[4096] = '\0';
    ck_assert_int_eq(th_symlink(ROOT, "long", target, NULL), -ENAMETOOLONG);
    ck_assert_int_eq(th_symlink(ROOT, "empty", "", NULL), -ENOENT);
    target[4095] = '\0';
    ck_assert_int_eq(th_symlink(ROOT, "long", target, NULL), 0);
    /* paths: PATH_MAX (4096 with its NUL) */
    char *path = malloc(4100);
    ck_assert_ptr_nonnull(path);
    memset(path, '/', 4096);
    path[4096] = '\0';
    ck_assert_int_eq(th_resolve(path, 1, NULL), -ENAMETOOLONG);
    ck_assert_int_eq(th_resolve("relative", 1, NULL), -EINVAL);
    uint64_t ino = 0;
    path[4095] = '\0';
    memcpy(path + 4093, "f", 2); /* "///...//f", 4094 bytes */
    ck_assert_int_eq(th_resolve(path, 1, &ino), 0);
    ck_assert_uint_eq(ino, f);
    free(path);
    free(target);
}
END_TEST

START_TEST(t_ids_and_sizes)
{
    uint64_t f, lease, other;
    ck_assert_int_eq(th_create_full(ROOT, "f", 0644, 1, 0, 1, &f, &lease), 0);
    ck_assert_int_eq(th_create(ROOT, "g", 0644, &other), 0);
    /* unknown inodes */
    ck_assert_int_eq(th_getattr(999, NULL), -ENOENT);
    ck_assert_int_eq(th_open(999, O_RDONLY, NULL), -ENOENT);
    ck_assert_int_eq(th_open(999, O_WRONLY, NULL), -ENOENT);
    ck_assert_int_eq(th_setattr(999, META_SETATTR_MODE, 0600, 0, 0, 0, 0, 0, NULL), -ENOENT);
    ck_assert_int_eq(th_mkdir(999, "x", 0755, NULL), -ENOENT);
    ck_assert_int_eq(th_link(999, ROOT, "x"), -ENOENT);
    ck_assert_int_eq(th_setxattr(999, "user.a", "v", 0), -ENOENT);
    ck_assert_int_eq(th_close(999, lease), -ENOENT);
    ck_assert_int_eq(th_mkdir(f, "x", 0755, NULL), -ENOTDIR);
    /* unknown or foreign leases */
    ck_assert_int_eq(th_close(f, lease + 100), -CFS_ELEASE);
    ck_assert_int_eq(th_close(other, lease), -CFS_ELEASE);
    ck_assert_int_eq(th_renew(f, 0), -CFS_ELEASE);
    uint64_t id, ver, base;
    ck_assert_int_eq(th_alloc(f, lease + 1, 0, &id, &ver, &base), -CFS_ELEASE);
    ck_assert_int_eq(th_alloc(f, lease, 0, &id, &ver, &base), 0);
    /* unknown chunk ids / versions in a commit */
    ck_assert_int_eq(th_commit(f, lease, 0, id + 5, ver, 10, 10), -CFS_ESTALE_VER);
    ck_assert_int_eq(th_commit(f, lease, 0, id, ver + 1, 10, 10), -CFS_ESTALE_VER);
    /* sizes past the largest file (2^32 chunks of 64 MiB) or a chunk length past the chunk */
    uint64_t huge = UINT64_MAX;
    ck_assert_int_eq(th_commit(f, lease, 0, id, ver, 10, huge), -EFBIG);
    ck_assert_int_eq(th_commit(f, lease, 0, id, ver, (64ull << 20) + 1, 10), -EINVAL);
    ck_assert_int_eq(th_setattr(f, META_SETATTR_SIZE, 0, 0, 0, huge, 0, 0, NULL), -EFBIG);
    Chunkfs__Attr a;
    ck_assert_int_eq(th_getattr(f, &a), 0);
    ck_assert_uint_eq(a.size, 0);
    ck_assert_int_eq(th_commit(f, lease, 0, id, ver, 10, 10), 0);
    /* chown to (uid_t)-1 / (gid_t)-1: "no change" in chown(2), never an owner */
    ck_assert_int_eq(th_setattr(f, META_SETATTR_UID, 0, UINT32_MAX, 0, 0, 0, 0, NULL), -EINVAL);
    ck_assert_int_eq(th_setattr(f, META_SETATTR_GID, 0, 0, UINT32_MAX, 0, 0, 0, NULL), -EINVAL);
    ck_assert_int_eq(th_setattr(f, 1u << 20, 0, 0, 0, 0, 0, 0, NULL), -EINVAL); /* unknown bit */
    ck_assert_int_eq(th_getattr(f, &a), 0);
    ck_assert_uint_eq(a.uid, 0);
    ck_assert_uint_eq(a.size, 10);
    /* goals */
    ck_assert_int_eq(th_set_goal(f, 0, 0), -EINVAL);
    ck_assert_int_eq(th_set_goal(f, META_FSM_MAX_GOAL + 1, 0), -EINVAL);
}
END_TEST

START_TEST(t_sticky_dir_xattrs)
{
    uint64_t tmp;
    ck_assert_int_eq(th_mkdir(ROOT, "tmp", 01777, &tmp), 0);
    static const uint32_t none[1] = {0};
    th_as(1000, 100, 0, none);
    /* write permission on a sticky dir is not enough for its user.* attributes */
    ck_assert_int_eq(th_setxattr(tmp, "user.a", "v", 0), -EPERM);
    ck_assert_int_eq(th_removexattr(tmp, "user.a"), -EPERM);
    ck_assert_int_eq(th_setxattr(tmp, "trusted.a", "v", 0), -EPERM);
    ck_assert_int_eq(th_setxattr(tmp, "security.a", "v", 0), -EPERM);
    th_root();
    ck_assert_int_eq(th_setxattr(tmp, "user.a", "v", 0), 0);
}
END_TEST

START_TEST(t_open_cap)
{
    TMAXOPEN = 2;
    uint64_t f1, f2, l1, l2, l1b, g;
    ck_assert_int_eq(th_create_full(ROOT, "f1", 0644, 1, 0, 1, &f1, &l1), 0);
    ck_assert_int_eq(th_create_full(ROOT, "f2", 0644, 1, 0, 1, &f2, &l2), 0);
    ck_assert_int_eq(th_create(ROOT, "g", 0644, &g), 0); /* not opened for writing: no lease */
    meta_fsm_info before = info_now();
    /* a third file is refused before anything is created or truncated */
    ck_assert_int_eq(th_create_full(ROOT, "f3", 0644, 1, 0, 1, NULL, NULL), -EMFILE);
    ck_assert_int_eq(th_lookup(ROOT, "f3", NULL), -ENOENT);
    ck_assert_int_eq(th_open(g, O_WRONLY | O_TRUNC, NULL), -EMFILE);
    ck_assert_uint_eq(info_now().files, before.files);
    ck_assert_uint_eq(info_now().next_lease_id, before.next_lease_id);
    /* reads need no lease; a second write open of a held file joins its lease */
    ck_assert_int_eq(th_open(g, O_RDONLY, NULL), 0);
    ck_assert_int_eq(th_open(f1, O_WRONLY, &l1b), 0);
    ck_assert_uint_eq(l1b, l1);
    /* the cap is per client */
    uint64_t me = TCLIENT;
    TCLIENT = me + 1;
    ck_assert_int_eq(th_open(g, O_WRONLY, NULL), 0);
    TCLIENT = me;
    /* the cap survives a snapshot and restore (the counts are rebuilt from the leases) */
    uint8_t *img;
    size_t len;
    ck_assert_int_eq(meta_fsm_snapshot(TF, &img, &len), 0);
    ck_assert_int_eq(meta_fsm_restore(TF, img, len), 0);
    free(img);
    ck_assert_int_eq(th_create_full(ROOT, "f3", 0644, 1, 0, 1, NULL, NULL), -EMFILE);
    /* closing frees a slot only when the last open of the file closes */
    ck_assert_int_eq(th_close(f1, l1), 0);
    ck_assert_int_eq(th_create_full(ROOT, "f3", 0644, 1, 0, 1, NULL, NULL), -EMFILE);
    ck_assert_int_eq(th_close(f1, l1), 0);
    uint64_t f3;
    ck_assert_int_eq(th_create_full(ROOT, "f3", 0644, 1, 0, 1, &f3, NULL), 0);
    /* unlinking an open file releases its lease too */
    ck_assert_int_eq(th_unlink(ROOT, "f2"), 0);
    ck_assert_int_eq(th_create_full(ROOT, "f4", 0644, 1, 0, 1, NULL, NULL), 0);
    ck_assert_int_eq(th_create_full(ROOT, "f5", 0644, 1, 0, 1, NULL, NULL), -EMFILE);
    /* no cap in the command (older logs): no limit */
    TMAXOPEN = 0;
    ck_assert_int_eq(th_create_full(ROOT, "f5", 0644, 1, 0, 1, NULL, NULL), 0);
}
END_TEST

START_TEST(t_protected_hardlinks)
{
    uint64_t tmp, ro, rw, suid, mine, ln;
    ck_assert_int_eq(th_mkdir(ROOT, "tmp", 01777, &tmp), 0);
    ck_assert_int_eq(th_create(ROOT, "ro", 0644, &ro), 0);
    ck_assert_int_eq(th_create(ROOT, "rw", 0666, &rw), 0);
    ck_assert_int_eq(th_create(ROOT, "suid", 04777, &suid), 0);
    ck_assert_int_eq(th_symlink(ROOT, "ln", "ro", &ln), 0);
    static const uint32_t none[1] = {0};
    th_as(1000, 100, 0, none);
    ck_assert_int_eq(th_create(tmp, "mine", 0600, &mine), 0);
    /* another user's file needs read and write access to be linked */
    ck_assert_int_eq(th_link(ro, tmp, "pinned"), -EPERM);
    ck_assert_int_eq(th_link(suid, tmp, "pinned"), -EPERM); /* setuid: never */
    ck_assert_int_eq(th_link(ln, tmp, "pinned"), -EPERM);   /* not a regular file */
    ck_assert_int_eq(th_lookup(tmp, "pinned", NULL), -ENOENT);
    ck_assert_int_eq(th_link(rw, tmp, "rw2"), 0);
    ck_assert_int_eq(th_link(mine, tmp, "mine2"), 0); /* own files: always */
    th_root();
    ck_assert_int_eq(th_link(ro, tmp, "by-root"), 0);
}
END_TEST

START_TEST(t_get_chunks_bounded)
{
    ck_assert_int_eq(th_format("c1", 1, 1ull << 20), 0);
    uint64_t f, lease, id, ver, base;
    ck_assert_int_eq(th_create_full(ROOT, "f", 0644, 1, 0, 1, &f, &lease), 0);
    ck_assert_int_eq(th_alloc(f, lease, 0, &id, &ver, &base), 0);
    ck_assert_int_eq(th_alloc(f, lease, META_FSM_GET_CHUNKS_MAX, &id, &ver, &base), 0);
    Chunkfs__GetChunksReq g = CHUNKFS__GET_CHUNKS_REQ__INIT;
    g.ino = f;
    Chunkfs__MetaRequest req = CHUNKFS__META_REQUEST__INIT;
    req.op_case = CHUNKFS__META_REQUEST__OP_GET_CHUNKS;
    req.get_chunks = &g;
    /* count 0 ("to the end") and counts over the bound cover META_FSM_GET_CHUNKS_MAX indexes */
    uint32_t counts[2] = {0, UINT32_MAX};
    for (int i = 0; i < 2; i++) {
        g.count = counts[i];
        Chunkfs__MetaResponse *r = th_run(&req);
        ck_assert_int_eq(r->err, 0);
        ck_assert_uint_eq(r->chunks->n_chunks, 1);
        ck_assert_uint_eq(r->chunks->chunks[0]->index, 0);
        chunkfs__meta_response__free_unpacked(r, NULL);
    }
    g.first = META_FSM_GET_CHUNKS_MAX; /* the next page */
    g.count = 0;
    Chunkfs__MetaResponse *r = th_run(&req);
    ck_assert_int_eq(r->err, 0);
    ck_assert_uint_eq(r->chunks->n_chunks, 1);
    ck_assert_uint_eq(r->chunks->chunks[0]->index, META_FSM_GET_CHUNKS_MAX);
    chunkfs__meta_response__free_unpacked(r, NULL);
}
END_TEST

static Suite *limits_suite(void)
{
    Suite *s = suite_create("meta_fsm_limits");
    TCase *tc = tcase_create("limits");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_add_test(tc, t_dot_names);
    tcase_add_test(tc, t_lengths);
    tcase_add_test(tc, t_ids_and_sizes);
    tcase_add_test(tc, t_sticky_dir_xattrs);
    tcase_add_test(tc, t_open_cap);
    tcase_add_test(tc, t_protected_hardlinks);
    tcase_add_test(tc, t_get_chunks_bounded);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(limits_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
