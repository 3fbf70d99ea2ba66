#ifndef CFS_RAFT_H
#define CFS_RAFT_H
/* The pure Raft core (etcd/raft style). No sockets, files, clocks, threads or global state:
 * the caller feeds it time (raft_tick), messages (raft_step) and proposals, and drains a
 * `raft_ready` batch that says what to persist, what to send and what to apply.
 *
 * The caller loop (raft_node.c, the simulator):
 *     if (raft_has_ready(r)) {
 *         raft_ready rd;
 *         raft_get_ready(r, &rd);
 *         1. if rd.snapshot: persist it (and drop all WAL entries), restore the fsm from it;
 *         2. persist rd.entries (truncating the WAL from rd.entries[0].index first), then
 *            rd.hs if rd.hs_changed; fsync when rd.must_sync;
 *            (rd.msgs[0 .. rd.n_early) may be sent before or during this step);
 *         3. send rd.msgs (only now: votes and acks must be durable before they leave);
 *         4. apply rd.committed in order (skipping non-NORMAL types for the fsm);
 *            serve rd.read_states whose index <= applied;
 *         raft_advance(r, &rd);
 *         raft_ready_free(&rd);
 *     }
 * A ready owns deep copies of everything it points to, so the caller may release its lock
 * while persisting; other raft_* calls may run between raft_get_ready and raft_advance, but
 * only one ready may be outstanding (raft_has_ready returns false until raft_advance).
 *
 * The whole log since the last snapshot lives in memory inside the core (the metaserver's
 * entries are small and snapshots cut the log regularly), so there is no storage callback.
 *
 * Errors are negative errno values (common/errors.h): -CFS_ENOTLEADER, -EBUSY, -EINVAL. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RAFT_MAX_MEMBERS 16
#define RAFT_ADDR_MAX 128

typedef struct raft raft;

/* ---------------------------------------------------------------- entries and messages */

typedef enum raft_entry_type {
    RAFT_ENTRY_NORMAL = 0,      /* state machine command */
    RAFT_ENTRY_CONF_CHANGE = 1, /* data = raft_conf_change_encode() or raft_conf_set_encode() */
    RAFT_ENTRY_NOOP = 2,        /* empty entry a new leader appends to commit its term */
} raft_entry_type;

typedef struct raft_entry {
    uint64_t term;
    uint64_t index;
    uint32_t type; /* raft_entry_type */
    uint8_t *data;
    size_t len;
} raft_entry;

/* Wire message types; the numbers are what RaftMessage.type carries. */
typedef enum raft_msg_type {
    RAFT_MSG_APP = 1,            /* AppendEntries: index/log_term = prev entry, entries, commit */
    RAFT_MSG_APP_RESP = 2,       /* index = last matching index; reject + reject_hint/hint_term */
    RAFT_MSG_VOTE = 3,           /* RequestVote: index/log_term = candidate's last entry */
    RAFT_MSG_VOTE_RESP = 4,      /* reject = not granted */
    RAFT_MSG_PREVOTE = 5,        /* PreVote: term = the term the sender would campaign in */
    RAFT_MSG_PREVOTE_RESP = 6,   /* reject = not granted */
    RAFT_MSG_HEARTBEAT = 7,      /* commit; context = ReadIndex round (8 bytes) or empty */
    RAFT_MSG_HEARTBEAT_RESP = 8, /* context echoed */
    RAFT_MSG_SNAP = 9,           /* InstallSnapshot piece: snap_*; snap_done on the last one */
    RAFT_MSG_SNAP_RESP = 10,     /* snap_index; snap_offset = bytes the receiver holds so far */
    RAFT_MSG_TIMEOUT_NOW = 11,   /* leadership transfer: campaign now, skipping PreVote */
} raft_msg_type;

/* Mirrors `message RaftMessage` in proto/chunkfs.proto field by field. */
typedef struct raft_msg {
    uint32_t type; /* raft_msg_type */
    uint64_t from;
    uint64_t to;
    uint64_t term;
    uint64_t log_term;
    uint64_t index;
    uint64_t commit;
    bool reject;
    uint64_t reject_hint;
    uint64_t hint_term;
    raft_entry *entries;
    size_t n_entries;
    uint64_t snap_index;
    uint64_t snap_term;
    uint8_t *snap_conf; /* raft_conf_encode() bytes (first piece only; may be on all) */
    size_t snap_conf_len;
    uint64_t snap_offset;
    uint8_t *snap_data;
    size_t snap_data_len;
    bool snap_done;
    uint8_t *context;
    size_t context_len;
} raft_msg;

/* ---------------------------------------------------------------- membership */

typedef struct raft_member {
    uint64_t id;              /* nonzero */
    bool learner;             /* receives the log but neither votes nor counts for commit */
    char addr[RAFT_ADDR_MAX]; /* opaque to the core (host:port); NUL-terminated */
} raft_member;

typedef struct raft_conf {
    int n;
    raft_member members[RAFT_MAX_MEMBERS];
} raft_conf;

typedef enum raft_conf_change_type {
    RAFT_CC_ADD_VOTER = 1,   /* adds a voter, or promotes an existing learner */
    RAFT_CC_ADD_LEARNER = 2, /* adds a learner (a new server catches up as one first) */
    RAFT_CC_REMOVE = 3,      /* removes a voter or learner */
    /* Replaces the whole membership. Only the founding entry (index 1) is written this way
     * (raft_conf_set_encode), never proposed: one entry, so that no prefix of a new log can
     * describe a partial founding membership. */
    RAFT_CC_SET = 4,
} raft_conf_change_type;

typedef struct raft_conf_change {
    uint32_t type; /* raft_conf_change_type */
    uint64_t id;
    char addr[RAFT_ADDR_MAX]; /* for adds; NUL-terminated */
} raft_conf_change;

/* Byte encodings (little-endian, versioned) used in snap_conf, snapshot files and entries.
 * Encode returns the length written, or -ENOSPC if cap is too small (RAFT_CONF_MAX_BYTES is
 * always enough). Decode returns 0, or -EINVAL on malformed input (then *out is undefined). */
#define RAFT_CONF_MAX_BYTES (8 + RAFT_MAX_MEMBERS * (8 + 1 + 2 + RAFT_ADDR_MAX))
#define RAFT_CC_MAX_BYTES (8 + 4 + 8 + 2 + RAFT_ADDR_MAX)
#define RAFT_CC_SET_MAX_BYTES (8 + RAFT_CONF_MAX_BYTES)
int raft_conf_encode(const raft_conf *c, uint8_t *buf, size_t cap);
int raft_conf_decode(const uint8_t *buf, size_t len, raft_conf *out);
/* One change (ADD_VOTER, ADD_LEARNER, REMOVE); decode refuses RAFT_CC_SET data. */
int raft_conf_change_encode(const raft_conf_change *cc, uint8_t *buf, size_t cap);
int raft_conf_change_decode(const uint8_t *buf, size_t len, raft_conf_change *out);
/* A whole membership as CONF_CHANGE entry data (RAFT_CC_SET). -EINVAL unless c has 1 to
 * RAFT_MAX_MEMBERS members with distinct nonzero ids, at least one of them a voter. */
int raft_conf_set_encode(const raft_conf *c, uint8_t *buf, size_t cap);
/* Applies CONF_CHANGE entry data (either encoding) to *c; the one rule every node uses, so
 * that all derive the same membership from the same log. Adding an existing voter updates
 * its address, adding a voter promotes a learner, adding an existing member as a learner
 * and removing an unknown id change nothing, an add beyond RAFT_MAX_MEMBERS is dropped.
 * Returns 0, or -EINVAL for malformed data (then *c is unchanged). */
int raft_conf_entry_apply(raft_conf *c, const uint8_t *data, size_t len);
/* Index of member `id` in c, or -1. */
int raft_conf_find(const raft_conf *c, uint64_t id);

/* ---------------------------------------------------------------- state */

typedef struct raft_hard_state {
    uint64_t term;
    uint64_t vote; /* 0 = none */
    uint64_t commit;
} raft_hard_state;

typedef enum raft_role {
    RAFT_FOLLOWER = 0,
    RAFT_PRECANDIDATE = 1,
    RAFT_CANDIDATE = 2,
    RAFT_LEADER = 3,
} raft_role;

typedef struct raft_soft_state {
    uint64_t leader; /* 0 = unknown */
    uint32_t role;   /* raft_role */
} raft_soft_state;

typedef struct raft_snapshot_meta {
    uint64_t index; /* last entry the image covers; 0 = no snapshot */
    uint64_t term;  /* term of that entry */
    raft_conf conf; /* membership as of index */
} raft_snapshot_meta;

typedef struct raft_snapshot {
    raft_snapshot_meta meta;
    uint8_t *data; /* state machine image */
    size_t len;
} raft_snapshot;

/* A confirmed linearizable read: once applied >= index, a read of the state machine reflects
 * every write committed before raft_read_index(ctx) was called. index == 0 means the read
 * failed (leadership lost before confirmation): answer -CFS_ENOTLEADER. */
typedef struct raft_read_state {
    uint64_t ctx;
    uint64_t index;
} raft_read_state;

/* ---------------------------------------------------------------- creation */

typedef struct raft_config {
    uint64_t id;              /* nonzero */
    int election_tick;        /* followers campaign after a random [n, 2n) ticks of silence */
    int heartbeat_tick;       /* leader heartbeat interval in ticks (< election_tick) */
    int max_inflight_msgs;    /* AppendEntries in flight per follower while replicating; 0 = 64 */
    int max_entries_per_msg;  /* 0 = 1024 */
    size_t max_bytes_per_msg; /* entry payload bytes per AppendEntries; 0 = 1 MiB */
    size_t snap_piece_bytes;  /* InstallSnapshot piece size; 0 = 1 MiB */
    bool pre_vote;            /* run a PreVote round before incrementing the term */
    bool check_quorum;        /* leader steps down without a recently active quorum; followers
                                 in contact with a leader ignore (pre)vote requests */
    /* Leader lease reads (raft_read_lease); 0 = off. The leader answers reads from its state
     * for lease_ticks of its own ticks after sending a heartbeat round a quorum of voters
     * acknowledged. Safe only if no voter's election_tick ticks can elapse in less real time
     * than the leader's lease_ticks (bounded clock-rate difference, docs/raft.md). With it on,
     * a voter neither grants a (pre)vote nor campaigns (except when told to by a leadership
     * transfer) within election_tick ticks of hearing from a leader or of its own start.
     * Must be < election_tick. */
    int lease_ticks;
    uint64_t seed; /* seeds the core's own PRNG (election timeout jitter) */
} raft_config;

/* What the caller recovered from storage. */
typedef struct raft_init {
    raft_hard_state hs;
    const raft_snapshot *snapshot; /* NULL or meta.index == 0: none */
    const raft_entry *entries;     /* entries after the snapshot, contiguous */
    size_t n_entries;
    /* Used only when storage is empty (no snapshot, no entries, term 0): the initial voters,
     * identical on every founding node. The core then writes them as ONE CONF_CHANGE entry
     * (RAFT_CC_SET) at index 1, term 1, already committed, so that servers added later learn
     * the founding membership from the log and no node can hold a part of it. Logs written
     * before held one ADD entry per founder (1..n); those still apply. -EINVAL unless the
     * members are valid for raft_conf_set_encode. A joining server passes n == 0 and waits
     * to be added. */
    const raft_conf *bootstrap;
    uint64_t applied; /* last index already applied to the fsm; 0 = the snapshot index */
} raft_init;

/* Creates a core. Copies everything it keeps. Returns 0, or -EINVAL for an invalid config or
 * inconsistent state (non-contiguous entries, commit beyond the log, ...), -ENOMEM. */
int raft_create(const raft_config *cfg, const raft_init *init, raft **out);
void raft_destroy(raft *r);

/* ---------------------------------------------------------------- driving */

/* Advances logical time by one tick (elections, heartbeats, check-quorum, transfer timeout). */
void raft_tick(raft *r);

/* Feeds one received message (copied). Messages for another node, from an unknown term in
 * the past, or malformed are ignored. Returns 0, or -EINVAL for a malformed message. */
int raft_step(raft *r, const raft_msg *m);

/* Starts an election now (as if the election timeout elapsed). No-op on leaders/learners. */
void raft_campaign(raft *r);

/* Appends a NORMAL entry (data copied). On success *index and *term identify it: the proposal
 * succeeded iff an entry with that index AND term is later applied. It goes out to the
 * followers with the next ready (proposals made meanwhile are batched together).
 * -CFS_ENOTLEADER (not leader), -EBUSY (leadership transfer in progress), -EINVAL. */
int raft_propose(raft *r, const uint8_t *data, size_t len, uint64_t *index, uint64_t *term);

/* Appends a CONF_CHANGE entry. Only one membership change may be pending: -EBUSY until the
 * previous one (and, for a new leader, its whole inherited log) is committed. -EINVAL for a
 * change that makes no sense (remove an unknown id, add an existing voter, remove the last
 * voter, more than RAFT_MAX_MEMBERS). The change takes effect on each node when committed. */
int raft_propose_conf_change(raft *r, const raft_conf_change *cc, uint64_t *index, uint64_t *term);

/* Starts a ReadIndex round; the result arrives as a raft_read_state with the same ctx.
 * -CFS_ENOTLEADER when not the leader. */
int raft_read_index(raft *r, uint64_t ctx);

/* Lease read: when this leader holds a valid lease (cfg.lease_ticks > 0, a quorum of voters
 * acknowledged a heartbeat round sent less than lease_ticks ticks ago, an entry of its term
 * is committed, no leadership transfer was started in this term), sets *index to the commit
 * index and returns 0 at once, with no message: once applied >= *index, a read of the state
 * machine reflects every write committed before the call. -EAGAIN when there is no valid
 * lease (use raft_read_index), -CFS_ENOTLEADER when not the leader. */
int raft_read_lease(raft *r, uint64_t *index);

/* Hands leadership to voter `to` (catching it up, then TimeoutNow). Proposals get -EBUSY
 * until it completes or aborts (after an election timeout). -CFS_ENOTLEADER, -EINVAL. */
int raft_transfer_leader(raft *r, uint64_t to);

/* The state machine made a snapshot image at `index` (<= applied; data copied): the core
 * keeps it to send to lagging followers and drops log entries <= index. The caller must
 * have persisted the image first. -EINVAL if index is beyond applied (or persisted) or not
 * newer than the current snapshot (e.g. one received from the leader meanwhile). */
int raft_compact(raft *r, uint64_t index, const uint8_t *data, size_t len);

/* Metadata (term, membership) of a snapshot at `index` (snapshot index <= index <= commit):
 * what to write into the snapshot file before calling raft_compact. 0 or -EINVAL. */
int raft_snapshot_meta_at(const raft *r, uint64_t index, raft_snapshot_meta *out);

/* Transport feedback: peer unreachable (replication falls back to probing), or the result of
 * a snapshot transfer the transport gave up on (failed = true: retry later from scratch). */
void raft_report_unreachable(raft *r, uint64_t id);
void raft_report_snapshot(raft *r, uint64_t id, bool failed);

/* ---------------------------------------------------------------- ready */

typedef struct raft_ready {
    bool soft_changed;
    raft_soft_state soft;
    bool hs_changed;
    raft_hard_state hs;
    raft_snapshot *snapshot; /* NULL, or a snapshot received from the leader */
    raft_entry *entries;     /* to persist; replaces any WAL suffix from entries[0].index */
    size_t n_entries;
    raft_entry *committed; /* to apply, in order */
    size_t n_committed;
    raft_msg *msgs; /* to send after persisting, except msgs[0 .. n_early) */
    size_t n_msgs;
    /* The first n_early messages may leave before (or while) the ready is persisted: a
     * leader's appends, heartbeats, snapshot pieces and TimeoutNow in a term that is already
     * durable (Raft thesis 10.2.1: the leader writes its log in parallel with replicating it;
     * its own copy counts towards commit only after raft_advance). */
    size_t n_early;
    raft_read_state *read_states;
    size_t n_read_states;
    bool must_sync; /* fsync needed (entries, or term/vote changed) */
} raft_ready;

bool raft_has_ready(const raft *r);
/* Fills rd with deep copies (messages are moved out of the core). -EBUSY if a ready is
 * outstanding (rd is then left untouched), -ENOMEM (nothing is lost; retry later). */
int raft_get_ready(raft *r, raft_ready *rd);
/* The caller persisted and applied rd: marks entries stable and committed ones applied. */
void raft_advance(raft *r, const raft_ready *rd);
void raft_ready_free(raft_ready *rd);

/* ---------------------------------------------------------------- inspection */

typedef struct raft_progress_status {
    uint64_t id;
    bool learner;
    uint64_t match;
    uint64_t next;
    bool recent_active;
    uint32_t state; /* 0 probing, 1 replicating, 2 receiving a snapshot */
    uint64_t pending_snapshot;
} raft_progress_status;

typedef struct raft_status {
    uint64_t id;
    raft_hard_state hs;
    raft_soft_state soft;
    uint64_t applied;
    uint64_t first_index; /* first entry held in memory */
    uint64_t last_index;
    uint64_t snapshot_index;
    uint64_t snapshot_term;
    uint64_t lead_transferee; /* 0 = none */
    raft_conf conf;           /* current (committed) membership */
    int n_progress;           /* leader only: per-member replication state */
    raft_progress_status progress[RAFT_MAX_MEMBERS];
} raft_status;

void raft_get_status(const raft *r, raft_status *st);
/* Cheap accessors (raft_get_status copies the membership). */
uint32_t raft_get_role(const raft *r);
uint64_t raft_get_term(const raft *r);
uint64_t raft_get_leader(const raft *r);
uint64_t raft_get_committed(const raft *r);
uint64_t raft_get_last_index(const raft *r);
const char *raft_role_name(uint32_t role);
const char *raft_msg_type_name(uint32_t type);

/* Term of entry `index` if the core still knows it (snapshot boundary or in memory); 0 else. */
uint64_t raft_term_at(const raft *r, uint64_t index);
/* Read-only view of the in-memory entry at index, or NULL (used by the simulator's checks). */
const raft_entry *raft_entry_at(const raft *r, uint64_t index);

#endif
