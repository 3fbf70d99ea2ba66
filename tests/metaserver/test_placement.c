/* Unit tests for replica target selection. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "metaserver/placement.h"

#define GiB (1024ULL * 1024 * 1024)

static placement_candidate cand(uint64_t id, const char *dom, uint64_t cap, uint64_t used)
{
    placement_candidate c = {
        .id = id, .domain = dom, .capacity = cap, .used = used, .alive = true, .draining = false};
    return c;
}

static bool contains(const uint64_t *v, int n, uint64_t id)
{
    for (int i = 0; i < n; i++)
        if (v[i] == id) return true;
    return false;
}

START_TEST(picks_distinct_least_used)
{
    placement_candidate c[4] = {cand(1, "", 100 * GiB, 90 * GiB), cand(2, "", 100 * GiB, 10 * GiB),
                                cand(3, "", 100 * GiB, 50 * GiB), cand(4, "", 100 * GiB, 20 * GiB)};
    placement_request r = {.want = 3, .min_free = GiB, .seed = 7};
    uint64_t out[3];
    ck_assert_int_eq(placement_choose(c, 4, &r, out), 3);
    ck_assert_uint_eq(out[0], 2);
    ck_assert_uint_eq(out[1], 4);
    ck_assert_uint_eq(out[2], 3);
}
END_TEST

START_TEST(fraction_not_absolute_bytes)
{
    /* 2 uses more bytes but a smaller fraction of its disk. */
    placement_candidate c[2] = {cand(1, "", 10 * GiB, 5 * GiB), cand(2, "", 100 * GiB, 20 * GiB)};
    placement_request r = {.want = 1, .min_free = GiB};
    uint64_t out[1];
    ck_assert_int_eq(placement_choose(c, 2, &r, out), 1);
    ck_assert_uint_eq(out[0], 2);
}
END_TEST

START_TEST(domains_spread_first)
{
    /* a1, a2 are emptiest but share domain "a": the second pick must be in "b". */
    placement_candidate c[4] = {cand(1, "a", 100 * GiB, 1 * GiB), cand(2, "a", 100 * GiB, 2 * GiB),
                                cand(3, "b", 100 * GiB, 80 * GiB),
                                cand(4, "b", 100 * GiB, 70 * GiB)};
    placement_request r = {.want = 3, .min_free = GiB};
    uint64_t out[3];
    ck_assert_int_eq(placement_choose(c, 4, &r, out), 3);
    ck_assert_uint_eq(out[0], 1);
    ck_assert_uint_eq(out[1], 4);
    /* both domains used: back to least used */
    ck_assert_uint_eq(out[2], 2);
}
END_TEST

START_TEST(existing_replicas_domains_count)
{
    placement_candidate c[3] = {cand(1, "a", 100 * GiB, 1 * GiB), cand(2, "a", 100 * GiB, 2 * GiB),
                                cand(3, "b", 100 * GiB, 80 * GiB)};
    uint64_t existing[] = {1};
    placement_request r = {.want = 1, .min_free = GiB, .existing = existing, .n_existing = 1};
    uint64_t out[1];
    ck_assert_int_eq(placement_choose(c, 3, &r, out), 1);
    ck_assert_uint_eq(out[0], 3);
}
END_TEST

START_TEST(skips_dead_draining_full_excluded)
{
    placement_candidate c[5] = {cand(1, "", 100 * GiB, 0), cand(2, "", 100 * GiB, 0),
                                cand(3, "", 100 * GiB, 100 * GiB - 1), cand(4, "", 100 * GiB, 0),
                                cand(5, "", 100 * GiB, 50 * GiB)};
    c[0].alive = false;
    c[1].draining = true;
    uint64_t excl[] = {4};
    placement_request r = {.want = 3, .min_free = GiB, .exclude = excl, .n_exclude = 1};
    uint64_t out[3];
    /* only 5 is eligible: returns what is possible */
    ck_assert_int_eq(placement_choose(c, 5, &r, out), 1);
    ck_assert_uint_eq(out[0], 5);
}
END_TEST

START_TEST(errors_none_and_full)
{
    uint64_t out[3];
    placement_request r = {.want = 3, .min_free = GiB};
    ck_assert_int_eq(placement_choose(NULL, 0, &r, out), -CFS_ENOSERVERS);

    placement_candidate dead[2] = {cand(1, "", 100 * GiB, 0), cand(2, "", 100 * GiB, 0)};
    dead[0].alive = dead[1].alive = false;
    ck_assert_int_eq(placement_choose(dead, 2, &r, out), -CFS_ENOSERVERS);

    placement_candidate full[2] = {cand(1, "", 100 * GiB, 100 * GiB),
                                   cand(2, "", 100 * GiB, 100 * GiB - GiB / 2)};
    ck_assert_int_eq(placement_choose(full, 2, &r, out), -ENOSPC);

    placement_candidate zero_cap[1] = {cand(1, "", 0, 0)};
    ck_assert_int_eq(placement_choose(zero_cap, 1, &r, out), -ENOSPC);

    r.want = 0;
    ck_assert_int_eq(placement_choose(full, 2, &r, out), -EINVAL);
    r.want = 1;
    r.n_exclude = 1; /* count without array */
    ck_assert_int_eq(placement_choose(full, 2, &r, out), -EINVAL);
}
END_TEST

START_TEST(tie_break_deterministic_and_spreads)
{
    placement_candidate c[8];
    for (int i = 0; i < 8; i++)
        c[i] = cand((uint64_t)i + 1, "", 100 * GiB, 10 * GiB);
    int first_counts[9] = {0};
    for (uint64_t seed = 0; seed < 400; seed++) {
        placement_request r = {.want = 2, .min_free = GiB, .seed = seed};
        uint64_t a[2], b[2];
        ck_assert_int_eq(placement_choose(c, 8, &r, a), 2);
        ck_assert_int_eq(placement_choose(c, 8, &r, b), 2);
        ck_assert_uint_eq(a[0], b[0]); /* same seed, same answer */
        ck_assert_uint_eq(a[1], b[1]);
        ck_assert_uint_ne(a[0], a[1]);
        first_counts[a[0]]++;
    }
    /* every equal server gets picked first for some seeds */
    for (int i = 1; i <= 8; i++)
        ck_assert_int_gt(first_counts[i], 10);
}
END_TEST

START_TEST(want_more_than_servers)
{
    placement_candidate c[2] = {cand(1, "x", 100 * GiB, 0), cand(2, "x", 100 * GiB, 0)};
    placement_request r = {.want = 5, .min_free = GiB};
    uint64_t out[5];
    ck_assert_int_eq(placement_choose(c, 2, &r, out), 2);
    ck_assert(contains(out, 2, 1) && contains(out, 2, 2));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("placement");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, picks_distinct_least_used);
    tcase_add_test(tc, fraction_not_absolute_bytes);
    tcase_add_test(tc, domains_spread_first);
    tcase_add_test(tc, existing_replicas_domains_count);
    tcase_add_test(tc, skips_dead_draining_full_excluded);
    tcase_add_test(tc, errors_none_and_full);
    tcase_add_test(tc, tie_break_deterministic_and_spreads);
    tcase_add_test(tc, want_more_than_servers);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
