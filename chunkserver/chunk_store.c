/* Chunk store operations: the index, write sessions, reads with CRC checks, versions. The
 * start-up scan lives in chunk_store_scan.c. */
#include "chunkserver/chunk_store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "chunkserver/chunk_metrics.h"
#include "chunkserver/chunk_store_internal.h"
#include "common/crc32c.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/time_util.h"

/* ------------------------------------------------------------------ index */

static size_t bucket_of(const chunk_store *cs, uint64_t id)
{
    uint64_t h = id * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 32) % cs->nbuckets;
}

struct chunk_entry *cs_map_find(chunk_store *cs, uint64_t id)
{
    for (struct chunk_entry *e = cs->buckets[bucket_of(cs, id)]; e; e = e->next)
        if (e->id == id) return e;
    return NULL;
}

static void map_grow(chunk_store *cs)
{
    size_t nb = cs->nbuckets * 2;
    struct chunk_entry **b = calloc(nb, sizeof *b);
    if (!b) return; /* longer chains are slower, not wrong */
    struct chunk_entry **old = cs->buckets;
    size_t onb = cs->nbuckets;
    cs->buckets = b;
    cs->nbuckets = nb;
    for (size_t i = 0; i < onb; i++) {
        struct chunk_entry *e = old[i];
        while (e) {
            struct chunk_entry *n = e->next;
            size_t k = bucket_of(cs, e->id);
            e->next = b[k];
            b[k] = e;
            e = n;
        }
    }
    free(old);
}

void cs_map_insert(chunk_store *cs, struct chunk_entry *e)
{
    if (cs->count + 1 > cs->nbuckets) map_grow(cs);
    size_t k = bucket_of(cs, e->id);
    e->next = cs->buckets[k];
    cs->buckets[k] = e;
    cs->count++;
}

void cs_map_remove(chunk_store *cs, struct chunk_entry *e)
{
    struct chunk_entry **pp = &cs->buckets[bucket_of(cs, e->id)];
    while (*pp && *pp != e)
        pp = &(*pp)->next;
    if (*pp) {
        *pp = e->next;
        cs->count--;
    }
    e->next = NULL;
}

struct chunk_entry *cs_entry_new(uint64_t id, uint64_t version, uint64_t length, uint64_t seq,
                                 int dir)
{
    struct chunk_entry *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->id = id;
    e->version = version;
    e->length = length;
    e->hdr_length = length;
    e->hdr_seq = seq;
    e->dir = dir;
    e->fd = -1;
    pthread_mutex_init(&e->lock, NULL);
    return e;
}

void cs_entry_free(struct chunk_entry *e)
{
    if (e->fd >= 0) close(e->fd);
    pthread_mutex_destroy(&e->lock);
    free(e);
}

/* Returns the entry locked with a reference held, or NULL when absent. */
static struct chunk_entry *acquire(chunk_store *cs, uint64_t id)
{
    pthread_mutex_lock(&cs->map_lock);
    struct chunk_entry *e = cs_map_find(cs, id);
    if (e) e->refs++;
    pthread_mutex_unlock(&cs->map_lock);
    if (!e) return NULL;
    pthread_mutex_lock(&e->lock);
    if (!e->dead) return e;
    pthread_mutex_unlock(&e->lock);
    pthread_mutex_lock(&cs->map_lock);
    int last = --e->refs == 0;
    pthread_mutex_unlock(&cs->map_lock);
    if (last) cs_entry_free(e);
    return NULL;
}

/* Unlocks and drops the reference; frees an entry that died and has no users left. */
static void put(chunk_store *cs, struct chunk_entry *e)
{
    bool dead = e->dead;
    pthread_mutex_unlock(&e->lock);
    pthread_mutex_lock(&cs->map_lock);
    int last = --e->refs == 0 && dead;
    pthread_mutex_unlock(&cs->map_lock);
    if (last) cs_entry_free(e);
}

/* Removes a locked entry from the index; it is freed by the last put. */
static void kill_entry(chunk_store *cs, struct chunk_entry *e)
{
    e->dead = true;
    if (e->fd >= 0) close(e->fd);
    e->fd = -1;
    pthread_mutex_lock(&cs->map_lock);
    cs_map_remove(cs, e);
    pthread_mutex_unlock(&cs->map_lock);
}

static void notify(chunk_store *cs, enum chunk_event ev, uint64_t id, uint64_t ver, uint64_t len)
{
    if (cs->listener) cs->listener(cs->listener_arg, ev, id, ver, len);
}

/* ------------------------------------------------------------------ paths */

int cs_chunk_path(const chunk_store *cs, int dir, uint64_t id, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s/chunks/%02x/%016" PRIx64 ".chk", cs->dirs[dir],
                     (unsigned)(id & 0xff), id);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int cs_fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -errno;
    int rc = fsync(fd) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

int cs_move_to_quarantine(const chunk_store *cs, int dir, const char *path, const char *reason)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char dst[PATH_MAX];
    int n = snprintf(dst, sizeof dst, "%s/quarantine/%s.%s.%lld%09ld", cs->dirs[dir], base, reason,
                     (long long)ts.tv_sec, ts.tv_nsec);
    if (n < 0 || (size_t)n >= sizeof dst) return -ENAMETOOLONG;
    if (rename(path, dst) < 0) {
        int rc = -errno;
        LOG_ERROR("quarantine %s -> %s: %s", path, dst, cfs_strerror(rc));
        return rc;
    }
    LOG_WARN("quarantined %s (%s) to %s", path, reason, dst);
    char qdir[PATH_MAX];
    snprintf(qdir, sizeof qdir, "%s/quarantine", cs->dirs[dir]);
    cs_fsync_dir(qdir);
    return 0;
}

/* Where a locked entry's file is now: <id>.chk, or <id>.chk.tmp while it is fresh. */
static int entry_path(const chunk_store *cs, const struct chunk_entry *e, char *buf, size_t len)
{
    int rc = cs_chunk_path(cs, e->dir, e->id, buf, len);
    if (rc == 0 && e->fresh) {
        size_t n = strlen(buf);
        if (n + 5 > len) return -ENAMETOOLONG;
        memcpy(buf + n, ".tmp", 5);
    }
    return rc;
}

static int open_entry(chunk_store *cs, struct chunk_entry *e, int flags)
{
    char path[PATH_MAX];
    int rc = entry_path(cs, e, path, sizeof path);
    if (rc < 0) return rc;
    int fd = open(path, flags | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

/* The file of a locked entry: the descriptor its write sessions keep open, else a new one
 * (*owned: the caller closes it with entry_fd_done). */
static int entry_fd(chunk_store *cs, struct chunk_entry *e, int flags, bool *owned)
{
    *owned = e->fd < 0;
    return e->fd >= 0 ? e->fd : open_entry(cs, e, flags);
}

static void entry_fd_done(int fd, bool owned)
{
    if (owned && fd >= 0) close(fd);
}

/* Moves a locked entry's file aside and drops it from the index. */
static void quarantine_locked(chunk_store *cs, struct chunk_entry *e, const char *reason)
{
    char path[PATH_MAX];
    if (entry_path(cs, e, path, sizeof path) == 0 &&
        cs_move_to_quarantine(cs, e->dir, path, reason) < 0) {
        /* Could not move it: delete it rather than keep serving a bad replica. */
        if (unlink(path) < 0) LOG_ERROR("cannot remove bad replica %s: %s", path, strerror(errno));
    }
    kill_entry(cs, e);
}

/* ------------------------------------------------------------------ public: setup */

void chunk_store_set_listener(chunk_store *cs, chunk_listener_fn fn, void *arg)
{
    cs->listener = fn;
    cs->listener_arg = arg;
}

size_t chunk_store_ndirs(const chunk_store *cs)
{
    return cs->ndirs;
}

const char *chunk_store_dir(const chunk_store *cs, size_t i)
{
    return i < cs->ndirs ? cs->dirs[i] : NULL;
}

void chunk_store_close(chunk_store *cs)
{
    if (!cs) return;
    for (size_t i = 0; i < cs->nbuckets; i++) {
        struct chunk_entry *e = cs->buckets[i];
        while (e) {
            struct chunk_entry *n = e->next;
            cs_entry_free(e);
            e = n;
        }
    }
    free(cs->buckets);
    for (size_t i = 0; i < cs->ndirs; i++) {
        free(cs->dirs[i]);
        if (cs->lock_fds && cs->lock_fds[i] >= 0) close(cs->lock_fds[i]); /* releases the flock */
    }
    free(cs->lock_fds);
    free(cs->dirs);
    pthread_mutex_destroy(&cs->map_lock);
    free(cs);
}

/* ------------------------------------------------------------------ create / versions */

static int pick_dir(chunk_store *cs)
{
    int best = -1;
    uint64_t best_free = 0;
    for (size_t i = 0; i < cs->ndirs; i++) {
        struct statvfs sv;
        if (statvfs(cs->dirs[i], &sv) < 0) continue;
        uint64_t fr = (uint64_t)sv.f_bavail * sv.f_frsize;
        if (best < 0 || fr > best_free) {
            best = (int)i;
            best_free = fr;
        }
    }
    return best < 0 ? -EIO : best;
}

/* Creates the file of a new replica as <id>.chk.tmp: the 8 KiB header area in one write
 * (slot 0 with seq 0, zero CRC table), not synced. The file stays open in e->fd and keeps
 * its temporary name until the first sync makes its content durable (publish_locked): a
 * crash before that leaves only a .tmp file, which the start-up scan never takes. */
static int create_file(chunk_store *cs, struct chunk_entry *e)
{
    char path[PATH_MAX], tmp[PATH_MAX + 8], sub[PATH_MAX];
    int rc = cs_chunk_path(cs, e->dir, e->id, path, sizeof path);
    if (rc < 0) return rc;
    snprintf(sub, sizeof sub, "%s/chunks/%02x", cs->dirs[e->dir], (unsigned)(e->id & 0xff));
    if (mkdir(sub, 0755) == 0) {
        /* A new bucket dir: its own name must be durable before a file in it counts. */
        char top[PATH_MAX];
        snprintf(top, sizeof top, "%s/chunks", cs->dirs[e->dir]);
        if ((rc = cs_fsync_dir(top)) < 0) return rc;
    } else if (errno != EEXIST) {
        return -errno;
    }
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    unlink(tmp); /* a leftover from a crash before the first sync */
    int fd = open(tmp, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0644);
    if (fd < 0) return -errno;
    /* The whole header area is written (not left sparse) so CRC-table updates never need
     * new disk blocks and cannot fail with ENOSPC later. */
    uint8_t area[CHUNK_DATA_OFF];
    memset(area, 0, sizeof area);
    struct chunk_hdr h = {.seq = 0,
                          .chunk_id = e->id,
                          .version = e->version,
                          .length = 0,
                          .flags = e->importing ? CHUNK_HDR_IMPORTING : 0};
    chunk_hdr_encode(&h, area);
    rc = chunk_pwrite_full(fd, area, sizeof area, 0);
    if (rc < 0) {
        close(fd);
        unlink(tmp);
        return rc;
    }
    e->fd = fd;
    e->fresh = true;
    e->hdr_seq = 0;
    e->hdr_length = 0;
    return 0;
}

/* After an fdatasync of a fresh replica (its content is durable): gives it its real name and
 * makes that durable (rename <id>.chk.tmp -> <id>.chk, fsync the directory). A failed
 * directory fsync is retried by the next call. No-op for a published replica. */
static int publish_locked(chunk_store *cs, struct chunk_entry *e)
{
    if (!e->fresh && !e->name_unsynced) return 0;
    char path[PATH_MAX], tmp[PATH_MAX + 8];
    int rc = cs_chunk_path(cs, e->dir, e->id, path, sizeof path);
    if (rc < 0) return rc;
    if (e->fresh) {
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        if (rename(tmp, path) < 0) return -errno;
        e->fresh = false;
        e->name_unsynced = true;
    }
    *strrchr(path, '/') = '\0';
    rc = cs_fsync_dir(path);
    if (rc == 0) e->name_unsynced = false;
    return rc;
}

/* Writes a new header (next seq) with `version` and the current length; fdatasync. */
static int write_header(chunk_store *cs, struct chunk_entry *e, int fd, uint64_t version,
                        uint64_t length)
{
    (void)cs;
    struct chunk_hdr h = {
        .seq = e->hdr_seq + 1,
        .chunk_id = e->id,
        .version = version,
        .length = length,
        .flags = e->importing ? CHUNK_HDR_IMPORTING : 0,
    };
    int rc = chunk_file_write_hdr(fd, &h);
    if (rc == 0 && fdatasync(fd) < 0) rc = -errno;
    if (rc < 0) return rc;
    e->hdr_seq = h.seq;
    e->hdr_length = length;
    e->version = version;
    return 0;
}

static int set_version_locked(chunk_store *cs, struct chunk_entry *e, uint64_t version)
{
    bool owned;
    int fd = entry_fd(cs, e, O_RDWR, &owned);
    if (fd < 0) return fd;
    int rc = write_header(cs, e, fd, version, e->length);
    entry_fd_done(fd, owned);
    if (rc == 0) rc = publish_locked(cs, e);
    return rc;
}

/* Creates a new replica (absent from the index) with one write session (or import) begun.
 * -EEXIST when the id is taken. */
static int create_entry(chunk_store *cs, uint64_t chunk_id, uint64_t version, bool importing)
{
    int dir = pick_dir(cs);
    if (dir < 0) return dir;
    struct chunk_entry *e = cs_entry_new(chunk_id, version, 0, 0, dir);
    if (!e) return -ENOMEM;
    e->refs = 1;
    e->importing = importing;
    e->writers = 1;
    pthread_mutex_lock(&e->lock);
    pthread_mutex_lock(&cs->map_lock);
    if (cs_map_find(cs, chunk_id)) {
        pthread_mutex_unlock(&cs->map_lock);
        pthread_mutex_unlock(&e->lock);
        cs_entry_free(e);
        return -EEXIST;
    }
    cs_map_insert(cs, e);
    pthread_mutex_unlock(&cs->map_lock);
    int rc = create_file(cs, e);
    if (rc < 0) {
        LOG_WARN("create chunk %016" PRIx64 ": %s", chunk_id, cfs_strerror(rc));
        kill_entry(cs, e);
    }
    put(cs, e);
    if (rc == 0 && !importing) notify(cs, CHUNK_ADDED, chunk_id, version, 0);
    return rc;
}

int chunk_store_begin_write(chunk_store *cs, uint64_t chunk_id, uint64_t version,
                            uint64_t base_version)
{
    if (chunk_id == 0 || version == 0 || version <= base_version) return -EINVAL;
    for (int attempt = 0; attempt < 3; attempt++) {
        struct chunk_entry *e = acquire(cs, chunk_id);
        if (e) {
            int rc;
            uint64_t len = e->length;
            bool bumped = false;
            if (e->importing) {
                rc = -EBUSY;
            } else if (e->version == version) {
                rc = 0;
            } else if (base_version != 0 && e->version == base_version) {
                rc = set_version_locked(cs, e, version);
                bumped = rc == 0;
            } else {
                rc = -CFS_ESTALE_VER;
            }
            if (rc == 0 && e->fd < 0) {
                rc = open_entry(cs, e, O_RDWR);
                if (rc >= 0) e->fd = rc;
                rc = rc < 0 ? rc : 0;
            }
            if (rc == 0) e->writers++;
            put(cs, e);
            if (bumped) notify(cs, CHUNK_ADDED, chunk_id, version, len);
            return rc;
        }
        if (base_version != 0) return -CFS_ESTALE_VER;
        int rc = create_entry(cs, chunk_id, version, false);
        if (rc != -EEXIST) /* -EEXIST: lost a race with another creator; look again */
            return rc;
    }
    return -EAGAIN;
}

int chunk_store_end_write(chunk_store *cs, uint64_t chunk_id)
{
    struct chunk_entry *e = acquire(cs, chunk_id);
    if (!e) return -ENOENT;
    if (e->writers > 0 && --e->writers == 0 && e->fd >= 0) {
        close(e->fd);
        e->fd = -1;
    }
    put(cs, e);
    return 0;
}

int chunk_store_import_begin(chunk_store *cs, uint64_t chunk_id, uint64_t version)
{
    if (chunk_id == 0 || version == 0) return -EINVAL;
    return create_entry(cs, chunk_id, version, true);
}

int chunk_store_import_end(chunk_store *cs, uint64_t chunk_id, uint64_t version, bool ok)
{
    struct chunk_entry *e = acquire(cs, chunk_id);
    if (!e) return -ENOENT;
    if (!e->importing || e->version != version) {
        put(cs, e);
        return -CFS_ESTALE_VER;
    }
    int rc = 0;
    uint64_t len = e->length;
    if (ok) {
        bool owned;
        int fd = entry_fd(cs, e, O_RDWR, &owned);
        rc = fd;
        if (fd >= 0) {
            e->importing = false;
            rc = write_header(cs, e, fd, e->version, e->length);
            if (rc == 0) rc = publish_locked(cs, e);
            if (rc < 0) e->importing = true;
            entry_fd_done(fd, owned);
        }
    }
    if (e->writers > 0 && --e->writers == 0 && e->fd >= 0) {
        close(e->fd);
        e->fd = -1;
    }
    if (!ok || rc < 0) {
        char path[PATH_MAX];
        if (entry_path(cs, e, path, sizeof path) == 0) unlink(path);
        kill_entry(cs, e);
    }
    put(cs, e);
    if (ok && rc == 0) notify(cs, CHUNK_ADDED, chunk_id, version, len);
    return rc;
}

int chunk_store_set_version(chunk_store *cs, uint64_t chunk_id, uint64_t old_version,
                            uint64_t new_version)
{
    if (chunk_id == 0 || new_version == 0) return -EINVAL;
    struct chunk_entry *e = acquire(cs, chunk_id);
    if (!e) return -ENOENT;
    int rc = 0;
    if (e->importing)
        rc = -EBUSY;
    else if (e->version == new_version)
        rc = 0;
    else if (e->version != old_version)
        rc = -CFS_ESTALE_VER;
    else
        rc = set_version_locked(cs, e, new_version);
    uint64_t len = e->length;
    bool changed = rc == 0 && old_version != new_version;
    put(cs, e);
    if (changed) notify(cs, CHUNK_ADDED, chunk_id, new_version, len);
    return rc;
}

/* ------------------------------------------------------------------ write / truncate / sync */

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

/* Applies a write of [off, off+len) (len may be 0: zero-extend to off) to a locked entry.
 * All new CRCs are computed (and old partial blocks verified) before the file is touched, so
 * a CRC failure changes nothing. *damaged is set when a failure may have left old data
 * overwritten. */
static int apply_write(struct chunk_entry *e, int fd, uint64_t off, const uint8_t *buf, size_t len,
                       bool *damaged)
{
    const uint64_t B = CHUNK_BLOCK_SIZE;
    uint64_t old = e->length, end = off + len, new_len = max_u64(old, end);
    uint64_t lo = min_u64(off, old); /* a gap [old, off) also changes CRCs */
    uint64_t hi = end;
    *damaged = false;
    if (hi <= lo) return 0;
    uint32_t b0 = (uint32_t)(lo / B), b1 = (uint32_t)((hi - 1) / B), nb = b1 - b0 + 1;
    uint32_t old_blocks = (uint32_t)((old + B - 1) / B);
    uint32_t *crcs = malloc(nb * sizeof *crcs);
    uint8_t *tmp = NULL;
    int rc = crcs ? 0 : -ENOMEM;
    if (rc == 0 && b0 < old_blocks)
        rc = chunk_file_read_crcs(fd, b0, (b1 < old_blocks ? b1 + 1 : old_blocks) - b0, crcs);
    for (uint32_t b = b0; rc == 0 && b <= b1; b++) {
        uint64_t bs = (uint64_t)b * B, be = min_u64(bs + B, new_len);
        if (off <= bs && end >= be) {
            crcs[b - b0] = crc32c(0, buf + (bs - off), (size_t)(be - bs));
            continue;
        }
        if (!tmp && !(tmp = malloc(B))) {
            rc = -ENOMEM;
            break;
        }
        memset(tmp, 0, B);
        uint64_t oe = min_u64(bs + B, old);
        if (oe > bs) {
            rc = chunk_pread_full(fd, tmp, (size_t)(oe - bs), CHUNK_DATA_OFF + bs);
            if (rc == 0 && crc32c(0, tmp, (size_t)(oe - bs)) != crcs[b - b0]) rc = -CFS_ECORRUPT;
            if (rc < 0) break;
        }
        uint64_t s = max_u64(bs, off), t = min_u64(be, end);
        if (t > s) memcpy(tmp + (s - bs), buf + (s - off), (size_t)(t - s));
        crcs[b - b0] = crc32c(0, tmp, (size_t)(be - bs));
    }
    free(tmp);
    if (rc < 0) {
        free(crcs);
        return rc;
    }
    if (new_len > old) {
        /* Reserve the space first: a full disk fails here, before anything changed. */
        if (fallocate(fd, 0, (off_t)(CHUNK_DATA_OFF + old), (off_t)(new_len - old)) < 0 &&
            errno != EOPNOTSUPP) {
            rc = -errno;
            if (ftruncate(fd, (off_t)(CHUNK_DATA_OFF + old)) < 0)
                LOG_ERROR("chunk %016" PRIx64 ": cannot undo extension: %s", e->id,
                          strerror(errno));
            free(crcs);
            return rc;
        }
    }
    if (len > 0) rc = chunk_pwrite_full(fd, buf, len, CHUNK_DATA_OFF + off);
    if (rc == 0 && new_len > old && ftruncate(fd, (off_t)(CHUNK_DATA_OFF + new_len)) < 0)
        rc = -errno;
    if (rc == 0) rc = chunk_file_write_crcs(fd, b0, nb, crcs);
    free(crcs);
    if (rc < 0) {
        *damaged = off < old;
        if (ftruncate(fd, (off_t)(CHUNK_DATA_OFF + old)) < 0) *damaged = true;
        return rc;
    }
    e->length = new_len;
    return 0;
}

int chunk_store_write(chunk_store *cs, uint64_t chunk_id, uint64_t version, uint64_t off,
                      const void *buf, size_t len)
{
    if (chunk_id == 0 || version == 0 || off > CHUNK_MAX_SIZE || len > CHUNK_MAX_SIZE - off ||
        (len > 0 && !buf))
        return -EINVAL;
    if (len == 0) return 0;
    struct chunk_entry *e = acquire(cs, chunk_id);
    if (!e) return -ENOENT;
    if (e->version != version) {
        put(cs, e);
        return -CFS_ESTALE_VER;
    }
    bool owned;
    int fd = entry_fd(cs, e, O_RDWR, &owned);
    if (fd < 0) {
        put(cs, e);
        return fd;
    }
    bool damaged = false;
    int rc = apply_write(e, fd, off, buf, len, &damaged);
    entry_fd_done(fd, owned);
    uint64_t ver = e->version, elen = e->length;
    if (damaged)
        quarantine_locked(cs, e, "failed-write");
    else if (rc == -CFS_ECORRUPT)
        quarantine_locked(cs, e, "crc");
    put(cs, e);
    if (damaged || rc == -CFS_ECORRUPT) notify(cs, CHUNK_CORRUPT, chunk_id, ver, elen);
    return rc;
}

/* Data, CRCs and header length durable with one fdatasync; a fresh replica is published. */
static int sync_locked(chunk_store *cs, struct chunk_entry *e, int fd)
{
    int rc;
    if (e->hdr_length != e->length)
        rc = write_header(cs, e, fd, e->version, e->length);
    else
        rc = fdatasync(fd) < 0 ? -errno : 0;
    return rc < 0 ? rc : publish_locked(cs, e);
}

int chunk_store_sync(chunk_store *cs, uint64_t chunk_id, uint64_t version)
{
    struct chunk_entry *e = acquire(cs, chunk_id);
    if (!e) return -ENOENT;
    int rc;
    if (e->version != version) {
        rc = -CFS_ESTALE_VER;
    } else {
        bool owned;
        int fd = entry_fd(cs, e, O_RDWR, &owned);
        rc = fd;
        if (fd >= 0) {
            int64_t t0 = cfs_mono_ns();
            rc = sync_locked(cs, e, fd);
            chunk_metrics_fsync(t0, rc);
            entry_fd_done(fd, owned);
        }
    }
    put(cs, e);
    return rc;
}

/* Shrinks a locked entry: the header (new length) and the new last block's CRC go first, then
 * the file is cut; a crash in between leaves a tail the start-up scan cuts off. */
static int shrink_locked(chunk_store *cs, struct chunk_entry *e, int fd, uint64_t length)
{
    const uint64_t B = CHUNK_BLOCK_SIZE;
    int rc = 0;
    if (length % B != 0) {
        uint32_t b = (uint32_t)(length / B);
        uint64_t bs = (uint64_t)b * B, oe = min_u64(bs + B, e->length);
        uint32_t crc;
        uint8_t *tmp = malloc(B);
        if (!tmp) return -ENOMEM;
        rc = chunk_file_read_crcs(fd, b, 1, &crc);
        if (rc == 0) rc = chunk_pread_full(fd, tmp, (size_t)(oe - bs), CHUNK_DATA_OFF + bs);
        if (rc == 0 && crc32c(0, tmp, (size_t)(oe - bs)) != crc) rc = -CFS_ECORRUPT;
        if (rc == 0) {
            crc = crc32c(0, tmp, (size_t)(length - bs));
            rc = chunk_file_write_crcs(fd, b, 1, &crc);
        }
        free(tmp);
        if (rc < 0) return rc;
    }
    rc = write_header(cs, e, fd, e->version, length);
    if (rc < 0) return rc;
    e->length = length;
    if (ftruncate(fd, (off_t)(CHUNK_DATA_OFF + length)) < 0) return -errno;
    if (fdatasync(fd) < 0) return -errno;
    return publish_locked(cs, e);
}

int chunk_store_truncate(chunk_store *cs, uint64_t chunk_id, uint64_t version, uint64_t length)
{
    if (length > CHUNK_MAX_SIZE) return -EINVAL;
    struct chunk_entry *e = acquire(cs, chunk_id);
    if (!e) return -ENOENT;
    if (e->version != version) {
        put(cs, e);
        return -CFS_ESTALE_VER;
    }
    bool owned;
    int fd = entry_fd(cs, e, O_RDWR, &owned);
    if (fd < 0) {
        put(cs, e);
        return fd;
    }
    int rc = 0;
    bool damaged = false;
    if (length < e->length) {
        rc = shrink_locked(cs, e, fd, length);
    } else if (length > e->length) {
        rc = apply_write(e, fd, length, NULL, 0, &damaged);
        if (rc == 0) rc = sync_locked(cs, e, fd);
    } else {
        rc = sync_locked(cs, e, fd); /* same length: still durable (and published) */
    }
    entry_fd_done(fd, owned);
    uint64_t ver = e->version, elen = e->length;
    bool bad = damaged || rc == -CFS_ECORRUPT;
    if (bad) quarantine_locked(cs, e, damaged ? "failed-write" : "crc");
    put(cs, e);
    if (bad) notify(cs, CHUNK_CORRUPT, chunk_id, ver, elen);
    return rc;
}

/* ------------------------------------------------------------------ read / verify */

#define READ_WINDOW_BLOCKS 16u /* 1 MiB of blocks verified per pread */

/* Reads and verifies [off, off+n) (n > 0, within length) of a locked entry; copies into `out`
 * when not NULL. */
static int read_verified(struct chunk_entry *e, int fd, uint64_t off, size_t n, uint8_t *out)
{
    const uint64_t B = CHUNK_BLOCK_SIZE;
    uint64_t end = off + n;
    uint8_t *win = malloc(READ_WINDOW_BLOCKS * B);
    if (!win) return -ENOMEM;
    int rc = 0;
    uint64_t pos = off;
    while (rc == 0 && pos < end) {
        uint32_t b0 = (uint32_t)(pos / B);
        uint32_t b1 = (uint32_t)((end - 1) / B);
        if (b1 - b0 + 1 > READ_WINDOW_BLOCKS) b1 = b0 + READ_WINDOW_BLOCKS - 1;
        uint64_t ws = (uint64_t)b0 * B, we = min_u64((uint64_t)(b1 + 1) * B, e->length);
        uint32_t crcs[READ_WINDOW_BLOCKS];
        rc = chunk_file_read_crcs(fd, b0, b1 - b0 + 1, crcs);
        if (rc == 0) rc = chunk_pread_full(fd, win, (size_t)(we - ws), CHUNK_DATA_OFF + ws);
        for (uint32_t b = b0; rc == 0 && b <= b1; b++) {
            uint64_t bs = (uint64_t)b * B, be = min_u64(bs + B, e->length);
            if (crc32c(0, win + (bs - ws), (size_t)(be - bs)) != crcs[b - b0]) rc = -CFS_ECORRUPT;
        }
        if (rc < 0) break;
        uint64_t ce = min_u64(we, end);
        if (out) memcpy(out + (pos - off), win + (pos - ws), (size_t)(ce - pos));
        pos = ce;
    }
    free(win);
    return rc;
}

/* The current header slot on disk must be the one this entry last wrote: a flipped byte
 * there goes unnoticed by reads (they use the index) but would make the next start fall back
 * to the older slot, i.e. an older version or length. */
static int check_header(const struct chunk_entry *e, int fd)
{
    struct chunk_hdr h;
    int rc = chunk_file_read_hdr(fd, &h);
    if (rc == -EBADMSG) return -CFS_ECORRUPT;
    if (rc < 0) return rc;
    if (h.seq != e->hdr_seq || h.chunk_id != e->id || h.version != e->version ||
        h.length != e->hdr_length || h.flags != 0)
        return -CFS_ECORRUPT;
    return 0;
}

/* Reads (buf != NULL) or verifies (buf == NULL; from offset 0 the header too) a range. */
static ssize_t read_common(chunk_store *cs, uint64_t chunk_id, uint64_t version, uint64_t off,
                           void *buf, size_t len)
{
    struct chunk_entry *e = acquire(cs, chunk_id);
    if (!e) return -ENOENT;
    if (e->importing) {
        put(cs, e);
        return -ENOENT;
    }
    if (version != 0 && e->version != version) {
        put(cs, e);
        return -CFS_ESTALE_VER;
    }
    if (off >= e->length || len == 0) {
        put(cs, e);
        return 0;
    }
    size_t n = (size_t)min_u64(len, e->length - off);
    bool owned;
    int fd = entry_fd(cs, e, O_RDONLY, &owned);
    if (fd < 0) {
        put(cs, e);
        return fd;
    }
    int rc = buf == NULL && off == 0 ? check_header(e, fd) : 0;
    bool bad_hdr = rc == -CFS_ECORRUPT;
    if (rc == 0) rc = read_verified(e, fd, off, n, buf);
    entry_fd_done(fd, owned);
    uint64_t ver = e->version, elen = e->length;
    if (rc == -CFS_ECORRUPT) {
        if (bad_hdr)
            LOG_ERROR("chunk %016" PRIx64 " v%" PRIu64 ": current header slot damaged", chunk_id,
                      ver);
        else
            LOG_ERROR("chunk %016" PRIx64 " v%" PRIu64 ": CRC mismatch in [%" PRIu64 ", +%zu)",
                      chunk_id, ver, off, n);
        quarantine_locked(cs, e, "crc");
    }
    put(cs, e);
    if (rc == -CFS_ECORRUPT) notify(cs, CHUNK_CORRUPT, chunk_id, ver, elen);
    return rc < 0 ? rc : (ssize_t)n;
}

ssize_t chunk_store_read(chunk_store *cs, uint64_t chunk_id, uint64_t version, uint64_t off,
                         void *buf, size_t len)
{
    if (chunk_id == 0 || !buf) return -EINVAL;
    return read_common(cs, chunk_id, version, off, buf, len);
}

ssize_t chunk_store_verify(chunk_store *cs, uint64_t chunk_id, uint64_t off, size_t len)
{
    if (chunk_id == 0) return -EINVAL;
    return read_common(cs, chunk_id, 0, off, NULL, len);
}

/* ------------------------------------------------------------------ delete / quarantine */

int chunk_store_delete(chunk_store *cs, uint64_t chunk_id, uint64_t version)
{
    struct chunk_entry *e = acquire(cs, chunk_id);
    if (!e) return -ENOENT;
    if (version != 0 && e->version != version) {
        put(cs, e);
        return -CFS_ESTALE_VER;
    }
    char path[PATH_MAX];
    int rc = entry_path(cs, e, path, sizeof path);
    if (rc == 0 && unlink(path) < 0) rc = -errno;
    uint64_t ver = e->version, len = e->length;
    if (rc == 0) {
        char *slash = strrchr(path, '/');
        *slash = '\0';
        cs_fsync_dir(path);
        kill_entry(cs, e);
    }
    put(cs, e);
    if (rc == 0) notify(cs, CHUNK_REMOVED, chunk_id, ver, len);
    return rc;
}

int chunk_store_quarantine(chunk_store *cs, uint64_t chunk_id, const char *reason)
{
    struct chunk_entry *e = acquire(cs, chunk_id);
    if (!e) return -ENOENT;
    uint64_t ver = e->version, len = e->length;
    quarantine_locked(cs, e, reason ? reason : "manual");
    put(cs, e);
    notify(cs, CHUNK_CORRUPT, chunk_id, ver, len);
    return 0;
}

/* ------------------------------------------------------------------ queries */

int chunk_store_info(chunk_store *cs, uint64_t chunk_id, struct chunk_replica_info *out)
{
    struct chunk_entry *e = acquire(cs, chunk_id);
    if (!e) return -ENOENT;
    if (e->importing) {
        put(cs, e);
        return -ENOENT;
    }
    out->chunk_id = e->id;
    out->version = e->version;
    out->length = e->length;
    put(cs, e);
    return 0;
}

int chunk_store_announce(chunk_store *cs, uint64_t chunk_id)
{
    struct chunk_replica_info inf;
    int rc = chunk_store_info(cs, chunk_id, &inf);
    if (rc == 0) notify(cs, CHUNK_ADDED, inf.chunk_id, inf.version, inf.length);
    return rc;
}

int chunk_store_path(chunk_store *cs, uint64_t chunk_id, char *buf, size_t buflen)
{
    struct chunk_entry *e = acquire(cs, chunk_id);
    if (!e) return -ENOENT;
    int rc = entry_path(cs, e, buf, buflen);
    put(cs, e);
    return rc;
}

int chunk_store_list(chunk_store *cs, struct chunk_replica_info **out, size_t *n)
{
    pthread_mutex_lock(&cs->map_lock);
    size_t cnt = cs->count;
    struct chunk_replica_info *arr = malloc((cnt ? cnt : 1) * sizeof *arr);
    if (!arr) {
        pthread_mutex_unlock(&cs->map_lock);
        return -ENOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < cs->nbuckets; i++)
        for (struct chunk_entry *e = cs->buckets[i]; e && k < cnt; e = e->next) {
            if (__atomic_load_n(&e->importing, __ATOMIC_RELAXED)) continue;
            /* version/length change under the entry lock; a report may see a value a moment
             * old, which the next incremental report corrects. */
            arr[k].chunk_id = e->id;
            arr[k].version = __atomic_load_n(&e->version, __ATOMIC_RELAXED);
            arr[k].length = __atomic_load_n(&e->length, __ATOMIC_RELAXED);
            k++;
        }
    pthread_mutex_unlock(&cs->map_lock);
    *out = arr;
    *n = k;
    return 0;
}

size_t chunk_store_count(chunk_store *cs)
{
    pthread_mutex_lock(&cs->map_lock);
    size_t n = cs->count;
    pthread_mutex_unlock(&cs->map_lock);
    return n;
}

size_t chunk_store_dir_count(chunk_store *cs)
{
    return cs->ndirs;
}

int chunk_store_dir_usage(chunk_store *cs, size_t i, const char **path, uint64_t *capacity,
                          uint64_t *used)
{
    if (i >= cs->ndirs) return -ERANGE;
    struct statvfs sv;
    if (statvfs(cs->dirs[i], &sv) < 0) return -errno;
    uint64_t total = (uint64_t)sv.f_blocks * sv.f_frsize;
    uint64_t avail = (uint64_t)sv.f_bavail * sv.f_frsize;
    if (path) *path = cs->dirs[i];
    *capacity = total;
    *used = total > avail ? total - avail : 0;
    return 0;
}

int chunk_store_usage(chunk_store *cs, uint64_t *capacity, uint64_t *used)
{
    uint64_t cap = 0, use = 0;
    for (size_t i = 0; i < cs->ndirs; i++) {
        struct stat st;
        if (stat(cs->dirs[i], &st) < 0) return -errno;
        bool dup = false; /* two data dirs on one file system count once */
        for (size_t j = 0; j < i && !dup; j++) {
            struct stat sj;
            dup = stat(cs->dirs[j], &sj) == 0 && sj.st_dev == st.st_dev;
        }
        if (dup) continue;
        uint64_t total, in_use;
        int rc = chunk_store_dir_usage(cs, i, NULL, &total, &in_use);
        if (rc) return rc;
        cap += total;
        use += in_use;
    }
    *capacity = cap;
    *used = use;
    return 0;
}
