/* The leader's side of chunk access tokens: signing with the wall clock. Tokens are soft
 * output, never part of the Raft log (they carry an expiry read from the clock), so they are
 * added to responses after the fsm produced them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/time_util.h"
#include "metaserver/meta_server_internal.h"

int ms_sign_token(const meta_server *ms, enum chunk_token_op op, uint64_t chunk_id,
                  uint64_t version, uint8_t *out, size_t *len)
{
    *len = 0;
    if (!ms->tokens_on) return 0;
    int rc = chunk_token_sign(&ms->tokens, op, chunk_id, version, cfs_real_ns() / 1000000,
                              ms->token_lifetime_ms, out);
    if (rc == 0) *len = CHUNK_TOKEN_SIZE;
    return rc;
}

int ms_sign_chunk(const meta_server *ms, Chunkfs__ChunkInfo *ci, enum chunk_token_op op)
{
    if (!ms->tokens_on || !ci) return 0;
    uint8_t *tok = malloc(CHUNK_TOKEN_SIZE);
    if (!tok) return -ENOMEM;
    size_t len;
    int rc = ms_sign_token(ms, op, ci->chunk_id, ci->version, tok, &len);
    if (rc < 0) {
        free(tok);
        return rc;
    }
    free(ci->token.data); /* the response is freed with free_unpacked: owned bytes */
    ci->token.data = tok;
    ci->token.len = len;
    return 0;
}

int ms_sign_chunks(const meta_server *ms, Chunkfs__ChunksResp *cr, enum chunk_token_op op)
{
    int rc = 0;
    for (size_t i = 0; cr && rc == 0 && i < cr->n_chunks; i++)
        rc = ms_sign_chunk(ms, cr->chunks[i], op);
    return rc;
}
