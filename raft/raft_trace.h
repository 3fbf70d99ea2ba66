#ifndef CFS_RAFT_TRACE_H
#define CFS_RAFT_TRACE_H
/* raft_trace: where the time of one proposal goes, from raft_node_propose to its return.
 * One proposal at a time is traced (the next one that starts while none is in flight); the
 * threads it passes through stamp marks with a monotonic clock, and when the proposer returns
 * the gaps between the marks are added to per-stage sums. It costs a few clock reads per
 * traced proposal and an atomic load on the other ones, so it is always on.
 * All functions are thread-safe (atomics only). */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* The points a traced proposal passes (leader side). */
typedef enum raft_trace_mark {
    RAFT_MARK_PROPOSED,  /* appended to the core's log by the proposer */
    RAFT_MARK_READY,     /* taken out of the core in a ready batch (to persist and send) */
    RAFT_MARK_DURABLE,   /* the leader's own WAL write + fsync done */
    RAFT_MARK_ACKED,     /* the first follower's acknowledgement stepped into the core */
    RAFT_MARK_COMMITTED, /* handed out as committed (queued for the apply thread) */
    RAFT_MARK_APPLYING,  /* the apply thread starts applying it */
    RAFT_MARK_APPLIED,   /* applied, its waiter signalled */
    RAFT_MARK_COUNT
} raft_trace_mark;

/* The stages are the gaps between the marks (they add up to the whole latency). */
typedef enum raft_trace_stage {
    RAFT_STAGE_TO_READY,  /* proposed -> ready: waking the thread that persists */
    RAFT_STAGE_FSYNC,     /* ready -> own copy durable */
    RAFT_STAGE_FOLLOWER,  /* own copy durable -> first follower ack (0 when the ack was first) */
    RAFT_STAGE_TO_COMMIT, /* quorum durable -> handed out as committed */
    RAFT_STAGE_TO_APPLY,  /* committed -> the apply thread starts on it */
    RAFT_STAGE_APPLY,     /* state machine apply + waiter signalled */
    RAFT_STAGE_WAKE,      /* applied -> the proposer runs again */
    RAFT_STAGE_COUNT
} raft_trace_stage;

/* Sums over the traced proposals, plus the follower and transport side (every batch). */
typedef struct raft_trace_totals {
    uint64_t samples;
    uint64_t stage_ns[RAFT_STAGE_COUNT];
    uint64_t follower_batches;   /* received batches that carried entries */
    uint64_t follower_step_ns;   /* stepping them into the core (handler thread) */
    uint64_t follower_answer_ns; /* then until their answers were queued (persist incl. fsync) */
    uint64_t follower_fsyncs;    /* follower WAL writes with fsync */
    uint64_t follower_fsync_ns;
    uint64_t sent_batches;  /* RaftService.Send calls made to peers */
    uint64_t send_queue_ns; /* time each batch's first message waited for its sender thread */
    uint64_t send_rpc_ns;   /* the calls (the peer's answers come back inside) */
} raft_trace_totals;

typedef struct raft_trace {
    atomic_uint_least64_t index; /* the traced entry; 0 = none in flight */
    atomic_int_least64_t mark_ns[RAFT_MARK_COUNT];
    atomic_uint_least64_t samples;
    atomic_uint_least64_t stage_ns[RAFT_STAGE_COUNT];
    atomic_uint_least64_t follower_batches, follower_step_ns, follower_answer_ns;
    atomic_uint_least64_t follower_fsyncs, follower_fsync_ns;
} raft_trace;

/* Stage name for metrics and reports ("to_ready", "fsync", ...). */
const char *raft_trace_stage_name(raft_trace_stage s);

/* Starts tracing entry `index` (proposed at `now_ns`) unless another one is in flight.
 * Returns whether this proposal is traced. */
bool raft_trace_start(raft_trace *t, uint64_t index, int64_t now_ns);
/* Whether `index` is the traced entry (cheap: one atomic load). */
bool raft_trace_is(const raft_trace *t, uint64_t index);
/* Stamps `mark` for the traced entry if any of [first, last] is it and the mark is unset. */
void raft_trace_mark_range(raft_trace *t, raft_trace_mark mark, uint64_t first, uint64_t last,
                           int64_t now_ns);
/* The proposer of the traced entry returned at `now_ns` (ok: it was applied): adds the stages
 * to the sums when every mark is in order, and frees the trace for the next proposal. */
void raft_trace_finish(raft_trace *t, uint64_t index, bool ok, int64_t now_ns);
void raft_trace_add(atomic_uint_least64_t *sum, int64_t from_ns, int64_t to_ns);
void raft_trace_get(const raft_trace *t, raft_trace_totals *out);

#endif
