/* Every metaserver's own Raft figures and http address, for the leader's cluster status: a
 * node answers AdminReq op "self" from its own state (leader or not), and the leader asks its
 * peers with it, in parallel and with a short deadline, so that a status shows each node's
 * real commit/applied index rather than only the leader's view. */
#ifndef CFS_META_PEER_STATUS_H
#define CFS_META_PEER_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metaserver/meta_server_internal.h"

typedef struct meta_node_figures {
    bool reachable; /* false: the node did not answer in time (the other fields are zero) */
    char role[16];
    uint64_t term, commit_index, applied_index;
    char http[160]; /* "host:port", "" when it serves no http */
} meta_node_figures;

/* This node's figures (always reachable). Takes soft_lock briefly: do not hold it. */
void meta_self_figures(meta_server *ms, meta_node_figures *out);

/* Packs the MetaResponse to AdminReq op "self" (AdminResp.self). 0 or -ENOMEM. */
int meta_self_status_reply(meta_server *ms, uint8_t **out, size_t *len);

/* Asks the n addresses for their figures at once, each call bounded by timeout_ms; returns
 * when all have answered or timed out. out[i].reachable says whether addrs[i] answered. */
void meta_peer_figures(const char *const *addrs, size_t n, int timeout_ms, meta_node_figures *out);

#endif
