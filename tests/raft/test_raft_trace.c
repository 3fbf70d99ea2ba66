/* Unit tests of raft_trace: the per-stage sums a metaserver exports in /metrics and
 * bench_raft prints must add up to the traced latency, and a broken trace must not count. */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "raft/raft_trace.h"

static raft_trace T;

/* Stamps every leader mark for `index` at the given times (0 = leave unset). */
static void stamp(uint64_t index, const int64_t at[RAFT_MARK_COUNT])
{
    for (int m = RAFT_MARK_READY; m < RAFT_MARK_COUNT; m++)
        if (at[m]) raft_trace_mark_range(&T, (raft_trace_mark)m, index, index, at[m]);
}

START_TEST(test_stages_add_up_to_the_latency)
{
    memset(&T, 0, sizeof T);
    ck_assert(raft_trace_start(&T, 10, 1000));
    ck_assert(!raft_trace_start(&T, 11, 1001)); /* one at a time */
    ck_assert(raft_trace_is(&T, 10));
    ck_assert(!raft_trace_is(&T, 11));
    /* ready 1100, durable 1500, first ack 1700 (after the own fsync), committed 1750,
     * applying 1800, applied 1810; the proposer returns at 1900 */
    const int64_t at[RAFT_MARK_COUNT] = {0, 1100, 1500, 1700, 1750, 1800, 1810};
    stamp(10, at);
    /* a later stamp of the same mark does not move it */
    raft_trace_mark_range(&T, RAFT_MARK_READY, 5, 20, 1400);
    raft_trace_finish(&T, 10, true, 1900);
    raft_trace_totals t;
    raft_trace_get(&T, &t);
    ck_assert_uint_eq(t.samples, 1);
    const uint64_t want[RAFT_STAGE_COUNT] = {100, 400, 200, 50, 50, 10, 90};
    uint64_t sum = 0;
    for (int s = 0; s < RAFT_STAGE_COUNT; s++) {
        ck_assert_uint_eq(t.stage_ns[s], want[s]);
        sum += t.stage_ns[s];
    }
    ck_assert_uint_eq(sum, 900); /* 1900 - 1000 */
    ck_assert(!raft_trace_is(&T, 10));
    ck_assert(raft_trace_start(&T, 11, 2000)); /* free again */
}
END_TEST

START_TEST(test_ack_before_own_fsync_and_no_ack)
{
    memset(&T, 0, sizeof T);
    /* the follower answered before the leader's own fsync ended: no follower stage */
    ck_assert(raft_trace_start(&T, 3, 100));
    const int64_t a[RAFT_MARK_COUNT] = {0, 200, 600, 500, 650, 700, 700};
    stamp(3, a);
    raft_trace_finish(&T, 3, true, 800);
    /* a one-node group has no ack at all */
    ck_assert(raft_trace_start(&T, 4, 1000));
    const int64_t b[RAFT_MARK_COUNT] = {0, 1010, 1300, 0, 1310, 1320, 1330};
    stamp(4, b);
    raft_trace_finish(&T, 4, true, 1340);
    raft_trace_totals t;
    raft_trace_get(&T, &t);
    ck_assert_uint_eq(t.samples, 2);
    ck_assert_uint_eq(t.stage_ns[RAFT_STAGE_FOLLOWER], 0);
    ck_assert_uint_eq(t.stage_ns[RAFT_STAGE_FSYNC], 400 + 290);
    ck_assert_uint_eq(t.stage_ns[RAFT_STAGE_TO_COMMIT], 50 + 10);
}
END_TEST

START_TEST(test_failed_or_incomplete_traces_do_not_count)
{
    memset(&T, 0, sizeof T);
    const int64_t all[RAFT_MARK_COUNT] = {0, 110, 120, 130, 140, 150, 160};
    /* the proposal failed (lost leadership) */
    ck_assert(raft_trace_start(&T, 7, 100));
    stamp(7, all);
    raft_trace_finish(&T, 7, false, 170);
    /* never applied here (no apply marks) */
    ck_assert(raft_trace_start(&T, 8, 100));
    const int64_t part[RAFT_MARK_COUNT] = {0, 110, 120, 130, 140, 0, 0};
    stamp(8, part);
    raft_trace_finish(&T, 8, true, 170);
    /* marks for other entries do not touch the traced one */
    ck_assert(raft_trace_start(&T, 9, 100));
    stamp(8, all);
    raft_trace_mark_range(&T, RAFT_MARK_READY, 10, 20, 110);
    raft_trace_finish(&T, 9, true, 170);
    /* finishing an entry that is not traced changes nothing */
    ck_assert(raft_trace_start(&T, 12, 100));
    raft_trace_finish(&T, 13, true, 170);
    ck_assert(raft_trace_is(&T, 12));
    raft_trace_totals t;
    raft_trace_get(&T, &t);
    ck_assert_uint_eq(t.samples, 0);
    for (int s = 0; s < RAFT_STAGE_COUNT; s++)
        ck_assert_uint_eq(t.stage_ns[s], 0);
    ck_assert_str_eq(raft_trace_stage_name(RAFT_STAGE_FOLLOWER), "follower");
    ck_assert_str_eq(raft_trace_stage_name(RAFT_STAGE_COUNT), "unknown");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("raft_trace");
    TCase *tc = tcase_create("trace");
    tcase_add_test(tc, test_stages_add_up_to_the_latency);
    tcase_add_test(tc, test_ack_before_own_fsync_and_no_ack);
    tcase_add_test(tc, test_failed_or_incomplete_traces_do_not_count);
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
