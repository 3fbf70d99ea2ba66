/* Fuzz target: the chunk access token parser (common/chunk_token.h), what every chunkserver
 * runs on the token bytes of a request. Input: an allowed-operations byte, chunk id, version
 * and time (8 bytes each, little-endian; missing bytes read as 0), then the token bytes.
 * Verify must answer 0, -EACCES or -CFS_ETOKEN without reading past the token; a token it
 * accepts must be exactly the one the keyring signs for the decoded fields (the fuzzer cannot
 * forge a MAC); and a token signed from the input's fields must verify for them and be refused
 * for another chunk. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/chunk_token.h"
#include "common/errors.h"
#include "fuzz_util.h"

static uint64_t take_u64(fuzz_in *in)
{
    uint64_t v = 0;
    uint8_t b;
    for (int i = 0; i < 8 && fuzz_take_u8(in, &b); i++)
        v |= (uint64_t)b << (8 * i);
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t secret[] = "fuzzing cluster secret";
    chunk_keyring kr;
    if (chunk_keyring_init(&kr, secret, sizeof secret - 1, CHUNK_TOKEN_EPOCH_MS) != 0)
        fuzz_fail("chunk_keyring_init");
    fuzz_in in = {data, size};
    uint8_t ops = 0;
    fuzz_take_u8(&in, &ops);
    uint64_t chunk_id = take_u64(&in), version = take_u64(&in);
    int64_t now = (int64_t)(take_u64(&in) & 0xffffffffffffull); /* up to ~8900 years in ms */
    /* The token is copied to a buffer of its exact size so ASan sees any read past it. */
    uint8_t *tok = malloc(in.n ? in.n : 1);
    if (!tok) fuzz_fail("out of memory");
    if (in.n) memcpy(tok, in.p, in.n);
    const char *why = NULL;
    int rc = chunk_token_verify(&kr, tok, in.n, ops, chunk_id, version, now, &why);
    if (rc != 0 && rc != -EACCES && rc != -CFS_ETOKEN)
        fuzz_fail("chunk_token_verify returned %d", rc);
    chunk_token t;
    int drc = chunk_token_decode(tok, in.n, &t);
    if (drc != 0 && drc != -EINVAL) fuzz_fail("chunk_token_decode returned %d", drc);
    if (rc == 0) {
        uint8_t again[CHUNK_TOKEN_SIZE];
        if (drc != 0 || in.n != CHUNK_TOKEN_SIZE)
            fuzz_fail("accepted a token that does not decode");
        /* Re-sign the decoded fields from the start of the token's epoch: with the same key
         * and fields the bytes must be identical (only the keyring can make its MAC). */
        int64_t epoch_start = (int64_t)t.epoch * CHUNK_TOKEN_EPOCH_MS;
        int64_t life = t.expiry_ms - epoch_start;
        if (life >= 1 && life <= CHUNK_TOKEN_EPOCH_MS &&
            chunk_token_sign(&kr, t.op, t.chunk_id, t.version, epoch_start, life, again) == 0 &&
            memcmp(again, tok, CHUNK_TOKEN_SIZE) != 0)
            fuzz_fail("accepted a token the keyring did not make");
    }
    free(tok);
    /* Round trip with the input's own fields. */
    enum chunk_token_op op = (enum chunk_token_op)(1 + ops % 5);
    uint8_t signed_tok[CHUNK_TOKEN_SIZE];
    if (chunk_id != 0 && chunk_id != UINT64_MAX &&
        chunk_token_sign(&kr, op, chunk_id, version, now, 60000, signed_tok) == 0) {
        if (chunk_token_verify(&kr, signed_tok, sizeof signed_tok, CHUNK_TOKEN_OP_BIT(op), chunk_id,
                               version, now, &why) != 0)
            fuzz_fail("a fresh token is refused: %s", why ? why : "");
        if (chunk_token_verify(&kr, signed_tok, sizeof signed_tok, CHUNK_TOKEN_OP_BIT(op),
                               chunk_id + 1, version, now, &why) != -EACCES)
            fuzz_fail("a token for another chunk is accepted");
    }
    return 0;
}
