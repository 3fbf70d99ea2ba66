/* The chaos checker's rules: what counts as lost, corrupt, or allowed, and the history file
 * round trip. If these were wrong, every chaos scenario would prove nothing. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/chaos/chaos_content.h"
#include "tests/chaos/chaos_history.h"

static const chaos_params P = {.seed = 42, .max_size = 300000, .files = 3, .dir = "/d"};

/* Generation `gen` of file `file` (first `len` bytes, or all when len is UINT64_MAX). */
static uint8_t *make(uint32_t file, uint64_t gen, uint64_t *len)
{
    uint64_t full = chaos_content_len(P.seed, file, gen, P.max_size);
    if (*len > full) *len = full;
    uint8_t *b = malloc(*len + 1);
    chaos_content_fill(P.seed, file, gen, 0, b, (size_t)*len);
    return b;
}

static chaos_verdict judge(const chaos_expect *e, uint32_t file, bool present, uint8_t *d,
                           uint64_t len)
{
    int64_t m;
    char why[256];
    return chaos_expect_verify(e, &P, file, present, d, len, &m, why, sizeof why);
}

/* A generation whose content is at least 1000 bytes, for the tests that cut or flip. */
static uint64_t nonempty_gen(uint32_t file, uint64_t from)
{
    while (chaos_content_len(P.seed, file, from, P.max_size) < 1000)
        from++;
    return from;
}

START_TEST(content_is_deterministic_and_random_access)
{
    uint8_t a[1000], b[10];
    chaos_content_fill(1, 2, 3, 0, a, sizeof a);
    chaos_content_fill(1, 2, 3, 333, b, sizeof b);
    ck_assert_mem_eq(a + 333, b, sizeof b);
    chaos_content_fill(1, 2, 4, 333, b, sizeof b);
    ck_assert(memcmp(a + 333, b, sizeof b) != 0);
    ck_assert_uint_le(chaos_content_len(1, 2, 3, 5000), 5000);
    ck_assert_uint_eq(chaos_content_len(1, 2, 3, 5000), chaos_content_len(1, 2, 3, 5000));
}
END_TEST

START_TEST(acknowledged_write_must_be_exact)
{
    chaos_expect e;
    chaos_expect_init(&e);
    uint64_t g = nonempty_gen(0, 1);
    chaos_expect_apply(&e, CHAOS_INVOKE, CHAOS_WRITE, (int64_t)g);
    chaos_expect_apply(&e, CHAOS_OK, CHAOS_WRITE, (int64_t)g);
    uint64_t len = UINT64_MAX;
    uint8_t *d = make(0, g, &len);
    ck_assert_int_eq(judge(&e, 0, true, d, len), CHAOS_VERDICT_OK);
    ck_assert_int_eq(judge(&e, 0, false, NULL, 0), CHAOS_VERDICT_LOST);
    ck_assert_int_eq(judge(&e, 0, true, d, len / 2), CHAOS_VERDICT_LOST);
    d[len / 2] ^= 1;
    ck_assert_int_eq(judge(&e, 0, true, d, len), CHAOS_VERDICT_CORRUPT);
    free(d);
    chaos_expect_free(&e);
}
END_TEST

START_TEST(older_generation_is_lost)
{
    chaos_expect e;
    chaos_expect_init(&e);
    uint64_t g1 = nonempty_gen(1, 1), g2 = nonempty_gen(1, g1 + 1);
    chaos_expect_apply(&e, CHAOS_OK, CHAOS_WRITE, (int64_t)g1);
    chaos_expect_apply(&e, CHAOS_OK, CHAOS_WRITE, (int64_t)g2);
    uint64_t len = UINT64_MAX;
    uint8_t *d = make(1, g1, &len);
    ck_assert_int_eq(judge(&e, 1, true, d, len), CHAOS_VERDICT_LOST);
    free(d);
    chaos_expect_free(&e);
}
END_TEST

START_TEST(unacknowledged_write_allows_prefix_with_zeros)
{
    chaos_expect e;
    chaos_expect_init(&e);
    uint64_t g1 = nonempty_gen(2, 1), g2 = nonempty_gen(2, g1 + 1);
    chaos_expect_apply(&e, CHAOS_OK, CHAOS_WRITE, (int64_t)g1);
    chaos_expect_apply(&e, CHAOS_INVOKE, CHAOS_WRITE, (int64_t)g2);
    uint64_t len = UINT64_MAX;
    uint8_t *d = make(2, g2, &len);
    ck_assert_int_eq(judge(&e, 2, true, d, len), CHAOS_VERDICT_OK);
    memset(d, 0, len / 3); /* an unwritten range */
    ck_assert_int_eq(judge(&e, 2, true, d, len / 2), CHAOS_VERDICT_OK);
    ck_assert_int_eq(judge(&e, 2, true, d, 0), CHAOS_VERDICT_OK);
    d[len - 1] ^= 0x55; /* a byte neither g2's nor zero */
    if (d[len - 1] != 0) ck_assert_int_eq(judge(&e, 2, true, d, len), CHAOS_VERDICT_CORRUPT);
    ck_assert_int_eq(judge(&e, 2, false, NULL, 0), CHAOS_VERDICT_LOST);
    /* The next acknowledgement removes the uncertainty. */
    chaos_expect_apply(&e, CHAOS_OK, CHAOS_WRITE, (int64_t)g2);
    ck_assert_int_eq(judge(&e, 2, true, d, 0), CHAOS_VERDICT_LOST);
    free(d);
    chaos_expect_free(&e);
}
END_TEST

START_TEST(unlink_rules)
{
    chaos_expect e;
    chaos_expect_init(&e);
    ck_assert_int_eq(judge(&e, 0, false, NULL, 0), CHAOS_VERDICT_OK);
    uint64_t g = nonempty_gen(0, 1);
    chaos_expect_apply(&e, CHAOS_OK, CHAOS_WRITE, (int64_t)g);
    chaos_expect_apply(&e, CHAOS_INVOKE, CHAOS_UNLINK, 0);
    ck_assert_int_eq(judge(&e, 0, false, NULL, 0), CHAOS_VERDICT_OK);
    chaos_expect_apply(&e, CHAOS_OK, CHAOS_UNLINK, 0);
    uint64_t len = UINT64_MAX;
    uint8_t *d = make(0, g, &len);
    ck_assert_int_eq(judge(&e, 0, true, d, len), CHAOS_VERDICT_CORRUPT);
    free(d);
    chaos_expect_free(&e);
}
END_TEST

START_TEST(history_round_trip)
{
    char path[] = "/tmp/chaos_hist_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    chaos_history *h;
    ck_assert_int_eq(chaos_history_create(path, &P, &h), 0);
    ck_assert_int_eq(chaos_history_add(h, CHAOS_INVOKE, CHAOS_WRITE, 1, 1, 0), 0);
    ck_assert_int_eq(chaos_history_add(h, CHAOS_OK, CHAOS_WRITE, 1, 1, 0), 0);
    ck_assert_int_eq(chaos_history_add(h, CHAOS_INVOKE, CHAOS_WRITE, 2, 1, 0), 0);
    ck_assert_int_eq(chaos_history_add(h, CHAOS_FAIL, CHAOS_WRITE, 2, 1, -ETIMEDOUT), 0);
    ck_assert_int_eq(chaos_history_add(h, CHAOS_BAD, CHAOS_READ, 0, 0, 0), 0);
    chaos_history_close(h);
    chaos_loaded l;
    ck_assert_int_eq(chaos_history_load(path, &l), 0);
    ck_assert_uint_eq(l.params.seed, 42);
    ck_assert_uint_eq(l.params.files, 3);
    ck_assert_str_eq(l.params.dir, "/d");
    ck_assert_uint_eq(l.operations, 2);
    ck_assert_uint_eq(l.acknowledged, 1);
    ck_assert_uint_eq(l.bad_reads, 1);
    ck_assert_int_eq(l.expect[1].acked, 1);
    ck_assert_int_eq(l.expect[2].acked, -1);
    ck_assert_uint_eq(l.expect[2].nmaybe, 1);
    chaos_loaded_free(&l);
    /* A malformed line in the middle is an error, not silently skipped. */
    FILE *f = fopen(path, "a");
    fputs("garbage\n1 ok write 1 2\n", f);
    fclose(f);
    ck_assert_int_eq(chaos_history_load(path, &l), -EINVAL);
    unlink(path);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("chaos_check");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, content_is_deterministic_and_random_access);
    tcase_add_test(tc, acknowledged_write_must_be_exact);
    tcase_add_test(tc, older_generation_is_lost);
    tcase_add_test(tc, unacknowledged_write_allows_prefix_with_zeros);
    tcase_add_test(tc, unlink_rules);
    tcase_add_test(tc, history_round_trip);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
