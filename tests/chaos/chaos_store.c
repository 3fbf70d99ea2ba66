/* The two chaos_store backends. */
#include "tests/chaos/chaos_store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/chunkfs.h"

struct chaos_store {
    cfs_fs *fs;      /* libchunkfs backend, or NULL */
    char root[4096]; /* POSIX backend */
    cfs_cred cred;
};

int chaos_store_open_lib(const char *meta_addrs, int op_timeout_ms, chaos_store **out)
{
    chaos_store *s = calloc(1, sizeof *s);
    if (!s) return -ENOMEM;
    cfs_options o;
    cfs_options_init(&o);
    o.op_timeout_ms = op_timeout_ms;
    if (o.retry_window_ms > op_timeout_ms) o.retry_window_ms = op_timeout_ms;
    o.write_behind_bytes = 1 << 20;
    int rc = cfs_connect(meta_addrs, &o, &s->fs);
    if (rc < 0) {
        free(s);
        return rc;
    }
    cfs_cred_self(&s->cred);
    *out = s;
    return 0;
}

int chaos_store_open_posix(const char *root, chaos_store **out)
{
    chaos_store *s = calloc(1, sizeof *s);
    if (!s) return -ENOMEM;
    if (snprintf(s->root, sizeof s->root, "%s", root) >= (int)sizeof s->root) {
        free(s);
        return -ENAMETOOLONG;
    }
    *out = s;
    return 0;
}

void chaos_store_close(chaos_store *s)
{
    if (!s) return;
    if (s->fs) cfs_disconnect(s->fs);
    free(s);
}

static int full_path(const chaos_store *s, const char *path, char *buf, size_t cap)
{
    if (snprintf(buf, cap, "%s%s", s->root, path) >= (int)cap) return -ENAMETOOLONG;
    return 0;
}

int chaos_store_mkdirs(chaos_store *s, const char *dir)
{
    if (s->fs) return cfs_mkdir_path(s->fs, dir, 0755, true, &s->cred, NULL);
    char p[4096];
    int rc = full_path(s, dir, p, sizeof p);
    if (rc < 0) return rc;
    for (char *c = p + strlen(s->root) + 1; *c; c++) {
        if (*c != '/') continue;
        *c = 0;
        if (mkdir(p, 0755) != 0 && errno != EEXIST) return -errno;
        *c = '/';
    }
    if (mkdir(p, 0755) != 0 && errno != EEXIST) return -errno;
    return 0;
}

static int lib_write(chaos_store *s, const char *path, const uint8_t *data, size_t len)
{
    cfs_file *f;
    int rc = cfs_open_path(s->fs, path, O_WRONLY | O_CREAT | O_TRUNC, 0644, &s->cred, &f);
    if (rc < 0) return rc;
    for (size_t off = 0; off < len && rc == 0;) {
        size_t n = len - off < (256u << 10) ? len - off : (256u << 10);
        ssize_t w = cfs_pwrite(f, data + off, n, off);
        if (w < 0)
            rc = (int)w;
        else
            off += (size_t)w;
    }
    if (rc == 0) rc = cfs_fsync(f);
    int crc = cfs_close(f);
    return rc < 0 ? rc : crc;
}

static int posix_write(chaos_store *s, const char *path, const uint8_t *data, size_t len)
{
    char p[4096];
    int rc = full_path(s, path, p, sizeof p);
    if (rc < 0) return rc;
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return -errno;
    for (size_t off = 0; off < len && rc == 0;) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno != EINTR)
            rc = -errno;
        else if (w > 0)
            off += (size_t)w;
    }
    if (rc == 0 && fsync(fd) != 0) rc = -errno;
    if (close(fd) != 0 && rc == 0) rc = -errno;
    return rc;
}

int chaos_store_write(chaos_store *s, const char *path, const uint8_t *data, size_t len)
{
    return s->fs ? lib_write(s, path, data, len) : posix_write(s, path, data, len);
}

int chaos_store_unlink(chaos_store *s, const char *path)
{
    if (s->fs) {
        char parent[CFS_PATH_MAX], name[CFS_NAME_MAX + 1];
        cfs_attr pa;
        int rc = cfs_path_split(path, parent, name);
        if (rc == 0) rc = cfs_resolve(s->fs, parent, true, &s->cred, &pa);
        if (rc == 0) rc = cfs_unlink(s->fs, pa.ino, name, &s->cred);
        return rc;
    }
    char p[4096];
    int rc = full_path(s, path, p, sizeof p);
    if (rc < 0) return rc;
    return unlink(p) == 0 ? 0 : -errno;
}

static int lib_read(chaos_store *s, const char *path, uint64_t max_len, uint8_t **data,
                    uint64_t *len)
{
    cfs_file *f;
    int rc = cfs_open_path(s->fs, path, O_RDONLY, 0, &s->cred, &f);
    if (rc < 0) return rc;
    cfs_attr a;
    rc = cfs_fgetattr(f, &a);
    if (rc == 0 && a.size > max_len) rc = -EFBIG;
    uint8_t *buf = NULL;
    if (rc == 0 && a.size > 0 && !(buf = malloc(a.size))) rc = -ENOMEM;
    uint64_t got = 0;
    while (rc == 0 && got < a.size) {
        ssize_t r = cfs_pread(f, buf + got, a.size - got, got);
        if (r < 0)
            rc = (int)r;
        else if (r == 0)
            break;
        else
            got += (uint64_t)r;
    }
    int crc = cfs_close(f);
    if (rc == 0) rc = crc;
    if (rc < 0) {
        free(buf);
        return rc;
    }
    *data = buf;
    *len = got;
    return 0;
}

static int posix_read(chaos_store *s, const char *path, uint64_t max_len, uint8_t **data,
                      uint64_t *len)
{
    char p[4096];
    int rc = full_path(s, path, p, sizeof p);
    if (rc < 0) return rc;
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    uint8_t *buf = malloc(max_len + 1);
    if (!buf) {
        close(fd);
        return -ENOMEM;
    }
    uint64_t got = 0;
    while (got <= max_len) {
        ssize_t r = read(fd, buf + got, max_len + 1 - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            rc = -errno;
            break;
        }
        if (r == 0) break;
        got += (uint64_t)r;
    }
    close(fd);
    if (rc == 0 && got > max_len) rc = -EFBIG;
    if (rc < 0) {
        free(buf);
        return rc;
    }
    *data = buf;
    *len = got;
    return 0;
}

int chaos_store_read(chaos_store *s, const char *path, uint64_t max_len, uint8_t **data,
                     uint64_t *len)
{
    *data = NULL;
    *len = 0;
    return s->fs ? lib_read(s, path, max_len, data, len) : posix_read(s, path, max_len, data, len);
}
