/* CRC32C: standard vectors for both implementations, and hw == sw on random input. */
#include "common/crc32c.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);

static void check_vectors(crc_fn f)
{
    uint8_t buf[48];
    /* RFC 3720 B.4 */
    memset(buf, 0, 32);
    ck_assert_uint_eq(f(0, buf, 32), 0x8A9136AAu);
    memset(buf, 0xff, 32);
    ck_assert_uint_eq(f(0, buf, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)i;
    ck_assert_uint_eq(f(0, buf, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)(31 - i);
    ck_assert_uint_eq(f(0, buf, 32), 0x113FDB5Cu);
    static const uint8_t iscsi_read[48] = {
        0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
        0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
    ck_assert_uint_eq(f(0, iscsi_read, 48), 0xD9963A56u);
    /* The check value of the CRC catalogue. */
    ck_assert_uint_eq(f(0, "123456789", 9), 0xE3069283u);
    ck_assert_uint_eq(f(0, "", 0), 0);
    ck_assert_uint_eq(f(0, "a", 1), 0xC1D04330u);
    /* Chaining equals one pass. */
    ck_assert_uint_eq(f(f(0, "1234", 4), "56789", 5), 0xE3069283u);
}

START_TEST(test_sw_vectors)
{
    check_vectors(crc32c_sw);
}
END_TEST

START_TEST(test_hw_vectors)
{
    if (!crc32c_hw_available()) return; /* no SSE4.2 on this CPU: the dispatcher uses sw */
    check_vectors(crc32c_hw);
}
END_TEST

START_TEST(test_dispatch_vectors)
{
    check_vectors(crc32c);
}
END_TEST

START_TEST(test_hw_equals_sw_random)
{
    if (!crc32c_hw_available()) return;
    enum { MAX = 70000 };
    uint8_t *buf = malloc(MAX + 16);
    ck_assert_ptr_nonnull(buf);
    unsigned seed = 12345;
    for (size_t i = 0; i < MAX + 16; i++)
        buf[i] = (uint8_t)rand_r(&seed);
    for (int iter = 0; iter < 2000; iter++) {
        size_t align = (size_t)rand_r(&seed) % 16;
        size_t len = (size_t)rand_r(&seed) % (iter < 1000 ? 64 : MAX);
        uint32_t init = iter % 3 == 0 ? 0 : (uint32_t)rand_r(&seed);
        ck_assert_uint_eq(crc32c_hw(init, buf + align, len), crc32c_sw(init, buf + align, len));
    }
    free(buf);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("crc32c");
    TCase *tc = tcase_create("crc32c");
    tcase_add_test(tc, test_sw_vectors);
    tcase_add_test(tc, test_hw_vectors);
    tcase_add_test(tc, test_dispatch_vectors);
    tcase_add_test(tc, test_hw_equals_sw_random);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
