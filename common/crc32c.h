#ifndef CFS_CRC32C_H
#define CFS_CRC32C_H
/* CRC32C (Castagnoli, reflected polynomial 0x82F63B78), as used by iSCSI (RFC 3720) and ext4.
 * Start with crc = 0; feeding the result back continues the checksum, so
 * crc32c(crc32c(0, a, n), b, m) == crc32c(0, a||b, n + m). Uses the SSE4.2 crc32 instruction
 * when the CPU has it (checked once at run time), else a table. Thread-safe. */
#include <stddef.h>
#include <stdint.h>

uint32_t crc32c(uint32_t crc, const void *buf, size_t len);

/* The two implementations, for tests and benchmarks. crc32c_hw must only be called when
 * crc32c_hw_available() returns 1. */
int crc32c_hw_available(void);
uint32_t crc32c_hw(uint32_t crc, const void *buf, size_t len);
uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t len);

#endif
