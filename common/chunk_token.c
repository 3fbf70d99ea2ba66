#include "common/chunk_token.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/byte_order.h"
#include "common/errors.h"
#include "common/hmac.h"

#define TOKEN_FORMAT 1
#define SIGNED_LEN 32 /* bytes covered by the MAC */
#define MAC_LEN 32
#define MAX_SECRET 4096

static const char KEY_LABEL[] = "chunkfs-token";
static const char ROOT_LABEL[] = "chunkfs chunk token v1"; /* as cfs_secret_derive would */

static int epoch_key(const chunk_keyring *kr, uint32_t epoch, uint8_t key[32])
{
    uint8_t msg[sizeof KEY_LABEL - 1 + 4];
    memcpy(msg, KEY_LABEL, sizeof KEY_LABEL - 1);
    cfs_put_le32(msg + sizeof KEY_LABEL - 1, epoch);
    return cfs_hmac_sha256(kr->root, sizeof kr->root, msg, sizeof msg, key);
}

static int mac_of(const chunk_keyring *kr, uint32_t epoch, const uint8_t *signed_part,
                  uint8_t mac[MAC_LEN])
{
    uint8_t key[32];
    int rc = epoch_key(kr, epoch, key);
    if (rc == 0) rc = cfs_hmac_sha256(key, sizeof key, signed_part, SIGNED_LEN, mac);
    OPENSSL_cleanse(key, sizeof key);
    return rc;
}

static bool op_valid(int op)
{
    return op >= CHUNK_TOKEN_READ && op <= CHUNK_TOKEN_SET_VERSION;
}

int chunk_keyring_init(chunk_keyring *kr, const uint8_t *secret, size_t len, int64_t rotation_ms)
{
    if (!kr || !secret || len == 0 || len > MAX_SECRET || rotation_ms <= 0) return -EINVAL;
    memset(kr, 0, sizeof *kr);
    kr->rotation_ms = rotation_ms;
    /* The secret is also the cluster's authentication secret: tokens use a key derived for
     * this purpose only, so nothing here can be turned into a proof of the secret itself. */
    return cfs_hmac_sha256(secret, len, (const uint8_t *)ROOT_LABEL, sizeof ROOT_LABEL - 1,
                           kr->root);
}

int chunk_token_sign(const chunk_keyring *kr, enum chunk_token_op op, uint64_t chunk_id,
                     uint64_t version, int64_t now_ms, int64_t lifetime_ms,
                     uint8_t out[CHUNK_TOKEN_SIZE])
{
    if (!kr || !out || !op_valid((int)op) || chunk_id == 0 || now_ms < 0 || lifetime_ms <= 0 ||
        lifetime_ms > kr->rotation_ms)
        return -EINVAL;
    int64_t epoch = now_ms / kr->rotation_ms;
    if (epoch > UINT32_MAX) return -EINVAL;
    memset(out, 0, CHUNK_TOKEN_SIZE);
    out[0] = TOKEN_FORMAT;
    out[1] = (uint8_t)op;
    cfs_put_le32(out + 4, (uint32_t)epoch);
    cfs_put_le64(out + 8, chunk_id);
    cfs_put_le64(out + 16, version);
    cfs_put_le64(out + 24, (uint64_t)(now_ms + lifetime_ms));
    return mac_of(kr, (uint32_t)epoch, out, out + SIGNED_LEN);
}

int chunk_token_decode(const uint8_t *tok, size_t len, chunk_token *out)
{
    if (!tok || len != CHUNK_TOKEN_SIZE || tok[0] != TOKEN_FORMAT || !op_valid(tok[1]) ||
        tok[2] != 0 || tok[3] != 0)
        return -EINVAL;
    uint64_t expiry = cfs_get_le64(tok + 24);
    if (expiry > INT64_MAX) return -EINVAL;
    out->op = (enum chunk_token_op)tok[1];
    out->epoch = cfs_get_le32(tok + 4);
    out->chunk_id = cfs_get_le64(tok + 8);
    out->version = cfs_get_le64(tok + 16);
    out->expiry_ms = (int64_t)expiry;
    return 0;
}

static int refuse(int err, const char *reason, const char **why)
{
    if (why) *why = reason;
    return err;
}

int chunk_token_verify(const chunk_keyring *kr, const uint8_t *tok, size_t len,
                       unsigned allowed_ops, uint64_t chunk_id, uint64_t version, int64_t now_ms,
                       const char **why)
{
    if (why) *why = "valid";
    if (!kr || now_ms < 0) return refuse(-EINVAL, "bad arguments", why);
    if (!tok || len == 0) return refuse(-EACCES, "no token", why);
    chunk_token t;
    if (chunk_token_decode(tok, len, &t) < 0) return refuse(-EACCES, "malformed token", why);
    /* The MAC first, under the epoch the token names (any epoch's key can be derived), so a
     * forged token is always "refused", never "expired, ask again". */
    uint8_t mac[MAC_LEN];
    int rc = mac_of(kr, t.epoch, tok, mac);
    if (rc < 0) return refuse(rc, "cannot compute the MAC", why);
    bool mac_ok = cfs_mem_equal_ct(mac, tok + SIGNED_LEN, MAC_LEN);
    OPENSSL_cleanse(mac, sizeof mac);
    if (!mac_ok) return refuse(-EACCES, "bad signature", why);
    int64_t cur = now_ms / kr->rotation_ms;
    if ((int64_t)t.epoch > cur + 1) return refuse(-EACCES, "key epoch in the future", why);
    if (!(allowed_ops & CHUNK_TOKEN_OP_BIT(t.op)))
        return refuse(-EACCES, "token for another operation", why);
    if (t.chunk_id != chunk_id) return refuse(-EACCES, "token for another chunk", why);
    if (t.version != version) return refuse(-EACCES, "token for another version", why);
    if ((int64_t)t.epoch < cur - 1) return refuse(-CFS_ETOKEN, "key epoch retired", why);
    if (now_ms >= t.expiry_ms) return refuse(-CFS_ETOKEN, "token expired", why);
    return 0;
}

const char *chunk_token_op_name(enum chunk_token_op op)
{
    switch (op) {
    case CHUNK_TOKEN_READ:
        return "read";
    case CHUNK_TOKEN_WRITE:
        return "write";
    case CHUNK_TOKEN_DELETE:
        return "delete";
    case CHUNK_TOKEN_REPLICATE:
        return "replicate";
    case CHUNK_TOKEN_SET_VERSION:
        return "set-version";
    }
    return "?";
}
