/* common/metrics: exact Prometheus text output, escaping, histogram buckets, validation,
 * callback gauges and hooks, concurrent updates. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/metrics.h"

static char *render(cfs_metrics *r)
{
    char *out = NULL;
    size_t len = 0;
    ck_assert_int_eq(cfs_metrics_render(r, &out, &len), 0);
    ck_assert_uint_eq(strlen(out), len);
    return out;
}

START_TEST(test_counter_gauge_exact)
{
    cfs_metrics *r = cfs_metrics_new();
    cfs_counter *c1, *c2, *again;
    cfs_gauge *g;
    const char *l1[] = {"op", "lookup", NULL};
    const char *l2[] = {"op", "mkdir", NULL};
    ck_assert_int_eq(cfs_metrics_counter(r, "cfs_requests_total", "Requests.", l1, &c1), 0);
    ck_assert_int_eq(cfs_metrics_counter(r, "cfs_requests_total", "Requests.", l2, &c2), 0);
    ck_assert_int_eq(cfs_metrics_counter(r, "cfs_requests_total", "Requests.", l1, &again), 0);
    ck_assert_ptr_eq(c1, again);
    ck_assert_int_eq(cfs_metrics_gauge(r, "cfs_temp", NULL, NULL, &g), 0);
    cfs_counter_add(c1, 5);
    cfs_counter_inc(c2);
    cfs_gauge_set(g, 1.5);
    cfs_gauge_add(g, -3);
    ck_assert_uint_eq(cfs_counter_value(c1), 5);
    char *s = render(r);
    ck_assert_str_eq(s, "# HELP cfs_requests_total Requests.\n"
                        "# TYPE cfs_requests_total counter\n"
                        "cfs_requests_total{op=\"lookup\"} 5\n"
                        "cfs_requests_total{op=\"mkdir\"} 1\n"
                        "# HELP cfs_temp \n"
                        "# TYPE cfs_temp gauge\n"
                        "cfs_temp -1.5\n");
    free(s);
    cfs_metrics_free(r);
}
END_TEST

START_TEST(test_escaping)
{
    cfs_metrics *r = cfs_metrics_new();
    cfs_gauge *g;
    const char *l[] = {"path", "a\\b\"c\nd", "x", "", NULL};
    ck_assert_int_eq(cfs_metrics_gauge(r, "m:x_y", "line1\nback\\slash \"q\"", l, &g), 0);
    cfs_gauge_set(g, 0.1);
    char *s = render(r);
    ck_assert_str_eq(s, "# HELP m:x_y line1\\nback\\\\slash \"q\"\n"
                        "# TYPE m:x_y gauge\n"
                        "m:x_y{path=\"a\\\\b\\\"c\\nd\",x=\"\"} 0.1\n");
    free(s);
    cfs_metrics_free(r);
}
END_TEST

START_TEST(test_histogram)
{
    cfs_metrics *r = cfs_metrics_new();
    cfs_histogram *h;
    const double b[] = {0.5, 1, 2.5};
    const char *l[] = {"op", "read", NULL};
    ck_assert_int_eq(cfs_metrics_histogram(r, "lat_seconds", "Latency.", l, b, 3, &h), 0);
    cfs_histogram_observe(h, 0.25);
    cfs_histogram_observe(h, 0.5); /* le is inclusive */
    cfs_histogram_observe(h, 2);
    cfs_histogram_observe(h, 100);
    char *s = render(r);
    ck_assert_str_eq(s, "# HELP lat_seconds Latency.\n"
                        "# TYPE lat_seconds histogram\n"
                        "lat_seconds_bucket{op=\"read\",le=\"0.5\"} 2\n"
                        "lat_seconds_bucket{op=\"read\",le=\"1\"} 2\n"
                        "lat_seconds_bucket{op=\"read\",le=\"2.5\"} 3\n"
                        "lat_seconds_bucket{op=\"read\",le=\"+Inf\"} 4\n"
                        "lat_seconds_sum{op=\"read\"} 102.75\n"
                        "lat_seconds_count{op=\"read\"} 4\n");
    free(s);
    cfs_metrics_free(r);
}
END_TEST

START_TEST(test_histogram_no_labels)
{
    cfs_metrics *r = cfs_metrics_new();
    cfs_histogram *h;
    const double b[] = {1};
    ck_assert_int_eq(cfs_metrics_histogram(r, "h", "", NULL, b, 1, &h), 0);
    char *s = render(r);
    ck_assert_str_eq(s, "# HELP h \n# TYPE h histogram\nh_bucket{le=\"1\"} 0\n"
                        "h_bucket{le=\"+Inf\"} 0\nh_sum 0\nh_count 0\n");
    free(s);
    cfs_metrics_free(r);
}
END_TEST

START_TEST(test_validation)
{
    cfs_metrics *r = cfs_metrics_new();
    cfs_counter *c;
    cfs_gauge *g;
    cfs_histogram *h;
    const char *bad_label[] = {"__x", "v", NULL};
    const char *le_label[] = {"le", "v", NULL};
    const char *digit_label[] = {"1a", "v", NULL};
    const char *dup_label[] = {"a", "1", "a", "2", NULL};
    const char *la[] = {"a", "1", NULL};
    const char *lb[] = {"b", "1", NULL};
    ck_assert_int_eq(cfs_metrics_counter(r, "", NULL, NULL, &c), -EINVAL);
    ck_assert_int_eq(cfs_metrics_counter(r, "9abc", NULL, NULL, &c), -EINVAL);
    ck_assert_int_eq(cfs_metrics_counter(r, "a-b", NULL, NULL, &c), -EINVAL);
    ck_assert_int_eq(cfs_metrics_counter(r, "ok", NULL, bad_label, &c), -EINVAL);
    ck_assert_int_eq(cfs_metrics_counter(r, "ok", NULL, le_label, &c), -EINVAL);
    ck_assert_int_eq(cfs_metrics_counter(r, "ok", NULL, digit_label, &c), -EINVAL);
    ck_assert_int_eq(cfs_metrics_counter(r, "ok", NULL, dup_label, &c), -EINVAL);
    ck_assert_int_eq(cfs_metrics_counter(r, "ok", NULL, la, &c), 0);
    /* Same name, other type or other label names. */
    ck_assert_int_eq(cfs_metrics_gauge(r, "ok", NULL, la, &g), -EINVAL);
    ck_assert_int_eq(cfs_metrics_counter(r, "ok", NULL, lb, &c), -EINVAL);
    ck_assert_int_eq(cfs_metrics_counter(r, "ok", NULL, NULL, &c), -EINVAL);
    const double unsorted[] = {1, 1};
    const double good[] = {1, 2};
    const double other[] = {1, 3};
    ck_assert_int_eq(cfs_metrics_histogram(r, "h", NULL, NULL, unsorted, 2, &h), -EINVAL);
    ck_assert_int_eq(cfs_metrics_histogram(r, "h", NULL, NULL, good, 0, &h), -EINVAL);
    ck_assert_int_eq(cfs_metrics_histogram(r, "h", NULL, NULL, good, 2, &h), 0);
    ck_assert_int_eq(cfs_metrics_histogram(r, "h", NULL, NULL, other, 2, &h), -EINVAL);
    ck_assert_int_eq(cfs_metrics_gauge_fn(r, "f", NULL, NULL, NULL, NULL), -EINVAL);
    /* Failed registrations left nothing behind. */
    char *s = render(r);
    ck_assert_str_eq(s, "# HELP ok \n# TYPE ok counter\nok{a=\"1\"} 0\n"
                        "# HELP h \n# TYPE h histogram\nh_bucket{le=\"1\"} 0\n"
                        "h_bucket{le=\"2\"} 0\nh_bucket{le=\"+Inf\"} 0\nh_sum 0\nh_count 0\n");
    free(s);
    cfs_metrics_free(r);
}
END_TEST

static double answer(void *arg)
{
    return *(double *)arg;
}

static void hook_fn(cfs_metrics *r, void *arg)
{
    cfs_gauge *g;
    const char *l[] = {"state", "healthy", NULL};
    if (cfs_metrics_gauge(r, "chunks", "Chunks.", l, &g) == 0) cfs_gauge_set(g, *(double *)arg);
}

START_TEST(test_callbacks_and_hooks)
{
    cfs_metrics *r = cfs_metrics_new();
    double v = 42, hv = 7;
    ck_assert_int_eq(cfs_metrics_gauge_fn(r, "term", "Raft term.", NULL, answer, &v), 0);
    ck_assert_int_eq(cfs_metrics_add_hook(r, hook_fn, &hv), 0);
    char *s = render(r);
    ck_assert_str_eq(s,
                     "# HELP term Raft term.\n# TYPE term gauge\nterm 42\n"
                     "# HELP chunks Chunks.\n# TYPE chunks gauge\nchunks{state=\"healthy\"} 7\n");
    free(s);
    v = 2.5e-7;
    hv = 8;
    s = render(r);
    ck_assert_ptr_nonnull(strstr(s, "term 2.5e-07\n"));
    ck_assert_ptr_nonnull(strstr(s, "chunks{state=\"healthy\"} 8\n"));
    free(s);
    /* After forget, neither the callback nor the hook runs (arg may be gone). */
    cfs_metrics_forget(r, &v);
    cfs_metrics_forget(r, &hv);
    v = -1;
    hv = -1;
    s = render(r);
    ck_assert_ptr_nonnull(strstr(s, "term 0\n"));
    ck_assert_ptr_nonnull(strstr(s, "chunks{state=\"healthy\"} 8\n"));
    free(s);
    cfs_metrics_free(r);
}
END_TEST

static void *hammer(void *arg)
{
    cfs_metrics *r = arg;
    cfs_counter *c;
    cfs_histogram *h;
    cfs_gauge *g;
    const double b[] = {1};
    const char *l[] = {"op", "x", NULL};
    if (cfs_metrics_counter(r, "c", NULL, l, &c) ||
        cfs_metrics_histogram(r, "h", NULL, l, b, 1, &h) ||
        cfs_metrics_gauge(r, "g", NULL, NULL, &g))
        return (void *)1;
    for (int i = 0; i < 100000; i++) {
        cfs_counter_inc(c);
        cfs_histogram_observe(h, 0.5);
        cfs_gauge_add(g, 1);
    }
    return NULL;
}

START_TEST(test_concurrent)
{
    cfs_metrics *r = cfs_metrics_new();
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, hammer, r), 0);
    for (int i = 0; i < 4; i++) {
        void *ret;
        pthread_join(t[i], &ret);
        ck_assert_ptr_null(ret);
    }
    char *s = render(r);
    ck_assert_ptr_nonnull(strstr(s, "c{op=\"x\"} 400000\n"));
    ck_assert_ptr_nonnull(strstr(s, "h_bucket{op=\"x\",le=\"+Inf\"} 400000\n"));
    ck_assert_ptr_nonnull(strstr(s, "h_sum{op=\"x\"} 200000\n"));
    ck_assert_ptr_nonnull(strstr(s, "g 400000\n"));
    free(s);
    cfs_metrics_free(r);
}
END_TEST

START_TEST(test_global)
{
    ck_assert_ptr_nonnull(cfs_metrics_global());
    ck_assert_ptr_eq(cfs_metrics_global(), cfs_metrics_global());
}
END_TEST

int main(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_counter_gauge_exact);
    tcase_add_test(tc, test_escaping);
    tcase_add_test(tc, test_histogram);
    tcase_add_test(tc, test_histogram_no_labels);
    tcase_add_test(tc, test_validation);
    tcase_add_test(tc, test_callbacks_and_hooks);
    tcase_add_test(tc, test_concurrent);
    tcase_add_test(tc, test_global);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
