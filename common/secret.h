#ifndef CFS_SECRET_H
#define CFS_SECRET_H
/* The cluster secret: a file of 16..4096 bytes shared by every server and client of one
 * cluster. It never goes on the wire; keys are derived from it for each use:
 *   key = HMAC-SHA256(secret, label)      (cfs_secret_derive; label names the use)
 * so that a key leaked from one use (say chunk tokens) tells nothing about another (RPC
 * authentication). Labels in use: "chunkfs rpc auth v1", "chunkfs key id v1" (rpc_auth.c);
 * other subsystems pick their own, e.g. "chunkfs chunk token v1".
 *
 * A server loads the file once at startup (--secret-file) and installs it process-wide with
 * cfs_secret_install; from then on every RPC it makes and serves is authenticated
 * (common/rpc.h) and any subsystem can fetch a copy with cfs_secret_current. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/hmac.h"

#define CFS_SECRET_MIN 16
#define CFS_SECRET_MAX 4096
#define CFS_KEY_ID_HEX 16 /* hex digits of a key id */

typedef struct cfs_secret {
    size_t len;                      /* CFS_SECRET_MIN..CFS_SECRET_MAX */
    uint8_t bytes[CFS_SECRET_MAX];   /* the secret (file content minus one trailing '\n') */
    char key_id[CFS_KEY_ID_HEX + 1]; /* public name of the secret: hex of the first 8 bytes
                                        of HMAC-SHA256(secret, "chunkfs key id v1"); safe
                                        to log, tells two secrets apart */
} cfs_secret;

/* Loads the secret from `path`, like ssh loads a private key: the file must exist, be a
 * regular file (symlinks are followed), give no access to group or others (mode & 077 == 0),
 * and hold 16..4096 bytes after stripping one trailing newline. On failure *out is wiped,
 * a one-line message naming the file and the fix goes to err[0..errlen), and the result is
 * -ENOENT (missing), -EINVAL (not a regular file, too short or too long), -EACCES (mode too
 * open, or unreadable), or another -errno from open/read. */
int cfs_secret_load(const char *path, cfs_secret *out, char *err, size_t errlen);

/* key = HMAC-SHA256(secret, label). 0, or -EINVAL / -EIO from cfs_hmac_sha256. */
int cfs_secret_derive(const cfs_secret *s, const char *label, uint8_t key[CFS_HMAC_LEN]);

/* Overwrites the secret's bytes (before freeing or leaving scope). */
void cfs_secret_wipe(cfs_secret *s);

/* Process-wide secret. cfs_secret_install copies *s (NULL removes it: the process then runs
 * unauthenticated) and turns RPC authentication on for calls started afterwards. Thread-safe. */
void cfs_secret_install(const cfs_secret *s);
/* Copies the installed secret into *out and returns true; false (out untouched) when none is
 * installed. Thread-safe. */
bool cfs_secret_current(cfs_secret *out);

#endif
