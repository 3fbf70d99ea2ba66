/* Unit tests of the pure Raft core: elections, replication, commitment rules, snapshots,
 * membership, leadership transfer, ReadIndex, leader leases, early sends and bad input. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "raft/raft.h"
#include "tests/raft/raft_harness.h"

static h_cluster C;

static void elect(uint64_t id)
{
    raft_campaign(C.nodes[id]);
    h_stabilize(&C);
    ck_assert_uint_eq(raft_get_role(C.nodes[id]), RAFT_LEADER);
}

/* ---------------------------------------------------------------- elections */

START_TEST(test_single_node_commits)
{
    h_init(&C, 1, 1, NULL);
    /* bootstrap: the membership entry is committed and handed out */
    h_stabilize(&C);
    ck_assert_uint_eq(C.applied[1], 1);
    ck_assert_uint_eq(C.hs[1].term, 1);
    elect(1);
    ck_assert_uint_eq(raft_get_term(C.nodes[1]), 2);
    ck_assert_int_eq(h_propose(&C, 1, "a"), 0);
    h_stabilize(&C);
    /* bootstrap entry, no-op, "a" */
    ck_assert_uint_eq(C.applied[1], 3);
    ck_assert_uint_eq(C.applied_normal[1], 1);
    ck_assert_int_eq(raft_read_index(C.nodes[1], 7), 0);
    h_stabilize(&C);
    ck_assert_int_eq(C.nrs[1], 1);
    ck_assert_uint_eq(C.rs[1][0].ctx, 7);
    ck_assert_uint_eq(C.rs[1][0].index, 3);
    h_free(&C);
}
END_TEST

START_TEST(test_three_node_election_and_replication)
{
    h_init(&C, 3, 3, NULL);
    h_stabilize(&C);
    elect(1);
    ck_assert_uint_eq(raft_get_leader(C.nodes[2]), 1);
    ck_assert_uint_eq(raft_get_leader(C.nodes[3]), 1);
    /* the votes were persisted in the hard state before the grants left */
    ck_assert_uint_eq(C.hs[2].vote, 1);
    ck_assert_uint_eq(C.hs[2].term, 2);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(h_propose(&C, 1, "x"), 0);
    h_stabilize(&C);
    h_tick(&C, 1, 1); /* followers learn the last commit with the leader's next tick */
    for (uint64_t id = 1; id <= 3; id++) {
        ck_assert_uint_eq(C.applied_normal[id], 5);
        ck_assert_uint_eq(raft_get_committed(C.nodes[id]), 1 + 1 + 5); /* founders, no-op, 5 */
    }
    /* followers refuse proposals */
    ck_assert_int_eq(h_propose(&C, 2, "y"), -CFS_ENOTLEADER);
    h_free(&C);
}
END_TEST

START_TEST(test_commit_rides_on_next_append_or_tick)
{
    /* A commit alone sends no message: followers learn it with the next appends, or with the
     * leader's next tick when nothing else goes out (one call per commit and follower would
     * hold up the next proposal's entries). */
    h_init(&C, 3, 3, NULL);
    h_stabilize(&C);
    elect(1);
    h_tick(&C, 1, 1);
    uint64_t c0 = raft_get_committed(C.nodes[1]);
    ck_assert_uint_eq(raft_get_committed(C.nodes[2]), c0);
    C.msgs_of_type[RAFT_MSG_APP] = 0;
    ck_assert_int_eq(h_propose(&C, 1, "a"), 0);
    h_stabilize(&C);
    ck_assert_uint_eq(raft_get_committed(C.nodes[1]), c0 + 1);
    ck_assert_int_eq(C.msgs_of_type[RAFT_MSG_APP], 2); /* one append per follower */
    ck_assert_uint_eq(raft_get_committed(C.nodes[2]), c0);
    ck_assert_uint_eq(C.applied_normal[1], 1);
    ck_assert_uint_eq(C.applied_normal[2], 0);
    /* the next proposal's appends carry the commit index */
    ck_assert_int_eq(h_propose(&C, 1, "b"), 0);
    h_stabilize(&C);
    ck_assert_int_eq(C.msgs_of_type[RAFT_MSG_APP], 4);
    for (uint64_t id = 2; id <= 3; id++) {
        ck_assert_uint_eq(raft_get_committed(C.nodes[id]), c0 + 1);
        ck_assert_uint_eq(C.applied_normal[id], 1);
    }
    /* nothing else to send: the next tick tells them, once */
    h_tick(&C, 1, 1);
    ck_assert_int_eq(C.msgs_of_type[RAFT_MSG_APP], 6);
    for (uint64_t id = 2; id <= 3; id++) {
        ck_assert_uint_eq(raft_get_committed(C.nodes[id]), c0 + 2);
        ck_assert_uint_eq(C.applied_normal[id], 2);
    }
    h_tick(&C, 1, 1);
    ck_assert_int_eq(C.msgs_of_type[RAFT_MSG_APP], 6);
    h_free(&C);
}
END_TEST

START_TEST(test_election_timeout_elects_someone)
{
    h_init(&C, 5, 5, NULL);
    h_stabilize(&C);
    h_tick_all(&C, 40);
    uint64_t l = h_leader(&C);
    ck_assert_uint_ne(l, 0);
    for (uint64_t id = 1; id <= 5; id++)
        ck_assert_uint_eq(raft_get_leader(C.nodes[id]), l);
    h_free(&C);
}
END_TEST

START_TEST(test_vote_refused_to_stale_log)
{
    h_init(&C, 3, 3, NULL);
    h_stabilize(&C);
    elect(1);
    h_isolate(&C, 3);
    ck_assert_int_eq(h_propose(&C, 1, "x"), 0);
    h_stabilize(&C);
    h_heal(&C);
    /* node 3 misses an entry: it cannot win even though it asks first */
    raft_campaign(C.nodes[3]);
    h_stabilize(&C);
    ck_assert_uint_ne(raft_get_role(C.nodes[3]), RAFT_LEADER);
    h_free(&C);
}
END_TEST

START_TEST(test_prevote_keeps_term_of_isolated_node)
{
    raft_config cfg = h_config(0);
    cfg.pre_vote = true;
    h_init(&C, 3, 3, &cfg);
    h_stabilize(&C);
    elect(1);
    uint64_t term = raft_get_term(C.nodes[1]);
    h_isolate(&C, 3);
    h_tick(&C, 3, 100); /* many election timeouts alone */
    ck_assert_uint_eq(raft_get_term(C.nodes[3]), term);
    ck_assert_uint_eq(raft_get_role(C.nodes[3]), RAFT_PRECANDIDATE);
    h_heal(&C);
    /* rejoining does not depose the leader */
    h_tick_all(&C, 5);
    ck_assert_uint_eq(h_leader(&C), 1);
    ck_assert_uint_eq(raft_get_term(C.nodes[1]), term);
    ck_assert_uint_eq(raft_get_leader(C.nodes[3]), 1);
    h_free(&C);
}
END_TEST

START_TEST(test_without_prevote_isolated_node_disrupts)
{
    h_init(&C, 3, 3, NULL);
    h_stabilize(&C);
    elect(1);
    uint64_t term = raft_get_term(C.nodes[1]);
    h_isolate(&C, 3);
    h_tick(&C, 3, 100);
    ck_assert_uint_gt(raft_get_term(C.nodes[3]), term + 2);
    h_free(&C);
}
END_TEST

START_TEST(test_check_quorum_leader_steps_down)
{
    raft_config cfg = h_config(0);
    cfg.check_quorum = true;
    cfg.pre_vote = true;
    h_init(&C, 3, 3, &cfg);
    h_stabilize(&C);
    elect(1);
    h_isolate(&C, 1);
    /* two election timeouts: the first check sees the initial activity, the second none */
    h_tick(&C, 1, 2 * cfg.election_tick);
    ck_assert_uint_eq(raft_get_role(C.nodes[1]), RAFT_FOLLOWER);
    ck_assert_int_eq(h_propose(&C, 1, "x"), -CFS_ENOTLEADER);
    h_free(&C);
}
END_TEST

START_TEST(test_check_quorum_followers_ignore_votes_in_lease)
{
    raft_config cfg = h_config(0);
    cfg.check_quorum = true;
    h_init(&C, 3, 3, &cfg);
    h_stabilize(&C);
    elect(1);
    uint64_t term = raft_get_term(C.nodes[1]);
    /* node 3 campaigns while 2 hears from leader 1: 2 ignores it, so 1 stays leader */
    raft_campaign(C.nodes[3]);
    h_stabilize(&C);
    ck_assert_uint_eq(raft_get_role(C.nodes[1]), RAFT_LEADER);
    ck_assert_uint_eq(raft_get_term(C.nodes[2]), term);
    h_free(&C);
}
END_TEST

/* ---------------------------------------------------------------- replication */

START_TEST(test_fast_backup_skips_terms)
{
    /* Node 3 holds 50 entries of an old term that never committed; the leader's log differs
     * from index 2 on. With the term hint, one rejection skips the whole conflicting term. */
    raft_conf conf = {.n = 3};
    for (int i = 0; i < 3; i++)
        conf.members[i].id = (uint64_t)i + 1;
    raft_snapshot snap = {.meta = {.index = 1, .term = 1, .conf = conf}};
    raft_entry led[60], stale[50];
    for (int i = 0; i < 60; i++)
        led[i] = (raft_entry){.term = 3, .index = (uint64_t)i + 2};
    for (int i = 0; i < 50; i++)
        stale[i] = (raft_entry){.term = 2, .index = (uint64_t)i + 2};
    memset(&C, 0, sizeof(C));
    for (uint64_t id = 1; id <= 3; id++) {
        raft_config cfg = h_config(id);
        cfg.max_entries_per_msg = 100;
        raft_init init = {.hs = {.term = 3, .commit = 1},
                          .snapshot = &snap,
                          .entries = id == 3 ? stale : led,
                          .n_entries = id == 3 ? 50 : 60};
        ck_assert_int_eq(raft_create(&cfg, &init, &C.nodes[id]), 0);
        C.applied[id] = 1;
    }
    elect(1);
    ck_assert_uint_eq(raft_get_last_index(C.nodes[3]), raft_get_last_index(C.nodes[1]));
    ck_assert_uint_eq(raft_term_at(C.nodes[3], 30), 3);
    /* probes: 1 initial append, at most 2 rejections, then success: far from 50 */
    ck_assert_int_le(C.msgs_of_type[RAFT_MSG_APP], 8);
    h_free(&C);
}
END_TEST

START_TEST(test_leader_does_not_commit_old_term_entry_alone)
{
    /* Direct check of the rule with a scripted exchange: leader 1 (term 3) has entries
     * 2 (term 2) and 3 (its no-op, term 3); node 2 acknowledges only index 2. */
    raft_conf conf = {.n = 3};
    for (int i = 0; i < 3; i++)
        conf.members[i].id = (uint64_t)i + 1;
    raft_snapshot snap = {.meta = {.index = 1, .term = 1, .conf = conf}};
    raft_entry old = {.term = 2, .index = 2};
    raft *r;
    raft_config cfg = h_config(1);
    raft_init init = {
        .hs = {.term = 2, .commit = 1}, .snapshot = &snap, .entries = &old, .n_entries = 1};
    ck_assert_int_eq(raft_create(&cfg, &init, &r), 0);
    raft_campaign(r); /* candidate at term 3 */
    raft_msg grant = {.type = RAFT_MSG_VOTE_RESP, .from = 2, .to = 1, .term = 3};
    ck_assert_int_eq(raft_step(r, &grant), 0);
    ck_assert_uint_eq(raft_get_role(r), RAFT_LEADER);
    ck_assert_uint_eq(raft_get_last_index(r), 3);
    raft_ready rd;
    ck_assert_int_eq(raft_get_ready(r, &rd), 0);
    raft_advance(r, &rd); /* persisted locally */
    raft_ready_free(&rd);
    raft_msg ack = {.type = RAFT_MSG_APP_RESP, .from = 2, .to = 1, .term = 3, .index = 2};
    ck_assert_int_eq(raft_step(r, &ack), 0);
    ck_assert_uint_eq(raft_get_committed(r), 1); /* entry 2 is on 2 of 3, yet not committed */
    ack.index = 3;
    ck_assert_int_eq(raft_step(r, &ack), 0);
    ck_assert_uint_eq(raft_get_committed(r), 3);
    raft_destroy(r);
}
END_TEST

START_TEST(test_follower_commit_bounded_by_last_new_entry)
{
    /* Follower 2 holds 1..5 (term 1) and a stale tail 6..8 (term 2). Leader 1 (term 3)
     * probes at 3 with entry 4 and commit 8: only up to 4 is known to match the leader. */
    raft_entry e[8];
    for (int i = 0; i < 8; i++)
        e[i] = (raft_entry){.term = i < 5 ? 1 : 2, .index = (uint64_t)i + 1};
    raft *f;
    raft_config cfg = h_config(2);
    raft_init init = {.hs = {.term = 2, .commit = 3}, .entries = e, .n_entries = 8};
    ck_assert_int_eq(raft_create(&cfg, &init, &f), 0);
    raft_msg m = {.type = RAFT_MSG_APP,
                  .from = 1,
                  .to = 2,
                  .term = 3,
                  .index = 3,
                  .log_term = 1,
                  .entries = &e[3],
                  .n_entries = 1,
                  .commit = 8};
    ck_assert_int_eq(raft_step(f, &m), 0);
    ck_assert_uint_eq(raft_get_committed(f), 4);
    ck_assert_uint_eq(raft_get_last_index(f), 8); /* no conflict seen: the tail stays */
    ck_assert_uint_eq(raft_get_leader(f), 1);
    /* a conflicting entry at 6 replaces the stale tail */
    raft_entry n6 = {.term = 3, .index = 6};
    m.index = 5;
    m.entries = &n6;
    ck_assert_int_eq(raft_step(f, &m), 0);
    ck_assert_uint_eq(raft_get_last_index(f), 6);
    ck_assert_uint_eq(raft_term_at(f, 6), 3);
    ck_assert_uint_eq(raft_get_committed(f), 6);
    /* the ready persists from the first replaced index */
    raft_ready rd;
    ck_assert_int_eq(raft_get_ready(f, &rd), 0);
    ck_assert_uint_eq(rd.n_entries, 1);
    ck_assert_uint_eq(rd.entries[0].index, 6);
    ck_assert_uint_eq(rd.hs.commit, 6);
    ck_assert_uint_eq(rd.hs.term, 3);
    raft_advance(f, &rd);
    raft_ready_free(&rd);
    /* an append below the commit index is answered with the commit index */
    m.index = 2;
    m.n_entries = 0;
    ck_assert_int_eq(raft_step(f, &m), 0);
    ck_assert_int_eq(raft_get_ready(f, &rd), 0);
    ck_assert_uint_eq(rd.n_msgs, 1);
    ck_assert_uint_eq(rd.msgs[0].type, RAFT_MSG_APP_RESP);
    ck_assert(!rd.msgs[0].reject);
    ck_assert_uint_eq(rd.msgs[0].index, 6);
    raft_advance(f, &rd);
    raft_ready_free(&rd);
    raft_destroy(f);
}
END_TEST

START_TEST(test_leader_counts_itself_only_after_persisting)
{
    h_init(&C, 3, 3, NULL);
    h_stabilize(&C);
    elect(1);
    uint64_t before = raft_get_committed(C.nodes[1]);
    h_isolate(&C, 2);
    h_isolate(&C, 3);
    ck_assert_int_eq(h_propose(&C, 1, "x"), 0);
    raft_ready rd;
    ck_assert_int_eq(raft_get_ready(C.nodes[1], &rd), 0);
    ck_assert_uint_eq(rd.n_entries, 1);
    ck_assert(rd.must_sync);
    /* a follower acks before the leader's own write finished: 1 of 3 is not a quorum */
    raft_msg ack = {.type = RAFT_MSG_APP_RESP,
                    .from = 2,
                    .to = 1,
                    .term = raft_get_term(C.nodes[1]),
                    .index = before + 1};
    ck_assert_int_eq(raft_step(C.nodes[1], &ack), 0);
    ck_assert_uint_eq(raft_get_committed(C.nodes[1]), before);
    raft_advance(C.nodes[1], &rd);
    raft_ready_free(&rd);
    ck_assert_uint_eq(raft_get_committed(C.nodes[1]), before + 1);
    h_free(&C);
}
END_TEST

START_TEST(test_pipelining_and_batching)
{
    raft_config cfg = h_config(0);
    cfg.max_entries_per_msg = 4;
    cfg.max_inflight_msgs = 3;
    h_init(&C, 3, 3, &cfg);
    h_stabilize(&C);
    elect(1);
    for (uint64_t id = 2; id <= 3; id++)
        C.cut[1][id] = true; /* hold the leader's messages back */
    for (int i = 0; i < 40; i++)
        ck_assert_int_eq(h_propose(&C, 1, "p"), 0);
    /* the proposals produced at most max_inflight messages per follower, each <= 4 entries */
    raft_ready rd;
    ck_assert_int_eq(raft_get_ready(C.nodes[1], &rd), 0);
    int apps = 0;
    for (size_t i = 0; i < rd.n_msgs; i++)
        if (rd.msgs[i].type == RAFT_MSG_APP) {
            apps++;
            ck_assert_uint_le(rd.msgs[i].n_entries, 4);
        }
    ck_assert_int_le(apps, 2 * 3);
    ck_assert_int_ge(apps, 2);
    raft_advance(C.nodes[1], &rd);
    raft_ready_free(&rd);
    h_heal(&C);
    h_tick_all(&C, 3);
    for (uint64_t id = 1; id <= 3; id++)
        ck_assert_uint_eq(C.applied_normal[id], 40);
    h_free(&C);
}
END_TEST

START_TEST(test_follower_catches_up_after_partition)
{
    h_init(&C, 3, 3, NULL);
    h_stabilize(&C);
    elect(1);
    h_isolate(&C, 3);
    for (int i = 0; i < 30; i++)
        ck_assert_int_eq(h_propose(&C, 1, "q"), 0);
    h_stabilize(&C);
    ck_assert_uint_eq(C.applied_normal[3], 0);
    h_heal(&C);
    h_tick_all(&C, 3);
    ck_assert_uint_eq(C.applied_normal[3], 30);
    h_free(&C);
}
END_TEST

/* ---------------------------------------------------------------- snapshots */

START_TEST(test_snapshot_sent_in_pieces)
{
    raft_config cfg = h_config(0);
    cfg.snap_piece_bytes = 4;
    h_init(&C, 3, 3, &cfg);
    h_stabilize(&C);
    elect(1);
    h_isolate(&C, 3);
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(h_propose(&C, 1, "s"), 0);
    h_stabilize(&C);
    const char image[] = "state-machine-image"; /* 19 bytes: 5 pieces */
    uint64_t applied = C.applied[1];
    ck_assert_int_eq(raft_compact(C.nodes[1], applied, (const uint8_t *)image, sizeof(image)), 0);
    raft_status st;
    raft_get_status(C.nodes[1], &st);
    ck_assert_uint_eq(st.snapshot_index, applied);
    ck_assert_uint_eq(st.first_index, applied + 1);
    /* compacting again at the same index is refused */
    ck_assert_int_eq(raft_compact(C.nodes[1], applied, (const uint8_t *)image, sizeof(image)),
                     -EINVAL);
    h_heal(&C);
    C.msgs_of_type[RAFT_MSG_SNAP] = 0;
    h_tick_all(&C, 3);
    ck_assert_int_ge(C.msgs_of_type[RAFT_MSG_SNAP], 5);
    ck_assert_uint_eq(C.snap_index[3], applied);
    ck_assert_uint_eq(C.snap_len[3], sizeof(image));
    ck_assert_mem_eq(C.snap_data[3], image, sizeof(image));
    /* replication continues after the snapshot */
    ck_assert_int_eq(h_propose(&C, 1, "t"), 0);
    h_stabilize(&C);
    h_tick(&C, 1, 1); /* the commit reaches followers with the leader's next tick */
    ck_assert_uint_eq(C.applied[3], C.applied[1]);
    raft_get_status(C.nodes[3], &st);
    ck_assert_int_eq(st.conf.n, 3);
    h_free(&C);
}
END_TEST

START_TEST(test_snapshot_to_new_member_survives_lost_pieces)
{
    raft_config cfg = h_config(0);
    cfg.snap_piece_bytes = 2;
    h_init(&C, 3, 2, &cfg); /* node 3 runs but is not a member yet */
    h_stabilize(&C);
    elect(1);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(h_propose(&C, 1, "s"), 0);
    h_stabilize(&C);
    const char image[] = "0123456789";
    uint64_t at = C.applied[1];
    ck_assert_int_eq(raft_compact(C.nodes[1], at, (const uint8_t *)image, 10), 0);
    raft_conf_change cc = {.type = RAFT_CC_ADD_LEARNER, .id = 3};
    ck_assert_int_eq(raft_propose_conf_change(C.nodes[1], &cc, NULL, NULL), 0);
    /* the change commits on 1 and 2 while every message to 3 is lost for a while */
    C.cut[1][3] = true;
    h_tick(&C, 1, 4);
    ck_assert_uint_eq(C.snap_index[3], 0);
    C.cut[1][3] = false;
    h_tick_all(&C, 8);
    ck_assert_uint_eq(C.snap_index[3], at);
    ck_assert_uint_eq(C.snap_len[3], 10);
    ck_assert_mem_eq(C.snap_data[3], image, 10);
    ck_assert_uint_eq(C.applied[3], C.applied[1]);
    raft_status st;
    raft_get_status(C.nodes[3], &st);
    ck_assert_int_eq(st.conf.n, 3);
    h_free(&C);
}
END_TEST

/* ---------------------------------------------------------------- membership */

static int conf_change(uint64_t leader, uint32_t type, uint64_t id)
{
    raft_conf_change cc = {.type = type, .id = id};
    snprintf(cc.addr, sizeof(cc.addr), "h%llu", (unsigned long long)id);
    return raft_propose_conf_change(C.nodes[leader], &cc, NULL, NULL);
}

START_TEST(test_add_learner_then_promote_then_remove)
{
    h_init(&C, 4, 3, NULL); /* node 4 runs but is not a member */
    h_stabilize(&C);
    elect(1);
    /* a node outside the membership never campaigns */
    h_tick(&C, 4, 50);
    ck_assert_uint_eq(raft_get_role(C.nodes[4]), RAFT_FOLLOWER);
    ck_assert_int_eq(conf_change(1, RAFT_CC_ADD_LEARNER, 4), 0);
    /* one change at a time */
    ck_assert_int_eq(conf_change(1, RAFT_CC_REMOVE, 3), -EBUSY);
    h_tick_all(&C, 3);
    raft_status st;
    raft_get_status(C.nodes[4], &st);
    ck_assert_int_eq(st.conf.n, 4);
    ck_assert(st.conf.members[raft_conf_find(&st.conf, 4)].learner);
    ck_assert_str_eq(st.conf.members[raft_conf_find(&st.conf, 4)].addr, "h4");
    ck_assert_uint_eq(C.applied[4], C.applied[1]); /* the learner caught up */
    /* a learner does not campaign */
    h_tick(&C, 4, 50);
    ck_assert_uint_eq(raft_get_role(C.nodes[4]), RAFT_FOLLOWER);
    /* learners do not count: with 2 and 3 down nothing commits */
    h_isolate(&C, 2);
    h_isolate(&C, 3);
    uint64_t c0 = raft_get_committed(C.nodes[1]);
    ck_assert_int_eq(h_propose(&C, 1, "x"), 0);
    h_stabilize(&C);
    ck_assert_uint_eq(raft_get_committed(C.nodes[1]), c0);
    h_heal(&C);
    h_tick_all(&C, 2);
    ck_assert_uint_eq(raft_get_committed(C.nodes[1]), c0 + 1);
    /* promote */
    ck_assert_int_eq(conf_change(1, RAFT_CC_ADD_VOTER, 4), 0);
    h_tick_all(&C, 2);
    raft_get_status(C.nodes[1], &st);
    ck_assert(!st.conf.members[raft_conf_find(&st.conf, 4)].learner);
    /* invalid changes */
    ck_assert_int_eq(conf_change(1, RAFT_CC_ADD_VOTER, 4), -EINVAL);
    ck_assert_int_eq(conf_change(1, RAFT_CC_REMOVE, 6), -EINVAL);
    ck_assert_int_eq(conf_change(1, RAFT_CC_ADD_LEARNER, 0), -EINVAL);
    ck_assert_int_eq(conf_change(1, RAFT_CC_SET, 5), -EINVAL); /* founding entry only */
    ck_assert_int_eq(conf_change(2, RAFT_CC_REMOVE, 3), -CFS_ENOTLEADER);
    /* remove the leader itself: it steps down once the change commits; others go on */
    ck_assert_int_eq(conf_change(1, RAFT_CC_REMOVE, 1), 0);
    h_tick_all(&C, 2);
    ck_assert_uint_ne(raft_get_role(C.nodes[1]), RAFT_LEADER);
    h_tick_all(&C, 40);
    uint64_t l = h_leader(&C);
    ck_assert(l >= 2 && l <= 4);
    raft_get_status(C.nodes[l], &st);
    ck_assert_int_eq(st.conf.n, 3);
    ck_assert_int_lt(raft_conf_find(&st.conf, 1), 0);
    h_free(&C);
}
END_TEST

START_TEST(test_new_leader_waits_before_conf_change)
{
    h_init(&C, 4, 3, NULL);
    h_stabilize(&C);
    elect(1);
    /* leader 1 replicates a membership change to 2 and 3 but never hears back */
    C.cut[2][1] = C.cut[3][1] = true;
    ck_assert_int_eq(conf_change(1, RAFT_CC_ADD_LEARNER, 4), 0);
    h_stabilize(&C);
    uint64_t last = raft_get_last_index(C.nodes[1]);
    ck_assert_uint_eq(raft_get_last_index(C.nodes[2]), last);
    ck_assert_uint_lt(raft_get_committed(C.nodes[2]), last);
    h_isolate(&C, 1);
    /* 2 wins; hold back its appends so that its no-op stays uncommitted */
    raft_campaign(C.nodes[2]);
    for (int i = 0; i < 10 && raft_get_role(C.nodes[2]) != RAFT_LEADER; i++) {
        for (uint64_t id = 1; id <= 4; id++)
            h_ready(&C, id);
        raft_msg *q = C.q;
        size_t n = C.nq;
        C.q = NULL;
        C.nq = C.capq = 0;
        for (size_t k = 0; k < n; k++) {
            if (q[k].type != RAFT_MSG_APP && !C.cut[q[k].from][q[k].to])
                raft_step(C.nodes[q[k].to], &q[k]);
            h_msg_free(&q[k]);
        }
        free(q);
    }
    ck_assert_uint_eq(raft_get_role(C.nodes[2]), RAFT_LEADER);
    /* the inherited change may still be pending: a second one must wait */
    ck_assert_int_eq(conf_change(2, RAFT_CC_REMOVE, 3), -EBUSY);
    h_stabilize(&C);
    h_tick(&C, 2, 2);
    raft_status st;
    raft_get_status(C.nodes[2], &st);
    ck_assert_int_eq(st.conf.n, 4); /* the inherited change committed with the no-op */
    ck_assert_int_eq(conf_change(2, RAFT_CC_REMOVE, 3), 0);
    h_free(&C);
}
END_TEST

/* ---------------------------------------------------------------- transfer */

START_TEST(test_transfer_leadership)
{
    h_init(&C, 3, 3, NULL);
    h_stabilize(&C);
    elect(1);
    uint64_t term = raft_get_term(C.nodes[1]);
    h_isolate(&C, 3);
    ck_assert_int_eq(h_propose(&C, 1, "x"), 0);
    h_stabilize(&C);
    ck_assert_int_eq(raft_transfer_leader(C.nodes[1], 3), 0);
    /* proposals wait during the transfer */
    ck_assert_int_eq(h_propose(&C, 1, "y"), -EBUSY);
    h_heal(&C);
    h_tick_all(&C, 2); /* 3 catches up, gets TimeoutNow, wins */
    ck_assert_uint_eq(h_leader(&C), 3);
    ck_assert_uint_eq(raft_get_term(C.nodes[3]), term + 1);
    ck_assert_uint_eq(raft_get_leader(C.nodes[1]), 3);
    ck_assert_int_eq(raft_transfer_leader(C.nodes[3], 3), -EINVAL);
    ck_assert_int_eq(raft_transfer_leader(C.nodes[3], 9), -EINVAL);
    ck_assert_int_eq(raft_transfer_leader(C.nodes[1], 2), -CFS_ENOTLEADER);
    h_free(&C);
}
END_TEST

START_TEST(test_transfer_bypasses_leader_lease)
{
    /* With check-quorum and PreVote, voters ignore campaigns while they hear from a leader;
     * a transfer's campaign is marked and must still win, without a PreVote round. */
    raft_config cfg = h_config(0);
    cfg.check_quorum = true;
    cfg.pre_vote = true;
    h_init(&C, 3, 3, &cfg);
    h_stabilize(&C);
    elect(1);
    uint64_t term = raft_get_term(C.nodes[1]);
    ck_assert_int_eq(raft_transfer_leader(C.nodes[1], 2), 0);
    h_stabilize(&C);
    ck_assert_uint_eq(h_leader(&C), 2);
    ck_assert_uint_eq(raft_get_term(C.nodes[2]), term + 1);
    ck_assert_uint_eq(raft_get_leader(C.nodes[3]), 2);
    /* an unmarked campaign by 3 right after is ignored: 2 stays leader in the same term */
    raft_campaign(C.nodes[3]);
    h_stabilize(&C);
    ck_assert_uint_eq(h_leader(&C), 2);
    ck_assert_uint_eq(raft_get_term(C.nodes[2]), term + 1);
    h_free(&C);
}
END_TEST

START_TEST(test_transfer_aborts_after_election_timeout)
{
    h_init(&C, 3, 3, NULL);
    h_stabilize(&C);
    elect(1);
    h_isolate(&C, 3);
    ck_assert_int_eq(raft_transfer_leader(C.nodes[1], 3), 0);
    ck_assert_int_eq(h_propose(&C, 1, "y"), -EBUSY);
    h_tick(&C, 1, 10);
    ck_assert_uint_eq(raft_get_role(C.nodes[1]), RAFT_LEADER);
    ck_assert_int_eq(h_propose(&C, 1, "y"), 0);
    h_free(&C);
}
END_TEST

/* ---------------------------------------------------------------- ReadIndex */

START_TEST(test_read_index_needs_quorum)
{
    h_init(&C, 3, 3, NULL);
    h_stabilize(&C);
    elect(1);
    ck_assert_int_eq(raft_read_index(C.nodes[2], 1), -CFS_ENOTLEADER);
    h_isolate(&C, 1);
    ck_assert_int_eq(raft_read_index(C.nodes[1], 5), 0);
    h_stabilize(&C);
    h_tick(&C, 1, 3);
    ck_assert_int_eq(C.nrs[1], 0); /* no quorum heard: no answer */
    h_heal(&C);
    h_tick(&C, 1, 1); /* the next heartbeat round confirms it */
    ck_assert_int_eq(C.nrs[1], 1);
    ck_assert_uint_eq(C.rs[1][0].ctx, 5);
    ck_assert_uint_eq(C.rs[1][0].index, raft_get_committed(C.nodes[1]));
    h_free(&C);
}
END_TEST

/* Delivers queued messages except AppendEntries (and their responses), once. */
static void deliver_except_appends(void)
{
    for (uint64_t id = 1; id <= H_MAXN; id++)
        h_ready(&C, id);
    raft_msg *q = C.q;
    size_t n = C.nq;
    C.q = NULL;
    C.nq = C.capq = 0;
    for (size_t k = 0; k < n; k++) {
        if (q[k].type != RAFT_MSG_APP && q[k].type != RAFT_MSG_APP_RESP)
            raft_step(C.nodes[q[k].to], &q[k]);
        h_msg_free(&q[k]);
    }
    free(q);
}

START_TEST(test_read_index_waits_for_commit_in_term)
{
    h_init(&C, 3, 3, NULL);
    h_stabilize(&C);
    raft_campaign(C.nodes[1]);
    for (int i = 0; i < 5; i++)
        deliver_except_appends();
    ck_assert_uint_eq(raft_get_role(C.nodes[1]), RAFT_LEADER);
    uint64_t noop = raft_get_last_index(C.nodes[1]);
    ck_assert_uint_lt(raft_get_committed(C.nodes[1]), noop);
    ck_assert_int_eq(raft_read_index(C.nodes[1], 11), 0);
    /* heartbeats flow but the leader has not committed its no-op: no answer yet */
    for (int i = 0; i < 3; i++) {
        raft_tick(C.nodes[1]);
        deliver_except_appends();
    }
    ck_assert_int_eq(C.nrs[1], 0);
    h_stabilize(&C);
    ck_assert_int_eq(C.nrs[1], 1);
    ck_assert_uint_eq(C.rs[1][0].ctx, 11);
    ck_assert_uint_ge(C.rs[1][0].index, noop);
    h_free(&C);
}
END_TEST

START_TEST(test_read_index_fails_when_leadership_lost)
{
    raft_config cfg = h_config(0);
    cfg.check_quorum = true;
    h_init(&C, 3, 3, &cfg);
    h_stabilize(&C);
    elect(1);
    h_isolate(&C, 1);
    ck_assert_int_eq(raft_read_index(C.nodes[1], 9), 0);
    h_tick(&C, 1, 25); /* check-quorum makes it step down */
    ck_assert_uint_ne(raft_get_role(C.nodes[1]), RAFT_LEADER);
    ck_assert_int_eq(C.nrs[1], 1);
    ck_assert_uint_eq(C.rs[1][0].ctx, 9);
    ck_assert_uint_eq(C.rs[1][0].index, 0);
    h_free(&C);
}
END_TEST

/* ---------------------------------------------------------------- early sends, leases */

START_TEST(test_leader_appends_leave_before_persisting)
{
    h_init(&C, 3, 3, NULL);
    h_stabilize(&C);
    elect(1);
    ck_assert_int_eq(h_propose(&C, 1, "x"), 0);
    raft_ready rd;
    ck_assert_int_eq(raft_get_ready(C.nodes[1], &rd), 0);
    ck_assert_uint_eq(rd.n_entries, 1);
    /* both appends may leave while the leader writes the entry */
    ck_assert_uint_eq(rd.n_early, 2);
    for (size_t i = 0; i < rd.n_early; i++) {
        ck_assert_uint_eq(rd.msgs[i].type, RAFT_MSG_APP);
        ck_assert_uint_eq(rd.msgs[i].n_entries, 1);
    }
    /* a follower's ack must wait for its own write */
    raft_ready fr;
    ck_assert_int_eq(raft_step(C.nodes[2], rd.msgs[0].to == 2 ? &rd.msgs[0] : &rd.msgs[1]), 0);
    ck_assert_int_eq(raft_get_ready(C.nodes[2], &fr), 0);
    ck_assert_uint_eq(fr.n_entries, 1);
    ck_assert_uint_eq(fr.n_msgs, 1);
    ck_assert_uint_eq(fr.msgs[0].type, RAFT_MSG_APP_RESP);
    ck_assert_uint_eq(fr.n_early, 0);
    raft_advance(C.nodes[2], &fr);
    raft_ready_free(&fr);
    raft_advance(C.nodes[1], &rd);
    raft_ready_free(&rd);
    h_free(&C);
}
END_TEST

static raft_config lease_config(void)
{
    raft_config cfg = h_config(0);
    cfg.lease_ticks = 4; /* election_tick 10 */
    return cfg;
}

START_TEST(test_lease_read_without_a_round)
{
    raft_config cfg = lease_config();
    h_init(&C, 3, 3, &cfg);
    h_stabilize(&C);
    /* a node neither campaigns nor votes within an election timeout of its start */
    raft_campaign(C.nodes[1]);
    h_stabilize(&C);
    ck_assert_uint_eq(raft_get_role(C.nodes[1]), RAFT_FOLLOWER);
    h_tick_all(&C, cfg.election_tick);
    for (uint64_t id = 1; id <= 3; id++)
        ck_assert_uint_eq(raft_get_role(C.nodes[id]), RAFT_FOLLOWER);
    elect(1);
    uint64_t index = 1;
    ck_assert_int_eq(raft_read_lease(C.nodes[2], &index), -CFS_ENOTLEADER);
    /* no heartbeat round acknowledged yet */
    ck_assert_int_eq(raft_read_lease(C.nodes[1], &index), -EAGAIN);
    h_tick(&C, 1, 1); /* heartbeat round, acknowledged by both followers */
    ck_assert_int_eq(raft_read_lease(C.nodes[1], &index), 0);
    ck_assert_uint_eq(index, raft_get_committed(C.nodes[1]));
    ck_assert(!raft_has_ready(C.nodes[1])); /* answered with no message */
    ck_assert_int_eq(h_propose(&C, 1, "x"), 0);
    h_stabilize(&C);
    ck_assert_int_eq(raft_read_lease(C.nodes[1], &index), 0);
    ck_assert_uint_eq(index, raft_get_committed(C.nodes[1]));
    /* cut off: the lease runs out after lease_ticks of the leader's ticks */
    h_isolate(&C, 1);
    h_tick(&C, 1, cfg.lease_ticks);
    ck_assert_uint_eq(raft_get_role(C.nodes[1]), RAFT_LEADER);
    ck_assert_int_eq(raft_read_lease(C.nodes[1], &index), -EAGAIN);
    h_free(&C);
}
END_TEST

START_TEST(test_deposed_leader_serves_no_lease_read)
{
    /* The old leader, cut off, still believes it leads (no check-quorum). Time runs at the
     * same rate everywhere; whenever it answers a lease read, no newer leader may exist. */
    raft_config cfg = lease_config();
    h_init(&C, 3, 3, &cfg);
    h_stabilize(&C);
    h_tick_all(&C, cfg.election_tick);
    elect(1);
    h_tick(&C, 1, 1);
    uint64_t index;
    ck_assert_int_eq(raft_read_lease(C.nodes[1], &index), 0);
    h_isolate(&C, 1);
    uint64_t term = raft_get_term(C.nodes[1]);
    bool served_after_isolation = false, new_leader = false;
    for (int t = 0; t < 6 * cfg.election_tick; t++) {
        h_tick_all(&C, 1);
        uint64_t l = h_leader(&C);
        new_leader = new_leader || (l != 0 && l != 1);
        if (raft_read_lease(C.nodes[1], &index) == 0) {
            served_after_isolation = true;
            ck_assert(!new_leader);
        }
        if (new_leader) ck_assert_int_eq(h_propose(&C, l, "w"), 0);
    }
    ck_assert(served_after_isolation); /* the lease did cover the first ticks */
    ck_assert(new_leader);
    ck_assert_uint_eq(raft_get_role(C.nodes[1]), RAFT_LEADER);
    ck_assert_uint_eq(raft_get_term(C.nodes[1]), term);
    ck_assert_int_eq(raft_read_lease(C.nodes[1], &index), -EAGAIN);
    /* ReadIndex still refuses to confirm it */
    ck_assert_int_eq(raft_read_index(C.nodes[1], 3), 0);
    h_tick(&C, 1, 3);
    ck_assert_int_eq(C.nrs[1], 0);
    h_free(&C);
}
END_TEST

START_TEST(test_lease_voter_refuses_votes_after_term_bump)
{
    /* A voter that just heard from the leader must not help elect another one within an
     * election timeout, even once something moved it to a higher term. */
    raft_config cfg = lease_config();
    h_init(&C, 3, 3, &cfg);
    h_stabilize(&C);
    h_tick_all(&C, cfg.election_tick);
    elect(1);
    h_tick(&C, 1, 1);
    uint64_t term = raft_get_term(C.nodes[2]);
    /* a stale answer from the future bumps node 2's term */
    raft_msg bump = {.type = RAFT_MSG_APP_RESP, .from = 3, .to = 2, .term = term + 1};
    ck_assert_int_eq(raft_step(C.nodes[2], &bump), 0);
    ck_assert_uint_eq(raft_get_term(C.nodes[2]), term + 1);
    raft_msg vote = {.type = RAFT_MSG_VOTE,
                     .from = 3,
                     .to = 2,
                     .term = term + 1,
                     .index = raft_get_last_index(C.nodes[3]),
                     .log_term = term};
    ck_assert_int_eq(raft_step(C.nodes[2], &vote), 0);
    raft_ready rd;
    ck_assert_int_eq(raft_get_ready(C.nodes[2], &rd), 0);
    ck_assert_uint_eq(rd.hs.vote, 0);
    for (size_t i = 0; i < rd.n_msgs; i++)
        if (rd.msgs[i].type == RAFT_MSG_VOTE_RESP) ck_assert(rd.msgs[i].reject);
    raft_advance(C.nodes[2], &rd);
    raft_ready_free(&rd);
    h_free(&C);
}
END_TEST

START_TEST(test_transfer_ends_the_lease)
{
    raft_config cfg = lease_config();
    h_init(&C, 3, 3, &cfg);
    h_stabilize(&C);
    h_tick_all(&C, cfg.election_tick);
    elect(1);
    h_tick(&C, 1, 1);
    uint64_t index;
    ck_assert_int_eq(raft_read_lease(C.nodes[1], &index), 0);
    h_isolate(&C, 2);
    ck_assert_int_eq(raft_transfer_leader(C.nodes[1], 2), 0);
    ck_assert_int_eq(raft_read_lease(C.nodes[1], &index), -EAGAIN);
    /* the transfer aborts, but the target may still campaign: no lease for the term */
    h_tick(&C, 1, cfg.election_tick);
    ck_assert_uint_eq(raft_get_role(C.nodes[1]), RAFT_LEADER);
    h_heal(&C);
    h_tick(&C, 1, 1);
    ck_assert_int_eq(raft_read_lease(C.nodes[1], &index), -EAGAIN);
    h_free(&C);
}
END_TEST

/* ---------------------------------------------------------------- founding membership */

/* Replaces node id by a core built from `init` (what its disk holds), nothing applied yet. */
static raft *h_replace(uint64_t id, const raft_init *init, const raft_config *cfg)
{
    raft *r;
    ck_assert_int_eq(raft_create(cfg, init, &r), 0);
    raft_destroy(C.nodes[id]);
    C.nodes[id] = r;
    C.applied[id] = 0;
    C.applied_normal[id] = 0;
    return r;
}

static void assert_founders(const raft *r, int n)
{
    raft_status st;
    raft_get_status(r, &st);
    ck_assert_int_eq(st.conf.n, n);
    for (int i = 1; i <= n; i++) {
        int k = raft_conf_find(&st.conf, (uint64_t)i);
        ck_assert_int_ge(k, 0);
        ck_assert(!st.conf.members[k].learner);
        char addr[32];
        snprintf(addr, sizeof(addr), "127.0.0.1:%d", 9000 + i);
        ck_assert_str_eq(st.conf.members[k].addr, addr);
    }
}

START_TEST(test_founding_membership_is_one_entry)
{
    /* The founders are entry 1 alone: no prefix of a new log names only some of them. */
    h_init(&C, 3, 3, NULL);
    for (uint64_t id = 1; id <= 3; id++) {
        ck_assert_uint_eq(raft_get_last_index(C.nodes[id]), 1);
        ck_assert_uint_eq(raft_get_committed(C.nodes[id]), 1);
        assert_founders(C.nodes[id], 3);
    }
    h_stabilize(&C);
    /* A founder whose disk kept only entry 1 (the first write cut short) knows all three. */
    raft_entry e1 = *raft_entry_at(C.nodes[2], 1);
    raft_config cfg = h_config(1);
    raft_init init = {.hs = {.term = 1, .commit = 1}, .entries = &e1, .n_entries = 1};
    raft *r = h_replace(1, &init, &cfg);
    assert_founders(r, 3);
    /* ... so alone it cannot win, however long it campaigns */
    h_isolate(&C, 1);
    h_tick(&C, 1, 60);
    ck_assert_uint_ne(raft_get_role(r), RAFT_LEADER);
    ck_assert_uint_eq(raft_get_committed(r), 1);
    h_heal(&C);
    h_free(&C);
}
END_TEST

START_TEST(test_founder_restarted_empty_learns_all_founders)
{
    /* The simulator's case: founder 1 crashed before its first write and restarted with
     * nothing (no bootstrap the second time). It is no member until entry 1 reaches it (one
     * entry per message here), then it knows the whole group and cannot win alone. */
    raft_config tmpl = h_config(1);
    tmpl.max_entries_per_msg = 1;
    h_init(&C, 3, 3, &tmpl);
    raft_init empty = {0};
    raft_config cfg = tmpl;
    cfg.id = 1;
    raft *r = h_replace(1, &empty, &cfg);
    raft_campaign(r); /* not a member of anything yet: no-op */
    h_stabilize(&C);
    ck_assert_uint_eq(raft_get_term(r), 0);
    elect(2);
    ck_assert_int_eq(h_propose(&C, 2, "x"), 0);
    h_stabilize(&C);
    h_tick(&C, 2, 1);
    ck_assert_uint_eq(C.applied_normal[1], 1);
    assert_founders(r, 3);
    h_isolate(&C, 1);
    h_tick(&C, 1, 60);
    ck_assert_uint_ne(raft_get_role(r), RAFT_LEADER);
    h_free(&C);
}
END_TEST

START_TEST(test_old_format_founding_entries_still_apply)
{
    /* Logs written before one ADD_VOTER entry per founder (1..n, term 1) keep working. */
    h_init(&C, 3, 3, NULL);
    uint8_t data[3][RAFT_CC_MAX_BYTES];
    raft_entry ents[3];
    for (int i = 0; i < 3; i++) {
        raft_conf_change cc = {.type = RAFT_CC_ADD_VOTER, .id = (uint64_t)i + 1};
        snprintf(cc.addr, RAFT_ADDR_MAX, "127.0.0.1:%d", 9001 + i);
        int n = raft_conf_change_encode(&cc, data[i], sizeof(data[i]));
        ck_assert_int_gt(n, 0);
        ents[i] = (raft_entry){.term = 1,
                               .index = (uint64_t)i + 1,
                               .type = RAFT_ENTRY_CONF_CHANGE,
                               .data = data[i],
                               .len = (size_t)n};
    }
    raft_init init = {.hs = {.term = 1, .commit = 3}, .entries = ents, .n_entries = 3};
    for (uint64_t id = 1; id <= 3; id++) {
        raft_config cfg = h_config(id);
        cfg.seed = 1000 + id;
        assert_founders(h_replace(id, &init, &cfg), 3);
    }
    h_stabilize(&C);
    elect(1);
    ck_assert_int_eq(h_propose(&C, 1, "y"), 0);
    h_stabilize(&C);
    h_tick(&C, 1, 1);
    for (uint64_t id = 1; id <= 3; id++) {
        ck_assert_uint_eq(C.applied_normal[id], 1);
        ck_assert_uint_eq(raft_get_committed(C.nodes[id]), 3 + 1 + 1);
    }
    h_free(&C);
}
END_TEST

/* ---------------------------------------------------------------- bad input, restart */

START_TEST(test_bad_messages_change_nothing)
{
    h_init(&C, 3, 3, NULL);
    h_stabilize(&C);
    elect(1);
    raft *f = C.nodes[2];
    uint64_t last = raft_get_last_index(f), term = raft_get_term(f);
    raft_entry e[2] = {{.term = term, .index = last + 1}, {.term = term, .index = last + 3}};
    raft_msg m = {.type = RAFT_MSG_APP,
                  .from = 1,
                  .to = 2,
                  .term = term,
                  .index = last,
                  .log_term = raft_term_at(f, last),
                  .entries = e,
                  .n_entries = 2};
    ck_assert_int_eq(raft_step(f, &m), -EINVAL); /* gap in entries */
    e[1].index = last + 2;
    e[1].term = term + 5;
    ck_assert_int_eq(raft_step(f, &m), -EINVAL); /* entry term above message term */
    m.n_entries = 0;
    m.to = 3;
    ck_assert_int_eq(raft_step(f, &m), -EINVAL); /* not for us */
    m.to = 2;
    m.type = 99;
    ck_assert_int_eq(raft_step(f, &m), -EINVAL);
    m.type = RAFT_MSG_SNAP;
    m.snap_index = 0;
    ck_assert_int_eq(raft_step(f, &m), -EINVAL);
    m.type = RAFT_MSG_APP;
    m.from = 2;
    ck_assert_int_eq(raft_step(f, &m), -EINVAL); /* from ourselves */
    m.from = 1;
    m.n_entries = 1;
    m.entries = NULL;
    ck_assert_int_eq(raft_step(f, &m), -EINVAL);
    ck_assert_uint_eq(raft_get_last_index(f), last);
    ck_assert_uint_eq(raft_get_term(f), term);
    /* a snapshot piece with a malformed membership is ignored */
    uint8_t junk[3] = {1, 2, 3};
    raft_msg s = {.type = RAFT_MSG_SNAP,
                  .from = 1,
                  .to = 2,
                  .term = term,
                  .snap_index = 100,
                  .snap_term = term,
                  .snap_conf = junk,
                  .snap_conf_len = 3,
                  .snap_done = true};
    ck_assert_int_eq(raft_step(f, &s), 0);
    h_stabilize(&C);
    ck_assert_uint_eq(raft_get_last_index(f), last);
    ck_assert_uint_eq(C.snap_index[2], 0);
    /* the leader ignores an acknowledgement of entries it does not have */
    raft_status st;
    raft_get_status(C.nodes[1], &st);
    uint64_t match2 = 0;
    for (int i = 0; i < st.n_progress; i++)
        if (st.progress[i].id == 2) match2 = st.progress[i].match;
    raft_msg ack = {.type = RAFT_MSG_APP_RESP, .from = 2, .to = 1, .term = term, .index = 1000000};
    ck_assert_int_eq(raft_step(C.nodes[1], &ack), 0);
    raft_get_status(C.nodes[1], &st);
    for (int i = 0; i < st.n_progress; i++)
        if (st.progress[i].id == 2) ck_assert_uint_eq(st.progress[i].match, match2);
    h_tick(&C, 1, 1);
    ck_assert_uint_eq(st.hs.commit, raft_get_committed(f));
    h_free(&C);
}
END_TEST

START_TEST(test_bad_create_and_api_args)
{
    raft *r = NULL;
    raft_init init = {0};
    raft_config cfg = h_config(0);
    ck_assert_int_eq(raft_create(&cfg, &init, &r), -EINVAL); /* id 0 */
    cfg = h_config(1);
    cfg.heartbeat_tick = cfg.election_tick;
    ck_assert_int_eq(raft_create(&cfg, &init, &r), -EINVAL);
    cfg = h_config(1);
    raft_entry gap[2] = {{.term = 1, .index = 1}, {.term = 1, .index = 3}};
    init.entries = gap;
    init.n_entries = 2;
    ck_assert_int_eq(raft_create(&cfg, &init, &r), -EINVAL);
    init.n_entries = 1;
    init.hs.commit = 5; /* beyond the log */
    init.hs.term = 1;
    ck_assert_int_eq(raft_create(&cfg, &init, &r), -EINVAL);
    init.hs.commit = 1;
    ck_assert_int_eq(raft_create(&cfg, &init, &r), 0);
    raft_destroy(r);
    /* founders the founding entry cannot hold: duplicate ids, no voter */
    raft_conf boot = {.n = 2, .members = {{.id = 1}, {.id = 1}}};
    raft_init fresh = {.bootstrap = &boot};
    ck_assert_int_eq(raft_create(&cfg, &fresh, &r), -EINVAL);
    boot = (raft_conf){.n = 1, .members = {{.id = 1, .learner = true}}};
    ck_assert_int_eq(raft_create(&cfg, &fresh, &r), -EINVAL);
    ck_assert_int_eq(raft_create(&cfg, &init, &r), 0);
    ck_assert_int_eq(raft_compact(r, 5, (const uint8_t *)"x", 1), -EINVAL);
    ck_assert_int_eq(raft_propose(r, NULL, 3, NULL, NULL), -EINVAL);
    ck_assert_int_eq(raft_read_index(r, 1), -CFS_ENOTLEADER);
    raft_destroy(r);
}
END_TEST

START_TEST(test_restart_recovers_state)
{
    h_init(&C, 3, 3, NULL);
    h_stabilize(&C);
    elect(1);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(h_propose(&C, 1, "r"), 0);
    h_stabilize(&C);
    h_tick_all(&C, 1);
    /* rebuild node 2 from what a disk would hold: hard state and its entries */
    raft *f = C.nodes[2];
    uint64_t last = raft_get_last_index(f);
    raft_entry ents[64];
    for (uint64_t i = 1; i <= last; i++)
        ents[i - 1] = *raft_entry_at(f, i);
    raft_hard_state hs = C.hs[2];
    raft *r2;
    raft_config cfg = h_config(2);
    raft_init init = {.hs = hs, .entries = ents, .n_entries = last};
    ck_assert_int_eq(raft_create(&cfg, &init, &r2), 0);
    ck_assert_uint_eq(raft_get_term(r2), hs.term);
    ck_assert_uint_eq(raft_get_committed(r2), hs.commit);
    raft_status st;
    raft_get_status(r2, &st);
    ck_assert_int_eq(st.conf.n, 3);
    ck_assert_uint_eq(st.hs.vote, 1);
    /* committed entries are handed out again for the state machine to rebuild */
    raft_ready rd;
    ck_assert_int_eq(raft_get_ready(r2, &rd), 0);
    ck_assert_uint_eq(rd.n_committed, hs.commit);
    ck_assert_uint_eq(rd.n_entries, 0);
    ck_assert_int_eq(raft_get_ready(r2, &rd), -EBUSY);
    raft_advance(r2, &rd);
    raft_ready_free(&rd);
    raft_destroy(C.nodes[2]);
    C.nodes[2] = r2;
    C.applied[2] = hs.commit;
    ck_assert_int_eq(h_propose(&C, 1, "s"), 0);
    h_stabilize(&C);
    h_tick(&C, 1, 1); /* the commit reaches followers with the leader's next tick */
    ck_assert_uint_eq(C.applied[2], C.applied[1]);
    /* a hard state older than the log's last term (crash between writes) is adopted */
    raft_entry e = {.term = 7, .index = 1};
    raft_init init2 = {.hs = {.term = 3, .vote = 2}, .entries = &e, .n_entries = 1};
    ck_assert_int_eq(raft_create(&cfg, &init2, &r2), 0);
    ck_assert_uint_eq(raft_get_term(r2), 7);
    raft_get_status(r2, &st);
    ck_assert_uint_eq(st.hs.vote, 0);
    raft_destroy(r2);
    h_free(&C);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("raft_core");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_single_node_commits);
    tcase_add_test(tc, test_three_node_election_and_replication);
    tcase_add_test(tc, test_commit_rides_on_next_append_or_tick);
    tcase_add_test(tc, test_election_timeout_elects_someone);
    tcase_add_test(tc, test_vote_refused_to_stale_log);
    tcase_add_test(tc, test_prevote_keeps_term_of_isolated_node);
    tcase_add_test(tc, test_without_prevote_isolated_node_disrupts);
    tcase_add_test(tc, test_check_quorum_leader_steps_down);
    tcase_add_test(tc, test_check_quorum_followers_ignore_votes_in_lease);
    tcase_add_test(tc, test_fast_backup_skips_terms);
    tcase_add_test(tc, test_leader_does_not_commit_old_term_entry_alone);
    tcase_add_test(tc, test_follower_commit_bounded_by_last_new_entry);
    tcase_add_test(tc, test_leader_counts_itself_only_after_persisting);
    tcase_add_test(tc, test_pipelining_and_batching);
    tcase_add_test(tc, test_follower_catches_up_after_partition);
    tcase_add_test(tc, test_snapshot_sent_in_pieces);
    tcase_add_test(tc, test_snapshot_to_new_member_survives_lost_pieces);
    tcase_add_test(tc, test_add_learner_then_promote_then_remove);
    tcase_add_test(tc, test_new_leader_waits_before_conf_change);
    tcase_add_test(tc, test_transfer_leadership);
    tcase_add_test(tc, test_transfer_bypasses_leader_lease);
    tcase_add_test(tc, test_transfer_aborts_after_election_timeout);
    tcase_add_test(tc, test_read_index_needs_quorum);
    tcase_add_test(tc, test_read_index_waits_for_commit_in_term);
    tcase_add_test(tc, test_read_index_fails_when_leadership_lost);
    tcase_add_test(tc, test_leader_appends_leave_before_persisting);
    tcase_add_test(tc, test_lease_read_without_a_round);
    tcase_add_test(tc, test_deposed_leader_serves_no_lease_read);
    tcase_add_test(tc, test_lease_voter_refuses_votes_after_term_bump);
    tcase_add_test(tc, test_transfer_ends_the_lease);
    tcase_add_test(tc, test_founding_membership_is_one_entry);
    tcase_add_test(tc, test_founder_restarted_empty_learns_all_founders);
    tcase_add_test(tc, test_old_format_founding_entries_still_apply);
    tcase_add_test(tc, test_bad_messages_change_nothing);
    tcase_add_test(tc, test_bad_create_and_api_args);
    tcase_add_test(tc, test_restart_recovers_state);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
