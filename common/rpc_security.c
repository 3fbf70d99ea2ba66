/* Process-wide RPC security: the authentication key derived from the installed cluster
 * secret (proofs added to every outgoing call, checked on every incoming one), the replay
 * cache, and TLS credentials for channels and servers. */
#include "common/rpc.h"

#include <errno.h>
#include <grpc/grpc_security.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "common/errors.h"
#include "common/log.h"
#include "common/replay_cache.h"
#include "common/rpc_auth.h"
#include "common/rpc_internal.h"
#include "common/time_util.h"

/* Slots of the replay cache: 2^17 entries (3 MiB) hold 65536 calls per window before the
 * floor rises (replay_cache.h). */
#define REPLAY_SLOTS ((size_t)1 << 17)
/* At most one "refused" log line per this many milliseconds. */
#define REFUSE_LOG_INTERVAL_MS 10000

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_have_key;
static rpc_auth_key g_key;
static replay_cache *g_replay;
static uint8_t g_nonce_prefix[8];
static int g_have_prefix;
static atomic_uint_fast64_t g_nonce_counter;

/* TLS material (PEM text), guarded by g_mu. */
static char *g_ca_pem, *g_cert_pem, *g_key_pem;
static int g_require_client_cert;
static atomic_uint g_sec_gen;

/* Refusal log state, guarded by g_log_mu. */
static pthread_mutex_t g_log_mu = PTHREAD_MUTEX_INITIALIZER;
static int64_t g_log_last_ms = INT64_MIN;
static unsigned long g_log_suppressed;

void rpc_auth_set_secret(const cfs_secret *s)
{
    rpc_auth_key k;
    int rc = s ? rpc_auth_key_from_secret(s, &k) : 0;
    pthread_mutex_lock(&g_mu);
    if (!g_have_prefix) {
        /* Nonces are this random prefix plus a counter: unique without a syscall per call. */
        if (getrandom(g_nonce_prefix, sizeof g_nonce_prefix, 0) == sizeof g_nonce_prefix) {
            g_have_prefix = 1;
        } else {
            int64_t t = cfs_real_ns() ^ cfs_mono_ns();
            memcpy(g_nonce_prefix, &t, sizeof g_nonce_prefix);
            g_have_prefix = 1;
        }
    }
    if (s && rc == 0 && !g_replay) g_replay = replay_cache_create(REPLAY_SLOTS, RPC_AUTH_WINDOW_MS);
    if (s && rc == 0 && g_replay) {
        g_key = k;
        g_have_key = 1;
    } else {
        if (s) LOG_ERROR("rpc: cannot set up authentication (%s)", cfs_strerror(rc ? rc : -ENOMEM));
        OPENSSL_cleanse(&g_key, sizeof g_key);
        g_have_key = 0;
    }
    pthread_mutex_unlock(&g_mu);
    OPENSSL_cleanse(&k, sizeof k);
}

/* Copies the key; false when no secret is installed. */
static bool current_key(rpc_auth_key *k)
{
    pthread_mutex_lock(&g_mu);
    bool have = g_have_key;
    if (have) *k = g_key;
    pthread_mutex_unlock(&g_mu);
    return have;
}

int rpc_auth_md_make(const char *method, grpc_metadata *md)
{
    rpc_auth_key k;
    if (!current_key(&k)) return 0;
    uint8_t nonce[RPC_AUTH_NONCE_LEN];
    uint64_t ctr = atomic_fetch_add(&g_nonce_counter, 1);
    memcpy(nonce, g_nonce_prefix, 8);
    /* The pid keeps a forked child (same prefix and counter) from repeating its parent's. */
    uint32_t pid = (uint32_t)getpid();
    for (int i = 0; i < 4; i++)
        nonce[i] ^= (uint8_t)(pid >> (8 * i));
    memcpy(nonce + 8, &ctr, 8);
    char proof[RPC_AUTH_PROOF_MAX];
    int n = rpc_auth_make(&k, method, cfs_real_ns() / 1000000, nonce, proof, sizeof proof);
    OPENSSL_cleanse(&k, sizeof k);
    if (n < 0) return n;
    memset(md, 0, sizeof *md);
    md->key = grpc_slice_from_static_string(RPC_AUTH_MD_KEY);
    md->value = grpc_slice_from_copied_buffer(proof, (size_t)n);
    return 1;
}

/* One line now and then, with the number of refusals not logged since. */
static void log_refusal(const char *method, const char *peer, enum rpc_auth_result r)
{
    int64_t now = cfs_mono_ms();
    pthread_mutex_lock(&g_log_mu);
    if (g_log_last_ms != INT64_MIN && now - g_log_last_ms < REFUSE_LOG_INTERVAL_MS) {
        g_log_suppressed++;
        pthread_mutex_unlock(&g_log_mu);
        return;
    }
    unsigned long more = g_log_suppressed;
    g_log_suppressed = 0;
    g_log_last_ms = now;
    pthread_mutex_unlock(&g_log_mu);
    if (more)
        LOG_WARN("rpc: authentication failed: %s from %s: %s (and %lu refused calls since the "
                 "last such line)",
                 method, peer && peer[0] ? peer : "?", rpc_auth_result_str(r), more);
    else
        LOG_WARN("rpc: authentication failed: %s from %s: %s", method, peer && peer[0] ? peer : "?",
                 rpc_auth_result_str(r));
}

int rpc_auth_server_check(const char *method, const grpc_metadata_array *md, const char *peer)
{
    rpc_auth_key k;
    if (!current_key(&k)) return 0;
    const char *proof = NULL;
    size_t len = 0;
    for (size_t i = 0; md && i < md->count; i++) {
        if (grpc_slice_str_cmp(md->metadata[i].key, RPC_AUTH_MD_KEY) == 0) {
            proof = (const char *)GRPC_SLICE_START_PTR(md->metadata[i].value);
            len = GRPC_SLICE_LENGTH(md->metadata[i].value);
            break;
        }
    }
    uint8_t nonce[RPC_AUTH_NONCE_LEN];
    int64_t ts = 0, now = cfs_real_ns() / 1000000;
    enum rpc_auth_result r =
        rpc_auth_verify(&k, method, proof, len, now, RPC_AUTH_WINDOW_MS, nonce, &ts);
    OPENSSL_cleanse(&k, sizeof k);
    if (r == RPC_AUTH_OK) {
        pthread_mutex_lock(&g_mu);
        int rc = replay_cache_check_add(g_replay, nonce, ts, now);
        pthread_mutex_unlock(&g_mu);
        if (rc < 0) r = RPC_AUTH_REPLAY;
    }
    if (r == RPC_AUTH_OK) return 0;
    log_refusal(method, peer, r);
    return -CFS_EAUTH;
}

/* ------------------------------------------------------------------ TLS */

static int __attribute__((format(printf, 3, 4)))
tls_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

/* Reads a whole PEM file into a NUL-terminated malloc'd string. */
static int read_pem(const char *what, const char *path, char **out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        int e = errno;
        if (err && errlen) snprintf(err, errlen, "%s %s: %s", what, path, strerror(e));
        return -e;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 >= cap) {
            if (cap >= (1u << 20)) break;
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - 1 - n, f);
        if (r == 0) break;
        n += r;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf) return -ENOMEM;
    buf[n] = '\0';
    if (bad || n + 1 >= (1u << 20) || !strstr(buf, "-----BEGIN ")) {
        free(buf);
        return tls_err(err, errlen, "%s %s: not a PEM file", what, path);
    }
    *out = buf;
    return 0;
}

/* Checks that the certificate parses and the private key belongs to it (a mismatch would
 * only show up later as failed handshakes). */
static int check_pair(const char *cert_pem, const char *key_pem, const char *cert_file,
                      const char *key_file, char *err, size_t errlen)
{
    BIO *cb = BIO_new_mem_buf(cert_pem, -1), *kb = BIO_new_mem_buf(key_pem, -1);
    X509 *x = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
    EVP_PKEY *k = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
    int rc = 0;
    if (!x)
        rc = tls_err(err, errlen, "TLS certificate %s: cannot parse", cert_file);
    else if (!k)
        rc = tls_err(err, errlen, "TLS key %s: cannot parse (encrypted keys are not supported)",
                     key_file);
    else if (X509_check_private_key(x, k) != 1)
        rc = tls_err(err, errlen, "TLS key %s does not match certificate %s", key_file, cert_file);
    ERR_clear_error();
    X509_free(x);
    EVP_PKEY_free(k);
    BIO_free(cb);
    BIO_free(kb);
    return rc;
}

/* The CA file must hold at least one certificate (a key there would only fail later, in
 * every handshake). */
static int check_ca(const char *ca_pem, const char *ca_file, char *err, size_t errlen)
{
    BIO *b = BIO_new_mem_buf(ca_pem, -1);
    X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    int rc = x ? 0 : tls_err(err, errlen, "TLS CA %s: no certificate in it", ca_file);
    ERR_clear_error();
    X509_free(x);
    BIO_free(b);
    return rc;
}

static void free_pem(char **p)
{
    if (*p) OPENSSL_cleanse(*p, strlen(*p));
    free(*p);
    *p = NULL;
}

static int same_text(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

int rpc_set_tls(const rpc_tls_config *cfg, char *err, size_t errlen)
{
    char *ca = NULL, *cert = NULL, *key = NULL;
    if (cfg) {
        if (!cfg->ca_file || !cfg->ca_file[0])
            return tls_err(err, errlen, "TLS needs a CA certificate (--tls-ca)");
        if (!cfg->cert_file != !cfg->key_file)
            return tls_err(err, errlen, "TLS: --tls-cert and --tls-key go together");
        int rc = read_pem("TLS CA", cfg->ca_file, &ca, err, errlen);
        if (rc == 0) rc = check_ca(ca, cfg->ca_file, err, errlen);
        if (rc == 0 && cfg->cert_file)
            rc = read_pem("TLS certificate", cfg->cert_file, &cert, err, errlen);
        if (rc == 0 && cfg->key_file) rc = read_pem("TLS key", cfg->key_file, &key, err, errlen);
        if (rc == 0 && cert) rc = check_pair(cert, key, cfg->cert_file, cfg->key_file, err, errlen);
        if (rc < 0) {
            free_pem(&ca);
            free_pem(&cert);
            free_pem(&key);
            return rc;
        }
    }
    int require = cfg ? cfg->require_client_cert : 0;
    pthread_mutex_lock(&g_mu);
    if (same_text(ca, g_ca_pem) && same_text(cert, g_cert_pem) && same_text(key, g_key_pem) &&
        require == g_require_client_cert) {
        /* Unchanged (a client connecting again): keep the cached channels. */
        pthread_mutex_unlock(&g_mu);
        free_pem(&ca);
        free_pem(&cert);
        free_pem(&key);
        return 0;
    }
    free_pem(&g_ca_pem);
    free_pem(&g_cert_pem);
    free_pem(&g_key_pem);
    g_ca_pem = ca;
    g_cert_pem = cert;
    g_key_pem = key;
    g_require_client_cert = require;
    atomic_fetch_add(&g_sec_gen, 1);
    pthread_mutex_unlock(&g_mu);
    return 0;
}

unsigned rpc_security_generation(void)
{
    return atomic_load(&g_sec_gen);
}

grpc_channel_credentials *rpc_security_channel_creds(void)
{
    pthread_mutex_lock(&g_mu);
    grpc_channel_credentials *c;
    if (!g_ca_pem) {
        c = grpc_insecure_credentials_create();
    } else {
        grpc_ssl_pem_key_cert_pair pair = {g_key_pem, g_cert_pem};
        c = grpc_ssl_credentials_create(g_ca_pem, g_cert_pem ? &pair : NULL, NULL, NULL);
    }
    pthread_mutex_unlock(&g_mu);
    return c;
}

int rpc_security_server_creds(grpc_server_credentials **out)
{
    pthread_mutex_lock(&g_mu);
    int rc = 0;
    if (!g_ca_pem) {
        *out = grpc_insecure_server_credentials_create();
    } else if (!g_cert_pem) {
        LOG_ERROR("rpc: TLS is configured without a server certificate (--tls-cert/--tls-key)");
        rc = -EINVAL;
    } else {
        grpc_ssl_pem_key_cert_pair pair = {g_key_pem, g_cert_pem};
        *out = grpc_ssl_server_credentials_create_ex(
            g_ca_pem, &pair, 1,
            g_require_client_cert ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                                  : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE,
            NULL);
    }
    pthread_mutex_unlock(&g_mu);
    if (rc == 0 && !*out) rc = -ENOMEM;
    return rc;
}
