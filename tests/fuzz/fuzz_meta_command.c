/* Fuzz target: Raft log entries (packed MetaCommand, proto/meta_log.proto) applied to the
 * metaserver state machine, as every node applies committed entries. Input: records (see
 * fuzz_util.h), each one log entry. No entry may crash apply or make it fail; after the
 * sequence the state must pass fuzz_fsm_check. */
#include "fuzz_fsm.h"
#include "fuzz_util.h"

#define MAX_ENTRIES 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet_logs();
    meta_fsm *fsm = fuzz_fsm_formatted();
    fuzz_in in = {data, size};
    const uint8_t *p;
    size_t n;
    for (int i = 0; i < MAX_ENTRIES && fuzz_take_record(&in, &p, &n); i++)
        fuzz_fsm_apply(fsm, p, n);
    fuzz_fsm_check(fsm);
    meta_fsm_destroy(fsm);
    return 0;
}
