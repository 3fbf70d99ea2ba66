/* Start-up: open the data dirs, scan every chunk file, rebuild the index, quarantine what
 * cannot be trusted. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chunkserver/chunk_store_internal.h"
#include "common/crc32c.h"
#include "common/errors.h"
#include "common/log.h"

static int mkdir_ok(const char *path)
{
    if (mkdir(path, 0755) == 0 || errno == EEXIST) return 0;
    return -errno;
}

/* Takes <dir>/LOCK so that two chunkservers never share a data dir (their indexes would
 * diverge and each would overwrite the other's files). -EBUSY when another process has it. */
static int lock_dir(const char *dir, int *fd_out)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/LOCK", dir) >= (int)sizeof path) return -ENAMETOOLONG;
    int fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0644);
    if (fd < 0) return -errno;
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
        close(fd);
        return rc;
    }
    *fd_out = fd;
    return 0;
}

/* Parses "<16 lowercase hex>.chk"; 0 or -EINVAL. */
static int parse_name(const char *name, uint64_t *id)
{
    if (strlen(name) != 20 || strcmp(name + 16, ".chk") != 0) return -EINVAL;
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        char c = name[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) return -EINVAL;
        v = v << 4 | (uint64_t)d;
    }
    if (v == 0) return -EINVAL;
    *id = v;
    return 0;
}

/* Checks one chunk file; returns 0 and fills *h, or a quarantine reason. */
static const char *check_file(const char *path, uint64_t id, struct chunk_hdr *h)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) return "unreadable";
    const char *bad = NULL;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
        bad = "unreadable";
    else if ((uint64_t)st.st_size < CHUNK_DATA_OFF)
        bad = "short-header";
    else if (chunk_file_read_hdr(fd, h) < 0)
        bad = "bad-header";
    else if (h->chunk_id != id)
        bad = "name-mismatch";
    else if (h->flags & CHUNK_HDR_IMPORTING)
        bad = "partial-import";
    else if ((uint64_t)st.st_size < CHUNK_DATA_OFF + h->length)
        bad = "truncated";
    uint64_t data_end = bad ? 0 : (uint64_t)st.st_size - CHUNK_DATA_OFF; /* >= length */
    if (!bad && h->length > 0) {
        /* The last block is where a torn write shows; the scrubber checks the rest. */
        const uint64_t B = CHUNK_BLOCK_SIZE;
        uint32_t b = (uint32_t)((h->length - 1) / B);
        uint64_t bs = (uint64_t)b * B;
        size_t n = (size_t)(h->length - bs);
        size_t m = (size_t)(data_end - bs < B ? data_end - bs : B); /* incl. an unsynced tail */
        uint8_t *buf = malloc(B);
        uint32_t crc;
        if (!buf || chunk_file_read_crcs(fd, b, 1, &crc) < 0 ||
            chunk_pread_full(fd, buf, m, CHUNK_DATA_OFF + bs) < 0) {
            bad = "unreadable";
        } else if (crc32c(0, buf, n) != crc) {
            /* An unsynced append into the partial last block rewrote its CRC over the longer
             * extent. When that CRC matches the data up to the file's end, the synced bytes
             * are intact: the block's CRC is set back to the synced length. */
            uint32_t fixed = crc32c(0, buf, n);
            if (m <= n || crc32c(0, buf, m) != crc)
                bad = "crc";
            else if (chunk_file_write_crcs(fd, b, 1, &fixed) < 0)
                bad = "unreadable";
        }
        free(buf);
    }
    if (!bad && data_end > h->length) {
        /* Written after the last sync, never acknowledged: cut it off. */
        LOG_INFO("%s: dropping %" PRIu64 " unsynced bytes", path, data_end - h->length);
        if (ftruncate(fd, (off_t)(CHUNK_DATA_OFF + h->length)) < 0 || fdatasync(fd) < 0)
            bad = "unreadable";
    }
    close(fd);
    return bad;
}

static void scan_file(chunk_store *cs, int dir, const char *sub, const char *name, unsigned bucket)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", sub, name) >= (int)sizeof path) return;
    uint64_t id;
    if (parse_name(name, &id) < 0) {
        size_t nl = strlen(name);
        bool tmp = nl > 4 && strcmp(name + nl - 4, ".tmp") == 0;
        cs_move_to_quarantine(cs, dir, path, tmp ? "partial" : "unknown");
        return;
    }
    if ((id & 0xff) != bucket) {
        cs_move_to_quarantine(cs, dir, path, "wrong-dir");
        return;
    }
    struct chunk_hdr h;
    const char *bad = check_file(path, id, &h);
    if (bad) {
        cs_move_to_quarantine(cs, dir, path, bad);
        return;
    }
    struct chunk_entry *prev = cs_map_find(cs, id);
    if (prev) {
        /* The same chunk on two disks (a crash during a move, or a copied disk): keep the
         * newer version. */
        char ppath[PATH_MAX];
        if (prev->version >= h.version) {
            cs_move_to_quarantine(cs, dir, path, "duplicate");
            return;
        }
        if (cs_chunk_path(cs, prev->dir, id, ppath, sizeof ppath) == 0)
            cs_move_to_quarantine(cs, prev->dir, ppath, "duplicate");
        cs_map_remove(cs, prev);
        cs_entry_free(prev);
    }
    struct chunk_entry *e = cs_entry_new(id, h.version, h.length, h.seq, dir);
    if (!e) {
        LOG_ERROR("out of memory indexing %s", path);
        return;
    }
    cs_map_insert(cs, e);
}

static int scan_dir(chunk_store *cs, int dir)
{
    char chunks[PATH_MAX];
    snprintf(chunks, sizeof chunks, "%s/chunks", cs->dirs[dir]);
    DIR *d = opendir(chunks);
    if (!d) return -errno;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0) continue;
        char sub[PATH_MAX];
        if (snprintf(sub, sizeof sub, "%s/%s", chunks, n) >= (int)sizeof sub) continue;
        unsigned bucket;
        char extra;
        struct stat st;
        if (stat(sub, &st) < 0) continue;
        if (!S_ISDIR(st.st_mode) || strlen(n) != 2 || sscanf(n, "%2x%c", &bucket, &extra) != 1) {
            if (S_ISREG(st.st_mode)) cs_move_to_quarantine(cs, dir, sub, "unknown");
            continue;
        }
        DIR *sd = opendir(sub);
        if (!sd) {
            int rc = -errno;
            closedir(d);
            return rc;
        }
        struct dirent *fe;
        /* Names are collected first: quarantining renames entries out of the directory
         * being read. */
        char **names = NULL;
        size_t nn = 0, cap = 0;
        while ((fe = readdir(sd)) != NULL) {
            if (strcmp(fe->d_name, ".") == 0 || strcmp(fe->d_name, "..") == 0) continue;
            if (nn == cap) {
                cap = cap ? cap * 2 : 64;
                char **nv = realloc(names, cap * sizeof *nv);
                if (!nv) break;
                names = nv;
            }
            names[nn] = strdup(fe->d_name);
            if (names[nn]) nn++;
        }
        closedir(sd);
        for (size_t i = 0; i < nn; i++) {
            scan_file(cs, dir, sub, names[i], bucket);
            free(names[i]);
        }
        free(names);
    }
    closedir(d);
    return 0;
}

int chunk_store_open(const char *const *dirs, size_t ndirs, chunk_store **out)
{
    if (!dirs || ndirs == 0) return -EINVAL;
    chunk_store *cs = calloc(1, sizeof *cs);
    if (!cs) return -ENOMEM;
    pthread_mutex_init(&cs->map_lock, NULL);
    cs->nbuckets = 1024;
    cs->buckets = calloc(cs->nbuckets, sizeof *cs->buckets);
    cs->dirs = calloc(ndirs, sizeof *cs->dirs);
    cs->lock_fds = malloc(ndirs * sizeof *cs->lock_fds);
    if (cs->lock_fds)
        for (size_t i = 0; i < ndirs; i++)
            cs->lock_fds[i] = -1;
    if (!cs->buckets || !cs->dirs || !cs->lock_fds) {
        chunk_store_close(cs);
        return -ENOMEM;
    }
    for (size_t i = 0; i < ndirs; i++) {
        cs->dirs[i] = strdup(dirs[i]);
        if (!cs->dirs[i]) {
            chunk_store_close(cs);
            return -ENOMEM;
        }
        cs->ndirs++;
    }
    for (size_t i = 0; i < ndirs; i++) {
        char p[PATH_MAX];
        int rc = mkdir_ok(dirs[i]);
        if (rc == 0) rc = lock_dir(dirs[i], &cs->lock_fds[i]);
        if (rc == 0) {
            snprintf(p, sizeof p, "%s/chunks", dirs[i]);
            rc = mkdir_ok(p);
        }
        if (rc == 0) {
            snprintf(p, sizeof p, "%s/quarantine", dirs[i]);
            rc = mkdir_ok(p);
        }
        if (rc == 0) rc = scan_dir(cs, (int)i);
        if (rc < 0) {
            LOG_ERROR("data dir %s: %s", dirs[i], cfs_strerror(rc));
            chunk_store_close(cs);
            return rc;
        }
    }
    LOG_INFO("chunk store: %zu replicas in %zu data dirs", cs->count, cs->ndirs);
    *out = cs;
    return 0;
}
