#include "common/pb_strings.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#define MAX_DEPTH 32

/* Reads a base-128 varint at *pos; false when it runs past the end or over 10 bytes. */
static bool read_varint(const uint8_t *buf, size_t len, size_t *pos, uint64_t *v)
{
    *v = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        if (*pos >= len) return false;
        uint8_t b = buf[(*pos)++];
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return true;
    }
    return false;
}

static int check(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len, int depth)
{
    if (depth > MAX_DEPTH) return -EINVAL;
    size_t pos = 0;
    while (pos < len) {
        uint64_t tag, n;
        if (!read_varint(buf, len, &pos, &tag) || (tag >> 3) == 0 || (tag >> 3) > UINT32_MAX)
            return -EINVAL;
        switch (tag & 7) {
        case 0: /* varint */
            if (!read_varint(buf, len, &pos, &n)) return -EINVAL;
            break;
        case 1: /* 64-bit */
            if (len - pos < 8) return -EINVAL;
            pos += 8;
            break;
        case 5: /* 32-bit */
            if (len - pos < 4) return -EINVAL;
            pos += 4;
            break;
        case 2: { /* length-delimited: string, bytes, message or packed repeated */
            if (!read_varint(buf, len, &pos, &n) || n > len - pos) return -EINVAL;
            const ProtobufCFieldDescriptor *f =
                protobuf_c_message_descriptor_get_field(desc, (unsigned)(tag >> 3));
            if (f && f->type == PROTOBUF_C_TYPE_STRING && memchr(buf + pos, 0, n)) return -EINVAL;
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
                int rc = check(f->descriptor, buf + pos, n, depth + 1);
                if (rc) return rc;
            }
            pos += n;
            break;
        }
        default: /* groups (3, 4) are not used by chunkfs; 6 and 7 do not exist */
            return -EINVAL;
        }
    }
    return 0;
}

int cfs_pb_check_strings(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len)
{
    if (!desc || (!buf && len)) return -EINVAL;
    return check(desc, buf, len, 0);
}
