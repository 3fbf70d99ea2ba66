/* In-process tests of raft_node recovery: a single-node group (no network traffic) proposes
 * entries, takes snapshots, is destroyed and recreated from its data dir; the state machine
 * must come back identical, also when the newest snapshot is corrupt, and a corrupt record in
 * the middle of the log must stop raft_node_create with -EIO. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/crc32c.h"
#include "common/errors.h"
#include "common/rpc.h"
#include "common/time_util.h"
#include "raft/raft_node.h"

/* The state: how many entries were applied and a CRC chained over their bytes in order. */
typedef struct chain_fsm {
    uint64_t count;
    uint32_t crc;
    uint64_t last_index;
} chain_fsm;

static int fsm_apply(void *fsm, uint64_t index, const uint8_t *data, size_t len, void **result)
{
    chain_fsm *f = fsm;
    f->count++;
    f->crc = crc32c(f->crc, data, len);
    f->last_index = index;
    uint64_t *r = malloc(sizeof *r);
    if (!r) return -ENOMEM;
    *r = f->count;
    *result = r;
    return 0;
}

static void fsm_free_result(void *fsm, void *result)
{
    (void)fsm;
    free(result);
}

static int fsm_snapshot(void *fsm, uint8_t **buf, size_t *len)
{
    chain_fsm *f = fsm;
    *buf = malloc(sizeof *f);
    if (!*buf) return -ENOMEM;
    memcpy(*buf, f, sizeof *f);
    *len = sizeof *f;
    return 0;
}

static int fsm_restore(void *fsm, const uint8_t *buf, size_t len)
{
    if (len != sizeof(chain_fsm)) return -EINVAL;
    memcpy(fsm, buf, len);
    return 0;
}

static const raft_fsm_ops g_ops = {.apply = fsm_apply,
                                   .free_result = fsm_free_result,
                                   .snapshot = fsm_snapshot,
                                   .restore = fsm_restore};

static char g_root[256];

static void setup(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(g_root, sizeof g_root, "%s/raft_node_recovery.XXXXXX", t ? t : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(g_root));
    rpc_global_init();
}

static void teardown(void)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_root);
    ck_assert_int_eq(system(cmd), 0);
}

typedef struct single {
    rpc_server *srv;
    raft_node *node;
    chain_fsm fsm;
} single;

static int open_single(single *s)
{
    memset(s, 0, sizeof *s);
    raft_peer self = {.id = 1};
    snprintf(self.addr, sizeof self.addr, "127.0.0.1:1"); /* never dialled: no peers */
    raft_node_config cfg = {.id = 1,
                            .peers = &self,
                            .n_peers = 1,
                            .data_dir = g_root,
                            .tick_ms = 10,
                            .election_ticks = 10,
                            .snapshot_entries = 100};
    s->srv = rpc_server_create(NULL);
    ck_assert_ptr_nonnull(s->srv);
    int rc = raft_node_create(&cfg, &g_ops, &s->fsm, s->srv, &s->node);
    if (rc < 0) {
        rpc_server_destroy(s->srv);
        return rc;
    }
    ck_assert_int_eq(raft_node_start(s->node), 0);
    int64_t deadline = cfs_mono_ms() + 10000;
    while (!raft_node_is_leader(s->node) && cfs_mono_ms() < deadline)
        cfs_sleep_ms(5);
    ck_assert(raft_node_is_leader(s->node));
    return 0;
}

static void close_single(single *s)
{
    rpc_server_destroy(s->srv);
    raft_node_destroy(s->node);
}

static void propose_n(single *s, int from, int to)
{
    for (int i = from; i <= to; i++) {
        char buf[32];
        int len = snprintf(buf, sizeof buf, "entry-%d", i);
        void *result = NULL;
        ck_assert_int_eq(raft_node_propose(s->node, (uint8_t *)buf, (size_t)len, 5000, &result), 0);
        ck_assert_ptr_nonnull(result);
        ck_assert_uint_eq(*(uint64_t *)result, (uint64_t)i); /* the apply result comes back */
        free(result);
    }
}

static uint32_t expected_crc(int n)
{
    uint32_t c = 0;
    for (int i = 1; i <= n; i++) {
        char buf[32];
        int len = snprintf(buf, sizeof buf, "entry-%d", i);
        c = crc32c(c, buf, (size_t)len);
    }
    return c;
}

/* Waits until the node's applied index has stopped at `index` and returns the status. */
static void wait_applied(single *s, uint64_t index, raft_node_status *st)
{
    int64_t deadline = cfs_mono_ms() + 10000;
    do {
        raft_node_get_status(s->node, st);
        if (st->applied_index >= index) return;
        cfs_sleep_ms(5);
    } while (cfs_mono_ms() < deadline);
    ck_abort_msg("applied index stuck at %llu, want %llu", (unsigned long long)st->applied_index,
                 (unsigned long long)index);
}

static void newest_snapshot(char *out, size_t len)
{
    char dir[300];
    snprintf(dir, sizeof dir, "%s/snap", g_root);
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    char best[256] = "";
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (!strncmp(de->d_name, "snap-", 5) && !strstr(de->d_name, ".tmp") &&
            strcmp(de->d_name + 22, best[0] ? best + 22 : "") > 0)
            snprintf(best, sizeof best, "%s", de->d_name);
    closedir(d);
    ck_assert(best[0]);
    snprintf(out, len, "%s/%s", dir, best);
}

START_TEST(restart_restores_state_from_snapshot_and_log)
{
    single s;
    ck_assert_int_eq(open_single(&s), 0);
    propose_n(&s, 1, 250);
    ck_assert_int_eq(raft_node_read_barrier(s.node, 5000), 0);
    raft_node_status st;
    raft_node_get_status(s.node, &st);
    ck_assert(st.is_leader);
    ck_assert_str_eq(st.role, "leader");
    ck_assert_int_eq(st.n_members, 1);
    ck_assert_uint_ge(st.snapshot_index, 200); /* snapshots every 100 entries */
    uint64_t last = st.last_index;
    close_single(&s);

    ck_assert_int_eq(open_single(&s), 0);
    wait_applied(&s, last, &st);
    ck_assert_uint_eq(s.fsm.count, 250);
    ck_assert_uint_eq(s.fsm.crc, expected_crc(250));
    ck_assert_uint_ge(st.snapshot_index, 200);
    propose_n(&s, 251, 260);
    ck_assert_uint_eq(s.fsm.crc, expected_crc(260));
    /* A proposal too big for one message is refused up front and changes nothing. */
    size_t big = CFS_RPC_MAX_MESSAGE;
    uint8_t *huge = calloc(1, big);
    ck_assert_ptr_nonnull(huge);
    ck_assert_int_eq(raft_node_propose(s.node, huge, big, 5000, NULL), -EMSGSIZE);
    free(huge);
    propose_n(&s, 261, 261);
    ck_assert_uint_eq(s.fsm.count, 261);
    close_single(&s);
}
END_TEST

START_TEST(corrupt_newest_snapshot_falls_back)
{
    single s;
    ck_assert_int_eq(open_single(&s), 0);
    propose_n(&s, 1, 230);
    raft_node_status st;
    raft_node_get_status(s.node, &st);
    uint64_t last = st.last_index;
    close_single(&s);

    char path[600];
    newest_snapshot(path, sizeof path);
    int fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pwrite(fd, "\xde\xad\xbe\xef", 4, 60), 4);
    close(fd);

    ck_assert_int_eq(open_single(&s), 0);
    wait_applied(&s, last, &st);
    ck_assert_uint_eq(s.fsm.count, 230);
    ck_assert_uint_eq(s.fsm.crc, expected_crc(230));
    close_single(&s);
}
END_TEST

START_TEST(corrupt_log_middle_refuses_to_start)
{
    single s;
    ck_assert_int_eq(open_single(&s), 0);
    propose_n(&s, 1, 50);
    close_single(&s);
    /* Flip a byte early in the (only) segment: valid records follow it. */
    char dir[300];
    snprintf(dir, sizeof dir, "%s/wal", g_root);
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    struct dirent *de;
    char seg[600] = "";
    while ((de = readdir(d)) != NULL)
        if (strstr(de->d_name, ".wal")) snprintf(seg, sizeof seg, "%s/%s", dir, de->d_name);
    closedir(d);
    ck_assert(seg[0]);
    int fd = open(seg, O_RDWR);
    ck_assert_int_ge(fd, 0);
    uint8_t b;
    ck_assert_int_eq(pread(fd, &b, 1, 300), 1);
    b ^= 0xff;
    ck_assert_int_eq(pwrite(fd, &b, 1, 300), 1);
    close(fd);
    ck_assert_int_eq(open_single(&s), -EIO);
}
END_TEST

START_TEST(bad_config_rejected)
{
    rpc_server *srv = rpc_server_create(NULL);
    raft_node *n = NULL;
    chain_fsm f = {0};
    raft_node_config cfg = {.id = 0, .data_dir = g_root};
    ck_assert_int_eq(raft_node_create(&cfg, &g_ops, &f, srv, &n), -EINVAL);
    cfg.id = 1; /* no peers and not joining */
    ck_assert_int_eq(raft_node_create(&cfg, &g_ops, &f, srv, &n), -EINVAL);
    raft_fsm_ops no_apply = g_ops;
    no_apply.apply = NULL;
    raft_peer self = {.id = 1, .addr = "127.0.0.1:1"};
    cfg.peers = &self;
    cfg.n_peers = 1;
    ck_assert_int_eq(raft_node_create(&cfg, &no_apply, &f, srv, &n), -EINVAL);
    ck_assert_ptr_null(n);
    rpc_server_destroy(srv);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("raft_node_recovery");
    TCase *tc = tcase_create("single");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, restart_restores_state_from_snapshot_and_log);
    tcase_add_test(tc, corrupt_newest_snapshot_falls_back);
    tcase_add_test(tc, corrupt_log_middle_refuses_to_start);
    tcase_add_test(tc, bad_config_rejected);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
