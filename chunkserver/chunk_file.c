#include "common/byte_order.h"
#include "chunkserver/chunk_file.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "common/crc32c.h"

#define HDR_BODY 44u /* bytes covered by the slot CRC */

void chunk_hdr_encode(const struct chunk_hdr *h, uint8_t slot[CHUNK_SLOT_SIZE])
{
    memset(slot, 0, CHUNK_SLOT_SIZE);
    cfs_put_le32(slot + 0, CHUNK_MAGIC);
    cfs_put_le32(slot + 4, CHUNK_FORMAT);
    cfs_put_le64(slot + 8, h->seq);
    cfs_put_le64(slot + 16, h->chunk_id);
    cfs_put_le64(slot + 24, h->version);
    cfs_put_le64(slot + 32, h->length);
    cfs_put_le32(slot + 40, h->flags);
    cfs_put_le32(slot + HDR_BODY, crc32c(0, slot, HDR_BODY));
}

int chunk_hdr_decode(const uint8_t slot[CHUNK_SLOT_SIZE], struct chunk_hdr *h)
{
    if (cfs_get_le32(slot) != CHUNK_MAGIC || cfs_get_le32(slot + 4) != CHUNK_FORMAT)
        return -EBADMSG;
    if (cfs_get_le32(slot + HDR_BODY) != crc32c(0, slot, HDR_BODY)) return -EBADMSG;
    h->seq = cfs_get_le64(slot + 8);
    h->chunk_id = cfs_get_le64(slot + 16);
    h->version = cfs_get_le64(slot + 24);
    h->length = cfs_get_le64(slot + 32);
    h->flags = cfs_get_le32(slot + 40);
    if (h->length > CHUNK_MAX_SIZE || h->version == 0) return -EBADMSG;
    return 0;
}

int chunk_pread_full(int fd, void *buf, size_t len, uint64_t off)
{
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = pread(fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        if (n == 0) return -EIO;
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

int chunk_pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

int chunk_file_read_hdr(int fd, struct chunk_hdr *out)
{
    uint8_t slots[2 * CHUNK_SLOT_SIZE];
    int rc = chunk_pread_full(fd, slots, sizeof slots, 0);
    if (rc == -EIO) return -EBADMSG; /* file too short to hold both slots */
    if (rc < 0) return rc;
    struct chunk_hdr h[2];
    int ok0 = chunk_hdr_decode(slots, &h[0]) == 0;
    int ok1 = chunk_hdr_decode(slots + CHUNK_SLOT_SIZE, &h[1]) == 0;
    if (!ok0 && !ok1) return -EBADMSG;
    if (ok0 && ok1 && h[0].chunk_id != h[1].chunk_id)
        return -EBADMSG; /* two different chunks in one file: not ours to guess */
    if (ok0 && (!ok1 || h[0].seq > h[1].seq))
        *out = h[0];
    else
        *out = h[1];
    return 0;
}

int chunk_file_write_hdr(int fd, const struct chunk_hdr *h)
{
    uint8_t slot[CHUNK_SLOT_SIZE];
    chunk_hdr_encode(h, slot);
    return chunk_pwrite_full(fd, slot, sizeof slot, (h->seq % 2) * CHUNK_SLOT_SIZE);
}

int chunk_file_read_crcs(int fd, uint32_t first, uint32_t count, uint32_t *crcs)
{
    if (count == 0) return 0;
    if ((uint64_t)first + count > CHUNK_MAX_BLOCKS) return -EINVAL;
    uint8_t raw[CHUNK_MAX_BLOCKS * 4];
    int rc = chunk_pread_full(fd, raw, (size_t)count * 4, CHUNK_CRC_OFF + (uint64_t)first * 4);
    if (rc < 0) return rc;
    for (uint32_t i = 0; i < count; i++)
        crcs[i] = cfs_get_le32(raw + 4 * i);
    return 0;
}

int chunk_file_write_crcs(int fd, uint32_t first, uint32_t count, const uint32_t *crcs)
{
    if (count == 0) return 0;
    if ((uint64_t)first + count > CHUNK_MAX_BLOCKS) return -EINVAL;
    uint8_t raw[CHUNK_MAX_BLOCKS * 4];
    for (uint32_t i = 0; i < count; i++)
        cfs_put_le32(raw + 4 * i, crcs[i]);
    return chunk_pwrite_full(fd, raw, (size_t)count * 4, CHUNK_CRC_OFF + (uint64_t)first * 4);
}
