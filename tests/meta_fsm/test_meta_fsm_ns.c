/* meta_fsm namespace operations and their exact POSIX errors, as root. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "tests/meta_fsm/fsm_helpers.h"

#define ROOT 1

START_TEST(t_root_mkdir_lookup)
{
    Chunkfs__Attr a;
    ck_assert_int_eq(th_getattr(ROOT, &a), 0);
    ck_assert_int_eq(a.type, CHUNKFS__FILE_TYPE__FT_DIR);
    ck_assert_uint_eq(a.mode, 0755);
    ck_assert_uint_eq(a.nlink, 2);
    ck_assert_uint_eq(a.goal, 3);

    TNOW += 5;
    uint64_t d;
    ck_assert_int_eq(th_mkdir(ROOT, "docs", 040755, &d), 0);
    ck_assert_uint_gt(d, 1);
    ck_assert_int_eq(th_lookup(ROOT, "docs", &a), 0);
    ck_assert_uint_eq(a.ino, d);
    ck_assert_uint_eq(a.mode, 0755); /* type bits stripped */
    ck_assert_uint_eq(a.nlink, 2);
    ck_assert_int_eq(a.mtime_ns, TNOW);
    ck_assert_uint_eq(a.goal, 3);
    ck_assert_int_eq(th_getattr(ROOT, &a), 0);
    ck_assert_uint_eq(a.nlink, 3);
    ck_assert_int_eq(a.mtime_ns, TNOW);
    ck_assert_int_eq(a.ctime_ns, TNOW);
    ck_assert_int_eq(th_mkdir(ROOT, "docs", 0755, NULL), -EEXIST);
    ck_assert_int_eq(th_mkdir(999, "x", 0755, NULL), -ENOENT);
    ck_assert_int_eq(th_lookup(ROOT, "nope", NULL), -ENOENT);
    ck_assert_int_eq(th_getattr(999, NULL), -ENOENT);

    uint64_t f;
    ck_assert_int_eq(th_create(d, "f", 0644, &f), 0);
    ck_assert_int_eq(th_mkdir(f, "x", 0755, NULL), -ENOTDIR);
    ck_assert_int_eq(th_lookup(f, "x", NULL), -ENOTDIR);
    /* ids are never reused */
    ck_assert_int_eq(th_unlink(d, "f"), 0);
    uint64_t g;
    ck_assert_int_eq(th_create(d, "f", 0644, &g), 0);
    ck_assert_uint_gt(g, f);
}
END_TEST

START_TEST(t_names)
{
    char longname[300];
    memset(longname, 'a', 256);
    longname[256] = '\0';
    ck_assert_int_eq(th_mkdir(ROOT, longname, 0755, NULL), -ENAMETOOLONG);
    ck_assert_int_eq(th_create(ROOT, longname, 0644, NULL), -ENAMETOOLONG);
    ck_assert_int_eq(th_lookup(ROOT, longname, NULL), -ENAMETOOLONG);
    longname[255] = '\0';
    ck_assert_int_eq(th_mkdir(ROOT, longname, 0755, NULL), 0);
    ck_assert_int_eq(th_lookup(ROOT, longname, NULL), 0);
    ck_assert_int_eq(th_mkdir(ROOT, "", 0755, NULL), -ENOENT);
    ck_assert_int_eq(th_lookup(ROOT, "", NULL), -ENOENT);
    ck_assert_int_eq(th_mkdir(ROOT, "a/b", 0755, NULL), -EINVAL);
    ck_assert_int_eq(th_create(ROOT, ".", 0644, NULL), -EEXIST); /* O_CREAT|O_EXCL */
    ck_assert_int_eq(th_create(ROOT, "..", 0644, NULL), -EEXIST);
    ck_assert_int_eq(th_lookup(ROOT, "..", NULL), -EINVAL);
    ck_assert_int_eq(th_symlink(ROOT, "x/y", "t", NULL), -EINVAL);
    ck_assert_int_eq(th_rename(ROOT, longname, ROOT, "a/b", 0), -EINVAL);
    ck_assert_int_eq(th_rename(ROOT, longname, ROOT, "", 0), -ENOENT);
    ck_assert_int_eq(th_lookup(ROOT, longname, NULL), 0);
    ck_assert_int_eq(th_mkdir(ROOT, "...", 0755, NULL), 0); /* only . and .. are special */
}
END_TEST

START_TEST(t_create_modes)
{
    uint64_t f, f2, lease = 99;
    ck_assert_int_eq(th_create_full(ROOT, "f", 0640, 1, 0, 0, &f, &lease), 0);
    ck_assert_uint_eq(lease, 0);
    Chunkfs__Attr a;
    ck_assert_int_eq(th_getattr(f, &a), 0);
    ck_assert_int_eq(a.type, CHUNKFS__FILE_TYPE__FT_FILE);
    ck_assert_uint_eq(a.mode, 0640);
    ck_assert_uint_eq(a.nlink, 1);
    ck_assert_uint_eq(a.size, 0);
    ck_assert_int_eq(th_create_full(ROOT, "f", 0644, 1, 0, 0, NULL, NULL), -EEXIST);
    ck_assert_int_eq(th_create_full(ROOT, "f", 0644, 0, 0, 0, &f2, NULL), 0);
    ck_assert_uint_eq(f2, f); /* non-exclusive create opens the existing file */
    ck_assert_int_eq(th_mkdir(ROOT, "d", 0755, NULL), 0);
    ck_assert_int_eq(th_create_full(ROOT, "d", 0644, 0, 0, 0, NULL, NULL), -EISDIR);
    ck_assert_int_eq(th_create_full(ROOT, "d", 0644, 1, 0, 0, NULL, NULL), -EEXIST);
    ck_assert_int_eq(th_create_full(ROOT, "w", 0644, 1, 0, 1, &f2, &lease), 0);
    ck_assert_uint_gt(lease, 0);
}
END_TEST

START_TEST(t_unlink_rmdir)
{
    uint64_t d, f, sub;
    ck_assert_int_eq(th_mkdir(ROOT, "d", 0755, &d), 0);
    ck_assert_int_eq(th_create(d, "f", 0644, &f), 0);
    ck_assert_int_eq(th_mkdir(d, "sub", 0755, &sub), 0);
    ck_assert_int_eq(th_rmdir(ROOT, "d"), -ENOTEMPTY);
    ck_assert_int_eq(th_rmdir(d, "f"), -ENOTDIR);
    ck_assert_int_eq(th_unlink(d, "sub"), -EISDIR);
    ck_assert_int_eq(th_unlink(d, "none"), -ENOENT);
    ck_assert_int_eq(th_rmdir(d, "none"), -ENOENT);
    ck_assert_int_eq(th_unlink(f, "x"), -ENOTDIR);
    TNOW += 10;
    ck_assert_int_eq(th_unlink(d, "f"), 0);
    ck_assert_int_eq(th_getattr(f, NULL), -ENOENT);
    Chunkfs__Attr a;
    ck_assert_int_eq(th_getattr(d, &a), 0);
    ck_assert_uint_eq(a.nlink, 3);
    ck_assert_int_eq(a.mtime_ns, TNOW);
    ck_assert_int_eq(th_rmdir(d, "sub"), 0);
    ck_assert_int_eq(th_getattr(d, &a), 0);
    ck_assert_uint_eq(a.nlink, 2);
    ck_assert_int_eq(th_rmdir(ROOT, "d"), 0);
    ck_assert_int_eq(th_getattr(ROOT, &a), 0);
    ck_assert_uint_eq(a.nlink, 2);
    meta_fsm_info info;
    meta_fsm_get_info(TF, &info);
    ck_assert_uint_eq(info.dirs, 1);
    ck_assert_uint_eq(info.files, 0);
}
END_TEST

START_TEST(t_rename_rules)
{
    uint64_t a, b, f, g, e, full, sub;
    ck_assert_int_eq(th_mkdir(ROOT, "a", 0755, &a), 0);
    ck_assert_int_eq(th_mkdir(ROOT, "b", 0755, &b), 0);
    ck_assert_int_eq(th_create(a, "f", 0644, &f), 0);
    ck_assert_int_eq(th_create(a, "g", 0644, &g), 0);
    ck_assert_int_eq(th_mkdir(a, "empty", 0755, &e), 0);
    ck_assert_int_eq(th_mkdir(a, "full", 0755, &full), 0);
    ck_assert_int_eq(th_mkdir(full, "sub", 0755, &sub), 0);

    ck_assert_int_eq(th_rename(a, "nope", b, "x", 0), -ENOENT);
    ck_assert_int_eq(th_rename(a, "f", 999, "x", 0), -ENOENT);
    ck_assert_int_eq(th_rename(a, "f", f, "x", 0), -ENOTDIR);
    ck_assert_int_eq(th_rename(a, "f", a, "g", 4), -EINVAL);
    ck_assert_int_eq(th_rename(a, "f", a, "g", 3), -EINVAL);
    ck_assert_int_eq(th_rename(a, "f", a, "g", META_RENAME_NOREPLACE), -EEXIST);
    ck_assert_int_eq(th_rename(a, "empty", a, "f", 0), -ENOTDIR);
    ck_assert_int_eq(th_rename(a, "f", a, "empty", 0), -EISDIR);
    ck_assert_int_eq(th_rename(a, "empty", a, "full", 0), -ENOTEMPTY);
    ck_assert_int_eq(th_rename(ROOT, "a", full, "a2", 0), -EINVAL);
    ck_assert_int_eq(th_rename(ROOT, "a", a, "a2", 0), -EINVAL);
    ck_assert_int_eq(th_rename(a, "full", sub, "x", 0), -EINVAL);
    ck_assert_int_eq(th_rename(a, "f", a, "nope", META_RENAME_EXCHANGE), -ENOENT);

    /* replace a file: the old target disappears atomically */
    TNOW += 7;
    ck_assert_int_eq(th_rename(a, "f", a, "g", 0), 0);
    Chunkfs__Attr at;
    ck_assert_int_eq(th_lookup(a, "g", &at), 0);
    ck_assert_uint_eq(at.ino, f);
    ck_assert_int_eq(at.ctime_ns, TNOW);
    ck_assert_int_eq(th_lookup(a, "f", NULL), -ENOENT);
    ck_assert_int_eq(th_getattr(g, NULL), -ENOENT);
    /* replace an empty dir, moving across parents: link counts follow */
    ck_assert_int_eq(th_mkdir(b, "target", 0755, NULL), 0);
    ck_assert_int_eq(th_rename(a, "empty", b, "target", 0), 0);
    ck_assert_int_eq(th_lookup(b, "target", &at), 0);
    ck_assert_uint_eq(at.ino, e);
    ck_assert_int_eq(th_getattr(a, &at), 0);
    ck_assert_uint_eq(at.nlink, 3); /* a holds full only */
    ck_assert_int_eq(th_getattr(b, &at), 0);
    ck_assert_uint_eq(at.nlink, 3);
    /* the moved dir's ".." is b now: moving b into it is refused */
    ck_assert_int_eq(th_rename(ROOT, "b", e, "b", 0), -EINVAL);
    /* same inode under two names: no-op, both names stay */
    ck_assert_int_eq(th_link(f, b, "hard"), 0);
    ck_assert_int_eq(th_rename(a, "g", b, "hard", 0), 0);
    ck_assert_int_eq(th_lookup(a, "g", NULL), 0);
    ck_assert_int_eq(th_lookup(b, "hard", NULL), 0);
    ck_assert_int_eq(th_rename(a, "g", a, "g", 0), 0);
    /* exchange a file and a directory across parents */
    ck_assert_int_eq(th_rename(a, "g", b, "target", META_RENAME_EXCHANGE), 0);
    ck_assert_int_eq(th_lookup(a, "g", &at), 0);
    ck_assert_uint_eq(at.ino, e);
    ck_assert_int_eq(th_lookup(b, "target", &at), 0);
    ck_assert_uint_eq(at.ino, f);
    ck_assert_int_eq(th_getattr(a, &at), 0);
    ck_assert_uint_eq(at.nlink, 4);
    ck_assert_int_eq(th_getattr(b, &at), 0);
    ck_assert_uint_eq(at.nlink, 2);
    ck_assert_int_eq(th_rename(ROOT, "a", ROOT, "b", META_RENAME_EXCHANGE), 0);
    ck_assert_int_eq(th_lookup(ROOT, "a", &at), 0);
    ck_assert_uint_eq(at.ino, b);
    /* exchange a dir with its own descendant's parent is refused */
    ck_assert_int_eq(th_rename(ROOT, "b", full, "sub", META_RENAME_EXCHANGE), -EINVAL);
    /* plain move to a new name */
    ck_assert_int_eq(th_rename(full, "sub", ROOT, "top", META_RENAME_NOREPLACE), 0);
    ck_assert_int_eq(th_lookup(ROOT, "top", &at), 0);
    ck_assert_uint_eq(at.ino, sub);
    ck_assert_int_eq(th_rmdir(a, "full"), 0);
    ck_assert_int_eq(th_rmdir(ROOT, "b"), -ENOTEMPTY); /* "b" is dir a now, holding g */
}
END_TEST

START_TEST(t_link_symlink)
{
    uint64_t d, f, s;
    ck_assert_int_eq(th_mkdir(ROOT, "d", 0755, &d), 0);
    ck_assert_int_eq(th_create(ROOT, "f", 0644, &f), 0);
    ck_assert_int_eq(th_link(d, ROOT, "dl"), -EPERM);
    ck_assert_int_eq(th_link(f, ROOT, "d"), -EEXIST);
    ck_assert_int_eq(th_link(999, ROOT, "x"), -ENOENT);
    TNOW += 3;
    ck_assert_int_eq(th_link(f, d, "f2"), 0);
    Chunkfs__Attr a;
    ck_assert_int_eq(th_getattr(f, &a), 0);
    ck_assert_uint_eq(a.nlink, 2);
    ck_assert_int_eq(a.ctime_ns, TNOW);
    ck_assert_int_eq(th_unlink(ROOT, "f"), 0);
    ck_assert_int_eq(th_getattr(f, &a), 0);
    ck_assert_uint_eq(a.nlink, 1);
    ck_assert_int_eq(th_symlink(ROOT, "s", "d/f2", &s), 0);
    char buf[5000];
    ck_assert_int_eq(th_readlink(s, buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "d/f2");
    ck_assert_int_eq(th_getattr(s, &a), 0);
    ck_assert_int_eq(a.type, CHUNKFS__FILE_TYPE__FT_SYMLINK);
    ck_assert_uint_eq(a.size, 4);
    ck_assert_uint_eq(a.mode, 0777);
    ck_assert_int_eq(th_readlink(f, buf, sizeof(buf)), -EINVAL);
    ck_assert_int_eq(th_symlink(ROOT, "s", "x", NULL), -EEXIST);
    ck_assert_int_eq(th_symlink(ROOT, "e", "", NULL), -ENOENT);
    memset(buf, 'x', 4096);
    buf[4096] = '\0';
    ck_assert_int_eq(th_symlink(ROOT, "big", buf, NULL), -ENAMETOOLONG);
    buf[4095] = '\0';
    ck_assert_int_eq(th_symlink(ROOT, "big", buf, NULL), 0);
    /* resolve follows links in the middle and, on request, at the end */
    uint64_t ino;
    ck_assert_int_eq(th_resolve("/s", 1, &ino), 0);
    ck_assert_uint_eq(ino, f);
    ck_assert_int_eq(th_resolve("/s", 0, &ino), 0);
    ck_assert_uint_eq(ino, s);
    ck_assert_int_eq(th_symlink(ROOT, "dl", "/d", NULL), 0);
    ck_assert_int_eq(th_resolve("/dl/f2", 0, &ino), 0);
    ck_assert_uint_eq(ino, f);
    ck_assert_int_eq(th_resolve("/d/../d/./f2", 0, &ino), 0);
    ck_assert_uint_eq(ino, f);
    ck_assert_int_eq(th_symlink(ROOT, "loop", "/loop", NULL), 0);
    ck_assert_int_eq(th_resolve("/loop", 1, NULL), -ELOOP);
    ck_assert_int_eq(th_resolve("/d/f2/x", 0, NULL), -ENOTDIR);
    ck_assert_int_eq(th_resolve("/missing", 0, NULL), -ENOENT);
    ck_assert_int_eq(th_resolve("rel", 0, NULL), -EINVAL);
}
END_TEST

START_TEST(t_setattr_size_times)
{
    uint64_t f;
    ck_assert_int_eq(th_create(ROOT, "f", 0644, &f), 0);
    Chunkfs__Attr a;
    TNOW += 100;
    ck_assert_int_eq(th_setattr(f, META_SETATTR_SIZE, 0, 0, 0, 5000, 0, 0, &a), 0);
    ck_assert_uint_eq(a.size, 5000);
    ck_assert_int_eq(a.mtime_ns, TNOW);
    ck_assert_int_eq(a.ctime_ns, TNOW);
    ck_assert_uint_eq(a.generation, 1);
    ck_assert_int_eq(th_setattr(f, META_SETATTR_ATIME | META_SETATTR_MTIME, 0, 0, 0, 0, 11, 22, &a),
                     0);
    ck_assert_int_eq(a.atime_ns, 11);
    ck_assert_int_eq(a.mtime_ns, 22);
    ck_assert_int_eq(a.ctime_ns, TNOW);
    TNOW += 1;
    ck_assert_int_eq(th_setattr(f, META_SETATTR_MTIME_NOW, 0, 0, 0, 0, 0, 0, &a), 0);
    ck_assert_int_eq(a.mtime_ns, TNOW);
    ck_assert_int_eq(th_setattr(f, META_SETATTR_MODE, 0100600, 0, 0, 0, 0, 0, &a), 0);
    ck_assert_uint_eq(a.mode, 0600);
    ck_assert_int_eq(th_setattr(f, META_SETATTR_UID | META_SETATTR_GID, 0, 42, 43, 0, 0, 0, &a), 0);
    ck_assert_uint_eq(a.uid, 42);
    ck_assert_uint_eq(a.gid, 43);
    ck_assert_int_eq(th_setattr(f, 1u << 12, 0, 0, 0, 0, 0, 0, NULL), -EINVAL);
    ck_assert_int_eq(th_setattr(ROOT, META_SETATTR_SIZE, 0, 0, 0, 0, 0, 0, NULL), -EISDIR);
    uint64_t s;
    ck_assert_int_eq(th_symlink(ROOT, "s", "f", &s), 0);
    ck_assert_int_eq(th_setattr(s, META_SETATTR_SIZE, 0, 0, 0, 0, 0, 0, NULL), -EINVAL);
    ck_assert_int_eq(th_setattr(f, META_SETATTR_SIZE, 0, 0, 0, UINT64_MAX, 0, 0, NULL), -EFBIG);
    ck_assert_int_eq(th_getattr(f, &a), 0);
    ck_assert_uint_eq(a.size, 5000);
}
END_TEST

START_TEST(t_goal_and_format)
{
    ck_assert_int_eq(th_format("cluster-1", 2, 1 << 20), 0);
    ck_assert_int_eq(th_format("cluster-2", 2, 1 << 20), -EEXIST);
    meta_fsm_info info;
    meta_fsm_get_info(TF, &info);
    ck_assert_str_eq(info.cluster_id, "cluster-1");
    ck_assert_uint_eq(info.chunk_size, 1 << 20);
    uint64_t d, sub, f;
    ck_assert_int_eq(th_mkdir(ROOT, "d", 0755, &d), 0);
    Chunkfs__Attr a;
    ck_assert_int_eq(th_getattr(d, &a), 0);
    ck_assert_uint_eq(a.goal, 2);
    ck_assert_int_eq(th_set_goal(d, 5, 0), 0);
    ck_assert_int_eq(th_mkdir(d, "sub", 0755, &sub), 0);
    ck_assert_int_eq(th_create(sub, "f", 0644, &f), 0);
    ck_assert_int_eq(th_getattr(f, &a), 0);
    ck_assert_uint_eq(a.goal, 5);
    ck_assert_int_eq(th_set_goal(d, 1, 1), 0);
    ck_assert_int_eq(th_getattr(f, &a), 0);
    ck_assert_uint_eq(a.goal, 1);
    ck_assert_int_eq(th_set_goal(d, 0, 0), -EINVAL);
    ck_assert_int_eq(th_set_goal(d, 17, 0), -EINVAL);
    ck_assert_int_eq(th_set_goal(999, 2, 0), -ENOENT);
    uint32_t none[1] = {0};
    th_as(1000, 1000, 0, none);
    ck_assert_int_eq(th_set_goal(d, 2, 0), -EPERM);
}
END_TEST

START_TEST(t_bad_format)
{
    ck_assert_int_eq(th_format("", 2, 0), -EINVAL);
    ck_assert_int_eq(th_format("c", 2, 3000), -EINVAL);
    ck_assert_int_eq(th_format("c", 2, 1ull << 31), -EINVAL);
    ck_assert_int_eq(th_format("c", 99, 0), -EINVAL);
    meta_fsm_info info;
    meta_fsm_get_info(TF, &info);
    ck_assert_str_eq(info.cluster_id, "");
    ck_assert_uint_eq(info.chunk_size, META_FSM_DEFAULT_CHUNK_SIZE);
}
END_TEST

static Chunkfs__MetaResponse *read_op(Chunkfs__MetaRequest *req)
{
    Chunkfs__MetaResponse *r = th_run(req);
    ck_assert_ptr_nonnull(r);
    return r;
}

START_TEST(t_misc_reads_and_limits)
{
    uint64_t d, f, s;
    ck_assert_int_eq(th_mkdir(ROOT, "d", 0755, &d), 0);
    ck_assert_int_eq(th_create(d, "f", 0644, &f), 0);
    ck_assert_int_eq(th_symlink(d, "s", "f", &s), 0);
    /* statfs counts inodes and reports the chunk size */
    Chunkfs__StatfsReq sr = CHUNKFS__STATFS_REQ__INIT;
    Chunkfs__MetaRequest req = CHUNKFS__META_REQUEST__INIT;
    req.op_case = CHUNKFS__META_REQUEST__OP_STATFS;
    req.statfs = &sr;
    Chunkfs__MetaResponse *r = read_op(&req);
    ck_assert_int_eq(r->err, 0);
    ck_assert_uint_eq(r->statfs->files, 4);
    ck_assert_uint_eq(r->statfs->chunk_size, META_FSM_DEFAULT_CHUNK_SIZE);
    chunkfs__meta_response__free_unpacked(r, NULL);
    /* file_info of a file without chunks; of a directory */
    Chunkfs__FileInfoReq fi = CHUNKFS__FILE_INFO_REQ__INIT;
    fi.ino = f;
    req.op_case = CHUNKFS__META_REQUEST__OP_FILE_INFO;
    req.file_info = &fi;
    r = read_op(&req);
    ck_assert_int_eq(r->err, 0);
    ck_assert_uint_eq(r->chunks->n_chunks, 0);
    chunkfs__meta_response__free_unpacked(r, NULL);
    fi.ino = d;
    r = read_op(&req);
    ck_assert_int_eq(r->err, -EISDIR);
    chunkfs__meta_response__free_unpacked(r, NULL);
    /* opens: symlinks are never opened, directories only for reading */
    ck_assert_int_eq(th_open(s, O_RDONLY, NULL), -ELOOP);
    ck_assert_int_eq(th_open(d, O_RDONLY, NULL), 0);
    ck_assert_int_eq(th_open(d, O_RDONLY | O_TRUNC, NULL), -EISDIR);
    ck_assert_int_eq(th_open(f, O_ACCMODE, NULL), -EINVAL);
    ck_assert_int_eq(th_open(999, O_RDONLY, NULL), -ENOENT);
}
END_TEST

Suite *ns_suite(void)
{
    Suite *s = suite_create("meta_fsm_ns");
    TCase *tc = tcase_create("ns");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_add_test(tc, t_root_mkdir_lookup);
    tcase_add_test(tc, t_names);
    tcase_add_test(tc, t_create_modes);
    tcase_add_test(tc, t_unlink_rmdir);
    tcase_add_test(tc, t_rename_rules);
    tcase_add_test(tc, t_link_symlink);
    tcase_add_test(tc, t_setattr_size_times);
    tcase_add_test(tc, t_goal_and_format);
    tcase_add_test(tc, t_bad_format);
    tcase_add_test(tc, t_misc_reads_and_limits);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(ns_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
