#include "common/byte_order.h"
#include "common/fs_util.h"
#include "raft/raft_snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "common/crc32c.h"
#include "common/log.h"

#define SNAP_MAGIC "CFSSNAP1"
#define SNAP_VERSION 1u
#define SNAP_HDR 56u
#define SNAP_MAX_RAW (UINT64_C(1) << 36) /* 64 GiB: anything larger is a corrupt header */
#define SNAP_MAX_RATIO 1032u             /* deflate's largest expansion on inflate */

typedef struct snap_name {
    uint64_t term, index;
} snap_name;

static int write_all(int fd, const uint8_t *buf, size_t len)
{
    while (len > 0) {
        ssize_t k = write(fd, buf, len);
        if (k < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        buf += k;
        len -= (size_t)k;
    }
    return 0;
}

/* Snapshot files in dir, newest (highest index, then term) first. */
static int cmp_name_desc(const void *a, const void *b)
{
    const snap_name *x = a, *y = b;
    if (x->index != y->index) return x->index > y->index ? -1 : 1;
    if (x->term != y->term) return x->term > y->term ? -1 : 1;
    return 0;
}

static int list_snapshots(const char *dir, snap_name **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    DIR *d = opendir(dir);
    if (!d) return -errno;
    snap_name *v = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d)) != NULL) {
        snap_name s;
        char extra;
        if (strlen(de->d_name) != 5 + 16 + 1 + 16 ||
            sscanf(de->d_name, "snap-%16" SCNx64 "-%16" SCNx64 "%c", &s.term, &s.index, &extra) !=
                2)
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 8;
            snap_name *nv = realloc(v, nc * sizeof *nv);
            if (!nv) {
                rc = -ENOMEM;
                break;
            }
            v = nv;
            cap = nc;
        }
        v[n++] = s;
    }
    closedir(d);
    if (rc < 0) {
        free(v);
        return rc;
    }
    if (n > 1) qsort(v, n, sizeof *v, cmp_name_desc);
    *out = v;
    *n_out = n;
    return 0;
}

static void snap_path(const char *dir, uint64_t term, uint64_t index, char *buf, size_t len)
{
    snprintf(buf, len, "%s/snap-%016" PRIx64 "-%016" PRIx64, dir, term, index);
}

int raft_snapshot_save(const char *dir, const raft_snapshot *s, int keep)
{
    if (keep < 1 || s->meta.index == 0) return -EINVAL;
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) return -errno;
    uint8_t conf[RAFT_CONF_MAX_BYTES];
    int conf_len = raft_conf_encode(&s->meta.conf, conf, sizeof conf);
    if (conf_len < 0) return conf_len;
    uLongf comp_len = compressBound((uLong)s->len);
    uint8_t *file = malloc(SNAP_HDR + (size_t)conf_len + comp_len);
    if (!file) return -ENOMEM;
    uint8_t *comp = file + SNAP_HDR + conf_len;
    int zrc = compress2(comp, &comp_len, s->data ? s->data : (const uint8_t *)"", (uLong)s->len,
                        Z_BEST_SPEED);
    if (zrc != Z_OK) {
        free(file);
        LOG_ERROR("snapshot: zlib compress failed (%d)", zrc);
        return zrc == Z_MEM_ERROR ? -ENOMEM : -EIO;
    }
    memcpy(file + SNAP_HDR, conf, (size_t)conf_len);
    memcpy(file, SNAP_MAGIC, 8);
    cfs_put_le32(file + 8, SNAP_VERSION);
    cfs_put_le32(file + 12, (uint32_t)conf_len);
    cfs_put_le64(file + 16, s->meta.index);
    cfs_put_le64(file + 24, s->meta.term);
    cfs_put_le64(file + 32, (uint64_t)s->len);
    cfs_put_le64(file + 40, (uint64_t)comp_len);
    cfs_put_le32(file + 48, crc32c(0, file + SNAP_HDR, (size_t)conf_len + comp_len));
    cfs_put_le32(file + 52, crc32c(0, file, 52));
    size_t total = SNAP_HDR + (size_t)conf_len + comp_len;

    char path[4200], tmp[4300];
    snap_path(dir, s->meta.term, s->meta.index, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int rc = fd < 0 ? -errno : 0;
    if (rc == 0) rc = write_all(fd, file, total);
    if (rc == 0 && fsync(fd) < 0) rc = -errno;
    if (fd >= 0) close(fd);
    free(file);
    if (rc == 0 && rename(tmp, path) < 0) rc = -errno;
    if (rc == 0) rc = cfs_fsync_dir(dir);
    if (rc < 0) {
        unlink(tmp);
        LOG_ERROR("snapshot: cannot write %s: %s", path, strerror(-rc));
        return rc;
    }
    /* The new one is durable: older ones beyond `keep` may go. */
    snap_name *names;
    size_t n;
    if (list_snapshots(dir, &names, &n) == 0) {
        bool removed = false;
        for (size_t i = (size_t)keep; i < n; i++) {
            char old[4200];
            snap_path(dir, names[i].term, names[i].index, old, sizeof old);
            if (unlink(old) == 0) removed = true;
        }
        free(names);
        if (removed) cfs_fsync_dir(dir);
    }
    return 0;
}

/* Reads and checks one file. Returns 0, or a reason in *why and -EIO. */
static int load_one(const char *path, const snap_name *nm, raft_snapshot *out, const char **why)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = cfs_read_file(path, &buf, &len);
    if (rc < 0) {
        *why = "unreadable";
        return rc;
    }
    rc = -EIO;
    if (len < SNAP_HDR || memcmp(buf, SNAP_MAGIC, 8) != 0) {
        *why = "bad magic or short header";
        goto out;
    }
    if (cfs_get_le32(buf + 52) != crc32c(0, buf, 52)) {
        *why = "header checksum mismatch";
        goto out;
    }
    uint32_t version = cfs_get_le32(buf + 8), conf_len = cfs_get_le32(buf + 12);
    uint64_t index = cfs_get_le64(buf + 16), term = cfs_get_le64(buf + 24);
    uint64_t raw_len = cfs_get_le64(buf + 32), comp_len = cfs_get_le64(buf + 40);
    if (version != SNAP_VERSION) {
        *why = "unknown format version";
        goto out;
    }
    if (index != nm->index || term != nm->term) {
        *why = "header does not match the file name";
        goto out;
    }
    /* raw_len is bounded by what comp_len can inflate to (deflate expands at most 1032:1), so
     * a header cannot make the reader allocate more than ~1000x the file's size. */
    if (conf_len > RAFT_CONF_MAX_BYTES || comp_len > len || raw_len > SNAP_MAX_RAW ||
        raw_len > comp_len * SNAP_MAX_RATIO + 64 || SNAP_HDR + conf_len + comp_len != len) {
        *why = "length fields do not match the file size";
        goto out;
    }
    if (cfs_get_le32(buf + 48) != crc32c(0, buf + SNAP_HDR, conf_len + comp_len)) {
        *why = "data checksum mismatch";
        goto out;
    }
    raft_snapshot s = {.meta = {.index = index, .term = term}};
    if (raft_conf_decode(buf + SNAP_HDR, conf_len, &s.meta.conf) < 0) {
        *why = "membership does not decode";
        goto out;
    }
    s.data = malloc(raw_len ? (size_t)raw_len : 1);
    if (!s.data) {
        rc = -ENOMEM;
        *why = "out of memory";
        goto out;
    }
    uLongf dlen = (uLongf)raw_len;
    int zrc = uncompress(s.data, &dlen, buf + SNAP_HDR + conf_len, (uLong)comp_len);
    if (zrc != Z_OK || dlen != raw_len) {
        free(s.data);
        *why = "image does not decompress to its recorded length";
        goto out;
    }
    s.len = (size_t)raw_len;
    *out = s;
    rc = 0;
out:
    free(buf);
    return rc;
}

int raft_snapshot_load(const char *dir, raft_snapshot *out)
{
    memset(out, 0, sizeof *out);
    snap_name *names;
    size_t n;
    int rc = list_snapshots(dir, &names, &n);
    if (rc == -ENOENT) return -ENOENT;
    if (rc < 0) return rc;
    if (n == 0) {
        free(names);
        return -ENOENT;
    }
    rc = -EIO;
    for (size_t i = 0; i < n; i++) {
        char path[4200];
        snap_path(dir, names[i].term, names[i].index, path, sizeof path);
        const char *why = "";
        int r = load_one(path, &names[i], out, &why);
        if (r == 0) {
            rc = 0;
            /* The newer files that failed leave the rotation (kept as evidence), so that
             * the next snapshot's "keep" count and the log compaction point only ever count
             * valid files. */
            for (size_t k = 0; k < i; k++) {
                char bad[4200], moved[4300];
                snap_path(dir, names[k].term, names[k].index, bad, sizeof bad);
                snprintf(moved, sizeof moved, "%s.corrupt", bad);
                if (rename(bad, moved) == 0) LOG_WARN("snapshot: renamed %s to %s", bad, moved);
            }
            if (i > 0) cfs_fsync_dir(dir);
            break;
        }
        if (r == -ENOMEM) {
            rc = r;
            break;
        }
        LOG_ERROR("snapshot: skipping %s: %s", path, why);
    }
    if (rc == -EIO) LOG_ERROR("snapshot: %zu snapshot file(s) in %s and none is valid", n, dir);
    free(names);
    return rc;
}

uint64_t raft_snapshot_oldest_index(const char *dir)
{
    snap_name *names;
    size_t n;
    if (list_snapshots(dir, &names, &n) < 0) return 0;
    uint64_t idx = n ? names[n - 1].index : 0;
    free(names);
    return idx;
}

uint64_t raft_snapshot_dir_bytes(const char *dir)
{
    snap_name *names;
    size_t n;
    if (list_snapshots(dir, &names, &n) < 0) return 0;
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        char path[4200];
        struct stat st;
        snap_path(dir, names[i].term, names[i].index, path, sizeof path);
        if (stat(path, &st) == 0) total += (uint64_t)st.st_size;
    }
    free(names);
    return total;
}

void raft_snapshot_release(raft_snapshot *s)
{
    free(s->data);
    s->data = NULL;
    s->len = 0;
}
