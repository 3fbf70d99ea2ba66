#ifndef CFS_META_SERVER_H
#define CFS_META_SERVER_H
/* meta_server: one metaserver process's moving parts wired together: the RPC server (one
 * address serving MetaService, ClusterService and RaftService), the Raft node replicating
 * meta_fsm, the leader's soft state (chunkserver registry, lock table) and the background
 * thread that expires dead servers and leases and schedules chunk deletes. */
#include <stdbool.h>
#include <stdint.h>

#include "common/chunk_token.h"
#include "raft/raft_node.h"

typedef struct meta_server meta_server;

typedef struct meta_server_config {
    uint64_t id;            /* this node's Raft id (nonzero) */
    const raft_peer *peers; /* initial voters, incl. this node */
    int n_peers;
    const char *data_dir;      /* formatted by meta_format_write */
    const char *listen;        /* host:port; port 0 binds a free port */
    int64_t dead_timeout_ms;   /* chunkserver without heartbeat for this long is dead; 0 = 5000 */
    uint32_t lease_ms;         /* write lease length handed to clients; 0 = 30000 */
    bool join;                 /* start as a non-voter waiting to be added */
    int tick_ms;               /* Raft tick; 0 = the node's default */
    int election_ticks;        /* 0 = the node's default */
    uint64_t snapshot_entries; /* 0 = the node's default */
    int64_t gc_grace_ms;       /* orphan/stale replicas live this long before deletion; 0 = none */
    int64_t delete_grace_ms;   /* removed files' chunks wait this long before deletion; 0 = none */
    uint32_t repair_max_inflight;    /* copies in flight cluster-wide; 0 = 64 */
    uint32_t repair_max_per_server;  /* copies in flight to one server; 0 = 4 */
    double rebalance_spread;         /* target: every used fraction within this of the mean;
                                        <= 0 disables the rebalancer */
    uint32_t rebalance_max_inflight; /* rebalancing moves in flight; 0 disables */
    uint32_t max_open_per_client;    /* write leases one client may hold (EMFILE); 0 = none */
    /* Chunk access tokens: the keyring (copied) from the cluster secret, NULL when the cluster
     * has none (no tokens signed). The leader signs read tokens in GetChunks, write tokens in
     * AllocChunk, delete and replicate tokens in heartbeat commands. */
    const chunk_keyring *tokens;
    int64_t token_lifetime_ms; /* 0 = CHUNK_TOKEN_LIFETIME_MS; at most the key rotation period */
} meta_server_config;

/* Reads the data dir's cluster parameters, recovers the Raft state and binds the listen
 * address. *port = the bound port. 0 or -errno (-ENOENT: data dir not formatted, with a log
 * line; -EADDRINUSE; -EIO on a corrupt log). Nothing runs until meta_server_start. */
int meta_server_create(const meta_server_config *cfg, meta_server **out, int *port);
/* Starts Raft and the background thread. 0 or -errno. */
int meta_server_start(meta_server *ms);
/* Stops serving and frees everything (safe after a failed start). */
void meta_server_destroy(meta_server *ms);

#endif
