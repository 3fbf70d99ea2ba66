/* Moves N MiB over the RPC layer (unary 1 MiB calls with 4 in flight, one client stream) and
 * over plain loopback TCP in the same process, and prints MiB/s, CPU per GiB and the ratios.
 * Also prints the small-call rate. Client and server share the machine's cores. */
#include "common/config.h"
#include "common/log.h"
#include "common/rpc.h"
#include "common/time_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define MIB (1024 * 1024)

static const cfs_config_def k_defs[] = {
    {"mib", CFS_CFG_INT, "1024", "MiB to move in each bulk case"},
    {"threads", CFS_CFG_INT, "4", "unary calls in flight (one thread each)"},
    {"small-calls", CFS_CFG_INT, "20000", "calls in the small-RPC case (0 skips it)"},
    {NULL, 0, NULL, NULL},
};

static atomic_llong g_sink_bytes;
static char g_addr[64];

static int h_sink(void *arg, const char *peer, const uint8_t *req, size_t len, uint8_t **resp,
                  size_t *resp_len)
{
    (void)arg;
    (void)peer;
    (void)req;
    atomic_fetch_add(&g_sink_bytes, (long long)len);
    *resp = NULL;
    *resp_len = 0;
    return 0;
}

static int h_ping(void *arg, const char *peer, const uint8_t *req, size_t len, uint8_t **resp,
                  size_t *resp_len)
{
    (void)arg;
    (void)peer;
    *resp = malloc(len ? len : 1);
    if (!*resp) return -ENOMEM;
    memcpy(*resp, req, len);
    *resp_len = len;
    return 0;
}

static int s_sink(void *arg, rpc_call *c)
{
    (void)arg;
    long long total = 0;
    for (;;) {
        uint8_t *buf;
        size_t len;
        int r = rpc_call_recv(c, &buf, &len);
        if (r < 0) return r;
        if (r == 0) break;
        total += (long long)len;
        free(buf);
    }
    return rpc_call_send(c, (const uint8_t *)&total, sizeof total);
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

struct result {
    double mibs;
    double cpu_per_gib;
};

static void report(const char *name, long long mib, int64_t ns, double cpu, struct result *r)
{
    double secs = (double)ns / 1e9;
    r->mibs = (double)mib / secs;
    r->cpu_per_gib = cpu / ((double)mib / 1024.0);
    printf("%-34s %8.0f MiB/s  %6.2f CPU-s/GiB (client+server)  %lld MiB in %.2f s\n", name,
           r->mibs, r->cpu_per_gib, mib, secs);
    fflush(stdout);
}

/* ------------------------------------------------------------------ unary */

struct unary_arg {
    long long calls;
    const uint8_t *buf;
    int rc;
};

static void *unary_thread(void *p)
{
    struct unary_arg *a = p;
    for (long long i = 0; i < a->calls && a->rc == 0; i++) {
        uint8_t *resp = NULL;
        size_t len = 0;
        a->rc = rpc_unary(g_addr, "/bench.Rpc/Sink", a->buf, MIB, 30000, &resp, &len);
        free(resp);
    }
    return NULL;
}

static int bench_unary(long long mib, int threads, struct result *r)
{
    uint8_t *buf = malloc(MIB);
    if (!buf) return -ENOMEM;
    memset(buf, 0xab, MIB);
    pthread_t t[64];
    struct unary_arg a[64];
    atomic_store(&g_sink_bytes, 0);
    double c0 = cpu_seconds();
    int64_t t0 = cfs_mono_ns();
    for (int i = 0; i < threads; i++) {
        a[i] = (struct unary_arg){mib / threads + (i < mib % threads ? 1 : 0), buf, 0};
        pthread_create(&t[i], NULL, unary_thread, &a[i]);
    }
    int rc = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        if (a[i].rc) rc = a[i].rc;
    }
    int64_t ns = cfs_mono_ns() - t0;
    double cpu = cpu_seconds() - c0;
    free(buf);
    if (rc) return rc;
    if (atomic_load(&g_sink_bytes) != mib * MIB) return -EPROTO;
    char name[64];
    snprintf(name, sizeof name, "rpc unary 1 MiB x %d in flight", threads);
    report(name, mib, ns, cpu, r);
    return 0;
}

/* ------------------------------------------------------------------ stream */

static int bench_stream(long long mib, struct result *r)
{
    uint8_t *buf = malloc(MIB);
    if (!buf) return -ENOMEM;
    memset(buf, 0xcd, MIB);
    double c0 = cpu_seconds();
    int64_t t0 = cfs_mono_ns();
    rpc_stream *st;
    int rc = rpc_stream_open(g_addr, "/bench.Rpc/Stream", 600000, &st);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    for (long long i = 0; i < mib && rc == 0; i++)
        rc = rpc_stream_send(st, buf, MIB);
    free(buf);
    if (rc == 0) rc = rpc_stream_close_send(st);
    long long total = 0;
    if (rc == 0) {
        uint8_t *resp;
        size_t len;
        rc = rpc_stream_recv(st, &resp, &len);
        if (rc == 1) {
            if (len == sizeof total) memcpy(&total, resp, sizeof total);
            free(resp);
            rc = rpc_stream_finish(st);
        } else if (rc == 0) {
            rc = -EPROTO;
        }
    }
    rpc_stream_free(st);
    int64_t ns = cfs_mono_ns() - t0;
    double cpu = cpu_seconds() - c0;
    if (rc) return rc;
    if (total != mib * MIB) return -EPROTO;
    report("rpc client stream, 1 MiB messages", mib, ns, cpu, r);
    return 0;
}

/* ------------------------------------------------------------------ raw TCP */

struct tcp_reader {
    int fd;
    long long got;
};

static void *tcp_read_thread(void *p)
{
    struct tcp_reader *rd = p;
    uint8_t *buf = malloc(MIB);
    if (!buf) return NULL;
    for (;;) {
        ssize_t n = read(rd->fd, buf, MIB);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        rd->got += n;
    }
    free(buf);
    return NULL;
}

static int bench_tcp(long long mib, struct result *r)
{
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    if (ls < 0) return -errno;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    if (bind(ls, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(ls, 1) < 0 ||
        getsockname(ls, (struct sockaddr *)&sa, &sl) < 0) {
        int e = -errno;
        close(ls);
        return e;
    }
    int cs = socket(AF_INET, SOCK_STREAM, 0);
    if (cs < 0 || connect(cs, (struct sockaddr *)&sa, sizeof sa) < 0) {
        int e = -errno;
        if (cs >= 0) close(cs);
        close(ls);
        return e;
    }
    struct tcp_reader rd = {accept(ls, NULL, NULL), 0};
    close(ls);
    if (rd.fd < 0) {
        close(cs);
        return -errno;
    }
    uint8_t *buf = malloc(MIB);
    if (!buf) {
        close(cs);
        close(rd.fd);
        return -ENOMEM;
    }
    memset(buf, 0xef, MIB);
    double c0 = cpu_seconds();
    int64_t t0 = cfs_mono_ns();
    pthread_t t;
    pthread_create(&t, NULL, tcp_read_thread, &rd);
    int rc = 0;
    for (long long i = 0; i < mib && rc == 0; i++) {
        size_t off = 0;
        while (off < MIB) {
            ssize_t n = write(cs, buf + off, MIB - off);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                rc = -errno;
                break;
            }
            off += (size_t)n;
        }
    }
    shutdown(cs, SHUT_WR);
    pthread_join(t, NULL);
    int64_t ns = cfs_mono_ns() - t0;
    double cpu = cpu_seconds() - c0;
    close(cs);
    close(rd.fd);
    free(buf);
    if (rc) return rc;
    if (rd.got != mib * MIB) return -EPROTO;
    report("raw TCP loopback, 1 MiB writes", mib, ns, cpu, r);
    return 0;
}

/* ------------------------------------------------------------------ small calls */

struct small_arg {
    long long calls;
    int rc;
};

static void *small_thread(void *p)
{
    struct small_arg *a = p;
    uint8_t req[64];
    memset(req, 1, sizeof req);
    for (long long i = 0; i < a->calls && a->rc == 0; i++) {
        uint8_t *resp = NULL;
        size_t len = 0;
        a->rc = rpc_unary(g_addr, "/bench.Rpc/Ping", req, sizeof req, 10000, &resp, &len);
        free(resp);
    }
    return NULL;
}

static int bench_small(long long calls, int threads)
{
    pthread_t t[64];
    struct small_arg a[64];
    int64_t t0 = cfs_mono_ns();
    for (int i = 0; i < threads; i++) {
        a[i] = (struct small_arg){calls / threads, 0};
        pthread_create(&t[i], NULL, small_thread, &a[i]);
    }
    int rc = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        if (a[i].rc) rc = a[i].rc;
    }
    double secs = (double)(cfs_mono_ns() - t0) / 1e9;
    if (rc) return rc;
    long long done = calls / threads * threads;
    printf("small unary 64 B, %d caller thread%s %10.0f calls/s (%.0f us per call per thread)\n",
           threads, threads == 1 ? ": " : "s:", (double)done / secs,
           secs * 1e6 / ((double)done / threads));
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    cfs_log_set_component("bench_rpc");
    cfs_config cfg;
    char err[256];
    if (cfs_config_parse(k_defs, argc, argv, &cfg, err, sizeof err) < 0) {
        fprintf(stderr, "bench_rpc: %s\n", err);
        return 2;
    }
    if (cfg.help) {
        cfs_config_usage(k_defs, "bench_rpc", "[--mib N]", stdout);
        cfs_config_free(&cfg);
        return 0;
    }
    long long mib = cfs_config_int(&cfg, "mib");
    int threads = (int)cfs_config_int(&cfg, "threads");
    long long small = cfs_config_int(&cfg, "small-calls");
    cfs_config_free(&cfg);
    if (mib <= 0 || threads <= 0 || threads > 64 || small < 0) {
        fprintf(stderr, "bench_rpc: --mib must be > 0, --threads 1..64, --small-calls >= 0\n");
        return 2;
    }
    rpc_global_init();
    rpc_server_opts o = {.cq_threads = 1, .handler_threads = 8};
    rpc_server *s = rpc_server_create(&o);
    if (!s || rpc_server_add_unary(s, "/bench.Rpc/Sink", h_sink, NULL) < 0 ||
        rpc_server_add_unary(s, "/bench.Rpc/Ping", h_ping, NULL) < 0 ||
        rpc_server_add_stream(s, "/bench.Rpc/Stream", s_sink, NULL) < 0) {
        fprintf(stderr, "bench_rpc: cannot set up the server\n");
        return 1;
    }
    int port = rpc_server_start(s, "127.0.0.1:0");
    if (port < 0) {
        fprintf(stderr, "bench_rpc: cannot start the server: %d\n", port);
        return 1;
    }
    snprintf(g_addr, sizeof g_addr, "127.0.0.1:%d", port);
    /* Warm the connection up so the first case does not pay for it. */
    uint8_t *resp = NULL;
    size_t len = 0;
    int rc = rpc_unary(g_addr, "/bench.Rpc/Ping", (const uint8_t *)"x", 1, 10000, &resp, &len);
    free(resp);
    struct result ru = {0}, rs = {0}, rt = {0};
    if (rc == 0) rc = bench_unary(mib, threads, &ru);
    if (rc == 0) rc = bench_stream(mib, &rs);
    if (rc == 0) rc = bench_tcp(mib, &rt);
    if (rc == 0 && small > 0) rc = bench_small(small, 1);
    if (rc == 0 && small > 0) rc = bench_small(small, 8);
    if (rc == 0) {
        printf("ratio unary/TCP  %.2f (throughput)  %.2fx (CPU per byte)\n", ru.mibs / rt.mibs,
               ru.cpu_per_gib / rt.cpu_per_gib);
        printf("ratio stream/TCP %.2f (throughput)  %.2fx (CPU per byte)\n", rs.mibs / rt.mibs,
               rs.cpu_per_gib / rt.cpu_per_gib);
    } else {
        fprintf(stderr, "bench_rpc: failed: %d\n", rc);
    }
    rpc_server_destroy(s);
    rpc_global_shutdown();
    return rc == 0 ? 0 : 1;
}
