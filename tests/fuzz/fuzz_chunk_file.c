/* Fuzz target: the chunk file header reader and the chunk store's start-up scan, on a replica
 * file made from the input. Input: a flags byte, then three records (see fuzz_util.h): the two
 * header slots (bytes 0..1024), the CRC table (from byte 4096) and the data (from byte 8192).
 * Flags: bit 0 recomputes both slots' CRCs and bit 1 the data blocks' CRCs (so the fuzzer gets
 * past the checksums to what they guard), bit 2 cuts the file after the slots, bit 3 names
 * the file after slot 1's chunk id instead of slot 0's. The scan must index the file or
 * quarantine it, never crash; an indexed replica must match a valid header and read without
 * memory errors (a bad block is -CFS_ECORRUPT, not a crash). */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chunkserver/chunk_file.h"
#include "chunkserver/chunk_store.h"
#include "common/crc32c.h"
#include "fuzz_util.h"

#define SLOT_CRC_OFF 44u
#define MAX_DATA (64u * 1024)

static uint64_t get_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
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
    const uint8_t *slots = NULL, *crcs = NULL, *payload = NULL;
    size_t n_slots = 0, n_crcs = 0, n_payload = 0;
    fuzz_take_record(&in, &slots, &n_slots);
    fuzz_take_record(&in, &crcs, &n_crcs);
    fuzz_take_record(&in, &payload, &n_payload);
    if (n_slots > 2 * CHUNK_SLOT_SIZE) n_slots = 2 * CHUNK_SLOT_SIZE;
    if (n_crcs > CHUNK_DATA_OFF - CHUNK_CRC_OFF) n_crcs = CHUNK_DATA_OFF - CHUNK_CRC_OFF;
    if (n_payload > MAX_DATA) n_payload = MAX_DATA;

    size_t flen = (flags & 4) ? 2 * CHUNK_SLOT_SIZE : CHUNK_DATA_OFF + n_payload;
    uint8_t *file = calloc(1, CHUNK_DATA_OFF + MAX_DATA);
    if (!file) fuzz_fail("out of memory");
    if (n_slots) memcpy(file, slots, n_slots);
    if (n_crcs) memcpy(file + CHUNK_CRC_OFF, crcs, n_crcs);
    if (n_payload) memcpy(file + CHUNK_DATA_OFF, payload, n_payload);
    if (flags & 1)
        for (int s = 0; s < 2; s++) {
            uint8_t *slot = file + s * CHUNK_SLOT_SIZE;
            put_le32(slot + SLOT_CRC_OFF, crc32c(0, slot, SLOT_CRC_OFF));
        }
    if (flags & 2)
        for (size_t b = 0; b * CHUNK_BLOCK_SIZE < n_payload; b++) {
            size_t n = n_payload - b * CHUNK_BLOCK_SIZE;
            if (n > CHUNK_BLOCK_SIZE) n = CHUNK_BLOCK_SIZE;
            put_le32(file + CHUNK_CRC_OFF + 4 * b,
                     crc32c(0, file + CHUNK_DATA_OFF + b * CHUNK_BLOCK_SIZE, n));
        }

    /* The reader on its own: both slots decoded, the current one picked. */
    struct chunk_hdr h0, h1;
    int ok0 = chunk_hdr_decode(file, &h0) == 0, ok1 = chunk_hdr_decode(file + 512, &h1) == 0;
    if (ok0 && h0.length > CHUNK_MAX_SIZE) fuzz_fail("decoded a length over the chunk size");

    const char *dir = fuzz_fresh_dir();
    uint64_t id = get_le64(file + ((flags & 8) ? CHUNK_SLOT_SIZE : 0) + 16);
    if (id == 0) id = 1;
    char path[4200];
    snprintf(path, sizeof path, "%s/chunks/%02x/%016" PRIx64 ".chk", dir, (unsigned)(id & 0xff),
             id);
    fuzz_write_file(path, file, flen);

    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) fuzz_fail("open %s", path);
    struct chunk_hdr cur;
    int rc = chunk_file_read_hdr(fd, &cur);
    close(fd);
    if (rc == 0 && !ok0 && !ok1) fuzz_fail("a header was read from two invalid slots");

    const char *dirs[1] = {dir};
    chunk_store *st;
    if (chunk_store_open(dirs, 1, &st) != 0) fuzz_fail("chunk_store_open");
    struct chunk_replica_info inf;
    if (chunk_store_info(st, id, &inf) == 0) {
        if (rc != 0) fuzz_fail("indexed a replica whose header does not read");
        if (inf.version != cur.version || inf.length != cur.length)
            fuzz_fail("indexed replica differs from its header");
        if (inf.length > n_payload) fuzz_fail("indexed replica longer than its file");
        uint8_t *buf = malloc(CHUNK_BLOCK_SIZE);
        if (!buf) fuzz_fail("out of memory");
        for (uint64_t off = 0; off < inf.length; off += CHUNK_BLOCK_SIZE)
            chunk_store_read(st, id, 0, off, buf, CHUNK_BLOCK_SIZE);
        chunk_store_verify(st, id, 0, (size_t)inf.length);
        free(buf);
    }
    chunk_store_close(st);
    free(file);
    fuzz_remove_dir();
    return 0;
}
