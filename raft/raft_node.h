#ifndef CFS_RAFT_NODE_H
#define CFS_RAFT_NODE_H
/* raft_node: the shell around the pure Raft core (raft/raft.h). It owns the durable log and
 * snapshots under data_dir, a tick timer, the RaftService transport over common/rpc, and an
 * apply thread that feeds committed entries to the state machine in log order.
 * All functions are thread-safe. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/rpc.h"
#include "raft/raft_trace.h"

typedef struct raft_node raft_node;

/* The replicated state machine. Callbacks run one at a time, in log order: on the node's apply
 * thread, except that on the leader `apply` may run on the node thread that learned of the
 * commit (a transport or the step thread) when the apply thread is idle. They must not wait
 * for anything that waits for this node's Raft progress. */
typedef struct raft_fsm_ops {
    /* Applies a committed entry (deterministically). May set *result to a heap object that is
     * handed to the proposer waiting in raft_node_propose (or freed with free_result when no
     * one waits). Returns 0; a nonzero return is fatal (the node stops applying). */
    int (*apply)(void *fsm, uint64_t index, const uint8_t *data, size_t len, void **result);
    void (*free_result)(void *fsm, void *result);
    /* Serializes the whole state (as of the last applied entry) into a malloc'd buffer. */
    int (*snapshot)(void *fsm, uint8_t **buf, size_t *len);
    /* Replaces the whole state with a snapshot image. 0 or -errno. */
    int (*restore)(void *fsm, const uint8_t *buf, size_t len);
    /* Leadership changed (called after every entry before it is applied). May be NULL. */
    void (*role_changed)(void *fsm, bool is_leader, uint64_t term);
} raft_fsm_ops;

typedef struct raft_peer {
    uint64_t id;
    char addr[128]; /* host:port of the peer's RPC server (RaftService and client services) */
} raft_peer;

typedef struct raft_node_config {
    uint64_t id;            /* this node's id (nonzero) */
    const raft_peer *peers; /* initial voters incl. this node; ignored when the log has a config */
    int n_peers;
    const char *data_dir;      /* WAL and snapshots live here */
    int tick_ms;               /* 0 = 50 */
    int election_ticks;        /* 0 = 20 (1 s at 50 ms) */
    int heartbeat_ticks;       /* 0 = 2 */
    uint64_t snapshot_entries; /* snapshot after this many applied entries; 0 = 100000 */
    bool join;                 /* start empty as a non-voter waiting to be added by the leader */
    bool no_group_commit;      /* one fsync per proposal (only the benchmark sets this) */
    bool no_lease_reads;       /* read barriers always run a ReadIndex round (no leader lease) */
} raft_node_config;

/* Opens/recovers storage (snapshot + WAL) and registers RaftService methods on `srv` (which
 * must not be started yet). Logs what it recovered. 0 or -errno (-EIO with a log line on a
 * corrupt log). */
int raft_node_create(const raft_node_config *cfg, const raft_fsm_ops *ops, void *fsm,
                     rpc_server *srv, raft_node **out);
/* Starts the tick, persist/send and apply threads (call after rpc_server_start). */
int raft_node_start(raft_node *n);
/* Stops threads and frees everything; pending proposals fail with -ECANCELED. */
void raft_node_destroy(raft_node *n);

/* Proposes an entry and waits until it is applied on this node. Returns 0 and the apply
 * result in *result (may be NULL), -CFS_ENOTLEADER if this node is not the leader (or lost
 * leadership before commit: the entry may or may not commit), -ETIMEDOUT after timeout_ms. */
int raft_node_propose(raft_node *n, const uint8_t *data, size_t len, int timeout_ms, void **result);

/* Linearizable read barrier: returns 0 once this node, as leader, has confirmed its
 * leadership and applied everything committed before the call. Then reads of the state
 * machine reflect every write acknowledged before the call. Confirmation comes from the
 * leader lease (a quorum acknowledged a heartbeat less than half an election timeout ago: no
 * message, usually no wait) or else from a ReadIndex round (one heartbeat round trip).
 * -CFS_ENOTLEADER on a follower, -ETIMEDOUT after timeout_ms. */
int raft_node_read_barrier(raft_node *n, int timeout_ms);

typedef struct raft_member_status {
    uint64_t id;
    char addr[128];
    bool voter;
    uint64_t match_index; /* leader's view; 0 elsewhere */
    bool recent_active;   /* leader's view: heard from within an election timeout */
} raft_member_status;

typedef struct raft_node_status {
    uint64_t id;
    uint64_t term;
    uint64_t leader_id; /* 0 = unknown */
    char leader_addr[128];
    bool is_leader;
    const char *role; /* "leader", "follower", "candidate", "precandidate", "learner" */
    uint64_t commit_index;
    uint64_t applied_index;
    uint64_t last_index;
    uint64_t snapshot_index;
    uint64_t log_bytes;
    uint64_t snapshot_bytes; /* snapshot files kept on disk */
    int n_members;
    raft_member_status members[16];
} raft_node_status;

void raft_node_get_status(raft_node *n, raft_node_status *st);
/* Where proposal latency goes (see raft_trace.h): sums since the node was created. */
void raft_node_get_trace(raft_node *n, raft_trace_totals *out);
bool raft_node_is_leader(raft_node *n);
/* Copies the leader's address into buf ("" when unknown). */
void raft_node_leader_addr(raft_node *n, char *buf, size_t len);

/* Membership (leader only; each waits until the change is committed). A new node is added
 * as a learner, caught up, then promoted to voter. */
int raft_node_add_member(raft_node *n, uint64_t id, const char *addr, int timeout_ms);
int raft_node_remove_member(raft_node *n, uint64_t id, int timeout_ms);
int raft_node_transfer_leader(raft_node *n, uint64_t to_id, int timeout_ms);

#endif
