/* Security options: from config or environment, checked and installed. */
#include "common/security_opts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/rpc.h"
#include "common/secret.h"

int cfs_security_from_config(const cfs_config *c, cfs_security_opts *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->secret_file = cfs_config_str(c, "secret-file");
    out->tls_ca = cfs_config_str(c, "tls-ca");
    out->tls_cert = cfs_config_str(c, "tls-cert");
    out->tls_key = cfs_config_str(c, "tls-key");
    const char *ca = cfs_config_str(c, "tls-client-auth");
    if (ca && strcmp(ca, "require") == 0) {
        out->require_client_cert = true;
    } else if (ca && strcmp(ca, "none") != 0) {
        snprintf(err, errlen, "--tls-client-auth: '%s' is not none or require", ca);
        return -EINVAL;
    }
    return 0;
}

static const char *env_or(const char *cur, const char *name)
{
    if (cur) return cur;
    const char *v = getenv(name);
    return v && v[0] ? v : NULL;
}

void cfs_security_from_env(cfs_security_opts *o)
{
    o->secret_file = env_or(o->secret_file, "CHUNKFS_SECRET_FILE");
    o->tls_ca = env_or(o->tls_ca, "CHUNKFS_TLS_CA");
    o->tls_cert = env_or(o->tls_cert, "CHUNKFS_TLS_CERT");
    o->tls_key = env_or(o->tls_key, "CHUNKFS_TLS_KEY");
}

static int check_combination(const cfs_security_opts *o, bool is_server, char *err, size_t errlen)
{
    bool any_tls = o->tls_ca || o->tls_cert || o->tls_key;
    const char *missing = NULL;
    if (any_tls && !o->tls_ca)
        missing = "--tls-ca";
    else if (any_tls && (is_server || o->tls_key) && !o->tls_cert)
        missing = "--tls-cert";
    else if (any_tls && (is_server || o->tls_cert) && !o->tls_key)
        missing = "--tls-key";
    if (missing) {
        snprintf(err, errlen, "TLS needs %s (with --tls-ca, --tls-cert and --tls-key)", missing);
        return -EINVAL;
    }
    if (o->require_client_cert && !any_tls) {
        snprintf(err, errlen,
                 "--tls-client-auth require needs TLS (--tls-ca, --tls-cert, "
                 "--tls-key)");
        return -EINVAL;
    }
    return 0;
}

int cfs_security_apply(const cfs_security_opts *o, bool is_server, char *err, size_t errlen)
{
    int rc = check_combination(o, is_server, err, errlen);
    if (rc < 0) return rc;
    cfs_secret s;
    if (o->secret_file) {
        rc = cfs_secret_load(o->secret_file, &s, err, errlen);
        if (rc < 0) return rc;
    }
    if (o->tls_ca) {
        rpc_tls_config t = {o->tls_ca, o->tls_cert, o->tls_key, o->require_client_cert};
        rc = rpc_set_tls(&t, err, errlen);
    } else {
        rc = rpc_set_tls(NULL, err, errlen);
    }
    if (rc < 0) {
        if (o->secret_file) cfs_secret_wipe(&s);
        return rc;
    }
    cfs_secret_install(o->secret_file ? &s : NULL);
    if (o->secret_file || o->tls_ca)
        LOG_INFO("security: authentication %s%s%s, TLS %s%s",
                 o->secret_file ? "on (key id " : "off", o->secret_file ? s.key_id : "",
                 o->secret_file ? ")" : "", o->tls_ca ? "on" : "off",
                 o->require_client_cert ? " with client certificates required" : "");
    if (o->secret_file) cfs_secret_wipe(&s);
    return 0;
}

int cfs_security_apply_config(const cfs_config *c, bool is_server, char *err, size_t errlen)
{
    cfs_security_opts o;
    int rc = cfs_security_from_config(c, &o, err, errlen);
    return rc < 0 ? rc : cfs_security_apply(&o, is_server, err, errlen);
}
