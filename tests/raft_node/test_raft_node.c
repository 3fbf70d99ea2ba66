/* Process test of raft_node over the real WAL, snapshots and transport: three raft_kv_server
 * processes on 127.0.0.1, a writer putting keys continuously, kill -9 of the leader, a new
 * leader, no acknowledged write lost, the killed node restarted and caught up (by log or by
 * snapshot: snapshots are taken every 100 entries), a frozen leader (SIGSTOP) replaced and
 * stepping down when it wakes; then all three killed and restarted and every acknowledged
 * write still there. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/rpc.h"
#include "common/time_util.h"

#define N_NODES 4 /* three founders; the fourth joins in the membership test */
#define MAX_KEYS 200000
#define CALL_TIMEOUT_MS 3000
/* Membership calls wait on the server for a learner to catch up: give them longer. */
#define MEMBER_CALL_TIMEOUT_MS 15000

static char g_root[256];
static char g_bin[512];
static int g_ports[N_NODES];
static pid_t g_pids[N_NODES];
static char g_addrs[N_NODES][64];
static char g_peers[512];
static atomic_int g_err_replies; /* "ERR ..." answers (e.g. a proposal that timed out) */
static const char *g_case = "a"; /* data dirs of each test case are apart */
static const char *g_handler_threads = "32";

/* ------------------------------------------------------------------ processes */

static void port_file(int i, char *buf, size_t len)
{
    snprintf(buf, len, "%s/port%d", g_root, i + 1);
}

static pid_t spawn(int i)
{
    char id[16], listen[64], data[512], pf[512], logf[512];
    snprintf(id, sizeof id, "%d", i + 1);
    snprintf(listen, sizeof listen, "127.0.0.1:%d", g_ports[i]);
    snprintf(data, sizeof data, "%s/%s-node%d", g_root, g_case, i + 1);
    snprintf(logf, sizeof logf, "%s/node%d.log", g_root, i + 1);
    port_file(i, pf, sizeof pf);
    unlink(pf);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(logf, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            dup2(fd, 1);
            close(fd);
        }
        if (i == 3) { /* the joiner knows only itself */
            char self[96];
            snprintf(self, sizeof self, "4=%s", listen);
            execl(g_bin, g_bin, "--id", id, "--listen", listen, "--peers", self, "--data-dir", data,
                  "--port-file", pf, "--snapshot-entries", "100", "--join", (char *)NULL);
        } else {
            execl(g_bin, g_bin, "--id", id, "--listen", listen, "--peers", g_peers, "--data-dir",
                  data, "--port-file", pf, "--snapshot-entries", "100", "--handler-threads",
                  g_handler_threads, (char *)NULL);
        }
        _exit(127);
    }
    return pid;
}

/* Starts node i and waits until it serves (its port file appears); retries a taken port. */
static void start_node(int i)
{
    for (int attempt = 0; attempt < 5; attempt++) {
        g_pids[i] = spawn(i);
        char pf[512];
        port_file(i, pf, sizeof pf);
        int64_t deadline = cfs_mono_ms() + 20000;
        while (cfs_mono_ms() < deadline) {
            if (access(pf, F_OK) == 0) return;
            int st;
            if (waitpid(g_pids[i], &st, WNOHANG) == g_pids[i]) {
                g_pids[i] = 0;
                ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 98,
                              "node %d exited with status %d (see %s/node%d.log)", i + 1, st,
                              g_root, i + 1);
                break; /* port taken: try again */
            }
            cfs_sleep_ms(20);
        }
        if (g_pids[i]) ck_abort_msg("node %d did not start within 20 s", i + 1);
        cfs_sleep_ms(200);
    }
    ck_abort_msg("node %d: port %d stayed taken", i + 1, g_ports[i]);
}

static void kill_node(int i)
{
    if (g_pids[i] <= 0) return;
    kill(g_pids[i], SIGKILL);
    waitpid(g_pids[i], NULL, 0);
    g_pids[i] = 0;
}

/* Graceful stop: SIGTERM, then SIGKILL after 10 s. Returns the exit status or -1. */
static int stop_node(int i)
{
    if (g_pids[i] <= 0) return -1;
    kill(g_pids[i], SIGTERM);
    int64_t deadline = cfs_mono_ms() + 10000;
    int st = -1;
    while (cfs_mono_ms() < deadline) {
        if (waitpid(g_pids[i], &st, WNOHANG) == g_pids[i]) {
            g_pids[i] = 0;
            return st;
        }
        cfs_sleep_ms(20);
    }
    kill_node(i);
    return -1;
}

/* ------------------------------------------------------------------ KV client */

/* Calls `method` on node i; returns the text reply in buf (NUL-terminated) or -errno. */
static int call(int i, const char *method, const char *req, char *buf, size_t len)
{
    uint8_t *resp = NULL;
    size_t resp_len = 0;
    int timeout = strstr(method, "Member") || strstr(method, "Transfer") ? MEMBER_CALL_TIMEOUT_MS
                                                                         : CALL_TIMEOUT_MS;
    int rc =
        rpc_unary(g_addrs[i], method, (const uint8_t *)req, strlen(req), timeout, &resp, &resp_len);
    if (rc < 0) return rc;
    size_t n = resp_len < len - 1 ? resp_len : len - 1;
    memcpy(buf, resp, n);
    buf[n] = 0;
    free(resp);
    return 0;
}

static unsigned long long status_field(const char *st, const char *name)
{
    char key[32];
    snprintf(key, sizeof key, " %s=", name);
    const char *p = strstr(st, key);
    return p ? strtoull(p + strlen(key), NULL, 10) : 0;
}

/* Index of the node that says it is leader (among live ones), or -1. */
static int find_leader(void)
{
    for (int i = 0; i < N_NODES; i++) {
        char st[512];
        if (g_pids[i] > 0 && call(i, "/chunkfs.KV/Status", "", st, sizeof st) == 0 &&
            strstr(st, " leader=1 "))
            return i;
    }
    return -1;
}

static int wait_leader(int timeout_ms)
{
    int64_t deadline = cfs_mono_ms() + timeout_ms;
    while (cfs_mono_ms() < deadline) {
        int l = find_leader();
        if (l >= 0) return l;
        cfs_sleep_ms(50);
    }
    return -1;
}

static int node_of_addr(const char *addr)
{
    for (int i = 0; i < N_NODES; i++)
        if (!strcmp(addr, g_addrs[i])) return i;
    return -1;
}

/* Sends a request to the leader, following hints and trying other nodes, for up to
 * timeout_ms. Returns 0 with the reply in buf, or -ETIMEDOUT. */
static int leader_call(const char *method, const char *req, char *buf, size_t len, int timeout_ms,
                       int *guess)
{
    int64_t deadline = cfs_mono_ms() + timeout_ms;
    int backoff = 10;
    while (cfs_mono_ms() < deadline) {
        int i = *guess;
        int rc = g_pids[i] > 0 ? call(i, method, req, buf, len) : -ENOTCONN;
        if (rc == 0 && !strncmp(buf, "NOTLEADER ", 10)) {
            int hint = node_of_addr(buf + 10);
            *guess = hint >= 0 && hint != i ? hint : (i + 1) % N_NODES;
        } else if (rc == 0 && strncmp(buf, "ERR", 3) != 0) {
            return 0;
        } else {
            if (rc == 0) atomic_fetch_add(&g_err_replies, 1);
            *guess = (i + 1) % N_NODES;
        }
        cfs_sleep_ms(backoff);
        backoff = backoff < 200 ? backoff * 2 : 200;
    }
    return -ETIMEDOUT;
}

/* ------------------------------------------------------------------ writer */

static atomic_bool g_stop_writer;
static atomic_int g_acked; /* keys 1..g_acked are acknowledged, in order */
static atomic_int g_ambiguous;

static void *writer_main(void *arg)
{
    (void)arg;
    int guess = 0;
    for (int k = 1; k < MAX_KEYS && !atomic_load(&g_stop_writer); k++) {
        char req[64], buf[256];
        snprintf(req, sizeof req, "k%d=v%d", k, k);
        /* A key is retried until acknowledged (the same value again is harmless). */
        for (;;) {
            if (leader_call("/chunkfs.KV/Put", req, buf, sizeof buf, 30000, &guess) == 0) break;
            atomic_fetch_add(&g_ambiguous, 1);
            if (atomic_load(&g_stop_writer)) return NULL;
        }
        atomic_store(&g_acked, k);
    }
    return NULL;
}

static bool wait_acked(int target, int timeout_ms)
{
    int64_t deadline = cfs_mono_ms() + timeout_ms;
    while (cfs_mono_ms() < deadline) {
        if (atomic_load(&g_acked) >= target) return true;
        cfs_sleep_ms(20);
    }
    return false;
}

/* Every acknowledged key reads back (linearizably, through the leader). */
static void verify_all(int upto)
{
    int guess = 0;
    for (int k = 1; k <= upto; k++) {
        char key[32], want[40], buf[256];
        snprintf(key, sizeof key, "k%d", k);
        snprintf(want, sizeof want, "OK v%d", k);
        ck_assert_int_eq(leader_call("/chunkfs.KV/Get", key, buf, sizeof buf, 20000, &guess), 0);
        ck_assert_msg(!strcmp(buf, want), "key %s: got '%s', want '%s'", key, buf, want);
    }
}

/* Node i has applied at least `index`. */
static bool wait_applied(int i, unsigned long long index, int timeout_ms)
{
    int64_t deadline = cfs_mono_ms() + timeout_ms;
    while (cfs_mono_ms() < deadline) {
        char st[512];
        if (call(i, "/chunkfs.KV/Status", "", st, sizeof st) == 0 &&
            status_field(st, "applied") >= index)
            return true;
        cfs_sleep_ms(50);
    }
    return false;
}

START_TEST(three_nodes_survive_leader_kill_and_full_restart)
{
    rpc_global_init();
    g_case = "a";
    for (int i = 0; i < 3; i++)
        start_node(i);
    int leader = wait_leader(20000);
    ck_assert_msg(leader >= 0, "no leader within 20 s");

    pthread_t writer;
    ck_assert_int_eq(pthread_create(&writer, NULL, writer_main, NULL), 0);
    ck_assert_msg(wait_acked(300, 30000), "writes did not get going: %d acked",
                  atomic_load(&g_acked));

    /* kill -9 the leader while writes are under way */
    leader = find_leader();
    ck_assert_int_ge(leader, 0);
    int before = atomic_load(&g_acked);
    kill_node(leader);
    int64_t t0 = cfs_mono_ms();
    int next = wait_leader(20000);
    ck_assert_msg(next >= 0 && next != leader, "no new leader within 20 s");
    fprintf(stderr, "new leader %d elected %lld ms after killing %d\n", next + 1,
            (long long)(cfs_mono_ms() - t0), leader + 1);
    ck_assert_msg(wait_acked(before + 300, 30000), "writes stalled after failover: %d acked",
                  atomic_load(&g_acked));

    /* The killed node comes back and catches up (the others took snapshots meanwhile). */
    start_node(leader);
    char st[512];
    next = wait_leader(20000);
    ck_assert_int_ge(next, 0);
    ck_assert_int_eq(call(next, "/chunkfs.KV/Status", "", st, sizeof st), 0);
    unsigned long long commit = status_field(st, "commit");
    ck_assert_msg(wait_applied(leader, commit, 30000), "restarted node %d did not catch up to %llu",
                  leader + 1, commit);

    /* A leader that freezes (SIGSTOP: a long pause, or a partition) is replaced while writes
     * go on; once it wakes up it steps down and follows, and nothing acknowledged is lost. */
    int frozen = wait_leader(20000);
    ck_assert_int_ge(frozen, 0);
    int before_freeze = atomic_load(&g_acked);
    ck_assert_int_eq(kill(g_pids[frozen], SIGSTOP), 0);
    int other = -1;
    int64_t deadline = cfs_mono_ms() + 20000;
    while (other < 0 && cfs_mono_ms() < deadline) {
        for (int i = 0; i < 3 && other < 0; i++)
            if (i != frozen && call(i, "/chunkfs.KV/Status", "", st, sizeof st) == 0 &&
                strstr(st, " leader=1 "))
                other = i;
        cfs_sleep_ms(50);
    }
    ck_assert_msg(other >= 0, "no new leader while node %d is frozen", frozen + 1);
    ck_assert_msg(wait_acked(before_freeze + 100, 30000), "writes stalled while node %d froze",
                  frozen + 1);
    ck_assert_int_eq(kill(g_pids[frozen], SIGCONT), 0);
    deadline = cfs_mono_ms() + 20000;
    bool stepped_down = false;
    while (!stepped_down && cfs_mono_ms() < deadline) {
        stepped_down = call(frozen, "/chunkfs.KV/Status", "", st, sizeof st) == 0 &&
                       strstr(st, " leader=0 ") != NULL;
        if (!stepped_down) cfs_sleep_ms(50);
    }
    ck_assert_msg(stepped_down, "woken node %d still claims leadership: %s", frozen + 1, st);
    next = wait_leader(20000);
    ck_assert_int_ge(next, 0);
    ck_assert_int_eq(call(next, "/chunkfs.KV/Status", "", st, sizeof st), 0);
    commit = status_field(st, "commit");
    ck_assert_msg(wait_applied(frozen, commit, 30000), "woken node %d did not catch up to %llu",
                  frozen + 1, commit);
    int acked_now = atomic_load(&g_acked);
    atomic_store(&g_stop_writer, true);
    pthread_join(writer, NULL);
    /* The restarted node's own state holds writes acknowledged while it was down. */
    for (int k = before; k <= before + 300; k++) {
        char key[32], want[40], buf[256];
        snprintf(key, sizeof key, "k%d", k);
        snprintf(want, sizeof want, "OK v%d", k);
        ck_assert_int_eq(call(leader, "/chunkfs.KV/LocalGet", key, buf, sizeof buf), 0);
        ck_assert_msg(!strcmp(buf, want), "restarted node: key %s: got '%s'", key, buf);
    }
    int acked = atomic_load(&g_acked);
    ck_assert_int_ge(acked, acked_now);
    verify_all(acked);
    fprintf(stderr, "%d writes acknowledged, %d retried calls, all present\n", acked,
            atomic_load(&g_ambiguous));

    /* Everybody dies at once; everything acknowledged survives. */
    for (int i = 0; i < 3; i++)
        kill_node(i);
    for (int i = 0; i < 3; i++)
        start_node(i);
    ck_assert_msg(wait_leader(20000) >= 0, "no leader after full restart");
    verify_all(acked);
    /* And the cluster takes writes again. */
    int guess = 0;
    char buf[256];
    ck_assert_int_eq(
        leader_call("/chunkfs.KV/Put", "after=restart", buf, sizeof buf, 20000, &guess), 0);
    ck_assert_str_eq(buf, "OK");
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(stop_node(i), 0); /* clean shutdown: exit status 0 */
}
END_TEST

static void put_range(int from, int to, int *guess)
{
    for (int k = from; k <= to; k++) {
        char req[64], buf[256];
        snprintf(req, sizeof req, "k%d=v%d", k, k);
        ck_assert_msg(leader_call("/chunkfs.KV/Put", req, buf, sizeof buf, 20000, guess) == 0,
                      "put k%d not acknowledged within 20 s", k);
    }
}

static void assert_local(int node, int k)
{
    char key[32], want[40], buf[256];
    snprintf(key, sizeof key, "k%d", k);
    snprintf(want, sizeof want, "OK v%d", k);
    ck_assert_int_eq(call(node, "/chunkfs.KV/LocalGet", key, buf, sizeof buf), 0);
    ck_assert_msg(!strcmp(buf, want), "node %d: key %s: got '%s'", node + 1, key, buf);
}

/* A fourth server joins empty, is added as a learner, catches up (by snapshot: the founders
 * have compacted), is promoted, takes over leadership; a founder is removed; the joiner
 * survives kill -9 and restart with its membership intact. */
START_TEST(join_promote_transfer_remove)
{
    rpc_global_init();
    g_case = "b";
    for (int i = 0; i < 3; i++)
        start_node(i);
    ck_assert_msg(wait_leader(20000) >= 0, "no leader within 20 s");
    int guess = 0;
    char buf[256], req[128];
    put_range(1, 250, &guess);

    start_node(3);
    snprintf(req, sizeof req, "4=%s", g_addrs[3]);
    ck_assert_int_eq(leader_call("/chunkfs.KV/AddMember", req, buf, sizeof buf, 40000, &guess), 0);
    ck_assert_str_eq(buf, "OK");
    int leader = find_leader();
    ck_assert_int_ge(leader, 0);
    ck_assert_int_eq(call(leader, "/chunkfs.KV/Status", "", buf, sizeof buf), 0);
    ck_assert_msg(strstr(buf, " members=4"), "leader status after add: %s", buf);
    ck_assert(wait_applied(3, status_field(buf, "commit"), 20000));
    assert_local(3, 1);
    assert_local(3, 250);
    ck_assert_int_eq(call(3, "/chunkfs.KV/Status", "", buf, sizeof buf), 0);
    ck_assert_msg(strstr(buf, "role=follower"), "joined node is not a voting follower: %s", buf);

    /* Leadership moves to the new node. */
    ck_assert_int_eq(leader_call("/chunkfs.KV/Transfer", "4", buf, sizeof buf, 30000, &guess), 0);
    ck_assert_str_eq(buf, "OK");
    int64_t deadline = cfs_mono_ms() + 10000;
    while (find_leader() != 3 && cfs_mono_ms() < deadline)
        cfs_sleep_ms(50);
    ck_assert_int_eq(find_leader(), 3);
    guess = 3;
    put_range(251, 300, &guess);

    /* A founder leaves; the remaining three go on without it. */
    int gone = 0;
    ck_assert_int_eq(leader_call("/chunkfs.KV/RemoveMember", "1", buf, sizeof buf, 30000, &guess),
                     0);
    ck_assert_str_eq(buf, "OK");
    ck_assert_int_eq(stop_node(gone), 0);
    leader = wait_leader(10000);
    ck_assert_int_ge(leader, 0);
    ck_assert_int_eq(call(leader, "/chunkfs.KV/Status", "", buf, sizeof buf), 0);
    ck_assert_msg(strstr(buf, " members=3"), "leader status after remove: %s", buf);
    put_range(301, 350, &guess);

    /* The joiner, now leader, dies and comes back from its own disk. */
    leader = wait_leader(10000);
    ck_assert_int_ge(leader, 0);
    kill_node(leader);
    ck_assert_msg(wait_leader(20000) >= 0, "no leader after killing node %d", leader + 1);
    put_range(351, 400, &guess);
    start_node(leader);
    int now_leader = wait_leader(20000);
    ck_assert_int_ge(now_leader, 0);
    ck_assert_int_eq(call(now_leader, "/chunkfs.KV/Status", "", buf, sizeof buf), 0);
    ck_assert(wait_applied(leader, status_field(buf, "commit"), 20000));
    assert_local(leader, 400);
    verify_all(400);
    for (int i = 1; i < N_NODES; i++)
        ck_assert_int_eq(stop_node(i), 0);
}
END_TEST

static void rm_rf(const char *path)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", path);
}

static void dump_logs(void)
{
    for (int i = 0; i < N_NODES; i++) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "echo '--- node%d.log (tail)'; tail -n 40 '%s/node%d.log'", i + 1,
                 g_root, i + 1);
        if (system(cmd) != 0) fprintf(stderr, "no log for node %d\n", i + 1);
    }
}

#define BUSY_WRITERS 12
#define BUSY_PUTS 40

static void *busy_writer(void *arg)
{
    int t = (int)(intptr_t)arg, guess = 0;
    for (int i = 1; i <= BUSY_PUTS; i++) {
        char req[64], buf[256];
        snprintf(req, sizeof req, "w%d-%d=x%d", t, i, i);
        if (leader_call("/chunkfs.KV/Put", req, buf, sizeof buf, 60000, &guess) != 0)
            return (void *)(intptr_t)i;
    }
    return NULL;
}

/* Each server has only 4 handler threads, and 12 clients keep the leader's all busy in
 * blocking proposals: replication must still flow (followers answer inside the RaftAck), so
 * no proposal times out and every put is acknowledged. */
START_TEST(busy_handlers_do_not_starve_replication)
{
    rpc_global_init();
    g_case = "c";
    g_handler_threads = "4";
    for (int i = 0; i < 3; i++)
        start_node(i);
    g_handler_threads = "32";
    ck_assert_msg(wait_leader(20000) >= 0, "no leader within 20 s");
    atomic_store(&g_err_replies, 0);
    pthread_t thr[BUSY_WRITERS];
    for (int t = 0; t < BUSY_WRITERS; t++)
        ck_assert_int_eq(pthread_create(&thr[t], NULL, busy_writer, (void *)(intptr_t)t), 0);
    int failed = 0;
    for (int t = 0; t < BUSY_WRITERS; t++) {
        void *r;
        pthread_join(thr[t], &r);
        if (r) failed++;
    }
    ck_assert_int_eq(failed, 0);
    ck_assert_int_eq(atomic_load(&g_err_replies), 0);
    int guess = 0;
    char buf[256];
    ck_assert_int_eq(leader_call("/chunkfs.KV/Get", "w11-40", buf, sizeof buf, 20000, &guess), 0);
    ck_assert_str_eq(buf, "OK x40");
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(stop_node(i), 0);
}
END_TEST

int main(void)
{
    const char *bin = getenv("CHUNKFS_BIN");
    snprintf(g_bin, sizeof g_bin, "%s/raft_kv_server", bin ? bin : "build/bin");
    if (access(g_bin, X_OK) != 0) {
        fprintf(stderr, "skipping: %s not built\n", g_bin);
        return 77;
    }
    const char *t = getenv("TMPDIR");
    snprintf(g_root, sizeof g_root, "%s/raft_node_test.XXXXXX", t ? t : "/tmp");
    if (!mkdtemp(g_root)) {
        perror("mkdtemp");
        return 1;
    }
    for (int i = 0; i < N_NODES; i++) {
        g_ports[i] = 0;
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof a;
        if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
            getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
            perror("picking a port");
            return 1;
        }
        close(fd);
        g_ports[i] = ntohs(a.sin_port);
        snprintf(g_addrs[i], sizeof g_addrs[i], "127.0.0.1:%d", g_ports[i]);
    }
    snprintf(g_peers, sizeof g_peers, "1=%s,2=%s,3=%s", g_addrs[0], g_addrs[1], g_addrs[2]);
    Suite *s = suite_create("raft_node");
    TCase *tc = tcase_create("processes");
    tcase_set_timeout(tc, 85);
    tcase_add_test(tc, three_nodes_survive_leader_kill_and_full_restart);
    tcase_add_test(tc, join_promote_transfer_remove);
    tcase_add_test(tc, busy_handlers_do_not_starve_replication);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    /* No fork: the processes this test starts are cleaned up below, whatever happened. */
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    atomic_store(&g_stop_writer, true);
    for (int i = 0; i < N_NODES; i++)
        kill_node(i);
    if (failed) dump_logs();
    if (getenv("RAFT_NODE_TEST_KEEP"))
        fprintf(stderr, "kept %s\n", g_root);
    else
        rm_rf(g_root);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
