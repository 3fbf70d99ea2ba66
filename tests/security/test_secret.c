/* The cluster secret file rules (existence, type, mode, length), key derivation and HMAC. */
#include "common/hmac.h"
#include "common/secret.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_dir[256];

static void setup(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/cfs-secret-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(g_dir));
}

static void teardown(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Writes len bytes of `fill` (and a newline if nl) to a file with `mode`; returns its path. */
static const char *make_file(const char *name, size_t len, int nl, mode_t mode)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    for (size_t i = 0; i < len; i++)
        fputc('a' + (int)(i % 26), f);
    if (nl) fputc('\n', f);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(chmod(path, mode), 0);
    return path;
}

START_TEST(test_hmac_rfc4231)
{
    /* RFC 4231 test case 2. */
    uint8_t mac[CFS_HMAC_LEN];
    const char *msg = "what do ya want for nothing?";
    ck_assert_int_eq(
        cfs_hmac_sha256((const uint8_t *)"Jefe", 4, (const uint8_t *)msg, strlen(msg), mac), 0);
    char hex[2 * CFS_HMAC_LEN + 1];
    cfs_hex_encode(mac, sizeof mac, hex);
    ck_assert_str_eq(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    uint8_t back[CFS_HMAC_LEN];
    ck_assert_int_eq(cfs_hex_decode(hex, strlen(hex), back, sizeof back), 0);
    ck_assert_int_eq(cfs_mem_equal_ct(back, mac, sizeof mac), 1);
    back[31] ^= 1;
    ck_assert_int_eq(cfs_mem_equal_ct(back, mac, sizeof mac), 0);
    ck_assert_int_eq(cfs_hex_decode("zz", 2, back, 1), -EINVAL);
    ck_assert_int_eq(cfs_hex_decode("abc", 3, back, 1), -EINVAL);
    ck_assert_int_eq(cfs_hmac_sha256(NULL, 0, NULL, 0, mac), -EINVAL);
}
END_TEST

START_TEST(test_load_good)
{
    cfs_secret s, t;
    char err[512] = "";
    /* Exactly 16 bytes plus one newline (stripped). */
    ck_assert_int_eq(cfs_secret_load(make_file("s16", 16, 1, 0600), &s, err, sizeof err), 0);
    ck_assert_uint_eq(s.len, 16);
    ck_assert_int_eq(memcmp(s.bytes, "abcdefghijklmnop", 16), 0);
    ck_assert_uint_eq(strlen(s.key_id), CFS_KEY_ID_HEX);
    /* The same bytes without the newline are the same secret (same key id). */
    ck_assert_int_eq(cfs_secret_load(make_file("s16b", 16, 0, 0400), &t, err, sizeof err), 0);
    ck_assert_str_eq(s.key_id, t.key_id);
    /* 4096 bytes is the maximum. */
    ck_assert_int_eq(cfs_secret_load(make_file("s4096", 4096, 1, 0600), &t, err, sizeof err), 0);
    ck_assert_uint_eq(t.len, 4096);
    ck_assert_str_ne(s.key_id, t.key_id);
    /* Derived keys: deterministic, different per label and per secret. */
    uint8_t k1[CFS_HMAC_LEN], k2[CFS_HMAC_LEN], k3[CFS_HMAC_LEN];
    ck_assert_int_eq(cfs_secret_derive(&s, "label one", k1), 0);
    ck_assert_int_eq(cfs_secret_derive(&s, "label one", k2), 0);
    ck_assert_int_eq(memcmp(k1, k2, sizeof k1), 0);
    ck_assert_int_eq(cfs_secret_derive(&s, "label two", k2), 0);
    ck_assert_int_ne(memcmp(k1, k2, sizeof k1), 0);
    ck_assert_int_eq(cfs_secret_derive(&t, "label one", k3), 0);
    ck_assert_int_ne(memcmp(k1, k3, sizeof k1), 0);
    /* Installed copy. */
    cfs_secret cur;
    cfs_secret_install(NULL);
    ck_assert(!cfs_secret_current(&cur));
    cfs_secret_install(&s);
    ck_assert(cfs_secret_current(&cur));
    ck_assert_str_eq(cur.key_id, s.key_id);
    cfs_secret_install(NULL);
    ck_assert(!cfs_secret_current(&cur));
    cfs_secret_wipe(&s);
    ck_assert_uint_eq(s.len, 0);
}
END_TEST

START_TEST(test_load_refused)
{
    cfs_secret s;
    char err[512];
    char path[512];
    snprintf(path, sizeof path, "%s/missing", g_dir);
    ck_assert_int_eq(cfs_secret_load(path, &s, err, sizeof err), -ENOENT);
    ck_assert_ptr_nonnull(strstr(err, "does not exist"));
    ck_assert_int_eq(cfs_secret_load(g_dir, &s, err, sizeof err), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "not a regular file"));
    const char *p = make_file("open", 32, 1, 0644);
    ck_assert_int_eq(cfs_secret_load(p, &s, err, sizeof err), -EACCES);
    ck_assert_ptr_nonnull(strstr(err, "0644 are too open"));
    ck_assert_ptr_nonnull(strstr(err, p));
    ck_assert_int_eq(cfs_secret_load(make_file("grpw", 32, 1, 0620), &s, err, sizeof err), -EACCES);
    ck_assert_int_eq(cfs_secret_load(make_file("oth", 32, 1, 0604), &s, err, sizeof err), -EACCES);
    ck_assert_int_eq(cfs_secret_load(make_file("short", 15, 1, 0600), &s, err, sizeof err),
                     -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "15 bytes"));
    ck_assert_int_eq(cfs_secret_load(make_file("empty", 0, 0, 0600), &s, err, sizeof err), -EINVAL);
    ck_assert_int_eq(cfs_secret_load(make_file("long", 4097, 0, 0600), &s, err, sizeof err),
                     -EINVAL);
    /* Only one newline is stripped: 4096 bytes + 2 newlines is too long. */
    const char *two = make_file("twonl", 4096, 1, 0600);
    FILE *f = fopen(two, "a");
    ck_assert_ptr_nonnull(f);
    fputc('\n', f);
    fclose(f);
    ck_assert_int_eq(cfs_secret_load(two, &s, err, sizeof err), -EINVAL);
    ck_assert_int_eq(cfs_secret_load("", &s, err, sizeof err), -EINVAL);
    ck_assert_uint_eq(s.len, 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("secret");
    TCase *tc = tcase_create("secret");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_hmac_rfc4231);
    tcase_add_test(tc, test_load_good);
    tcase_add_test(tc, test_load_refused);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
