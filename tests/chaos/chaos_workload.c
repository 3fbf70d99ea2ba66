/* chaos_workload: the workload and history checker of the fault-injection tests.
 *
 *   chaos_workload run   [--meta A,B,C | --mount DIR] --dir /D --history H --seed S
 *                        [--duration SEC] [--ops N] [--threads T] [--files F]
 *                        [--max-size BYTES] [--timeout-ms MS] [--stop-file PATH]
 *       Threads replace whole files (create/truncate, write, fsync, close), unlink them and
 *       read them back, each thread owning its own files, recording every step in H (format:
 *       tests/chaos/chaos_history.h); no new operation starts once PATH exists. A read that returns
 * data no acceptable state explains is recorded as `bad`. Ends with a line "run: operations=N
 * acknowledged=N failed=N bad_reads=N"; exit 0, or 1 if a read was bad, 2 on usage or history
 * errors. chaos_workload check [--meta A,B,C | --mount DIR] --history H [--wait SEC] Reads every
 * file of the history back and judges it. Prints each violation, then "check: files=N operations=N
 * acknowledged=N lost=N corrupt=N"; exit 1 if lost or corrupt (bad reads during the run count as
 * corrupt) is nonzero. A file that cannot be read for --wait seconds (default 120) counts as lost.
 *   chaos_workload gen   --seed S --file I --gen G --max-size BYTES
 *       Writes generation G of file I to stdout (for CLI copies recorded by a script).
 *   chaos_workload probe --addr HOST:PORT (--path /P | --mkdir NAME)
 *       One MetaService call to exactly that metaserver, no redirects: resolve /P, or mkdir
 *       NAME in /. Prints "probe: err=E (text) size=S generation=G"; exit 0 if err is 0, 3 if
 *       -CFS_ENOTLEADER, 1 for any other error.
 * --meta defaults to $CHUNKFS_META; CHUNKFS_LOG sets the library's log level (default warn). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client/fs_internal.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/rpc.h"
#include "common/security_opts.h"
#include "proto/chunkfs.pb-c.h"
#include "tests/chaos/chaos_content.h"
#include "tests/chaos/chaos_history.h"
#include "tests/chaos/chaos_store.h"

typedef struct opts {
    const char *meta;
    const char *mount;
    const char *dir;
    const char *history;
    const char *addr;
    const char *path;
    const char *mkdir_name;
    const char *stop_file;
    uint64_t seed;
    uint64_t duration_s;
    uint64_t ops;
    uint32_t threads;
    uint32_t files;
    uint64_t max_size;
    uint64_t file;
    uint64_t gen;
    int timeout_ms;
    int wait_s;
} opts;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int open_store(const opts *o, chaos_store **s)
{
    int rc = o->mount ? chaos_store_open_posix(o->mount, s)
                      : chaos_store_open_lib(o->meta, o->timeout_ms, s);
    if (rc < 0)
        fprintf(stderr, "chaos_workload: cannot open %s: %s\n", o->mount ? o->mount : o->meta,
                cfs_strerror(rc));
    return rc;
}

static void file_path(const chaos_params *p, uint32_t file, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/f%u", p->dir, file);
}

/* ------------------------------------------------------------------ run */

typedef struct run_shared {
    const opts *o;
    chaos_params params;
    chaos_store *store;
    chaos_history *hist;
    double deadline;
    uint64_t ops_left; /* guarded by mu; UINT64_MAX = unbounded */
    pthread_mutex_t mu;
    uint64_t operations, acknowledged, failed, bad_reads;
    int fatal; /* a history write failed: the run proves nothing */
} run_shared;

typedef struct run_thread {
    run_shared *sh;
    uint32_t index;
    pthread_t tid;
} run_thread;

static bool take_op(run_shared *sh)
{
    pthread_mutex_lock(&sh->mu);
    bool ok = !sh->fatal && now_s() < sh->deadline && sh->ops_left > 0 &&
              !(sh->o->stop_file && access(sh->o->stop_file, F_OK) == 0);
    if (ok && sh->ops_left != UINT64_MAX) sh->ops_left--;
    pthread_mutex_unlock(&sh->mu);
    return ok;
}

static void count(run_shared *sh, int hist_rc, bool ack, bool fail, bool bad)
{
    pthread_mutex_lock(&sh->mu);
    sh->operations++;
    sh->acknowledged += ack;
    sh->failed += fail;
    sh->bad_reads += bad;
    if (hist_rc < 0 && !sh->fatal) sh->fatal = hist_rc;
    pthread_mutex_unlock(&sh->mu);
}

static int do_write(run_shared *sh, chaos_expect *e, uint32_t file, uint64_t gen, uint8_t *buf)
{
    const chaos_params *p = &sh->params;
    char path[512];
    file_path(p, file, path, sizeof path);
    uint64_t len = chaos_content_len(p->seed, file, gen, p->max_size);
    chaos_content_fill(p->seed, file, gen, 0, buf, (size_t)len);
    int hrc = chaos_history_add(sh->hist, CHAOS_INVOKE, CHAOS_WRITE, file, (int64_t)gen, 0);
    if (hrc < 0) return hrc;
    chaos_expect_apply(e, CHAOS_INVOKE, CHAOS_WRITE, (int64_t)gen);
    int rc = chaos_store_write(sh->store, path, buf, (size_t)len);
    if (rc == 0) {
        chaos_expect_apply(e, CHAOS_OK, CHAOS_WRITE, (int64_t)gen);
        hrc = chaos_history_add(sh->hist, CHAOS_OK, CHAOS_WRITE, file, (int64_t)gen, 0);
    } else {
        hrc = chaos_history_add(sh->hist, CHAOS_FAIL, CHAOS_WRITE, file, (int64_t)gen, rc);
    }
    count(sh, hrc, rc == 0, rc != 0, false);
    return hrc;
}

static int do_unlink(run_shared *sh, chaos_expect *e, uint32_t file)
{
    char path[512];
    file_path(&sh->params, file, path, sizeof path);
    int hrc = chaos_history_add(sh->hist, CHAOS_INVOKE, CHAOS_UNLINK, file, 0, 0);
    if (hrc < 0) return hrc;
    chaos_expect_apply(e, CHAOS_INVOKE, CHAOS_UNLINK, 0);
    int rc = chaos_store_unlink(sh->store, path);
    /* -ENOENT: the file was already gone, which is an acknowledged "absent" too. */
    if (rc == 0 || (rc == -ENOENT && e->acked < 0)) {
        chaos_expect_apply(e, CHAOS_OK, CHAOS_UNLINK, 0);
        hrc = chaos_history_add(sh->hist, CHAOS_OK, CHAOS_UNLINK, file, 0, 0);
        rc = 0;
    } else {
        hrc = chaos_history_add(sh->hist, CHAOS_FAIL, CHAOS_UNLINK, file, 0, rc);
    }
    count(sh, hrc, rc == 0, rc != 0, false);
    return hrc;
}

static int do_read(run_shared *sh, const chaos_expect *e, uint32_t file)
{
    char path[512], why[256];
    file_path(&sh->params, file, path, sizeof path);
    uint8_t *data = NULL;
    uint64_t len = 0;
    int rc = chaos_store_read(sh->store, path, sh->params.max_size, &data, &len);
    int hrc;
    bool bad = false;
    if (rc == 0 || rc == -ENOENT) {
        int64_t matched;
        chaos_verdict v = chaos_expect_verify(e, &sh->params, file, rc == 0, data, len, &matched,
                                              why, sizeof why);
        bad = v != CHAOS_VERDICT_OK;
        if (bad) fprintf(stderr, "chaos_workload: BAD READ: %s\n", why);
        hrc = chaos_history_add(sh->hist, bad ? CHAOS_BAD : CHAOS_OK, CHAOS_READ, file,
                                bad ? 0 : matched, 0);
    } else if (rc == -EFBIG) {
        bad = true;
        fprintf(stderr, "chaos_workload: BAD READ: f%u is larger than any generation\n", file);
        hrc = chaos_history_add(sh->hist, CHAOS_BAD, CHAOS_READ, file, 0, 0);
    } else {
        hrc = chaos_history_add(sh->hist, CHAOS_FAIL, CHAOS_READ, file, 0, rc);
    }
    free(data);
    count(sh, hrc, false, rc != 0 && rc != -ENOENT && !bad, bad);
    return hrc;
}

static void *run_thread_main(void *arg)
{
    run_thread *t = arg;
    run_shared *sh = t->sh;
    const chaos_params *p = &sh->params;
    uint32_t T = sh->o->threads;
    uint32_t nmine = (p->files - t->index + T - 1) / T; /* files index, index+T, ... */
    chaos_expect *exp = calloc(nmine, sizeof *exp);
    uint64_t *gen = calloc(nmine, sizeof *gen);
    uint8_t *buf = malloc(p->max_size + 1);
    if (!exp || !gen || !buf) {
        pthread_mutex_lock(&sh->mu);
        sh->fatal = -ENOMEM;
        pthread_mutex_unlock(&sh->mu);
        free(exp);
        free(gen);
        free(buf);
        return NULL;
    }
    for (uint32_t i = 0; i < nmine; i++)
        chaos_expect_init(&exp[i]);
    uint64_t rng = sh->params.seed * 1000003u + t->index;
    while (take_op(sh)) {
        uint32_t k = (uint32_t)(rng_next(&rng) % nmine);
        uint32_t file = t->index + k * T;
        uint64_t r = rng_next(&rng) % 100;
        int hrc;
        if (r < 55)
            hrc = do_write(sh, &exp[k], file, ++gen[k], buf);
        else if (r < 92)
            hrc = do_read(sh, &exp[k], file);
        else
            hrc = do_unlink(sh, &exp[k], file);
        if (hrc < 0) {
            fprintf(stderr, "chaos_workload: history write failed: %s\n", strerror(-hrc));
            break;
        }
    }
    for (uint32_t i = 0; i < nmine; i++)
        chaos_expect_free(&exp[i]);
    free(exp);
    free(gen);
    free(buf);
    return NULL;
}

static int cmd_run(const opts *o)
{
    if (!o->dir || o->dir[0] != '/' || !o->history || o->threads == 0 || o->files == 0 ||
        o->files < o->threads || (o->duration_s == 0 && o->ops == 0)) {
        fprintf(stderr, "chaos_workload run: need --dir /ABS --history H, --duration or --ops, "
                        "and files >= threads >= 1\n");
        return 2;
    }
    run_shared sh = {.o = o, .ops_left = o->ops ? o->ops : UINT64_MAX};
    sh.params.seed = o->seed;
    sh.params.max_size = o->max_size;
    sh.params.files = o->files;
    snprintf(sh.params.dir, sizeof sh.params.dir, "%s", o->dir);
    pthread_mutex_init(&sh.mu, NULL);
    if (open_store(o, &sh.store) < 0) return 2;
    int rc = chaos_history_create(o->history, &sh.params, &sh.hist);
    if (rc < 0) {
        fprintf(stderr, "chaos_workload: %s: %s\n", o->history, strerror(-rc));
        chaos_store_close(sh.store);
        return 2;
    }
    /* The directory must exist before the clock starts; faults may already be under way. */
    double mk_deadline = now_s() + 120;
    while ((rc = chaos_store_mkdirs(sh.store, o->dir)) < 0 && now_s() < mk_deadline)
        usleep(200000);
    if (rc < 0) {
        fprintf(stderr, "chaos_workload: mkdir %s: %s\n", o->dir, cfs_strerror(rc));
        chaos_history_close(sh.hist);
        chaos_store_close(sh.store);
        return 2;
    }
    sh.deadline = o->duration_s ? now_s() + (double)o->duration_s : 1e300;
    run_thread *th = calloc(o->threads, sizeof *th);
    if (!th) return 2;
    for (uint32_t i = 0; i < o->threads; i++) {
        th[i] = (run_thread){.sh = &sh, .index = i};
        if (pthread_create(&th[i].tid, NULL, run_thread_main, &th[i]) != 0) {
            fprintf(stderr, "chaos_workload: pthread_create failed\n");
            return 2;
        }
    }
    for (uint32_t i = 0; i < o->threads; i++)
        pthread_join(th[i].tid, NULL);
    free(th);
    chaos_history_close(sh.hist);
    chaos_store_close(sh.store);
    printf("run: operations=%" PRIu64 " acknowledged=%" PRIu64 " failed=%" PRIu64
           " bad_reads=%" PRIu64 "\n",
           sh.operations, sh.acknowledged, sh.failed, sh.bad_reads);
    fflush(stdout);
    if (sh.fatal) return 2;
    return sh.bad_reads ? 1 : 0;
}

/* ------------------------------------------------------------------ check */

static int cmd_check(const opts *o)
{
    if (!o->history) {
        fprintf(stderr, "chaos_workload check: need --history H\n");
        return 2;
    }
    chaos_loaded l;
    int rc = chaos_history_load(o->history, &l);
    if (rc < 0) {
        fprintf(stderr, "chaos_workload: %s: %s\n", o->history, strerror(-rc));
        return 2;
    }
    chaos_store *store;
    if (open_store(o, &store) < 0) {
        chaos_loaded_free(&l);
        return 2;
    }
    uint64_t lost = 0, corrupt = l.bad_reads;
    if (l.bad_reads)
        fprintf(stderr, "check: %" PRIu64 " bad reads recorded during the run\n", l.bad_reads);
    for (uint32_t f = 0; f < l.params.files; f++) {
        char path[512], why[256];
        file_path(&l.params, f, path, sizeof path);
        uint8_t *data = NULL;
        uint64_t len = 0;
        double deadline = now_s() + o->wait_s;
        while ((rc = chaos_store_read(store, path, l.params.max_size, &data, &len)) < 0 &&
               rc != -ENOENT && rc != -EFBIG && now_s() < deadline)
            usleep(500000);
        if (rc == -EFBIG) {
            fprintf(stderr, "check: CORRUPT: %s is larger than any generation\n", path);
            corrupt++;
        } else if (rc < 0 && rc != -ENOENT) {
            fprintf(stderr, "check: LOST: %s unreadable for %d s: %s\n", path, o->wait_s,
                    cfs_strerror(rc));
            lost++;
        } else {
            int64_t matched;
            chaos_verdict v = chaos_expect_verify(&l.expect[f], &l.params, f, rc == 0, data, len,
                                                  &matched, why, sizeof why);
            if (v == CHAOS_VERDICT_LOST) {
                fprintf(stderr, "check: LOST: %s: %s\n", path, why);
                lost++;
            } else if (v == CHAOS_VERDICT_CORRUPT) {
                fprintf(stderr, "check: CORRUPT: %s: %s\n", path, why);
                corrupt++;
            }
        }
        free(data);
    }
    printf("check: files=%u operations=%" PRIu64 " acknowledged=%" PRIu64 " lost=%" PRIu64
           " corrupt=%" PRIu64 "\n",
           l.params.files, l.operations, l.acknowledged, lost, corrupt);
    fflush(stdout);
    chaos_store_close(store);
    chaos_loaded_free(&l);
    return lost || corrupt ? 1 : 0;
}

/* ------------------------------------------------------------------ gen, probe */

static int cmd_gen(const opts *o)
{
    if (o->gen == 0 || o->file > UINT32_MAX) {
        fprintf(stderr, "chaos_workload gen: need --file I --gen G (G >= 1)\n");
        return 2;
    }
    uint64_t len = chaos_content_len(o->seed, (uint32_t)o->file, o->gen, o->max_size);
    uint8_t buf[65536];
    for (uint64_t off = 0; off < len; off += sizeof buf) {
        size_t n = (size_t)(len - off < sizeof buf ? len - off : sizeof buf);
        chaos_content_fill(o->seed, (uint32_t)o->file, o->gen, off, buf, n);
        if (fwrite(buf, 1, n, stdout) != n) return 2;
    }
    return fflush(stdout) == 0 ? 0 : 2;
}

static int cmd_probe(const opts *o)
{
    if (!o->addr || (!o->path == !o->mkdir_name)) {
        fprintf(stderr, "chaos_workload probe: need --addr and one of --path, --mkdir\n");
        return 2;
    }
    rpc_global_init();
    /* The same credentials as every client: CHUNKFS_SECRET_FILE and friends. */
    cfs_security_opts sec = {0};
    cfs_security_from_env(&sec);
    char err_msg[256];
    int src = cfs_security_apply(&sec, false, err_msg, sizeof err_msg);
    if (src < 0) {
        fprintf(stderr, "chaos_workload probe: %s\n", err_msg);
        return 2;
    }
    Chunkfs__Cred cred = CHUNKFS__CRED__INIT;
    Chunkfs__MetaRequest req = CHUNKFS__META_REQUEST__INIT;
    Chunkfs__ResolveReq res = CHUNKFS__RESOLVE_REQ__INIT;
    Chunkfs__MkdirReq mk = CHUNKFS__MKDIR_REQ__INIT;
    uint64_t rs = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    req.cred = &cred;
    req.client_id = rng_next(&rs) | 1;
    req.request_id = 1;
    if (o->path) {
        res.path = (char *)o->path;
        res.follow = true;
        req.op_case = CHUNKFS__META_REQUEST__OP_RESOLVE;
        req.resolve = &res;
    } else {
        mk.parent = CFS_ROOT_INO;
        mk.name = (char *)o->mkdir_name;
        mk.mode = 0755;
        req.op_case = CHUNKFS__META_REQUEST__OP_MKDIR;
        req.mkdir = &mk;
    }
    ProtobufCMessage *raw = NULL;
    int rc = rpc_unary_pb(o->addr, CFS_META_METHOD, &req.base, &chunkfs__meta_response__descriptor,
                          o->timeout_ms, &raw);
    if (rc < 0) {
        printf("probe: err=%d (%s)\n", rc, cfs_strerror(rc));
        return rc == -CFS_ENOTLEADER ? 3 : 1;
    }
    Chunkfs__MetaResponse *r = (Chunkfs__MetaResponse *)raw;
    int err = r->err;
    uint64_t size = 0, generation = 0;
    if (err == 0 && r->result_case == CHUNKFS__META_RESPONSE__RESULT_ATTR && r->attr) {
        size = r->attr->size;
        generation = r->attr->generation;
    }
    printf("probe: err=%d (%s) size=%" PRIu64 " generation=%" PRIu64 "\n", err,
           err ? cfs_strerror(err) : "ok", size, generation);
    chunkfs__meta_response__free_unpacked(r, NULL);
    return err == 0 ? 0 : err == -CFS_ENOTLEADER ? 3 : 1;
}

/* ------------------------------------------------------------------ main */

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-') return -EINVAL;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: chaos_workload run|check|gen|probe [options] (see the source "
                        "header: tests/chaos/chaos_workload.c)\n");
        return 2;
    }
    const char *cmd = argv[1];
    /* Library logs: warnings by default, CHUNKFS_LOG=debug|info|... like the CLI. */
    cfs_log_set_component("chaos");
    cfs_log_set_level(CFS_LOG_WARN);
    const char *lvl = getenv("CHUNKFS_LOG");
    enum cfs_log_level ll;
    if (lvl && cfs_log_parse_level(lvl, &ll) == 0) cfs_log_set_level(ll);
    opts o = {.meta = getenv("CHUNKFS_META"),
              .threads = 2,
              .files = 8,
              .max_size = 2600000,
              .timeout_ms = 30000,
              .wait_s = 120};
    static const struct option lo[] = {{"meta", required_argument, NULL, 'M'},
                                       {"mount", required_argument, NULL, 'm'},
                                       {"dir", required_argument, NULL, 'd'},
                                       {"history", required_argument, NULL, 'H'},
                                       {"seed", required_argument, NULL, 's'},
                                       {"duration", required_argument, NULL, 'D'},
                                       {"ops", required_argument, NULL, 'n'},
                                       {"threads", required_argument, NULL, 't'},
                                       {"files", required_argument, NULL, 'f'},
                                       {"max-size", required_argument, NULL, 'z'},
                                       {"file", required_argument, NULL, 'F'},
                                       {"gen", required_argument, NULL, 'g'},
                                       {"addr", required_argument, NULL, 'a'},
                                       {"path", required_argument, NULL, 'p'},
                                       {"mkdir", required_argument, NULL, 'k'},
                                       {"timeout-ms", required_argument, NULL, 'T'},
                                       {"wait", required_argument, NULL, 'w'},
                                       {"stop-file", required_argument, NULL, 'S'},
                                       {NULL, 0, NULL, 0}};
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        uint64_t v = 0;
        const char *a = optarg;
        bool numeric = strchr("sDntfzFgTw", c) != NULL;
        if (numeric && parse_u64(a, &v) < 0) {
            fprintf(stderr, "chaos_workload: bad number '%s'\n", a);
            return 2;
        }
        switch (c) {
        case 'M':
            o.meta = a;
            break;
        case 'm':
            o.mount = a;
            break;
        case 'd':
            o.dir = a;
            break;
        case 'H':
            o.history = a;
            break;
        case 'a':
            o.addr = a;
            break;
        case 'p':
            o.path = a;
            break;
        case 'k':
            o.mkdir_name = a;
            break;
        case 'S':
            o.stop_file = a;
            break;
        case 's':
            o.seed = v;
            break;
        case 'D':
            o.duration_s = v;
            break;
        case 'n':
            o.ops = v;
            break;
        case 't':
            o.threads = (uint32_t)(v > 64 ? 64 : v);
            break;
        case 'f':
            o.files = (uint32_t)(v > 100000 ? 100000 : v);
            break;
        case 'z':
            o.max_size = v > (1ull << 30) ? 1ull << 30 : v;
            break;
        case 'F':
            o.file = v;
            break;
        case 'g':
            o.gen = v;
            break;
        case 'T':
            o.timeout_ms = v < 100 ? 100 : v > 600000 ? 600000 : (int)v;
            break;
        case 'w':
            o.wait_s = v > 3600 ? 3600 : (int)v;
            break;
        default:
            return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "chaos_workload: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    bool needs_store = strcmp(cmd, "run") == 0 || strcmp(cmd, "check") == 0;
    if (needs_store && !o.mount && (!o.meta || !o.meta[0])) {
        fprintf(stderr, "chaos_workload: give --meta (or CHUNKFS_META) or --mount\n");
        return 2;
    }
    if (strcmp(cmd, "run") == 0) return cmd_run(&o);
    if (strcmp(cmd, "check") == 0) return cmd_check(&o);
    if (strcmp(cmd, "gen") == 0) return cmd_gen(&o);
    if (strcmp(cmd, "probe") == 0) return cmd_probe(&o);
    fprintf(stderr, "chaos_workload: unknown command '%s'\n", cmd);
    return 2;
}
