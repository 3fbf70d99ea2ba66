/* Unit tests of the core's in-memory log and of the membership encodings. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "raft/raft.h"
#include "raft/raft_log.h"

static raft_entry ent(uint64_t index, uint64_t term)
{
    raft_entry e = {.term = term, .index = index, .data = (uint8_t *)"d", .len = 1};
    return e;
}

START_TEST(test_append_truncate_and_stable)
{
    raft_log l;
    raft_log_init(&l, 0, 0);
    raft_entry a[3] = {ent(1, 1), ent(2, 1), ent(3, 2)};
    ck_assert_int_eq(raft_log_append(&l, a, 3), 0);
    ck_assert_uint_eq(raft_log_last_index(&l), 3);
    ck_assert_uint_eq(raft_log_last_term(&l), 2);
    raft_log_stable_to(&l, 3, 2);
    ck_assert_uint_eq(l.stable, 3);
    /* replacing from 3 lowers the stable mark */
    raft_entry b[2] = {ent(3, 3), ent(4, 3)};
    ck_assert_uint_eq(raft_log_find_conflict(&l, b, 2), 3);
    ck_assert_int_eq(raft_log_append(&l, b, 2), 0);
    ck_assert_uint_eq(l.stable, 2);
    uint64_t t;
    ck_assert(raft_log_term(&l, 3, &t) && t == 3);
    /* stale stable_to (term no longer there) is ignored */
    raft_log_stable_to(&l, 4, 2);
    ck_assert_uint_eq(l.stable, 2);
    /* gaps and committed entries are refused */
    raft_entry gap = ent(7, 3);
    ck_assert_int_eq(raft_log_append(&l, &gap, 1), -EINVAL);
    l.committed = 3;
    raft_entry over = ent(3, 4);
    ck_assert_int_eq(raft_log_append(&l, &over, 1), -EINVAL);
    ck_assert_uint_eq(raft_log_last_index(&l), 4);
    raft_log_free(&l);
}
END_TEST

START_TEST(test_up_to_date_and_conflict_by_term)
{
    raft_log l;
    raft_log_init(&l, 0, 0);
    raft_entry a[6] = {ent(1, 1), ent(2, 1), ent(3, 2), ent(4, 2), ent(5, 4), ent(6, 4)};
    ck_assert_int_eq(raft_log_append(&l, a, 6), 0);
    ck_assert(raft_log_is_up_to_date(&l, 6, 4));
    ck_assert(raft_log_is_up_to_date(&l, 1, 5));
    ck_assert(!raft_log_is_up_to_date(&l, 5, 4));
    ck_assert(!raft_log_is_up_to_date(&l, 100, 3));
    ck_assert_uint_eq(raft_log_find_conflict_by_term(&l, 6, 3), 4);
    ck_assert_uint_eq(raft_log_find_conflict_by_term(&l, 6, 1), 2);
    ck_assert_uint_eq(raft_log_find_conflict_by_term(&l, 6, 0), 0);
    ck_assert_uint_eq(raft_log_find_conflict_by_term(&l, 99, 4), 6);
    raft_log_free(&l);
}
END_TEST

START_TEST(test_compact_and_restore)
{
    raft_log l;
    raft_log_init(&l, 0, 0);
    raft_entry a[5] = {ent(1, 1), ent(2, 1), ent(3, 2), ent(4, 2), ent(5, 3)};
    ck_assert_int_eq(raft_log_append(&l, a, 5), 0);
    raft_log_compact(&l, 3);
    ck_assert_uint_eq(raft_log_first_index(&l), 4);
    ck_assert_uint_eq(l.snap_term, 2);
    uint64_t t;
    ck_assert(raft_log_term(&l, 3, &t) && t == 2);
    ck_assert(!raft_log_term(&l, 2, &t));
    ck_assert_ptr_null(raft_log_entry(&l, 3));
    ck_assert_uint_eq(raft_log_entry(&l, 5)->term, 3);
    /* the search stops below the snapshot point: the index whose term is unknown */
    ck_assert_uint_eq(raft_log_find_conflict_by_term(&l, 5, 1), 2);
    ck_assert_uint_eq(raft_log_find_conflict_by_term(&l, 5, 2), 4);
    raft_entry before = ent(3, 9);
    ck_assert_int_eq(raft_log_append(&l, &before, 1), -EINVAL);
    raft_entry *out;
    size_t n;
    ck_assert_int_eq(raft_log_copy_range(&l, 4, 5, &out, &n), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_mem_eq(out[1].data, "d", 1);
    raft_entries_free(out, n);
    ck_assert_int_eq(raft_log_copy_range(&l, 2, 5, &out, &n), -EINVAL);
    raft_log_restore(&l, 10, 5);
    ck_assert_uint_eq(raft_log_last_index(&l), 10);
    ck_assert_uint_eq(l.committed, 10);
    ck_assert_uint_eq(l.applied, 10);
    raft_log_free(&l);
}
END_TEST

START_TEST(test_conf_roundtrip_and_malformed)
{
    raft_conf c = {.n = 3};
    for (int i = 0; i < 3; i++) {
        c.members[i].id = 10 + (uint64_t)i;
        c.members[i].learner = i == 2;
        snprintf(c.members[i].addr, RAFT_ADDR_MAX, "10.0.0.%d:7000", i);
    }
    uint8_t buf[RAFT_CONF_MAX_BYTES];
    int n = raft_conf_encode(&c, buf, sizeof(buf));
    ck_assert_int_gt(n, 0);
    raft_conf d;
    ck_assert_int_eq(raft_conf_decode(buf, (size_t)n, &d), 0);
    ck_assert_int_eq(d.n, 3);
    ck_assert(d.members[2].learner && !d.members[0].learner);
    ck_assert_str_eq(d.members[1].addr, "10.0.0.1:7000");
    ck_assert_int_eq(raft_conf_find(&d, 12), 2);
    ck_assert_int_eq(raft_conf_find(&d, 13), -1);
    for (int cut = 0; cut < n; cut++)
        ck_assert_int_eq(raft_conf_decode(buf, (size_t)cut, &d), -EINVAL);
    uint8_t bad[RAFT_CONF_MAX_BYTES];
    memcpy(bad, buf, (size_t)n);
    bad[0] = 9; /* version */
    ck_assert_int_eq(raft_conf_decode(bad, (size_t)n, &d), -EINVAL);
    memcpy(bad, buf, (size_t)n);
    bad[4] = 17; /* too many members */
    ck_assert_int_eq(raft_conf_decode(bad, (size_t)n, &d), -EINVAL);
    /* duplicate member */
    raft_conf dup = c;
    dup.members[1].id = dup.members[0].id;
    n = raft_conf_encode(&dup, buf, sizeof(buf));
    ck_assert_int_eq(raft_conf_decode(buf, (size_t)n, &d), -EINVAL);
    ck_assert_int_eq(raft_conf_encode(&c, buf, 10), -ENOSPC);
}
END_TEST

START_TEST(test_conf_change_roundtrip_and_malformed)
{
    raft_conf_change cc = {.type = RAFT_CC_ADD_LEARNER, .id = 77};
    strcpy(cc.addr, "host:1");
    uint8_t buf[RAFT_CC_MAX_BYTES];
    int n = raft_conf_change_encode(&cc, buf, sizeof(buf));
    ck_assert_int_gt(n, 0);
    raft_conf_change d;
    ck_assert_int_eq(raft_conf_change_decode(buf, (size_t)n, &d), 0);
    ck_assert_uint_eq(d.type, RAFT_CC_ADD_LEARNER);
    ck_assert_uint_eq(d.id, 77);
    ck_assert_str_eq(d.addr, "host:1");
    ck_assert_int_eq(raft_conf_change_decode(buf, (size_t)n - 1, &d), -EINVAL);
    buf[4] = 9; /* unknown type */
    ck_assert_int_eq(raft_conf_change_decode(buf, (size_t)n, &d), -EINVAL);
    cc.id = 0;
    n = raft_conf_change_encode(&cc, buf, sizeof(buf));
    ck_assert_int_eq(raft_conf_change_decode(buf, (size_t)n, &d), -EINVAL);
}
END_TEST

START_TEST(test_conf_set_apply_and_malformed)
{
    raft_conf c = {.n = 3};
    for (int i = 0; i < 3; i++) {
        c.members[i].id = (uint64_t)i + 1;
        c.members[i].learner = i == 2;
        snprintf(c.members[i].addr, RAFT_ADDR_MAX, "h%d:1", i + 1);
    }
    uint8_t buf[RAFT_CC_SET_MAX_BYTES];
    int n = raft_conf_set_encode(&c, buf, sizeof(buf));
    ck_assert_int_gt(n, 0);
    /* a set replaces whatever membership there was */
    raft_conf got = {.n = 1, .members = {{.id = 9}}};
    ck_assert_int_eq(raft_conf_entry_apply(&got, buf, (size_t)n), 0);
    ck_assert_int_eq(got.n, 3);
    for (int i = 0; i < 3; i++) {
        ck_assert_uint_eq(got.members[i].id, c.members[i].id);
        ck_assert(got.members[i].learner == c.members[i].learner);
        ck_assert_str_eq(got.members[i].addr, c.members[i].addr);
    }
    /* it is not a single change */
    raft_conf_change cc;
    ck_assert_int_eq(raft_conf_change_decode(buf, (size_t)n, &cc), -EINVAL);
    /* malformed data changes nothing */
    raft_conf before = got;
    ck_assert_int_eq(raft_conf_entry_apply(&got, buf, (size_t)n - 1), -EINVAL);
    ck_assert_int_eq(raft_conf_entry_apply(&got, buf, 7), -EINVAL);
    ck_assert_mem_eq(&got, &before, sizeof(got));
    /* only learners: no encoder writes it, no node applies it */
    raft_conf learners = c;
    for (int i = 0; i < 3; i++)
        learners.members[i].learner = true;
    ck_assert_int_eq(raft_conf_set_encode(&learners, buf, sizeof(buf)), -EINVAL);
    uint8_t forged[RAFT_CC_SET_MAX_BYTES];
    memcpy(forged, buf, 8); /* version and RAFT_CC_SET from the set above */
    int cn = raft_conf_encode(&learners, forged + 8, sizeof(forged) - 8);
    ck_assert_int_gt(cn, 0);
    ck_assert_int_eq(raft_conf_entry_apply(&got, forged, 8 + (size_t)cn), -EINVAL);
    ck_assert_mem_eq(&got, &before, sizeof(got));
    /* duplicate or zero ids, empty, too small a buffer */
    raft_conf bad = c;
    bad.members[2].id = 1;
    ck_assert_int_eq(raft_conf_set_encode(&bad, buf, sizeof(buf)), -EINVAL);
    bad = c;
    bad.members[0].id = 0;
    ck_assert_int_eq(raft_conf_set_encode(&bad, buf, sizeof(buf)), -EINVAL);
    bad.n = 0;
    ck_assert_int_eq(raft_conf_set_encode(&bad, buf, sizeof(buf)), -EINVAL);
    ck_assert_int_eq(raft_conf_set_encode(&c, buf, 20), -ENOSPC);
}
END_TEST

START_TEST(test_conf_entry_apply_single_changes)
{
    raft_conf c = {0};
    uint8_t buf[RAFT_CC_MAX_BYTES];
    raft_conf_change cc = {.type = RAFT_CC_ADD_VOTER, .id = 1};
    strcpy(cc.addr, "a:1");
    int n = raft_conf_change_encode(&cc, buf, sizeof(buf));
    ck_assert_int_eq(raft_conf_entry_apply(&c, buf, (size_t)n), 0);
    cc = (raft_conf_change){.type = RAFT_CC_ADD_LEARNER, .id = 2};
    strcpy(cc.addr, "b:1");
    n = raft_conf_change_encode(&cc, buf, sizeof(buf));
    ck_assert_int_eq(raft_conf_entry_apply(&c, buf, (size_t)n), 0);
    ck_assert_int_eq(c.n, 2);
    ck_assert(c.members[1].learner);
    /* adding a voter as a learner again does not demote it */
    cc = (raft_conf_change){.type = RAFT_CC_ADD_LEARNER, .id = 1};
    n = raft_conf_change_encode(&cc, buf, sizeof(buf));
    ck_assert_int_eq(raft_conf_entry_apply(&c, buf, (size_t)n), 0);
    ck_assert(!c.members[0].learner);
    ck_assert_str_eq(c.members[0].addr, "a:1");
    /* promoting keeps the address unless a new one is given */
    cc = (raft_conf_change){.type = RAFT_CC_ADD_VOTER, .id = 2};
    n = raft_conf_change_encode(&cc, buf, sizeof(buf));
    ck_assert_int_eq(raft_conf_entry_apply(&c, buf, (size_t)n), 0);
    ck_assert(!c.members[1].learner);
    ck_assert_str_eq(c.members[1].addr, "b:1");
    cc = (raft_conf_change){.type = RAFT_CC_REMOVE, .id = 1};
    n = raft_conf_change_encode(&cc, buf, sizeof(buf));
    ck_assert_int_eq(raft_conf_entry_apply(&c, buf, (size_t)n), 0);
    ck_assert_int_eq(c.n, 1);
    ck_assert_uint_eq(c.members[0].id, 2);
    buf[4] = 9;
    ck_assert_int_eq(raft_conf_entry_apply(&c, buf, (size_t)n), -EINVAL);
    ck_assert_int_eq(c.n, 1);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("raft_log");
    TCase *tc = tcase_create("log");
    tcase_add_test(tc, test_append_truncate_and_stable);
    tcase_add_test(tc, test_up_to_date_and_conflict_by_term);
    tcase_add_test(tc, test_compact_and_restore);
    tcase_add_test(tc, test_conf_roundtrip_and_malformed);
    tcase_add_test(tc, test_conf_change_roundtrip_and_malformed);
    tcase_add_test(tc, test_conf_set_apply_and_malformed);
    tcase_add_test(tc, test_conf_entry_apply_single_changes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
