/* Fuzz target: the Raft snapshot file reader (raft_snapshot_load) on a file made from the
 * input. Input: a flags byte, then the file. Flag bit 0 recomputes the header and data CRCs
 * so the fuzzer gets past them to the length checks, the membership decoder and zlib; the
 * file is named after the index and term its header holds (bit 1: after other ones, so the
 * name check refuses it). Load must succeed or refuse (-EIO), never crash or allocate
 * without bound; a loaded snapshot's membership must be valid. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crc32c.h"
#include "fuzz_util.h"
#include "raft/raft_snapshot.h"

#define SNAP_HDR 56u

static uint64_t get_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet_logs();
    fuzz_in in = {data, size};
    uint8_t flags = 0;
    fuzz_take_u8(&in, &flags);
    uint8_t *file = malloc(in.n ? in.n : 1);
    if (!file) fuzz_fail("out of memory");
    if (in.n) memcpy(file, in.p, in.n);
    uint64_t index = 1, term = 1;
    if (in.n >= SNAP_HDR) {
        index = get_le(file + 16, 8);
        term = get_le(file + 24, 8);
        if (flags & 1) {
            put_le32(file + 48, crc32c(0, file + SNAP_HDR, in.n - SNAP_HDR));
            put_le32(file + 52, crc32c(0, file, 52));
        }
    }
    if (flags & 2) index++;
    const char *dir = fuzz_fresh_dir();
    char path[4200];
    snprintf(path, sizeof path, "%s/snap-%016" PRIx64 "-%016" PRIx64, dir, term, index);
    fuzz_write_file(path, file, in.n);
    free(file);
    raft_snapshot s;
    int rc = raft_snapshot_load(dir, &s);
    if (rc == 0) {
        if (s.meta.conf.n < 0 || s.meta.conf.n > RAFT_MAX_MEMBERS)
            fuzz_fail("loaded a membership of %d", s.meta.conf.n);
        raft_snapshot_release(&s);
    } else if (rc != -EIO && rc != -ENOENT) {
        fuzz_fail("raft_snapshot_load returned %d", rc);
    }
    fuzz_remove_dir();
    return 0;
}
