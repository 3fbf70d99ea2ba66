#ifndef CFS_RAFT_SIM_H
#define CFS_RAFT_SIM_H
/* Deterministic Raft simulator: a cluster of pure Raft cores in one process, a simulated
 * network and disks, faults and a client workload, all driven by one seeded PRNG. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft/raft.h"

#define SIM_MAX_IDS 7 /* node ids 1..7: up to 5 founders plus servers added later */
#define SIM_KEYS 3
#define SIM_INF UINT64_MAX

enum sim_op_type { SIM_OP_WRITE = 1, SIM_OP_READ = 2 };
enum sim_op_status { SIM_OP_PENDING = 0, SIM_OP_OK = 1, SIM_OP_FAILED = 2 };

/* One client operation of the history that the linearizability checker reads. */
typedef struct sim_op {
    int type;
    int key;
    uint64_t value;    /* written value (unique, nonzero), or the value a read returned */
    uint64_t invoke;   /* event counter at invocation */
    uint64_t response; /* event counter at the response; SIM_INF = outcome unknown */
    int status;
    uint64_t log_index; /* writes: index at which the entry was applied (0 = never) */
} sim_op;

/* A node's "disk": what survives a crash. */
typedef struct sim_disk {
    raft_hard_state hs;
    raft_snapshot snap; /* meta.index == 0: none */
    raft_entry *ents;   /* ents[i].index == snap.meta.index + 1 + i */
    size_t n, cap;
} sim_disk;

typedef struct sim_pending_write {
    uint64_t index, term, op;
} sim_pending_write;

typedef struct sim_pending_read {
    uint64_t op;
    uint64_t index; /* 0 = waiting for the read state */
} sim_pending_read;

typedef struct sim_node {
    uint64_t id;
    bool up;
    bool ever_started;
    raft *r;
    sim_disk disk;
    uint64_t kv[SIM_KEYS]; /* the state machine */
    uint64_t applied;
    bool rd_out;
    raft_ready rd;
    uint64_t rd_due;
    sim_pending_write *pw;
    size_t n_pw, cap_pw;
    sim_pending_read *pr;
    size_t n_pr, cap_pr;
    uint64_t restart_at; /* step at which a crashed member comes back (0 = none) */
    uint64_t crash_at;   /* step at which a fault kills this node (0 = none) */
    int tick_permille;   /* clock rate: ticks per 1000 steps (85-100 %, steady) */
    int tick_phase;      /* accumulates tick_permille; a tick per 1000 */
    uint64_t checked_leader_term;
} sim_node;

typedef struct sim_inflight {
    uint64_t due;
    raft_msg m;
} sim_inflight;

typedef struct sim_rec {
    bool set;
    uint64_t term;
    uint64_t hash;       /* entry content */
    uint64_t state_hash; /* state machine after applying it */
} sim_rec;

typedef struct sim_ent_key {
    uint64_t index, term; /* 0/0 = empty slot */
    uint64_t hash, prev_term;
} sim_ent_key;

typedef struct sim_params {
    int n_founders;
    int loss_permille, dup_permille, max_delay;
    int crash_permille, partition_permille, conf_permille, transfer_permille, op_permille;
    int ready_delay_permille;
    int new_leader_crash_permille; /* kill fresh leaders: exposes commit-rule bugs */
    int compact_every;
    raft_config rc; /* template (id and seed set per node) */
} sim_params;

typedef struct sim {
    uint64_t seed;
    uint64_t rng;
    int steps;
    bool verbose;
    uint64_t now;
    uint64_t evt;
    bool faults;
    sim_params p;
    int n_ids;
    sim_node nodes[SIM_MAX_IDS + 1]; /* by id */
    bool link[SIM_MAX_IDS + 1][SIM_MAX_IDS + 1];
    uint64_t heal_at;
    sim_inflight *net;
    size_t n_net, cap_net;
    sim_op *ops;
    size_t n_ops, cap_ops;
    /* checker state */
    uint64_t *leader_of; /* by term */
    size_t cap_leader_of;
    sim_rec *recs; /* by log index */
    size_t cap_recs;
    uint64_t max_applied;
    sim_ent_key *ents; /* (index, term) -> content, open addressing */
    size_t cap_ents, n_ents;
    bool failed;
    char why[512];
    /* statistics */
    uint64_t n_elections, n_snap_installs, n_crashes, n_conf_changes, n_transfers, n_reads,
        n_lease_reads, n_writes;
} sim;

/* sim_cluster.c: runs one seed; returns 0 if every check passed. */
int sim_run(uint64_t seed, int steps, bool verbose, sim *s);
void sim_free(sim *s);

/* sim_check.c */
void sim_fail(sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
uint64_t sim_hash(uint32_t type, const uint8_t *data, size_t len);
uint64_t sim_state_hash(const uint64_t kv[SIM_KEYS]);
void sim_check_leader(sim *s, sim_node *n);
void sim_check_persisted(sim *s, sim_node *n, const raft_entry *e, uint64_t prev_term);
void sim_check_applied(sim *s, sim_node *n, const raft_entry *e);
void sim_check_snapshot(sim *s, sim_node *n, uint64_t index, uint64_t state_hash);
void sim_check_linearizable(sim *s);
void sim_check_free(sim *s);

#endif
