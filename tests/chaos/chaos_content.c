/* Content derivation: every 8-byte word is splitmix64 of a per-generation key and the word's
 * index, so any range can be produced independently (random access for verification). */
#include "tests/chaos/chaos_content.h"

#include <string.h>

static uint64_t mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t gen_key(uint64_t seed, uint32_t file, uint64_t gen)
{
    return mix64(mix64(mix64(seed) ^ file) ^ gen);
}

uint64_t chaos_content_len(uint64_t seed, uint32_t file, uint64_t gen, uint64_t max_size)
{
    uint64_t h = mix64(gen_key(seed, file, gen) ^ 0x5a5a5a5aull);
    uint64_t len = h % (max_size + 1);
    if ((h >> 62) == 0) len -= len % 65536;
    return len;
}

void chaos_content_fill(uint64_t seed, uint32_t file, uint64_t gen, uint64_t off, void *buf,
                        size_t n)
{
    uint64_t key = gen_key(seed, file, gen);
    uint8_t *out = buf;
    size_t done = 0;
    while (done < n) {
        uint64_t pos = off + done;
        uint64_t word = mix64(key ^ (pos / 8) * 0xd6e8feb86659fd93ull);
        size_t in_word = (size_t)(pos % 8);
        size_t take = 8 - in_word;
        if (take > n - done) take = n - done;
        uint8_t bytes[8];
        for (int i = 0; i < 8; i++)
            bytes[i] = (uint8_t)(word >> (8 * i));
        memcpy(out + done, bytes + in_word, take);
        done += take;
    }
}
