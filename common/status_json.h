/* The cluster status as JSON: ONE writer for `chunkfs status --json` and the metaservers'
 * GET /status.json, so that both have the same schema (documented in docs/operations.md). */
#ifndef CFS_STATUS_JSON_H
#define CFS_STATUS_JSON_H

#include <stdint.h>
#include <stdio.h>

#include "proto/chunkfs.pb-c.h"

/* Writes `st` as one JSON object and a newline to f: cluster_id, leader_id, metaservers
 * (id, address, role, term, commit_index, applied_index, match_index, reachable, http),
 * chunkservers (id, address, state, domain, capacity, used, chunks, last_heartbeat_ms, http),
 * namespace and chunk health counts, and the self-healing progress figures. When via is not
 * NULL, "served_by" (served_by) and "via" (via) are added after leader_id: which node rendered
 * it and where it got the status from ("self" or the leader's address). Write errors show up
 * in ferror(f). */
void cfs_status_json_write(FILE *f, const Chunkfs__ClusterStatusResp *st, uint64_t served_by,
                           const char *via);

#endif
