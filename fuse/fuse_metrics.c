/* FUSE operation metrics (see fuse_metrics.h). Each operation in the libfuse table is wrapped
 * by a function of the same signature that times the call; the error, if any, is picked up
 * from a thread-local set by fuse_reply_errno (every handler replies before returning, on the
 * thread that called it). */
#include "fuse/fuse_metrics.h"

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/metrics.h"
#include "common/time_util.h"

#define FUSE_OPS(X)                                                                                \
    X(lookup)                                                                                      \
    X(forget) X(forget_multi) X(getattr) X(setattr) X(readlink) X(mknod) X(mkdir) X(unlink)        \
        X(rmdir) X(symlink) X(rename) X(link) X(open) X(read) X(write) X(flush) X(release)         \
            X(fsync) X(opendir) X(readdir) X(readdirplus) X(releasedir) X(fsyncdir) X(statfs)      \
                X(setxattr) X(getxattr) X(listxattr) X(removexattr) X(access) X(create) X(getlk)   \
                    X(setlk) X(flock)

enum {
#define OP_ENUM(op) OP_##op,
    FUSE_OPS(OP_ENUM)
#undef OP_ENUM
        OP_COUNT
};

static const char *const op_names[OP_COUNT] = {
#define OP_NAME(op) #op,
    FUSE_OPS(OP_NAME)
#undef OP_NAME
};

/* errno values with a cached error-counter handle per operation; larger ones are looked up. */
#define ERRNO_CACHED 134

static atomic_bool enabled;
static cfs_counter *ops_total[OP_COUNT];
static cfs_histogram *op_seconds[OP_COUNT];
static _Atomic(cfs_counter *) op_errors[OP_COUNT][ERRNO_CACHED];
static cfs_counter *read_bytes, *written_bytes;
static cfs_gauge *open_files, *write_handles;
static struct fuse_lowlevel_ops inner;

/* The errno of the reply the current handler sent (0 if none or success). */
static _Thread_local int reply_errno_tls;

static cfs_counter *error_counter(int op, int e)
{
    if (e > 0 && e < ERRNO_CACHED) {
        cfs_counter *c = atomic_load_explicit(&op_errors[op][e], memory_order_acquire);
        if (c) return c;
    }
    char num[16];
    const char *name = strerrorname_np(e);
    if (!name) {
        snprintf(num, sizeof num, "%d", e);
        name = num;
    }
    const char *labels[] = {"op", op_names[op], "errno", name, NULL};
    cfs_counter *c = NULL;
    if (cfs_metrics_counter(cfs_metrics_global(), "cfs_fuse_op_errors_total",
                            "FUSE requests answered with an error, per operation and errno.",
                            labels, &c) != 0)
        return NULL;
    /* Racing threads get the same handle from the registry: storing it twice is harmless. */
    if (e > 0 && e < ERRNO_CACHED)
        atomic_store_explicit(&op_errors[op][e], c, memory_order_release);
    return c;
}

static int64_t op_begin(void)
{
    reply_errno_tls = 0;
    return cfs_mono_ns();
}

static void op_end(int op, int64_t start_ns)
{
    cfs_counter_inc(ops_total[op]);
    cfs_histogram_observe(op_seconds[op], (double)(cfs_mono_ns() - start_ns) / 1e9);
    int e = reply_errno_tls;
    if (e != 0) {
        cfs_counter *c = error_counter(op, e);
        if (c) cfs_counter_inc(c);
    }
}

#define WRAP(op, params, args)                                                                     \
    static void w_##op params                                                                      \
    {                                                                                              \
        int64_t t0 = op_begin();                                                                   \
        inner.op args;                                                                             \
        op_end(OP_##op, t0);                                                                       \
    }

typedef struct fuse_file_info ffi;
WRAP(lookup, (fuse_req_t r, fuse_ino_t p, const char *n), (r, p, n))
WRAP(forget, (fuse_req_t r, fuse_ino_t i, uint64_t n), (r, i, n))
WRAP(forget_multi, (fuse_req_t r, size_t c, struct fuse_forget_data *f), (r, c, f))
WRAP(getattr, (fuse_req_t r, fuse_ino_t i, ffi *f), (r, i, f))
WRAP(setattr, (fuse_req_t r, fuse_ino_t i, struct stat *a, int s, ffi *f), (r, i, a, s, f))
WRAP(readlink, (fuse_req_t r, fuse_ino_t i), (r, i))
WRAP(mknod, (fuse_req_t r, fuse_ino_t p, const char *n, mode_t m, dev_t d), (r, p, n, m, d))
WRAP(mkdir, (fuse_req_t r, fuse_ino_t p, const char *n, mode_t m), (r, p, n, m))
WRAP(unlink, (fuse_req_t r, fuse_ino_t p, const char *n), (r, p, n))
WRAP(rmdir, (fuse_req_t r, fuse_ino_t p, const char *n), (r, p, n))
WRAP(symlink, (fuse_req_t r, const char *l, fuse_ino_t p, const char *n), (r, l, p, n))
WRAP(rename,
     (fuse_req_t r, fuse_ino_t p, const char *n, fuse_ino_t np, const char *nn, unsigned fl),
     (r, p, n, np, nn, fl))
WRAP(link, (fuse_req_t r, fuse_ino_t i, fuse_ino_t np, const char *nn), (r, i, np, nn))
WRAP(open, (fuse_req_t r, fuse_ino_t i, ffi *f), (r, i, f))
WRAP(read, (fuse_req_t r, fuse_ino_t i, size_t s, off_t o, ffi *f), (r, i, s, o, f))
WRAP(write, (fuse_req_t r, fuse_ino_t i, const char *b, size_t s, off_t o, ffi *f),
     (r, i, b, s, o, f))
WRAP(flush, (fuse_req_t r, fuse_ino_t i, ffi *f), (r, i, f))
WRAP(release, (fuse_req_t r, fuse_ino_t i, ffi *f), (r, i, f))
WRAP(fsync, (fuse_req_t r, fuse_ino_t i, int d, ffi *f), (r, i, d, f))
WRAP(opendir, (fuse_req_t r, fuse_ino_t i, ffi *f), (r, i, f))
WRAP(readdir, (fuse_req_t r, fuse_ino_t i, size_t s, off_t o, ffi *f), (r, i, s, o, f))
WRAP(readdirplus, (fuse_req_t r, fuse_ino_t i, size_t s, off_t o, ffi *f), (r, i, s, o, f))
WRAP(releasedir, (fuse_req_t r, fuse_ino_t i, ffi *f), (r, i, f))
WRAP(fsyncdir, (fuse_req_t r, fuse_ino_t i, int d, ffi *f), (r, i, d, f))
WRAP(statfs, (fuse_req_t r, fuse_ino_t i), (r, i))
WRAP(setxattr, (fuse_req_t r, fuse_ino_t i, const char *n, const char *v, size_t s, int fl),
     (r, i, n, v, s, fl))
WRAP(getxattr, (fuse_req_t r, fuse_ino_t i, const char *n, size_t s), (r, i, n, s))
WRAP(listxattr, (fuse_req_t r, fuse_ino_t i, size_t s), (r, i, s))
WRAP(removexattr, (fuse_req_t r, fuse_ino_t i, const char *n), (r, i, n))
WRAP(access, (fuse_req_t r, fuse_ino_t i, int m), (r, i, m))
WRAP(create, (fuse_req_t r, fuse_ino_t p, const char *n, mode_t m, ffi *f), (r, p, n, m, f))
WRAP(getlk, (fuse_req_t r, fuse_ino_t i, ffi *f, struct flock *l), (r, i, f, l))
WRAP(setlk, (fuse_req_t r, fuse_ino_t i, ffi *f, struct flock *l, int s), (r, i, f, l, s))
WRAP(flock, (fuse_req_t r, fuse_ino_t i, ffi *f, int o), (r, i, f, o))

static int register_metrics(void)
{
    cfs_metrics *r = cfs_metrics_global();
    int rc;
    for (int op = 0; op < OP_COUNT; op++) {
        const char *labels[] = {"op", op_names[op], NULL};
        if ((rc = cfs_metrics_counter(r, "cfs_fuse_ops_total",
                                      "FUSE requests handled, per operation.", labels,
                                      &ops_total[op])) != 0 ||
            (rc = cfs_metrics_histogram(
                 r, "cfs_fuse_op_seconds", "FUSE request handling latency, per operation.", labels,
                 cfs_latency_buckets, cfs_latency_buckets_n, &op_seconds[op])) != 0)
            return rc;
    }
    if ((rc = cfs_metrics_counter(r, "cfs_fuse_read_bytes_total",
                                  "File data bytes returned to read requests.", NULL,
                                  &read_bytes)) != 0 ||
        (rc = cfs_metrics_counter(r, "cfs_fuse_written_bytes_total",
                                  "File data bytes accepted from write requests.", NULL,
                                  &written_bytes)) != 0 ||
        (rc = cfs_metrics_gauge(r, "cfs_fuse_open_files",
                                "FUSE file handles open (descriptors of this mount).", NULL,
                                &open_files)) != 0 ||
        (rc = cfs_metrics_gauge(r, "cfs_fuse_write_handles",
                                "libchunkfs write handles held (one write lease each).", NULL,
                                &write_handles)) != 0)
        return rc;
    return 0;
}

int fuse_metrics_enable(struct fuse_lowlevel_ops *ops)
{
    int rc = register_metrics();
    if (rc != 0) {
        LOG_ERROR("metrics: cannot register FUSE metrics: %d", rc);
        return rc;
    }
    inner = *ops;
#define WRAP_SET(op)                                                                               \
    if (ops->op) ops->op = w_##op;
    FUSE_OPS(WRAP_SET)
#undef WRAP_SET
    atomic_store(&enabled, true);
    return 0;
}

int fuse_reply_errno(fuse_req_t req, int e)
{
    reply_errno_tls = e;
    return fuse_reply_err(req, e);
}

void fuse_metrics_read(size_t bytes)
{
    if (atomic_load_explicit(&enabled, memory_order_relaxed)) cfs_counter_add(read_bytes, bytes);
}

void fuse_metrics_written(size_t bytes)
{
    if (atomic_load_explicit(&enabled, memory_order_relaxed)) cfs_counter_add(written_bytes, bytes);
}

void fuse_metrics_open_files(int delta)
{
    if (atomic_load_explicit(&enabled, memory_order_relaxed)) cfs_gauge_add(open_files, delta);
}

void fuse_metrics_write_handles(int delta)
{
    if (atomic_load_explicit(&enabled, memory_order_relaxed)) cfs_gauge_add(write_handles, delta);
}
