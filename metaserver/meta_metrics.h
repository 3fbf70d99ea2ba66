#ifndef CFS_META_METRICS_H
#define CFS_META_METRICS_H
/* Metaserver observability: per-operation request metrics, Raft and cluster gauges in the
 * process-wide metrics registry, and the operator HTTP server (/metrics, /log-level, the
 * status page / and /status.json). */
#include <stddef.h>
#include <stdint.h>

#include "metaserver/meta_server.h"

/* Records one MetaService call: cfs_meta_requests_total{op}, cfs_meta_request_errors_total{op}
 * (the packed reply carries err != 0) and cfs_meta_request_seconds{op}. start_ns is
 * cfs_mono_ns() at arrival. Lock-free after the first call. */
void meta_metrics_observe(int op_case, const uint8_t *resp, size_t resp_len, int64_t start_ns);

typedef struct meta_http meta_http;
/* Registers the Raft/cluster gauges for `ms` and serves HTTP on `listen` (host:port, port 0
 * picks one); *port = the bound port. 0 or -errno (-EINVAL bad address, -EADDRINUSE). */
int meta_http_start(meta_server *ms, const char *listen, meta_http **out, int *port);
/* Stops the HTTP server and unregisters the gauges (call before meta_server_destroy). */
void meta_http_stop(meta_http *h);

/* The cluster status as JSON (schema of `chunkfs status --json`, plus "served_by": this
 * node's id and "via": "self" or the leader address it was fetched from). A follower asks
 * the leader over MetaService. 0, or -CFS_ENOTLEADER (no leader known/reachable), -ENOMEM. */
int meta_status_json(meta_server *ms, char **out, size_t *len);

/* The embedded status page (HTML + CSS + JS; fetches /status.json). */
extern const char meta_status_html[];

#endif
