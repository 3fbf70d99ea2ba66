#ifndef CFS_CHUNK_FILE_H
#define CFS_CHUNK_FILE_H
/* On-disk format of one chunk replica file (see docs/formats.md, "Chunk files"):
 *
 *   [0, 512)      header slot 0      \ two copies; a version/length update rewrites the slot
 *   [512, 1024)   header slot 1      / that is NOT current, so a torn write leaves the other
 *   [1024, 4096)  zero
 *   [4096, 8192)  CRC32C table: one little-endian u32 per 64 KiB block (1024 blocks = 64 MiB)
 *   [8192, ...)   chunk data (file size = 8192 + length once synced)
 *
 * Header slot (little-endian): magic u32 "CFSC", format u32 (1), seq u64, chunk_id u64,
 * version u64, length u64, flags u32, crc u32 = crc32c over the previous 44 bytes. Flag 1
 * (CHUNK_HDR_IMPORTING) marks a replica still being copied from a peer: never valid at start. The
 * valid slot with the highest seq is current. A block's CRC covers only its bytes below `length`
 * (the last block may be partial). */
#include <stdint.h>
#include <stddef.h>

#define CHUNK_BLOCK_SIZE (64u * 1024)
#define CHUNK_MAX_SIZE (64u * 1024 * 1024)
#define CHUNK_MAX_BLOCKS (CHUNK_MAX_SIZE / CHUNK_BLOCK_SIZE)
#define CHUNK_SLOT_SIZE 512u
#define CHUNK_CRC_OFF 4096u
#define CHUNK_DATA_OFF 8192u
#define CHUNK_MAGIC 0x43534643u /* "CFSC" little-endian */
#define CHUNK_FORMAT 1u
#define CHUNK_HDR_IMPORTING 1u

struct chunk_hdr {
    uint64_t seq; /* increases with every header write; picks the current slot */
    uint64_t chunk_id;
    uint64_t version;
    uint64_t length; /* durable data length */
    uint32_t flags;  /* CHUNK_HDR_* */
};

/* Encodes into a zero-padded 512-byte slot. */
void chunk_hdr_encode(const struct chunk_hdr *h, uint8_t slot[CHUNK_SLOT_SIZE]);
/* 0, or -EBADMSG when the magic, format or CRC is wrong or length > CHUNK_MAX_SIZE. */
int chunk_hdr_decode(const uint8_t slot[CHUNK_SLOT_SIZE], struct chunk_hdr *h);

/* Reads both slots and returns the valid one with the highest seq: 0, -EBADMSG when neither
 * slot is valid, or -errno on an I/O error. */
int chunk_file_read_hdr(int fd, struct chunk_hdr *out);
/* Writes `h` into slot (h->seq % 2) (the caller increments seq so the current slot is kept
 * intact) with pwrite; no fsync. 0 or -errno. */
int chunk_file_write_hdr(int fd, const struct chunk_hdr *h);

/* CRC table access for blocks [first, first + count). 0 or -errno (-EIO on short reads). */
int chunk_file_read_crcs(int fd, uint32_t first, uint32_t count, uint32_t *crcs);
int chunk_file_write_crcs(int fd, uint32_t first, uint32_t count, const uint32_t *crcs);

/* pread/pwrite of exactly `len` bytes at `off` (retrying short transfers and EINTR).
 * pread past end of file -> -EIO. 0 or -errno. */
int chunk_pread_full(int fd, void *buf, size_t len, uint64_t off);
int chunk_pwrite_full(int fd, const void *buf, size_t len, uint64_t off);

#endif
