/* HMAC-SHA256 through libcrypto's one-shot HMAC(), constant-time compare, hex codec. */
#include "common/hmac.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

int cfs_hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *msg, size_t msg_len,
                    uint8_t out[CFS_HMAC_LEN])
{
    if (!key || !out || (!msg && msg_len)) return -EINVAL;
    static const uint8_t empty[1];
    unsigned int len = 0;
    if (!HMAC(EVP_sha256(), key, (int)key_len, msg ? msg : empty, msg_len, out, &len) ||
        len != CFS_HMAC_LEN)
        return -EIO;
    return 0;
}

int cfs_mem_equal_ct(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}

void cfs_hex_encode(const uint8_t *bin, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[bin[i] >> 4];
        out[2 * i + 1] = digits[bin[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int cfs_hex_decode(const char *hex, size_t hex_len, uint8_t *bin, size_t n)
{
    if (!hex || hex_len != 2 * n) return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return -EINVAL;
        bin[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}
