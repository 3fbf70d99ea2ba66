/* Fuzz target: MetaService.Call requests as a client sends them. Each record (see
 * fuzz_util.h) is one packed MetaRequest, taken the way meta_service_call takes it: decode,
 * refuse strings holding NUL bytes (cfs_pb_check_strings);
 * a mutation is packed into a MetaCommand (meta_cmd_pack_client, with placement targets for
 * alloc_chunk) and applied to the state machine, a read is served by meta_fsm_read, a lock
 * request goes to the lock table. Time advances one second per request so leases expire.
 * Nothing may crash, leak or fail; afterwards the state must pass fuzz_fsm_check. */
#include <stdlib.h>
#include <string.h>

#include "common/pb_strings.h"
#include "fuzz_fsm.h"
#include "fuzz_util.h"
#include "metaserver/lock_table.h"
#include "metaserver/meta_cmd.h"

#define MAX_REQUESTS 64

static const reg_location k_targets[3] = {
    {1, "127.0.0.1:7001", "a"}, {2, "127.0.0.1:7002", "b"}, {3, "127.0.0.1:7003", "c"}};

static void serve_lock(lock_table *locks, const Chunkfs__MetaRequest *req)
{
    const Chunkfs__LockReq *l = req->lock;
    /* The same checks as meta_service.c's serve_lock before it reaches the table. */
    if (l->type > LOCK_T_WRITE || (l->start > l->end && !l->flock)) return;
    lock_desc d = {.client_id = l->client_id ? l->client_id : req->client_id,
                   .owner = l->owner,
                   .type = l->type,
                   .start = l->start,
                   .end = l->end,
                   .pid = l->pid,
                   .flock = l->flock};
    lock_desc conflict;
    memset(&conflict, 0, sizeof conflict);
    if (l->test)
        lock_table_test(locks, l->ino, &d, &conflict);
    else
        lock_table_set(locks, l->ino, &d, &conflict);
}

static void serve(meta_fsm *fsm, lock_table *locks, const Chunkfs__MetaRequest *req, int64_t now)
{
    if (req->op_case == CHUNKFS__META_REQUEST__OP_LOCK) {
        serve_lock(locks, req);
        return;
    }
    if (meta_fsm_is_mutation(req)) {
        size_t n_targets = req->op_case == CHUNKFS__META_REQUEST__OP_ALLOC_CHUNK ? 3 : 0;
        uint8_t *cmd;
        size_t len;
        if (meta_cmd_pack_client(req, now, 30000, 8, k_targets, n_targets, &cmd, &len) != 0) return;
        fuzz_fsm_apply(fsm, cmd, len);
        free(cmd);
        return;
    }
    Chunkfs__MetaResponse *resp = NULL;
    if (meta_fsm_read(fsm, req, &resp) != 0 || !resp) fuzz_fail("meta_fsm_read failed");
    chunkfs__meta_response__free_unpacked(resp, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet_logs();
    meta_fsm *fsm = fuzz_fsm_formatted();
    lock_table *locks = lock_table_create();
    if (!locks) fuzz_fail("lock_table_create");
    fuzz_in in = {data, size};
    const uint8_t *p;
    size_t n;
    int64_t now = FUZZ_FSM_NOW_NS;
    for (int i = 0; i < MAX_REQUESTS && fuzz_take_record(&in, &p, &n); i++) {
        Chunkfs__MetaRequest *req = chunkfs__meta_request__unpack(NULL, n, p);
        if (!req) continue; /* the service answers "malformed MetaRequest" */
        if (cfs_pb_check_strings(&chunkfs__meta_request__descriptor, p, n) != 0) {
            chunkfs__meta_request__free_unpacked(req, NULL); /* refused: a NUL in a string */
            continue;
        }
        if (req->op_case != CHUNKFS__META_REQUEST__OP__NOT_SET) serve(fsm, locks, req, now);
        chunkfs__meta_request__free_unpacked(req, NULL);
        now += 1000000000ll;
    }
    fuzz_fsm_check(fsm);
    lock_table_destroy(locks);
    meta_fsm_destroy(fsm);
    return 0;
}
