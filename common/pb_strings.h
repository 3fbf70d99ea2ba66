#ifndef CFS_PB_STRINGS_H
#define CFS_PB_STRINGS_H
/* Checks the string fields of a packed protobuf message before it is trusted.
 * protobuf-c unpacks a string by copying its bytes and appending a NUL, so a string with an
 * embedded NUL ("a\0b") silently becomes a different, shorter one ("a") everywhere that
 * uses it as a C string. Servers call this on every request they accept, so such a name or
 * path is refused instead of being cut short. */
#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

/* Walks the wire format of `buf` as a message of type `desc`, recursing into nested
 * messages (up to 32 levels). Returns 0 if no string field holds a NUL byte, -EINVAL if one
 * does or if the bytes are not a well-formed message. Unknown fields are skipped. */
int cfs_pb_check_strings(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len);

#endif
