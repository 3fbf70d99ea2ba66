/* The simulated cluster: nodes (a Raft core, a disk, a key-value state machine), the network,
 * faults, the client workload and the step loop of one seed. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "tests/raft_sim/sim.h"

#define VLOG(s, ...)                                                                               \
    do {                                                                                           \
        if ((s)->verbose) {                                                                        \
            printf("[%6" PRIu64 "] ", (s)->now);                                                   \
            printf(__VA_ARGS__);                                                                   \
            printf("\n");                                                                          \
        }                                                                                          \
    } while (0)

/* ---------------------------------------------------------------- helpers */

static uint64_t rnd(sim *s)
{
    uint64_t z = (s->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t below(sim *s, uint64_t n)
{
    return n ? rnd(s) % n : 0;
}

static bool chance(sim *s, int permille)
{
    return (int)below(s, 1000) < permille;
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL) {
        fprintf(stderr, "raft_sim: out of memory\n");
        exit(2);
    }
    return p;
}

static void *xgrow(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return p;
    size_t c = *cap ? *cap * 2 : 16;
    while (c < need)
        c *= 2;
    p = realloc(p, c * elem);
    if (p == NULL) {
        fprintf(stderr, "raft_sim: out of memory\n");
        exit(2);
    }
    *cap = c;
    return p;
}

static uint8_t *xdup(const uint8_t *p, size_t n)
{
    uint8_t *d = xmalloc(n);
    if (n) memcpy(d, p, n);
    return d;
}

static void entry_copy(raft_entry *dst, const raft_entry *src)
{
    *dst = *src;
    dst->data = src->len ? xdup(src->data, src->len) : NULL;
}

static void msg_copy(raft_msg *d, const raft_msg *m)
{
    *d = *m;
    d->entries = NULL;
    if (m->n_entries) {
        d->entries = xmalloc(m->n_entries * sizeof(raft_entry));
        for (size_t i = 0; i < m->n_entries; i++)
            entry_copy(&d->entries[i], &m->entries[i]);
    }
    d->snap_conf = m->snap_conf_len ? xdup(m->snap_conf, m->snap_conf_len) : NULL;
    d->snap_data = m->snap_data_len ? xdup(m->snap_data, m->snap_data_len) : NULL;
    d->context = m->context_len ? xdup(m->context, m->context_len) : NULL;
}

static void msg_free(raft_msg *m)
{
    for (size_t i = 0; i < m->n_entries; i++)
        free(m->entries[i].data);
    free(m->entries);
    free(m->snap_conf);
    free(m->snap_data);
    free(m->context);
}

static sim_op *new_op(sim *s, int type, int key)
{
    s->ops = xgrow(s->ops, &s->cap_ops, s->n_ops + 1, sizeof(sim_op));
    sim_op *o = &s->ops[s->n_ops++];
    memset(o, 0, sizeof(*o));
    o->type = type;
    o->key = key;
    o->invoke = ++s->evt;
    o->response = SIM_INF;
    return o;
}

/* ---------------------------------------------------------------- disk */

static uint64_t disk_last(const sim_disk *d)
{
    return d->snap.meta.index + d->n;
}

static uint64_t disk_term(const sim_disk *d, uint64_t i)
{
    if (i == d->snap.meta.index) return d->snap.meta.term;
    if (i < d->snap.meta.index || i > disk_last(d)) return 0;
    return d->ents[i - d->snap.meta.index - 1].term;
}

static void disk_truncate(sim_disk *d, uint64_t from)
{
    size_t keep = (size_t)(from - d->snap.meta.index - 1);
    for (size_t i = keep; i < d->n; i++)
        free(d->ents[i].data);
    d->n = keep;
}

static void disk_drop_through(sim_disk *d, uint64_t index)
{
    if (index <= d->snap.meta.index) return;
    size_t drop = (size_t)(index - d->snap.meta.index);
    if (drop > d->n) drop = d->n;
    for (size_t i = 0; i < drop; i++)
        free(d->ents[i].data);
    memmove(d->ents, d->ents + drop, (d->n - drop) * sizeof(raft_entry));
    d->n -= drop;
}

static void disk_free(sim_disk *d)
{
    disk_truncate(d, d->snap.meta.index + 1);
    free(d->ents);
    free(d->snap.data);
    memset(d, 0, sizeof(*d));
}

static void disk_append(sim *s, sim_node *n, const raft_entry *ents, size_t cnt)
{
    sim_disk *d = &n->disk;
    if (cnt == 0) return;
    if (ents[0].index <= d->snap.meta.index || ents[0].index > disk_last(d) + 1) {
        sim_fail(s,
                 "node %" PRIu64 ": ready entries start at %" PRIu64 " but the disk holds (%" PRIu64
                 ", %" PRIu64 "]",
                 n->id, ents[0].index, d->snap.meta.index, disk_last(d));
        return;
    }
    disk_truncate(d, ents[0].index);
    d->ents = xgrow(d->ents, &d->cap, d->n + cnt, sizeof(raft_entry));
    for (size_t i = 0; i < cnt; i++) {
        if (ents[i].index != disk_last(d) + 1) {
            sim_fail(s, "node %" PRIu64 ": ready entries not contiguous", n->id);
            return;
        }
        uint64_t prev_term = disk_term(d, ents[i].index - 1);
        entry_copy(&d->ents[d->n++], &ents[i]);
        sim_check_persisted(s, n, &ents[i], prev_term);
    }
}

static void disk_set_snapshot(sim_disk *d, const raft_snapshot_meta *meta, const uint8_t *data,
                              size_t len, bool keep_later)
{
    if (keep_later && disk_term(d, meta->index) == meta->term) {
        disk_drop_through(d, meta->index);
    } else {
        disk_truncate(d, d->snap.meta.index + 1);
    }
    free(d->snap.data);
    d->snap.meta = *meta;
    d->snap.data = xdup(data, len);
    d->snap.len = len;
}

/* ---------------------------------------------------------------- state machine */

static void fsm_restore(sim *s, sim_node *n, const raft_snapshot *snap)
{
    memset(n->kv, 0, sizeof(n->kv));
    if (snap->len != sizeof(n->kv)) {
        sim_fail(s, "node %" PRIu64 ": snapshot image of %zu bytes", n->id, snap->len);
        return;
    }
    memcpy(n->kv, snap->data, sizeof(n->kv));
    n->applied = snap->meta.index;
    sim_check_snapshot(s, n, snap->meta.index, sim_state_hash(n->kv));
    /* Proposals below the snapshot were decided elsewhere: their outcome stays unknown. */
    size_t keep = 0;
    for (size_t i = 0; i < n->n_pw; i++)
        if (n->pw[i].index > snap->meta.index) n->pw[keep++] = n->pw[i];
    n->n_pw = keep;
}

static void fsm_apply(sim *s, sim_node *n, const raft_entry *e)
{
    if (e->index != n->applied + 1) {
        sim_fail(s, "node %" PRIu64 " was handed entry %" PRIu64 " to apply after %" PRIu64, n->id,
                 e->index, n->applied);
        return;
    }
    if (e->type == RAFT_ENTRY_NORMAL) {
        if (e->len != 17) {
            sim_fail(s, "node %" PRIu64 ": entry %" PRIu64 " has %zu bytes", n->id, e->index,
                     e->len);
            return;
        }
        uint64_t op, value;
        memcpy(&op, e->data, 8);
        memcpy(&value, e->data + 9, 8);
        int key = e->data[8];
        if (op >= s->n_ops || key >= SIM_KEYS) {
            sim_fail(s, "node %" PRIu64 ": entry %" PRIu64 " is garbage", n->id, e->index);
            return;
        }
        n->kv[key] = value;
        sim_op *o = &s->ops[op];
        if (o->log_index == 0)
            o->log_index = e->index;
        else if (o->log_index != e->index)
            sim_fail(s, "write %" PRIu64 " applied at indexes %" PRIu64 " and %" PRIu64, op,
                     o->log_index, e->index);
    }
    n->applied = e->index;
    sim_check_applied(s, n, e);
    for (size_t i = 0; i < n->n_pw;) {
        sim_pending_write *pw = &n->pw[i];
        if (pw->index != e->index) {
            i++;
            continue;
        }
        sim_op *o = &s->ops[pw->op];
        if (pw->term == e->term) {
            o->status = SIM_OP_OK;
            o->response = ++s->evt;
        } else {
            o->status = SIM_OP_FAILED; /* another entry took its index: it never commits */
        }
        *pw = n->pw[--n->n_pw];
    }
}

static void serve_reads(sim *s, sim_node *n)
{
    for (size_t i = 0; i < n->n_pr;) {
        sim_pending_read *pr = &n->pr[i];
        if (pr->index == 0 || pr->index > n->applied) {
            i++;
            continue;
        }
        sim_op *o = &s->ops[pr->op];
        o->value = n->kv[o->key];
        o->status = SIM_OP_OK;
        o->response = ++s->evt;
        s->n_reads++;
        *pr = n->pr[--n->n_pr];
    }
}

/* ---------------------------------------------------------------- network */

static void net_send(sim *s, const raft_msg *m)
{
    if (s->faults && !s->link[m->from][m->to] && chance(s, 200)) {
        /* the transport notices the peer is unreachable */
        sim_node *n = &s->nodes[m->from];
        if (m->type == RAFT_MSG_SNAP)
            raft_report_snapshot(n->r, m->to, true);
        else
            raft_report_unreachable(n->r, m->to);
    }
    int copies = 1;
    if (s->faults && chance(s, s->p.loss_permille))
        copies = 0;
    else if (s->faults && chance(s, s->p.dup_permille))
        copies = 2;
    for (int c = 0; c < copies; c++) {
        s->net = xgrow(s->net, &s->cap_net, s->n_net + 1, sizeof(sim_inflight));
        sim_inflight *f = &s->net[s->n_net++];
        f->due = s->now + 1 + below(s, (uint64_t)s->p.max_delay + 1);
        if (s->faults && chance(s, 10))
            f->due += below(s, 60); /* a straggler arrives long after its term is over */
        msg_copy(&f->m, m);
    }
}

static void net_deliver(sim *s)
{
    size_t keep = 0;
    size_t n = s->n_net;
    for (size_t i = 0; i < n; i++) {
        sim_inflight *f = &s->net[i];
        if (f->due > s->now) {
            s->net[keep++] = *f;
            continue;
        }
        uint64_t to = f->m.to, from = f->m.from;
        if (to >= 1 && to <= (uint64_t)s->n_ids && s->nodes[to].up && s->link[from][to] &&
            !s->failed) {
            int rc = raft_step(s->nodes[to].r, &f->m);
            if (rc != 0)
                sim_fail(s, "node %" PRIu64 " refused a %s from %" PRIu64 ": %d", to,
                         raft_msg_type_name(f->m.type), from, rc);
        }
        msg_free(&f->m);
    }
    s->n_net = keep;
}

static void heal(sim *s)
{
    for (int a = 0; a <= SIM_MAX_IDS; a++)
        for (int b = 0; b <= SIM_MAX_IDS; b++)
            s->link[a][b] = true;
    s->heal_at = 0;
}

/* ---------------------------------------------------------------- nodes */

static void founders_conf(const sim *s, raft_conf *c)
{
    memset(c, 0, sizeof(*c));
    for (int i = 0; i < s->p.n_founders; i++) {
        c->members[i].id = (uint64_t)i + 1;
        snprintf(c->members[i].addr, sizeof(c->members[i].addr), "n%d", i + 1);
    }
    c->n = s->p.n_founders;
}

static void node_start(sim *s, sim_node *n)
{
    raft_config rc = s->p.rc;
    rc.id = n->id;
    rc.seed = rnd(s);
    raft_conf boot;
    founders_conf(s, &boot);
    raft_init init = {.hs = n->disk.hs,
                      .snapshot = n->disk.snap.meta.index ? &n->disk.snap : NULL,
                      .entries = n->disk.ents,
                      .n_entries = n->disk.n,
                      .bootstrap =
                          !n->ever_started && n->id <= (uint64_t)s->p.n_founders ? &boot : NULL};
    int r = raft_create(&rc, &init, &n->r);
    if (r != 0) {
        sim_fail(s, "node %" PRIu64 " cannot restart from its disk: %d", n->id, r);
        return;
    }
    memset(n->kv, 0, sizeof(n->kv));
    n->applied = 0;
    if (n->disk.snap.meta.index) fsm_restore(s, n, &n->disk.snap);
    n->up = true;
    n->ever_started = true;
    n->rd_out = false;
    n->restart_at = 0;
    n->checked_leader_term = 0;
    VLOG(s,
         "node %" PRIu64 " starts (disk: snapshot %" PRIu64 ", last %" PRIu64 ", term %" PRIu64 ")",
         n->id, n->disk.snap.meta.index, disk_last(&n->disk), n->disk.hs.term);
}

/* Sends rd->msgs[from ..). */
static void send_from(sim *s, const raft_ready *rd, size_t from)
{
    for (size_t i = from; i < rd->n_msgs; i++)
        net_send(s, &rd->msgs[i]);
}

/* Persists a ready up to `level` (a crash may interrupt the sequence snapshot, entries, hard
 * state): 1 = snapshot, 2 = + a prefix of the entries, 3 = + all entries, 4 = + hard state. */
static void persist(sim *s, sim_node *n, const raft_ready *rd, int level)
{
    if (level >= 1 && rd->snapshot != NULL)
        disk_set_snapshot(&n->disk, &rd->snapshot->meta, rd->snapshot->data, rd->snapshot->len,
                          false);
    if (level == 2) disk_append(s, n, rd->entries, (size_t)below(s, rd->n_entries + 1));
    if (level >= 3) disk_append(s, n, rd->entries, rd->n_entries);
    if (level >= 4 && rd->hs_changed) {
        const raft_hard_state *o = &n->disk.hs;
        /* Durable term never goes back; one durable vote per term. */
        if (rd->hs.term < o->term ||
            (rd->hs.term == o->term && o->vote != 0 && rd->hs.vote != o->vote))
            sim_fail(s,
                     "node %" PRIu64 ": hard state (term %" PRIu64 ", vote %" PRIu64
                     ") replaces (term %" PRIu64 ", vote %" PRIu64 ")",
                     n->id, rd->hs.term, rd->hs.vote, o->term, o->vote);
        n->disk.hs = rd->hs;
    }
}

static void process_ready(sim *s, sim_node *n)
{
    raft_ready *rd = &n->rd;
    persist(s, n, rd, 4);
    if (rd->snapshot != NULL) {
        s->n_snap_installs++;
        VLOG(s, "node %" PRIu64 " installs snapshot %" PRIu64, n->id, rd->snapshot->meta.index);
        fsm_restore(s, n, rd->snapshot);
    }
    if (rd->soft_changed)
        VLOG(s, "node %" PRIu64 " is %s (term %" PRIu64 ", leader %" PRIu64 ")", n->id,
             raft_role_name(rd->soft.role), rd->hs.term, rd->soft.leader);
    send_from(s, rd, rd->n_early); /* the early ones left with raft_get_ready */
    for (size_t i = 0; i < rd->n_committed && !s->failed; i++)
        fsm_apply(s, n, &rd->committed[i]);
    for (size_t i = 0; i < rd->n_read_states; i++) {
        const raft_read_state *rs = &rd->read_states[i];
        for (size_t k = 0; k < n->n_pr; k++) {
            if (n->pr[k].op != rs->ctx) continue;
            if (rs->index == 0) {
                s->ops[rs->ctx].status = SIM_OP_FAILED;
                n->pr[k] = n->pr[--n->n_pr];
            } else {
                n->pr[k].index = rs->index;
            }
            break;
        }
    }
    serve_reads(s, n);
    raft_advance(n->r, rd);
    raft_ready_free(rd);
    n->rd_out = false;
}

static void node_crash(sim *s, sim_node *n)
{
    if (n->rd_out) {
        persist(s, n, &n->rd, (int)below(s, 5)); /* crash at any point of the sequence */
        raft_ready_free(&n->rd);
        n->rd_out = false;
    }
    raft_destroy(n->r);
    n->r = NULL;
    n->up = false;
    n->crash_at = 0;
    n->n_pw = 0; /* their outcome stays unknown */
    for (size_t i = 0; i < n->n_pr; i++)
        s->ops[n->pr[i].op].status = SIM_OP_FAILED;
    n->n_pr = 0;
    s->n_crashes++;
    VLOG(s, "node %" PRIu64 " crashes", n->id);
}

static void node_readies(sim *s, sim_node *n)
{
    for (int round = 0; round < 2 && n->up && !s->failed; round++) {
        if (n->rd_out) {
            if (s->now < n->rd_due) return;
            process_ready(s, n);
            continue;
        }
        if (!raft_has_ready(n->r)) return;
        if (raft_get_ready(n->r, &n->rd) != 0) {
            sim_fail(s, "node %" PRIu64 ": raft_get_ready failed", n->id);
            return;
        }
        n->rd_out = true;
        /* A leader's appends leave while it persists them (or crashes doing so). */
        for (size_t i = 0; i < n->rd.n_early; i++)
            net_send(s, &n->rd.msgs[i]);
        if (s->faults && chance(s, s->p.ready_delay_permille)) {
            n->rd_due = s->now + 1 + below(s, 3); /* the disk is slow: persist later */
            return;
        }
        process_ready(s, n);
    }
}

static void node_compact(sim *s, sim_node *n)
{
    if (n->applied < n->disk.snap.meta.index + (uint64_t)s->p.compact_every) return;
    raft_snapshot_meta meta;
    int rc = raft_snapshot_meta_at(n->r, n->applied, &meta);
    if (rc != 0) {
        raft_status st;
        raft_get_status(n->r, &st);
        if (st.snapshot_index > n->applied)
            return; /* a snapshot from the leader is on its way to us in a ready */
        VLOG(s, "node %" PRIu64 ": applied %" PRIu64 " commit %" PRIu64 " snapshot %" PRIu64, n->id,
             n->applied, st.hs.commit, st.snapshot_index);
        sim_fail(s, "node %" PRIu64 ": raft_snapshot_meta_at(%" PRIu64 ") = %d", n->id, n->applied,
                 rc);
        return;
    }
    disk_set_snapshot(&n->disk, &meta, (const uint8_t *)n->kv, sizeof(n->kv), true);
    rc = raft_compact(n->r, n->applied, (const uint8_t *)n->kv, sizeof(n->kv));
    if (rc != 0)
        sim_fail(s, "node %" PRIu64 ": raft_compact(%" PRIu64 ") = %d", n->id, n->applied, rc);
}

/* The leader of the highest term among live nodes, or NULL. */
static sim_node *find_leader(sim *s)
{
    sim_node *best = NULL;
    for (int i = 1; i <= s->n_ids; i++) {
        sim_node *n = &s->nodes[i];
        if (n->up && raft_get_role(n->r) == RAFT_LEADER &&
            (best == NULL || raft_get_term(n->r) > raft_get_term(best->r)))
            best = n;
    }
    return best;
}

/* ---------------------------------------------------------------- client */

static int propose_write(sim *s, sim_node *n, int key)
{
    sim_op *o = new_op(s, SIM_OP_WRITE, key);
    uint64_t op = (uint64_t)(o - s->ops);
    o->value = op + 1;
    uint8_t data[17];
    memcpy(data, &op, 8);
    data[8] = (uint8_t)key;
    memcpy(data + 9, &o->value, 8);
    uint64_t index, term;
    int rc = raft_propose(n->r, data, sizeof(data), &index, &term);
    if (rc != 0) {
        s->n_ops--; /* never invoked */
        if (rc != -EBUSY) sim_fail(s, "leader %" PRIu64 ": raft_propose = %d", n->id, rc);
        return rc;
    }
    n->pw = xgrow(n->pw, &n->cap_pw, n->n_pw + 1, sizeof(sim_pending_write));
    n->pw[n->n_pw++] = (sim_pending_write){.index = index, .term = term, .op = op};
    s->n_writes++;
    return 0;
}

static void client_step(sim *s)
{
    if (!chance(s, s->p.op_permille)) return;
    sim_node *leaders[SIM_MAX_IDS];
    int nl = 0;
    for (int i = 1; i <= s->n_ids; i++)
        if (s->nodes[i].up && raft_get_role(s->nodes[i].r) == RAFT_LEADER)
            leaders[nl++] = &s->nodes[i];
    if (nl == 0) return;
    sim_node *n = leaders[below(s, (uint64_t)nl)];
    int key = (int)below(s, SIM_KEYS);
    if (chance(s, 500)) {
        propose_write(s, n, key);
        return;
    }
    sim_op *o = new_op(s, SIM_OP_READ, key);
    uint64_t op = (uint64_t)(o - s->ops);
    uint64_t lease_index = 0;
    int rc = s->p.rc.lease_ticks > 0 ? raft_read_lease(n->r, &lease_index) : -EAGAIN;
    if (rc == 0) {
        /* Served from the leader's state as soon as it applied lease_index. */
        s->n_lease_reads++;
        n->pr = xgrow(n->pr, &n->cap_pr, n->n_pr + 1, sizeof(sim_pending_read));
        n->pr[n->n_pr++] = (sim_pending_read){.op = op, .index = lease_index};
        serve_reads(s, n);
        return;
    }
    if (rc != -EAGAIN) {
        s->n_ops--;
        sim_fail(s, "leader %" PRIu64 ": raft_read_lease = %d", n->id, rc);
        return;
    }
    rc = raft_read_index(n->r, op);
    if (rc != 0) {
        s->n_ops--;
        sim_fail(s, "leader %" PRIu64 ": raft_read_index = %d", n->id, rc);
        return;
    }
    n->pr = xgrow(n->pr, &n->cap_pr, n->n_pr + 1, sizeof(sim_pending_read));
    n->pr[n->n_pr++] = (sim_pending_read){.op = op, .index = 0};
}

/* ---------------------------------------------------------------- faults */

static void partition(sim *s)
{
    int kind = (int)below(s, 4);
    sim_node *l = find_leader(s);
    if (kind == 0 || (kind == 3 && l == NULL)) {
        uint64_t x = 1 + below(s, (uint64_t)s->n_ids);
        for (int i = 0; i <= SIM_MAX_IDS; i++)
            s->link[x][i] = s->link[i][x] = false;
        VLOG(s, "partition: node %" PRIu64 " isolated", x);
    } else if (kind == 1) {
        int side[SIM_MAX_IDS + 1];
        for (int i = 1; i <= s->n_ids; i++)
            side[i] = (int)below(s, 2);
        for (int a = 1; a <= s->n_ids; a++)
            for (int b = 1; b <= s->n_ids; b++)
                if (side[a] != side[b]) s->link[a][b] = false;
        VLOG(s, "partition: split in two");
    } else if (kind == 2) {
        int cuts = 1 + (int)below(s, 4);
        for (int k = 0; k < cuts; k++) {
            uint64_t a = 1 + below(s, (uint64_t)s->n_ids), b = 1 + below(s, (uint64_t)s->n_ids);
            s->link[a][b] = false;
            VLOG(s, "partition: one-way cut %" PRIu64 " -> %" PRIu64, a, b);
        }
    } else {
        for (int i = 0; i <= SIM_MAX_IDS; i++)
            s->link[l->id][i] = s->link[i][l->id] = false;
        VLOG(s, "partition: leader %" PRIu64 " isolated", l->id);
    }
    s->heal_at = s->now + 20 + below(s, 150);
}

static void conf_change(sim *s)
{
    sim_node *l = find_leader(s);
    if (l == NULL) return;
    raft_status st;
    raft_get_status(l->r, &st);
    int voters = 0;
    for (int i = 0; i < st.conf.n; i++)
        voters += !st.conf.members[i].learner;
    raft_conf_change cc = {0};
    /* A caught-up learner is promoted first. */
    for (int i = 0; i < st.n_progress && cc.type == 0; i++)
        if (st.progress[i].learner && st.progress[i].match + 3 >= st.last_index && voters < 5) {
            cc.type = RAFT_CC_ADD_VOTER;
            cc.id = st.progress[i].id;
        }
    if (cc.type == 0 && chance(s, 500)) {
        if (st.conf.n < s->n_ids && voters < 5) {
            uint64_t id;
            do {
                id = 1 + below(s, (uint64_t)s->n_ids);
            } while (raft_conf_find(&st.conf, id) >= 0);
            cc.type = RAFT_CC_ADD_LEARNER;
            cc.id = id;
            if (!s->nodes[id].up) node_start(s, &s->nodes[id]);
        }
    } else if (cc.type == 0 && st.conf.n > 3) {
        int i = (int)below(s, (uint64_t)st.conf.n);
        if (!st.conf.members[i].learner && voters <= 3) return;
        cc.type = RAFT_CC_REMOVE;
        cc.id = st.conf.members[i].id;
    }
    if (cc.type == 0 || s->failed) return;
    snprintf(cc.addr, sizeof(cc.addr), "n%" PRIu64, cc.id);
    int rc = raft_propose_conf_change(l->r, &cc, NULL, NULL);
    if (rc == 0) {
        s->n_conf_changes++;
        VLOG(s, "leader %" PRIu64 " proposes %s %" PRIu64, l->id,
             cc.type == RAFT_CC_ADD_VOTER     ? "add-voter"
             : cc.type == RAFT_CC_ADD_LEARNER ? "add-learner"
                                              : "remove",
             cc.id);
    } else if (rc != -EBUSY) {
        sim_fail(s, "leader %" PRIu64 ": conf change (%u, %" PRIu64 ") = %d", l->id, cc.type, cc.id,
                 rc);
    }
}

static void transfer(sim *s)
{
    sim_node *l = find_leader(s);
    if (l == NULL) return;
    raft_status st;
    raft_get_status(l->r, &st);
    uint64_t cand[RAFT_MAX_MEMBERS];
    int nc = 0;
    for (int i = 0; i < st.conf.n; i++)
        if (!st.conf.members[i].learner && st.conf.members[i].id != l->id)
            cand[nc++] = st.conf.members[i].id;
    if (nc == 0) return;
    uint64_t to = cand[below(s, (uint64_t)nc)];
    int rc = raft_transfer_leader(l->r, to);
    if (rc != 0) {
        sim_fail(s, "leader %" PRIu64 ": transfer to %" PRIu64 " = %d", l->id, to, rc);
        return;
    }
    s->n_transfers++;
    VLOG(s, "leader %" PRIu64 " transfers leadership to %" PRIu64, l->id, to);
}

static void fault_step(sim *s)
{
    if (chance(s, s->p.crash_permille)) {
        /* Leaders crash as often as everybody else together: that is where Raft is subtle. */
        sim_node *n = chance(s, 500) ? find_leader(s) : NULL;
        if (n == NULL) n = &s->nodes[1 + below(s, (uint64_t)s->n_ids)];
        if (n->up) {
            node_crash(s, n);
            n->restart_at = s->now + 1 + below(s, chance(s, 500) ? 10 : 120);
        }
    }
    for (int i = 1; i <= s->n_ids; i++) {
        sim_node *n = &s->nodes[i];
        if (n->up && n->crash_at != 0 && s->now >= n->crash_at) {
            n->crash_at = 0;
            node_crash(s, n);
            n->restart_at = s->now + 1 + below(s, 10);
        } else if (!n->up && n->restart_at != 0 && s->now >= n->restart_at) {
            node_start(s, n);
        }
    }
    if (s->heal_at != 0 && s->now >= s->heal_at) {
        heal(s);
        VLOG(s, "partition healed");
    } else if (s->heal_at == 0 && chance(s, s->p.partition_permille)) {
        partition(s);
    }
    if (chance(s, s->p.conf_permille)) conf_change(s);
    if (chance(s, s->p.transfer_permille)) transfer(s);
    if (chance(s, 2)) {
        /* an operator or a bug forces an election somewhere */
        sim_node *n = &s->nodes[1 + below(s, (uint64_t)s->n_ids)];
        if (n->up) raft_campaign(n->r);
    }
}

/* ---------------------------------------------------------------- the step loop */

static void step(sim *s, bool clients)
{
    s->now++;
    if (s->faults) fault_step(s);
    if (clients) client_step(s);
    net_deliver(s);
    for (int i = 1; i <= s->n_ids && !s->failed; i++) {
        sim_node *n = &s->nodes[i];
        if (!n->up) continue;
        /* A steady rate (not a coin per step), so that clock-rate differences are bounded
         * as the lease assumes: rates within 85-100 % of the steps. */
        n->tick_phase += n->tick_permille;
        if (n->tick_phase >= 1000) {
            n->tick_phase -= 1000;
            raft_tick(n->r);
        }
    }
    for (int i = 1; i <= s->n_ids && !s->failed; i++) {
        sim_node *n = &s->nodes[i];
        if (!n->up) continue;
        node_readies(s, n);
        if (n->up && !s->failed) node_compact(s, n);
    }
    for (int i = 1; i <= s->n_ids && !s->failed; i++) {
        sim_node *n = &s->nodes[i];
        if (!n->up || raft_get_role(n->r) != RAFT_LEADER) continue;
        bool fresh = n->checked_leader_term != raft_get_term(n->r);
        sim_check_leader(s, n);
        /* A leader dying right after its election, with its first appends half sent, is
         * the scenario of Figure 8 in the Raft paper. */
        if (fresh && s->faults && n->crash_at == 0 && chance(s, s->p.new_leader_crash_permille))
            n->crash_at = s->now + 1 + below(s, 6);
    }
}

static void pick_params(sim *s)
{
    sim_params *p = &s->p;
    memset(p, 0, sizeof(*p));
    p->n_founders = 3 + (int)below(s, 3);
    p->loss_permille = (int)below(s, 150);
    p->dup_permille = (int)below(s, 80);
    p->max_delay = (int)below(s, 5);
    p->crash_permille = chance(s, 300) ? 10 + (int)below(s, 40) : (int)below(s, 12);
    p->partition_permille = (int)below(s, 25);
    p->conf_permille = (int)below(s, 30);
    p->transfer_permille = (int)below(s, 10);
    p->op_permille = 200 + (int)below(s, 600);
    p->ready_delay_permille = (int)below(s, 300);
    p->new_leader_crash_permille = chance(s, 300) ? 300 + (int)below(s, 500) : 0;
    p->compact_every = 8 + (int)below(s, 40);
    p->rc.election_tick = 10;
    p->rc.heartbeat_tick = 2;
    p->rc.max_inflight_msgs = 1 + (int)below(s, 8);
    p->rc.max_entries_per_msg = 1 + (int)below(s, 8);
    p->rc.max_bytes_per_msg = 64 + below(s, 256);
    p->rc.snap_piece_bytes = 4 + below(s, 24); /* tiny pieces: several per image */
    p->rc.pre_vote = chance(s, 800);
    p->rc.check_quorum = chance(s, 800);
    /* Lease reads: a lease of half an election timeout (ticks run at 85-100 % of the steps,
     * so it ends well before any voter's election_tick can elapse). */
    p->rc.lease_ticks = chance(s, 600) ? p->rc.election_tick / 2 : 0;
    s->n_ids = p->n_founders + 2;
}

/* Faults stop: heal, restart every server, stop the ones outside the membership, and require
 * a leader and one committed write within a bound. */
static void liveness(sim *s)
{
    s->faults = false;
    heal(s);
    if (s->p.max_delay > 1) s->p.max_delay = 1; /* a calm network: little reordering */
    for (int i = 1; i <= s->n_ids && !s->failed; i++)
        if (!s->nodes[i].up && s->nodes[i].ever_started) node_start(s, &s->nodes[i]);
    if (s->failed) return;
    const sim_node *best = NULL;
    for (int i = 1; i <= s->n_ids; i++)
        if (s->nodes[i].up &&
            (best == NULL || raft_get_committed(s->nodes[i].r) > raft_get_committed(best->r)))
            best = &s->nodes[i];
    raft_status st;
    raft_get_status(best->r, &st);
    for (int i = 1; i <= s->n_ids; i++)
        if (s->nodes[i].up && raft_conf_find(&st.conf, (uint64_t)i) < 0)
            node_crash(s, &s->nodes[i]);
    VLOG(s, "faults stop");
    /* Time to elect a leader, plus time for the slowest follower to catch up with the
     * backlog the faults left (entries not yet committed), a few steps per entry at worst
     * (one entry per message, one message in flight). */
    uint64_t max_last = 0, min_commit = UINT64_MAX;
    for (int i = 1; i <= s->n_ids; i++) {
        if (!s->nodes[i].up) continue;
        uint64_t l = raft_get_last_index(s->nodes[i].r), c = raft_get_committed(s->nodes[i].r);
        max_last = l > max_last ? l : max_last;
        min_commit = c < min_commit ? c : min_commit;
    }
    const int bound = 60 * s->p.rc.election_tick + 4 * (int)(max_last - min_commit);
    sim_node *proposer = NULL;
    uint64_t op = 0;
    for (int k = 0; k < bound && !s->failed; k++) {
        if (proposer != NULL && s->ops[op].status == SIM_OP_OK) return;
        sim_node *l = find_leader(s);
        if (l != NULL && (proposer != l || s->ops[op].status == SIM_OP_FAILED)) {
            if (propose_write(s, l, 0) == 0) {
                proposer = l;
                op = s->n_ops - 1;
            }
        }
        step(s, false);
    }
    if (s->failed) return;
    sim_fail(s, "liveness: no write committed within %d steps after faults stopped", bound);
    for (int i = 1; i <= s->n_ids && s->verbose; i++) {
        if (!s->nodes[i].up) continue;
        raft_status st;
        raft_get_status(s->nodes[i].r, &st);
        printf("node %d: %s term %" PRIu64 " commit %" PRIu64 " applied %" PRIu64 " last %" PRIu64
               " snapshot %" PRIu64 " transferee %" PRIu64 "\n",
               i, raft_role_name(st.soft.role), st.hs.term, st.hs.commit, st.applied, st.last_index,
               st.snapshot_index, st.lead_transferee);
        for (int k = 0; k < st.n_progress; k++)
            printf("  peer %" PRIu64 "%s: match %" PRIu64 " next %" PRIu64
                   " state %u pending snapshot %" PRIu64 "\n",
                   st.progress[k].id, st.progress[k].learner ? " (learner)" : "",
                   st.progress[k].match, st.progress[k].next, st.progress[k].state,
                   st.progress[k].pending_snapshot);
    }
}

int sim_run(uint64_t seed, int steps, bool verbose, sim *s)
{
    memset(s, 0, sizeof(*s));
    s->seed = seed;
    s->rng = seed;
    s->steps = steps;
    s->verbose = verbose;
    pick_params(s);
    heal(s);
    for (int i = 1; i <= s->n_ids; i++) {
        s->nodes[i].id = (uint64_t)i;
        s->nodes[i].tick_permille = 850 + (int)below(s, 151);
        s->nodes[i].tick_phase = (int)below(s, 1000);
    }
    for (int i = 1; i <= s->p.n_founders; i++)
        node_start(s, &s->nodes[i]);
    VLOG(s,
         "seed %" PRIu64 ": %d founders, loss %d%%o dup %d%%o delay %d, pre_vote %d "
         "check_quorum %d",
         seed, s->p.n_founders, s->p.loss_permille, s->p.dup_permille, s->p.max_delay,
         s->p.rc.pre_vote, s->p.rc.check_quorum);
    s->faults = true;
    for (int k = 0; k < steps && !s->failed; k++)
        step(s, true);
    if (!s->failed) liveness(s);
    if (!s->failed) sim_check_linearizable(s);
    return s->failed ? -1 : 0;
}

void sim_free(sim *s)
{
    for (int i = 1; i <= SIM_MAX_IDS; i++) {
        sim_node *n = &s->nodes[i];
        if (n->rd_out) raft_ready_free(&n->rd);
        raft_destroy(n->r);
        disk_free(&n->disk);
        free(n->pw);
        free(n->pr);
    }
    for (size_t i = 0; i < s->n_net; i++)
        msg_free(&s->net[i].m);
    free(s->net);
    free(s->ops);
    sim_check_free(s);
}
