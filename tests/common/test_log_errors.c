/* Log level parsing and filtering, error texts and errno mapping. */
#include "common/errors.h"
#include "common/log.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

START_TEST(test_parse_level)
{
    enum cfs_log_level l = CFS_LOG_ERROR;
    ck_assert_int_eq(cfs_log_parse_level("debug", &l), 0);
    ck_assert_int_eq(l, CFS_LOG_DEBUG);
    ck_assert_int_eq(cfs_log_parse_level("INFO", &l), 0);
    ck_assert_int_eq(l, CFS_LOG_INFO);
    ck_assert_int_eq(cfs_log_parse_level("Warn", &l), 0);
    ck_assert_int_eq(l, CFS_LOG_WARN);
    ck_assert_int_eq(cfs_log_parse_level("error", &l), 0);
    ck_assert_int_eq(l, CFS_LOG_ERROR);
    ck_assert_int_eq(cfs_log_parse_level("loud", &l), -EINVAL);
    ck_assert_int_eq(l, CFS_LOG_ERROR);
    ck_assert_int_eq(cfs_log_parse_level("", &l), -EINVAL);
}
END_TEST

/* Captures what the logger writes to stderr while `fn` runs. */
static char *capture_stderr(void (*fn)(void))
{
    char path[512];
    const char *tmp = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/cfs-log-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    unlink(path);
    int saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    fn();
    dup2(saved, STDERR_FILENO);
    close(saved);
    off_t n = lseek(fd, 0, SEEK_END);
    char *buf = calloc(1, (size_t)n + 1);
    ck_assert_int_eq(pread(fd, buf, (size_t)n, 0), n);
    close(fd);
    return buf;
}

static void log_some(void)
{
    cfs_log_set_component("unit");
    cfs_log_set_level(CFS_LOG_WARN);
    LOG_DEBUG("hidden debug %d", 1);
    LOG_INFO("hidden info %d", 2);
    LOG_WARN("shown warn %d", 3);
    LOG_ERROR("shown error %s", "x");
}

START_TEST(test_level_filter)
{
    char *out = capture_stderr(log_some);
    ck_assert_ptr_null(strstr(out, "hidden"));
    ck_assert_ptr_nonnull(strstr(out, " level=warn "));
    ck_assert_ptr_nonnull(strstr(out, "msg=\"shown warn 3\"\n"));
    ck_assert_ptr_nonnull(strstr(out, " level=error "));
    ck_assert_ptr_nonnull(strstr(out, "msg=\"shown error x\""));
    ck_assert_ptr_nonnull(strstr(out, " comp=unit "));
    ck_assert_ptr_nonnull(strstr(out, " src=test_log_errors.c:"));
    ck_assert_ptr_eq(strstr(out, "ts="), out);
    free(out);
}
END_TEST

static void log_fields(void)
{
    cfs_log_set_component("unit");
    cfs_log_set_level(CFS_LOG_INFO);
    LOG_INFO("quote \" back\\slash\tand tab");
    LOG_WARN_KV("chunkserver dead", "id=%d silent_ms=%d", 3, 5012);
}

/* The message is one logfmt value (quotes and backslashes escaped, control characters
 * blanked) and event fields follow it as key=value pairs on the same line. */
START_TEST(test_logfmt_fields)
{
    char *out = capture_stderr(log_fields);
    ck_assert_ptr_nonnull(strstr(out, " level=info "));
    ck_assert_ptr_nonnull(strstr(out, "msg=\"quote \\\" back\\\\slash and tab\"\n"));
    ck_assert_ptr_nonnull(strstr(out, " level=warn "));
    ck_assert_ptr_nonnull(strstr(out, "msg=\"chunkserver dead\" id=3 silent_ms=5012\n"));
    int lines = 0;
    for (const char *p = out; *p; p++) lines += *p == '\n';
    ck_assert_int_eq(lines, 2);
    free(out);
}
END_TEST

START_TEST(test_strerror)
{
    ck_assert_ptr_nonnull(strstr(cfs_strerror(-CFS_ENOTLEADER), "leader"));
    ck_assert_str_eq(cfs_strerror(-ENOENT), strerror(ENOENT));
    static const int codes[] = {-CFS_ENOTLEADER, -CFS_ESTALE_VER, -CFS_ECORRUPT, -CFS_ELEASE,
                                -CFS_ETOKEN,     -CFS_EAUTH,      -CFS_ECLUSTER, -CFS_ENOSERVERS};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const char *t = cfs_strerror(codes[i]);
        ck_assert_ptr_nonnull(t);
        ck_assert_int_gt(strlen(t), 0);
        for (size_t j = 0; j < i; j++)
            ck_assert_str_ne(t, cfs_strerror(codes[j]));
    }
    ck_assert_ptr_nonnull(cfs_strerror(-99999));
    ck_assert_ptr_nonnull(cfs_strerror(0));
}
END_TEST

START_TEST(test_err_to_posix)
{
    ck_assert_int_eq(cfs_err_to_posix(-ENOENT), -ENOENT);
    ck_assert_int_eq(cfs_err_to_posix(-CFS_ECORRUPT), -EIO);
    ck_assert_int_eq(cfs_err_to_posix(0), 0);
    static const int codes[] = {-CFS_ENOTLEADER, -CFS_ESTALE_VER, -CFS_ECORRUPT, -CFS_ELEASE,
                                -CFS_ETOKEN,     -CFS_EAUTH,      -CFS_ECLUSTER, -CFS_ENOSERVERS};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        int e = cfs_err_to_posix(codes[i]);
        ck_assert_int_lt(e, 0);
        ck_assert_int_gt(e, -1000); /* a real errno, not a project code */
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("log_errors");
    TCase *tc = tcase_create("log_errors");
    tcase_add_test(tc, test_parse_level);
    tcase_add_test(tc, test_level_filter);
    tcase_add_test(tc, test_logfmt_fields);
    tcase_add_test(tc, test_strerror);
    tcase_add_test(tc, test_err_to_posix);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
