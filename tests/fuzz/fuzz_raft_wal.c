/* Fuzz target: the Raft WAL record reader (raft_wal_open's recovery) on segment files made
 * from the input. Input: a flags byte, a snapshot index byte, then up to three records (see
 * fuzz_util.h), each a segment: its first index (one byte) and its file contents. Flag bit 0
 * recomputes the CRC of every record the length fields delimit, so the fuzzer gets past the
 * checksum to the parser. Open must succeed or refuse (-EIO), never crash; after a successful
 * open the log must be contiguous, and an entry appended, synced and reopened must come back
 * after exactly the entries recovered before (state intact across a restart). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crc32c.h"
#include "fuzz_util.h"
#include "raft/raft_wal.h"

#define REC_HDR 12u
#define MAX_SEGMENT (64u * 1024)

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The record CRC as raft_wal.c defines it: over length, type + reserved, payload. */
static void fix_crcs(uint8_t *buf, size_t len)
{
    size_t off = 0;
    while (len - off >= REC_HDR) {
        uint32_t plen = get_le32(buf + off);
        if (plen > len - off - REC_HDR) break;
        uint32_t c = crc32c(0, buf + off, 4);
        c = crc32c(c, buf + off + 8, 4);
        c = crc32c(c, buf + off + REC_HDR, plen);
        put_le32(buf + off + 4, c);
        off += REC_HDR + plen;
    }
}

static bool same_entry(const raft_entry *a, const raft_entry *b)
{
    return a->term == b->term && a->index == b->index && a->type == b->type && a->len == b->len &&
           (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static void check_reopen(const char *dir, uint64_t snap_index, raft_wal *w,
                         const raft_wal_recovered *rec)
{
    for (size_t i = 1; i < rec->n_entries; i++)
        if (rec->entries[i].index != rec->entries[i - 1].index + 1)
            fuzz_fail("recovered log not contiguous at %zu", i);
    uint8_t payload[3] = {1, 2, 3};
    uint64_t term = rec->has_hard_state ? rec->hs.term : 1;
    raft_entry e = {.term = term, .index = raft_wal_last_index(w) + 1, .data = payload, .len = 3};
    raft_hard_state hs = {.term = term, .vote = 0, .commit = 0};
    if (raft_wal_append(w, &e, 1, &hs) != 0 || raft_wal_sync(w) != 0)
        fuzz_fail("append after recovery failed");
    raft_wal_close(w);
    raft_wal *w2;
    raft_wal_recovered rec2;
    int rc = raft_wal_open(dir, 0, snap_index, &w2, &rec2);
    if (rc != 0) fuzz_fail("reopen after append failed: %d", rc);
    if (rec2.n_entries != rec->n_entries + 1)
        fuzz_fail("%zu entries before the append, %zu after reopening", rec->n_entries,
                  rec2.n_entries);
    for (size_t i = 0; i < rec->n_entries; i++)
        if (!same_entry(&rec->entries[i], &rec2.entries[i]))
            fuzz_fail("entry %zu changed across a reopen", i);
    if (!same_entry(&e, &rec2.entries[rec->n_entries])) fuzz_fail("appended entry lost");
    if (!rec2.has_hard_state || rec2.hs.term != hs.term) fuzz_fail("hard state lost");
    raft_wal_recovered_free(&rec2);
    raft_wal_close(w2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet_logs();
    fuzz_in in = {data, size};
    uint8_t flags = 0, snap = 0;
    fuzz_take_u8(&in, &flags);
    fuzz_take_u8(&in, &snap);
    const char *base = fuzz_fresh_dir();
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/wal", base);
    uint8_t *seg = malloc(MAX_SEGMENT);
    if (!seg) fuzz_fail("out of memory");
    const uint8_t *p;
    size_t len;
    for (uint64_t i = 0; i < 3 && fuzz_take_record(&in, &p, &len); i++) {
        if (len == 0) continue;
        uint64_t first = p[0];
        len = len - 1 < MAX_SEGMENT ? len - 1 : MAX_SEGMENT;
        memcpy(seg, p + 1, len);
        if (flags & 1) fix_crcs(seg, len);
        char path[4300];
        snprintf(path, sizeof path, "%s/%016" PRIx64 "-%016" PRIx64 ".wal", dir, i + 1, first);
        fuzz_write_file(path, seg, len);
    }
    free(seg);
    raft_wal *w;
    raft_wal_recovered rec;
    int rc = raft_wal_open(dir, 0, snap, &w, &rec);
    if (rc == 0) {
        check_reopen(dir, snap, w, &rec);
        raft_wal_recovered_free(&rec);
    } else if (rc != -EIO) {
        fuzz_fail("raft_wal_open returned %d", rc);
    }
    fuzz_remove_dir();
    return 0;
}
