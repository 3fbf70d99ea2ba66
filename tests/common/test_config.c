/* Config: defaults, file, flags overriding the file, lists, sizes, help, and bad input. */
#include "common/config.h"

#include <check.h>
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const cfs_config_def defs[] = {
    {"listen", CFS_CFG_STRING, "127.0.0.1:7000", "address to serve on"},
    {"data-dir", CFS_CFG_LIST, NULL, "chunk directory"},
    {"chunk-size", CFS_CFG_SIZE, "64M", "chunk size"},
    {"replicas", CFS_CFG_INT, "3", "copies per chunk"},
    {"fsync", CFS_CFG_BOOL, "true", "fsync writes"},
    {"verbose", CFS_CFG_BOOL, "false", "log more"},
    {"peer", CFS_CFG_STRING, NULL, "peer address"},
    {NULL, 0, NULL, NULL},
};

static char g_dir[256];

static void setup(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/cfs-config-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(g_dir));
}

static void teardown(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    ck_assert_int_eq(system(cmd), 0);
}

static const char *write_file(const char *name, const char *text)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* Parses a NULL-terminated argument list (program name added). */
static int parse(cfs_config *c, char *err, size_t errlen, ...)
{
    static char *argv[64];
    int argc = 0;
    argv[argc++] = "prog";
    va_list ap;
    va_start(ap, errlen);
    char *a;
    while ((a = va_arg(ap, char *)) != NULL)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    return cfs_config_parse(defs, argc, argv, c, err, errlen);
}

START_TEST(test_defaults)
{
    cfs_config c;
    char err[256];
    ck_assert_int_eq(parse(&c, err, sizeof err, NULL), 0);
    ck_assert_str_eq(cfs_config_str(&c, "listen"), "127.0.0.1:7000");
    ck_assert_int_eq(cfs_config_int(&c, "chunk-size"), 64 << 20);
    ck_assert_int_eq(cfs_config_int(&c, "replicas"), 3);
    ck_assert_int_eq(cfs_config_bool(&c, "fsync"), 1);
    ck_assert_int_eq(cfs_config_bool(&c, "verbose"), 0);
    ck_assert_ptr_null(cfs_config_str(&c, "peer"));
    char *const *items;
    ck_assert_uint_eq(cfs_config_list(&c, "data-dir", &items), 0);
    ck_assert_int_eq(cfs_config_is_set(&c, "listen"), 0);
    ck_assert_int_eq(c.npositional, 0);
    ck_assert_int_eq(c.help, 0);
    cfs_config_free(&c);
}
END_TEST

START_TEST(test_flags_and_positional)
{
    cfs_config c;
    char err[256];
    ck_assert_int_eq(parse(&c, err, sizeof err, "src", "--listen", "0.0.0.0:1", "--replicas=5",
                           "--data-dir", "/a", "--data-dir=/b", "--no-fsync", "--verbose",
                           "--chunk-size", "1g", "dst", "--", "--listen", NULL),
                     0);
    ck_assert_str_eq(cfs_config_str(&c, "listen"), "0.0.0.0:1");
    ck_assert_int_eq(cfs_config_int(&c, "replicas"), 5);
    ck_assert_int_eq(cfs_config_int(&c, "chunk-size"), 1ll << 30);
    ck_assert_int_eq(cfs_config_bool(&c, "fsync"), 0);
    ck_assert_int_eq(cfs_config_bool(&c, "verbose"), 1);
    ck_assert_int_eq(cfs_config_is_set(&c, "listen"), 1);
    char *const *items;
    ck_assert_uint_eq(cfs_config_list(&c, "data-dir", &items), 2);
    ck_assert_str_eq(items[0], "/a");
    ck_assert_str_eq(items[1], "/b");
    ck_assert_int_eq(c.npositional, 3);
    ck_assert_str_eq(c.positional[0], "src");
    ck_assert_str_eq(c.positional[1], "dst");
    ck_assert_str_eq(c.positional[2], "--listen");
    cfs_config_free(&c);
}
END_TEST

START_TEST(test_file_then_flags)
{
    const char *path = write_file("a.ini", "; comment\n"
                                           "listen = 10.0.0.1:9\n"
                                           "[chunkserver]\n"
                                           "data_dir = /d1\n"
                                           "data-dir = /d2\n"
                                           "replicas = 2\n"
                                           "fsync = off\n"
                                           "chunk-size = 512KiB\n");
    cfs_config c;
    char err[256];
    ck_assert_int_eq(parse(&c, err, sizeof err, "--replicas", "4", "--config", path, NULL), 0);
    ck_assert_str_eq(cfs_config_str(&c, "listen"), "10.0.0.1:9");
    ck_assert_int_eq(cfs_config_int(&c, "replicas"), 4); /* the flag wins wherever it stands */
    ck_assert_int_eq(cfs_config_bool(&c, "fsync"), 0);
    ck_assert_int_eq(cfs_config_int(&c, "chunk-size"), 512 * 1024);
    char *const *items;
    ck_assert_uint_eq(cfs_config_list(&c, "data-dir", &items), 2);
    ck_assert_str_eq(items[0], "/d1");
    ck_assert_str_eq(items[1], "/d2");
    ck_assert_str_eq(c.config_file, path);
    cfs_config_free(&c);
    /* Command-line list values replace the file's. */
    ck_assert_int_eq(parse(&c, err, sizeof err, "--config=", NULL), -EINVAL);
    ck_assert_int_eq(parse(&c, err, sizeof err, "--config", path, "--data-dir", "/x", NULL), 0);
    ck_assert_uint_eq(cfs_config_list(&c, "data-dir", &items), 1);
    ck_assert_str_eq(items[0], "/x");
    cfs_config_free(&c);
}
END_TEST

static void expect_bad(const char *needle, int rc, const char *err)
{
    ck_assert_int_eq(rc, -EINVAL);
    ck_assert_msg(strstr(err, needle) != NULL, "error '%s' lacks '%s'", err, needle);
}

START_TEST(test_bad_flags)
{
    cfs_config c;
    char err[256];
    expect_bad("--bogus", parse(&c, err, sizeof err, "--bogus", "1", NULL), err);
    expect_bad("-x", parse(&c, err, sizeof err, "-x", NULL), err);
    expect_bad("replicas", parse(&c, err, sizeof err, "--replicas", "three", NULL), err);
    expect_bad("replicas", parse(&c, err, sizeof err, "--replicas=12x", NULL), err);
    expect_bad("replicas", parse(&c, err, sizeof err, "--replicas", "99999999999999999999", NULL),
               err);
    expect_bad("replicas", parse(&c, err, sizeof err, "--replicas", NULL), err);
    expect_bad("chunk-size", parse(&c, err, sizeof err, "--chunk-size", "12Q", NULL), err);
    expect_bad("chunk-size", parse(&c, err, sizeof err, "--chunk-size", "-1M", NULL), err);
    expect_bad("chunk-size", parse(&c, err, sizeof err, "--chunk-size", "99999999T", NULL), err);
    expect_bad("fsync", parse(&c, err, sizeof err, "--fsync=maybe", NULL), err);
    expect_bad("--no-listen", parse(&c, err, sizeof err, "--no-listen", NULL), err);
    expect_bad("config", parse(&c, err, sizeof err, "--config", NULL), err);
}
END_TEST

START_TEST(test_bad_files)
{
    cfs_config c;
    char err[256];
    char missing[300];
    snprintf(missing, sizeof missing, "%s/none.ini", g_dir);
    expect_bad("none.ini", parse(&c, err, sizeof err, "--config", missing, NULL), err);
    const char *p1 = write_file("b1.ini", "listen = x\n\nbogus_key = 1\n");
    expect_bad("b1.ini:3: unknown key 'bogus_key'",
               parse(&c, err, sizeof err, "--config", p1, NULL), err);
    const char *p2 = write_file("b2.ini", "[s]\nreplicas = lots\n");
    expect_bad("b2.ini:2", parse(&c, err, sizeof err, "--config", p2, NULL), err);
    ck_assert_ptr_nonnull(strstr(err, "replicas"));
    const char *p3 = write_file("b3.ini", "listen = a\nthis line has no equals\n");
    expect_bad("b3.ini:2", parse(&c, err, sizeof err, "--config", p3, NULL), err);
    const char *p4 = write_file("b4.ini", "config = /etc/other\n");
    expect_bad("b4.ini:1", parse(&c, err, sizeof err, "--config", p4, NULL), err);
}
END_TEST

START_TEST(test_bad_default)
{
    static const cfs_config_def bad[] = {{"n", CFS_CFG_INT, "ten", "x"}, {NULL, 0, NULL, NULL}};
    cfs_config c;
    char err[256];
    char *argv[] = {"prog", NULL};
    expect_bad("'n'", cfs_config_parse(bad, 1, argv, &c, err, sizeof err), err);
}
END_TEST

START_TEST(test_help)
{
    cfs_config c;
    char err[256];
    ck_assert_int_eq(parse(&c, err, sizeof err, "--help", NULL), 0);
    ck_assert_int_eq(c.help, 1);
    cfs_config_free(&c);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cfs_config_usage(defs, "chunkserver", "[options]", f);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(text, "usage: chunkserver [options]"));
    ck_assert_ptr_nonnull(strstr(text, "--listen VALUE"));
    ck_assert_ptr_nonnull(strstr(text, "(default: 127.0.0.1:7000)"));
    ck_assert_ptr_nonnull(strstr(text, "--[no-]fsync"));
    ck_assert_ptr_nonnull(strstr(text, "[repeatable]"));
    ck_assert_ptr_nonnull(strstr(text, "--config FILE"));
    free(text);
}
END_TEST

START_TEST(test_parse_size)
{
    int64_t v;
    ck_assert_int_eq(cfs_parse_size("0", &v), 0);
    ck_assert_int_eq(v, 0);
    ck_assert_int_eq(cfs_parse_size("4096", &v), 0);
    ck_assert_int_eq(v, 4096);
    ck_assert_int_eq(cfs_parse_size("64M", &v), 0);
    ck_assert_int_eq(v, 64ll << 20);
    ck_assert_int_eq(cfs_parse_size("2k", &v), 0);
    ck_assert_int_eq(v, 2048);
    ck_assert_int_eq(cfs_parse_size("3GiB", &v), 0);
    ck_assert_int_eq(v, 3ll << 30);
    ck_assert_int_eq(cfs_parse_size("1TB", &v), 0);
    ck_assert_int_eq(v, 1ll << 40);
    ck_assert_int_eq(cfs_parse_size("", &v), -EINVAL);
    ck_assert_int_eq(cfs_parse_size("M", &v), -EINVAL);
    ck_assert_int_eq(cfs_parse_size("1.5G", &v), -EINVAL);
    ck_assert_int_eq(cfs_parse_size("1Mx", &v), -EINVAL);
    ck_assert_int_eq(cfs_parse_size(" 1", &v), -EINVAL);
    ck_assert_int_eq(cfs_parse_size("9223372036854775808", &v), -EINVAL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_flags_and_positional);
    tcase_add_test(tc, test_file_then_flags);
    tcase_add_test(tc, test_bad_flags);
    tcase_add_test(tc, test_bad_files);
    tcase_add_test(tc, test_bad_default);
    tcase_add_test(tc, test_help);
    tcase_add_test(tc, test_parse_size);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
