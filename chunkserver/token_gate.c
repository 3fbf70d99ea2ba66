#include "chunkserver/token_gate.h"

#include <inttypes.h>

#include "common/errors.h"
#include "common/log.h"
#include "common/time_util.h"

int token_gate_check(const chunk_keyring *kr, const char *what, const char *peer,
                     const uint8_t *tok, size_t len, unsigned ops, uint64_t chunk_id,
                     uint64_t version, const char **why)
{
    const char *reason = "valid";
    int rc = 0;
    if (kr)
        rc = chunk_token_verify(kr, tok, len, ops, chunk_id, version, cfs_real_ns() / 1000000,
                                &reason);
    if (why) *why = rc < 0 ? reason : NULL;
    if (rc == -CFS_ETOKEN) /* routine: the client fetches a fresh token and retries */
        LOG_INFO("%s %016" PRIx64 " v%" PRIu64 " from %s: %s", what, chunk_id, version,
                 peer ? peer : "?", reason);
    else if (rc < 0)
        LOG_WARN("%s %016" PRIx64 " v%" PRIu64 " from %s refused: %s (%s)", what, chunk_id, version,
                 peer ? peer : "?", reason, cfs_strerror(rc));
    return rc;
}
