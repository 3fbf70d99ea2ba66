#ifndef CFS_CHUNK_TOKEN_H
#define CFS_CHUNK_TOKEN_H
/* Chunk access tokens (like HDFS block tokens): the metaserver leader signs "operation OP on
 * chunk ID at VERSION, until EXPIRY" and chunkservers check it before serving a chunk.
 *
 * A token is CHUNK_TOKEN_SIZE opaque bytes (little-endian fields):
 *   [0]      format (1)          [1]      op (enum chunk_token_op)
 *   [2..3]   zero                [4..7]   key epoch
 *   [8..15]  chunk id            [16..23] version
 *   [24..31] expiry, unix ms     [32..63] HMAC-SHA256(key of the epoch, bytes 0..31)
 *
 * Keys come from the cluster secret, nothing is distributed: root = HMAC-SHA256(secret,
 * "chunkfs chunk token v1"), the key of epoch n is HMAC-SHA256(root, "chunkfs-token" | le32 n),
 * epoch n = unix ms / rotation_ms. Signers use the current epoch; verifiers accept the
 * previous, current and next epoch (rotation with overlap, and a little clock skew). Pure: no
 * clocks (callers pass the time), no threads, no I/O; a keyring is immutable once made and may be
 * shared by threads. */
#include <stddef.h>
#include <stdint.h>

#define CHUNK_TOKEN_SIZE 64
/* Default key rotation period (every server of a cluster must use the same). */
#define CHUNK_TOKEN_EPOCH_MS (3600LL * 1000)
/* Default token lifetime the metaserver signs for: a token is checked when a stream starts, so
 * this covers the time from GetChunks/AllocChunk to the first byte, with room for a slow
 * machine; clients fetch a new one when a chunkserver answers -CFS_ETOKEN. */
#define CHUNK_TOKEN_LIFETIME_MS (10LL * 60 * 1000)

enum chunk_token_op {
    CHUNK_TOKEN_READ = 1,        /* ChunkService.Read */
    CHUNK_TOKEN_WRITE = 2,       /* ChunkService.Write (every replica of the chain) */
    CHUNK_TOKEN_DELETE = 3,      /* ChunkService.Delete and heartbeat deletes (version 0: any) */
    CHUNK_TOKEN_REPLICATE = 4,   /* pull a copy: the target's command and its Read at the source */
    CHUNK_TOKEN_SET_VERSION = 5, /* ChunkService.SetVersion (version = the new version) */
};
#define CHUNK_TOKEN_OP_BIT(op) (1u << (op))

typedef struct chunk_keyring {
    uint8_t root[32]; /* HMAC-SHA256 of the secret: keys derive from this, not the secret */
    int64_t rotation_ms;
} chunk_keyring;

typedef struct chunk_token {
    enum chunk_token_op op;
    uint32_t epoch;
    uint64_t chunk_id;
    uint64_t version;
    int64_t expiry_ms; /* unix ms */
} chunk_token;

/* Makes a keyring from the cluster secret (1..4096 bytes) with the given rotation period
 * (> 0 ms; CHUNK_TOKEN_EPOCH_MS in servers). 0, or -EINVAL. */
int chunk_keyring_init(chunk_keyring *kr, const uint8_t *secret, size_t len, int64_t rotation_ms);

/* Signs a token for op on (chunk_id, version), valid until now_ms + lifetime_ms.
 * -EINVAL for a bad op, chunk id 0, now_ms < 0, or lifetime_ms outside 1..rotation_ms (a longer
 * one would outlive the overlap of its key). */
int chunk_token_sign(const chunk_keyring *kr, enum chunk_token_op op, uint64_t chunk_id,
                     uint64_t version, int64_t now_ms, int64_t lifetime_ms,
                     uint8_t out[CHUNK_TOKEN_SIZE]);

/* Checks that `tok` (len bytes, read only within them) allows one of the operations in
 * `allowed_ops` (CHUNK_TOKEN_OP_BIT mask) on (chunk_id, version) at now_ms. Returns 0, or
 *   -EACCES      missing, malformed, bad MAC (forged or another cluster's secret), key epoch
 *                in the future, or a token for another chunk, version or operation;
 *   -CFS_ETOKEN  expired (also: its key epoch is retired): ask the metaserver for a new one.
 * The MAC is compared in constant time. *why (may be NULL) gets a short reason for logs. */
int chunk_token_verify(const chunk_keyring *kr, const uint8_t *tok, size_t len,
                       unsigned allowed_ops, uint64_t chunk_id, uint64_t version, int64_t now_ms,
                       const char **why);

/* Decodes the fields without checking the MAC (for logs and tests). 0 or -EINVAL. */
int chunk_token_decode(const uint8_t *tok, size_t len, chunk_token *out);

/* Name of an operation ("read", "write", ...; "?" when unknown). */
const char *chunk_token_op_name(enum chunk_token_op op);

#endif
