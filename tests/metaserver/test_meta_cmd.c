/* Unit tests for the shell's command building and soft-state decisions. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "metaserver/meta_cmd.h"

START_TEST(client_command_round_trip)
{
    Chunkfs__MetaRequest req = CHUNKFS__META_REQUEST__INIT;
    Chunkfs__AllocChunkReq ac = CHUNKFS__ALLOC_CHUNK_REQ__INIT;
    ac.ino = 17;
    ac.lease_id = 5;
    ac.index = 2;
    req.client_id = 99;
    req.request_id = 1234;
    req.op_case = CHUNKFS__META_REQUEST__OP_ALLOC_CHUNK;
    req.alloc_chunk = &ac;
    reg_location locs[2] = {{.server_id = 7, .address = "10.0.0.7:9000", .domain = "r1"},
                            {.server_id = 8, .address = "10.0.0.8:9000", .domain = "r2"}};
    uint8_t *buf;
    size_t len;
    ck_assert_int_eq(
        meta_cmd_pack_client(&req, 1700000000123456789LL, 30000, 100, locs, 2, &buf, &len), 0);
    Chunkfs__MetaCommand *cmd = chunkfs__meta_command__unpack(NULL, len, buf);
    ck_assert_ptr_nonnull(cmd);
    ck_assert_int_eq(cmd->now_ns, 1700000000123456789LL);
    ck_assert_uint_eq(cmd->lease_ms, 30000);
    ck_assert_uint_eq(cmd->max_open, 100);
    ck_assert_int_eq(cmd->cmd_case, CHUNKFS__META_COMMAND__CMD_CLIENT);
    ck_assert_uint_eq(cmd->client->client_id, 99);
    ck_assert_uint_eq(cmd->client->request_id, 1234);
    ck_assert_int_eq(cmd->client->op_case, CHUNKFS__META_REQUEST__OP_ALLOC_CHUNK);
    ck_assert_uint_eq(cmd->client->alloc_chunk->ino, 17);
    ck_assert_uint_eq(cmd->client->alloc_chunk->index, 2);
    ck_assert_uint_eq(cmd->n_replicas, 2);
    ck_assert_uint_eq(cmd->replicas[1]->server_id, 8);
    ck_assert_str_eq(cmd->replicas[1]->address, "10.0.0.8:9000");
    ck_assert_str_eq(cmd->replicas[0]->domain, "r1");
    chunkfs__meta_command__free_unpacked(cmd, NULL);
    free(buf);

    Chunkfs__MetaRequest empty = CHUNKFS__META_REQUEST__INIT;
    ck_assert_int_eq(meta_cmd_pack_client(&empty, 1, 0, 0, NULL, 0, &buf, &len), -EINVAL);
    ck_assert_int_eq(meta_cmd_pack_client(NULL, 1, 0, 0, NULL, 0, &buf, &len), -EINVAL);
    ck_assert_int_eq(meta_cmd_pack_client(&req, 1, 0, 0, NULL, 1, &buf, &len), -EINVAL);
}
END_TEST

START_TEST(system_commands_round_trip)
{
    uint8_t *buf;
    size_t len;
    ck_assert_int_eq(meta_cmd_pack_format("c0ffee", 1 << 20, 2, 5, &buf, &len), 0);
    Chunkfs__MetaCommand *cmd = chunkfs__meta_command__unpack(NULL, len, buf);
    ck_assert_int_eq(cmd->cmd_case, CHUNKFS__META_COMMAND__CMD_FORMAT);
    ck_assert_str_eq(cmd->format->cluster_id, "c0ffee");
    ck_assert_uint_eq(cmd->format->chunk_size, 1 << 20);
    ck_assert_uint_eq(cmd->format->root_goal, 2);
    chunkfs__meta_command__free_unpacked(cmd, NULL);
    free(buf);
    ck_assert_int_eq(meta_cmd_pack_format("", 0, 0, 5, &buf, &len), -EINVAL);
    char longid[80];
    memset(longid, 'a', sizeof(longid) - 1);
    longid[79] = 0;
    ck_assert_int_eq(meta_cmd_pack_format(longid, 0, 0, 5, &buf, &len), -EINVAL);

    ck_assert_int_eq(meta_cmd_pack_drop_deleted(12, 6, &buf, &len), 0);
    cmd = chunkfs__meta_command__unpack(NULL, len, buf);
    ck_assert_int_eq(cmd->cmd_case, CHUNKFS__META_COMMAND__CMD_DROP_DELETED);
    ck_assert_uint_eq(cmd->drop_deleted->count, 12);
    chunkfs__meta_command__free_unpacked(cmd, NULL);
    free(buf);
    ck_assert_int_eq(meta_cmd_pack_drop_deleted(0, 6, &buf, &len), -EINVAL);

    meta_settle s[2] = {{.index = 0, .chunk_id = 3, .version = 4, .length = 100},
                        {.index = 1, .chunk_id = 9, .version = 2, .length = 7}};
    ck_assert_int_eq(meta_cmd_pack_recover_lease(44, 55, s, 2, 7, &buf, &len), 0);
    cmd = chunkfs__meta_command__unpack(NULL, len, buf);
    ck_assert_int_eq(cmd->cmd_case, CHUNKFS__META_COMMAND__CMD_RECOVER_LEASE);
    ck_assert_uint_eq(cmd->recover_lease->ino, 44);
    ck_assert_uint_eq(cmd->recover_lease->lease_id, 55);
    ck_assert_uint_eq(cmd->recover_lease->n_chunks, 2);
    ck_assert_uint_eq(cmd->recover_lease->chunks[1]->chunk_id, 9);
    ck_assert_uint_eq(cmd->recover_lease->chunks[1]->length, 7);
    ck_assert_int_eq(cmd->now_ns, 7);
    chunkfs__meta_command__free_unpacked(cmd, NULL);
    free(buf);
    ck_assert_int_eq(meta_cmd_pack_recover_lease(0, 55, NULL, 0, 7, &buf, &len), -EINVAL);
    ck_assert_int_eq(meta_cmd_pack_recover_lease(44, 0, NULL, 0, 7, &buf, &len), -EINVAL);
}
END_TEST

START_TEST(replica_verdicts)
{
    ck_assert_int_eq(meta_replica_judge(false, 0, 3, false), META_REPLICA_ORPHAN);
    ck_assert_int_eq(meta_replica_judge(false, 0, 3, true), META_REPLICA_ORPHAN);
    ck_assert_int_eq(meta_replica_judge(true, 3, 3, false), META_REPLICA_KEEP);
    ck_assert_int_eq(meta_replica_judge(true, 3, 2, false), META_REPLICA_STALE);
    ck_assert_int_eq(meta_replica_judge(true, 3, 2, true), META_REPLICA_KEEP);
    ck_assert_int_eq(meta_replica_judge(true, 3, 4, false), META_REPLICA_FUTURE);
}
END_TEST

START_TEST(settle_highest_version_min_length)
{
    reg_replica r[4] = {{1, 5, 1000}, {2, 5, 800}, {3, 4, 2000}, {4, 6, 9999}};
    uint64_t v, l;
    /* version 6 is above the fsm's version: ignored; at the fsm's version the committed
     * length stands, even where a replica reported less (reports lag the writes) */
    ck_assert(meta_settle_chunk(r, 4, 5, 1500, &v, &l));
    ck_assert_uint_eq(v, 5);
    ck_assert_uint_eq(l, 1500);
    ck_assert(meta_settle_chunk(r, 4, 6, 7000, &v, &l));
    ck_assert_uint_eq(v, 6);
    ck_assert_uint_eq(l, 7000);
    /* rolled back (the bump to 5 reached no live replica): what every version-4 replica
     * holds, never more than was committed */
    ck_assert(meta_settle_chunk(r + 2, 1, 5, 3000, &v, &l));
    ck_assert_uint_eq(v, 4);
    ck_assert_uint_eq(l, 2000);
    ck_assert(meta_settle_chunk(r + 2, 1, 5, 1500, &v, &l));
    ck_assert_uint_eq(v, 4);
    ck_assert_uint_eq(l, 1500);
    ck_assert(meta_settle_chunk(r, 3, 6, 4000, &v, &l));
    ck_assert_uint_eq(v, 5);
    ck_assert_uint_eq(l, 800);
    ck_assert(!meta_settle_chunk(r, 0, 5, 100, &v, &l));
    ck_assert(!meta_settle_chunk(r + 3, 1, 5, 100, &v, &l));
}
END_TEST

START_TEST(chunk_health)
{
    ck_assert_int_eq(meta_chunk_judge(0, 3), META_CHUNK_MISSING);
    ck_assert_int_eq(meta_chunk_judge(2, 3), META_CHUNK_UNDER);
    ck_assert_int_eq(meta_chunk_judge(3, 3), META_CHUNK_HEALTHY);
    ck_assert_int_eq(meta_chunk_judge(4, 3), META_CHUNK_OVER);
}
END_TEST

START_TEST(server_ids_unique_per_term)
{
    ck_assert_uint_eq(meta_server_id_make(0, 1), 0);
    ck_assert_uint_eq(meta_server_id_make(1, 0), 0);
    ck_assert_uint_eq(meta_server_id_make(1, 1ULL << 24), 0);
    ck_assert_uint_eq(meta_server_id_make(1ULL << 40, 1), 0);
    uint64_t a = meta_server_id_make(1, (1ULL << 24) - 1), b = meta_server_id_make(2, 1);
    ck_assert_uint_ne(a, 0);
    ck_assert_uint_lt(a, b);
    ck_assert_uint_ne(meta_server_id_make(3, 7), meta_server_id_make(7, 3));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("meta_cmd");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, client_command_round_trip);
    tcase_add_test(tc, system_commands_round_trip);
    tcase_add_test(tc, replica_verdicts);
    tcase_add_test(tc, settle_highest_version_min_length);
    tcase_add_test(tc, chunk_health);
    tcase_add_test(tc, server_ids_unique_per_term);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
