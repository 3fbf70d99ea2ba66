/* inode_table: lookup counting, parent map, data-version checks, growth and removal against
 * a simple model (random operations, fixed seed). */
#include "fuse/inode_table.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static cfs_attr mk(uint64_t ino, uint32_t type, uint64_t size, uint64_t gen, long mtime)
{
    cfs_attr a;
    memset(&a, 0, sizeof a);
    a.ino = ino;
    a.mode = type | 0755;
    a.size = size;
    a.generation = gen;
    a.mtime.tv_sec = mtime;
    return a;
}

START_TEST(lookup_counts_and_forget)
{
    inode_table *t = inode_table_new();
    cfs_attr a = mk(5, S_IFREG, 10, 1, 100);
    ck_assert_int_eq(inode_table_add_ref(t, &a, 1), 0);
    ck_assert_int_eq(inode_table_add_ref(t, &a, 1), 0);
    ck_assert_uint_eq(inode_table_count(t), 1);
    inode_table_forget(t, 5, 1);
    ck_assert_uint_eq(inode_table_count(t), 1);
    inode_table_forget(t, 5, 1);
    ck_assert_uint_eq(inode_table_count(t), 0);
    /* Forgetting more than known, or an unknown inode, is harmless. */
    inode_table_add_ref(t, &a, 1);
    inode_table_forget(t, 5, 7);
    inode_table_forget(t, 99, 1);
    ck_assert_uint_eq(inode_table_count(t), 0);
    inode_table_free(t);
}
END_TEST

START_TEST(parents_of_directories)
{
    inode_table *t = inode_table_new();
    cfs_attr d = mk(7, S_IFDIR, 0, 0, 0), f = mk(8, S_IFREG, 0, 0, 0);
    inode_table_add_ref(t, &d, 3);
    inode_table_add_ref(t, &f, 3);
    ck_assert_uint_eq(inode_table_parent(t, 7), 3);
    ck_assert_uint_eq(inode_table_parent(t, 8), 0); /* files have no single parent */
    ck_assert_uint_eq(inode_table_parent(t, CFS_ROOT_INO), CFS_ROOT_INO);
    ck_assert_uint_eq(inode_table_parent(t, 12345), 0);
    inode_table_set_parent(t, 7, 4);
    ck_assert_uint_eq(inode_table_parent(t, 7), 4);
    inode_table_add_ref(t, &d, 0); /* unknown parent keeps the recorded one */
    ck_assert_uint_eq(inode_table_parent(t, 7), 4);
    inode_table_free(t);
}
END_TEST

START_TEST(data_version)
{
    inode_table *t = inode_table_new();
    cfs_attr a = mk(9, S_IFREG, 100, 3, 500);
    ck_assert(!inode_table_data_unchanged(t, &a)); /* unknown inode: cannot keep a cache */
    inode_table_add_ref(t, &a, 1);
    ck_assert(inode_table_data_unchanged(t, &a));
    cfs_attr b = a;
    b.generation = 4;
    ck_assert(!inode_table_data_unchanged(t, &b));
    ck_assert(inode_table_data_unchanged(t, &b)); /* b is now the recorded version */
    b.size = 101;
    ck_assert(!inode_table_data_unchanged(t, &b));
    b.mtime.tv_nsec = 1;
    ck_assert(!inode_table_data_unchanged(t, &b));
    inode_table_update(t, &a);
    ck_assert(inode_table_data_unchanged(t, &a));
    inode_table_free(t);
}
END_TEST

START_TEST(random_against_model)
{
    enum { N = 5000 };
    static uint64_t model[N]; /* lookup count per inode number 1..N-1 */
    memset(model, 0, sizeof model);
    inode_table *t = inode_table_new();
    srand(7);
    for (int step = 0; step < 200000; step++) {
        uint64_t ino = 2 + (uint64_t)rand() % (N - 2); /* 1 is the root */
        if (rand() % 3) {
            cfs_attr a = mk(ino, S_IFDIR, ino, ino, 0);
            ck_assert_int_eq(inode_table_add_ref(t, &a, ino + 1), 0);
            model[ino]++;
        } else {
            uint64_t n = 1 + (uint64_t)rand() % 3;
            inode_table_forget(t, ino, n);
            model[ino] = model[ino] > n ? model[ino] - n : 0;
        }
    }
    uint64_t live = 0;
    for (uint64_t i = 2; i < N; i++) {
        live += model[i] > 0;
        /* Every live entry is findable (probe runs intact after removals). */
        uint64_t want = model[i] ? i + 1 : 0;
        ck_assert_uint_eq(inode_table_parent(t, i), want);
    }
    ck_assert_uint_eq(inode_table_count(t), live);
    inode_table_free(t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("inode_table");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, lookup_counts_and_forget);
    tcase_add_test(tc, parents_of_directories);
    tcase_add_test(tc, data_version);
    tcase_add_test(tc, random_against_model);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
