#ifndef CFS_SECURITY_OPTS_H
#define CFS_SECURITY_OPTS_H
/* The security options every program takes (servers as config options, the CLI as global
 * flags, the mount as -o options, libchunkfs through cfs_options) and their one application:
 * load the secret and install it (authentication on), set TLS (common/rpc.h).
 *   --secret-file PATH        cluster secret (common/secret.h); none: unauthenticated
 *   --tls-ca PATH             CA certificate: clients verify servers (and servers clients)
 *   --tls-cert PATH, --tls-key PATH   this process's certificate and key (servers: required
 *                             with TLS; also presented as the client certificate)
 *   --tls-client-auth none|require    servers: require client certificates (mutual TLS) */
#include <stdbool.h>
#include <stddef.h>

#include "common/config.h"

/* Entries for a cfs_config_def table (servers). */
#define CFS_SECURITY_CONFIG_DEFS                                                                   \
    {"secret-file", CFS_CFG_STRING, NULL,                                                          \
     "cluster secret file (mode 0600, 16..4096 bytes); unset: no authentication"},                 \
        {"tls-ca", CFS_CFG_STRING, NULL, "PEM CA certificate: TLS on, peers verified against it"}, \
        {"tls-cert", CFS_CFG_STRING, NULL, "PEM certificate of this server (TLS)"},                \
        {"tls-key", CFS_CFG_STRING, NULL, "PEM private key of --tls-cert"},                        \
    {                                                                                              \
        "tls-client-auth", CFS_CFG_STRING, "none",                                                 \
            "none or require: require client certificates (mutual TLS)"                            \
    }

typedef struct cfs_security_opts {
    const char *secret_file; /* NULL: no authentication */
    const char *tls_ca;      /* NULL: no TLS */
    const char *tls_cert;
    const char *tls_key;
    bool require_client_cert;
} cfs_security_opts;

/* Reads the options above from a parsed config (strings stay owned by the config).
 * 0 or -EINVAL with a message (bad --tls-client-auth). */
int cfs_security_from_config(const cfs_config *c, cfs_security_opts *out, char *err, size_t errlen);

/* Fills unset fields from the environment: CHUNKFS_SECRET_FILE, CHUNKFS_TLS_CA,
 * CHUNKFS_TLS_CERT, CHUNKFS_TLS_KEY (empty values count as unset). For clients. */
void cfs_security_from_env(cfs_security_opts *o);

/* Checks the combination (a server with TLS needs ca, cert and key; a client needs ca, and
 * cert with key or neither; client auth needs TLS), loads the secret and the TLS files and
 * installs both process-wide. Logs one INFO line saying what is on (never the secret).
 * 0, or a negative errno with a message naming the file or flag in err. */
int cfs_security_apply(const cfs_security_opts *o, bool is_server, char *err, size_t errlen);

/* cfs_security_from_config + cfs_security_apply (servers). */
int cfs_security_apply_config(const cfs_config *c, bool is_server, char *err, size_t errlen);

#endif
