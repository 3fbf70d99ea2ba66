/* Making and verifying the "cfs-auth" proof (format in rpc_auth.h). */
#include "common/rpc_auth.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

const char *rpc_auth_result_str(enum rpc_auth_result r)
{
    switch (r) {
    case RPC_AUTH_OK:
        return "ok";
    case RPC_AUTH_MISSING:
        return "no cluster secret presented";
    case RPC_AUTH_MALFORMED:
        return "malformed proof";
    case RPC_AUTH_WRONG_KEY:
        return "wrong cluster secret";
    case RPC_AUTH_BAD_MAC:
        return "proof does not verify (tampered or forged)";
    case RPC_AUTH_EXPIRED:
        return "timestamp outside the window (clock skew?)";
    case RPC_AUTH_REPLAY:
        return "replayed proof";
    }
    return "unknown";
}

int rpc_auth_key_from_secret(const cfs_secret *s, rpc_auth_key *out)
{
    if (!s || !out) return -EINVAL;
    int rc = cfs_secret_derive(s, "chunkfs rpc auth v1", out->mac_key);
    if (rc < 0) return rc;
    memcpy(out->key_id, s->key_id, sizeof out->key_id);
    out->key_id[CFS_KEY_ID_HEX] = '\0';
    return 0;
}

/* MAC over "v1|KEYID|TS|NONCE|METHOD"; the fields are passed as text. */
static int proof_mac(const rpc_auth_key *k, const char *ts, size_t ts_len, const char *nonce_hex,
                     const char *method, uint8_t mac[CFS_HMAC_LEN])
{
    char msg[512];
    int n = snprintf(msg, sizeof msg, "v1|%s|%.*s|%.*s|%s", k->key_id, (int)ts_len, ts,
                     2 * RPC_AUTH_NONCE_LEN, nonce_hex, method);
    if (n < 0 || (size_t)n >= sizeof msg) return -ENAMETOOLONG;
    return cfs_hmac_sha256(k->mac_key, sizeof k->mac_key, (const uint8_t *)msg, (size_t)n, mac);
}

int rpc_auth_make(const rpc_auth_key *k, const char *method, int64_t ts_ms,
                  const uint8_t nonce[RPC_AUTH_NONCE_LEN], char *out, size_t outlen)
{
    if (!k || !method || !nonce || !out || ts_ms < 0) return -EINVAL;
    char ts[24], nonce_hex[2 * RPC_AUTH_NONCE_LEN + 1];
    int ts_len = snprintf(ts, sizeof ts, "%" PRId64, ts_ms);
    cfs_hex_encode(nonce, RPC_AUTH_NONCE_LEN, nonce_hex);
    uint8_t mac[CFS_HMAC_LEN];
    int rc = proof_mac(k, ts, (size_t)ts_len, nonce_hex, method, mac);
    if (rc < 0) return rc;
    char mac_hex[2 * CFS_HMAC_LEN + 1];
    cfs_hex_encode(mac, sizeof mac, mac_hex);
    int n = snprintf(out, outlen, "v1.%s.%s.%s.%s", k->key_id, ts, nonce_hex, mac_hex);
    if (n < 0 || (size_t)n >= outlen) return -ENAMETOOLONG;
    return n;
}

/* Splits proof[0..len) at '.' into exactly 5 fields. */
static int split5(const char *p, size_t len, const char *f[5], size_t flen[5])
{
    size_t start = 0;
    int nf = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || p[i] == '.') {
            if (nf == 5) return -1;
            f[nf] = p + start;
            flen[nf++] = i - start;
            start = i + 1;
        }
    }
    return nf == 5 ? 0 : -1;
}

/* Decimal, 1..18 digits, no sign. */
static int parse_ts(const char *s, size_t n, int64_t *out)
{
    if (n == 0 || n > 18) return -1;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

enum rpc_auth_result rpc_auth_verify(const rpc_auth_key *k, const char *method, const char *proof,
                                     size_t len, int64_t now_ms, int64_t window_ms,
                                     uint8_t nonce_out[RPC_AUTH_NONCE_LEN], int64_t *ts_out)
{
    if (!proof || len == 0) return RPC_AUTH_MISSING;
    if (!k || !method || !nonce_out || !ts_out || len >= RPC_AUTH_PROOF_MAX)
        return RPC_AUTH_MALFORMED;
    const char *f[5];
    size_t fl[5];
    if (split5(proof, len, f, fl) < 0 || fl[0] != 2 || memcmp(f[0], "v1", 2) != 0)
        return RPC_AUTH_MALFORMED;
    uint8_t id[CFS_KEY_ID_HEX / 2], mac[CFS_HMAC_LEN];
    int64_t ts;
    if (cfs_hex_decode(f[1], fl[1], id, sizeof id) < 0 || parse_ts(f[2], fl[2], &ts) < 0 ||
        cfs_hex_decode(f[3], fl[3], nonce_out, RPC_AUTH_NONCE_LEN) < 0 ||
        cfs_hex_decode(f[4], fl[4], mac, sizeof mac) < 0)
        return RPC_AUTH_MALFORMED;
    if (strncasecmp(f[1], k->key_id, CFS_KEY_ID_HEX) != 0) return RPC_AUTH_WRONG_KEY;
    /* The MAC is computed over the key id as this server spells it (lower case). */
    uint8_t want[CFS_HMAC_LEN];
    if (proof_mac(k, f[2], fl[2], f[3], method, want) < 0) return RPC_AUTH_MALFORMED;
    if (!cfs_mem_equal_ct(want, mac, sizeof mac)) return RPC_AUTH_BAD_MAC;
    *ts_out = ts;
    if (ts < now_ms - window_ms || ts > now_ms + window_ms) return RPC_AUTH_EXPIRED;
    return RPC_AUTH_OK;
}
