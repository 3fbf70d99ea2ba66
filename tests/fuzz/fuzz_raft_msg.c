/* Fuzz target: RaftService messages into the Raft core. Node 1 of a three-voter group
 * (bootstrapped in memory) receives what peers would send: each record (see fuzz_util.h) is
 * an op byte and a payload. Op 0: a packed RaftBatch (RaftService.Send), op 1: a packed
 * RaftMessage (an InstallSnapshot piece), both converted by raft_msg_from_pb and stepped in;
 * op 2: payload[0] ticks; op 3: a proposal (when leading). The first input byte picks the
 * start: bit 0 makes node 1 leader first (elected by node 2's vote), bit 1 turns on PreVote
 * and CheckQuorum. After every op the ready is taken like the node shell takes it. Invariants:
 * committed entries come out in index order, term and commit never go back, the commit
 * index never passes the last index. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "proto/chunkfs.pb-c.h"
#include "raft/raft.h"
#include "raft/raft_transport.h"

#define MAX_OPS 64

typedef struct node {
    raft *r;
    uint64_t applied, term, commit;
} node;

static void take_ready(node *n)
{
    for (int guard = 0; guard < 8 && raft_has_ready(n->r); guard++) {
        raft_ready rd;
        if (raft_get_ready(n->r, &rd) != 0) fuzz_fail("raft_get_ready");
        if (rd.snapshot) n->applied = rd.snapshot->meta.index;
        for (size_t i = 0; i < rd.n_committed; i++) {
            if (rd.committed[i].index != n->applied + 1)
                fuzz_fail("applies %llu after %llu", (unsigned long long)rd.committed[i].index,
                          (unsigned long long)n->applied);
            n->applied = rd.committed[i].index;
        }
        raft_advance(n->r, &rd);
        raft_ready_free(&rd);
    }
    raft_status st;
    raft_get_status(n->r, &st);
    if (st.hs.term < n->term) fuzz_fail("term went back");
    if (st.hs.commit < n->commit) fuzz_fail("commit went back");
    if (st.hs.commit > st.last_index && st.hs.commit > st.snapshot_index)
        fuzz_fail("commit %llu beyond the log (last %llu)", (unsigned long long)st.hs.commit,
                  (unsigned long long)st.last_index);
    n->term = st.hs.term;
    n->commit = st.hs.commit;
}

static void step_pb(node *n, const Chunkfs__RaftMessage *pb)
{
    raft_msg m;
    if (raft_msg_from_pb(pb, &m) < 0) return; /* the transport drops it */
    raft_step(n->r, &m);
    free(m.entries);
    take_ready(n);
}

static void become_leader(node *n)
{
    raft_campaign(n->r);
    take_ready(n);
    raft_msg v = {.type = RAFT_MSG_VOTE_RESP, .from = 2, .to = 1, .term = raft_get_term(n->r)};
    if (raft_get_role(n->r) == RAFT_PRECANDIDATE) {
        v.type = RAFT_MSG_PREVOTE_RESP;
        v.term = raft_get_term(n->r) + 1;
        raft_step(n->r, &v);
        take_ready(n);
        v.type = RAFT_MSG_VOTE_RESP;
        v.term = raft_get_term(n->r);
    }
    raft_step(n->r, &v);
    take_ready(n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet_logs();
    fuzz_in in = {data, size};
    uint8_t mode = 0;
    fuzz_take_u8(&in, &mode);
    raft_conf boot = {.n = 3};
    for (int i = 0; i < 3; i++) {
        boot.members[i].id = (uint64_t)i + 1;
        snprintf(boot.members[i].addr, RAFT_ADDR_MAX, "127.0.0.1:%d", 9001 + i);
    }
    raft_config cfg = {.id = 1,
                       .election_tick = 10,
                       .heartbeat_tick = 1,
                       .max_entries_per_msg = 16,
                       .pre_vote = (mode & 2) != 0,
                       .check_quorum = (mode & 2) != 0,
                       .seed = 7};
    raft_init init = {.bootstrap = &boot};
    node n = {0};
    if (raft_create(&cfg, &init, &n.r) != 0) fuzz_fail("raft_create");
    take_ready(&n);
    if (mode & 1) become_leader(&n);
    const uint8_t *p;
    size_t len;
    for (int i = 0; i < MAX_OPS && fuzz_take_record(&in, &p, &len); i++) {
        if (len == 0) continue;
        uint8_t op = p[0] & 3;
        p++;
        len--;
        if (op == 0) {
            Chunkfs__RaftBatch *b = chunkfs__raft_batch__unpack(NULL, len, p);
            if (!b) continue;
            for (size_t k = 0; k < b->n_msgs; k++)
                step_pb(&n, b->msgs[k]);
            chunkfs__raft_batch__free_unpacked(b, NULL);
        } else if (op == 1) {
            Chunkfs__RaftMessage *m = chunkfs__raft_message__unpack(NULL, len, p);
            if (!m) continue;
            step_pb(&n, m);
            chunkfs__raft_message__free_unpacked(m, NULL);
        } else if (op == 2) {
            for (int t = len ? p[0] % 32 : 1; t > 0; t--) {
                raft_tick(n.r);
                take_ready(&n);
            }
        } else {
            uint64_t idx, term;
            raft_propose(n.r, p, len, &idx, &term);
            take_ready(&n);
        }
    }
    raft_destroy(n.r);
    return 0;
}
