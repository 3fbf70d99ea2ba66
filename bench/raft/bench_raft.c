/* bench_raft: committed Raft proposals per second and commit latency (p50/p99) with three
 * raft_nodes in one process on 127.0.0.1, real WAL with fsync, real gRPC transport; with 1
 * and with 64 concurrent proposers, with group commit on and off.
 * Usage: bench_raft [--seconds S (default 3)] [--dir DIR (default $TMPDIR or /tmp)]
 *                   [--payload BYTES (default 128)] */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/errors.h"
#include "common/log.h"
#include "common/rpc.h"
#include "common/time_util.h"
#include "raft/raft_node.h"

#define N_NODES 3
#define MAX_PROPOSERS 64

typedef struct counter_fsm {
    atomic_uint_least64_t applied;
} counter_fsm;

static int fsm_apply(void *fsm, uint64_t index, const uint8_t *data, size_t len, void **result)
{
    (void)index;
    (void)data;
    (void)len;
    (void)result;
    atomic_fetch_add(&((counter_fsm *)fsm)->applied, 1);
    return 0;
}

static int fsm_snapshot(void *fsm, uint8_t **buf, size_t *len)
{
    uint64_t v = atomic_load(&((counter_fsm *)fsm)->applied);
    *buf = malloc(sizeof v);
    if (!*buf) return -ENOMEM;
    memcpy(*buf, &v, sizeof v);
    *len = sizeof v;
    return 0;
}

static int fsm_restore(void *fsm, const uint8_t *buf, size_t len)
{
    uint64_t v = 0;
    if (len != sizeof v) return -EINVAL;
    memcpy(&v, buf, sizeof v);
    atomic_store(&((counter_fsm *)fsm)->applied, v);
    return 0;
}

typedef struct cluster {
    char dir[512];
    rpc_server *srv[N_NODES];
    raft_node *node[N_NODES];
    counter_fsm fsm[N_NODES];
} cluster;

static int pick_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

static void cluster_destroy(cluster *c)
{
    for (int i = 0; i < N_NODES; i++)
        if (c->srv[i]) rpc_server_destroy(c->srv[i]);
    for (int i = 0; i < N_NODES; i++)
        if (c->node[i]) raft_node_destroy(c->node[i]);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", c->dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", c->dir);
}

static int cluster_start(cluster *c, const char *base, bool no_group_commit)
{
    memset(c, 0, sizeof *c);
    snprintf(c->dir, sizeof c->dir, "%s/bench_raft.XXXXXX", base);
    if (!mkdtemp(c->dir)) return -errno;
    raft_peer peers[N_NODES];
    for (int i = 0; i < N_NODES; i++) {
        int port = pick_port();
        if (port < 0) return -EADDRINUSE;
        peers[i].id = (uint64_t)i + 1;
        snprintf(peers[i].addr, sizeof peers[i].addr, "127.0.0.1:%d", port);
    }
    raft_fsm_ops ops = {.apply = fsm_apply, .snapshot = fsm_snapshot, .restore = fsm_restore};
    for (int i = 0; i < N_NODES; i++) {
        char data[600];
        snprintf(data, sizeof data, "%s/node%d", c->dir, i + 1);
        raft_node_config cfg = {.id = (uint64_t)i + 1,
                                .peers = peers,
                                .n_peers = N_NODES,
                                .data_dir = data,
                                .no_group_commit = no_group_commit};
        rpc_server_opts so = {.handler_threads = 8};
        c->srv[i] = rpc_server_create(&so);
        if (!c->srv[i]) return -ENOMEM;
        int rc = raft_node_create(&cfg, &ops, &c->fsm[i], c->srv[i], &c->node[i]);
        if (rc < 0) return rc;
        rc = rpc_server_start(c->srv[i], peers[i].addr);
        if (rc < 0) return rc;
        rc = raft_node_start(c->node[i]);
        if (rc < 0) return rc;
    }
    return 0;
}

static raft_node *cluster_leader(cluster *c, int timeout_ms)
{
    int64_t deadline = cfs_mono_ms() + timeout_ms;
    while (cfs_mono_ms() < deadline) {
        for (int i = 0; i < N_NODES; i++)
            if (raft_node_is_leader(c->node[i])) return c->node[i];
        cfs_sleep_ms(20);
    }
    return NULL;
}

typedef struct proposer {
    raft_node *leader;
    size_t payload;
    int64_t until_ns;
    double *lat_us; /* per committed proposal */
    size_t n, cap;
    int errors;
} proposer;

static void *proposer_main(void *arg)
{
    proposer *p = arg;
    uint8_t *buf = calloc(1, p->payload);
    if (!buf) return NULL;
    while (cfs_mono_ns() < p->until_ns) {
        int64_t t0 = cfs_mono_ns();
        int rc = raft_node_propose(p->leader, buf, p->payload, 5000, NULL);
        int64_t t1 = cfs_mono_ns();
        if (rc < 0) {
            p->errors++;
            continue;
        }
        if (p->n == p->cap) {
            size_t nc = p->cap ? p->cap * 2 : 4096;
            double *nl = realloc(p->lat_us, nc * sizeof *nl);
            if (!nl) break;
            p->lat_us = nl;
            p->cap = nc;
        }
        p->lat_us[p->n++] = (double)(t1 - t0) / 1000.0;
    }
    free(buf);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Breakdowns of the cases, printed after the table. */
static char breakdowns[8192];

static void snap_traces(cluster *c, raft_trace_totals *t)
{
    for (int i = 0; i < N_NODES; i++)
        raft_node_get_trace(c->node[i], &t[i]);
}

static double per(uint64_t ns, uint64_t n)
{
    return n ? (double)ns / (double)n / 1000.0 : 0;
}

/* Appends where the latency went during one case: leader stages per traced proposal, the
 * followers' side per received batch, the leader's Send calls. */
static void note_breakdown(cluster *c, raft_node *leader, const raft_trace_totals *before,
                           const char *mode, int n_prop)
{
    raft_trace_totals after[N_NODES];
    snap_traces(c, after);
    size_t off = strlen(breakdowns);
    char *b = breakdowns + off;
    size_t room = sizeof breakdowns - off;
    int w = 0;
    for (int i = 0; i < N_NODES; i++) {
        const raft_trace_totals *a = &after[i], *z = &before[i];
        if (c->node[i] == leader) {
            uint64_t n = a->samples - z->samples;
            w += snprintf(b + w, room - (size_t)w,
                          "%s, %d proposer(s): %llu traced proposals, us:", mode, n_prop,
                          (unsigned long long)n);
            double sum = 0;
            for (int s = 0; s < RAFT_STAGE_COUNT; s++) {
                double v = per(a->stage_ns[s] - z->stage_ns[s], n);
                sum += v;
                w += snprintf(b + w, room - (size_t)w, " %s %.0f", raft_trace_stage_name(s), v);
            }
            uint64_t nb = a->sent_batches - z->sent_batches;
            w += snprintf(b + w, room - (size_t)w,
                          " (sum %.0f); leader Send calls: %llu, queue %.0f, call %.0f\n", sum,
                          (unsigned long long)nb, per(a->send_queue_ns - z->send_queue_ns, nb),
                          per(a->send_rpc_ns - z->send_rpc_ns, nb));
        }
    }
    uint64_t fb = 0, fstep = 0, fans = 0, ff = 0, ffns = 0;
    for (int i = 0; i < N_NODES; i++) {
        if (c->node[i] == leader) continue;
        fb += after[i].follower_batches - before[i].follower_batches;
        fstep += after[i].follower_step_ns - before[i].follower_step_ns;
        fans += after[i].follower_answer_ns - before[i].follower_answer_ns;
        ff += after[i].follower_fsyncs - before[i].follower_fsyncs;
        ffns += after[i].follower_fsync_ns - before[i].follower_fsync_ns;
    }
    snprintf(b + w, room - (size_t)w,
             "  followers: %llu batches with entries, us: step %.0f, until answered %.0f; "
             "%llu WAL writes, %.0f each\n",
             (unsigned long long)fb, per(fstep, fb), per(fans, fb), (unsigned long long)ff,
             per(ffns, ff));
}

static void run_case(cluster *c, raft_node *leader, int n_prop, double seconds, size_t payload,
                     const char *mode)
{
    raft_trace_totals before[N_NODES];
    snap_traces(c, before);
    static proposer props[MAX_PROPOSERS];
    pthread_t thr[MAX_PROPOSERS];
    int64_t start = cfs_mono_ns();
    int64_t until = start + (int64_t)(seconds * 1e9);
    for (int i = 0; i < n_prop; i++) {
        props[i] = (proposer){.leader = leader, .payload = payload, .until_ns = until};
        pthread_create(&thr[i], NULL, proposer_main, &props[i]);
    }
    size_t total = 0;
    int errors = 0;
    for (int i = 0; i < n_prop; i++) {
        pthread_join(thr[i], NULL);
        total += props[i].n;
        errors += props[i].errors;
    }
    double elapsed = (double)(cfs_mono_ns() - start) / 1e9;
    double *all = malloc((total ? total : 1) * sizeof *all);
    size_t k = 0;
    for (int i = 0; i < n_prop; i++) {
        memcpy(all + k, props[i].lat_us, props[i].n * sizeof *all);
        k += props[i].n;
        free(props[i].lat_us);
    }
    qsort(all, total, sizeof *all, cmp_double);
    double p50 = total ? all[total / 2] : 0, p99 = total ? all[(size_t)((double)total * 0.99)] : 0;
    printf("| %-15s | %10d | %14.0f | %10.2f | %10.2f | %6d |\n", mode, n_prop,
           (double)total / elapsed, p50 / 1000.0, p99 / 1000.0, errors);
    fflush(stdout);
    free(all);
    note_breakdown(c, leader, before, mode, n_prop);
}

int main(int argc, char **argv)
{
    double seconds = 3;
    size_t payload = 128;
    const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--seconds"))
            seconds = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--dir"))
            dir = argv[i + 1];
        else if (!strcmp(argv[i], "--payload"))
            payload = (size_t)strtoul(argv[i + 1], NULL, 10);
        else {
            fprintf(stderr, "usage: bench_raft [--seconds S] [--dir DIR] [--payload BYTES]\n");
            return 1;
        }
    }
    if (seconds <= 0 || payload == 0) {
        fprintf(stderr, "bench_raft: --seconds and --payload must be positive\n");
        return 1;
    }
    cfs_log_set_component("bench_raft");
    cfs_log_set_level(CFS_LOG_WARN);
    rpc_global_init();
    printf("bench_raft: 3 nodes in one process, 127.0.0.1, fsync on, %zu-byte proposals, "
           "%.1f s per case, data under %s\n\n",
           payload, seconds, dir);
    printf("| %-15s | %10s | %14s | %10s | %10s | %6s |\n", "mode", "proposers", "committed/s",
           "p50 ms", "p99 ms", "errors");
    printf(
        "|-----------------|------------|----------------|------------|------------|--------|\n");
    const bool modes[2] = {false, true};
    for (int m = 0; m < 2; m++) {
        cluster c;
        int rc = cluster_start(&c, dir, modes[m]);
        raft_node *leader = rc == 0 ? cluster_leader(&c, 20000) : NULL;
        if (!leader) {
            fprintf(stderr, "bench_raft: cluster did not come up: %s\n",
                    rc < 0 ? cfs_strerror(rc) : "no leader within 20 s");
            cluster_destroy(&c);
            return 1;
        }
        const char *name = modes[m] ? "no group commit" : "group commit";
        run_case(&c, leader, 1, seconds, payload, name);
        run_case(&c, leader, MAX_PROPOSERS, seconds, payload, name);
        cluster_destroy(&c);
    }
    printf("\nWhere the time went (means):\n%s", breakdowns);
    rpc_global_shutdown();
    return 0;
}
