#ifndef CFS_TEST_RAFT_HARNESS_H
#define CFS_TEST_RAFT_HARNESS_H
/* A tiny in-memory network of Raft cores for the unit tests: deliver messages in order,
 * optionally cut links, record what each node applied and read. */
#include <stdbool.h>
#include <stdint.h>

#include "raft/raft.h"

#define H_MAXN 6

typedef struct h_cluster {
    raft *nodes[H_MAXN + 1]; /* by id; NULL = down */
    bool cut[H_MAXN + 1][H_MAXN + 1];
    raft_msg *q;
    size_t nq, capq;
    uint64_t applied[H_MAXN + 1];        /* last index applied */
    uint64_t applied_normal[H_MAXN + 1]; /* NORMAL entries applied */
    raft_read_state rs[H_MAXN + 1][64];
    int nrs[H_MAXN + 1];
    uint64_t snap_index[H_MAXN + 1]; /* last snapshot handed out in a ready */
    uint8_t snap_data[H_MAXN + 1][256];
    size_t snap_len[H_MAXN + 1];
    raft_hard_state hs[H_MAXN + 1]; /* last persisted hard state */
    int msgs_of_type[16];           /* delivered, by type */
} h_cluster;

raft_config h_config(uint64_t id);
/* Creates nodes 1..n as founders (voters 1..n_voters, the rest not members). */
void h_init(h_cluster *c, int n, int n_voters, const raft_config *tmpl);
void h_free(h_cluster *c);
/* Processes one ready of node id (if any): queues its messages, records applies. */
bool h_ready(h_cluster *c, uint64_t id);
/* Delivers queued messages and processes readies until nothing moves (bounded). */
void h_stabilize(h_cluster *c);
/* Ticks node id k times, stabilizing after each tick. */
void h_tick(h_cluster *c, uint64_t id, int k);
/* Ticks every node once, then stabilizes; k times. */
void h_tick_all(h_cluster *c, int k);
/* Isolates node id (both directions) or heals everything. */
void h_isolate(h_cluster *c, uint64_t id);
void h_heal(h_cluster *c);
/* Node id's leader id (0 none), and the unique leader among up nodes (0 none). */
uint64_t h_leader(h_cluster *c);
/* Proposes `s` on node id; returns raft_propose's result. */
int h_propose(h_cluster *c, uint64_t id, const char *s);
void h_msg_copy(raft_msg *d, const raft_msg *m);
void h_msg_free(raft_msg *m);

#endif
