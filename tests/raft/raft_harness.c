/* In-memory network of Raft cores for the unit tests (see raft_harness.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/raft/raft_harness.h"

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL) abort();
    return p;
}

raft_config h_config(uint64_t id)
{
    raft_config c = {.id = id,
                     .election_tick = 10,
                     .heartbeat_tick = 1,
                     .max_inflight_msgs = 8,
                     .max_entries_per_msg = 16,
                     .pre_vote = false,
                     .check_quorum = false,
                     .seed = 42};
    return c;
}

void h_init(h_cluster *c, int n, int n_voters, const raft_config *tmpl)
{
    memset(c, 0, sizeof(*c));
    raft_conf boot = {0};
    for (int i = 1; i <= n_voters; i++) {
        boot.members[boot.n].id = (uint64_t)i;
        snprintf(boot.members[boot.n].addr, RAFT_ADDR_MAX, "127.0.0.1:%d", 9000 + i);
        boot.n++;
    }
    for (int i = 1; i <= n; i++) {
        raft_config cfg = tmpl ? *tmpl : h_config((uint64_t)i);
        cfg.id = (uint64_t)i;
        cfg.seed = 1000 + (uint64_t)i;
        raft_init init = {.bootstrap = i <= n_voters ? &boot : NULL};
        if (raft_create(&cfg, &init, &c->nodes[i]) != 0) abort();
    }
}

void h_msg_copy(raft_msg *d, const raft_msg *m)
{
    *d = *m;
    d->entries = NULL;
    if (m->n_entries) {
        d->entries = xmalloc(m->n_entries * sizeof(raft_entry));
        for (size_t i = 0; i < m->n_entries; i++) {
            d->entries[i] = m->entries[i];
            d->entries[i].data = NULL;
            if (m->entries[i].len) {
                d->entries[i].data = xmalloc(m->entries[i].len);
                memcpy(d->entries[i].data, m->entries[i].data, m->entries[i].len);
            }
        }
    }
    d->snap_conf = NULL;
    d->snap_data = NULL;
    d->context = NULL;
    if (m->snap_conf_len) {
        d->snap_conf = xmalloc(m->snap_conf_len);
        memcpy(d->snap_conf, m->snap_conf, m->snap_conf_len);
    }
    if (m->snap_data_len) {
        d->snap_data = xmalloc(m->snap_data_len);
        memcpy(d->snap_data, m->snap_data, m->snap_data_len);
    }
    if (m->context_len) {
        d->context = xmalloc(m->context_len);
        memcpy(d->context, m->context, m->context_len);
    }
}

void h_msg_free(raft_msg *m)
{
    for (size_t i = 0; i < m->n_entries; i++)
        free(m->entries[i].data);
    free(m->entries);
    free(m->snap_conf);
    free(m->snap_data);
    free(m->context);
}

void h_free(h_cluster *c)
{
    for (int i = 0; i <= H_MAXN; i++)
        raft_destroy(c->nodes[i]);
    for (size_t i = 0; i < c->nq; i++)
        h_msg_free(&c->q[i]);
    free(c->q);
    memset(c, 0, sizeof(*c));
}

bool h_ready(h_cluster *c, uint64_t id)
{
    raft *r = c->nodes[id];
    if (r == NULL || !raft_has_ready(r)) return false;
    raft_ready rd;
    if (raft_get_ready(r, &rd) != 0) abort();
    if (rd.hs_changed) c->hs[id] = rd.hs;
    if (rd.snapshot != NULL) {
        c->snap_index[id] = rd.snapshot->meta.index;
        c->snap_len[id] = rd.snapshot->len < sizeof(c->snap_data[id]) ? rd.snapshot->len : 0;
        memcpy(c->snap_data[id], rd.snapshot->data, c->snap_len[id]);
        c->applied[id] = rd.snapshot->meta.index;
    }
    for (size_t i = 0; i < rd.n_msgs; i++) {
        const raft_msg *m = &rd.msgs[i];
        if (c->cut[m->from][m->to]) continue;
        if (c->nq == c->capq) {
            c->capq = c->capq ? c->capq * 2 : 64;
            c->q = realloc(c->q, c->capq * sizeof(raft_msg));
            if (c->q == NULL) abort();
        }
        h_msg_copy(&c->q[c->nq++], m);
    }
    for (size_t i = 0; i < rd.n_committed; i++) {
        if (rd.committed[i].index != c->applied[id] + 1) {
            fprintf(stderr, "node %llu applies %llu after %llu\n", (unsigned long long)id,
                    (unsigned long long)rd.committed[i].index, (unsigned long long)c->applied[id]);
            abort(); /* the core must hand out entries in order */
        }
        c->applied[id] = rd.committed[i].index;
        if (rd.committed[i].type == RAFT_ENTRY_NORMAL) c->applied_normal[id]++;
    }
    for (size_t i = 0; i < rd.n_read_states && c->nrs[id] < 64; i++)
        c->rs[id][c->nrs[id]++] = rd.read_states[i];
    raft_advance(r, &rd);
    raft_ready_free(&rd);
    return true;
}

void h_stabilize(h_cluster *c)
{
    for (int iter = 0; iter < 100000; iter++) {
        bool moved = false;
        for (uint64_t id = 1; id <= H_MAXN; id++)
            moved |= h_ready(c, id);
        if (c->nq > 0) {
            moved = true;
            raft_msg *q = c->q;
            size_t n = c->nq;
            c->q = NULL;
            c->nq = c->capq = 0;
            for (size_t i = 0; i < n; i++) {
                raft_msg *m = &q[i];
                if (m->to <= H_MAXN && c->nodes[m->to] != NULL && !c->cut[m->from][m->to]) {
                    if (m->type < 16) c->msgs_of_type[m->type]++;
                    raft_step(c->nodes[m->to], m);
                }
                h_msg_free(m);
            }
            free(q);
        }
        if (!moved) return;
    }
    abort(); /* livelock in a unit test */
}

void h_tick(h_cluster *c, uint64_t id, int k)
{
    for (int i = 0; i < k; i++) {
        raft_tick(c->nodes[id]);
        h_stabilize(c);
    }
}

void h_tick_all(h_cluster *c, int k)
{
    for (int i = 0; i < k; i++) {
        for (uint64_t id = 1; id <= H_MAXN; id++)
            if (c->nodes[id] != NULL) raft_tick(c->nodes[id]);
        h_stabilize(c);
    }
}

void h_isolate(h_cluster *c, uint64_t id)
{
    for (int i = 0; i <= H_MAXN; i++)
        c->cut[id][i] = c->cut[i][id] = true;
}

void h_heal(h_cluster *c)
{
    memset(c->cut, 0, sizeof(c->cut));
}

uint64_t h_leader(h_cluster *c)
{
    uint64_t l = 0;
    uint64_t best_term = 0;
    for (uint64_t id = 1; id <= H_MAXN; id++)
        if (c->nodes[id] != NULL && raft_get_role(c->nodes[id]) == RAFT_LEADER &&
            raft_get_term(c->nodes[id]) >= best_term) {
            l = id;
            best_term = raft_get_term(c->nodes[id]);
        }
    return l;
}

int h_propose(h_cluster *c, uint64_t id, const char *s)
{
    return raft_propose(c->nodes[id], (const uint8_t *)s, strlen(s), NULL, NULL);
}
