/* Unit tests for the metaserver's data-directory format file and size parsing. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metaserver/meta_format.h"

static char dir[256];

static void setup(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/cfs-fmt-XXXXXX", t && *t ? t : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static void write_file(const char *name, const char *text)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

START_TEST(write_read_round_trip_and_refuse_twice)
{
    char sub[300];
    snprintf(sub, sizeof(sub), "%s/m1", dir);
    meta_cluster_params p = {.cluster_id = "abc-123", .chunk_size = 1 << 20, .goal = 2}, q;
    ck_assert_int_eq(meta_format_read(sub, &q), -ENOENT);
    ck_assert_int_eq(meta_format_write(sub, &p), 0);
    ck_assert_int_eq(meta_format_read(sub, &q), 0);
    ck_assert_str_eq(q.cluster_id, "abc-123");
    ck_assert_uint_eq(q.chunk_size, 1 << 20);
    ck_assert_uint_eq(q.goal, 2);
    meta_cluster_params other = {.cluster_id = "zzz", .chunk_size = 1 << 26, .goal = 3};
    ck_assert_int_eq(meta_format_write(sub, &other), -EEXIST);
    ck_assert_int_eq(meta_format_read(sub, &q), 0);
    ck_assert_str_eq(q.cluster_id, "abc-123"); /* unchanged */
    char raft[400];
    snprintf(raft, sizeof(raft), "%s/raft", sub);
    ck_assert_int_eq(access(raft, F_OK), 0);
}
END_TEST

START_TEST(bad_params_and_files)
{
    meta_cluster_params p = {.cluster_id = "ok", .chunk_size = 3 << 20, .goal = 3};
    ck_assert_int_eq(meta_format_write(dir, &p), -EINVAL); /* not a power of two */
    p.chunk_size = 32 << 10;
    ck_assert_int_eq(meta_format_check(&p), -EINVAL);
    p.chunk_size = 1 << 20;
    p.goal = 0;
    ck_assert_int_eq(meta_format_check(&p), -EINVAL);
    p.goal = 3;
    strcpy(p.cluster_id, "has space");
    ck_assert_int_eq(meta_format_check(&p), -EINVAL);
    strcpy(p.cluster_id, "");
    ck_assert_int_eq(meta_format_check(&p), -EINVAL);

    meta_cluster_params q;
    write_file("cluster.ini", "[cluster]\ncluster_id = x\nchunk_size = 1048576\n");
    ck_assert_int_eq(meta_format_read(dir, &q), -EINVAL); /* goal missing */
    write_file("cluster.ini", "[cluster]\ncluster_id = x\nchunk_size = 1048576\ngoal = 3\nz = 1\n");
    ck_assert_int_eq(meta_format_read(dir, &q), -EINVAL); /* unknown key */
    write_file("cluster.ini", "[cluster]\ncluster_id = x\nchunk_size = -5\ngoal = 3\n");
    ck_assert_int_eq(meta_format_read(dir, &q), -EINVAL);
    write_file("cluster.ini", "garbage without section\n");
    ck_assert_int_eq(meta_format_read(dir, &q), -EINVAL);
    write_file("cluster.ini", "[cluster]\ncluster_id = x\nchunk_size = 1048576\ngoal = 3\n");
    ck_assert_int_eq(meta_format_read(dir, &q), 0);
}
END_TEST

START_TEST(new_ids_and_sizes)
{
    char a[32], b[32];
    ck_assert_int_eq(meta_format_new_id(a, sizeof(a)), 0);
    ck_assert_int_eq(meta_format_new_id(b, sizeof(b)), 0);
    ck_assert_uint_eq(strlen(a), 16);
    ck_assert_str_ne(a, b);
    ck_assert_int_eq(meta_format_new_id(a, 8), -EINVAL);
    uint64_t v;
    ck_assert_int_eq(meta_parse_size("64M", &v), 0);
    ck_assert_uint_eq(v, 64ull << 20);
    ck_assert_int_eq(meta_parse_size("1G", &v), 0);
    ck_assert_uint_eq(v, 1ull << 30);
    ck_assert_int_eq(meta_parse_size("512KiB", &v), 0);
    ck_assert_uint_eq(v, 512ull << 10);
    ck_assert_int_eq(meta_parse_size("4096", &v), 0);
    ck_assert_uint_eq(v, 4096);
    ck_assert_int_eq(meta_parse_size("", &v), -EINVAL);
    ck_assert_int_eq(meta_parse_size("-1", &v), -EINVAL);
    ck_assert_int_eq(meta_parse_size("12X", &v), -EINVAL);
    ck_assert_int_eq(meta_parse_size("99999999999999999999G", &v), -EINVAL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("meta_format");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, write_read_round_trip_and_refuse_twice);
    tcase_add_test(tc, bad_params_and_files);
    tcase_add_test(tc, new_ids_and_sizes);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
