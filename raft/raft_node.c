/* raft_node: the threads, storage and transport around the pure core (see raft_node.h).
 *
 * Threads and locks:
 *   driver        whoever holds the `driving` token (under mu) owns the WAL and drains one
 *                 ready: persist (WAL append + one fsync for everything pending = group
 *                 commit), hand messages to the transport, advance the core, queue committed
 *                 entries for the apply thread. Usually the step thread; a transport thread
 *                 that just stepped a message in drives the ready itself when nobody else
 *                 does (wait_answers), which saves waking the step thread on the commit path.
 *   step thread   ticks the core, compacts the WAL, drives readies nobody else took.
 *   apply thread  owns the fsm: applies entries in order, completes waiters, makes snapshots.
 *                 On the leader a driver applies committed entries itself when the apply
 *                 thread is idle with nothing queued (the `applying` token, under amu), so
 *                 the proposer is answered without another thread switch.
 *   transport     one sender thread per peer (raft_transport.c); RPC handler threads step
 *                 received messages into the core.
 *   mu   protects the core, the address book and the cached leader state.
 *   wmu  protects waiters and the applied index (lock order: mu before wmu, never reversed);
 *        each waiter is woken through its own condition, `wcond` is for users/destroy.
 *   amu  protects the apply queue.
 *   snap_mu serializes snapshot file writes (own snapshots vs. installed ones). */
#include "raft/raft_node.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/errors.h"
#include "common/log.h"
#include "common/time_util.h"
#include "raft/raft.h"
#include "raft/raft_snapshot.h"
#include "raft/raft_trace.h"
#include "raft/raft_transport.h"
#include "raft/raft_wal.h"

#define ADDR_BOOK_MAX 64
/* Snapshot files kept: the newest plus one to fall back to if the newest turns out corrupt
 * (the WAL keeps entries from the older one on, so the fallback is complete). */
#define SNAPSHOTS_KEPT 2
/* Largest proposal: it has to travel in one RaftBatch (with room for the message fields). */
#define RAFT_NODE_MAX_ENTRY (CFS_RPC_MAX_MESSAGE - 64 * 1024)
/* A learner counts as caught up when its match index is this close to the leader's log. */
#define CATCH_UP_SLACK 64

typedef struct waiter {
    bool is_read;
    uint64_t index, term; /* proposal: the entry to wait for */
    uint64_t ctx;         /* read: ReadIndex context */
    bool read_ready;
    uint64_t read_index;
    bool done;
    int err;
    void *result;
    /* Its own condition: waking every waiting caller for each applied entry cost a
     * thundering herd per entry with many proposers (2 cores). Set up by waiter_add,
     * destroyed by waiter_wait, which always follows. */
    pthread_cond_t cond;
    struct waiter *prev, *next;
} waiter;

typedef enum apply_kind { AI_ENTRIES, AI_SNAPSHOT, AI_ROLE } apply_kind;

typedef struct apply_item {
    apply_kind kind;
    raft_entry *ents;
    size_t n;
    raft_snapshot *snap;
    bool leader;
    uint64_t term;
    struct apply_item *next;
} apply_item;

typedef struct addr_entry {
    uint64_t id;
    char addr[RAFT_ADDR_MAX];
} addr_entry;

struct raft_node {
    raft_node_config cfg;
    char data_dir[4096];
    char wal_dir[4200];
    char snap_dir[4200];
    raft_fsm_ops ops;
    void *fsm;
    raft *core;
    raft_wal *wal;
    raft_transport *tr;

    pthread_mutex_t mu;
    pthread_cond_t kick_cond;
    bool kick;
    bool driving;                         /* a thread is draining a ready (owns the WAL and hs) */
    uint64_t readies_taken, readies_done; /* step thread progress (for wait_answers) */
    pthread_cond_t done_cond;
    atomic_bool stopping;
    atomic_bool fatal; /* storage failed: the node no longer persists or acts */
    addr_entry book[ADDR_BOOK_MAX];
    int n_book;
    uint64_t read_ctx;
    int64_t next_tick; /* monotonic ms of the core's next tick */
    bool is_leader;
    uint64_t leader_id;
    uint64_t term;

    raft_hard_state hs; /* step thread: last hard state written */

    pthread_mutex_t wmu;
    pthread_cond_t wcond;
    waiter *waiters;
    int users; /* API calls in progress (destroy waits for them) */
    uint64_t applied_index;

    pthread_mutex_t amu;
    pthread_cond_t acond;
    apply_item *aq_head, *aq_tail;
    bool applying; /* the apply thread or an inline applier is applying (the fsm is taken) */

    pthread_mutex_t snap_mu;
    /* apply thread state */
    uint64_t applied_term;
    uint64_t snap_index;
    raft_conf applied_conf;
    bool apply_failed;

    atomic_uint_least64_t wal_compact_to;
    atomic_uint_least64_t log_bytes;

    pthread_t step_thr, apply_thr;
    bool started;
    raft_trace trace;
};

/* Set by on_message when a handler thread stepped entries as a follower, so that
 * wait_answers (same thread, same batch) knows to time the answer. */
static _Thread_local bool tl_stepped_entries;

/* ------------------------------------------------------------------ small helpers */

static void cond_init_mono(pthread_cond_t *c)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(c, &ca);
    pthread_condattr_destroy(&ca);
}

static struct timespec abs_ms(int64_t mono_ms)
{
    struct timespec ts = {.tv_sec = mono_ms / 1000, .tv_nsec = (long)(mono_ms % 1000) * 1000000L};
    return ts;
}

static int mkdir_one(const char *path)
{
    if (mkdir(path, 0755) < 0 && errno != EEXIST) return -errno;
    return 0;
}

static int mkdir_p(const char *path)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) return -ENAMETOOLONG;
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            int rc = mkdir_one(buf);
            *p = '/';
            if (rc < 0) return rc;
        }
    }
    return mkdir_one(buf);
}

/* ------------------------------------------------------------------ address book (mu held) */

static void book_set(raft_node *n, uint64_t id, const char *addr)
{
    if (!addr || !addr[0] || id == 0) return;
    for (int i = 0; i < n->n_book; i++) {
        if (n->book[i].id == id) {
            if (strcmp(n->book[i].addr, addr) != 0)
                snprintf(n->book[i].addr, RAFT_ADDR_MAX, "%s", addr);
            return;
        }
    }
    int slot = n->n_book < ADDR_BOOK_MAX ? n->n_book++ : (int)(id % ADDR_BOOK_MAX);
    n->book[slot].id = id;
    snprintf(n->book[slot].addr, RAFT_ADDR_MAX, "%s", addr);
    if (id == n->cfg.id && n->tr) raft_transport_set_self_addr(n->tr, addr);
}

static void book_add_conf(raft_node *n, const raft_conf *c)
{
    for (int i = 0; i < c->n; i++)
        book_set(n, c->members[i].id, c->members[i].addr);
}

static const char *book_get(raft_node *n, uint64_t id)
{
    for (int i = 0; i < n->n_book; i++)
        if (n->book[i].id == id) return n->book[i].addr;
    /* Not known yet: the committed membership may name it. */
    raft_status st;
    raft_get_status(n->core, &st);
    book_add_conf(n, &st.conf);
    for (int i = 0; i < n->n_book; i++)
        if (n->book[i].id == id) return n->book[i].addr;
    return NULL;
}

/* ------------------------------------------------------------------ waiters (wmu held) */

static void waiter_add(raft_node *n, waiter *w)
{
    cond_init_mono(&w->cond);
    w->prev = NULL;
    w->next = n->waiters;
    if (n->waiters) n->waiters->prev = w;
    n->waiters = w;
}

static void waiter_remove(raft_node *n, waiter *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else if (n->waiters == w)
        n->waiters = w->next;
    if (w->next) w->next->prev = w->prev;
    w->prev = w->next = NULL;
}

static void waiter_finish(raft_node *n, waiter *w, int err)
{
    waiter_remove(n, w);
    w->done = true;
    w->err = err;
    pthread_cond_signal(&w->cond);
}

/* Completes the read waiters whose read index is applied (wmu held). */
static void finish_applied_reads(raft_node *n)
{
    for (waiter *w = n->waiters, *next; w; w = next) {
        next = w->next;
        if (w->is_read && w->read_ready && n->applied_index >= w->read_index)
            waiter_finish(n, w, 0);
    }
}

static void fail_all_waiters(raft_node *n, int err)
{
    pthread_mutex_lock(&n->wmu);
    while (n->waiters)
        waiter_finish(n, n->waiters, err);
    pthread_cond_broadcast(&n->wcond);
    pthread_mutex_unlock(&n->wmu);
}

static bool enter(raft_node *n)
{
    pthread_mutex_lock(&n->wmu);
    bool ok = !atomic_load(&n->stopping);
    if (ok) n->users++;
    pthread_mutex_unlock(&n->wmu);
    return ok;
}

static void leave(raft_node *n)
{
    pthread_mutex_lock(&n->wmu);
    n->users--;
    pthread_cond_broadcast(&n->wcond);
    pthread_mutex_unlock(&n->wmu);
}

/* Waits (wmu held on entry and exit) until w (added with waiter_add) is done, or for a read
 * until its index is applied. Returns w's error, or -ETIMEDOUT (w removed). */
static int waiter_wait_cond(raft_node *n, waiter *w, int64_t deadline)
{
    struct timespec ts = abs_ms(deadline);
    for (;;) {
        if (w->done) return w->err;
        if (w->is_read && w->read_ready && n->applied_index >= w->read_index) {
            waiter_finish(n, w, 0);
            return 0;
        }
        if (pthread_cond_timedwait(&w->cond, &n->wmu, &ts) == ETIMEDOUT && !w->done) {
            if (w->is_read && w->read_ready && n->applied_index >= w->read_index) {
                waiter_finish(n, w, 0);
                return 0;
            }
            waiter_remove(n, w);
            return -ETIMEDOUT;
        }
    }
}

static int waiter_wait(raft_node *n, waiter *w, int64_t deadline)
{
    int rc = waiter_wait_cond(n, w, deadline);
    pthread_cond_destroy(&w->cond); /* w is off the list: nobody signals it any more */
    return rc;
}

static void kick_locked(raft_node *n)
{
    n->kick = true;
    pthread_cond_signal(&n->kick_cond);
}

/* ------------------------------------------------------------------ transport callbacks */

static void on_message(void *arg, const raft_msg *m, const char *from_addr)
{
    raft_node *n = arg;
    pthread_mutex_lock(&n->mu);
    if (!atomic_load(&n->stopping)) {
        if (from_addr[0]) book_set(n, m->from, from_addr);
        bool entries = m->type == RAFT_MSG_APP && m->n_entries > 0;
        int64_t t0 = entries ? cfs_mono_ns() : 0;
        int rc = raft_step(n->core, m);
        if (entries) {
            raft_trace_add(&n->trace.follower_step_ns, t0, cfs_mono_ns());
            atomic_fetch_add(&n->trace.follower_batches, 1);
            tl_stepped_entries = true;
        }
        if (m->type == RAFT_MSG_APP_RESP && !m->reject && rc == 0)
            raft_trace_mark_range(&n->trace, RAFT_MARK_ACKED, 1, m->index, cfs_mono_ns());
        if (rc < 0)
            LOG_DEBUG("raft: step of %s from %" PRIu64 " refused: %s", raft_msg_type_name(m->type),
                      m->from, cfs_strerror(rc));
        kick_locked(n);
    }
    pthread_mutex_unlock(&n->mu);
}

/* Longest a receiving handler waits for the answers to a batch (they include an fsync). */
#define ANSWER_WAIT_MS 500

static void drive_one(raft_node *n);

/* Returns once the ready batch that contains the effects of the messages just stepped has
 * been processed (its messages queued), or at once when there is nothing pending. When no
 * other thread is draining a ready, the calling thread drains it itself: a follower persists
 * and answers on the handler thread, a leader learns of a commit and answers the proposer
 * on the thread that received the ack. */
static void wait_answers(void *arg)
{
    raft_node *n = arg;
    bool timed = tl_stepped_entries;
    tl_stepped_entries = false;
    int64_t t0 = timed ? cfs_mono_ns() : 0;
    int64_t deadline = cfs_mono_ms() + ANSWER_WAIT_MS;
    struct timespec ts = abs_ms(deadline);
    pthread_mutex_lock(&n->mu);
    uint64_t target = n->readies_taken + 1;
    while (!atomic_load(&n->stopping) && !atomic_load(&n->fatal) && n->readies_done < target) {
        if (!n->driving) {
            if (!raft_has_ready(n->core)) break;
            drive_one(n);
            continue;
        }
        if (pthread_cond_timedwait(&n->done_cond, &n->mu, &ts) == ETIMEDOUT) break;
    }
    pthread_mutex_unlock(&n->mu);
    if (timed) raft_trace_add(&n->trace.follower_answer_ns, t0, cfs_mono_ns());
}

static void on_fail(void *arg, uint64_t peer, bool snapshot)
{
    raft_node *n = arg;
    pthread_mutex_lock(&n->mu);
    if (snapshot)
        raft_report_snapshot(n->core, peer, true);
    else
        raft_report_unreachable(n->core, peer);
    kick_locked(n);
    pthread_mutex_unlock(&n->mu);
}

/* ------------------------------------------------------------------ apply thread */

static void enqueue_apply(raft_node *n, apply_item *it)
{
    pthread_mutex_lock(&n->amu);
    it->next = NULL;
    if (n->aq_tail)
        n->aq_tail->next = it;
    else
        n->aq_head = it;
    n->aq_tail = it;
    pthread_cond_signal(&n->acond);
    pthread_mutex_unlock(&n->amu);
}

static void free_entries(raft_entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(e[i].data);
    free(e);
}

static void free_snapshot(raft_snapshot *s)
{
    if (s) {
        free(s->data);
        free(s);
    }
}

static void maybe_snapshot(raft_node *n)
{
    if (n->apply_failed || n->applied_index < n->snap_index + n->cfg.snapshot_entries) return;
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = n->ops.snapshot(n->fsm, &buf, &len);
    if (rc < 0) {
        LOG_ERROR("raft: state machine snapshot failed: %s", cfs_strerror(rc));
        n->snap_index = n->applied_index; /* try again after another snapshot_entries */
        return;
    }
    raft_snapshot s = {
        .meta = {.index = n->applied_index, .term = n->applied_term, .conf = n->applied_conf},
        .data = buf,
        .len = len};
    pthread_mutex_lock(&n->snap_mu);
    rc = raft_snapshot_save(n->snap_dir, &s, SNAPSHOTS_KEPT);
    uint64_t oldest = rc == 0 ? raft_snapshot_oldest_index(n->snap_dir) : 0;
    pthread_mutex_unlock(&n->snap_mu);
    if (rc < 0) {
        LOG_ERROR("raft: writing snapshot at %" PRIu64 " failed: %s", s.meta.index,
                  cfs_strerror(rc));
        free(buf);
        n->snap_index = n->applied_index;
        return;
    }
    pthread_mutex_lock(&n->mu);
    rc = raft_compact(n->core, s.meta.index, buf, len);
    if (oldest > 0) {
        atomic_store(&n->wal_compact_to, oldest);
        kick_locked(n);
    }
    pthread_mutex_unlock(&n->mu);
    free(buf);
    if (rc < 0)
        LOG_DEBUG("raft: core compaction at %" PRIu64 ": %s", s.meta.index, cfs_strerror(rc));
    LOG_INFO("raft: snapshot at index %" PRIu64 " term %" PRIu64 " (%zu bytes image)", s.meta.index,
             s.meta.term, len);
    n->snap_index = s.meta.index;
}

static void apply_snapshot(raft_node *n, raft_snapshot *s)
{
    int rc = n->ops.restore(n->fsm, s->data, s->len);
    if (rc < 0) {
        LOG_ERROR("raft: restoring the state machine from snapshot %" PRIu64 " failed: %s; "
                  "the node stops applying",
                  s->meta.index, cfs_strerror(rc));
        n->apply_failed = true;
        return;
    }
    n->applied_term = s->meta.term;
    n->applied_conf = s->meta.conf;
    n->snap_index = s->meta.index;
    pthread_mutex_lock(&n->wmu);
    n->applied_index = s->meta.index;
    /* Proposals inside the snapshot cannot be told apart from lost ones. */
    for (waiter *w = n->waiters, *next; w; w = next) {
        next = w->next;
        if (!w->is_read && w->index <= s->meta.index) waiter_finish(n, w, -CFS_ENOTLEADER);
    }
    finish_applied_reads(n);
    pthread_mutex_unlock(&n->wmu);
    LOG_INFO("raft: installed snapshot at index %" PRIu64 " term %" PRIu64, s->meta.index,
             s->meta.term);
}

static void apply_entries(raft_node *n, const raft_entry *ents, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        const raft_entry *e = &ents[i];
        if (e->index <= n->applied_index) continue; /* covered by a snapshot */
        void *result = NULL;
        int err = 0;
        bool traced = raft_trace_is(&n->trace, e->index);
        if (traced)
            raft_trace_mark_range(&n->trace, RAFT_MARK_APPLYING, e->index, e->index, cfs_mono_ns());
        if (n->apply_failed) {
            err = -EIO;
        } else if (e->type == RAFT_ENTRY_NORMAL) {
            int rc = n->ops.apply(n->fsm, e->index, e->data, e->len, &result);
            if (rc != 0) {
                LOG_ERROR("raft: state machine failed to apply entry %" PRIu64 " (%d); the "
                          "node stops applying",
                          e->index, rc);
                n->apply_failed = true;
                err = -EIO;
            }
        } else if (e->type == RAFT_ENTRY_CONF_CHANGE) {
            if (raft_conf_entry_apply(&n->applied_conf, e->data, e->len) == 0) {
                pthread_mutex_lock(&n->mu);
                book_add_conf(n, &n->applied_conf);
                pthread_mutex_unlock(&n->mu);
            } else {
                LOG_ERROR("raft: undecodable membership entry %" PRIu64, e->index);
            }
        }
        pthread_mutex_lock(&n->wmu);
        if (!n->apply_failed) {
            n->applied_index = e->index;
            n->applied_term = e->term;
        }
        for (waiter *w = n->waiters, *next; w; w = next) {
            next = w->next;
            if (w->is_read) {
                if (w->read_ready && n->applied_index >= w->read_index) waiter_finish(n, w, 0);
                continue;
            }
            if (w->index != e->index) continue;
            if (err == 0 && w->term == e->term) {
                w->result = result;
                result = NULL;
                waiter_finish(n, w, 0);
            } else {
                /* Another leader's entry took this index: the proposal was lost. */
                waiter_finish(n, w, err ? err : -CFS_ENOTLEADER);
            }
        }
        if (traced)
            raft_trace_mark_range(&n->trace, RAFT_MARK_APPLIED, e->index, e->index, cfs_mono_ns());
        pthread_mutex_unlock(&n->wmu);
        if (result && n->ops.free_result) n->ops.free_result(n->fsm, result);
    }
}

static void *apply_main(void *arg)
{
    raft_node *n = arg;
    for (;;) {
        pthread_mutex_lock(&n->amu);
        while (!n->aq_head && !atomic_load(&n->stopping))
            pthread_cond_wait(&n->acond, &n->amu);
        apply_item *it = n->aq_head;
        if (!it) {
            pthread_mutex_unlock(&n->amu);
            break;
        }
        n->aq_head = it->next;
        if (!n->aq_head) n->aq_tail = NULL;
        n->applying = true;
        pthread_mutex_unlock(&n->amu);
        if (atomic_load(&n->stopping)) {
            free_entries(it->ents, it->n);
            free_snapshot(it->snap);
            free(it);
            continue;
        }
        switch (it->kind) {
        case AI_ROLE:
            if (n->ops.role_changed) n->ops.role_changed(n->fsm, it->leader, it->term);
            break;
        case AI_SNAPSHOT:
            if (!n->apply_failed) apply_snapshot(n, it->snap);
            break;
        case AI_ENTRIES:
            apply_entries(n, it->ents, it->n);
            maybe_snapshot(n);
            break;
        }
        free_entries(it->ents, it->n);
        free_snapshot(it->snap);
        free(it);
        pthread_mutex_lock(&n->amu);
        n->applying = false;
        pthread_mutex_unlock(&n->amu);
    }
    return NULL;
}

/* Applies committed entries on the calling thread (the driver) when the apply thread is idle
 * and nothing is queued, so the order stays the log order (only the driver queues). Returns
 * false (nothing done) otherwise. A snapshot that falls due is left to the apply thread. */
static bool apply_inline(raft_node *n, const raft_entry *ents, size_t count)
{
    pthread_mutex_lock(&n->amu);
    bool idle = !n->aq_head && !n->applying && !atomic_load(&n->stopping);
    if (idle) n->applying = true;
    pthread_mutex_unlock(&n->amu);
    if (!idle) return false;
    apply_entries(n, ents, count);
    bool snapshot_due =
        !n->apply_failed && n->applied_index >= n->snap_index + n->cfg.snapshot_entries;
    pthread_mutex_lock(&n->amu);
    n->applying = false;
    pthread_mutex_unlock(&n->amu);
    if (snapshot_due) {
        apply_item *it = calloc(1, sizeof *it);
        if (it) {
            it->kind = AI_ENTRIES; /* no entries: the apply thread only makes the snapshot */
            enqueue_apply(n, it);
        } else {
            LOG_WARN("raft: no memory to queue a snapshot; trying again after the next apply");
        }
    }
    return true;
}

/* ------------------------------------------------------------------ step thread */

static void storage_failed(raft_node *n, const char *what, int rc)
{
    LOG_ERROR("raft: %s failed: %s; this node stops (it can no longer promise durability)", what,
              cfs_strerror(rc));
    atomic_store(&n->fatal, true);
    fail_all_waiters(n, -EIO);
}

/* Persists what the ready asks for. 0 or -errno (fatal). */
static int persist_ready(raft_node *n, const raft_ready *rd)
{
    int rc;
    bool hs_written = false;
    if (rd->hs_changed) n->hs = rd->hs;
    if (rd->snapshot) {
        pthread_mutex_lock(&n->snap_mu);
        rc = raft_snapshot_save(n->snap_dir, rd->snapshot, SNAPSHOTS_KEPT);
        pthread_mutex_unlock(&n->snap_mu);
        if (rc < 0) {
            storage_failed(n, "saving a received snapshot", rc);
            return rc;
        }
        rc = raft_wal_reset(n->wal, rd->snapshot->meta.index + 1, &n->hs);
        if (rc < 0) {
            storage_failed(n, "resetting the log after a snapshot", rc);
            return rc;
        }
        hs_written = true;
    }
    const raft_hard_state *hs = rd->hs_changed && !hs_written ? &rd->hs : NULL;
    if (rd->n_entries > 0 && n->cfg.no_group_commit) {
        /* Benchmark baseline: one write + fsync per entry. */
        for (size_t i = 0; i < rd->n_entries; i++) {
            bool last = i + 1 == rd->n_entries;
            rc = raft_wal_append(n->wal, &rd->entries[i], 1, last ? hs : NULL);
            if (rc == 0) rc = raft_wal_sync(n->wal);
            if (rc < 0) {
                storage_failed(n, "appending to the log", rc);
                return rc;
            }
        }
    } else if (rd->n_entries > 0 || hs) {
        rc = raft_wal_append(n->wal, rd->entries, rd->n_entries, hs);
        if (rc == 0 && rd->must_sync) rc = raft_wal_sync(n->wal);
        if (rc < 0) {
            storage_failed(n, "appending to the log", rc);
            return rc;
        }
    } else if (rd->must_sync) {
        rc = raft_wal_sync(n->wal);
        if (rc < 0) {
            storage_failed(n, "syncing the log", rc);
            return rc;
        }
    }
    atomic_store(&n->log_bytes, raft_wal_bytes(n->wal));
    return 0;
}

/* Hands rd->msgs[from, to) to the transport (mu held). */
static void send_msgs(raft_node *n, const raft_ready *rd, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        const raft_msg *m = &rd->msgs[i];
        const char *addr = book_get(n, m->to);
        if (!addr) {
            LOG_DEBUG("raft: no address for node %" PRIu64 ", dropping %s", m->to,
                      raft_msg_type_name(m->type));
            continue;
        }
        raft_transport_send(n->tr, m->to, addr, m);
    }
}

static void process_ready(raft_node *n, raft_ready *rd)
{
    if (rd->n_early > 0) {
        /* A leader's appends travel while it writes them: its fsync and the followers' run
         * in parallel (it counts itself towards commit only after raft_advance). */
        pthread_mutex_lock(&n->mu);
        send_msgs(n, rd, 0, rd->n_early);
        pthread_mutex_unlock(&n->mu);
    }
    int64_t t0 = cfs_mono_ns();
    if (persist_ready(n, rd) < 0) {
        raft_ready_free(rd);
        return;
    }
    if (rd->n_entries > 0) {
        int64_t t1 = cfs_mono_ns();
        raft_trace_mark_range(&n->trace, RAFT_MARK_DURABLE, rd->entries[0].index,
                              rd->entries[rd->n_entries - 1].index, t1);
        if (rd->soft.role != RAFT_LEADER && rd->must_sync) {
            raft_trace_add(&n->trace.follower_fsync_ns, t0, t1);
            atomic_fetch_add(&n->trace.follower_fsyncs, 1);
        }
    }
    pthread_mutex_lock(&n->mu);
    if (rd->soft_changed) {
        bool was = n->is_leader;
        n->is_leader = rd->soft.role == RAFT_LEADER;
        n->leader_id = rd->soft.leader;
        if (was != n->is_leader)
            LOG_INFO("raft: node %" PRIu64 " is %s (term %" PRIu64 ", leader %" PRIu64 ")",
                     n->cfg.id, raft_role_name(rd->soft.role), n->hs.term, rd->soft.leader);
    }
    n->term = n->hs.term;
    bool lost = rd->soft_changed && !n->is_leader;
    bool leader = n->is_leader;
    send_msgs(n, rd, rd->n_early, rd->n_msgs);
    pthread_mutex_unlock(&n->mu);

    if (lost) {
        /* Pending proposals may or may not commit under the next leader: tell callers now. */
        fail_all_waiters(n, -CFS_ENOTLEADER);
    }
    if (rd->n_read_states > 0) {
        pthread_mutex_lock(&n->wmu);
        for (size_t i = 0; i < rd->n_read_states; i++) {
            for (waiter *w = n->waiters; w; w = w->next) {
                if (!w->is_read || w->ctx != rd->read_states[i].ctx) continue;
                if (rd->read_states[i].index == 0) {
                    waiter_finish(n, w, -CFS_ENOTLEADER);
                } else {
                    w->read_ready = true;
                    w->read_index = rd->read_states[i].index;
                }
                break;
            }
        }
        finish_applied_reads(n);
        pthread_mutex_unlock(&n->wmu);
    }

    pthread_mutex_lock(&n->mu);
    raft_advance(n->core, rd);
    pthread_mutex_unlock(&n->mu);

    if (rd->soft_changed) {
        apply_item *it = calloc(1, sizeof *it);
        if (it) {
            it->kind = AI_ROLE;
            it->leader = leader;
            it->term = n->hs.term;
            enqueue_apply(n, it);
        }
    }
    if (rd->snapshot) {
        apply_item *it = calloc(1, sizeof *it);
        if (!it) {
            storage_failed(n, "queueing a snapshot for the state machine", -ENOMEM);
            raft_ready_free(rd);
            return;
        }
        it->kind = AI_SNAPSHOT;
        it->snap = rd->snapshot;
        rd->snapshot = NULL;
        enqueue_apply(n, it);
    }
    if (rd->n_committed > 0 && leader) {
        raft_trace_mark_range(&n->trace, RAFT_MARK_COMMITTED, rd->committed[0].index,
                              rd->committed[rd->n_committed - 1].index, cfs_mono_ns());
        /* Proposers wait on the leader: answer them from here when the fsm is free. (A
         * follower's answer to its leader must not wait for an apply, so it queues.) */
        if (apply_inline(n, rd->committed, rd->n_committed)) {
            raft_ready_free(rd);
            return;
        }
    }
    if (rd->n_committed > 0) {
        apply_item *it = calloc(1, sizeof *it);
        if (!it) {
            storage_failed(n, "queueing entries for the state machine", -ENOMEM);
            raft_ready_free(rd);
            return;
        }
        it->kind = AI_ENTRIES;
        raft_trace_mark_range(&n->trace, RAFT_MARK_COMMITTED, rd->committed[0].index,
                              rd->committed[rd->n_committed - 1].index, cfs_mono_ns());
        it->ents = rd->committed;
        it->n = rd->n_committed;
        rd->committed = NULL;
        rd->n_committed = 0;
        enqueue_apply(n, it);
    }
    raft_ready_free(rd);
}

/* Ticks the core for every tick period that has passed (mu held). The lease needs the
 * leader's tick count to keep up with real time even while the step thread was busy (a long
 * fsync); after a stall of more than two election timeouts any lease has expired anyway, so
 * the rest is skipped. */
static void catch_up_ticks(raft_node *n)
{
    int64_t now = cfs_mono_ms();
    for (int k = 0; now >= n->next_tick; k++) {
        if (k >= 2 * n->cfg.election_ticks) {
            n->next_tick = now + n->cfg.tick_ms;
            break;
        }
        raft_tick(n->core);
        n->next_tick += n->cfg.tick_ms;
    }
}

/* Takes the core's ready and drains it on the calling thread (mu held on entry and exit, but
 * released meanwhile; the caller checked that nobody else drives). Wakes the step thread
 * when more is pending, as it may be waiting for this driver to finish. */
static void drive_one(raft_node *n)
{
    raft_ready rd;
    int rc = raft_get_ready(n->core, &rd);
    if (rc < 0) {
        LOG_ERROR("raft: getting a ready batch failed: %s", cfs_strerror(rc));
        return;
    }
    n->driving = true;
    n->readies_taken++;
    if (rd.n_entries > 0)
        raft_trace_mark_range(&n->trace, RAFT_MARK_READY, rd.entries[0].index,
                              rd.entries[rd.n_entries - 1].index, cfs_mono_ns());
    pthread_mutex_unlock(&n->mu);
    process_ready(n, &rd);
    pthread_mutex_lock(&n->mu);
    n->driving = false;
    n->readies_done++;
    pthread_cond_broadcast(&n->done_cond);
    if (raft_has_ready(n->core) || atomic_load(&n->wal_compact_to) != 0) kick_locked(n);
}

static void *step_main(void *arg)
{
    raft_node *n = arg;
    pthread_mutex_lock(&n->mu);
    while (!atomic_load(&n->stopping) && !atomic_load(&n->fatal)) {
        catch_up_ticks(n);
        int64_t next_tick = n->next_tick;
        /* While another thread drives, the WAL is its: wait for its kick. */
        bool ready = !n->driving && raft_has_ready(n->core);
        bool compact = !n->driving && atomic_load(&n->wal_compact_to) != 0;
        if (!ready && !compact) {
            if (!n->kick) {
                struct timespec ts = abs_ms(next_tick);
                pthread_cond_timedwait(&n->kick_cond, &n->mu, &ts);
            }
            n->kick = false;
            continue;
        }
        if (compact) {
            uint64_t compact_to = atomic_exchange(&n->wal_compact_to, 0);
            n->driving = true;
            pthread_mutex_unlock(&n->mu);
            int crc = raft_wal_compact(n->wal, compact_to);
            if (crc < 0) storage_failed(n, "compacting the log", crc);
            pthread_mutex_lock(&n->mu);
            n->driving = false;
            pthread_cond_broadcast(&n->done_cond);
        }
        if (ready && !atomic_load(&n->fatal)) drive_one(n);
    }
    pthread_cond_broadcast(&n->done_cond); /* handlers waiting for answers: there are none */
    pthread_mutex_unlock(&n->mu);
    return NULL;
}

/* ------------------------------------------------------------------ create / start / destroy */

static int recover(raft_node *n, const raft_node_config *cfg)
{
    raft_snapshot snap = {0};
    int rc = raft_snapshot_load(n->snap_dir, &snap);
    if (rc < 0 && rc != -ENOENT) {
        LOG_ERROR("raft: cannot load a snapshot from %s: %s", n->snap_dir, cfs_strerror(rc));
        return rc;
    }
    bool have_snap = rc == 0;
    if (have_snap) {
        rc = n->ops.restore(n->fsm, snap.data, snap.len);
        if (rc < 0) {
            LOG_ERROR("raft: restoring the state machine from snapshot %" PRIu64 ": %s",
                      snap.meta.index, cfs_strerror(rc));
            raft_snapshot_release(&snap);
            return rc;
        }
    }
    raft_wal_recovered rec;
    rc = raft_wal_open(n->wal_dir, 0, snap.meta.index, &n->wal, &rec);
    if (rc < 0) {
        LOG_ERROR("raft: cannot recover the log in %s: %s", n->wal_dir, cfs_strerror(rc));
        raft_snapshot_release(&snap);
        return rc;
    }
    /* Entries the snapshot covers are skipped. */
    size_t skip = 0;
    while (skip < rec.n_entries && rec.entries[skip].index <= snap.meta.index)
        skip++;
    const raft_entry *ents = rec.entries + skip;
    size_t n_ents = rec.n_entries - skip;
    bool diverged = (skip > 0 && rec.entries[skip - 1].index == snap.meta.index &&
                     rec.entries[skip - 1].term != snap.meta.term) ||
                    (have_snap && n_ents > 0 && ents[0].term < snap.meta.term);
    if (diverged) {
        /* A crash between saving a snapshot received from the leader and resetting the log:
         * the entries after it belong to another history and were never committed. */
        LOG_WARN("raft: log entries after snapshot %" PRIu64 " (term %" PRIu64
                 ") contradict it; dropping %zu uncommitted entries",
                 snap.meta.index, snap.meta.term, n_ents);
        raft_hard_state keep = rec.has_hard_state ? rec.hs : (raft_hard_state){0};
        if (keep.commit > snap.meta.index) keep.commit = snap.meta.index;
        rc = raft_wal_reset(n->wal, snap.meta.index + 1, &keep);
        if (rc < 0) {
            LOG_ERROR("raft: cannot reset the log: %s", cfs_strerror(rc));
            goto out;
        }
        n_ents = 0;
    }
    raft_hard_state hs = rec.has_hard_state ? rec.hs : (raft_hard_state){0};
    uint64_t last = n_ents ? ents[n_ents - 1].index : snap.meta.index;
    uint64_t last_term = n_ents ? ents[n_ents - 1].term : snap.meta.term;
    if (hs.term < last_term) {
        /* The hard state written with a received snapshot was lost in a crash: the term is at
         * least the snapshot's; no vote was sent in it (votes leave only once durable). */
        hs.term = last_term;
        hs.vote = 0;
    }
    if (hs.commit < snap.meta.index) hs.commit = snap.meta.index;
    if (hs.commit > last) {
        LOG_WARN("raft: recorded commit %" PRIu64 " is past the log end %" PRIu64
                 "; using the log end",
                 hs.commit, last);
        hs.commit = last;
    }
    n->hs = hs;

    raft_conf boot = {0};
    if (!cfg->join) {
        if (cfg->n_peers > RAFT_MAX_MEMBERS) {
            rc = -EINVAL;
            goto out;
        }
        for (int i = 0; i < cfg->n_peers; i++) {
            boot.members[i].id = cfg->peers[i].id;
            snprintf(boot.members[i].addr, RAFT_ADDR_MAX, "%s", cfg->peers[i].addr);
        }
        boot.n = cfg->n_peers;
    }
    raft_config rc_cfg = {
        .id = cfg->id,
        .election_tick = n->cfg.election_ticks,
        .heartbeat_tick = n->cfg.heartbeat_ticks,
        .pre_vote = true,
        .check_quorum = true,
        /* Half an election timeout: safe while clock rates differ by less than 2x. */
        .lease_ticks = n->cfg.no_lease_reads ? 0 : n->cfg.election_ticks / 2,
        .seed = cfg->id * UINT64_C(0x9E3779B97F4A7C15) ^ (uint64_t)cfs_mono_ns(),
    };
    raft_init init = {
        .hs = hs,
        .snapshot = have_snap ? &snap : NULL,
        .entries = ents,
        .n_entries = n_ents,
        .bootstrap = &boot,
    };
    rc = raft_create(&rc_cfg, &init, &n->core);
    if (rc < 0) {
        LOG_ERROR("raft: recovered state is inconsistent (%s)", cfs_strerror(rc));
        goto out;
    }
    /* Addresses: configured peers, the snapshot's membership, membership entries. */
    for (int i = 0; i < cfg->n_peers; i++)
        book_set(n, cfg->peers[i].id, cfg->peers[i].addr);
    if (have_snap) {
        book_add_conf(n, &snap.meta.conf);
        n->applied_conf = snap.meta.conf;
    }
    /* Every membership the log names, committed or not: a member's address must be known
     * before the core sends to it. */
    raft_conf seen = have_snap ? snap.meta.conf : (raft_conf){0};
    for (size_t i = 0; i < n_ents; i++)
        if (ents[i].type == RAFT_ENTRY_CONF_CHANGE &&
            raft_conf_entry_apply(&seen, ents[i].data, ents[i].len) == 0)
            book_add_conf(n, &seen);
    n->applied_index = snap.meta.index;
    n->applied_term = snap.meta.term;
    n->snap_index = snap.meta.index;
    n->term = hs.term;
    atomic_store(&n->log_bytes, raft_wal_bytes(n->wal));
    LOG_INFO("raft: node %" PRIu64 " recovered: snapshot index %" PRIu64 " term %" PRIu64
             ", %zu log entries (%" PRIu64 "..%" PRIu64 "), term %" PRIu64 " vote %" PRIu64
             " commit %" PRIu64 "%s",
             cfg->id, snap.meta.index, snap.meta.term, n_ents, n_ents ? ents[0].index : 0,
             n_ents ? ents[n_ents - 1].index : 0, hs.term, hs.vote, hs.commit,
             cfg->join && !have_snap && n_ents == 0 ? " (joining: waiting for a leader)" : "");
    rc = 0;
out:
    raft_wal_recovered_free(&rec);
    raft_snapshot_release(&snap);
    return rc;
}

int raft_node_create(const raft_node_config *cfg, const raft_fsm_ops *ops, void *fsm,
                     rpc_server *srv, raft_node **out)
{
    if (!cfg || cfg->id == 0 || !cfg->data_dir || !ops || !ops->apply || !ops->snapshot ||
        !ops->restore || (!cfg->join && (cfg->n_peers <= 0 || !cfg->peers)) || cfg->n_peers < 0)
        return -EINVAL;
    raft_node *n = calloc(1, sizeof *n);
    if (!n) return -ENOMEM;
    n->cfg = *cfg;
    n->cfg.peers = NULL; /* not kept */
    n->cfg.n_peers = 0;
    if (n->cfg.tick_ms <= 0) n->cfg.tick_ms = 50;
    if (n->cfg.election_ticks <= 0) n->cfg.election_ticks = 20;
    if (n->cfg.heartbeat_ticks <= 0) n->cfg.heartbeat_ticks = 2;
    if (n->cfg.snapshot_entries == 0) n->cfg.snapshot_entries = 100000;
    n->cfg.data_dir = n->data_dir;
    n->ops = *ops;
    n->fsm = fsm;
    if (snprintf(n->data_dir, sizeof n->data_dir, "%s", cfg->data_dir) >= (int)sizeof n->data_dir) {
        free(n);
        return -ENAMETOOLONG;
    }
    snprintf(n->wal_dir, sizeof n->wal_dir, "%s/wal", n->data_dir);
    snprintf(n->snap_dir, sizeof n->snap_dir, "%s/snap", n->data_dir);
    pthread_mutex_init(&n->mu, NULL);
    pthread_mutex_init(&n->wmu, NULL);
    pthread_mutex_init(&n->amu, NULL);
    pthread_mutex_init(&n->snap_mu, NULL);
    cond_init_mono(&n->kick_cond);
    cond_init_mono(&n->done_cond);
    cond_init_mono(&n->wcond);
    cond_init_mono(&n->acond);
    int rc = mkdir_p(n->data_dir);
    if (rc == 0) rc = mkdir_one(n->snap_dir);
    if (rc == 0) rc = recover(n, cfg);
    if (rc == 0) {
        raft_transport_handlers h = {
            .on_message = on_message, .on_fail = on_fail, .wait_answers = wait_answers, .arg = n};
        const char *self = "";
        for (int i = 0; i < n->n_book; i++)
            if (n->book[i].id == cfg->id) self = n->book[i].addr;
        rc = raft_transport_create(srv, self, &h, &n->tr);
    }
    if (rc < 0) {
        raft_node_destroy(n);
        return rc;
    }
    *out = n;
    return 0;
}

int raft_node_start(raft_node *n)
{
    if (n->started) return -EALREADY;
    pthread_mutex_lock(&n->mu);
    n->next_tick = cfs_mono_ms() + n->cfg.tick_ms;
    pthread_mutex_unlock(&n->mu);
    if (pthread_create(&n->apply_thr, NULL, apply_main, n) != 0) return -EAGAIN;
    if (pthread_create(&n->step_thr, NULL, step_main, n) != 0) {
        atomic_store(&n->stopping, true);
        pthread_mutex_lock(&n->amu);
        pthread_cond_broadcast(&n->acond);
        pthread_mutex_unlock(&n->amu);
        pthread_join(n->apply_thr, NULL);
        atomic_store(&n->stopping, false);
        return -EAGAIN;
    }
    n->started = true;
    return 0;
}

void raft_node_destroy(raft_node *n)
{
    if (!n) return;
    pthread_mutex_lock(&n->wmu);
    atomic_store(&n->stopping, true);
    pthread_mutex_unlock(&n->wmu);
    if (n->started) {
        pthread_mutex_lock(&n->mu);
        kick_locked(n);
        pthread_mutex_unlock(&n->mu);
        pthread_mutex_lock(&n->amu);
        pthread_cond_broadcast(&n->acond);
        pthread_mutex_unlock(&n->amu);
        pthread_join(n->step_thr, NULL);
        pthread_join(n->apply_thr, NULL);
    }
    raft_transport_destroy(n->tr);
    /* Wake every caller still waiting and wait until they have left. */
    pthread_mutex_lock(&n->wmu);
    while (n->waiters)
        waiter_finish(n, n->waiters, -ECANCELED);
    pthread_cond_broadcast(&n->wcond);
    while (n->users > 0)
        pthread_cond_wait(&n->wcond, &n->wmu);
    pthread_mutex_unlock(&n->wmu);
    for (apply_item *it = n->aq_head, *next; it; it = next) {
        next = it->next;
        free_entries(it->ents, it->n);
        free_snapshot(it->snap);
        free(it);
    }
    if (n->core) raft_destroy(n->core);
    raft_wal_close(n->wal);
    pthread_cond_destroy(&n->kick_cond);
    pthread_cond_destroy(&n->done_cond);
    pthread_cond_destroy(&n->wcond);
    pthread_cond_destroy(&n->acond);
    pthread_mutex_destroy(&n->mu);
    pthread_mutex_destroy(&n->wmu);
    pthread_mutex_destroy(&n->amu);
    pthread_mutex_destroy(&n->snap_mu);
    free(n);
}

/* ------------------------------------------------------------------ proposals and reads */

static int64_t deadline_of(int timeout_ms)
{
    return cfs_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
}

/* Registers a waiter for a proposal made with `propose` (under mu), retrying -EBUSY (a
 * leadership transfer or membership change in progress) until the deadline. */
typedef int (*propose_fn)(raft_node *n, const void *arg, uint64_t *index, uint64_t *term);

static int propose_and_wait(raft_node *n, propose_fn fn, const void *arg, int64_t deadline,
                            void **result)
{
    waiter w = {0};
    bool traced = false;
    for (;;) {
        if (atomic_load(&n->fatal)) return -EIO;
        pthread_mutex_lock(&n->mu);
        uint64_t index = 0, term = 0;
        int rc = fn(n, arg, &index, &term);
        if (rc == 0) {
            w.index = index;
            w.term = term;
            traced = raft_trace_start(&n->trace, index, cfs_mono_ns());
            pthread_mutex_lock(&n->wmu);
            waiter_add(n, &w);
            pthread_mutex_unlock(&n->wmu);
            kick_locked(n);
        }
        pthread_mutex_unlock(&n->mu);
        if (rc == -EBUSY) {
            if (cfs_mono_ms() >= deadline) return -ETIMEDOUT;
            cfs_sleep_ms(10);
            continue;
        }
        if (rc < 0) return rc;
        break;
    }
    pthread_mutex_lock(&n->wmu);
    int rc = waiter_wait(n, &w, deadline);
    pthread_mutex_unlock(&n->wmu);
    if (traced) raft_trace_finish(&n->trace, w.index, rc == 0, cfs_mono_ns());
    if (rc == 0 && result)
        *result = w.result;
    else if (w.result && n->ops.free_result)
        n->ops.free_result(n->fsm, w.result);
    return rc;
}

typedef struct data_arg {
    const uint8_t *data;
    size_t len;
} data_arg;

static int propose_data(raft_node *n, const void *arg, uint64_t *index, uint64_t *term)
{
    const data_arg *d = arg;
    return raft_propose(n->core, d->data, d->len, index, term);
}

int raft_node_propose(raft_node *n, const uint8_t *data, size_t len, int timeout_ms, void **result)
{
    if (result) *result = NULL;
    /* An entry must fit in one AppendEntries message (and in a WAL record). */
    if (len > RAFT_NODE_MAX_ENTRY) return -EMSGSIZE;
    if (!enter(n)) return -ECANCELED;
    data_arg d = {data, len};
    int rc = propose_and_wait(n, propose_data, &d, deadline_of(timeout_ms), result);
    leave(n);
    return rc;
}

int raft_node_read_barrier(raft_node *n, int timeout_ms)
{
    if (!enter(n)) return -ECANCELED;
    int64_t deadline = deadline_of(timeout_ms);
    waiter w = {.is_read = true};
    pthread_mutex_lock(&n->mu);
    int rc = -EIO;
    if (!atomic_load(&n->fatal)) {
        /* The lease is measured in ticks: bring them up to date first. */
        if (n->started) catch_up_ticks(n);
        uint64_t index;
        rc = raft_read_lease(n->core, &index);
        if (rc == 0) {
            pthread_mutex_unlock(&n->mu);
            pthread_mutex_lock(&n->wmu);
            if (n->applied_index < index) {
                /* Committed but not applied here yet: wait for the apply thread. */
                w.read_ready = true;
                w.read_index = index;
                waiter_add(n, &w);
                rc = waiter_wait(n, &w, deadline);
            }
            pthread_mutex_unlock(&n->wmu);
            leave(n);
            return rc;
        }
    }
    w.ctx = ++n->read_ctx;
    if (rc == -EAGAIN) rc = raft_read_index(n->core, w.ctx);
    if (rc == 0) {
        pthread_mutex_lock(&n->wmu);
        waiter_add(n, &w);
        pthread_mutex_unlock(&n->wmu);
        kick_locked(n);
    }
    pthread_mutex_unlock(&n->mu);
    if (rc == 0) {
        pthread_mutex_lock(&n->wmu);
        rc = waiter_wait(n, &w, deadline);
        pthread_mutex_unlock(&n->wmu);
    }
    leave(n);
    return rc;
}

/* ------------------------------------------------------------------ status */

void raft_node_get_status(raft_node *n, raft_node_status *out)
{
    memset(out, 0, sizeof *out);
    raft_status st;
    pthread_mutex_lock(&n->mu);
    raft_get_status(n->core, &st);
    book_add_conf(n, &st.conf);
    out->id = st.id;
    out->term = st.hs.term;
    out->leader_id = st.soft.leader;
    out->is_leader = st.soft.role == RAFT_LEADER;
    out->role = raft_role_name(st.soft.role);
    int self = raft_conf_find(&st.conf, st.id);
    if (self >= 0 && st.conf.members[self].learner) out->role = "learner";
    for (int i = 0; i < n->n_book; i++)
        if (st.soft.leader && n->book[i].id == st.soft.leader)
            snprintf(out->leader_addr, sizeof out->leader_addr, "%s", n->book[i].addr);
    out->commit_index = st.hs.commit;
    out->last_index = st.last_index;
    out->snapshot_index = st.snapshot_index;
    out->n_members = st.conf.n < 16 ? st.conf.n : 16;
    for (int i = 0; i < out->n_members; i++) {
        raft_member_status *m = &out->members[i];
        m->id = st.conf.members[i].id;
        snprintf(m->addr, sizeof m->addr, "%s", st.conf.members[i].addr);
        m->voter = !st.conf.members[i].learner;
        for (int k = 0; k < st.n_progress; k++) {
            if (st.progress[k].id == m->id) {
                m->match_index = st.progress[k].match;
                m->recent_active = st.progress[k].recent_active;
            }
        }
    }
    pthread_mutex_unlock(&n->mu);
    out->log_bytes = atomic_load(&n->log_bytes);
    /* Not under snap_mu: a save can take a while, and a file renamed meanwhile is skipped. */
    out->snapshot_bytes = raft_snapshot_dir_bytes(n->snap_dir);
    pthread_mutex_lock(&n->wmu);
    out->applied_index = n->applied_index;
    pthread_mutex_unlock(&n->wmu);
}

void raft_node_get_trace(raft_node *n, raft_trace_totals *out)
{
    raft_trace_get(&n->trace, out);
    raft_transport_get_timing(n->tr, &out->sent_batches, &out->send_queue_ns, &out->send_rpc_ns);
}

bool raft_node_is_leader(raft_node *n)
{
    pthread_mutex_lock(&n->mu);
    bool l = n->is_leader;
    pthread_mutex_unlock(&n->mu);
    return l;
}

void raft_node_leader_addr(raft_node *n, char *buf, size_t len)
{
    if (len == 0) return;
    buf[0] = 0;
    pthread_mutex_lock(&n->mu);
    if (n->leader_id) {
        for (int i = 0; i < n->n_book; i++)
            if (n->book[i].id == n->leader_id) snprintf(buf, len, "%s", n->book[i].addr);
    }
    pthread_mutex_unlock(&n->mu);
}

/* ------------------------------------------------------------------ membership */

static int propose_cc(raft_node *n, const void *arg, uint64_t *index, uint64_t *term)
{
    return raft_propose_conf_change(n->core, arg, index, term);
}

static int change_membership(raft_node *n, uint32_t type, uint64_t id, const char *addr,
                             int64_t deadline)
{
    raft_conf_change cc = {.type = type, .id = id};
    if (addr) snprintf(cc.addr, sizeof cc.addr, "%s", addr);
    int rc = propose_and_wait(n, propose_cc, &cc, deadline, NULL);
    if (rc == 0)
        LOG_INFO("raft: membership change committed: %s node %" PRIu64 " %s",
                 type == RAFT_CC_ADD_VOTER     ? "voter"
                 : type == RAFT_CC_ADD_LEARNER ? "learner"
                                               : "remove",
                 id, addr ? addr : "");
    return rc;
}

int raft_node_add_member(raft_node *n, uint64_t id, const char *addr, int timeout_ms)
{
    if (id == 0 || !addr || !addr[0] || strlen(addr) >= RAFT_ADDR_MAX) return -EINVAL;
    if (!enter(n)) return -ECANCELED;
    int64_t deadline = deadline_of(timeout_ms);
    raft_status st;
    pthread_mutex_lock(&n->mu);
    raft_get_status(n->core, &st);
    book_set(n, id, addr);
    pthread_mutex_unlock(&n->mu);
    int rc = 0;
    int idx = raft_conf_find(&st.conf, id);
    if (st.soft.role != RAFT_LEADER)
        rc = -CFS_ENOTLEADER;
    else if (idx >= 0 && !st.conf.members[idx].learner)
        rc = strcmp(st.conf.members[idx].addr, addr) == 0 ? 0 : -EEXIST;
    else if (idx < 0)
        rc = change_membership(n, RAFT_CC_ADD_LEARNER, id, addr, deadline);
    if (rc == 0 && (idx < 0 || st.conf.members[idx].learner)) {
        /* Wait until the learner's log is close to ours, then let it vote. */
        for (;;) {
            pthread_mutex_lock(&n->mu);
            raft_get_status(n->core, &st);
            pthread_mutex_unlock(&n->mu);
            if (st.soft.role != RAFT_LEADER) {
                rc = -CFS_ENOTLEADER;
                break;
            }
            uint64_t match = 0;
            for (int k = 0; k < st.n_progress; k++)
                if (st.progress[k].id == id) match = st.progress[k].match;
            if (match > 0 && match + CATCH_UP_SLACK >= st.last_index) break;
            if (cfs_mono_ms() >= deadline) {
                rc = -ETIMEDOUT;
                break;
            }
            cfs_sleep_ms(50);
        }
        if (rc == 0) rc = change_membership(n, RAFT_CC_ADD_VOTER, id, addr, deadline);
    }
    leave(n);
    return rc;
}

int raft_node_remove_member(raft_node *n, uint64_t id, int timeout_ms)
{
    if (id == 0) return -EINVAL;
    if (!enter(n)) return -ECANCELED;
    int rc = change_membership(n, RAFT_CC_REMOVE, id, NULL, deadline_of(timeout_ms));
    leave(n);
    return rc;
}

int raft_node_transfer_leader(raft_node *n, uint64_t to_id, int timeout_ms)
{
    if (!enter(n)) return -ECANCELED;
    int64_t deadline = deadline_of(timeout_ms);
    pthread_mutex_lock(&n->mu);
    /* Already done (e.g. a retried request reaching the new leader): success. */
    int rc = to_id == n->cfg.id && n->is_leader ? 1 : raft_transfer_leader(n->core, to_id);
    kick_locked(n);
    pthread_mutex_unlock(&n->mu);
    while (rc == 0) {
        pthread_mutex_lock(&n->mu);
        uint64_t leader = n->leader_id;
        bool me = n->is_leader;
        pthread_mutex_unlock(&n->mu);
        if (leader == to_id && !me) break;
        if (cfs_mono_ms() >= deadline) {
            rc = -ETIMEDOUT;
            break;
        }
        cfs_sleep_ms(20);
    }
    leave(n);
    return rc > 0 ? 0 : rc;
}
