#include "raft/raft_trace.h"

#include <string.h>

static const char *const stage_names[RAFT_STAGE_COUNT] = {
    "to_ready", "fsync", "follower", "to_commit", "to_apply", "apply", "wake"};

const char *raft_trace_stage_name(raft_trace_stage s)
{
    return (unsigned)s < RAFT_STAGE_COUNT ? stage_names[s] : "unknown";
}

bool raft_trace_start(raft_trace *t, uint64_t index, int64_t now_ns)
{
    uint64_t none = 0;
    /* Claim the trace with an index no entry has, reset it, then publish the real index. */
    if (index == 0 || index == UINT64_MAX ||
        !atomic_compare_exchange_strong(&t->index, &none, UINT64_MAX))
        return false;
    for (int i = 0; i < RAFT_MARK_COUNT; i++)
        atomic_store(&t->mark_ns[i], 0);
    atomic_store(&t->mark_ns[RAFT_MARK_PROPOSED], now_ns);
    atomic_store(&t->index, index);
    return true;
}

bool raft_trace_is(const raft_trace *t, uint64_t index)
{
    return index != 0 && index != UINT64_MAX && atomic_load(&t->index) == index;
}

void raft_trace_mark_range(raft_trace *t, raft_trace_mark mark, uint64_t first, uint64_t last,
                           int64_t now_ns)
{
    uint64_t idx = atomic_load(&t->index);
    if (idx == 0 || idx == UINT64_MAX || idx < first || idx > last) return;
    int_least64_t unset = 0;
    atomic_compare_exchange_strong(&t->mark_ns[mark], &unset, now_ns);
}

void raft_trace_add(atomic_uint_least64_t *sum, int64_t from_ns, int64_t to_ns)
{
    if (to_ns > from_ns) atomic_fetch_add(sum, (uint64_t)(to_ns - from_ns));
}

void raft_trace_finish(raft_trace *t, uint64_t index, bool ok, int64_t now_ns)
{
    if (!raft_trace_is(t, index)) return;
    int64_t m[RAFT_MARK_COUNT];
    for (int i = 0; i < RAFT_MARK_COUNT; i++)
        m[i] = atomic_load(&t->mark_ns[i]);
    /* The ack is optional (a one-node group has none); every other mark must be set. */
    int64_t quorum =
        m[RAFT_MARK_ACKED] > m[RAFT_MARK_DURABLE] ? m[RAFT_MARK_ACKED] : m[RAFT_MARK_DURABLE];
    bool in_order = m[RAFT_MARK_PROPOSED] && m[RAFT_MARK_READY] >= m[RAFT_MARK_PROPOSED] &&
                    m[RAFT_MARK_DURABLE] >= m[RAFT_MARK_READY] &&
                    m[RAFT_MARK_COMMITTED] >= quorum &&
                    m[RAFT_MARK_APPLYING] >= m[RAFT_MARK_COMMITTED] &&
                    m[RAFT_MARK_APPLIED] >= m[RAFT_MARK_APPLYING] && now_ns >= m[RAFT_MARK_APPLIED];
    if (ok && in_order) {
        raft_trace_add(&t->stage_ns[RAFT_STAGE_TO_READY], m[RAFT_MARK_PROPOSED],
                       m[RAFT_MARK_READY]);
        raft_trace_add(&t->stage_ns[RAFT_STAGE_FSYNC], m[RAFT_MARK_READY], m[RAFT_MARK_DURABLE]);
        raft_trace_add(&t->stage_ns[RAFT_STAGE_FOLLOWER], m[RAFT_MARK_DURABLE], quorum);
        raft_trace_add(&t->stage_ns[RAFT_STAGE_TO_COMMIT], quorum, m[RAFT_MARK_COMMITTED]);
        raft_trace_add(&t->stage_ns[RAFT_STAGE_TO_APPLY], m[RAFT_MARK_COMMITTED],
                       m[RAFT_MARK_APPLYING]);
        raft_trace_add(&t->stage_ns[RAFT_STAGE_APPLY], m[RAFT_MARK_APPLYING], m[RAFT_MARK_APPLIED]);
        raft_trace_add(&t->stage_ns[RAFT_STAGE_WAKE], m[RAFT_MARK_APPLIED], now_ns);
        atomic_fetch_add(&t->samples, 1);
    }
    atomic_store(&t->index, 0);
}

void raft_trace_get(const raft_trace *t, raft_trace_totals *out)
{
    memset(out, 0, sizeof *out);
    out->samples = atomic_load(&t->samples);
    for (int i = 0; i < RAFT_STAGE_COUNT; i++)
        out->stage_ns[i] = atomic_load(&t->stage_ns[i]);
    out->follower_batches = atomic_load(&t->follower_batches);
    out->follower_step_ns = atomic_load(&t->follower_step_ns);
    out->follower_answer_ns = atomic_load(&t->follower_answer_ns);
    out->follower_fsyncs = atomic_load(&t->follower_fsyncs);
    out->follower_fsync_ns = atomic_load(&t->follower_fsync_ns);
}
