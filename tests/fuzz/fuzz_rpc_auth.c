/* Fuzz target: the cluster-secret proof every RPC carries (common/rpc_auth.h), parsed from the
 * "cfs-auth" call metadata before any handler runs, and the secret file reader. Input: a
 * method-length byte, the method, a time offset byte, then the proof bytes. Verify must answer
 * one of its results without reading past the proof; a proof made for the input's time and
 * method must verify, and be refused for another method. With flag bit 7 of the time byte, the
 * proof bytes are written as a secret file and loaded instead (16..4096 bytes, refused with a
 * message otherwise). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/rpc_auth.h"
#include "common/secret.h"
#include "fuzz_util.h"

#define NOW_MS 1700000000000ll

static void load_secret_file(const uint8_t *p, size_t n)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/secret", fuzz_fresh_dir());
    fuzz_write_file(path, p, n);
    cfs_secret s;
    char err[256] = "";
    int rc = cfs_secret_load(path, &s, err, sizeof err);
    if (rc == 0 && (s.len < CFS_SECRET_MIN || s.len > CFS_SECRET_MAX))
        fuzz_fail("loaded a secret of %zu bytes", s.len);
    if (rc != 0 && !err[0]) fuzz_fail("secret refused without a message");
    if (rc == 0) cfs_secret_wipe(&s);
    fuzz_remove_dir();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet_logs();
    static cfs_secret secret;
    static rpc_auth_key key;
    if (!secret.len) {
        secret.len = 32;
        memset(secret.bytes, 0x5a, secret.len);
        snprintf(secret.key_id, sizeof secret.key_id, "00112233aabbccdd");
        if (rpc_auth_key_from_secret(&secret, &key) != 0) fuzz_fail("rpc_auth_key_from_secret");
    }
    fuzz_in in = {data, size};
    uint8_t mlen = 0, toff = 0;
    fuzz_take_u8(&in, &mlen);
    char method[256];
    size_t ml = mlen < in.n ? mlen : in.n;
    memcpy(method, in.p, ml);
    method[ml] = 0;
    in.p += ml;
    in.n -= ml;
    fuzz_take_u8(&in, &toff);
    if (toff & 0x80) {
        load_secret_file(in.p, in.n);
        return 0;
    }
    /* The proof in a buffer of its exact size, so ASan sees any read past it. */
    char *proof = malloc(in.n ? in.n : 1);
    if (!proof) fuzz_fail("out of memory");
    if (in.n) memcpy(proof, in.p, in.n);
    uint8_t nonce[RPC_AUTH_NONCE_LEN];
    int64_t ts = 0;
    int64_t now = NOW_MS + (int64_t)toff * 1000;
    enum rpc_auth_result r =
        rpc_auth_verify(&key, method, proof, in.n, now, RPC_AUTH_WINDOW_MS, nonce, &ts);
    if (r < RPC_AUTH_OK || r > RPC_AUTH_REPLAY) fuzz_fail("result %d out of range", (int)r);
    (void)rpc_auth_result_str(r);
    free(proof);

    /* Round trip for this method and time. */
    uint8_t n2[RPC_AUTH_NONCE_LEN];
    for (int i = 0; i < RPC_AUTH_NONCE_LEN; i++)
        n2[i] = (uint8_t)(toff + i);
    char made[RPC_AUTH_PROOF_MAX];
    int len = rpc_auth_make(&key, method, now, n2, made, sizeof made);
    if (len > 0) {
        if (rpc_auth_verify(&key, method, made, (size_t)len, now, RPC_AUTH_WINDOW_MS, nonce, &ts) !=
                RPC_AUTH_OK ||
            ts != now || memcmp(nonce, n2, sizeof n2) != 0)
            fuzz_fail("a fresh proof does not verify");
        char other[260];
        snprintf(other, sizeof other, "%s/x", method);
        if (rpc_auth_verify(&key, other, made, (size_t)len, now, RPC_AUTH_WINDOW_MS, nonce, &ts) ==
            RPC_AUTH_OK)
            fuzz_fail("a proof for another method verifies");
    }
    return 0;
}
