/* bench_meta_ops: metadata operations per second through libchunkfs.
 * T caller threads share one cfs_fs; each works in its own directory /<root>/t<k> and runs N
 * rounds of create (O_EXCL, closed at once), stat (getattr), rename and unlink. Each phase runs
 * in every thread before the next phase starts (a barrier between phases), so each phase's
 * figure is ops/s of that operation alone. Prints one line per phase:
 *   phase=<name> threads=<T> ops=<n> seconds=<s> ops_per_s=<r>
 * Usage: bench_meta_ops META_ADDRS [--threads T] [--ops N] [--root NAME]
 * Exit 0 on success; any failed call is reported and gives exit 1. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/chunkfs.h"

enum phase { PH_CREATE, PH_STAT, PH_RENAME, PH_UNLINK, PH_COUNT };
static const char *const phase_names[PH_COUNT] = {"create", "stat", "rename", "unlink"};

struct shared {
    cfs_fs *fs;
    cfs_cred cred;
    long ops;
    pthread_barrier_t barrier;
    double phase_start[PH_COUNT];
    double phase_end[PH_COUNT];
    int failed;
    pthread_mutex_t lock;
};

struct worker {
    struct shared *sh;
    int index;
    uint64_t dir_ino;
    uint64_t *inos;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fail(struct shared *sh, const char *what, long i, int rc)
{
    pthread_mutex_lock(&sh->lock);
    if (!sh->failed) fprintf(stderr, "bench_meta_ops: %s #%ld: %s\n", what, i, strerror(-rc));
    sh->failed = 1;
    pthread_mutex_unlock(&sh->lock);
}

static int run_phase(struct worker *w, enum phase ph)
{
    struct shared *sh = w->sh;
    char name[64], name2[64];
    for (long i = 0; i < sh->ops; i++) {
        int rc = 0;
        snprintf(name, sizeof(name), "f%ld", i);
        snprintf(name2, sizeof(name2), "g%ld", i);
        cfs_attr a;
        switch (ph) {
        case PH_CREATE: {
            cfs_file *fh = NULL;
            rc = cfs_create(sh->fs, w->dir_ino, name, 0644, O_WRONLY | O_EXCL, &sh->cred, &a, &fh);
            if (rc == 0) {
                w->inos[i] = a.ino;
                rc = cfs_close(fh);
            }
            break;
        }
        case PH_STAT:
            rc = cfs_getattr(sh->fs, w->inos[i], &sh->cred, &a);
            break;
        case PH_RENAME:
            rc = cfs_rename(sh->fs, w->dir_ino, name, w->dir_ino, name2, 0, &sh->cred);
            break;
        case PH_UNLINK:
            rc = cfs_unlink(sh->fs, w->dir_ino, name2, &sh->cred);
            break;
        default:
            rc = -EINVAL;
        }
        if (rc < 0) {
            fail(sh, phase_names[ph], i, rc);
            return rc;
        }
    }
    return 0;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct shared *sh = w->sh;
    for (int ph = 0; ph < PH_COUNT; ph++) {
        /* Every thread waits for all, so the phase timer covers exactly this phase. */
        if (pthread_barrier_wait(&sh->barrier) == PTHREAD_BARRIER_SERIAL_THREAD)
            sh->phase_start[ph] = now_s();
        if (!sh->failed) run_phase(w, (enum phase)ph);
        if (pthread_barrier_wait(&sh->barrier) == PTHREAD_BARRIER_SERIAL_THREAD)
            sh->phase_end[ph] = now_s();
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s META_ADDRS [--threads T] [--ops N] [--root NAME]\n", argv[0]);
        return 2;
    }
    int threads = 1;
    long ops = 1000;
    const char *root = "bench_meta_ops";
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            threads = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--ops") && i + 1 < argc) {
            ops = atol(argv[++i]);
        } else if (!strcmp(argv[i], "--root") && i + 1 < argc) {
            root = argv[++i];
        } else {
            fprintf(stderr, "bench_meta_ops: unknown argument %s\n", argv[i]);
            return 2;
        }
    }
    if (threads < 1 || threads > 1024 || ops < 1) {
        fprintf(stderr, "bench_meta_ops: --threads must be 1..1024 and --ops >= 1\n");
        return 2;
    }

    struct shared sh;
    memset(&sh, 0, sizeof(sh));
    sh.ops = ops;
    pthread_mutex_init(&sh.lock, NULL);
    cfs_cred_self(&sh.cred);
    int rc = cfs_connect(argv[1], NULL, &sh.fs);
    if (rc < 0) {
        fprintf(stderr, "bench_meta_ops: connect %s: %s\n", argv[1], strerror(-rc));
        return 1;
    }

    cfs_attr top;
    rc = cfs_mkdir(sh.fs, CFS_ROOT_INO, root, 0755, &sh.cred, &top);
    if (rc < 0) {
        fprintf(stderr, "bench_meta_ops: mkdir /%s: %s\n", root, strerror(-rc));
        cfs_disconnect(sh.fs);
        return 1;
    }
    struct worker *ws = calloc((size_t)threads, sizeof(*ws));
    pthread_t *tids = calloc((size_t)threads, sizeof(*tids));
    if (!ws || !tids) {
        fprintf(stderr, "bench_meta_ops: out of memory\n");
        cfs_disconnect(sh.fs);
        return 1;
    }
    for (int t = 0; t < threads; t++) {
        char dname[32];
        snprintf(dname, sizeof(dname), "t%d", t);
        cfs_attr d;
        rc = cfs_mkdir(sh.fs, top.ino, dname, 0755, &sh.cred, &d);
        ws[t].inos = calloc((size_t)ops, sizeof(uint64_t));
        if (rc < 0 || !ws[t].inos) {
            fprintf(stderr, "bench_meta_ops: setting up %s: %s\n", dname,
                    rc < 0 ? strerror(-rc) : "out of memory");
            cfs_disconnect(sh.fs);
            return 1;
        }
        ws[t].sh = &sh;
        ws[t].index = t;
        ws[t].dir_ino = d.ino;
    }

    pthread_barrier_init(&sh.barrier, NULL, (unsigned)threads);
    int started = 0;
    for (int t = 0; t < threads; t++) {
        if (pthread_create(&tids[t], NULL, worker_main, &ws[t]) != 0) break;
        started++;
    }
    if (started != threads) {
        /* The barrier counts every thread; without all of them the started ones would wait
         * forever, so this is fatal. */
        fprintf(stderr, "bench_meta_ops: could not start %d threads\n", threads);
        return 1;
    }
    for (int t = 0; t < threads; t++)
        pthread_join(tids[t], NULL);

    if (!sh.failed) {
        for (int ph = 0; ph < PH_COUNT; ph++) {
            double secs = sh.phase_end[ph] - sh.phase_start[ph];
            long n = ops * threads;
            printf("phase=%s threads=%d ops=%ld seconds=%.3f ops_per_s=%.1f\n", phase_names[ph],
                   threads, n, secs, secs > 0 ? (double)n / secs : 0.0);
        }
        /* Leave the namespace as found: the per-thread directories are empty now. */
        for (int t = 0; t < threads; t++) {
            char dname[32];
            snprintf(dname, sizeof(dname), "t%d", t);
            rc = cfs_rmdir(sh.fs, top.ino, dname, &sh.cred);
            if (rc < 0) fail(&sh, "rmdir", t, rc);
        }
        rc = cfs_rmdir(sh.fs, CFS_ROOT_INO, root, &sh.cred);
        if (rc < 0) fail(&sh, "rmdir root", 0, rc);
    }
    for (int t = 0; t < threads; t++)
        free(ws[t].inos);
    free(ws);
    free(tids);
    pthread_barrier_destroy(&sh.barrier);
    cfs_disconnect(sh.fs);
    return sh.failed ? 1 : 0;
}
