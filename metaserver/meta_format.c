#include "metaserver/meta_format.h"

#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define CLUSTER_FILE "cluster.ini"

int meta_format_check(const meta_cluster_params *p)
{
    size_t n = strnlen(p->cluster_id, sizeof(p->cluster_id));
    if (n == 0 || n >= sizeof(p->cluster_id)) return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        char c = p->cluster_id[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok) return -EINVAL;
    }
    if (p->chunk_size < (64u << 10) || p->chunk_size > (1u << 30) ||
        (p->chunk_size & (p->chunk_size - 1)) != 0)
        return -EINVAL;
    if (p->goal < 1 || p->goal > 16) return -EINVAL;
    return 0;
}

static int path_join(char *out, size_t len, const char *dir, const char *name)
{
    int n = snprintf(out, len, "%s/%s", dir, name);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int mkdir_if_missing(const char *path)
{
    if (mkdir(path, 0755) == 0 || errno == EEXIST) return 0;
    return -errno;
}

int meta_format_write(const char *data_dir, const meta_cluster_params *p)
{
    int rc = meta_format_check(p);
    if (rc) return rc;
    char file[PATH_MAX], tmp[PATH_MAX], raft[PATH_MAX];
    if ((rc = path_join(file, sizeof(file), data_dir, CLUSTER_FILE)) ||
        (rc = path_join(tmp, sizeof(tmp), data_dir, CLUSTER_FILE ".tmp")) ||
        (rc = path_join(raft, sizeof(raft), data_dir, "raft")))
        return rc;
    if ((rc = mkdir_if_missing(data_dir))) return rc;
    if (access(file, F_OK) == 0) return -EEXIST;
    if ((rc = mkdir_if_missing(raft))) return rc;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return -errno;
    char text[256];
    int n =
        snprintf(text, sizeof(text), "[cluster]\ncluster_id = %s\nchunk_size = %llu\ngoal = %u\n",
                 p->cluster_id, (unsigned long long)p->chunk_size, p->goal);
    rc = 0;
    if (write(fd, text, (size_t)n) != n) rc = errno ? -errno : -EIO;
    if (!rc && fsync(fd) != 0) rc = -errno;
    if (close(fd) != 0 && !rc) rc = -errno;
    if (!rc && rename(tmp, file) != 0) rc = -errno;
    if (rc) {
        unlink(tmp);
        return rc;
    }
    /* Make the rename durable. */
    int dfd = open(data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return -errno;
    rc = fsync(dfd) == 0 ? 0 : -errno;
    close(dfd);
    return rc;
}

struct parse_state {
    meta_cluster_params *p;
    bool have_id, have_size, have_goal, bad;
};

static bool parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s || *s == '-') return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end) return false;
    *out = v;
    return true;
}

static int on_kv(void *arg, const char *section, const char *name, const char *value)
{
    struct parse_state *st = arg;
    uint64_t v;
    if (strcmp(section, "cluster") != 0) {
        st->bad = true;
    } else if (strcmp(name, "cluster_id") == 0) {
        if (strlen(value) >= sizeof(st->p->cluster_id))
            st->bad = true;
        else
            snprintf(st->p->cluster_id, sizeof(st->p->cluster_id), "%s", value);
        st->have_id = true;
    } else if (strcmp(name, "chunk_size") == 0) {
        if (!parse_u64(value, &v))
            st->bad = true;
        else
            st->p->chunk_size = v;
        st->have_size = true;
    } else if (strcmp(name, "goal") == 0) {
        if (!parse_u64(value, &v) || v > 16)
            st->bad = true;
        else
            st->p->goal = (uint32_t)v;
        st->have_goal = true;
    } else {
        st->bad = true;
    }
    return 1;
}

int meta_format_read(const char *data_dir, meta_cluster_params *p)
{
    char file[PATH_MAX];
    int rc = path_join(file, sizeof(file), data_dir, CLUSTER_FILE);
    if (rc) return rc;
    FILE *f = fopen(file, "r");
    if (!f) return -errno;
    memset(p, 0, sizeof(*p));
    struct parse_state st = {.p = p};
    int prc = ini_parse_file(f, on_kv, &st);
    fclose(f);
    if (prc != 0 || st.bad || !st.have_id || !st.have_size || !st.have_goal) return -EINVAL;
    return meta_format_check(p);
}

int meta_format_new_id(char *buf, size_t len)
{
    if (len < 17) return -EINVAL;
    uint8_t r[8];
    ssize_t n = getrandom(r, sizeof(r), 0);
    if (n != (ssize_t)sizeof(r)) return n < 0 ? -errno : -EIO;
    for (int i = 0; i < 8; i++)
        snprintf(buf + 2 * i, 3, "%02x", r[i]);
    return 0;
}

int meta_parse_size(const char *s, uint64_t *out)
{
    if (!s || !*s || *s == '-') return -EINVAL;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s) return -EINVAL;
    unsigned shift = 0;
    if (*end == 'K' || *end == 'k')
        shift = 10;
    else if (*end == 'M' || *end == 'm')
        shift = 20;
    else if (*end == 'G' || *end == 'g')
        shift = 30;
    else if (*end != '\0')
        return -EINVAL;
    if (shift) end++;
    if (*end == 'i' && shift) end++; /* "64Mi" */
    if (*end == 'B' && shift) end++; /* "64MB" / "64MiB" */
    if (*end != '\0') return -EINVAL;
    if (shift && v > (UINT64_MAX >> shift)) return -EINVAL;
    *out = (uint64_t)v << shift;
    return 0;
}
