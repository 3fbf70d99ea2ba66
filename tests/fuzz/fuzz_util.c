/* Helpers of the fuzz targets (see fuzz_util.h). */
#include "fuzz_util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"

bool fuzz_take_u8(fuzz_in *in, uint8_t *v)
{
    if (in->n == 0) return false;
    *v = in->p[0];
    in->p++;
    in->n--;
    return true;
}

bool fuzz_take_record(fuzz_in *in, const uint8_t **p, size_t *n)
{
    if (in->n < 2) return false;
    size_t want = (size_t)in->p[0] | (size_t)in->p[1] << 8;
    in->p += 2;
    in->n -= 2;
    if (want > in->n) want = in->n;
    *p = in->p;
    *n = want;
    in->p += want;
    in->n -= want;
    return true;
}

bool fuzz_put_record(uint8_t *buf, size_t cap, size_t *len, const uint8_t *p, size_t n)
{
    if (n > 0xffff || cap - *len < n + 2) return false;
    buf[(*len)++] = (uint8_t)(n & 0xff);
    buf[(*len)++] = (uint8_t)(n >> 8);
    if (n) memcpy(buf + *len, p, n);
    *len += n;
    return true;
}

void fuzz_quiet_logs(void)
{
    cfs_log_set_level((enum cfs_log_level)(CFS_LOG_ERROR + 1)); /* silent */
}

void fuzz_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fuzz: invariant broken: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

static char g_dir[4096];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP || flag == FTW_D)
        rmdir(path);
    else
        unlink(path);
    return 0;
}

void fuzz_remove_dir(void)
{
    if (g_dir[0]) nftw(g_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void remove_at_exit(void)
{
    fuzz_remove_dir();
}

const char *fuzz_fresh_dir(void)
{
    if (!g_dir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(g_dir, sizeof g_dir, "%s/cfs-fuzz-%d", t && t[0] ? t : "/tmp", (int)getpid());
        atexit(remove_at_exit);
    }
    fuzz_remove_dir();
    if (mkdir(g_dir, 0700) < 0) fuzz_fail("mkdir %s: %s", g_dir, strerror(errno));
    return g_dir;
}

static void make_parents(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *s = tmp + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
            fuzz_fail("mkdir %s: %s", tmp, strerror(errno));
        *s = '/';
    }
}

void fuzz_write_file(const char *path, const uint8_t *data, size_t len)
{
    make_parents(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) fuzz_fail("open %s: %s", path, strerror(errno));
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) fuzz_fail("write %s: %s", path, strerror(errno));
        off += (size_t)w;
    }
    close(fd);
}
