#include <check.h>
#include <stdlib.h>

#include "common/rate_window.h"

START_TEST(test_empty_and_single)
{
    rate_window w;
    rate_window_init(&w, 60000);
    ck_assert(rate_window_per_minute(&w, 0) == 0);
    rate_window_sample(&w, 1000, 5);
    ck_assert(rate_window_per_minute(&w, 1000) == 0);
}
END_TEST

/* 2 copies a second for two minutes: 120 per minute, whatever the sampling step. */
START_TEST(test_steady_rate)
{
    rate_window w;
    rate_window_init(&w, 60000);
    for (int64_t t = 0; t <= 120000; t += 1000)
        rate_window_sample(&w, t, (uint64_t)(t / 500));
    double r = rate_window_per_minute(&w, 120000);
    ck_assert_msg(r > 119.0 && r < 121.0, "rate %f", r);
}
END_TEST

/* Only the last window counts: a burst long ago does not show once it is out of it. */
START_TEST(test_old_burst_forgotten)
{
    rate_window w;
    rate_window_init(&w, 10000);
    rate_window_sample(&w, 0, 0);
    rate_window_sample(&w, 1000, 1000); /* burst */
    for (int64_t t = 2000; t <= 30000; t += 500)
        rate_window_sample(&w, t, 1000);
    ck_assert(rate_window_per_minute(&w, 30000) == 0);
    rate_window_sample(&w, 31000, 1010);
    double r = rate_window_per_minute(&w, 31000);
    ck_assert_msg(r > 50.0 && r < 70.0, "rate %f", r); /* 10 over ~10 s = 60/min */
}
END_TEST

/* A counter that goes down (a new leader starts from 0) starts a fresh window. */
START_TEST(test_reset)
{
    rate_window w;
    rate_window_init(&w, 60000);
    rate_window_sample(&w, 0, 100);
    rate_window_sample(&w, 5000, 200);
    rate_window_sample(&w, 6000, 0);
    ck_assert(rate_window_per_minute(&w, 6000) == 0);
    rate_window_sample(&w, 12000, 6);
    double r = rate_window_per_minute(&w, 12000);
    ck_assert_msg(r > 59.0 && r < 61.0, "rate %f", r);
}
END_TEST

/* Samples faster than the ring resolution keep the ring spanning the whole window. */
START_TEST(test_dense_samples)
{
    rate_window w;
    rate_window_init(&w, 60000);
    for (int64_t t = 0; t <= 60000; t += 10)
        rate_window_sample(&w, t, (uint64_t)t);
    double r = rate_window_per_minute(&w, 60000); /* 1 per ms = 60000 per minute */
    ck_assert_msg(r > 59000.0 && r < 61000.0, "rate %f", r);
    ck_assert_uint_le(w.n, RATE_WINDOW_SAMPLES);
    ck_assert(w.t[(w.head + RATE_WINDOW_SAMPLES - w.n) % RATE_WINDOW_SAMPLES] <= 60000 - 55000);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("rate_window");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_empty_and_single);
    tcase_add_test(tc, test_steady_rate);
    tcase_add_test(tc, test_old_burst_forgotten);
    tcase_add_test(tc, test_reset);
    tcase_add_test(tc, test_dense_samples);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
