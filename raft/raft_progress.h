#ifndef CFS_RAFT_PROGRESS_H
#define CFS_RAFT_PROGRESS_H
/* The leader's view of one follower's replication (internal to raft/), as in etcd/raft:
 * PROBE sends one AppendEntries per heartbeat until the match point is found, REPLICATE
 * pipelines up to max_inflight messages, SNAPSHOT streams the snapshot image in pieces. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum raft_progress_state { RAFT_PR_PROBE = 0, RAFT_PR_REPLICATE = 1, RAFT_PR_SNAPSHOT = 2 };

typedef struct raft_progress {
    uint64_t id;
    bool learner;
    uint64_t match; /* highest index known replicated */
    uint64_t next;  /* next index to send */
    int state;
    bool probe_sent;    /* PROBE: a message is out; wait for a reply or the next heartbeat */
    bool recent_active; /* heard from within the current check-quorum period */
    uint64_t read_ack;  /* highest ReadIndex round this follower confirmed */
    /* REPLICATE: last index of each AppendEntries in flight (ring buffer). */
    uint64_t *inflight;
    int inflight_cap;
    int inflight_start;
    int inflight_count;
    /* SNAPSHOT: streaming state of the image at pending_snapshot. */
    uint64_t pending_snapshot;
    size_t snap_acked; /* bytes the follower confirmed */
    size_t snap_sent;  /* bytes sent so far */
    bool snap_done_sent;
    bool snap_progress; /* an ack arrived since the last tick */
    int snap_idle;      /* ticks without an ack */
} raft_progress;

/* 0 or -ENOMEM. */
int raft_progress_init(raft_progress *pr, uint64_t id, bool learner, int max_inflight);
void raft_progress_free(raft_progress *pr);

void raft_progress_become_probe(raft_progress *pr);
void raft_progress_become_replicate(raft_progress *pr);
void raft_progress_become_snapshot(raft_progress *pr, uint64_t snap_index);

/* Follower acknowledged up to n: raises match/next; true if match grew. */
bool raft_progress_maybe_update(raft_progress *pr, uint64_t n);
/* Follower rejected the append with previous index `rejected`; match_hint is the leader's
 * guess of the last matching index. True if next moved (the rejection was not stale). */
bool raft_progress_maybe_decr_to(raft_progress *pr, uint64_t rejected, uint64_t match_hint);
/* No more messages may be sent now (probe outstanding, window full, or snapshotting). */
bool raft_progress_is_paused(const raft_progress *pr);

bool raft_inflights_full(const raft_progress *pr);
void raft_inflights_add(raft_progress *pr, uint64_t last_index);
/* Frees the in-flight messages whose last index <= to. */
void raft_inflights_free_le(raft_progress *pr, uint64_t to);
void raft_inflights_free_first(raft_progress *pr);

#endif
