#ifndef CHAOS_CONTENT_H
#define CHAOS_CONTENT_H
/* Deterministic file contents for the chaos workload: generation `gen` of file `file` in a
 * run with seed `seed` has a length and bytes that anyone can re-derive from those three
 * numbers (and the run's max size), so the checker needs no copy of what was written.
 * Pure functions. */
#include <stddef.h>
#include <stdint.h>

/* Length of (seed, file, gen) in [0, max_size]; about one in four is a whole number of 64 KiB
 * blocks so chunk and block boundaries are exercised. */
uint64_t chaos_content_len(uint64_t seed, uint32_t file, uint64_t gen, uint64_t max_size);

/* Fills buf with bytes [off, off + n) of (seed, file, gen). */
void chaos_content_fill(uint64_t seed, uint32_t file, uint64_t gen, uint64_t off, void *buf,
                        size_t n);

#endif
