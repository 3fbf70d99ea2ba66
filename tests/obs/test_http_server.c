/* common/http_server on 127.0.0.1 port 0: routes, 404/405, /metrics, /log-level, handler
 * errors, bad addresses, port conflicts. Talks raw HTTP/1.0 over a socket. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/http_server.h"
#include "common/log.h"
#include "common/log_signal.h"
#include "common/metrics.h"

/* Sends `request` and returns the whole response (malloc'd), or NULL. */
static char *http(int port, const char *request)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return NULL;
    struct timeval tv = {.tv_sec = 30};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    char *buf = NULL;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        write(fd, request, strlen(request)) != (ssize_t)strlen(request))
        goto out;
    size_t cap = 1 << 20, len = 0;
    buf = malloc(cap);
    for (;;) {
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n <= 0) break;
        len += (size_t)n;
        if (len == cap - 1) break;
    }
    buf[len] = '\0';
out:
    close(fd);
    return buf;
}

static char *get(int port, const char *path)
{
    char req[512];
    snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: x\r\n\r\n", path);
    return http(port, req);
}

static int hello(void *arg, const cfs_http_request *req, cfs_http_response *resp)
{
    const char *who = cfs_http_query(req, "who");
    char text[128];
    snprintf(text, sizeof(text), "%s %s", (const char *)arg, who ? who : "-");
    return cfs_http_set_text(resp, 200, "text/html; charset=utf-8", text);
}

static int failing(void *arg, const cfs_http_request *req, cfs_http_response *resp)
{
    (void)arg;
    (void)req;
    (void)resp;
    return -EAGAIN;
}

START_TEST(test_routes)
{
    cfs_http_server *s;
    ck_assert_int_eq(cfs_http_server_new(&s), 0);
    ck_assert_int_eq(cfs_http_server_route(s, "/hello", hello, "hi"), 0);
    ck_assert_int_eq(cfs_http_server_route(s, "/hello", hello, "hi"), -EINVAL);
    ck_assert_int_eq(cfs_http_server_route(s, "nope", hello, "hi"), -EINVAL);
    ck_assert_int_eq(cfs_http_server_route(s, "/fail", failing, NULL), 0);
    int port = 0;
    ck_assert_int_eq(cfs_http_server_start(s, "127.0.0.1:0", &port), 0);
    ck_assert_int_gt(port, 0);
    ck_assert_int_eq(cfs_http_server_route(s, "/late", hello, "hi"), -EINVAL);

    char *r = get(port, "/hello?who=a%20b");
    ck_assert_ptr_nonnull(r);
    ck_assert_msg(strncmp(r, "HTTP/1.0 200", 12) == 0 || strncmp(r, "HTTP/1.1 200", 12) == 0, "%s",
                  r);
    ck_assert_ptr_nonnull(strstr(r, "Content-Type: text/html; charset=utf-8\r\n"));
    ck_assert_ptr_nonnull(strstr(r, "\r\n\r\nhi a b"));
    free(r);

    r = get(port, "/nothing");
    ck_assert_ptr_nonnull(strstr(r, " 404 "));
    free(r);
    r = get(port, "/fail");
    ck_assert_ptr_nonnull(strstr(r, " 500 "));
    free(r);
    r = http(port, "POST /hello HTTP/1.0\r\nContent-Length: 0\r\n\r\n");
    ck_assert_ptr_nonnull(strstr(r, " 405 "));
    free(r);

    /* The port is taken while serving. */
    cfs_http_server *other;
    ck_assert_int_eq(cfs_http_server_new(&other), 0);
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    int p2;
    ck_assert_int_eq(cfs_http_server_start(other, addr, &p2), -EADDRINUSE);
    ck_assert_int_eq(cfs_http_server_start(other, "127.0.0.1", &p2), -EINVAL);
    ck_assert_int_eq(cfs_http_server_start(other, "127.0.0.1:99999", &p2), -EINVAL);
    ck_assert_int_eq(cfs_http_server_start(other, ":80", &p2), -EINVAL);
    cfs_http_server_free(other);
    cfs_http_server_free(s);
}
END_TEST

START_TEST(test_metrics_and_log_level)
{
    cfs_counter *c;
    const char *l[] = {"op", "x", NULL};
    ck_assert_int_eq(cfs_metrics_counter(cfs_metrics_global(), "test_http_total", "T.", l, &c), 0);
    cfs_counter_add(c, 3);
    cfs_http_server *s;
    int port;
    ck_assert_int_eq(cfs_http_server_new(&s), 0);
    ck_assert_int_eq(cfs_http_server_start(s, "localhost:0", &port), 0);
    char *r = get(port, "/metrics");
    ck_assert_ptr_nonnull(strstr(r, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
    ck_assert_ptr_nonnull(
        strstr(r, "\n# TYPE test_http_total counter\ntest_http_total{op=\"x\"} 3\n"));
    free(r);

    cfs_log_set_level(CFS_LOG_INFO);
    r = get(port, "/log-level?level=debug");
    ck_assert_ptr_nonnull(strstr(r, " 200 "));
    ck_assert_ptr_nonnull(strstr(r, "\r\n\r\ndebug\n"));
    ck_assert_int_eq(cfs_log_get_level(), CFS_LOG_DEBUG);
    free(r);
    r = get(port, "/log-level?level=loud");
    ck_assert_ptr_nonnull(strstr(r, " 400 "));
    ck_assert_int_eq(cfs_log_get_level(), CFS_LOG_DEBUG);
    free(r);
    r = get(port, "/log-level");
    ck_assert_ptr_nonnull(strstr(r, "\r\n\r\ndebug\n"));
    free(r);
    cfs_log_set_level(CFS_LOG_INFO);
    cfs_http_server_free(s);
}
END_TEST

START_TEST(test_sigusr1_toggles)
{
    ck_assert_int_eq(cfs_log_sigusr1_toggle(), 0);
    cfs_log_set_level(CFS_LOG_INFO);
    ck_assert_int_eq(raise(SIGUSR1), 0);
    ck_assert_int_eq(cfs_log_get_level(), CFS_LOG_DEBUG);
    ck_assert_int_eq(raise(SIGUSR1), 0);
    ck_assert_int_eq(cfs_log_get_level(), CFS_LOG_INFO);
    cfs_log_set_level(CFS_LOG_ERROR);
    ck_assert_int_eq(raise(SIGUSR1), 0);
    ck_assert_int_eq(cfs_log_get_level(), CFS_LOG_DEBUG);
    cfs_log_set_level(CFS_LOG_INFO);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("http_server");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_routes);
    tcase_add_test(tc, test_metrics_and_log_level);
    tcase_add_test(tc, test_sigusr1_toggles);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
