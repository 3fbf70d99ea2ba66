/* meta_fsm permission checks as non-root callers: mode bits, ownership rules of setattr,
 * sticky and setgid directories, setuid clearing, xattr namespaces. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "tests/meta_fsm/fsm_helpers.h"

#define ROOT 1
static const uint32_t G_STAFF[1] = {50};

static void as_user(void)
{
    th_as(1000, 100, 1, G_STAFF);
}

START_TEST(t_mode_bits)
{
    uint64_t pub, priv, f;
    ck_assert_int_eq(th_mkdir(ROOT, "pub", 0777, &pub), 0);
    ck_assert_int_eq(th_mkdir(ROOT, "priv", 0700, &priv), 0);
    ck_assert_int_eq(th_create(priv, "secret", 0644, NULL), 0);
    ck_assert_int_eq(th_create(pub, "rootfile", 0644, &f), 0);
    as_user();
    ck_assert_int_eq(th_mkdir(ROOT, "x", 0755, NULL), -EACCES);
    ck_assert_int_eq(th_mkdir(ROOT, "pub", 0755, NULL), -EEXIST); /* EEXIST before EACCES */
    ck_assert_int_eq(th_create(ROOT, "x", 0644, NULL), -EACCES);
    ck_assert_int_eq(th_lookup(priv, "secret", NULL), -EACCES);
    ck_assert_int_eq(th_create(priv, "x", 0644, NULL), -EACCES);
    ck_assert_int_eq(th_unlink(pub, "rootfile"), 0); /* write on dir suffices without sticky */
    ck_assert_int_eq(th_unlink(ROOT, "pub"), -EACCES);
    ck_assert_int_eq(th_rename(ROOT, "priv", ROOT, "p2", 0), -EACCES);
    uint64_t mine;
    ck_assert_int_eq(th_create(pub, "mine", 0600, &mine), 0);
    Chunkfs__Attr a;
    ck_assert_int_eq(th_getattr(mine, &a), 0);
    ck_assert_uint_eq(a.uid, 1000);
    ck_assert_uint_eq(a.gid, 100);
    ck_assert_int_eq(th_access(mine, 6), 0);
    ck_assert_int_eq(th_access(mine, 1), -EACCES);
    ck_assert_int_eq(th_access(priv, 1), -EACCES);
    ck_assert_int_eq(th_access(priv, 0), 0);
    ck_assert_int_eq(th_access(ROOT, 8), -EINVAL);
    ck_assert_int_eq(th_open(mine, O_RDWR, NULL), 0);
    th_root();
    ck_assert_int_eq(th_access(mine, 6), 0);
    ck_assert_int_eq(th_access(mine, 1), -EACCES); /* root needs some x bit to exec */
    ck_assert_int_eq(th_access(priv, 7), 0);
    ck_assert_int_eq(th_setattr(mine, META_SETATTR_MODE, 0640, 0, 0, 0, 0, 0, NULL), 0);
    /* group bits apply to members of the file's group (supplementary groups count) */
    ck_assert_int_eq(th_setattr(mine, META_SETATTR_UID | META_SETATTR_GID, 0, 1, 50, 0, 0, 0, NULL),
                     0);
    as_user();
    ck_assert_int_eq(th_access(mine, 4), 0);
    ck_assert_int_eq(th_access(mine, 2), -EACCES);
    ck_assert_int_eq(th_open(mine, O_WRONLY, NULL), -EACCES);
    ck_assert_int_eq(th_open(mine, O_RDONLY | O_TRUNC, NULL), -EACCES);
    ck_assert_int_eq(th_open(ROOT, O_WRONLY, NULL), -EISDIR);
    ck_assert_int_eq(th_open(priv, O_RDONLY, NULL), -EACCES);
}
END_TEST

START_TEST(t_setattr_rules)
{
    uint64_t pub, mine, other;
    ck_assert_int_eq(th_mkdir(ROOT, "pub", 0777, &pub), 0);
    ck_assert_int_eq(th_create(pub, "other", 0666, &other), 0);
    as_user();
    ck_assert_int_eq(th_create(pub, "mine", 0644, &mine), 0);
    Chunkfs__Attr a;
    /* chmod: owner only */
    ck_assert_int_eq(th_setattr(other, META_SETATTR_MODE, 0600, 0, 0, 0, 0, 0, NULL), -EPERM);
    ck_assert_int_eq(th_setattr(mine, META_SETATTR_MODE, 02755, 0, 0, 0, 0, 0, &a), 0);
    ck_assert_uint_eq(a.mode, 02755); /* own group 100: setgid kept */
    /* chown: never for non-root, except to the same uid */
    ck_assert_int_eq(th_setattr(mine, META_SETATTR_UID, 0, 0, 0, 0, 0, 0, NULL), -EPERM);
    ck_assert_int_eq(th_setattr(other, META_SETATTR_UID, 0, 1000, 0, 0, 0, 0, NULL), -EPERM);
    ck_assert_int_eq(th_setattr(mine, META_SETATTR_UID, 0, 1000, 0, 0, 0, 0, NULL), 0);
    /* chgrp: owner to one of their groups */
    ck_assert_int_eq(th_setattr(mine, META_SETATTR_GID, 0, 0, 7, 0, 0, 0, NULL), -EPERM);
    ck_assert_int_eq(th_setattr(mine, META_SETATTR_GID, 0, 0, 50, 0, 0, 0, &a), 0);
    ck_assert_uint_eq(a.gid, 50);
    ck_assert_uint_eq(a.mode & 02000, 0); /* chown of an exec file drops setgid */
    ck_assert_int_eq(th_setattr(other, META_SETATTR_GID, 0, 0, 50, 0, 0, 0, NULL), -EPERM);
    /* chmod +s by a non-member of the file's group drops setgid */
    th_root();
    ck_assert_int_eq(th_setattr(mine, META_SETATTR_GID, 0, 0, 7, 0, 0, 0, NULL), 0);
    as_user();
    ck_assert_int_eq(th_setattr(mine, META_SETATTR_MODE, 02755, 0, 0, 0, 0, 0, &a), 0);
    ck_assert_uint_eq(a.mode, 0755);
    /* truncate needs write permission */
    th_root();
    ck_assert_int_eq(th_setattr(other, META_SETATTR_MODE, 0644, 0, 0, 0, 0, 0, NULL), 0);
    as_user();
    ck_assert_int_eq(th_setattr(other, META_SETATTR_SIZE, 0, 0, 0, 10, 0, 0, NULL), -EACCES);
    ck_assert_int_eq(th_setattr(mine, META_SETATTR_SIZE, 0, 0, 0, 10, 0, 0, &a), 0);
    ck_assert_uint_eq(a.size, 10);
    /* utimes: explicit times need ownership; "now" needs ownership or write permission */
    ck_assert_int_eq(th_setattr(other, META_SETATTR_MTIME, 0, 0, 0, 0, 0, 5, NULL), -EPERM);
    ck_assert_int_eq(th_setattr(other, META_SETATTR_MTIME_NOW, 0, 0, 0, 0, 0, 0, NULL), -EACCES);
    th_root();
    ck_assert_int_eq(th_setattr(other, META_SETATTR_MODE, 0666, 0, 0, 0, 0, 0, NULL), 0);
    as_user();
    ck_assert_int_eq(
        th_setattr(other, META_SETATTR_MTIME_NOW | META_SETATTR_ATIME_NOW, 0, 0, 0, 0, 0, 0, &a),
        0);
    ck_assert_int_eq(a.mtime_ns, TNOW);
    ck_assert_int_eq(th_setattr(mine, META_SETATTR_ATIME, 0, 0, 0, 0, 123, 0, &a), 0);
    ck_assert_int_eq(a.atime_ns, 123);
}
END_TEST

START_TEST(t_sticky)
{
    uint64_t tmp, f;
    ck_assert_int_eq(th_mkdir(ROOT, "tmp", 01777, &tmp), 0);
    as_user();
    ck_assert_int_eq(th_create(tmp, "f", 0666, &f), 0);
    ck_assert_int_eq(th_mkdir(tmp, "d", 0777, NULL), 0);
    uint32_t g2[1] = {100};
    th_as(1001, 100, 1, g2);
    ck_assert_int_eq(th_unlink(tmp, "f"), -EPERM);
    ck_assert_int_eq(th_rmdir(tmp, "d"), -EPERM);
    ck_assert_int_eq(th_rename(tmp, "f", tmp, "g", 0), -EPERM);
    ck_assert_int_eq(th_create(tmp, "g", 0666, NULL), 0);
    ck_assert_int_eq(th_rename(tmp, "g", tmp, "f", 0), -EPERM); /* may not replace f either */
    ck_assert_int_eq(th_unlink(tmp, "missing"), -ENOENT);
    as_user();
    ck_assert_int_eq(th_rename(tmp, "f", tmp, "f2", 0), 0);
    ck_assert_int_eq(th_unlink(tmp, "f2"), 0);
    ck_assert_int_eq(th_unlink(tmp, "g"), -EPERM);
    th_root(); /* owner of the directory */
    ck_assert_int_eq(th_unlink(tmp, "g"), 0);
    ck_assert_int_eq(th_rmdir(tmp, "d"), 0);
}
END_TEST

START_TEST(t_setgid_dir)
{
    uint64_t shared, f, sub;
    ck_assert_int_eq(th_mkdir(ROOT, "shared", 02777, &shared), 0);
    ck_assert_int_eq(th_setattr(shared, META_SETATTR_GID, 0, 0, 500, 0, 0, 0, NULL), 0);
    as_user();
    ck_assert_int_eq(th_create(shared, "f", 02755, &f), 0);
    ck_assert_int_eq(th_mkdir(shared, "sub", 0755, &sub), 0);
    Chunkfs__Attr a;
    ck_assert_int_eq(th_getattr(f, &a), 0);
    ck_assert_uint_eq(a.gid, 500);
    ck_assert_uint_eq(a.mode, 0755); /* not in group 500: setgid on the new file dropped */
    ck_assert_int_eq(th_getattr(sub, &a), 0);
    ck_assert_uint_eq(a.gid, 500);
    ck_assert_uint_eq(a.mode, 02755); /* new subdirs inherit setgid */
}
END_TEST

START_TEST(t_suid_cleared_by_write)
{
    uint64_t f, lease, id, ver;
    as_user();
    ck_assert_int_eq(th_mkdir(ROOT, "x", 0755, NULL), -EACCES);
    th_root();
    ck_assert_int_eq(th_create(ROOT, "prog", 06777, &f), 0);
    ck_assert_int_eq(th_setattr(f, META_SETATTR_UID | META_SETATTR_GID | META_SETATTR_MODE, 06777,
                                1000, 100, 0, 0, 0, NULL),
                     0);
    Chunkfs__Attr a;
    ck_assert_int_eq(th_getattr(f, &a), 0);
    ck_assert_uint_eq(a.mode, 06777);
    uint32_t g[1] = {9};
    th_as(2000, 9, 1, g);
    ck_assert_int_eq(th_open(f, O_WRONLY, &lease), 0);
    ck_assert_int_eq(th_alloc(f, lease, 0, &id, &ver, NULL), 0);
    ck_assert_int_eq(th_commit(f, lease, 0, id, ver, 100, 100), 0);
    ck_assert_int_eq(th_getattr(f, &a), 0);
    ck_assert_uint_eq(a.mode, 0777);
    ck_assert_uint_eq(a.size, 100);
    /* root chown of a non-directory clears setuid too (as Linux) */
    th_root();
    ck_assert_int_eq(th_setattr(f, META_SETATTR_MODE, 04755, 0, 0, 0, 0, 0, NULL), 0);
    ck_assert_int_eq(th_setattr(f, META_SETATTR_UID, 0, 0, 0, 0, 0, 0, &a), 0);
    ck_assert_uint_eq(a.mode, 0755);
}
END_TEST

START_TEST(t_xattrs)
{
    uint64_t f, s, ro;
    ck_assert_int_eq(th_create(ROOT, "f", 0666, &f), 0);
    ck_assert_int_eq(th_create(ROOT, "ro", 0644, &ro), 0);
    ck_assert_int_eq(th_symlink(ROOT, "s", "f", &s), 0);
    char buf[256];
    TNOW += 9;
    ck_assert_int_eq(th_setxattr(f, "user.b", "2", 0), 0);
    ck_assert_int_eq(th_setxattr(f, "user.a", "1", META_XATTR_CREATE), 0);
    ck_assert_int_eq(th_setxattr(f, "trusted.t", "secret", 0), 0);
    Chunkfs__Attr a;
    ck_assert_int_eq(th_getattr(f, &a), 0);
    ck_assert_int_eq(a.ctime_ns, TNOW);
    ck_assert_int_eq(th_setxattr(f, "user.a", "x", META_XATTR_CREATE), -EEXIST);
    ck_assert_int_eq(th_setxattr(f, "user.c", "x", META_XATTR_REPLACE), -ENODATA);
    ck_assert_int_eq(th_setxattr(f, "user.a", "one", META_XATTR_REPLACE), 0);
    ck_assert_int_eq(th_setxattr(f, "user.a", "x", 3), -EINVAL);
    ck_assert_int_eq(th_setxattr(f, "bogus.a", "x", 0), -EOPNOTSUPP);
    ck_assert_int_eq(th_setxattr(f, "system.posix_acl_access", "x", 0), -EOPNOTSUPP);
    ck_assert_int_eq(th_setxattr(f, "user.", "x", 0), -EINVAL);
    ck_assert_int_eq(th_setxattr(s, "user.a", "x", 0), -EPERM);
    ck_assert_int_eq(th_setxattr(999, "user.a", "x", 0), -ENOENT);
    char *big = malloc(70000);
    memset(big, 'v', 69999);
    big[69999] = '\0';
    ck_assert_int_eq(th_setxattr(f, "user.big", big, 0), -E2BIG);
    memset(big, 'n', 300);
    memcpy(big, "user.", 5);
    big[300] = '\0';
    ck_assert_int_eq(th_setxattr(f, big, "x", 0), -ERANGE);
    free(big);
    ck_assert_int_eq(th_getxattr(f, "user.a", buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "one");
    ck_assert_int_eq(th_getxattr(f, "user.zz", buf, sizeof(buf)), -ENODATA);
    ck_assert_int_eq(th_listxattr(f, buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "trusted.t,user.a,user.b");
    as_user();
    ck_assert_int_eq(th_listxattr(f, buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "user.a,user.b");
    ck_assert_int_eq(th_getxattr(f, "trusted.t", buf, sizeof(buf)), -ENODATA);
    ck_assert_int_eq(th_setxattr(f, "trusted.u", "x", 0), -EPERM);
    ck_assert_int_eq(th_setxattr(ro, "user.a", "x", 0), -EACCES);
    ck_assert_int_eq(th_removexattr(ro, "user.a"), -EACCES);
    ck_assert_int_eq(th_setxattr(f, "user.c", "3", 0), 0); /* 0666: write permission */
    ck_assert_int_eq(th_removexattr(f, "user.b"), 0);
    ck_assert_int_eq(th_removexattr(f, "user.b"), -ENODATA);
    ck_assert_int_eq(th_listxattr(f, buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "user.a,user.c");
    th_root();
    ck_assert_int_eq(th_setattr(f, META_SETATTR_MODE, 0600, 0, 0, 0, 0, 0, NULL), 0);
    as_user();
    ck_assert_int_eq(th_getxattr(f, "user.a", buf, sizeof(buf)), -EACCES);
}
END_TEST

Suite *perm_suite(void)
{
    Suite *s = suite_create("meta_fsm_perm");
    TCase *tc = tcase_create("perm");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_add_test(tc, t_mode_bits);
    tcase_add_test(tc, t_setattr_rules);
    tcase_add_test(tc, t_sticky);
    tcase_add_test(tc, t_setgid_dir);
    tcase_add_test(tc, t_suid_cleared_by_write);
    tcase_add_test(tc, t_xattrs);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(perm_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
