#ifndef CFS_FUSE_METRICS_H
#define CFS_FUSE_METRICS_H
/* Metrics of chunkfs-mount (-o http_listen=HOST:PORT), in the process-wide registry that
 * common/http_server.h serves at /metrics:
 *   cfs_fuse_ops_total{op}                FUSE requests handled, per operation
 *   cfs_fuse_op_errors_total{op,errno}    requests answered with an error (errno: "ENOENT"...)
 *   cfs_fuse_op_seconds{op}               handling latency histogram
 *   cfs_fuse_read_bytes_total, cfs_fuse_written_bytes_total
 *   cfs_fuse_open_files                   FUSE file handles open (descriptors of this mount)
 *   cfs_fuse_write_handles                libchunkfs write handles held (one write lease each)
 *
 * Without fuse_metrics_enable every function here is a no-op (one load and branch), so the
 * data path pays nothing when metrics are off. */
#include <stddef.h>

/* Declared, not included: open_files.c counts handles here and stays free of libfuse. */
struct fuse_lowlevel_ops;
struct fuse_req;

/* Registers the metrics and replaces every operation set in *ops with a wrapper that counts
 * and times it (call after the ops table is filled, before fuse_session_new). 0 or -EINVAL /
 * -ENOMEM from the registry (then nothing is wrapped). Call once. */
int fuse_metrics_enable(struct fuse_lowlevel_ops *ops);

/* Every error reply goes through here: replies with errno `e` (0 = success, as
 * fuse_reply_err) and records it against the operation this thread is handling. */
int fuse_reply_errno(struct fuse_req *req, int e);

void fuse_metrics_read(size_t bytes);
void fuse_metrics_written(size_t bytes);
/* delta +1/-1 as handles are opened and released. */
void fuse_metrics_open_files(int delta);
void fuse_metrics_write_handles(int delta);

#endif
