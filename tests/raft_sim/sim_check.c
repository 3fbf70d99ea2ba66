/* Safety checks of the simulator: election safety, log matching, leader completeness, state
 * machine safety (after every step), and linearizability of the client history (at the end). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/raft_sim/sim.h"

void sim_fail(sim *s, const char *fmt, ...)
{
    if (s->failed) return; /* keep the first violation */
    s->failed = true;
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(s->why, sizeof(s->why), "step %llu: ", (unsigned long long)s->now);
    vsnprintf(s->why + n, sizeof(s->why) - (size_t)n, fmt, ap);
    va_end(ap);
}

uint64_t sim_hash(uint32_t type, const uint8_t *data, size_t len)
{
    uint64_t h = 1469598103934665603ull ^ type;
    for (size_t i = 0; i < len; i++) {
        h ^= data[i];
        h *= 1099511628211ull;
    }
    return h;
}

uint64_t sim_state_hash(const uint64_t kv[SIM_KEYS])
{
    return sim_hash(0, (const uint8_t *)kv, SIM_KEYS * sizeof(uint64_t));
}

static void *grow_zero(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return p;
    size_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    void *n = realloc(p, c * elem);
    if (n == NULL) {
        fprintf(stderr, "raft_sim: out of memory\n");
        exit(2);
    }
    memset((char *)n + *cap * elem, 0, (c - *cap) * elem);
    *cap = c;
    return n;
}

/* Election safety: at most one leader per term. Leader completeness: the first time we see
 * a leader of a term, its log holds every entry any node has applied. */
void sim_check_leader(sim *s, sim_node *n)
{
    uint64_t term = raft_get_term(n->r);
    s->leader_of = grow_zero(s->leader_of, &s->cap_leader_of, term + 1, sizeof(uint64_t));
    if (s->leader_of[term] == 0) {
        s->leader_of[term] = n->id;
        s->n_elections++;
    } else if (s->leader_of[term] != n->id) {
        sim_fail(s, "election safety: nodes %llu and %llu are both leader of term %llu",
                 (unsigned long long)s->leader_of[term], (unsigned long long)n->id,
                 (unsigned long long)term);
        return;
    }
    if (n->checked_leader_term == term) return;
    n->checked_leader_term = term;
    raft_status st;
    raft_get_status(n->r, &st);
    for (uint64_t i = st.snapshot_index + 1; i <= s->max_applied; i++) {
        const sim_rec *rec = &s->recs[i];
        const raft_entry *e = raft_entry_at(n->r, i);
        if (e == NULL || e->term != rec->term || sim_hash(e->type, e->data, e->len) != rec->hash) {
            sim_fail(s,
                     "leader completeness: leader %llu of term %llu lacks committed entry "
                     "%llu (term %llu)",
                     (unsigned long long)n->id, (unsigned long long)term, (unsigned long long)i,
                     (unsigned long long)rec->term);
            return;
        }
    }
}

static size_t ent_slot(const sim *s, uint64_t index, uint64_t term)
{
    uint64_t h = (index * 0x9e3779b97f4a7c15ull) ^ (term * 0xc2b2ae3d27d4eb4full);
    return (size_t)(h ^ (h >> 29)) & (s->cap_ents - 1);
}

static sim_ent_key *ent_find(sim *s, uint64_t index, uint64_t term)
{
    if (s->cap_ents == 0 || 2 * (s->n_ents + 1) > s->cap_ents) {
        size_t old_cap = s->cap_ents;
        sim_ent_key *old = s->ents;
        s->cap_ents = old_cap ? old_cap * 2 : 1024;
        s->ents = calloc(s->cap_ents, sizeof(sim_ent_key));
        if (s->ents == NULL) {
            fprintf(stderr, "raft_sim: out of memory\n");
            exit(2);
        }
        for (size_t i = 0; i < old_cap; i++) {
            if (old[i].index == 0) continue;
            size_t k = ent_slot(s, old[i].index, old[i].term);
            while (s->ents[k].index != 0)
                k = (k + 1) & (s->cap_ents - 1);
            s->ents[k] = old[i];
        }
        free(old);
    }
    size_t k = ent_slot(s, index, term);
    while (s->ents[k].index != 0 && (s->ents[k].index != index || s->ents[k].term != term))
        k = (k + 1) & (s->cap_ents - 1);
    return &s->ents[k];
}

/* Log matching: every (index, term) ever persisted anywhere has one content and one previous
 * term, so two logs sharing an (index, term) share the whole prefix. */
void sim_check_persisted(sim *s, sim_node *n, const raft_entry *e, uint64_t prev_term)
{
    uint64_t h = sim_hash(e->type, e->data, e->len);
    sim_ent_key *k = ent_find(s, e->index, e->term);
    if (k->index == 0) {
        k->index = e->index;
        k->term = e->term;
        k->hash = h;
        k->prev_term = prev_term;
        s->n_ents++;
        return;
    }
    if (k->hash != h || k->prev_term != prev_term)
        sim_fail(s,
                 "log matching: node %llu persisted entry %llu term %llu with %s than another "
                 "node's entry at the same index and term",
                 (unsigned long long)n->id, (unsigned long long)e->index,
                 (unsigned long long)e->term,
                 k->hash != h ? "other content" : "a different previous term");
}

/* State machine safety: every node applies the same entry at each index and reaches the
 * same state (the caller checks the order and has just applied e). */
void sim_check_applied(sim *s, sim_node *n, const raft_entry *e)
{
    s->recs = grow_zero(s->recs, &s->cap_recs, e->index + 1, sizeof(sim_rec));
    sim_rec *rec = &s->recs[e->index];
    uint64_t h = sim_hash(e->type, e->data, e->len);
    uint64_t sh = sim_state_hash(n->kv);
    if (!rec->set) {
        rec->set = true;
        rec->term = e->term;
        rec->hash = h;
        rec->state_hash = sh;
        if (e->index > s->max_applied) {
            for (uint64_t i = s->max_applied + 1; i < e->index; i++)
                if (!s->recs[i].set) {
                    sim_fail(s,
                             "entry %llu applied by node %llu before entry %llu was applied "
                             "anywhere",
                             (unsigned long long)e->index, (unsigned long long)n->id,
                             (unsigned long long)i);
                    return;
                }
            s->max_applied = e->index;
        }
        return;
    }
    if (rec->term != e->term || rec->hash != h)
        sim_fail(s,
                 "state machine safety: node %llu applied term %llu at index %llu where "
                 "another node applied term %llu",
                 (unsigned long long)n->id, (unsigned long long)e->term,
                 (unsigned long long)e->index, (unsigned long long)rec->term);
    else if (rec->state_hash != sh)
        sim_fail(s, "state machine safety: node %llu state differs after index %llu",
                 (unsigned long long)n->id, (unsigned long long)e->index);
}

/* A snapshot installed or recovered at index must equal the state every node had there. */
void sim_check_snapshot(sim *s, sim_node *n, uint64_t index, uint64_t state_hash)
{
    if (index >= s->cap_recs || !s->recs[index].set) {
        sim_fail(s, "node %llu got a snapshot at %llu, beyond anything applied",
                 (unsigned long long)n->id, (unsigned long long)index);
        return;
    }
    if (s->recs[index].state_hash != state_hash)
        sim_fail(s, "snapshot of node %llu at %llu differs from the applied state",
                 (unsigned long long)n->id, (unsigned long long)index);
}

void sim_check_free(sim *s)
{
    free(s->leader_of);
    free(s->recs);
    free(s->ents);
    s->leader_of = NULL;
    s->recs = NULL;
    s->ents = NULL;
    s->cap_leader_of = s->cap_recs = s->cap_ents = s->n_ents = 0;
}

/* ---------------------------------------------------------------- linearizability */

static int cmp_log_index(const void *a, const void *b)
{
    const sim_op *x = *(const sim_op *const *)a, *y = *(const sim_op *const *)b;
    return x->log_index < y->log_index ? -1 : x->log_index > y->log_index;
}

/* Registers with unique written values. Raft's log order is the witness order of writes;
 * each read is placed right after the write whose value it returned. The history is
 * linearizable with that order iff real-time order is respected: write/write, read/write
 * (both ways) and read/read. */
static void check_key(sim *s, int key)
{
    size_t nw = 0, nr = 0;
    for (size_t i = 0; i < s->n_ops; i++) {
        const sim_op *o = &s->ops[i];
        if (o->key != key || o->status == SIM_OP_FAILED) continue;
        if (o->type == SIM_OP_WRITE && o->log_index != 0)
            nw++;
        else if (o->type == SIM_OP_READ && o->status == SIM_OP_OK)
            nr++;
    }
    sim_op **w = calloc(nw + 1, sizeof(*w));
    sim_op **r = calloc(nr + 1, sizeof(*r));
    uint64_t *pos = calloc(nr + 1, sizeof(*pos));
    uint64_t *pre_max_inv = calloc(nw + 1, sizeof(uint64_t));
    uint64_t *suf_min_resp = calloc(nw + 2, sizeof(uint64_t));
    if (!w || !r || !pos || !pre_max_inv || !suf_min_resp) {
        fprintf(stderr, "raft_sim: out of memory\n");
        exit(2);
    }
    nw = nr = 0;
    for (size_t i = 0; i < s->n_ops; i++) {
        sim_op *o = &s->ops[i];
        if (o->key != key || o->status == SIM_OP_FAILED) continue;
        if (o->type == SIM_OP_WRITE && o->log_index != 0)
            w[nw++] = o;
        else if (o->type == SIM_OP_READ && o->status == SIM_OP_OK)
            r[nr++] = o;
    }
    qsort(w, nw, sizeof(*w), cmp_log_index);
    /* positions are 1-based; 0 is the initial value */
    for (size_t i = 0; i < nw; i++)
        pre_max_inv[i + 1] =
            i == 0 || w[i]->invoke > pre_max_inv[i] ? w[i]->invoke : pre_max_inv[i];
    suf_min_resp[nw + 1] = SIM_INF;
    for (size_t i = nw; i >= 1; i--)
        suf_min_resp[i] =
            w[i - 1]->response < suf_min_resp[i + 1] ? w[i - 1]->response : suf_min_resp[i + 1];
    for (size_t i = 1; i <= nw && !s->failed; i++)
        if (suf_min_resp[i + 1] < w[i - 1]->invoke)
            sim_fail(s,
                     "linearizability: key %d: write of %llu (log index %llu) is ordered "
                     "before a write that finished before it started",
                     key, (unsigned long long)w[i - 1]->value,
                     (unsigned long long)w[i - 1]->log_index);
    for (size_t j = 0; j < nr && !s->failed; j++) {
        uint64_t p = 0;
        if (r[j]->value != 0) {
            for (size_t i = 0; i < nw; i++)
                if (w[i]->value == r[j]->value) p = i + 1;
            if (p == 0) {
                sim_fail(s, "linearizability: key %d: read returned %llu, never written there", key,
                         (unsigned long long)r[j]->value);
                break;
            }
        }
        pos[j] = p;
        if (p >= 1 && pre_max_inv[p] > r[j]->response)
            sim_fail(s,
                     "linearizability: key %d: read of %llu finished before a write at or "
                     "before it in log order started",
                     key, (unsigned long long)r[j]->value);
        else if (suf_min_resp[p + 1] < r[j]->invoke)
            sim_fail(s,
                     "linearizability: key %d: stale read of %llu (a later write finished "
                     "before the read started)",
                     key, (unsigned long long)r[j]->value);
    }
    for (size_t a = 0; a < nr && !s->failed; a++)
        for (size_t b = 0; b < nr; b++)
            if (r[a]->response < r[b]->invoke && pos[a] > pos[b]) {
                sim_fail(s,
                         "linearizability: key %d: read of %llu precedes a read that returned "
                         "the older value %llu",
                         key, (unsigned long long)r[a]->value, (unsigned long long)r[b]->value);
                break;
            }
    free(w);
    free(r);
    free(pos);
    free(pre_max_inv);
    free(suf_min_resp);
}

void sim_check_linearizable(sim *s)
{
    for (int k = 0; k < SIM_KEYS && !s->failed; k++)
        check_key(s, k);
}
