#include "common/token_keyring.h"

#include <errno.h>
#include <stdio.h>

#include "common/log.h"
#include "common/secret.h"

int cfs_token_keyring_load(const cfs_config *c, chunk_keyring *kr, bool *on, char *err,
                           size_t errlen)
{
    *on = false;
    const char *path = cfs_config_str(c, "token-secret-file");
    cfs_secret s;
    if (path) {
        int rc = cfs_secret_load(path, &s, err, errlen);
        if (rc < 0) return rc;
    } else if (!cfs_secret_current(&s)) {
        LOG_INFO("chunk access tokens off (no cluster secret)");
        return 0;
    }
    int rc = chunk_keyring_init(kr, s.bytes, s.len, CHUNK_TOKEN_EPOCH_MS);
    if (rc == 0)
        LOG_INFO("chunk access tokens on, keys from %s (key id %s)",
                 path ? "the token secret" : "the cluster secret", s.key_id);
    else
        snprintf(err, errlen, "cannot make the chunk token keyring: %s", path ? path : "secret");
    cfs_secret_wipe(&s);
    *on = rc == 0;
    return rc;
}
