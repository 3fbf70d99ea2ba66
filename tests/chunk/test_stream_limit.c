/* stream_limit: a peer gets at most `max` streams at once, peers are counted apart, leaving
 * frees a slot, and max 0 means no cap. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>

#include "chunkserver/stream_limit.h"

START_TEST(t_cap_per_peer)
{
    stream_limit *sl = stream_limit_new(2);
    ck_assert_ptr_nonnull(sl);
    ck_assert_uint_eq(stream_limit_max(sl), 2);
    const char *a = "ipv4:127.0.0.1:1000", *b = "ipv4:127.0.0.1:1001";
    ck_assert_int_eq(stream_limit_enter(sl, a), 0);
    ck_assert_int_eq(stream_limit_enter(sl, a), 0);
    ck_assert_int_eq(stream_limit_enter(sl, a), -EBUSY);
    ck_assert_int_eq(stream_limit_enter(sl, b), 0); /* another connection is another client */
    stream_limit_leave(sl, a);
    ck_assert_int_eq(stream_limit_enter(sl, a), 0);
    ck_assert_int_eq(stream_limit_enter(sl, a), -EBUSY);
    stream_limit_leave(sl, a);
    stream_limit_leave(sl, a);
    ck_assert_int_eq(stream_limit_enter(sl, a), 0);
    ck_assert_int_eq(stream_limit_enter(sl, NULL), 0); /* an unknown peer is one client too */
    stream_limit_leave(sl, NULL);
    stream_limit_free(sl); /* with entries left: frees them */
}
END_TEST

START_TEST(t_no_cap)
{
    stream_limit *sl = stream_limit_new(0);
    ck_assert_ptr_nonnull(sl);
    for (int i = 0; i < 1000; i++)
        ck_assert_int_eq(stream_limit_enter(sl, "p"), 0);
    stream_limit_leave(sl, "p");
    stream_limit_free(sl);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("stream_limit");
    TCase *tc = tcase_create("stream_limit");
    tcase_add_test(tc, t_cap_per_peer);
    tcase_add_test(tc, t_no_cap);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
