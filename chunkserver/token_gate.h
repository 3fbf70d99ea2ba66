#ifndef CFS_TOKEN_GATE_H
#define CFS_TOKEN_GATE_H
/* The chunkserver's token check: chunk_token_verify against the wall clock, with one log line
 * per refused call (what was asked, by whom, why). Shared by the ChunkService handlers and the
 * heartbeat's metaserver commands. */
#include <stddef.h>
#include <stdint.h>

#include "common/chunk_token.h"

/* 0 when `kr` is NULL (tokens off) or the token allows one of `ops` (CHUNK_TOKEN_OP_BIT mask)
 * on (chunk_id, version) now (*why = NULL); else -EACCES or -CFS_ETOKEN as chunk_token_verify,
 * with *why (may be NULL) set to the reason. `what` names the request ("read", "write", ...) and
 * `peer` its sender for the log line. */
int token_gate_check(const chunk_keyring *kr, const char *what, const char *peer,
                     const uint8_t *tok, size_t len, unsigned ops, uint64_t chunk_id,
                     uint64_t version, const char **why);

#endif
