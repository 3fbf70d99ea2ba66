#ifndef CFS_TOKEN_KEYRING_H
#define CFS_TOKEN_KEYRING_H
/* Where a server's chunk token keyring (common/chunk_token.h) comes from:
 *   --token-secret-file PATH   a secret only servers hold (metaservers and chunkservers; never
 *                              clients): nobody else can mint tokens;
 *   otherwise the cluster secret (--secret-file), when there is one: tokens are on, but every
 *                              holder of the cluster secret, clients included, could mint them;
 *   neither: tokens are off. */
#include <stdbool.h>
#include <stddef.h>

#include "common/chunk_token.h"
#include "common/config.h"

/* Entry for a server's cfs_config_def table. */
#define CFS_TOKEN_CONFIG_DEF                                                                       \
    {                                                                                              \
        "token-secret-file", CFS_CFG_STRING, NULL,                                                 \
            "secret for chunk access tokens, held by servers only (mode 0600); unset: derived "    \
            "from --secret-file"                                                                   \
    }

/* Makes the keyring from the config's token-secret-file, else from the installed cluster
 * secret (call after cfs_security_apply_config). *on = false (and 0) when neither is set.
 * Logs one INFO line saying which. 0, or a negative errno with a message in err. */
int cfs_token_keyring_load(const cfs_config *c, chunk_keyring *kr, bool *on, char *err,
                           size_t errlen);

#endif
