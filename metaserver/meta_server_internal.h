#ifndef CFS_META_SERVER_INTERNAL_H
#define CFS_META_SERVER_INTERNAL_H
/* Shared by the metaserver shell's files (meta_server.c, meta_service.c, cluster_service.c,
 * meta_gc.c) only.
 * Locking: fsm_lock (rwlock) guards the fsm: apply takes it for writing, reads for reading.
 * soft_lock guards the leader's soft state (registry, locks, counters). Order: fsm_lock
 * before soft_lock; never call into Raft while holding either. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/rate_window.h"
#include "common/rpc.h"
#include "metaserver/lock_table.h"
#include "metaserver/meta_format.h"
#include "metaserver/meta_fsm.h"
#include "metaserver/meta_server.h"
#include "metaserver/registry.h"
#include "raft/raft_node.h"

#define MS_PROPOSE_TIMEOUT_MS 5000
#define MS_BARRIER_TIMEOUT_MS 5000

/* Repair/decommission progress from the maintenance thread's last scan, for status. */
typedef struct ms_heal_stats {
    uint64_t repair_queued;      /* under-replicated chunks waiting for a copy slot */
    uint64_t repair_inflight;    /* copies scheduled, not yet reported */
    uint64_t repair_scheduled;   /* copies scheduled in this leadership term */
    uint64_t trimmed;            /* surplus replicas removed in this leadership term */
    uint64_t draining_replicas;  /* replicas still on draining servers */
    uint64_t gc_waiting;         /* orphan/stale replicas inside their grace period */
    uint64_t rebalance_inflight; /* moves copying */
    uint64_t rebalance_done;     /* moves finished (source deleted) in this term */
    bool balanced;               /* last check found every server within the spread */
    double repair_per_min;       /* copies confirmed per minute over the last minute */
    double rebalance_per_min;    /* moves finished per minute over the last minute */
} ms_heal_stats;
#define MS_MAX_MOVES 256

struct meta_server {
    uint64_t id;
    char listen[128];
    char data_dir[4096];
    int64_t dead_timeout_ms;
    uint32_t lease_ms;
    uint32_t max_open_per_client; /* put into every client command (0: no cap) */
    meta_cluster_params params;
    bool tokens_on; /* sign chunk access tokens (the cluster has a secret) */
    chunk_keyring tokens;
    int64_t token_lifetime_ms;

    rpc_server *rpc;
    raft_node *raft;
    bool raft_started;

    meta_fsm *fsm;
    pthread_rwlock_t fsm_lock;
    uint64_t applied_index; /* last entry applied to fsm (under fsm_lock) */

    pthread_mutex_t soft_lock;
    registry *reg;
    lock_table *locks;
    uint64_t leader_term;     /* term the soft state was (re)started for; 0 = never led */
    int64_t leader_since_ms;  /* monotonic time leadership of leader_term was noticed */
    uint64_t next_server_seq; /* per-term counter for new chunkserver ids */
    uint64_t corrupt_reports; /* corrupt replicas reported in this term */
    char http_address[160];   /* "host:port" of its --http-listen, "" = none (soft_lock) */

    atomic_bool formatted;     /* the replicated state has its cluster id */
    pthread_mutex_t format_mu; /* one FormatCmd proposal at a time */

    pthread_t gc_thread;
    uint64_t gc_rounds; /* maintenance rounds as leader (gc thread only) */
    int64_t gc_grace_ms, delete_grace_ms;
    uint32_t repair_max_inflight, repair_max_per_server;
    double rebalance_spread;
    uint32_t rebalance_max_inflight;
    struct gc_seen { /* deleted-queue head with first-seen times (gc only) */
        uint64_t chunk_id;
        int64_t first_ms;
    } * deleted_seen;
    size_t n_deleted_seen;
    uint64_t deleted_seen_term;
    struct gc_suspect *suspects; /* orphan/stale replicas seen, with first-seen time (gc only) */
    size_t n_suspects;
    uint64_t suspects_term;
    ms_heal_stats heal;                      /* last scan's figures (under soft_lock) */
    rate_window repair_rate, rebalance_rate; /* samples of the done counters (soft_lock) */
    struct ms_move { /* rebalancing moves in flight (gc thread, under soft_lock) */
        uint64_t chunk_id, version, src, dst;
        int64_t started_ms;
    } moves[MS_MAX_MOVES];
    size_t n_moves;
    uint64_t moves_term;
    bool gc_started;
    pthread_mutex_t gc_mu;
    pthread_cond_t gc_cv;
    bool stopping;
};

/* This node's role as Raft sees it now. Call it with neither fsm_lock nor soft_lock held:
 * the Raft node calls back into the shell (apply, role_changed) under its own locks. */
typedef struct ms_role {
    bool leader;
    uint64_t term;
} ms_role;
ms_role ms_role_now(meta_server *ms);

/* Locks soft_lock (the caller unlocks it in every case) after making sure the soft state
 * belongs to `role`'s leadership: when this node leads in a new term, the registry and lock
 * table start empty (chunkservers re-register after their next heartbeat gets -ENOENT).
 * Returns true if this node is the leader. */
bool ms_soft_enter(meta_server *ms, ms_role role);

/* Proposes a packed MetaCommand and waits for its apply result (a MetaResponse the caller
 * frees with chunkfs__meta_response__free_unpacked; may be NULL). 0 or -errno
 * (-CFS_ENOTLEADER, -ETIMEDOUT, ...). */
int ms_propose(meta_server *ms, const uint8_t *buf, size_t len, Chunkfs__MetaResponse **out);

/* Leader only: makes sure the replicated state is formatted (FormatCmd from cluster.ini is
 * the first entry of a new cluster) before any client request is served, so nothing is
 * created with pre-format defaults. Cheap once formatted. 0 or -errno (-CFS_ENOTLEADER,
 * -ETIMEDOUT). */
int ms_ensure_formatted(meta_server *ms);

/* RPC handlers. */
int meta_service_call(void *arg, const char *peer, const uint8_t *req, size_t req_len,
                      uint8_t **resp, size_t *resp_len);
int cluster_service_register(void *arg, const char *peer, const uint8_t *req, size_t req_len,
                             uint8_t **resp, size_t *resp_len);
int cluster_service_heartbeat(void *arg, const char *peer, const uint8_t *req, size_t req_len,
                              uint8_t **resp, size_t *resp_len);
int cluster_service_report(void *arg, const char *peer, const uint8_t *req, size_t req_len,
                           uint8_t **resp, size_t *resp_len);

/* Chunk access tokens (meta_tokens.c); all do nothing when tokens are off. */
/* Signs a token for op into ci / every ChunkInfo of cr (freed with the response; NULL: none).
 * 0 or -errno. */
int ms_sign_chunk(const meta_server *ms, Chunkfs__ChunkInfo *ci, enum chunk_token_op op);
int ms_sign_chunks(const meta_server *ms, Chunkfs__ChunksResp *cr, enum chunk_token_op op);
/* Signs one token into out (CHUNK_TOKEN_SIZE bytes); *len = its size, 0 when tokens are off. */
int ms_sign_token(const meta_server *ms, enum chunk_token_op op, uint64_t chunk_id,
                  uint64_t version, uint8_t *out, size_t *len);

/* Background maintenance thread (meta_gc.c). */
void *meta_gc_main(void *arg);

/* Rebalancer step of a maintenance round (meta_rebalance.c): finishes reported moves and
 * plans new ones. Takes fsm_lock and soft_lock itself. */
void ms_rebalance_round(meta_server *ms, ms_role role);
/* True while a rebalancing move of chunk_id is in flight (caller holds soft_lock): the
 * repair scan leaves its surplus replica to the move. */
bool ms_move_pending(const meta_server *ms, uint64_t chunk_id);

#endif
