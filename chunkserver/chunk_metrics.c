/* Chunkserver metrics and HTTP endpoint (see chunk_metrics.h). */
#include "chunkserver/chunk_metrics.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "common/http_server.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/time_util.h"

static cfs_counter *written, *read_bytes, *fsync_errors;
static cfs_histogram *fsync_latency;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init(void)
{
    cfs_metrics *r = cfs_metrics_global();
    if (cfs_metrics_counter(r, "cfs_chunk_written_bytes_total", "Chunk data bytes written.", NULL,
                            &written) ||
        cfs_metrics_counter(r, "cfs_chunk_read_bytes_total", "Chunk data bytes sent to readers.",
                            NULL, &read_bytes) ||
        cfs_metrics_counter(r, "cfs_chunk_fsync_errors_total", "Failed chunk syncs.", NULL,
                            &fsync_errors) ||
        cfs_metrics_histogram(r, "cfs_chunk_fsync_seconds", "Chunk sync (fdatasync) latency.", NULL,
                              cfs_latency_buckets, cfs_latency_buckets_n, &fsync_latency)) {
        LOG_ERROR("metrics: cannot register chunkserver metrics");
        written = read_bytes = fsync_errors = NULL;
        fsync_latency = NULL;
    }
}

void chunk_metrics_written(uint64_t bytes)
{
    pthread_once(&once, init);
    if (written) cfs_counter_add(written, bytes);
}

void chunk_metrics_read(uint64_t bytes)
{
    pthread_once(&once, init);
    if (read_bytes) cfs_counter_add(read_bytes, bytes);
}

void chunk_metrics_fsync(int64_t start_ns, int rc)
{
    pthread_once(&once, init);
    if (!fsync_latency) return;
    cfs_histogram_observe(fsync_latency, (double)(cfs_mono_ns() - start_ns) / 1e9);
    if (rc != 0) cfs_counter_inc(fsync_errors);
}

static void store_hook(cfs_metrics *r, void *arg)
{
    chunk_store *store = arg;
    uint64_t cap = 0, used = 0;
    cfs_gauge *g;
    if (chunk_store_usage(store, &cap, &used) == 0) {
        if (cfs_metrics_gauge(r, "cfs_chunk_capacity_bytes", "Capacity of the data dirs.", NULL,
                              &g) == 0)
            cfs_gauge_set(g, (double)cap);
        if (cfs_metrics_gauge(r, "cfs_chunk_used_bytes", "Bytes used on the data dirs.", NULL,
                              &g) == 0)
            cfs_gauge_set(g, (double)used);
    }
    for (size_t i = 0; i < chunk_store_dir_count(store); i++) {
        const char *dir;
        if (chunk_store_dir_usage(store, i, &dir, &cap, &used) != 0) continue;
        const char *l[] = {"dir", dir, NULL};
        if (cfs_metrics_gauge(r, "cfs_chunk_disk_capacity_bytes",
                              "Capacity of the file system of each data dir.", l, &g) == 0)
            cfs_gauge_set(g, (double)cap);
        if (cfs_metrics_gauge(r, "cfs_chunk_disk_used_bytes",
                              "Bytes used on the file system of each data dir.", l, &g) == 0)
            cfs_gauge_set(g, (double)used);
    }
    if (cfs_metrics_gauge(r, "cfs_chunk_replicas", "Chunk replicas stored.", NULL, &g) == 0)
        cfs_gauge_set(g, (double)chunk_store_count(store));
}

struct chunk_http {
    chunk_store *store;
    cfs_http_server *http;
};

int chunk_http_start(chunk_store *store, const char *listen, chunk_http **out, int *port)
{
    chunk_http *h = calloc(1, sizeof(*h));
    if (!h) return -ENOMEM;
    h->store = store;
    pthread_once(&once, init);
    int rc = cfs_metrics_add_hook(cfs_metrics_global(), store_hook, store);
    if (rc == 0) rc = cfs_http_server_new(&h->http);
    if (rc == 0) rc = cfs_http_server_start(h->http, listen, port);
    if (rc) {
        chunk_http_stop(h);
        return rc;
    }
    *out = h;
    return 0;
}

void chunk_http_stop(chunk_http *h)
{
    if (!h) return;
    cfs_http_server_free(h->http);
    cfs_metrics_forget(cfs_metrics_global(), h->store);
    free(h);
}
