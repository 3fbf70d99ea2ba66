/* Per-follower replication progress (see raft_progress.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "raft/raft_progress.h"

int raft_progress_init(raft_progress *pr, uint64_t id, bool learner, int max_inflight)
{
    memset(pr, 0, sizeof(*pr));
    pr->id = id;
    pr->learner = learner;
    pr->next = 1;
    pr->inflight = calloc((size_t)max_inflight, sizeof(uint64_t));
    if (pr->inflight == NULL) return -ENOMEM;
    pr->inflight_cap = max_inflight;
    return 0;
}

void raft_progress_free(raft_progress *pr)
{
    free(pr->inflight);
    pr->inflight = NULL;
}

static void reset_state(raft_progress *pr, int state)
{
    pr->state = state;
    pr->probe_sent = false;
    pr->pending_snapshot = 0;
    pr->snap_acked = pr->snap_sent = 0;
    pr->snap_done_sent = false;
    pr->snap_progress = false;
    pr->snap_idle = 0;
    pr->inflight_start = pr->inflight_count = 0;
}

void raft_progress_become_probe(raft_progress *pr)
{
    /* After a snapshot the follower holds at least the snapshot: probe right after it. */
    uint64_t next = pr->match + 1;
    if (pr->state == RAFT_PR_SNAPSHOT && pr->pending_snapshot + 1 > next)
        next = pr->pending_snapshot + 1;
    reset_state(pr, RAFT_PR_PROBE);
    pr->next = next;
}

void raft_progress_become_replicate(raft_progress *pr)
{
    reset_state(pr, RAFT_PR_REPLICATE);
    pr->next = pr->match + 1;
}

void raft_progress_become_snapshot(raft_progress *pr, uint64_t snap_index)
{
    reset_state(pr, RAFT_PR_SNAPSHOT);
    pr->pending_snapshot = snap_index;
}

bool raft_progress_maybe_update(raft_progress *pr, uint64_t n)
{
    bool updated = false;
    if (pr->match < n) {
        pr->match = n;
        updated = true;
        pr->probe_sent = false;
    }
    if (pr->next < n + 1) pr->next = n + 1;
    return updated;
}

bool raft_progress_maybe_decr_to(raft_progress *pr, uint64_t rejected, uint64_t match_hint)
{
    if (pr->state == RAFT_PR_REPLICATE) {
        /* A rejection at or below match is stale (from before the follower caught up). */
        if (rejected <= pr->match) return false;
        pr->next = pr->match + 1;
        return true;
    }
    if (pr->state == RAFT_PR_SNAPSHOT) return false;
    /* PROBE: only the reply to the probe we sent counts. */
    if (pr->next == 0 || pr->next - 1 != rejected) return false;
    uint64_t next = rejected < match_hint + 1 ? rejected : match_hint + 1;
    if (next < pr->match + 1) next = pr->match + 1;
    if (next < 1) next = 1;
    pr->next = next;
    pr->probe_sent = false;
    return true;
}

bool raft_inflights_full(const raft_progress *pr)
{
    return pr->inflight_count >= pr->inflight_cap;
}

bool raft_progress_is_paused(const raft_progress *pr)
{
    switch (pr->state) {
    case RAFT_PR_PROBE:
        return pr->probe_sent;
    case RAFT_PR_REPLICATE:
        return raft_inflights_full(pr);
    default:
        return true;
    }
}

void raft_inflights_add(raft_progress *pr, uint64_t last_index)
{
    if (raft_inflights_full(pr)) return;
    int slot = (pr->inflight_start + pr->inflight_count) % pr->inflight_cap;
    pr->inflight[slot] = last_index;
    pr->inflight_count++;
}

void raft_inflights_free_le(raft_progress *pr, uint64_t to)
{
    while (pr->inflight_count > 0 && pr->inflight[pr->inflight_start] <= to) {
        pr->inflight_start = (pr->inflight_start + 1) % pr->inflight_cap;
        pr->inflight_count--;
    }
    if (pr->inflight_count == 0) pr->inflight_start = 0;
}

void raft_inflights_free_first(raft_progress *pr)
{
    if (pr->inflight_count == 0) return;
    pr->inflight_start = (pr->inflight_start + 1) % pr->inflight_cap;
    pr->inflight_count--;
}
