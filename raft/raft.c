/* The pure Raft core: elections (PreVote, check-quorum), log replication (probe/replicate
 * with pipelining and fast conflict backup), snapshots streamed in pieces, single-server
 * membership changes with learners, leadership transfer and ReadIndex. See docs/raft.md. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/byte_order.h"
#include "common/errors.h"
#include "raft/raft.h"
#include "raft/raft_log.h"
#include "raft/raft_progress.h"

/* Context of a vote request sent after TimeoutNow: voters skip their leader-lease check. */
static const uint8_t TRANSFER_CTX[8] = {'t', 'r', 'a', 'n', 's', 'f', 'e', 'r'};
/* Committed entries handed out per ready (bounds the copy after a restart). */
#define MAX_COMMITTED_PER_READY 4096
/* Snapshot bytes in flight per follower, in pieces. */
#define SNAP_WINDOW_PIECES 4
/* Heartbeat rounds whose sending tick the leader remembers (for the lease). */
#define ROUND_HIST 64

enum campaign_kind { CAMPAIGN_PRE, CAMPAIGN_ELECTION, CAMPAIGN_TRANSFER };

typedef struct conf_hist_ent {
    uint64_t index;
    raft_conf conf;
} conf_hist_ent;

typedef struct round_tick {
    uint64_t round;
    uint64_t tick;
} round_tick;

typedef struct read_req {
    uint64_t ctx;
    uint64_t index;
    uint64_t round;
} read_req;

struct raft {
    raft_config cfg;
    uint64_t id;
    uint64_t term;
    uint64_t vote;
    uint32_t role;
    uint64_t lead;
    raft_log log;
    raft_conf conf;      /* committed membership */
    conf_hist_ent *hist; /* membership after each conf entry committed since the snapshot */
    size_t n_hist, cap_hist;

    raft_progress prs[RAFT_MAX_MEMBERS]; /* leader only */
    int n_prs;
    uint64_t vote_ids[RAFT_MAX_MEMBERS];
    bool vote_granted[RAFT_MAX_MEMBERS];
    int n_votes;

    int election_elapsed;
    int heartbeat_elapsed;
    int randomized_timeout;
    uint64_t lead_transferee;
    uint64_t pending_conf_index;
    uint64_t rng;

    raft_snapshot snap; /* latest image (meta.index == 0: none) */
    struct {
        bool active;
        uint64_t from, term, index, snap_term;
        raft_conf conf;
        uint8_t *buf;
        size_t len, cap;
    } in;               /* snapshot being received */
    bool snap_unhanded; /* installed snapshot not yet handed out in a ready */

    raft_msg *msgs;
    size_t n_msgs, cap_msgs;
    raft_read_state *rs;
    size_t n_rs, cap_rs;
    uint64_t *pending_reads; /* waiting for the leader's first commit in its term */
    size_t n_pending_reads, cap_pending_reads;
    read_req *ro;
    size_t n_ro, cap_ro;
    uint64_t ro_round;
    bool ro_round_unsent;              /* heartbeats of ro_round still sit in msgs */
    round_tick round_hist[ROUND_HIST]; /* tick at which each recent round was sent */

    uint64_t ticks;        /* raft_tick calls so far (the core's clock) */
    int since_leader;      /* ticks since we last heard from a leader (or started) */
    bool transfer_in_term; /* a leadership transfer was started in this term: no lease */

    raft_hard_state prev_hs;
    raft_soft_state prev_ss;
    bool ready_out;
    bool bcast_pending;      /* leader: appends to send when the next ready is drained */
    bool commit_unsent;      /* leader: the commit index moved since appends last went out */
    uint64_t restores;       /* snapshots installed from a leader, ever */
    uint64_t ready_restores; /* value of `restores` when the outstanding ready was made */
};

/* ---------------------------------------------------------------- small helpers */

static uint64_t rng_next(raft *r)
{
    /* splitmix64 */
    uint64_t z = (r->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void randomize_timeout(raft *r)
{
    r->randomized_timeout =
        r->cfg.election_tick + (int)(rng_next(r) % (uint64_t)r->cfg.election_tick);
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap * 2 : 16;
    while (c < need)
        c *= 2;
    void *n = realloc(*p, c * elem);
    if (n == NULL) return -ENOMEM;
    *p = n;
    *cap = c;
    return 0;
}

static uint8_t *dup_bytes(const uint8_t *p, size_t n)
{
    uint8_t *d = malloc(n ? n : 1);
    if (d != NULL && n > 0) memcpy(d, p, n);
    return d;
}

static void msg_free(raft_msg *m)
{
    raft_entries_free(m->entries, m->n_entries);
    free(m->snap_conf);
    free(m->snap_data);
    free(m->context);
}

static bool is_member(const raft *r, uint64_t id)
{
    return raft_conf_find(&r->conf, id) >= 0;
}

static bool is_voter(const raft *r, uint64_t id)
{
    int i = raft_conf_find(&r->conf, id);
    return i >= 0 && !r->conf.members[i].learner;
}

static int n_voters(const raft *r)
{
    int n = 0;
    for (int i = 0; i < r->conf.n; i++)
        if (!r->conf.members[i].learner) n++;
    return n;
}

static int quorum(const raft *r)
{
    return n_voters(r) / 2 + 1;
}

static bool promotable(const raft *r)
{
    return is_voter(r, r->id);
}

static raft_progress *get_pr(raft *r, uint64_t id)
{
    for (int i = 0; i < r->n_prs; i++)
        if (r->prs[i].id == id) return &r->prs[i];
    return NULL;
}

static uint64_t last_index(const raft *r)
{
    return raft_log_last_index(&r->log);
}

/* Queues an outgoing message with from/to/term filled; NULL when out of memory (the message
 * is then lost, which Raft tolerates like any network loss). The pointer is valid until the
 * next new_msg call. */
static raft_msg *new_msg(raft *r, uint32_t type, uint64_t to, uint64_t term)
{
    if (grow((void **)&r->msgs, &r->cap_msgs, r->n_msgs + 1, sizeof(raft_msg)) < 0) return NULL;
    raft_msg *m = &r->msgs[r->n_msgs++];
    memset(m, 0, sizeof(*m));
    m->type = type;
    m->from = r->id;
    m->to = to;
    m->term = term;
    return m;
}

static void drop_last_msg(raft *r)
{
    msg_free(&r->msgs[--r->n_msgs]);
}

static void push_read_state(raft *r, uint64_t ctx, uint64_t index)
{
    if (grow((void **)&r->rs, &r->cap_rs, r->n_rs + 1, sizeof(raft_read_state)) < 0)
        return; /* the reader times out */
    r->rs[r->n_rs].ctx = ctx;
    r->rs[r->n_rs].index = index;
    r->n_rs++;
}

/* ---------------------------------------------------------------- membership */

static const raft_conf *conf_at(const raft *r, uint64_t index)
{
    const raft_conf *c = &r->snap.meta.conf;
    for (size_t i = 0; i < r->n_hist; i++)
        if (r->hist[i].index <= index) c = &r->hist[i].conf;
    return c;
}

static void free_prs(raft *r)
{
    for (int i = 0; i < r->n_prs; i++)
        raft_progress_free(&r->prs[i]);
    r->n_prs = 0;
}

/* Makes the leader's progress table match the membership (new members start probing). */
static void sync_progress(raft *r)
{
    for (int i = 0; i < r->n_prs;) {
        if (!is_member(r, r->prs[i].id)) {
            raft_progress_free(&r->prs[i]);
            r->prs[i] = r->prs[--r->n_prs];
        } else {
            i++;
        }
    }
    for (int i = 0; i < r->conf.n; i++) {
        const raft_member *m = &r->conf.members[i];
        raft_progress *pr = get_pr(r, m->id);
        if (pr == NULL) {
            pr = &r->prs[r->n_prs];
            if (raft_progress_init(pr, m->id, m->learner, r->cfg.max_inflight_msgs) < 0)
                continue; /* retried on the next membership sync */
            r->n_prs++;
            pr->next = last_index(r) + 1;
            pr->recent_active = true;
            if (m->id == r->id) pr->match = r->log.stable;
        }
        pr->learner = m->learner;
    }
}

static void become_follower(raft *r, uint64_t term, uint64_t lead);
static void bcast_append(raft *r);
static void start_pending_reads(raft *r);

/* Applies conf entries in (committed, idx] and moves the commit index. */
static void commit_to(raft *r, uint64_t idx)
{
    if (idx > last_index(r)) idx = last_index(r);
    if (idx <= r->log.committed) return;
    /* Reserve the membership history first: without memory the commit waits for a retry
     * rather than losing track of the membership at some index. */
    size_t n_conf = 0;
    for (uint64_t i = r->log.committed + 1; i <= idx; i++)
        n_conf += raft_log_entry(&r->log, i)->type == RAFT_ENTRY_CONF_CHANGE;
    if (grow((void **)&r->hist, &r->cap_hist, r->n_hist + n_conf, sizeof(conf_hist_ent)) < 0)
        return;
    bool conf_changed = false;
    for (uint64_t i = r->log.committed + 1; i <= idx; i++) {
        const raft_entry *e = raft_log_entry(&r->log, i);
        if (e->type != RAFT_ENTRY_CONF_CHANGE) continue;
        /* A malformed entry is skipped identically on every node (validated at proposal). */
        if (raft_conf_entry_apply(&r->conf, e->data, e->len) < 0) continue;
        r->hist[r->n_hist].index = i;
        r->hist[r->n_hist].conf = r->conf;
        r->n_hist++;
        conf_changed = true;
    }
    r->log.committed = idx;
    if (r->role != RAFT_LEADER) return;
    if (conf_changed) {
        sync_progress(r);
        if (r->lead_transferee != 0 && !is_voter(r, r->lead_transferee)) r->lead_transferee = 0;
    }
    start_pending_reads(r);
}

/* ---------------------------------------------------------------- read index */

static void fail_reads(raft *r)
{
    for (size_t i = 0; i < r->n_pending_reads; i++)
        push_read_state(r, r->pending_reads[i], 0);
    r->n_pending_reads = 0;
    for (size_t i = 0; i < r->n_ro; i++)
        push_read_state(r, r->ro[i].ctx, 0);
    r->n_ro = 0;
    r->ro_round_unsent = false;
}

static bool committed_in_term(const raft *r)
{
    uint64_t t;
    return raft_log_term(&r->log, r->log.committed, &t) && t == r->term;
}

static void bcast_heartbeat(raft *r, uint64_t round);

/* Opens a heartbeat round (or joins the one whose heartbeats have not left yet) and
 * remembers the tick it started at: a quorum acknowledging it proves leadership as of then. */
static uint64_t open_round(raft *r)
{
    if (r->ro_round_unsent) return 0;
    r->ro_round++;
    r->round_hist[r->ro_round % ROUND_HIST] = (round_tick){.round = r->ro_round, .tick = r->ticks};
    bcast_heartbeat(r, r->ro_round);
    r->ro_round_unsent = true;
    return r->ro_round;
}

static int start_read(raft *r, uint64_t ctx)
{
    if (n_voters(r) == 1 && is_voter(r, r->id)) {
        push_read_state(r, ctx, r->log.committed);
        return 0;
    }
    if (grow((void **)&r->ro, &r->cap_ro, r->n_ro + 1, sizeof(read_req)) < 0) return -ENOMEM;
    /* Reads arriving before this round's heartbeats leave may share the round. */
    (void)open_round(r);
    r->ro[r->n_ro].ctx = ctx;
    r->ro[r->n_ro].index = r->log.committed;
    r->ro[r->n_ro].round = r->ro_round;
    r->n_ro++;
    return 0;
}

static void start_pending_reads(raft *r)
{
    if (r->n_pending_reads == 0 || !committed_in_term(r)) return;
    for (size_t i = 0; i < r->n_pending_reads; i++)
        if (start_read(r, r->pending_reads[i]) < 0) push_read_state(r, r->pending_reads[i], 0);
    r->n_pending_reads = 0;
}

static void advance_reads(raft *r)
{
    while (r->n_ro > 0) {
        uint64_t round = r->ro[0].round;
        int acks = 0;
        for (int i = 0; i < r->n_prs; i++) {
            const raft_progress *pr = &r->prs[i];
            if (!pr->learner && (pr->id == r->id || pr->read_ack >= round)) acks++;
        }
        if (acks < quorum(r)) return;
        push_read_state(r, r->ro[0].ctx, r->ro[0].index);
        memmove(r->ro, r->ro + 1, (r->n_ro - 1) * sizeof(read_req));
        r->n_ro--;
    }
}

/* A voter that acknowledged a heartbeat round neither votes for another candidate nor
 * campaigns for election_tick of its ticks after receiving it (lease mode), so until
 * lease_ticks (< election_tick, with margin for clock-rate differences) after the round was
 * sent no other leader can be elected. The newest round a quorum acknowledged bounds it. */
static bool lease_valid(const raft *r)
{
    if (r->cfg.lease_ticks <= 0 || r->role != RAFT_LEADER || r->transfer_in_term ||
        r->lead_transferee != 0 || !committed_in_term(r))
        return false;
    uint64_t acks[RAFT_MAX_MEMBERS];
    int n = 0;
    for (int i = 0; i < r->n_prs; i++)
        if (!r->prs[i].learner) acks[n++] = r->prs[i].id == r->id ? UINT64_MAX : r->prs[i].read_ack;
    int q = quorum(r);
    if (n < q) return false;
    for (int i = 1; i < n; i++) /* sort descending (n <= 16) */
        for (int j = i; j > 0 && acks[j] > acks[j - 1]; j--) {
            uint64_t t = acks[j];
            acks[j] = acks[j - 1];
            acks[j - 1] = t;
        }
    uint64_t round = acks[q - 1];
    if (round == UINT64_MAX) return true; /* the only voter */
    const round_tick *h = &r->round_hist[round % ROUND_HIST];
    if (round == 0 || h->round != round) return false; /* none, or too old to remember */
    return h->tick + (uint64_t)r->cfg.lease_ticks > r->ticks;
}

/* Lease mode: within election_tick ticks of hearing from a leader (or of starting: what we
 * promised before a restart is forgotten) we may have confirmed its lease. */
static bool in_vote_lease(const raft *r)
{
    return r->cfg.lease_ticks > 0 && r->since_leader < r->cfg.election_tick;
}

static bool is_transfer_ctx(const raft_msg *m)
{
    return m->context_len == sizeof(TRANSFER_CTX) &&
           memcmp(m->context, TRANSFER_CTX, sizeof(TRANSFER_CTX)) == 0;
}

/* ---------------------------------------------------------------- role changes */

static void reset(raft *r, uint64_t term)
{
    if (r->term != term) {
        r->term = term;
        r->vote = 0;
    }
    r->lead = 0;
    r->election_elapsed = 0;
    r->heartbeat_elapsed = 0;
    randomize_timeout(r);
    r->lead_transferee = 0;
    r->n_votes = 0;
    r->pending_conf_index = 0;
    fail_reads(r);
    free_prs(r);
}

static void become_follower(raft *r, uint64_t term, uint64_t lead)
{
    reset(r, term);
    r->role = RAFT_FOLLOWER;
    r->lead = lead;
}

static void become_leader(raft *r)
{
    reset(r, r->term);
    r->role = RAFT_LEADER;
    r->lead = r->id;
    r->transfer_in_term = false;
    sync_progress(r);
    for (int i = 0; i < r->n_prs; i++)
        r->prs[i].recent_active = r->prs[i].id == r->id;
    r->pending_conf_index = last_index(r);
    raft_entry e = {.term = r->term, .index = last_index(r) + 1, .type = RAFT_ENTRY_NOOP};
    /* Without the no-op the leader could not commit (nor serve reads) until a proposal. */
    (void)raft_log_append(&r->log, &e, 1);
}

/* Records a vote response; returns 1 won, -1 lost, 0 pending. */
static int poll(raft *r, uint64_t id, bool granted)
{
    int k;
    for (k = 0; k < r->n_votes; k++)
        if (r->vote_ids[k] == id) break;
    if (k == r->n_votes && r->n_votes < RAFT_MAX_MEMBERS) {
        r->vote_ids[k] = id;
        r->vote_granted[k] = granted;
        r->n_votes++;
    }
    int yes = 0, no = 0;
    for (k = 0; k < r->n_votes; k++) {
        if (!is_voter(r, r->vote_ids[k])) continue;
        if (r->vote_granted[k])
            yes++;
        else
            no++;
    }
    if (yes >= quorum(r)) return 1;
    if (no >= quorum(r)) return -1;
    return 0;
}

static void campaign(raft *r, enum campaign_kind kind)
{
    if (!promotable(r) || r->role == RAFT_LEADER) return;
    /* Our own vote would break a lease we may have confirmed. */
    if (kind != CAMPAIGN_TRANSFER && in_vote_lease(r)) return;
    uint32_t type;
    uint64_t vote_term;
    if (kind == CAMPAIGN_PRE) {
        /* PreVote: ask whether we could win at term+1 without disturbing anyone's term. */
        fail_reads(r);
        free_prs(r);
        r->role = RAFT_PRECANDIDATE;
        r->lead = 0;
        r->n_votes = 0;
        r->election_elapsed = 0;
        randomize_timeout(r);
        type = RAFT_MSG_PREVOTE;
        vote_term = r->term + 1;
    } else {
        reset(r, r->term + 1);
        r->role = RAFT_CANDIDATE;
        r->vote = r->id;
        type = RAFT_MSG_VOTE;
        vote_term = r->term;
    }
    if (poll(r, r->id, true) == 1) {
        if (kind == CAMPAIGN_PRE) {
            campaign(r, CAMPAIGN_ELECTION);
        } else {
            become_leader(r);
            bcast_append(r);
        }
        return;
    }
    uint64_t li = last_index(r), lt = raft_log_last_term(&r->log);
    for (int i = 0; i < r->conf.n; i++) {
        const raft_member *mb = &r->conf.members[i];
        if (mb->learner || mb->id == r->id) continue;
        raft_msg *m = new_msg(r, type, mb->id, vote_term);
        if (m == NULL) continue;
        m->index = li;
        m->log_term = lt;
        if (kind == CAMPAIGN_TRANSFER) {
            m->context = dup_bytes(TRANSFER_CTX, sizeof(TRANSFER_CTX));
            if (m->context == NULL) {
                drop_last_msg(r);
                continue;
            }
            m->context_len = sizeof(TRANSFER_CTX);
        }
    }
}

/* ---------------------------------------------------------------- sending */

static void send_snap_pieces(raft *r, raft_progress *pr)
{
    size_t piece = r->cfg.snap_piece_bytes;
    uint8_t conf[RAFT_CONF_MAX_BYTES];
    int conf_len = raft_conf_encode(&r->snap.meta.conf, conf, sizeof(conf));
    if (conf_len < 0) return;
    while (!pr->snap_done_sent && pr->snap_sent - pr->snap_acked < SNAP_WINDOW_PIECES * piece) {
        size_t off = pr->snap_sent;
        size_t len = r->snap.len - off < piece ? r->snap.len - off : piece;
        raft_msg *m = new_msg(r, RAFT_MSG_SNAP, pr->id, r->term);
        if (m == NULL) return;
        m->snap_index = r->snap.meta.index;
        m->snap_term = r->snap.meta.term;
        m->snap_conf = dup_bytes(conf, (size_t)conf_len);
        m->snap_data = dup_bytes(r->snap.data + off, len);
        if (m->snap_conf == NULL || m->snap_data == NULL) {
            drop_last_msg(r);
            return;
        }
        m->snap_conf_len = (size_t)conf_len;
        m->snap_data_len = len;
        m->snap_offset = off;
        m->snap_done = off + len == r->snap.len;
        m->commit = r->log.committed;
        pr->snap_sent = off + len;
        pr->snap_done_sent = m->snap_done;
    }
}

/* Sends entries from pr->next (or a snapshot if they are compacted away). Returns true if a
 * message went out. */
static bool maybe_send_append(raft *r, raft_progress *pr, bool send_if_empty)
{
    if (raft_progress_is_paused(pr)) return false;
    uint64_t prev = pr->next - 1, prev_term;
    if (!raft_log_term(&r->log, prev, &prev_term)) {
        if (r->snap.meta.index == 0)
            return false; /* the log is only compacted with an image, so this cannot hold */
        raft_progress_become_snapshot(pr, r->snap.meta.index);
        send_snap_pieces(r, pr);
        return true;
    }
    uint64_t last = last_index(r);
    uint64_t hi = prev;
    size_t bytes = 0;
    while (hi < last && hi - prev < (uint64_t)r->cfg.max_entries_per_msg) {
        const raft_entry *e = raft_log_entry(&r->log, hi + 1);
        if (hi > prev && bytes + e->len > r->cfg.max_bytes_per_msg) break;
        bytes += e->len;
        hi++;
    }
    if (hi == prev && !send_if_empty) return false;
    raft_msg *m = new_msg(r, RAFT_MSG_APP, pr->id, r->term);
    if (m == NULL) return false;
    if (raft_log_copy_range(&r->log, prev + 1, hi, &m->entries, &m->n_entries) < 0) {
        drop_last_msg(r);
        return false;
    }
    m->index = prev;
    m->log_term = prev_term;
    m->commit = r->log.committed;
    if (pr->state == RAFT_PR_REPLICATE) {
        if (hi > prev) {
            pr->next = hi + 1;
            raft_inflights_add(pr, hi);
        }
    } else {
        pr->probe_sent = true;
    }
    return true;
}

static void bcast_append(raft *r)
{
    for (int i = 0; i < r->n_prs; i++)
        if (r->prs[i].id != r->id) maybe_send_append(r, &r->prs[i], true);
}

static void send_heartbeat(raft *r, raft_progress *pr, uint64_t round)
{
    raft_msg *m = new_msg(r, RAFT_MSG_HEARTBEAT, pr->id, r->term);
    if (m == NULL) return;
    /* Never tell a follower to commit beyond what it is known to hold. */
    m->commit = pr->match < r->log.committed ? pr->match : r->log.committed;
    if (round != 0) {
        m->context = malloc(8);
        if (m->context == NULL) {
            drop_last_msg(r);
            return;
        }
        cfs_put_le64(m->context, round);
        m->context_len = 8;
    }
}

static void bcast_heartbeat(raft *r, uint64_t round)
{
    for (int i = 0; i < r->n_prs; i++)
        if (r->prs[i].id != r->id) send_heartbeat(r, &r->prs[i], round);
}

static void send_timeout_now(raft *r, uint64_t to)
{
    (void)new_msg(r, RAFT_MSG_TIMEOUT_NOW, to, r->term);
}

/* Leader: commit the highest index a quorum of voters holds, if it is from this term. */
static bool maybe_commit(raft *r)
{
    uint64_t m[RAFT_MAX_MEMBERS];
    int n = 0;
    for (int i = 0; i < r->n_prs; i++)
        if (!r->prs[i].learner) m[n++] = r->prs[i].match;
    if (n == 0) return false;
    /* sort descending (n <= 16) */
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && m[j] > m[j - 1]; j--) {
            uint64_t t = m[j];
            m[j] = m[j - 1];
            m[j - 1] = t;
        }
    int q = quorum(r);
    if (n < q) return false;
    uint64_t idx = m[q - 1];
    uint64_t t;
    if (idx <= r->log.committed || !raft_log_term(&r->log, idx, &t) || t != r->term) return false;
    commit_to(r, idx);
    return true;
}

/* After the commit index moved on the leader: step down if the leader itself was removed from
 * the membership (telling the others first). Otherwise followers learn the new commit index
 * with the next appends, or at the next tick when none go out before: an empty append per
 * commit would occupy each follower's link (one call in flight per peer) just when the next
 * proposal's entries are to be sent. */
static void after_commit(raft *r)
{
    if (r->role == RAFT_LEADER && !is_voter(r, r->id)) {
        bcast_append(r); /* tell the others before stepping down */
        become_follower(r, r->term, 0);
        return;
    }
    r->commit_unsent = true;
}

/* Sends the appends deferred since the last ready: all proposals and commit advances made
 * meanwhile travel in as few messages per follower as the batch limits allow. */
static void flush_bcast(raft *r)
{
    if (!r->bcast_pending) return;
    r->bcast_pending = false;
    if (r->role != RAFT_LEADER) return;
    r->commit_unsent = false; /* every follower gets an append carrying the commit index */
    for (int i = 0; i < r->n_prs; i++) {
        raft_progress *pr = &r->prs[i];
        if (pr->id == r->id || !maybe_send_append(r, pr, true)) continue;
        while (pr->state == RAFT_PR_REPLICATE && maybe_send_append(r, pr, false)) {
        }
    }
}

/* ---------------------------------------------------------------- follower handlers */

static void send_app_resp(raft *r, uint64_t to, uint64_t index)
{
    raft_msg *m = new_msg(r, RAFT_MSG_APP_RESP, to, r->term);
    if (m != NULL) m->index = index;
}

static void handle_append(raft *r, const raft_msg *m)
{
    r->since_leader = 0;
    if (m->index < r->log.committed) {
        send_app_resp(r, m->from, r->log.committed);
        return;
    }
    if (raft_log_match_term(&r->log, m->index, m->log_term)) {
        uint64_t last_new = m->index + m->n_entries;
        uint64_t ci = raft_log_find_conflict(&r->log, m->entries, m->n_entries);
        if (ci != 0) {
            if (ci <= r->log.committed)
                return; /* would rewrite committed entries: a broken leader; ignore */
            size_t off = (size_t)(ci - m->index - 1);
            if (raft_log_append(&r->log, m->entries + off, m->n_entries - off) < 0)
                return; /* out of memory: no ack, the leader retries */
        }
        commit_to(r, m->commit < last_new ? m->commit : last_new);
        send_app_resp(r, m->from, last_new);
        return;
    }
    /* Fast backup: point the leader at the last entry that could match, with its term, so
     * it skips a whole conflicting term per round trip. */
    uint64_t hint = m->index < last_index(r) ? m->index : last_index(r);
    hint = raft_log_find_conflict_by_term(&r->log, hint, m->log_term);
    uint64_t hint_term = 0;
    (void)raft_log_term(&r->log, hint, &hint_term);
    raft_msg *resp = new_msg(r, RAFT_MSG_APP_RESP, m->from, r->term);
    if (resp == NULL) return;
    resp->index = m->index;
    resp->reject = true;
    resp->reject_hint = hint;
    resp->hint_term = hint_term;
}

static void handle_heartbeat(raft *r, const raft_msg *m)
{
    r->since_leader = 0;
    commit_to(r, m->commit);
    raft_msg *resp = new_msg(r, RAFT_MSG_HEARTBEAT_RESP, m->from, r->term);
    if (resp == NULL || m->context_len == 0) return;
    resp->context = dup_bytes(m->context, m->context_len);
    if (resp->context == NULL) {
        drop_last_msg(r);
        return;
    }
    resp->context_len = m->context_len;
}

static void in_reset(raft *r)
{
    free(r->in.buf);
    memset(&r->in, 0, sizeof(r->in));
}

static void send_snap_resp(raft *r, const raft_msg *m, size_t offset, bool reject)
{
    raft_msg *resp = new_msg(r, RAFT_MSG_SNAP_RESP, m->from, r->term);
    if (resp == NULL) return;
    resp->snap_index = m->snap_index;
    resp->snap_offset = offset;
    resp->reject = reject;
}

static void install_snapshot(raft *r, const raft_msg *m)
{
    uint64_t index = r->in.index, term = r->in.snap_term;
    if (raft_log_match_term(&r->log, index, term)) {
        /* We already hold the entries: the snapshot only tells us they are committed. */
        in_reset(r);
        commit_to(r, index);
        send_app_resp(r, m->from, r->log.committed);
        return;
    }
    raft_log_restore(&r->log, index, term);
    free(r->snap.data);
    r->snap.meta.index = index;
    r->snap.meta.term = term;
    r->snap.meta.conf = r->in.conf;
    r->snap.data = r->in.buf;
    r->snap.len = r->in.len;
    r->in.buf = NULL;
    in_reset(r);
    r->conf = r->snap.meta.conf;
    r->n_hist = 0;
    r->snap_unhanded = true;
    r->restores++;
    send_app_resp(r, m->from, index);
}

static void handle_snapshot(raft *r, const raft_msg *m)
{
    r->since_leader = 0;
    if (m->snap_index <= r->log.committed) {
        send_app_resp(r, m->from, r->log.committed);
        return;
    }
    bool same = r->in.active && r->in.from == m->from && r->in.term == m->term &&
                r->in.index == m->snap_index && r->in.snap_term == m->snap_term;
    if (!same && m->snap_offset == 0) {
        raft_conf c;
        if (raft_conf_decode(m->snap_conf, m->snap_conf_len, &c) < 0) return;
        in_reset(r);
        r->in.active = true;
        r->in.from = m->from;
        r->in.term = m->term;
        r->in.index = m->snap_index;
        r->in.snap_term = m->snap_term;
        r->in.conf = c;
        same = true;
    }
    if (!same) {
        send_snap_resp(r, m, 0, true);
        return;
    }
    if (m->snap_offset > r->in.len) {
        send_snap_resp(r, m, r->in.len, true); /* a piece went missing: resend from here */
        return;
    }
    size_t end = (size_t)m->snap_offset + m->snap_data_len;
    if (end > r->in.len) {
        if (grow((void **)&r->in.buf, &r->in.cap, end, 1) < 0) return;
        size_t skip = r->in.len - (size_t)m->snap_offset;
        memcpy(r->in.buf + r->in.len, m->snap_data + skip, m->snap_data_len - skip);
        r->in.len = end;
    }
    if (m->snap_done && end == r->in.len) {
        install_snapshot(r, m);
        return;
    }
    send_snap_resp(r, m, r->in.len, false);
}

/* ---------------------------------------------------------------- leader handlers */

static void handle_append_resp(raft *r, raft_progress *pr, const raft_msg *m)
{
    /* Nobody can acknowledge entries we do not have: a corrupt or foreign reply. */
    if (m->index > last_index(r)) return;
    pr->recent_active = true;
    if (m->reject) {
        uint64_t probe = m->reject_hint;
        if (m->hint_term > 0)
            probe = raft_log_find_conflict_by_term(&r->log, m->reject_hint, m->hint_term);
        if (raft_progress_maybe_decr_to(pr, m->index, probe)) {
            if (pr->state == RAFT_PR_REPLICATE) raft_progress_become_probe(pr);
            maybe_send_append(r, pr, true);
        }
        return;
    }
    bool old_paused = raft_progress_is_paused(pr);
    if (!raft_progress_maybe_update(pr, m->index)) return;
    switch (pr->state) {
    case RAFT_PR_PROBE:
        raft_progress_become_replicate(pr);
        break;
    case RAFT_PR_SNAPSHOT:
        if (pr->match >= pr->pending_snapshot) {
            raft_progress_become_probe(pr);
            raft_progress_become_replicate(pr);
        }
        break;
    case RAFT_PR_REPLICATE:
        raft_inflights_free_le(pr, m->index);
        break;
    }
    if (maybe_commit(r)) {
        after_commit(r);
        /* A committed membership change may have removed or moved progress entries. */
        uint64_t from = m->from;
        if (r->role != RAFT_LEADER || (pr = get_pr(r, from)) == NULL) return;
    } else if (old_paused) {
        maybe_send_append(r, pr, true);
    }
    while (maybe_send_append(r, pr, false)) {
    }
    if (m->from == r->lead_transferee && pr->match == last_index(r)) send_timeout_now(r, m->from);
}

static void handle_heartbeat_resp(raft *r, raft_progress *pr, const raft_msg *m)
{
    pr->recent_active = true;
    pr->probe_sent = false;
    if (pr->state == RAFT_PR_REPLICATE && raft_inflights_full(pr)) raft_inflights_free_first(pr);
    if (pr->state != RAFT_PR_SNAPSHOT && pr->match < last_index(r)) maybe_send_append(r, pr, true);
    if (m->context_len == 8) {
        uint64_t round = cfs_get_le64(m->context);
        if (round > pr->read_ack && round <= r->ro_round) pr->read_ack = round;
        advance_reads(r);
    }
}

static void handle_snap_resp(raft *r, raft_progress *pr, const raft_msg *m)
{
    pr->recent_active = true;
    if (pr->state != RAFT_PR_SNAPSHOT || m->snap_index != pr->pending_snapshot) return;
    size_t off = (size_t)m->snap_offset;
    if (off > r->snap.len || off > pr->snap_sent) return;
    if (m->reject) {
        pr->snap_acked = pr->snap_sent = off;
        pr->snap_done_sent = false;
    } else if (off > pr->snap_acked) {
        pr->snap_acked = off;
        pr->snap_progress = true;
    }
    send_snap_pieces(r, pr);
}

/* ---------------------------------------------------------------- step */

static void handle_vote(raft *r, const raft_msg *m)
{
    uint32_t resp_type = m->type == RAFT_MSG_VOTE ? RAFT_MSG_VOTE_RESP : RAFT_MSG_PREVOTE_RESP;
    bool can_vote = r->vote == m->from || (r->vote == 0 && r->lead == 0) ||
                    (m->type == RAFT_MSG_PREVOTE && m->term > r->term);
    if (in_vote_lease(r) && !is_transfer_ctx(m) && r->vote != m->from) can_vote = false;
    if (can_vote && raft_log_is_up_to_date(&r->log, m->index, m->log_term)) {
        /* The grant carries the requested term so that a pre-candidate can tell it apart. */
        (void)new_msg(r, resp_type, m->from, m->term);
        if (m->type == RAFT_MSG_VOTE) {
            r->election_elapsed = 0;
            r->vote = m->from;
        }
        return;
    }
    raft_msg *resp = new_msg(r, resp_type, m->from, r->term);
    if (resp != NULL) resp->reject = true;
}

static void step_leader(raft *r, const raft_msg *m)
{
    raft_progress *pr = get_pr(r, m->from);
    if (pr == NULL) return;
    switch (m->type) {
    case RAFT_MSG_APP_RESP:
        handle_append_resp(r, pr, m);
        break;
    case RAFT_MSG_HEARTBEAT_RESP:
        handle_heartbeat_resp(r, pr, m);
        break;
    case RAFT_MSG_SNAP_RESP:
        handle_snap_resp(r, pr, m);
        break;
    default:
        break;
    }
}

static void step_candidate(raft *r, const raft_msg *m)
{
    switch (m->type) {
    case RAFT_MSG_APP:
        become_follower(r, m->term, m->from);
        handle_append(r, m);
        return;
    case RAFT_MSG_HEARTBEAT:
        become_follower(r, m->term, m->from);
        handle_heartbeat(r, m);
        return;
    case RAFT_MSG_SNAP:
        become_follower(r, m->term, m->from);
        handle_snapshot(r, m);
        return;
    case RAFT_MSG_VOTE_RESP:
    case RAFT_MSG_PREVOTE_RESP: {
        bool pre = r->role == RAFT_PRECANDIDATE;
        if (m->type != (pre ? RAFT_MSG_PREVOTE_RESP : RAFT_MSG_VOTE_RESP)) return;
        if (pre && !m->reject && m->term != r->term + 1)
            return; /* a grant from an older pre-vote round */
        int res = poll(r, m->from, !m->reject);
        if (res == 1) {
            if (pre) {
                campaign(r, CAMPAIGN_ELECTION);
            } else {
                become_leader(r);
                bcast_append(r);
            }
        } else if (res == -1) {
            become_follower(r, r->term, 0);
        }
        return;
    }
    default:
        return;
    }
}

static void step_follower(raft *r, const raft_msg *m)
{
    switch (m->type) {
    case RAFT_MSG_APP:
        r->election_elapsed = 0;
        r->lead = m->from;
        handle_append(r, m);
        break;
    case RAFT_MSG_HEARTBEAT:
        r->election_elapsed = 0;
        r->lead = m->from;
        handle_heartbeat(r, m);
        break;
    case RAFT_MSG_SNAP:
        r->election_elapsed = 0;
        r->lead = m->from;
        handle_snapshot(r, m);
        break;
    case RAFT_MSG_TIMEOUT_NOW:
        campaign(r, CAMPAIGN_TRANSFER);
        break;
    default:
        break;
    }
}

static bool valid_msg(const raft *r, const raft_msg *m)
{
    if (m->to != r->id || m->from == 0 || m->from == r->id) return false;
    if (m->type < RAFT_MSG_APP || m->type > RAFT_MSG_TIMEOUT_NOW) return false;
    if ((m->n_entries > 0 && m->entries == NULL) || (m->context_len > 0 && m->context == NULL) ||
        (m->snap_conf_len > 0 && m->snap_conf == NULL) ||
        (m->snap_data_len > 0 && m->snap_data == NULL))
        return false;
    if (m->n_entries > 0 && m->type != RAFT_MSG_APP) return false;
    uint64_t prev_term = m->log_term;
    for (size_t i = 0; i < m->n_entries; i++) {
        const raft_entry *e = &m->entries[i];
        if (e->index != m->index + 1 + i || e->term < prev_term || e->term > m->term ||
            e->term == 0 || e->type > RAFT_ENTRY_NOOP || (e->len > 0 && e->data == NULL))
            return false;
        prev_term = e->term;
    }
    if (m->type == RAFT_MSG_APP && m->log_term > m->term) return false;
    if (m->type == RAFT_MSG_SNAP &&
        (m->snap_index == 0 || m->snap_term == 0 || m->snap_term > m->term ||
         m->snap_offset + m->snap_data_len < m->snap_offset))
        return false;
    return true;
}

int raft_step(raft *r, const raft_msg *m)
{
    if (!valid_msg(r, m)) return -EINVAL;
    if (m->term > r->term) {
        if (m->type == RAFT_MSG_VOTE || m->type == RAFT_MSG_PREVOTE) {
            bool force = is_transfer_ctx(m);
            /* Leader lease: while we hear from a leader, a (pre)candidate cannot unseat it. */
            bool lease = r->cfg.check_quorum || (r->cfg.pre_vote && m->type == RAFT_MSG_PREVOTE);
            bool in_lease = (lease && r->lead != 0 && r->election_elapsed < r->cfg.election_tick) ||
                            in_vote_lease(r);
            if (!force && in_lease) return 0;
        }
        if (m->type == RAFT_MSG_PREVOTE) {
            /* never change our term for a pre-vote */
        } else if (m->type == RAFT_MSG_PREVOTE_RESP && !m->reject) {
            /* a grant carries the term we would campaign in */
        } else if (m->type == RAFT_MSG_APP || m->type == RAFT_MSG_HEARTBEAT ||
                   m->type == RAFT_MSG_SNAP) {
            become_follower(r, m->term, m->from);
        } else {
            become_follower(r, m->term, 0);
        }
    } else if (m->term < r->term) {
        if ((r->cfg.check_quorum || r->cfg.pre_vote) &&
            (m->type == RAFT_MSG_HEARTBEAT || m->type == RAFT_MSG_APP)) {
            /* Tell a stale leader our term; with PreVote/check-quorum it would otherwise never
             * learn it (we no longer disrupt it with vote requests). */
            (void)new_msg(r, RAFT_MSG_APP_RESP, m->from, r->term);
        } else if (m->type == RAFT_MSG_PREVOTE) {
            raft_msg *resp = new_msg(r, RAFT_MSG_PREVOTE_RESP, m->from, r->term);
            if (resp != NULL) resp->reject = true;
        }
        return 0;
    }
    if (m->type == RAFT_MSG_VOTE || m->type == RAFT_MSG_PREVOTE) {
        handle_vote(r, m);
        return 0;
    }
    switch (r->role) {
    case RAFT_LEADER:
        step_leader(r, m);
        break;
    case RAFT_CANDIDATE:
    case RAFT_PRECANDIDATE:
        step_candidate(r, m);
        break;
    default:
        step_follower(r, m);
        break;
    }
    return 0;
}

/* ---------------------------------------------------------------- tick */

static bool quorum_active(raft *r)
{
    int active = 0;
    for (int i = 0; i < r->n_prs; i++) {
        raft_progress *pr = &r->prs[i];
        if (!pr->learner && (pr->id == r->id || pr->recent_active)) active++;
        pr->recent_active = pr->id == r->id;
    }
    return active >= quorum(r);
}

static void tick_leader(raft *r)
{
    if (r->commit_unsent) r->bcast_pending = true;
    r->heartbeat_elapsed++;
    r->election_elapsed++;
    if (r->election_elapsed >= r->cfg.election_tick) {
        r->election_elapsed = 0;
        /* recent_active restarts every period, so it always means "heard from lately" */
        bool active = quorum_active(r);
        if (r->cfg.check_quorum && !active) {
            become_follower(r, r->term, 0);
            return;
        }
        r->lead_transferee = 0; /* a transfer not done within an election timeout aborts */
    }
    if (r->heartbeat_elapsed >= r->cfg.heartbeat_tick) {
        r->heartbeat_elapsed = 0;
        if (r->cfg.lease_ticks > 0)
            (void)open_round(r); /* every heartbeat renews the lease */
        else
            bcast_heartbeat(r, r->n_ro > 0 ? r->ro[r->n_ro - 1].round : 0);
    }
    /* Snapshot pieces without an ack for half an election timeout were lost (or the
     * follower is down): resend from the acknowledged offset, at that slow pace. */
    int patience = r->cfg.election_tick / 2 > 0 ? r->cfg.election_tick / 2 : 1;
    for (int i = 0; i < r->n_prs; i++) {
        raft_progress *pr = &r->prs[i];
        if (pr->state != RAFT_PR_SNAPSHOT) continue;
        if (pr->snap_progress) {
            pr->snap_progress = false;
            pr->snap_idle = 0;
        } else if (++pr->snap_idle >= patience) {
            pr->snap_idle = 0;
            pr->snap_sent = pr->snap_acked;
            pr->snap_done_sent = false;
            send_snap_pieces(r, pr);
        }
    }
}

void raft_tick(raft *r)
{
    r->ticks++;
    if (r->since_leader < r->cfg.election_tick) r->since_leader++;
    if (r->role == RAFT_LEADER) {
        tick_leader(r);
        return;
    }
    r->election_elapsed++;
    if (promotable(r) && r->election_elapsed >= r->randomized_timeout) {
        r->election_elapsed = 0;
        campaign(r, r->cfg.pre_vote ? CAMPAIGN_PRE : CAMPAIGN_ELECTION);
    }
}

void raft_campaign(raft *r)
{
    campaign(r, r->cfg.pre_vote ? CAMPAIGN_PRE : CAMPAIGN_ELECTION);
}

/* ---------------------------------------------------------------- proposals */

static int append_local(raft *r, uint32_t type, const uint8_t *data, size_t len, uint64_t *index,
                        uint64_t *term)
{
    raft_entry e = {.term = r->term,
                    .index = last_index(r) + 1,
                    .type = type,
                    .data = (uint8_t *)data,
                    .len = len};
    int rc = raft_log_append(&r->log, &e, 1);
    if (rc < 0) return rc;
    if (index) *index = e.index;
    if (term) *term = e.term;
    r->bcast_pending = true;
    return 0;
}

int raft_propose(raft *r, const uint8_t *data, size_t len, uint64_t *index, uint64_t *term)
{
    if (len > 0 && data == NULL) return -EINVAL;
    if (r->role != RAFT_LEADER) return -CFS_ENOTLEADER;
    if (r->lead_transferee != 0) return -EBUSY;
    return append_local(r, RAFT_ENTRY_NORMAL, data, len, index, term);
}

int raft_propose_conf_change(raft *r, const raft_conf_change *cc, uint64_t *index, uint64_t *term)
{
    if (r->role != RAFT_LEADER) return -CFS_ENOTLEADER;
    if (r->lead_transferee != 0 || r->pending_conf_index > r->log.committed) return -EBUSY;
    if (cc->id == 0 || memchr(cc->addr, 0, sizeof(cc->addr)) == NULL) return -EINVAL;
    int i = raft_conf_find(&r->conf, cc->id);
    switch (cc->type) {
    case RAFT_CC_ADD_VOTER:
        if (i >= 0 && !r->conf.members[i].learner) return -EINVAL;
        if (i < 0 && r->conf.n >= RAFT_MAX_MEMBERS) return -EINVAL;
        break;
    case RAFT_CC_ADD_LEARNER:
        if (i >= 0 || r->conf.n >= RAFT_MAX_MEMBERS) return -EINVAL;
        break;
    case RAFT_CC_REMOVE:
        if (i < 0) return -EINVAL;
        if (!r->conf.members[i].learner && n_voters(r) == 1) return -EINVAL;
        break;
    default:
        return -EINVAL;
    }
    uint8_t buf[RAFT_CC_MAX_BYTES];
    int n = raft_conf_change_encode(cc, buf, sizeof(buf));
    if (n < 0) return n;
    uint64_t idx;
    int rc = append_local(r, RAFT_ENTRY_CONF_CHANGE, buf, (size_t)n, &idx, term);
    if (rc < 0) return rc;
    r->pending_conf_index = idx;
    if (index) *index = idx;
    return 0;
}

int raft_read_index(raft *r, uint64_t ctx)
{
    if (r->role != RAFT_LEADER) return -CFS_ENOTLEADER;
    if (!committed_in_term(r)) {
        /* Our commit index may lag the real one until an entry of our term commits. */
        if (grow((void **)&r->pending_reads, &r->cap_pending_reads, r->n_pending_reads + 1,
                 sizeof(uint64_t)) < 0)
            return -ENOMEM;
        r->pending_reads[r->n_pending_reads++] = ctx;
        return 0;
    }
    return start_read(r, ctx);
}

int raft_read_lease(raft *r, uint64_t *index)
{
    *index = 0;
    if (r->role != RAFT_LEADER) return -CFS_ENOTLEADER;
    if (!lease_valid(r)) return -EAGAIN;
    *index = r->log.committed;
    return 0;
}

int raft_transfer_leader(raft *r, uint64_t to)
{
    if (r->role != RAFT_LEADER) return -CFS_ENOTLEADER;
    if (to == r->id || !is_voter(r, to)) return -EINVAL;
    raft_progress *pr = get_pr(r, to);
    if (pr == NULL) return -EINVAL;
    if (r->lead_transferee == to) return 0;
    r->lead_transferee = to;
    r->transfer_in_term = true; /* the target may win before our lease ends */
    r->election_elapsed = 0;
    if (pr->match == last_index(r))
        send_timeout_now(r, to);
    else
        maybe_send_append(r, pr, true);
    return 0;
}

int raft_compact(raft *r, uint64_t index, const uint8_t *data, size_t len)
{
    if (len > 0 && data == NULL) return -EINVAL;
    if (index <= r->snap.meta.index || index > r->log.applied || index > r->log.stable)
        return -EINVAL;
    uint64_t term;
    if (!raft_log_term(&r->log, index, &term)) return -EINVAL;
    uint8_t *copy = dup_bytes(data, len);
    if (copy == NULL) return -ENOMEM;
    raft_conf conf = *conf_at(r, index);
    free(r->snap.data);
    r->snap.meta.index = index;
    r->snap.meta.term = term;
    r->snap.meta.conf = conf;
    r->snap.data = copy;
    r->snap.len = len;
    raft_log_compact(&r->log, index);
    size_t keep = 0;
    for (size_t i = 0; i < r->n_hist; i++)
        if (r->hist[i].index > index) r->hist[keep++] = r->hist[i];
    r->n_hist = keep;
    /* Transfers of an older image restart with the new one (the old bytes are gone). */
    for (int i = 0; i < r->n_prs; i++) {
        raft_progress *pr = &r->prs[i];
        if (pr->state == RAFT_PR_SNAPSHOT) {
            raft_progress_become_snapshot(pr, index);
            send_snap_pieces(r, pr);
        }
    }
    return 0;
}

int raft_snapshot_meta_at(const raft *r, uint64_t index, raft_snapshot_meta *out)
{
    memset(out, 0, sizeof(*out));
    if (index < r->snap.meta.index || index > r->log.committed ||
        !raft_log_term(&r->log, index, &out->term))
        return -EINVAL;
    out->index = index;
    out->conf = *conf_at(r, index);
    return 0;
}

void raft_report_unreachable(raft *r, uint64_t id)
{
    if (r->role != RAFT_LEADER) return;
    raft_progress *pr = get_pr(r, id);
    if (pr != NULL && pr->state == RAFT_PR_REPLICATE) raft_progress_become_probe(pr);
}

void raft_report_snapshot(raft *r, uint64_t id, bool failed)
{
    if (r->role != RAFT_LEADER) return;
    raft_progress *pr = get_pr(r, id);
    if (pr == NULL || pr->state != RAFT_PR_SNAPSHOT || !failed) return;
    /* Start over: probe (which finds the log compacted and restarts the image from 0). */
    pr->pending_snapshot = 0;
    raft_progress_become_probe(pr);
    pr->probe_sent = true; /* wait for the next heartbeat reply before retrying */
}

/* ---------------------------------------------------------------- ready */

static raft_hard_state cur_hs(const raft *r)
{
    raft_hard_state hs = {.term = r->term, .vote = r->vote, .commit = r->log.committed};
    return hs;
}

static raft_soft_state cur_ss(const raft *r)
{
    raft_soft_state ss = {.leader = r->lead, .role = r->role};
    return ss;
}

bool raft_has_ready(const raft *r)
{
    if (r->ready_out) return false;
    raft_hard_state hs = cur_hs(r);
    raft_soft_state ss = cur_ss(r);
    return ss.leader != r->prev_ss.leader || ss.role != r->prev_ss.role ||
           hs.term != r->prev_hs.term || hs.vote != r->prev_hs.vote ||
           hs.commit != r->prev_hs.commit || r->log.stable < last_index(r) ||
           r->log.committed > r->log.applied || r->n_msgs > 0 || r->n_rs > 0 || r->snap_unhanded ||
           (r->bcast_pending && r->role == RAFT_LEADER);
}

/* A leader's message in a term already durable here may leave before the ready is
 * persisted: it promises nothing about our own log or vote. */
static bool may_leave_early(const raft_msg *m, uint64_t durable_term)
{
    return (m->type == RAFT_MSG_APP || m->type == RAFT_MSG_HEARTBEAT || m->type == RAFT_MSG_SNAP ||
            m->type == RAFT_MSG_TIMEOUT_NOW) &&
           m->term <= durable_term;
}

/* Moves the messages that may leave early to the front (keeping the order within each
 * group); returns how many. Cannot fail (on no memory none is early). */
static size_t early_first(raft_msg *msgs, size_t n, uint64_t durable_term)
{
    size_t n_early = 0;
    for (size_t i = 0; i < n; i++)
        n_early += may_leave_early(&msgs[i], durable_term);
    if (n_early == 0 || n_early == n) return n_early;
    raft_msg *tmp = malloc(n * sizeof(*tmp));
    if (tmp == NULL) return 0;
    size_t e = 0, l = n_early;
    for (size_t i = 0; i < n; i++)
        tmp[may_leave_early(&msgs[i], durable_term) ? e++ : l++] = msgs[i];
    memcpy(msgs, tmp, n * sizeof(*tmp));
    free(tmp);
    return n_early;
}

int raft_get_ready(raft *r, raft_ready *rd)
{
    if (r->ready_out) return -EBUSY; /* rd is left untouched: it may be the outstanding one */
    memset(rd, 0, sizeof(*rd));
    flush_bcast(r);
    if (r->snap_unhanded) {
        rd->snapshot = calloc(1, sizeof(raft_snapshot));
        if (rd->snapshot == NULL) goto oom;
        rd->snapshot->meta = r->snap.meta;
        rd->snapshot->len = r->snap.len;
        rd->snapshot->data = dup_bytes(r->snap.data, r->snap.len);
        if (rd->snapshot->data == NULL) goto oom;
    }
    if (raft_log_copy_range(&r->log, r->log.stable + 1, last_index(r), &rd->entries,
                            &rd->n_entries) < 0)
        goto oom;
    uint64_t hi = r->log.committed;
    if (hi - r->log.applied > MAX_COMMITTED_PER_READY)
        hi = r->log.applied + MAX_COMMITTED_PER_READY;
    if (raft_log_copy_range(&r->log, r->log.applied + 1, hi, &rd->committed, &rd->n_committed) < 0)
        goto oom;
    /* From here on nothing can fail. */
    raft_hard_state hs = cur_hs(r);
    raft_soft_state ss = cur_ss(r);
    rd->soft = ss;
    rd->soft_changed = ss.leader != r->prev_ss.leader || ss.role != r->prev_ss.role;
    rd->hs = hs;
    rd->hs_changed =
        hs.term != r->prev_hs.term || hs.vote != r->prev_hs.vote || hs.commit != r->prev_hs.commit;
    rd->must_sync = rd->n_entries > 0 || rd->snapshot != NULL || hs.term != r->prev_hs.term ||
                    hs.vote != r->prev_hs.vote;
    rd->msgs = r->msgs;
    rd->n_msgs = r->n_msgs;
    rd->n_early = early_first(rd->msgs, rd->n_msgs, r->prev_hs.term);
    r->msgs = NULL;
    r->n_msgs = r->cap_msgs = 0;
    rd->read_states = r->rs;
    rd->n_read_states = r->n_rs;
    r->rs = NULL;
    r->n_rs = r->cap_rs = 0;
    r->ro_round_unsent = false;
    r->prev_hs = hs;
    r->prev_ss = ss;
    r->snap_unhanded = false;
    r->ready_restores = r->restores;
    r->ready_out = true;
    return 0;
oom:
    raft_ready_free(rd);
    return -ENOMEM;
}

void raft_advance(raft *r, const raft_ready *rd)
{
    r->ready_out = false;
    /* Entries handed out before a snapshot restore are not part of the log any more; the
     * caller drops them with the snapshot, and the entries appended since are handed again. */
    if (rd->n_entries > 0 && r->ready_restores == r->restores) {
        const raft_entry *e = &rd->entries[rd->n_entries - 1];
        raft_log_stable_to(&r->log, e->index, e->term);
    }
    if (rd->n_committed > 0) {
        uint64_t a = rd->committed[rd->n_committed - 1].index;
        if (a > r->log.applied && a <= r->log.committed) r->log.applied = a;
    }
    if (r->role == RAFT_LEADER) {
        /* The leader's own copy counts towards commit only once it is durable. */
        raft_progress *self = get_pr(r, r->id);
        if (self != NULL && raft_progress_maybe_update(self, r->log.stable) && maybe_commit(r))
            after_commit(r);
    }
}

void raft_ready_free(raft_ready *rd)
{
    if (rd->snapshot != NULL) {
        free(rd->snapshot->data);
        free(rd->snapshot);
    }
    raft_entries_free(rd->entries, rd->n_entries);
    raft_entries_free(rd->committed, rd->n_committed);
    for (size_t i = 0; i < rd->n_msgs; i++)
        msg_free(&rd->msgs[i]);
    free(rd->msgs);
    free(rd->read_states);
    memset(rd, 0, sizeof(*rd));
}

/* ---------------------------------------------------------------- create / destroy */

int raft_create(const raft_config *cfg, const raft_init *init, raft **out)
{
    *out = NULL;
    if (cfg->id == 0 || cfg->election_tick < 2 || cfg->heartbeat_tick < 1 ||
        cfg->heartbeat_tick >= cfg->election_tick || cfg->max_inflight_msgs < 0 ||
        cfg->max_entries_per_msg < 0 || cfg->lease_ticks < 0 ||
        cfg->lease_ticks >= cfg->election_tick)
        return -EINVAL;
    const raft_snapshot *snap = init->snapshot;
    if (snap != NULL && snap->meta.index == 0) snap = NULL;
    if (snap != NULL && (snap->meta.term == 0 || (snap->len > 0 && snap->data == NULL)))
        return -EINVAL;
    uint64_t snap_index = snap ? snap->meta.index : 0, snap_term = snap ? snap->meta.term : 0;
    for (size_t i = 0; i < init->n_entries; i++) {
        const raft_entry *e = &init->entries[i];
        uint64_t prev_term = i == 0 ? snap_term : init->entries[i - 1].term;
        if (e->index != snap_index + 1 + i || e->term < prev_term || e->term == 0 ||
            (e->len > 0 && e->data == NULL))
            return -EINVAL;
    }
    uint64_t last = snap_index + init->n_entries;
    raft_hard_state hs = init->hs;
    if (hs.commit > last) return -EINVAL;
    uint64_t last_term = init->n_entries ? init->entries[init->n_entries - 1].term : snap_term;
    if (hs.term < last_term) {
        /* Entries were persisted but the hard state written after them was not (a crash in
         * between). Nothing that depended on the lost term/vote was sent (messages leave only
         * after persisting), so adopting the log's term with no vote is safe. */
        hs.term = last_term;
        hs.vote = 0;
    }

    raft *r = calloc(1, sizeof(*r));
    if (r == NULL) return -ENOMEM;
    r->cfg = *cfg;
    if (r->cfg.max_inflight_msgs == 0) r->cfg.max_inflight_msgs = 64;
    if (r->cfg.max_entries_per_msg == 0) r->cfg.max_entries_per_msg = 1024;
    if (r->cfg.max_bytes_per_msg == 0) r->cfg.max_bytes_per_msg = 1 << 20;
    if (r->cfg.snap_piece_bytes == 0) r->cfg.snap_piece_bytes = 1 << 20;
    r->id = cfg->id;
    r->rng = cfg->seed ^ (cfg->id * 0x2545f4914f6cdd1dull);
    raft_log_init(&r->log, snap_index, snap_term);
    if (snap != NULL) {
        r->snap.meta = snap->meta;
        r->snap.len = snap->len;
        r->snap.data = dup_bytes(snap->data, snap->len);
        if (r->snap.data == NULL) goto oom;
        r->conf = snap->meta.conf;
    }
    if (init->n_entries > 0 && raft_log_append(&r->log, init->entries, init->n_entries) < 0)
        goto oom;
    r->log.stable = last;
    r->prev_hs = hs;
    if (snap == NULL && init->n_entries == 0 && hs.term == 0 && init->bootstrap != NULL &&
        init->bootstrap->n > 0) {
        /* Founding members: ONE entry holding the whole initial membership (index 1, term
         * 1). With one entry per founder, a node holding only a prefix of them (a torn WAL
         * tail, a restart before the first persist) derived a smaller group and could elect
         * itself alone. */
        uint8_t buf[RAFT_CC_SET_MAX_BYTES];
        int n = raft_conf_set_encode(init->bootstrap, buf, sizeof(buf));
        if (n < 0) goto inval;
        raft_entry e = {
            .term = 1, .index = 1, .type = RAFT_ENTRY_CONF_CHANGE, .data = buf, .len = (size_t)n};
        if (raft_log_append(&r->log, &e, 1) < 0) goto oom;
        hs.term = 1;
        hs.commit = 1;
    }
    r->term = hs.term;
    r->vote = hs.vote;
    commit_to(r, hs.commit);
    if (init->applied > r->log.applied)
        r->log.applied = init->applied < r->log.committed ? init->applied : r->log.committed;
    r->role = RAFT_FOLLOWER;
    randomize_timeout(r);
    r->prev_ss = cur_ss(r);
    *out = r;
    return 0;
oom:
    raft_destroy(r);
    return -ENOMEM;
inval:
    raft_destroy(r);
    return -EINVAL;
}

void raft_destroy(raft *r)
{
    if (r == NULL) return;
    raft_log_free(&r->log);
    free(r->hist);
    free_prs(r);
    free(r->snap.data);
    free(r->in.buf);
    for (size_t i = 0; i < r->n_msgs; i++)
        msg_free(&r->msgs[i]);
    free(r->msgs);
    free(r->rs);
    free(r->pending_reads);
    free(r->ro);
    free(r);
}

/* ---------------------------------------------------------------- inspection */

void raft_get_status(const raft *r, raft_status *st)
{
    memset(st, 0, sizeof(*st));
    st->id = r->id;
    st->hs = cur_hs(r);
    st->soft = cur_ss(r);
    st->applied = r->log.applied;
    st->first_index = raft_log_first_index(&r->log);
    st->last_index = last_index(r);
    st->snapshot_index = r->snap.meta.index;
    st->snapshot_term = r->snap.meta.term;
    st->lead_transferee = r->lead_transferee;
    st->conf = r->conf;
    if (r->role == RAFT_LEADER) {
        for (int i = 0; i < r->n_prs; i++) {
            raft_progress_status *p = &st->progress[st->n_progress++];
            p->id = r->prs[i].id;
            p->learner = r->prs[i].learner;
            p->match = r->prs[i].match;
            p->next = r->prs[i].next;
            p->recent_active = r->prs[i].recent_active;
            p->state = (uint32_t)r->prs[i].state;
            p->pending_snapshot = r->prs[i].pending_snapshot;
        }
    }
}

uint32_t raft_get_role(const raft *r)
{
    return r->role;
}

uint64_t raft_get_term(const raft *r)
{
    return r->term;
}

uint64_t raft_get_leader(const raft *r)
{
    return r->lead;
}

uint64_t raft_get_committed(const raft *r)
{
    return r->log.committed;
}

uint64_t raft_get_last_index(const raft *r)
{
    return last_index(r);
}

const char *raft_role_name(uint32_t role)
{
    switch (role) {
    case RAFT_FOLLOWER:
        return "follower";
    case RAFT_PRECANDIDATE:
        return "precandidate";
    case RAFT_CANDIDATE:
        return "candidate";
    case RAFT_LEADER:
        return "leader";
    default:
        return "unknown";
    }
}

const char *raft_msg_type_name(uint32_t type)
{
    static const char *names[] = {
        "?",         "APP",          "APP_RESP",  "VOTE",           "VOTE_RESP",
        "PREVOTE",   "PREVOTE_RESP", "HEARTBEAT", "HEARTBEAT_RESP", "SNAP",
        "SNAP_RESP", "TIMEOUT_NOW"};
    return type < sizeof(names) / sizeof(names[0]) ? names[type] : "?";
}

uint64_t raft_term_at(const raft *r, uint64_t index)
{
    uint64_t t;
    return raft_log_term(&r->log, index, &t) ? t : 0;
}

const raft_entry *raft_entry_at(const raft *r, uint64_t index)
{
    return raft_log_entry(&r->log, index);
}
