/* Loading the cluster secret file with ssh-like permission checks; key derivation; the
 * process-wide installed copy. */
#include "common/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/rpc_internal.h"

/* Wipes *out, writes the message, returns rc. */
static int __attribute__((format(printf, 5, 6)))
fail(cfs_secret *out, char *err, size_t errlen, int rc, const char *fmt, ...)
{
    cfs_secret_wipe(out);
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

int cfs_secret_load(const char *path, cfs_secret *out, char *err, size_t errlen)
{
    if (!out) return -EINVAL;
    memset(out, 0, sizeof *out);
    if (!path || !path[0]) return fail(out, err, errlen, -EINVAL, "secret file: empty path");
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT)
            return fail(out, err, errlen, -ENOENT, "secret file %s: does not exist", path);
        if (e == EACCES)
            return fail(out, err, errlen, -EACCES, "secret file %s: permission denied", path);
        return fail(out, err, errlen, -e, "secret file %s: %s", path, strerror(e));
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return fail(out, err, errlen, -e, "secret file %s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return fail(out, err, errlen, -EINVAL, "secret file %s: not a regular file", path);
    }
    if (st.st_mode & 077) {
        close(fd);
        return fail(out, err, errlen, -EACCES,
                    "secret file %s: permissions %04lo are too open: it must not be accessible "
                    "by group or others (chmod 600)",
                    path, (unsigned long)(st.st_mode & 07777));
    }
    /* One byte more than allowed (plus the newline) tells "too long" from "exactly max". */
    uint8_t buf[CFS_SECRET_MAX + 2];
    size_t n = 0;
    while (n < sizeof buf) {
        ssize_t r = read(fd, buf + n, sizeof buf - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            OPENSSL_cleanse(buf, sizeof buf);
            return fail(out, err, errlen, -e, "secret file %s: %s", path, strerror(e));
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    close(fd);
    if (n > 0 && buf[n - 1] == '\n') n--;
    int rc = 0;
    if (n < CFS_SECRET_MIN || n > CFS_SECRET_MAX) {
        rc = fail(out, err, errlen, -EINVAL, "secret file %s: %zu%s bytes, need %d..%d", path, n,
                  n > CFS_SECRET_MAX ? " or more" : "", CFS_SECRET_MIN, CFS_SECRET_MAX);
    } else {
        memcpy(out->bytes, buf, n);
        out->len = n;
        uint8_t id[CFS_HMAC_LEN];
        rc = cfs_secret_derive(out, "chunkfs key id v1", id);
        if (rc < 0)
            rc = fail(out, err, errlen, rc, "secret file %s: key derivation failed", path);
        else
            cfs_hex_encode(id, CFS_KEY_ID_HEX / 2, out->key_id);
    }
    OPENSSL_cleanse(buf, sizeof buf);
    return rc;
}

int cfs_secret_derive(const cfs_secret *s, const char *label, uint8_t key[CFS_HMAC_LEN])
{
    if (!s || !label || s->len < CFS_SECRET_MIN || s->len > CFS_SECRET_MAX) return -EINVAL;
    return cfs_hmac_sha256(s->bytes, s->len, (const uint8_t *)label, strlen(label), key);
}

void cfs_secret_wipe(cfs_secret *s)
{
    if (s) OPENSSL_cleanse(s, sizeof *s);
}

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static cfs_secret g_secret;
static bool g_have;

void cfs_secret_install(const cfs_secret *s)
{
    pthread_mutex_lock(&g_mu);
    cfs_secret_wipe(&g_secret);
    g_have = s != NULL;
    if (s) g_secret = *s;
    pthread_mutex_unlock(&g_mu);
    rpc_auth_set_secret(s);
}

bool cfs_secret_current(cfs_secret *out)
{
    pthread_mutex_lock(&g_mu);
    bool have = g_have;
    if (have && out) *out = g_secret;
    pthread_mutex_unlock(&g_mu);
    return have;
}
