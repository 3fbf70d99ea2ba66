#include "common/byte_order.h"
#include "common/fs_util.h"
#include "raft/raft_wal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/crc32c.h"
#include "common/log.h"

#define REC_HDR 12u
#define REC_ENTRY 1u
#define REC_HARD_STATE 2u
#define ENTRY_FIXED 20u /* term, index, type */
#define HS_SIZE 24u

typedef struct wal_segment {
    uint64_t seq;
    uint64_t first; /* index of the first entry this segment holds (or would hold) */
    uint64_t n;     /* entries of this segment still in effect */
    uint64_t bytes;
} wal_segment;

struct raft_wal {
    char dir[4096];
    uint64_t segment_limit;
    wal_segment *segs;
    size_t n_segs, cap_segs;
    int fd; /* last segment, open for append */
    bool has_hs;
    raft_hard_state hs;
    bool broken; /* a write failed half-way: refuse everything after */
};

/* ------------------------------------------------------------------ encoding helpers */

static uint32_t record_crc(const uint8_t *hdr, const uint8_t *payload, uint32_t len)
{
    uint32_t c = crc32c(0, hdr, 4);
    c = crc32c(c, hdr + 8, 4);
    return crc32c(c, payload, len);
}

/* Writes one record's header for `payload` (already in place after it). */
static void seal_record(uint8_t *rec, uint8_t type, uint32_t len)
{
    cfs_put_le32(rec, len);
    rec[8] = type;
    rec[9] = rec[10] = rec[11] = 0;
    cfs_put_le32(rec + 4, record_crc(rec, rec + REC_HDR, len));
}

/* ------------------------------------------------------------------ files */

static void seg_path(const raft_wal *w, const wal_segment *s, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%016" PRIx64 "-%016" PRIx64 ".wal", w->dir, s->seq, s->first);
}

static int write_all(int fd, const uint8_t *buf, size_t len, off_t off)
{
    while (len > 0) {
        ssize_t k = pwrite(fd, buf, len, off);
        if (k < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        buf += k;
        len -= (size_t)k;
        off += k;
    }
    return 0;
}

static int push_segment(raft_wal *w, const wal_segment *s)
{
    if (w->n_segs == w->cap_segs) {
        size_t nc = w->cap_segs ? w->cap_segs * 2 : 8;
        wal_segment *ns = realloc(w->segs, nc * sizeof *ns);
        if (!ns) return -ENOMEM;
        w->segs = ns;
        w->cap_segs = nc;
    }
    w->segs[w->n_segs++] = *s;
    return 0;
}

static wal_segment *last_seg(raft_wal *w)
{
    return &w->segs[w->n_segs - 1];
}

/* ------------------------------------------------------------------ recovery */

static int cmp_seg(const void *a, const void *b)
{
    const wal_segment *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int list_segments(raft_wal *w)
{
    DIR *d = opendir(w->dir);
    if (!d) return -errno;
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d)) != NULL) {
        uint64_t seq, first;
        char tail[8];
        if (strlen(de->d_name) != 16 + 1 + 16 + 4) continue;
        if (sscanf(de->d_name, "%16" SCNx64 "-%16" SCNx64 "%7s", &seq, &first, tail) != 3 ||
            strcmp(tail, ".wal") != 0)
            continue;
        wal_segment s = {.seq = seq, .first = first};
        rc = push_segment(w, &s);
        if (rc < 0) break;
    }
    closedir(d);
    if (rc == 0 && w->n_segs > 1) qsort(w->segs, w->n_segs, sizeof *w->segs, cmp_seg);
    return rc;
}

static void drop_entries_from(raft_wal_recovered *rec, size_t keep)
{
    for (size_t i = keep; i < rec->n_entries; i++)
        free(rec->entries[i].data);
    rec->n_entries = keep;
}

static int push_entry(raft_wal_recovered *rec, size_t *cap, const raft_entry *e)
{
    if (rec->n_entries == *cap) {
        size_t nc = *cap ? *cap * 2 : 1024;
        raft_entry *ne = realloc(rec->entries, nc * sizeof *ne);
        if (!ne) return -ENOMEM;
        rec->entries = ne;
        *cap = nc;
    }
    rec->entries[rec->n_entries++] = *e;
    return 0;
}

/* Checks the record at buf[off..len): 1 = valid (sets *rlen to its total size), 0 = torn
 * (runs past the end), -1 = corrupt. */
static int check_record(const uint8_t *buf, size_t len, size_t off, size_t *rlen)
{
    if (len - off < REC_HDR) return 0;
    const uint8_t *h = buf + off;
    uint32_t plen = cfs_get_le32(h);
    if (plen > RAFT_WAL_MAX_ENTRY + ENTRY_FIXED) return -1;
    if (len - off - REC_HDR < plen) return 0;
    if (record_crc(h, h + REC_HDR, plen) != cfs_get_le32(h + 4) || h[9] || h[10] || h[11]) return -1;
    if (h[8] == REC_ENTRY ? plen < ENTRY_FIXED : h[8] == REC_HARD_STATE ? plen != HS_SIZE : 1)
        return -1;
    *rlen = REC_HDR + plen;
    return 1;
}

/* Whether a valid record starts anywhere after `off`. Cheap header checks come before the
 * CRC, so scanning a torn tail (at most one batch) costs little. */
static bool valid_record_after(const uint8_t *buf, size_t len, size_t off)
{
    for (size_t o = off + 1; o + REC_HDR <= len; o++) {
        const uint8_t *h = buf + o;
        uint32_t plen = cfs_get_le32(h);
        if (h[9] || h[10] || h[11] || plen > len - o - REC_HDR) continue;
        if (!(h[8] == REC_HARD_STATE && plen == HS_SIZE) &&
            !(h[8] == REC_ENTRY && plen >= ENTRY_FIXED))
            continue;
        size_t rlen;
        if (check_record(buf, len, o, &rlen) == 1) return true;
    }
    return false;
}

/* Parses one segment into rec. For the last segment a bad tail is truncated on disk. */
static int recover_segment(raft_wal *w, wal_segment *s, bool is_last, raft_wal_recovered *rec,
                           size_t *cap)
{
    char path[4200];
    seg_path(w, s, path, sizeof path);
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = cfs_read_file(path, &buf, &len);
    if (rc < 0) {
        LOG_ERROR("wal: cannot read %s: %s", path, strerror(-rc));
        return rc;
    }
    size_t off = 0;
    uint64_t expect = s->first;
    while (off < len) {
        size_t rlen = 0;
        int v = check_record(buf, len, off, &rlen);
        if (v <= 0) {
            /* A bad record is a torn tail only if it is the last thing in the last segment:
             * nothing valid may follow it anywhere (its own length field may be the damage,
             * so every later offset is tried, not just the one it points to). */
            bool valid_follows = is_last && valid_record_after(buf, len, off);
            if (!is_last || valid_follows) {
                LOG_ERROR("wal: corrupt record in %s at offset %zu followed by %s; refusing to "
                          "start rather than drop committed entries",
                          path, off, valid_follows ? "valid records" : "later segments");
                free(buf);
                return -EIO;
            }
            size_t dropped = len - off;
            LOG_WARN("wal: %s tail at offset %zu of %s: truncating %zu bytes (1 record)",
                     v == 0 ? "torn" : "corrupt", off, path, dropped);
            int fd = open(path, O_WRONLY | O_CLOEXEC);
            if (fd < 0 || ftruncate(fd, (off_t)off) < 0 || fsync(fd) < 0) {
                rc = -errno;
                if (fd >= 0) close(fd);
                free(buf);
                return rc;
            }
            close(fd);
            rec->dropped_bytes += dropped;
            rec->dropped_records += 1;
            len = off;
            break;
        }
        const uint8_t *p = buf + off + REC_HDR;
        uint32_t plen = (uint32_t)(rlen - REC_HDR);
        if (buf[off + 8] == REC_HARD_STATE) {
            rec->has_hard_state = true;
            rec->hs.term = cfs_get_le64(p);
            rec->hs.vote = cfs_get_le64(p + 8);
            rec->hs.commit = cfs_get_le64(p + 16);
        } else {
            raft_entry e = {.term = cfs_get_le64(p),
                            .index = cfs_get_le64(p + 8),
                            .type = cfs_get_le32(p + 16),
                            .len = plen - ENTRY_FIXED};
            if (e.index != expect) {
                LOG_ERROR("wal: %s at offset %zu holds entry %" PRIu64 ", expected %" PRIu64
                          "; refusing to start",
                          path, off, e.index, expect);
                free(buf);
                return -EIO;
            }
            if (e.len) {
                e.data = malloc(e.len);
                if (!e.data) {
                    free(buf);
                    return -ENOMEM;
                }
                memcpy(e.data, p + ENTRY_FIXED, e.len);
            }
            rc = push_entry(rec, cap, &e);
            if (rc < 0) {
                free(e.data);
                free(buf);
                return rc;
            }
            expect++;
        }
        off += rlen;
    }
    free(buf);
    s->n = expect - s->first;
    s->bytes = len;
    return 0;
}

static int recover_all(raft_wal *w, uint64_t snap_index, raft_wal_recovered *rec)
{
    size_t cap = 0;
    for (size_t i = 0; i < w->n_segs; i++) {
        wal_segment *s = &w->segs[i];
        /* How this segment's first index meets what came before. */
        if (rec->n_entries > 0) {
            uint64_t first = rec->entries[0].index;
            uint64_t last = rec->entries[rec->n_entries - 1].index;
            if (s->first <= last) {
                size_t keep = s->first > first ? (size_t)(s->first - first) : 0;
                drop_entries_from(rec, keep);
                /* Earlier segments lose their superseded entries. */
                for (size_t j = 0; j < i; j++) {
                    wal_segment *p = &w->segs[j];
                    if (p->first >= s->first)
                        p->n = 0;
                    else if (p->first + p->n > s->first)
                        p->n = s->first - p->first;
                }
            } else if (s->first > last + 1) {
                if (s->first > snap_index + 1) {
                    LOG_ERROR("wal: gap before segment %016" PRIx64 "-%016" PRIx64
                              " (log ends at %" PRIu64 ", snapshot at %" PRIu64
                              "); refusing to start",
                              s->seq, s->first, last, snap_index);
                    return -EIO;
                }
                drop_entries_from(rec, 0);
                for (size_t j = 0; j < i; j++)
                    w->segs[j].n = 0;
            }
        }
        int rc = recover_segment(w, s, i + 1 == w->n_segs, rec, &cap);
        if (rc < 0) return rc;
    }
    return 0;
}

/* ------------------------------------------------------------------ segments */

static int write_hs_record(raft_wal *w);

/* Starts a new segment whose first entry will be `first`; it begins with the current hard
 * state. The previous segment is fsynced first so the new one never follows unsynced data. */
static int start_segment(raft_wal *w, uint64_t first)
{
    if (w->fd >= 0) {
        if (fsync(w->fd) < 0) return -errno;
        close(w->fd);
        w->fd = -1;
    }
    wal_segment s = {.seq = w->n_segs ? last_seg(w)->seq + 1 : 1, .first = first};
    char path[4200];
    seg_path(w, &s, path, sizeof path);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return -errno;
    int rc = push_segment(w, &s);
    if (rc < 0) {
        close(fd);
        unlink(path);
        return rc;
    }
    w->fd = fd;
    if (w->has_hs) {
        rc = write_hs_record(w);
        if (rc < 0) return rc;
    }
    if (fsync(fd) < 0) return -errno;
    return cfs_fsync_dir(w->dir);
}

static int write_records(raft_wal *w, const uint8_t *buf, size_t len)
{
    wal_segment *s = last_seg(w);
    int rc = write_all(w->fd, buf, len, (off_t)s->bytes);
    if (rc < 0) {
        w->broken = true;
        LOG_ERROR("wal: write failed: %s; the log refuses further writes", strerror(-rc));
        return rc;
    }
    s->bytes += len;
    return 0;
}

static int write_hs_record(raft_wal *w)
{
    uint8_t rec[REC_HDR + HS_SIZE];
    cfs_put_le64(rec + REC_HDR, w->hs.term);
    cfs_put_le64(rec + REC_HDR + 8, w->hs.vote);
    cfs_put_le64(rec + REC_HDR + 16, w->hs.commit);
    seal_record(rec, REC_HARD_STATE, HS_SIZE);
    return write_records(w, rec, sizeof rec);
}

static void unlink_segment(raft_wal *w, const wal_segment *s)
{
    char path[4200];
    seg_path(w, s, path, sizeof path);
    if (unlink(path) < 0 && errno != ENOENT)
        LOG_WARN("wal: cannot remove %s: %s", path, strerror(errno));
}

/* Removes segments (other than the last) that hold no entry in effect. Called once the last
 * segment, which holds the newest hard state, is durable. */
static int drop_superseded(raft_wal *w)
{
    size_t out = 0;
    bool removed = false;
    for (size_t i = 0; i < w->n_segs; i++) {
        wal_segment *s = &w->segs[i];
        if (i + 1 < w->n_segs && s->n == 0) {
            unlink_segment(w, s);
            removed = true;
            continue;
        }
        w->segs[out++] = *s;
    }
    w->n_segs = out;
    return removed ? cfs_fsync_dir(w->dir) : 0;
}

/* ------------------------------------------------------------------ public API */

int raft_wal_open(const char *dir, uint64_t segment_bytes, uint64_t snap_index, raft_wal **out,
                  raft_wal_recovered *rec)
{
    memset(rec, 0, sizeof *rec);
    if (strlen(dir) >= sizeof((raft_wal *)0)->dir - 64) return -ENAMETOOLONG;
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) return -errno;
    raft_wal *w = calloc(1, sizeof *w);
    if (!w) return -ENOMEM;
    snprintf(w->dir, sizeof w->dir, "%s", dir);
    w->segment_limit = segment_bytes ? segment_bytes : RAFT_WAL_DEFAULT_SEGMENT;
    w->fd = -1;
    int rc = list_segments(w);
    if (rc == 0) rc = recover_all(w, snap_index, rec);
    if (rc < 0) goto fail;
    w->has_hs = rec->has_hard_state;
    w->hs = rec->hs;
    /* Entries at or below the snapshot are covered by it; anything the log holds must start
     * right after it or overlap it. */
    if (rec->n_entries > 0 && rec->entries[0].index > snap_index + 1) {
        LOG_ERROR("wal: log starts at %" PRIu64 " but the snapshot ends at %" PRIu64
                  "; entries in between are missing, refusing to start",
                  rec->entries[0].index, snap_index);
        rc = -EIO;
        goto fail;
    }
    if (rec->n_entries > 0 && rec->entries[rec->n_entries - 1].index < snap_index) {
        /* The whole log is older than the snapshot: start after it. */
        drop_entries_from(rec, 0);
        rc = start_segment(w, snap_index + 1);
        for (size_t j = 0; rc == 0 && j + 1 < w->n_segs; j++)
            w->segs[j].n = 0;
    } else if (w->n_segs == 0) {
        rc = start_segment(w, snap_index + 1);
    } else {
        wal_segment *s = last_seg(w);
        char path[4200];
        seg_path(w, s, path, sizeof path);
        w->fd = open(path, O_WRONLY | O_CLOEXEC);
        rc = w->fd < 0 ? -errno : 0;
        if (rc == 0 && rec->n_entries == 0 && s->first > snap_index + 1) {
            LOG_ERROR("wal: empty log continues at %" PRIu64 " but the snapshot ends at %" PRIu64
                      "; entries in between are missing, refusing to start",
                      s->first, snap_index);
            rc = -EIO;
        } else if (rc == 0 && rec->n_entries == 0 && s->first <= snap_index) {
            /* Empty log that would restart below the snapshot: realign. */
            rc = start_segment(w, snap_index + 1);
        } else if (rc == 0 && w->has_hs) {
            /* The last segment must hold the newest hard state before older ones may go. */
            bool dropping = false;
            for (size_t j = 0; j + 1 < w->n_segs; j++)
                if (w->segs[j].n == 0) dropping = true;
            if (dropping) {
                rc = write_hs_record(w);
                if (rc == 0) rc = raft_wal_sync(w);
            }
        }
    }
    if (rc == 0) rc = drop_superseded(w);
    if (rc < 0) goto fail;
    *out = w;
    return 0;
fail:
    raft_wal_recovered_free(rec);
    raft_wal_close(w);
    return rc;
}

void raft_wal_recovered_free(raft_wal_recovered *rec)
{
    drop_entries_from(rec, 0);
    free(rec->entries);
    rec->entries = NULL;
}

uint64_t raft_wal_first_index(const raft_wal *w)
{
    for (size_t i = 0; i < w->n_segs; i++)
        if (w->segs[i].n > 0) return w->segs[i].first;
    return w->segs[w->n_segs - 1].first;
}

uint64_t raft_wal_last_index(const raft_wal *w)
{
    const wal_segment *s = &w->segs[w->n_segs - 1];
    return s->first + s->n - 1;
}

uint64_t raft_wal_bytes(const raft_wal *w)
{
    uint64_t b = 0;
    for (size_t i = 0; i < w->n_segs; i++)
        b += w->segs[i].bytes;
    return b;
}

int raft_wal_append(raft_wal *w, const raft_entry *ents, size_t n, const raft_hard_state *hs)
{
    if (w->broken) return -EIO;
    if (n == 0 && !hs) return 0;
    for (size_t i = 0; i < n; i++) {
        if (ents[i].len > RAFT_WAL_MAX_ENTRY || (i > 0 && ents[i].index != ents[i - 1].index + 1))
            return -EINVAL;
    }
    if (hs) {
        w->hs = *hs;
        w->has_hs = true;
    }
    int rc;
    if (n > 0) {
        uint64_t first = raft_wal_first_index(w), last = raft_wal_last_index(w);
        uint64_t at = ents[0].index;
        if (at > last + 1 || at < first) return -EINVAL;
        if (at <= last) {
            /* Conflict: a new segment at `at` supersedes the old suffix. */
            for (size_t j = 0; j < w->n_segs; j++) {
                wal_segment *p = &w->segs[j];
                if (p->first >= at)
                    p->n = 0;
                else if (p->first + p->n > at)
                    p->n = at - p->first;
            }
            rc = start_segment(w, at);
            if (rc == 0) rc = drop_superseded(w);
            if (rc < 0) return rc;
        } else if (last_seg(w)->bytes >= w->segment_limit && last_seg(w)->n > 0) {
            rc = start_segment(w, at);
            if (rc < 0) return rc;
        }
    }
    size_t total = hs ? REC_HDR + HS_SIZE : 0;
    for (size_t i = 0; i < n; i++)
        total += REC_HDR + ENTRY_FIXED + ents[i].len;
    uint8_t *buf = malloc(total);
    if (!buf) return -ENOMEM;
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t *r = buf + off, *p = r + REC_HDR;
        cfs_put_le64(p, ents[i].term);
        cfs_put_le64(p + 8, ents[i].index);
        cfs_put_le32(p + 16, ents[i].type);
        if (ents[i].len) memcpy(p + ENTRY_FIXED, ents[i].data, ents[i].len);
        seal_record(r, REC_ENTRY, (uint32_t)(ENTRY_FIXED + ents[i].len));
        off += REC_HDR + ENTRY_FIXED + ents[i].len;
    }
    if (hs) {
        uint8_t *r = buf + off, *p = r + REC_HDR;
        cfs_put_le64(p, hs->term);
        cfs_put_le64(p + 8, hs->vote);
        cfs_put_le64(p + 16, hs->commit);
        seal_record(r, REC_HARD_STATE, HS_SIZE);
    }
    rc = write_records(w, buf, total);
    free(buf);
    if (rc == 0) last_seg(w)->n += n;
    return rc;
}

int raft_wal_sync(raft_wal *w)
{
    if (w->broken) return -EIO;
    if (fdatasync(w->fd) < 0) {
        w->broken = true;
        LOG_ERROR("wal: fdatasync failed: %s; the log refuses further writes", strerror(errno));
        return -EIO;
    }
    return 0;
}

int raft_wal_compact(raft_wal *w, uint64_t upto)
{
    if (w->broken) return -EIO;
    size_t drop = 0;
    while (drop + 1 < w->n_segs) {
        const wal_segment *s = &w->segs[drop];
        if (s->n > 0 && s->first + s->n - 1 > upto) break;
        drop++;
    }
    if (drop == 0) return 0;
    /* Keep the newest hard state in a segment that stays. */
    if (w->has_hs) {
        int rc = write_hs_record(w);
        if (rc == 0) rc = raft_wal_sync(w);
        if (rc < 0) return rc;
    }
    for (size_t i = 0; i < drop; i++)
        unlink_segment(w, &w->segs[i]);
    memmove(w->segs, w->segs + drop, (w->n_segs - drop) * sizeof *w->segs);
    w->n_segs -= drop;
    return cfs_fsync_dir(w->dir);
}

int raft_wal_reset(raft_wal *w, uint64_t next_index, const raft_hard_state *hs)
{
    if (w->broken) return -EIO;
    if (hs) {
        w->hs = *hs;
        w->has_hs = true;
    }
    for (size_t j = 0; j < w->n_segs; j++)
        w->segs[j].n = 0;
    int rc = start_segment(w, next_index);
    if (rc < 0) return rc;
    /* The new segment is durable; everything before it is obsolete. */
    size_t old = w->n_segs - 1;
    for (size_t i = old; i-- > 0;)
        unlink_segment(w, &w->segs[i]);
    w->segs[0] = w->segs[old];
    w->n_segs = 1;
    return cfs_fsync_dir(w->dir);
}

void raft_wal_close(raft_wal *w)
{
    if (!w) return;
    if (w->fd >= 0) close(w->fd);
    free(w->segs);
    free(w);
}
