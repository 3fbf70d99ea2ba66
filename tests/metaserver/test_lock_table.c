/* Unit tests for the leader's POSIX lock table. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>

#include "metaserver/lock_table.h"

static lock_desc lk(uint64_t client, uint64_t owner, uint32_t type, uint64_t s, uint64_t e)
{
    lock_desc d = {.client_id = client,
                   .owner = owner,
                   .type = type,
                   .start = s,
                   .end = e,
                   .pid = (uint32_t)(100 + owner)};
    return d;
}

static lock_desc fl(uint64_t client, uint64_t owner, uint32_t type)
{
    lock_desc d = {.client_id = client, .owner = owner, .type = type, .flock = true};
    return d;
}

START_TEST(read_locks_share_write_conflicts)
{
    lock_table *t = lock_table_create();
    lock_desc c;
    lock_desc r1 = lk(1, 1, LOCK_T_READ, 0, 99), r2 = lk(2, 1, LOCK_T_READ, 50, 149);
    ck_assert_int_eq(lock_table_set(t, 10, &r1, &c), 0);
    ck_assert_int_eq(lock_table_set(t, 10, &r2, &c), 0);
    lock_desc w = lk(3, 1, LOCK_T_WRITE, 120, 130);
    ck_assert_int_eq(lock_table_set(t, 10, &w, &c), -EAGAIN);
    ck_assert_uint_eq(c.client_id, 2);
    ck_assert_uint_eq(c.type, LOCK_T_READ);
    ck_assert_uint_eq(c.start, 50);
    ck_assert_uint_eq(c.end, 149);
    ck_assert_uint_eq(c.pid, 101);
    ck_assert_uint_eq(lock_table_count(t, 10), 2); /* nothing changed */
    /* beyond both read locks: fine; other inode: fine */
    lock_desc w2 = lk(3, 1, LOCK_T_WRITE, 150, UINT64_MAX);
    ck_assert_int_eq(lock_table_set(t, 10, &w2, &c), 0);
    ck_assert_int_eq(lock_table_set(t, 11, &w, &c), 0);
    lock_table_destroy(t);
}
END_TEST

START_TEST(same_owner_converts_without_conflict)
{
    lock_table *t = lock_table_create();
    lock_desc c;
    lock_desc r = lk(1, 1, LOCK_T_READ, 0, 99);
    ck_assert_int_eq(lock_table_set(t, 5, &r, &c), 0);
    lock_desc w = lk(1, 1, LOCK_T_WRITE, 0, 99);
    ck_assert_int_eq(lock_table_set(t, 5, &w, &c), 0);
    ck_assert_uint_eq(lock_table_count(t, 5), 1);
    /* same owner id on another client is a different owner */
    lock_desc other = lk(2, 1, LOCK_T_READ, 10, 10);
    ck_assert_int_eq(lock_table_set(t, 5, &other, &c), -EAGAIN);
    ck_assert_uint_eq(c.type, LOCK_T_WRITE);
    lock_table_destroy(t);
}
END_TEST

START_TEST(unlock_middle_splits)
{
    lock_table *t = lock_table_create();
    lock_desc c;
    lock_desc w = lk(1, 1, LOCK_T_WRITE, 0, 99);
    ck_assert_int_eq(lock_table_set(t, 7, &w, &c), 0);
    lock_desc u = lk(1, 1, LOCK_T_UNLOCK, 40, 59);
    ck_assert_int_eq(lock_table_set(t, 7, &u, &c), 0);
    ck_assert_uint_eq(lock_table_count(t, 7), 2);
    /* the hole is free, both sides still held */
    lock_desc probe = lk(2, 1, LOCK_T_WRITE, 40, 59);
    ck_assert_int_eq(lock_table_test(t, 7, &probe, &c), 0);
    ck_assert_uint_eq(c.type, LOCK_T_UNLOCK);
    probe = lk(2, 1, LOCK_T_READ, 39, 39);
    ck_assert_int_eq(lock_table_test(t, 7, &probe, &c), 0);
    ck_assert_uint_eq(c.type, LOCK_T_WRITE);
    ck_assert_uint_eq(c.start, 0);
    ck_assert_uint_eq(c.end, 39);
    probe = lk(2, 1, LOCK_T_READ, 60, 60);
    ck_assert_int_eq(lock_table_test(t, 7, &probe, &c), 0);
    ck_assert_uint_eq(c.start, 60);
    ck_assert_uint_eq(c.end, 99);
    /* unlock everything */
    u = lk(1, 1, LOCK_T_UNLOCK, 0, UINT64_MAX);
    ck_assert_int_eq(lock_table_set(t, 7, &u, &c), 0);
    ck_assert_uint_eq(lock_table_count(t, 7), 0);
    lock_table_destroy(t);
}
END_TEST

START_TEST(adjacent_same_type_merge_and_type_change_splits)
{
    lock_table *t = lock_table_create();
    lock_desc c;
    lock_desc a = lk(1, 1, LOCK_T_READ, 0, 9), b = lk(1, 1, LOCK_T_READ, 10, 19);
    ck_assert_int_eq(lock_table_set(t, 3, &a, &c), 0);
    ck_assert_int_eq(lock_table_set(t, 3, &b, &c), 0);
    ck_assert_uint_eq(lock_table_count(t, 3), 1);
    /* write lock in the middle turns one read range into read/write/read */
    lock_desc w = lk(1, 1, LOCK_T_WRITE, 5, 14);
    ck_assert_int_eq(lock_table_set(t, 3, &w, &c), 0);
    ck_assert_uint_eq(lock_table_count(t, 3), 3);
    lock_desc probe = lk(2, 2, LOCK_T_READ, 0, 4);
    ck_assert_int_eq(lock_table_test(t, 3, &probe, &c), 0);
    ck_assert_uint_eq(c.type, LOCK_T_UNLOCK);
    probe = lk(2, 2, LOCK_T_READ, 14, 14);
    ck_assert_int_eq(lock_table_test(t, 3, &probe, &c), 0);
    ck_assert_uint_eq(c.type, LOCK_T_WRITE);
    ck_assert_uint_eq(c.start, 5);
    ck_assert_uint_eq(c.end, 14);
    lock_table_destroy(t);
}
END_TEST

START_TEST(flock_and_fcntl_independent)
{
    lock_table *t = lock_table_create();
    lock_desc c;
    lock_desc f1 = fl(1, 1, LOCK_T_WRITE), f2 = fl(2, 9, LOCK_T_READ);
    ck_assert_int_eq(lock_table_set(t, 4, &f1, &c), 0);
    ck_assert_int_eq(lock_table_set(t, 4, &f2, &c), -EAGAIN);
    ck_assert(c.flock);
    /* an fcntl lock on the same file does not see the flock lock */
    lock_desc w = lk(2, 9, LOCK_T_WRITE, 0, UINT64_MAX);
    ck_assert_int_eq(lock_table_set(t, 4, &w, &c), 0);
    /* unlocking the flock lets the other flock in */
    lock_desc un = fl(1, 1, LOCK_T_UNLOCK);
    ck_assert_int_eq(lock_table_set(t, 4, &un, &c), 0);
    ck_assert_int_eq(lock_table_set(t, 4, &f2, &c), 0);
    lock_table_destroy(t);
}
END_TEST

START_TEST(release_owner_and_client)
{
    lock_table *t = lock_table_create();
    lock_desc c;
    lock_desc a = lk(1, 1, LOCK_T_WRITE, 0, 9), b = lk(1, 2, LOCK_T_WRITE, 20, 29),
              d = lk(2, 1, LOCK_T_WRITE, 40, 49), e = lk(1, 1, LOCK_T_WRITE, 0, 9);
    ck_assert_int_eq(lock_table_set(t, 1, &a, &c), 0);
    ck_assert_int_eq(lock_table_set(t, 1, &b, &c), 0);
    ck_assert_int_eq(lock_table_set(t, 1, &d, &c), 0);
    ck_assert_int_eq(lock_table_set(t, 2, &e, &c), 0);
    lock_table_release_owner(t, 1, 1, 1);
    ck_assert_uint_eq(lock_table_count(t, 1), 2);
    ck_assert_uint_eq(lock_table_count(t, 2), 1);
    lock_table_release_client(t, 1);
    ck_assert_uint_eq(lock_table_count(t, 1), 1);
    ck_assert_uint_eq(lock_table_count(t, 2), 0);
    lock_desc probe = lk(3, 3, LOCK_T_WRITE, 0, 39);
    ck_assert_int_eq(lock_table_test(t, 1, &probe, &c), 0);
    ck_assert_uint_eq(c.type, LOCK_T_UNLOCK);
    lock_table_destroy(t);
}
END_TEST

START_TEST(bad_requests_change_nothing)
{
    lock_table *t = lock_table_create();
    lock_desc c;
    lock_desc bad = lk(1, 1, 3, 0, 9);
    ck_assert_int_eq(lock_table_set(t, 1, &bad, &c), -EINVAL);
    bad = lk(1, 1, LOCK_T_READ, 10, 9);
    ck_assert_int_eq(lock_table_set(t, 1, &bad, &c), -EINVAL);
    ck_assert_int_eq(lock_table_test(t, 1, &bad, &c), -EINVAL);
    ck_assert_uint_eq(lock_table_count(t, 1), 0);
    /* unlocking what is not held is fine */
    lock_desc u = lk(1, 1, LOCK_T_UNLOCK, 0, 9);
    ck_assert_int_eq(lock_table_set(t, 1, &u, &c), 0);
    lock_table_destroy(t);
}
END_TEST

START_TEST(many_inodes_and_ranges)
{
    lock_table *t = lock_table_create();
    lock_desc c;
    for (uint64_t ino = 1; ino <= 3000; ino++) {
        for (uint64_t k = 0; k < 5; k++) {
            lock_desc l = lk(ino % 7, k, LOCK_T_WRITE, k * 100, k * 100 + 49);
            ck_assert_int_eq(lock_table_set(t, ino, &l, &c), 0);
        }
    }
    for (uint64_t ino = 1; ino <= 3000; ino++)
        ck_assert_uint_eq(lock_table_count(t, ino), 5);
    for (uint64_t cl = 0; cl < 7; cl++)
        lock_table_release_client(t, cl);
    for (uint64_t ino = 1; ino <= 3000; ino++)
        ck_assert_uint_eq(lock_table_count(t, ino), 0);
    lock_table_destroy(t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("lock_table");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, read_locks_share_write_conflicts);
    tcase_add_test(tc, same_owner_converts_without_conflict);
    tcase_add_test(tc, unlock_middle_splits);
    tcase_add_test(tc, adjacent_same_type_merge_and_type_change_splits);
    tcase_add_test(tc, flock_and_fcntl_independent);
    tcase_add_test(tc, release_owner_and_client);
    tcase_add_test(tc, bad_requests_change_nothing);
    tcase_add_test(tc, many_inodes_and_ranges);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
