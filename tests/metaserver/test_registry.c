/* Unit tests for the chunkserver registry (soft state on the leader). */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "metaserver/registry.h"

#define GiB (1024ULL * 1024 * 1024)

static registry *three_servers(void)
{
    registry *r = registry_create(5000);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(registry_register(r, 1, "127.0.0.1:7001", "a", 100 * GiB, 10 * GiB, 0), 0);
    ck_assert_int_eq(registry_register(r, 2, "127.0.0.1:7002", "b", 100 * GiB, 20 * GiB, 0), 0);
    ck_assert_int_eq(registry_register(r, 3, "127.0.0.1:7003", "c", 100 * GiB, 30 * GiB, 0), 0);
    return r;
}

START_TEST(register_validates_and_lists)
{
    registry *r = registry_create(5000);
    char longaddr[200];
    memset(longaddr, 'x', sizeof(longaddr) - 1);
    longaddr[sizeof(longaddr) - 1] = 0;
    ck_assert_int_eq(registry_register(r, 0, "h:1", "", 1, 0, 0), -EINVAL);
    ck_assert_int_eq(registry_register(r, 1, "", "", 1, 0, 0), -EINVAL);
    ck_assert_int_eq(registry_register(r, 1, NULL, "", 1, 0, 0), -EINVAL);
    ck_assert_int_eq(registry_register(r, 1, longaddr, "", 1, 0, 0), -EINVAL);
    ck_assert_int_eq(registry_register(r, 1, "h:1", longaddr, 1, 0, 0), -EINVAL);
    ck_assert_uint_eq(registry_server_count(r), 0);
    ck_assert_int_eq(registry_register(r, 1, "h:1", NULL, 100, 5, 0), 0);
    reg_server_info info;
    ck_assert_int_eq(registry_get_server(r, 1, &info), 0);
    ck_assert_str_eq(info.address, "h:1");
    ck_assert_str_eq(info.domain, "");
    ck_assert_uint_eq(info.capacity, 100);
    ck_assert(info.alive);
    ck_assert_int_eq(registry_get_server(r, 2, &info), -ENOENT);
    ck_assert_ptr_null(registry_create(0));
    registry_destroy(r);
}
END_TEST

START_TEST(http_address_kept_until_reregistration)
{
    registry *r = registry_create(5000);
    char longaddr[200];
    memset(longaddr, 'x', sizeof(longaddr) - 1);
    longaddr[sizeof(longaddr) - 1] = 0;
    ck_assert_int_eq(registry_set_http(r, 1, "h:80"), -ENOENT);
    ck_assert_int_eq(registry_register(r, 1, "h:1", "a", 100, 0, 0), 0);
    reg_server_info info;
    ck_assert_int_eq(registry_get_server(r, 1, &info), 0);
    ck_assert_str_eq(info.http, "");
    ck_assert_int_eq(registry_set_http(r, 1, "h:8080"), 0);
    ck_assert_int_eq(registry_set_http(r, 1, longaddr), -EINVAL);
    ck_assert_int_eq(registry_set_http(r, 1, NULL), -EINVAL);
    ck_assert_int_eq(registry_heartbeat(r, 1, 100, 0, 0, 0, 10), 0);
    ck_assert_int_eq(registry_get_server(r, 1, &info), 0);
    ck_assert_str_eq(info.http, "h:8080"); /* bad inputs and heartbeats change nothing */
    reg_server_info list[1];
    ck_assert_uint_eq(registry_list_servers(r, list, 1), 1);
    ck_assert_str_eq(list[0].http, "h:8080");
    ck_assert_int_eq(registry_register(r, 1, "h:1", "a", 100, 0, 20), 0);
    ck_assert_int_eq(registry_get_server(r, 1, &info), 0);
    ck_assert_str_eq(info.http, ""); /* a re-registration announces it afresh */
    registry_destroy(r);
}
END_TEST

START_TEST(locations_only_current_version_live_sorted)
{
    registry *r = three_servers();
    ck_assert_int_eq(registry_add_replica(r, 1, 42, 3, 1000), 0);
    ck_assert_int_eq(registry_add_replica(r, 2, 42, 3, 1000), 0);
    ck_assert_int_eq(registry_add_replica(r, 3, 42, 2, 500), 0); /* stale */
    ck_assert_int_eq(registry_heartbeat(r, 1, 100 * GiB, 10 * GiB, 1, 9, 100), 0);
    ck_assert_int_eq(registry_heartbeat(r, 2, 100 * GiB, 20 * GiB, 1, 1, 100), 0);
    reg_location loc[4];
    ck_assert_uint_eq(registry_locations(r, 42, 3, loc, 4), 2);
    ck_assert_uint_eq(loc[0].server_id, 2); /* less loaded first */
    ck_assert_str_eq(loc[0].address, "127.0.0.1:7002");
    ck_assert_str_eq(loc[0].domain, "b");
    ck_assert_uint_eq(loc[1].server_id, 1);
    ck_assert_uint_eq(registry_locations(r, 42, 3, loc, 1), 1);
    ck_assert_uint_eq(registry_locations(r, 42, 4, loc, 4), 0);
    ck_assert_uint_eq(registry_locations(r, 43, 3, loc, 4), 0);
    reg_replica reps[4];
    ck_assert_uint_eq(registry_replicas(r, 42, reps, 4), 3);
    /* re-report updates in place */
    ck_assert_int_eq(registry_add_replica(r, 3, 42, 3, 1000), 0);
    ck_assert_uint_eq(registry_replicas(r, 42, reps, 4), 3);
    ck_assert_uint_eq(registry_locations(r, 42, 3, loc, 4), 3);
    registry_remove_replica(r, 2, 42);
    ck_assert_uint_eq(registry_locations(r, 42, 3, loc, 4), 2);
    /* bad input */
    ck_assert_int_eq(registry_add_replica(r, 9, 42, 3, 1), -ENOENT);
    ck_assert_int_eq(registry_add_replica(r, 1, 0, 3, 1), -EINVAL);
    ck_assert_int_eq(registry_add_replica(r, 1, 5, 0, 1), -EINVAL);
    registry_destroy(r);
}
END_TEST

START_TEST(dead_after_timeout_and_reregister)
{
    registry *r = three_servers();
    ck_assert_int_eq(registry_add_replica(r, 1, 7, 1, 10), 0);
    ck_assert_int_eq(registry_add_replica(r, 2, 7, 1, 10), 0);
    ck_assert_int_eq(registry_heartbeat(r, 1, 100 * GiB, 0, 1, 0, 4000), 0);
    uint64_t dead[4];
    ck_assert_uint_eq(registry_expire(r, 5000, dead, 4), 0); /* exactly the timeout: alive */
    ck_assert_uint_eq(registry_expire(r, 5001, dead, 4), 2); /* 2 and 3 */
    ck_assert(dead[0] != 1 && dead[1] != 1);
    reg_location loc[4];
    ck_assert_uint_eq(registry_locations(r, 7, 1, loc, 4), 1);
    ck_assert_uint_eq(loc[0].server_id, 1);
    /* a dead server's heartbeat asks it to register again */
    ck_assert_int_eq(registry_heartbeat(r, 2, 1, 0, 0, 0, 5002), -ENOENT);
    ck_assert_int_eq(registry_add_replica(r, 2, 7, 1, 10), -ENOENT);
    ck_assert_int_eq(registry_register(r, 2, "127.0.0.1:7002", "b", 100 * GiB, 0, 5003), 0);
    ck_assert_int_eq(registry_add_replica(r, 2, 7, 1, 10), 0);
    ck_assert_int_eq(registry_report_done(r, 2), 0);
    ck_assert_uint_eq(registry_locations(r, 7, 1, loc, 4), 2);
    reg_server_info info;
    ck_assert_int_eq(registry_get_server(r, 3, &info), 0);
    ck_assert(!info.alive);
    ck_assert_int_eq(registry_get_server(r, 2, &info), 0);
    ck_assert(info.alive && info.reported);
    /* re-registration forgets its replicas (a full report follows) */
    ck_assert_int_eq(registry_register(r, 1, "127.0.0.1:7001", "a", 100 * GiB, 0, 5004), 0);
    ck_assert_uint_eq(registry_locations(r, 7, 1, loc, 4), 1);
    ck_assert_uint_eq(loc[0].server_id, 2);
    registry_destroy(r);
}
END_TEST

START_TEST(same_address_new_id_replaces)
{
    registry *r = three_servers();
    ck_assert_int_eq(registry_add_replica(r, 3, 9, 1, 10), 0);
    ck_assert_int_eq(registry_register(r, 4, "127.0.0.1:7003", "c", 100 * GiB, 0, 10), 0);
    ck_assert_uint_eq(registry_server_count(r), 3);
    reg_server_info info;
    ck_assert_int_eq(registry_get_server(r, 3, &info), -ENOENT);
    reg_replica reps[2];
    ck_assert_uint_eq(registry_replicas(r, 9, reps, 2), 0);
    registry_destroy(r);
}
END_TEST

START_TEST(delete_queue)
{
    registry *r = three_servers();
    ck_assert_int_eq(registry_add_replica(r, 1, 5, 2, 10), 0);
    ck_assert_int_eq(registry_queue_delete(r, 1, 5, 1), 0); /* other version: replica stays */
    reg_replica reps[2];
    ck_assert_uint_eq(registry_replicas(r, 5, reps, 2), 1);
    ck_assert_int_eq(registry_queue_delete(r, 1, 5, 2), 0);
    ck_assert_uint_eq(registry_replicas(r, 5, reps, 2), 0);
    for (uint64_t c = 100; c < 130; c++)
        ck_assert_int_eq(registry_queue_delete(r, 1, c, 0), 0);
    ck_assert_uint_eq(registry_pending_deletes(r, 1), 32);
    reg_delete d[20];
    ck_assert_uint_eq(registry_take_deletes(r, 1, d, 20), 20);
    ck_assert_uint_eq(d[0].chunk_id, 5);
    ck_assert_uint_eq(d[0].version, 1);
    ck_assert_uint_eq(d[1].version, 2);
    ck_assert_uint_eq(d[2].chunk_id, 100);
    ck_assert_uint_eq(registry_take_deletes(r, 1, d, 20), 12);
    ck_assert_uint_eq(d[11].chunk_id, 129);
    ck_assert_uint_eq(registry_take_deletes(r, 1, d, 20), 0);
    ck_assert_uint_eq(registry_take_deletes(r, 2, d, 20), 0);
    ck_assert_int_eq(registry_queue_delete(r, 99, 5, 0), -ENOENT);
    registry_destroy(r);
}
END_TEST

START_TEST(candidates_draining_and_allocation_estimate)
{
    registry *r = three_servers();
    ck_assert_int_eq(registry_set_draining(r, 1, true), 0);
    ck_assert_int_eq(registry_set_draining(r, 77, true), -ENOENT);
    placement_candidate c[8];
    ck_assert_uint_eq(registry_candidates(r, c, 8), 3);
    placement_request req = {.want = 1, .min_free = GiB, .seed = 1};
    uint64_t out[1];
    ck_assert_int_eq(placement_choose(c, 3, &req, out), 1);
    ck_assert_uint_eq(out[0], 2); /* 1 drains; 2 is less used than 3 */
    /* allocations push 2's estimate above 3 until its next heartbeat */
    registry_note_allocation(r, out, 1, 20 * GiB);
    ck_assert_uint_eq(registry_candidates(r, c, 8), 3);
    ck_assert_int_eq(placement_choose(c, 3, &req, out), 1);
    ck_assert_uint_eq(out[0], 3);
    /* draining survives a re-registration; recommission clears it */
    ck_assert_int_eq(registry_register(r, 1, "127.0.0.1:7001", "a", 100 * GiB, 0, 1), 0);
    reg_server_info info;
    ck_assert_int_eq(registry_get_server(r, 1, &info), 0);
    ck_assert(info.draining);
    ck_assert_int_eq(registry_set_draining(r, 1, false), 0);
    uint64_t cap, used;
    registry_totals(r, &cap, &used);
    ck_assert_uint_eq(cap, 300 * GiB);
    ck_assert_uint_eq(used, 0 + 40 * GiB + 30 * GiB);
    registry_destroy(r);
}
END_TEST

START_TEST(allocation_intents)
{
    registry *r = three_servers();
    uint64_t ids[REG_INTENT_MAX + 2] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, out[REG_INTENT_MAX];
    ck_assert_uint_eq(registry_get_intent(r, 5, out, REG_INTENT_MAX), 0);
    registry_set_intent(r, 5, ids, 3);
    ck_assert_uint_eq(registry_get_intent(r, 5, out, REG_INTENT_MAX), 3);
    ck_assert_uint_eq(out[2], 3);
    ck_assert_uint_eq(registry_get_intent(r, 5, out, 2), 2);
    /* a newer intent replaces the older one; at most REG_INTENT_MAX ids are kept */
    registry_set_intent(r, 5, ids + 1, REG_INTENT_MAX + 1);
    ck_assert_uint_eq(registry_get_intent(r, 5, out, REG_INTENT_MAX), REG_INTENT_MAX);
    ck_assert_uint_eq(out[0], 2);
    registry_set_intent(r, 0, ids, 1); /* ignored */
    ck_assert_uint_eq(registry_get_intent(r, 0, out, REG_INTENT_MAX), 0);
    /* FIFO: after REG_INTENTS other chunks, chunk 5's intent is gone; recent ones stay */
    for (uint64_t c = 100; c < 100 + REG_INTENTS; c++)
        registry_set_intent(r, c, ids, 2);
    ck_assert_uint_eq(registry_get_intent(r, 5, out, REG_INTENT_MAX), 0);
    ck_assert_uint_eq(registry_get_intent(r, 100 + REG_INTENTS - 1, out, REG_INTENT_MAX), 2);
    registry_destroy(r);
}
END_TEST

START_TEST(replicate_queue_and_repairs)
{
    registry *r = three_servers();
    ck_assert_int_eq(registry_queue_replicate(r, 2, 7, 3, "127.0.0.1:7001"), 0);
    ck_assert_int_eq(registry_queue_replicate(r, 2, 8, 1, "127.0.0.1:7003"), 0);
    ck_assert_int_eq(registry_queue_replicate(r, 2, 8, 1, ""), -EINVAL);
    ck_assert_int_eq(registry_queue_replicate(r, 2, 0, 1, "h:1"), -EINVAL);
    ck_assert_int_eq(registry_queue_replicate(r, 9, 8, 1, "h:1"), -ENOENT);
    reg_replicate out[4];
    ck_assert_uint_eq(registry_take_replicates(r, 2, out, 1), 1);
    ck_assert_uint_eq(out[0].chunk_id, 7);
    ck_assert_uint_eq(out[0].version, 3);
    ck_assert_str_eq(out[0].source, "127.0.0.1:7001");
    ck_assert_uint_eq(registry_take_replicates(r, 2, out, 4), 1);
    ck_assert_uint_eq(out[0].chunk_id, 8);
    ck_assert_uint_eq(registry_take_replicates(r, 2, out, 4), 0);
    /* a death drops the queue */
    ck_assert_int_eq(registry_queue_replicate(r, 3, 9, 1, "h:1"), 0);
    ck_assert_uint_eq(registry_expire(r, 100000, NULL, 0), 3);
    ck_assert_uint_eq(registry_take_replicates(r, 3, out, 4), 0);

    /* repairs: one at a time per chunk until the timeout */
    ck_assert(registry_repair_begin(r, 42, 1000, 500));
    ck_assert(!registry_repair_begin(r, 42, 1400, 500));
    ck_assert(registry_repair_begin(r, 43, 1400, 500));
    ck_assert(registry_repair_begin(r, 42, 1500, 500));
    /* a full table of young repairs refuses; old ones are reused */
    for (uint64_t c = 1000; c < 1000 + REG_REPAIRS; c++)
        registry_repair_begin(r, c, 2000, 500);
    ck_assert(!registry_repair_begin(r, 5, 2100, 500));
    ck_assert(registry_repair_begin(r, 5, 2600, 500));
    /* a cancelled repair (its source went corrupt) may start again at once */
    ck_assert(registry_repair_pending(r, 5, 2700, 500));
    registry_repair_cancel(r, 5);
    ck_assert(!registry_repair_pending(r, 5, 2700, 500));
    ck_assert(registry_repair_begin(r, 5, 2700, 500));
    ck_assert(registry_repair_pending(r, 5, 2700, 500));
    registry_destroy(r);
}
END_TEST

static void count_cb(void *arg, uint64_t chunk_id, const reg_replica *rep)
{
    (void)chunk_id;
    (void)rep;
    (*(size_t *)arg)++;
}

START_TEST(many_chunks_grow_and_forget)
{
    registry *r = three_servers();
    for (uint64_t c = 1; c <= 20000; c++) {
        ck_assert_int_eq(registry_add_replica(r, 1 + c % 3, c, 1, c), 0);
        ck_assert_int_eq(registry_add_replica(r, 1 + (c + 1) % 3, c, 1, c), 0);
    }
    size_t n = 0;
    registry_foreach_replica(r, count_cb, &n);
    ck_assert_uint_eq(n, 40000);
    reg_location loc[3];
    for (uint64_t c = 1; c <= 20000; c += 997)
        ck_assert_uint_eq(registry_locations(r, c, 1, loc, 3), 2);
    ck_assert_uint_eq(registry_expire(r, 100000, NULL, 0), 3);
    n = 0;
    registry_foreach_replica(r, count_cb, &n);
    ck_assert_uint_eq(n, 0);
    registry_destroy(r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("registry");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, register_validates_and_lists);
    tcase_add_test(tc, http_address_kept_until_reregistration);
    tcase_add_test(tc, locations_only_current_version_live_sorted);
    tcase_add_test(tc, dead_after_timeout_and_reregister);
    tcase_add_test(tc, same_address_new_id_replaces);
    tcase_add_test(tc, delete_queue);
    tcase_add_test(tc, candidates_draining_and_allocation_estimate);
    tcase_add_test(tc, many_chunks_grow_and_forget);
    tcase_add_test(tc, allocation_intents);
    tcase_add_test(tc, replicate_queue_and_repairs);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
