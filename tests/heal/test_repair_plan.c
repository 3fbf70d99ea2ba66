/* Unit tests for the repair machinery's pure parts: queue order, trim choice, and the
 * registry's tracking of copies in flight (throttle slots freed by the target's report). */
#include <check.h>
#include <stdlib.h>

#include "metaserver/registry.h"
#include "metaserver/repair_plan.h"

#define GiB (1024ULL * 1024 * 1024)

START_TEST(queue_fewest_live_first)
{
    repair_item v[5] = {{10, 1, 3, 2}, {11, 1, 3, 1}, {12, 1, 5, 2}, {13, 1, 2, 1}, {9, 1, 3, 1}};
    repair_order(v, 5);
    /* live 1: shortfall 2 (ids 9, 11) before shortfall 1 (13); then live 2: 12 (short 3), 10. */
    uint64_t want[5] = {9, 11, 13, 12, 10};
    for (int i = 0; i < 5; i++)
        ck_assert_uint_eq(v[i].chunk_id, want[i]);
    repair_order(NULL, 0);
}
END_TEST

START_TEST(trim_prefers_draining_then_domain_then_fullest)
{
    trim_replica r[4] = {{1, "a", 100 * GiB, 90 * GiB, false},
                         {2, "b", 100 * GiB, 10 * GiB, false},
                         {3, "b", 100 * GiB, 20 * GiB, false},
                         {4, "c", 100 * GiB, 5 * GiB, true}};
    ck_assert_int_eq(repair_pick_trim(r, 4), 3); /* draining, although emptiest */
    /* Without it: the duplicate domain "b" loses its fuller member, not the fullest (a). */
    ck_assert_int_eq(repair_pick_trim(r, 3), 2);
    /* All distinct: the fullest by fraction (server 2 is 50% of a small disk). */
    trim_replica d[3] = {{1, "a", 100 * GiB, 40 * GiB, false},
                         {2, "", 10 * GiB, 5 * GiB, false},
                         {3, NULL, 100 * GiB, 45 * GiB, false}};
    ck_assert_int_eq(repair_pick_trim(d, 3), 1);
    /* Unlabelled servers never share a domain; ties go to the higher id. */
    trim_replica u[2] = {{7, "", GiB, 0, false}, {8, "", GiB, 0, false}};
    ck_assert_int_eq(repair_pick_trim(u, 2), 1);
    ck_assert_int_eq(repair_pick_trim(u, 0), -1);
    ck_assert_int_eq(repair_pick_trim(NULL, 2), -1);
}
END_TEST

START_TEST(registry_tracks_copies_in_flight)
{
    registry *r = registry_create(5000);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(registry_register(r, 1, "h:1", "", GiB, 0, 0), 0);
    ck_assert_int_eq(registry_register(r, 2, "h:2", "", GiB, 0, 0), 0);
    ck_assert(registry_repair_start(r, 100, 2, 1000, 500));
    ck_assert(registry_repair_start(r, 101, 2, 1000, 500));
    ck_assert(registry_repair_start(r, 102, 1, 1000, 500));
    ck_assert(!registry_repair_start(r, 100, 1, 1100, 500)); /* one copy per chunk */
    ck_assert_uint_eq(registry_repairs_inflight(r, 0, 1100, 500), 3);
    ck_assert_uint_eq(registry_repairs_inflight(r, 2, 1100, 500), 2);
    ck_assert(registry_repair_pending(r, 100, 1100, 500));
    /* A report from another server does not end the copy; the target's does. */
    ck_assert_int_eq(registry_add_replica(r, 1, 100, 1, 10), 0);
    ck_assert_uint_eq(registry_repairs_inflight(r, 2, 1100, 500), 2);
    ck_assert_int_eq(registry_add_replica(r, 2, 100, 1, 10), 0);
    ck_assert_uint_eq(registry_repairs_inflight(r, 2, 1100, 500), 1);
    ck_assert(!registry_repair_pending(r, 100, 1100, 500));
    ck_assert_uint_eq(registry_repairs_done(r), 1);
    /* A target that dies (or re-registers) takes its copies with it. */
    ck_assert(registry_repair_start(r, 103, 1, 1100, 500));
    ck_assert_int_eq(registry_register(r, 1, "h:1", "", GiB, 0, 1200), 0);
    ck_assert(!registry_repair_pending(r, 103, 1200, 500));
    ck_assert(!registry_repair_pending(r, 102, 1200, 500));
    ck_assert_uint_eq(registry_repairs_inflight(r, 1, 1200, 500), 0);
    /* Unreported copies time out and free their slot. */
    ck_assert_uint_eq(registry_repairs_inflight(r, 0, 1600, 500), 0);
    ck_assert(registry_repair_start(r, 101, 1, 1600, 500));
    registry_destroy(r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("repair_plan");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, queue_fewest_live_first);
    tcase_add_test(tc, trim_prefers_draining_then_domain_then_fullest);
    tcase_add_test(tc, registry_tracks_copies_in_flight);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
