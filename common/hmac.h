#ifndef CFS_HMAC_H
#define CFS_HMAC_H
/* HMAC-SHA256 and helpers around it (OpenSSL libcrypto underneath). Pure: no I/O, no state;
 * thread-safe. Used for RPC authentication proofs and chunk access tokens. */
#include <stddef.h>
#include <stdint.h>

#define CFS_HMAC_LEN 32 /* bytes of an HMAC-SHA256 */

/* out = HMAC-SHA256(key[0..key_len), msg[0..msg_len)). Returns 0, or -EINVAL on NULL
 * arguments (msg may be NULL when msg_len is 0) and -EIO if libcrypto fails. */
int cfs_hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *msg, size_t msg_len,
                    uint8_t out[CFS_HMAC_LEN]);

/* 1 when a[0..n) equals b[0..n), else 0, in time independent of the contents (for MACs). */
int cfs_mem_equal_ct(const void *a, const void *b, size_t n);

/* Lower-case hex of bin[0..n) into out (2n+1 bytes, NUL-terminated). */
void cfs_hex_encode(const uint8_t *bin, size_t n, char *out);
/* Parses exactly 2n hex digits (either case) from hex[0..hex_len) into bin[0..n).
 * 0 or -EINVAL (wrong length or a non-hex digit). */
int cfs_hex_decode(const char *hex, size_t hex_len, uint8_t *bin, size_t n);

#endif
