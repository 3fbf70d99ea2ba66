#ifndef CFS_CHUNK_METRICS_H
#define CFS_CHUNK_METRICS_H
/* Chunkserver observability: data-path counters and fsync latency in the process-wide
 * metrics registry, store capacity/usage gauges, and the operator HTTP server (/metrics,
 * /log-level). The recorders are lock-free after their first call. */
#include <stdint.h>

#include "chunkserver/chunk_store.h"

/* cfs_chunk_written_bytes_total: client/chain write data stored locally. */
void chunk_metrics_written(uint64_t bytes);
/* cfs_chunk_read_bytes_total: data sent to readers. */
void chunk_metrics_read(uint64_t bytes);
/* cfs_chunk_fsync_seconds (histogram) and cfs_chunk_fsync_errors_total; start_ns is
 * cfs_mono_ns() before the sync, rc its result. */
void chunk_metrics_fsync(int64_t start_ns, int rc);

typedef struct chunk_http chunk_http;
/* Registers the store gauges and serves HTTP on `listen` (host:port; port 0 picks one);
 * *port = the bound port. 0 or -errno (-EINVAL bad address, -EADDRINUSE). */
int chunk_http_start(chunk_store *store, const char *listen, chunk_http **out, int *port);
/* Stops serving and unregisters the gauges (before chunk_store_close). NULL is fine. */
void chunk_http_stop(chunk_http *h);

#endif
