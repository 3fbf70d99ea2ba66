#ifndef CFS_RPC_AUTH_H
#define CFS_RPC_AUTH_H
/* Proof of the cluster secret carried by every RPC (pure: no clock, no I/O; thread-safe).
 *
 * The client sends the call metadata "cfs-auth" =
 *     "v1." KEYID "." TS "." NONCE "." MAC
 *   KEYID  16 hex digits naming the secret (cfs_secret.key_id)
 *   TS     the client's wall clock in milliseconds since the epoch (decimal)
 *   NONCE  32 hex digits, unique per call
 *   MAC    64 hex digits of HMAC-SHA256(K, "v1|" KEYID "|" TS "|" NONCE "|" METHOD)
 *          with K = HMAC-SHA256(secret, "chunkfs rpc auth v1") and METHOD the gRPC path
 * The server accepts it when KEYID and MAC match its own secret, TS is within +-window of its
 * clock, and the nonce was not seen before (replay_cache.h). The secret never travels; a
 * captured proof is good only for the same method, inside the window, once. */
#include <stddef.h>
#include <stdint.h>

#include "common/hmac.h"
#include "common/secret.h"

#define RPC_AUTH_MD_KEY "cfs-auth"
#define RPC_AUTH_NONCE_LEN 16
#define RPC_AUTH_PROOF_MAX 160 /* bytes of a proof string, NUL included, with room to spare */
#define RPC_AUTH_WINDOW_MS (120 * 1000)

typedef struct rpc_auth_key {
    uint8_t mac_key[CFS_HMAC_LEN];
    char key_id[CFS_KEY_ID_HEX + 1];
} rpc_auth_key;

/* Why a proof was refused (RPC_AUTH_OK = accepted). */
enum rpc_auth_result {
    RPC_AUTH_OK = 0,
    RPC_AUTH_MISSING,   /* no proof: the caller has no secret configured */
    RPC_AUTH_MALFORMED, /* not of the form above */
    RPC_AUTH_WRONG_KEY, /* another secret (key id differs) */
    RPC_AUTH_BAD_MAC,   /* same key id but the MAC does not verify: tampered or forged */
    RPC_AUTH_EXPIRED,   /* timestamp outside the window: clock skew or an old proof */
    RPC_AUTH_REPLAY,    /* nonce already used (or too old for the replay cache to tell) */
};

/* Short text for a result, e.g. "wrong cluster secret". Never NULL. */
const char *rpc_auth_result_str(enum rpc_auth_result r);

/* Derives the MAC key and copies the key id. 0 or a negative errno. */
int rpc_auth_key_from_secret(const cfs_secret *s, rpc_auth_key *out);

/* Writes the proof for `method` into out[0..outlen) (NUL-terminated). Returns its length,
 * or -EINVAL (bad arguments), -ENAMETOOLONG (outlen too small), -EIO (libcrypto). */
int rpc_auth_make(const rpc_auth_key *k, const char *method, int64_t ts_ms,
                  const uint8_t nonce[RPC_AUTH_NONCE_LEN], char *out, size_t outlen);

/* Checks proof[0..len) (not NUL-terminated; NULL = missing) for `method` at time now_ms.
 * On RPC_AUTH_OK (and on RPC_AUTH_EXPIRED) fills nonce_out and *ts_out for the replay check,
 * which is the caller's. Never reads outside proof[0..len). */
enum rpc_auth_result rpc_auth_verify(const rpc_auth_key *k, const char *method, const char *proof,
                                     size_t len, int64_t now_ms, int64_t window_ms,
                                     uint8_t nonce_out[RPC_AUTH_NONCE_LEN], int64_t *ts_out);

#endif
