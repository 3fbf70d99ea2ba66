/* Unit tests for rebalancer planning: balance check, fullest-to-emptiest moves, no
 * ping-pong, convergence of repeated moves. */
#include <check.h>
#include <stdlib.h>

#include "metaserver/rebalance.h"

#define MiB (1024ULL * 1024)
#define GiB (1024ULL * MiB)

START_TEST(balanced_cases)
{
    rebalance_server eq[3] = {{1, GiB, 100 * MiB}, {2, GiB, 104 * MiB}, {3, GiB, 96 * MiB}};
    ck_assert(rebalance_balanced(eq, 3, 0.1));
    ck_assert(!rebalance_balanced(eq, 3, 0.01));
    /* Nothing stored, one server, capacity 0: nothing to do. */
    rebalance_server empty[2] = {{1, GiB, 0}, {2, GiB, 0}};
    ck_assert(rebalance_balanced(empty, 2, 0.1));
    ck_assert(rebalance_balanced(eq, 1, 0.1));
    rebalance_server nocap[2] = {{1, 0, 5 * MiB}, {2, GiB, 5 * MiB}};
    ck_assert(rebalance_balanced(nocap, 2, 0.1));
}
END_TEST

START_TEST(moves_fullest_to_emptiest)
{
    /* Fill is relative to capacity: server 2 holds less but on a smaller disk. */
    rebalance_server s[4] = {
        {1, 4 * GiB, 200 * MiB}, {2, GiB, 80 * MiB}, {3, 4 * GiB, 180 * MiB}, {5, 4 * GiB, 0}};
    size_t a = 99, b = 99;
    ck_assert_int_eq(rebalance_pick(s, 4, 0.1, MiB, &a, &b), 1);
    ck_assert_uint_eq(s[a].id, 2);
    ck_assert_uint_eq(s[b].id, 5);
    ck_assert_int_eq(rebalance_pick(NULL, 4, 0.1, MiB, &a, &b), -1);
    ck_assert_int_eq(rebalance_pick(s, 4, 0.1, 0, &a, &b), -1);
}
END_TEST

START_TEST(no_ping_pong)
{
    /* Out of spread but one move of 3 MiB would leave the target fuller than the source. */
    rebalance_server s[2] = {{1, GiB, 5 * MiB}, {2, GiB, 3 * MiB}};
    size_t a, b;
    ck_assert_int_eq(rebalance_pick(s, 2, 0.1, 3 * MiB, &a, &b), 0);
    ck_assert_int_eq(rebalance_pick(s, 2, 0.1, MiB, &a, &b), 1);
}
END_TEST

START_TEST(repeated_moves_converge)
{
    /* 4 servers with 18 one-MiB chunks each, a fifth empty one: moving one chunk at a time
     * ends within the spread, after a bounded number of moves. */
    rebalance_server s[5] = {{1, GiB, 18 * MiB},
                             {2, GiB, 18 * MiB},
                             {3, GiB, 18 * MiB},
                             {4, GiB, 18 * MiB},
                             {5, GiB, 0}};
    int moves = 0;
    size_t a, b;
    while (rebalance_pick(s, 5, 0.1, MiB, &a, &b) == 1 && moves < 100) {
        s[a].stored -= MiB;
        s[b].stored += MiB;
        moves++;
    }
    ck_assert(rebalance_balanced(s, 5, 0.1));
    ck_assert_int_le(moves, 15);
    ck_assert_uint_ge(s[4].stored, 13 * MiB);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("rebalance");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, balanced_cases);
    tcase_add_test(tc, moves_fullest_to_emptiest);
    tcase_add_test(tc, no_ping_pong);
    tcase_add_test(tc, repeated_moves_converge);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
