/* Chunk access tokens: round trip, every way a token must be refused, key epochs, and a
 * known-answer vector (computed independently with Python's hmac) that pins the format. */
#include "common/chunk_token.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"

#define HOUR (3600LL * 1000)
#define NOW 1700000000000LL /* unix ms */
#define LIFE (10LL * 60 * 1000)
#define ALL_OPS 0xffffffffu

static const char SECRET[] = "test-secret";

static chunk_keyring ring(const char *secret)
{
    chunk_keyring kr;
    ck_assert_int_eq(chunk_keyring_init(&kr, (const uint8_t *)secret, strlen(secret), HOUR), 0);
    return kr;
}

static int verify(const chunk_keyring *kr, const uint8_t *tok, size_t len, unsigned ops,
                  uint64_t id, uint64_t ver, int64_t now)
{
    const char *why = NULL;
    int rc = chunk_token_verify(kr, tok, len, ops, id, ver, now, &why);
    ck_assert_ptr_nonnull(why);
    return rc;
}

START_TEST(test_round_trip)
{
    chunk_keyring kr = ring(SECRET);
    uint8_t tok[CHUNK_TOKEN_SIZE];
    ck_assert_int_eq(chunk_token_sign(&kr, CHUNK_TOKEN_WRITE, 42, 7, NOW, LIFE, tok), 0);
    ck_assert_int_eq(
        verify(&kr, tok, sizeof tok, CHUNK_TOKEN_OP_BIT(CHUNK_TOKEN_WRITE), 42, 7, NOW), 0);
    ck_assert_int_eq(
        verify(&kr, tok, sizeof tok, CHUNK_TOKEN_OP_BIT(CHUNK_TOKEN_WRITE), 42, 7, NOW + LIFE - 1),
        0);
    chunk_token t;
    ck_assert_int_eq(chunk_token_decode(tok, sizeof tok, &t), 0);
    ck_assert_int_eq(t.op, CHUNK_TOKEN_WRITE);
    ck_assert_uint_eq(t.chunk_id, 42);
    ck_assert_uint_eq(t.version, 7);
    ck_assert_int_eq(t.expiry_ms, NOW + LIFE);
    ck_assert_uint_eq(t.epoch, NOW / HOUR);
    /* Another keyring from the same secret (another server) accepts it. */
    chunk_keyring kr2 = ring(SECRET);
    ck_assert_int_eq(verify(&kr2, tok, sizeof tok, ALL_OPS, 42, 7, NOW), 0);
}
END_TEST

START_TEST(test_known_answer)
{
    static const char hex[] = "010100009e3407002a000000000000000700000000000000c08feecf8b010000"
                              "7e20612b7566ff6aae09fdd68815a3b30f464bbe3c6247559f38283f4bb1861e";
    uint8_t want[CHUNK_TOKEN_SIZE];
    for (size_t i = 0; i < sizeof want; i++) {
        unsigned v;
        ck_assert_int_eq(sscanf(hex + 2 * i, "%2x", &v), 1);
        want[i] = (uint8_t)v;
    }
    chunk_keyring kr = ring(SECRET);
    uint8_t tok[CHUNK_TOKEN_SIZE];
    ck_assert_int_eq(chunk_token_sign(&kr, CHUNK_TOKEN_READ, 42, 7, NOW, LIFE, tok), 0);
    ck_assert_mem_eq(tok, want, sizeof want);
}
END_TEST

START_TEST(test_forged_mac)
{
    chunk_keyring kr = ring(SECRET);
    uint8_t tok[CHUNK_TOKEN_SIZE];
    ck_assert_int_eq(chunk_token_sign(&kr, CHUNK_TOKEN_READ, 42, 7, NOW, LIFE, tok), 0);
    /* Any flipped bit, in the fields or in the MAC, is refused. */
    for (size_t i = 0; i < sizeof tok; i++) {
        if (i == 2 || i == 3) continue; /* reserved bytes: malformed, also -EACCES below */
        uint8_t bad[CHUNK_TOKEN_SIZE];
        memcpy(bad, tok, sizeof bad);
        bad[i] ^= 0x10;
        ck_assert_int_eq(verify(&kr, bad, sizeof bad, ALL_OPS, 42, 7, NOW), -EACCES);
    }
    /* Changing the claims without the key cannot be repaired: re-signed by another secret. */
    chunk_keyring other = ring("another-cluster");
    uint8_t forged[CHUNK_TOKEN_SIZE];
    ck_assert_int_eq(chunk_token_sign(&other, CHUNK_TOKEN_READ, 42, 7, NOW, LIFE, forged), 0);
    ck_assert_int_eq(verify(&kr, forged, sizeof forged, ALL_OPS, 42, 7, NOW), -EACCES);
    /* An all-zero MAC. */
    memcpy(forged, tok, sizeof forged);
    memset(forged + 32, 0, 32);
    ck_assert_int_eq(verify(&kr, forged, sizeof forged, ALL_OPS, 42, 7, NOW), -EACCES);
}
END_TEST

START_TEST(test_expired)
{
    chunk_keyring kr = ring(SECRET);
    uint8_t tok[CHUNK_TOKEN_SIZE];
    ck_assert_int_eq(chunk_token_sign(&kr, CHUNK_TOKEN_READ, 42, 7, NOW, LIFE, tok), 0);
    ck_assert_int_eq(verify(&kr, tok, sizeof tok, ALL_OPS, 42, 7, NOW + LIFE), -CFS_ETOKEN);
    ck_assert_int_eq(verify(&kr, tok, sizeof tok, ALL_OPS, 42, 7, NOW + LIFE + 1), -CFS_ETOKEN);
}
END_TEST

START_TEST(test_wrong_claims)
{
    chunk_keyring kr = ring(SECRET);
    uint8_t tok[CHUNK_TOKEN_SIZE];
    ck_assert_int_eq(chunk_token_sign(&kr, CHUNK_TOKEN_READ, 42, 7, NOW, LIFE, tok), 0);
    ck_assert_int_eq(verify(&kr, tok, sizeof tok, ALL_OPS, 43, 7, NOW), -EACCES);
    ck_assert_int_eq(verify(&kr, tok, sizeof tok, ALL_OPS, 42, 6, NOW), -EACCES);
    ck_assert_int_eq(verify(&kr, tok, sizeof tok, ALL_OPS, 42, 8, NOW), -EACCES);
    ck_assert_int_eq(
        verify(&kr, tok, sizeof tok, CHUNK_TOKEN_OP_BIT(CHUNK_TOKEN_WRITE), 42, 7, NOW), -EACCES);
    ck_assert_int_eq(
        verify(&kr, tok, sizeof tok,
               CHUNK_TOKEN_OP_BIT(CHUNK_TOKEN_DELETE) | CHUNK_TOKEN_OP_BIT(CHUNK_TOKEN_REPLICATE),
               42, 7, NOW),
        -EACCES);
    /* A mask naming the op among others accepts it. */
    ck_assert_int_eq(
        verify(&kr, tok, sizeof tok,
               CHUNK_TOKEN_OP_BIT(CHUNK_TOKEN_READ) | CHUNK_TOKEN_OP_BIT(CHUNK_TOKEN_REPLICATE), 42,
               7, NOW),
        0);
    /* A wrong claim is refused even on an expired token with the permanent error. */
    ck_assert_int_eq(verify(&kr, tok, sizeof tok, ALL_OPS, 43, 7, NOW + LIFE), -EACCES);
}
END_TEST

START_TEST(test_epochs)
{
    chunk_keyring kr = ring(SECRET);
    uint8_t tok[CHUNK_TOKEN_SIZE];
    /* Signed a minute before the end of an epoch, checked in the next one: accepted. */
    int64_t end_of_epoch = (NOW / HOUR + 1) * HOUR - 60000;
    ck_assert_int_eq(chunk_token_sign(&kr, CHUNK_TOKEN_READ, 42, 7, end_of_epoch, LIFE, tok), 0);
    ck_assert_int_eq(verify(&kr, tok, sizeof tok, ALL_OPS, 42, 7, end_of_epoch + 120000), 0);
    /* A signer whose clock is a little ahead, already in the next epoch: accepted. */
    ck_assert_int_eq(verify(&kr, tok, sizeof tok, ALL_OPS, 42, 7, end_of_epoch - HOUR + 60000), 0);
    /* Two epochs later the key is retired: refused as expired (ask for a new token). */
    ck_assert_int_eq(verify(&kr, tok, sizeof tok, ALL_OPS, 42, 7, end_of_epoch + 2 * HOUR),
                     -CFS_ETOKEN);
    /* A key epoch two ahead of the verifier's clock is refused outright. */
    ck_assert_int_eq(verify(&kr, tok, sizeof tok, ALL_OPS, 42, 7, end_of_epoch - 2 * HOUR),
                     -EACCES);
    /* A lifetime longer than the rotation period would outlive its key: not signed. */
    ck_assert_int_eq(chunk_token_sign(&kr, CHUNK_TOKEN_READ, 42, 7, NOW, HOUR + 1, tok), -EINVAL);
    ck_assert_int_eq(chunk_token_sign(&kr, CHUNK_TOKEN_READ, 42, 7, NOW, HOUR, tok), 0);
}
END_TEST

START_TEST(test_malformed)
{
    chunk_keyring kr = ring(SECRET);
    uint8_t tok[CHUNK_TOKEN_SIZE];
    ck_assert_int_eq(chunk_token_sign(&kr, CHUNK_TOKEN_READ, 42, 7, NOW, LIFE, tok), 0);
    /* Missing and truncated: each prefix is refused; the verifier reads only len bytes (ASan
     * would catch a read past a heap copy of exactly that size). */
    ck_assert_int_eq(verify(&kr, NULL, 0, ALL_OPS, 42, 7, NOW), -EACCES);
    for (size_t n = 0; n < sizeof tok; n++) {
        uint8_t *p = malloc(n ? n : 1);
        ck_assert_ptr_nonnull(p);
        memcpy(p, tok, n);
        ck_assert_int_eq(verify(&kr, p, n, ALL_OPS, 42, 7, NOW), -EACCES);
        free(p);
    }
    /* Longer than a token: refused too (no trailing bytes ride along). */
    uint8_t longer[CHUNK_TOKEN_SIZE + 1];
    memcpy(longer, tok, sizeof tok);
    longer[CHUNK_TOKEN_SIZE] = 0;
    ck_assert_int_eq(verify(&kr, longer, sizeof longer, ALL_OPS, 42, 7, NOW), -EACCES);
    /* Garbage of the right size, bad format byte, unknown op, reserved bytes set. */
    srand(7);
    for (int i = 0; i < 1000; i++) {
        uint8_t g[CHUNK_TOKEN_SIZE];
        for (size_t k = 0; k < sizeof g; k++)
            g[k] = (uint8_t)rand();
        if (i % 2) memcpy(g, tok, 32); /* valid-looking fields, random MAC */
        ck_assert_int_eq(verify(&kr, g, sizeof g, ALL_OPS, 42, 7, NOW), -EACCES);
    }
    uint8_t bad[CHUNK_TOKEN_SIZE];
    memcpy(bad, tok, sizeof bad);
    bad[0] = 2;
    ck_assert_int_eq(verify(&kr, bad, sizeof bad, ALL_OPS, 42, 7, NOW), -EACCES);
    memcpy(bad, tok, sizeof bad);
    bad[1] = 0;
    ck_assert_int_eq(verify(&kr, bad, sizeof bad, ALL_OPS, 42, 7, NOW), -EACCES);
    bad[1] = 99;
    ck_assert_int_eq(verify(&kr, bad, sizeof bad, ALL_OPS, 42, 7, NOW), -EACCES);
    memcpy(bad, tok, sizeof bad);
    bad[3] = 1;
    ck_assert_int_eq(verify(&kr, bad, sizeof bad, ALL_OPS, 42, 7, NOW), -EACCES);
    chunk_token t;
    ck_assert_int_eq(chunk_token_decode(bad, sizeof bad, &t), -EINVAL);
    ck_assert_int_eq(chunk_token_decode(tok, sizeof tok - 1, &t), -EINVAL);
}
END_TEST

START_TEST(test_bad_arguments)
{
    chunk_keyring kr;
    ck_assert_int_eq(chunk_keyring_init(&kr, (const uint8_t *)"", 0, HOUR), -EINVAL);
    ck_assert_int_eq(chunk_keyring_init(&kr, NULL, 4, HOUR), -EINVAL);
    ck_assert_int_eq(chunk_keyring_init(&kr, (const uint8_t *)"abcd", 4, 0), -EINVAL);
    kr = ring(SECRET);
    uint8_t tok[CHUNK_TOKEN_SIZE];
    ck_assert_int_eq(chunk_token_sign(&kr, CHUNK_TOKEN_READ, 0, 7, NOW, LIFE, tok), -EINVAL);
    ck_assert_int_eq(chunk_token_sign(&kr, (enum chunk_token_op)0, 1, 7, NOW, LIFE, tok), -EINVAL);
    ck_assert_int_eq(chunk_token_sign(&kr, (enum chunk_token_op)6, 1, 7, NOW, LIFE, tok), -EINVAL);
    ck_assert_int_eq(chunk_token_sign(&kr, CHUNK_TOKEN_READ, 1, 7, -1, LIFE, tok), -EINVAL);
    ck_assert_int_eq(chunk_token_sign(&kr, CHUNK_TOKEN_READ, 1, 7, NOW, 0, tok), -EINVAL);
    /* Version 0 is a valid claim (a delete of any version). */
    ck_assert_int_eq(chunk_token_sign(&kr, CHUNK_TOKEN_DELETE, 1, 0, NOW, LIFE, tok), 0);
    ck_assert_int_eq(
        verify(&kr, tok, sizeof tok, CHUNK_TOKEN_OP_BIT(CHUNK_TOKEN_DELETE), 1, 0, NOW), 0);
    ck_assert_str_eq(chunk_token_op_name(CHUNK_TOKEN_REPLICATE), "replicate");
    ck_assert_str_eq(chunk_token_op_name((enum chunk_token_op)42), "?");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("chunk_token");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_known_answer);
    tcase_add_test(tc, test_forged_mac);
    tcase_add_test(tc, test_expired);
    tcase_add_test(tc, test_wrong_claims);
    tcase_add_test(tc, test_epochs);
    tcase_add_test(tc, test_malformed);
    tcase_add_test(tc, test_bad_arguments);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
