/* cfs_pb_check_strings: a NUL inside any string field (nested too) is refused; bytes fields
 * may hold anything; malformed input is refused, never read past its end. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/pb_strings.h"
#include "proto/chunkfs.pb-c.h"

/* A packed MetaRequest{cred, lookup{parent 1, name}} with 'X' bytes of name turned to NUL. */
static uint8_t *packed_lookup(const char *name, size_t *len)
{
    Chunkfs__MetaRequest req = CHUNKFS__META_REQUEST__INIT;
    Chunkfs__LookupReq l = CHUNKFS__LOOKUP_REQ__INIT;
    Chunkfs__Cred cred = CHUNKFS__CRED__INIT;
    uint32_t gids[2] = {0, 7};
    cred.uid = 1000;
    cred.n_gids = 2;
    cred.gids = gids;
    l.parent = 1;
    l.name = (char *)name;
    req.cred = &cred;
    req.client_id = 5;
    req.op_case = CHUNKFS__META_REQUEST__OP_LOOKUP;
    req.lookup = &l;
    *len = chunkfs__meta_request__get_packed_size(&req);
    uint8_t *buf = malloc(*len);
    ck_assert_ptr_nonnull(buf);
    chunkfs__meta_request__pack(&req, buf);
    for (size_t i = 0; i < *len; i++)
        if (buf[i] == 'X') buf[i] = 0;
    return buf;
}

START_TEST(t_strings)
{
    size_t len;
    uint8_t *ok = packed_lookup("plain-name", &len);
    ck_assert_int_eq(cfs_pb_check_strings(&chunkfs__meta_request__descriptor, ok, len), 0);
    /* every prefix but the whole is malformed or complete; none may be read past its end */
    for (size_t n = 0; n < len; n++)
        (void)cfs_pb_check_strings(&chunkfs__meta_request__descriptor, ok, n);
    free(ok);
    uint8_t *bad = packed_lookup("abXd", &len);
    ck_assert_int_eq(cfs_pb_check_strings(&chunkfs__meta_request__descriptor, bad, len), -EINVAL);
    free(bad);
    bad = packed_lookup("X", &len);
    ck_assert_int_eq(cfs_pb_check_strings(&chunkfs__meta_request__descriptor, bad, len), -EINVAL);
    free(bad);
}
END_TEST

START_TEST(t_bytes_and_malformed)
{
    Chunkfs__WriteReq w = CHUNKFS__WRITE_REQ__INIT;
    uint8_t data[4] = {0, 1, 0, 2};
    w.data.data = data;
    w.data.len = sizeof(data);
    w.offset = 3;
    size_t len = chunkfs__write_req__get_packed_size(&w);
    uint8_t buf[64];
    ck_assert_uint_le(len, sizeof(buf));
    chunkfs__write_req__pack(&w, buf);
    ck_assert_int_eq(cfs_pb_check_strings(&chunkfs__write_req__descriptor, buf, len), 0);
    ck_assert_int_eq(cfs_pb_check_strings(&chunkfs__write_req__descriptor, NULL, 0), 0);
    static const uint8_t group[] = {0x0b, 0x0c};       /* wire types 3 and 4 */
    static const uint8_t long_len[] = {0x1a, 0x7f, 0}; /* field 3, 127 bytes, 1 present */
    static const uint8_t field0[] = {0x00, 0x01};      /* field number 0 */
    static const uint8_t endless[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff,
                                      0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    ck_assert_int_eq(cfs_pb_check_strings(&chunkfs__write_req__descriptor, group, 2), -EINVAL);
    ck_assert_int_eq(cfs_pb_check_strings(&chunkfs__write_req__descriptor, long_len, 3), -EINVAL);
    ck_assert_int_eq(cfs_pb_check_strings(&chunkfs__write_req__descriptor, field0, 2), -EINVAL);
    ck_assert_int_eq(cfs_pb_check_strings(&chunkfs__write_req__descriptor, endless, 12), -EINVAL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pb_strings");
    TCase *tc = tcase_create("pb_strings");
    tcase_add_test(tc, t_strings);
    tcase_add_test(tc, t_bytes_and_malformed);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
