#ifndef CHAOS_STORE_H
#define CHAOS_STORE_H
/* Where the chaos workload writes: libchunkfs directly, or any POSIX path (a FUSE mount of
 * chunkfs). Same operations and the same meaning of success for both. Thread-safe. */
#include <stddef.h>
#include <stdint.h>

typedef struct chaos_store chaos_store;

/* libchunkfs connected to `meta_addrs`, every operation bounded by op_timeout_ms. */
int chaos_store_open_lib(const char *meta_addrs, int op_timeout_ms, chaos_store **out);
/* Plain system calls below directory `root` (a mount point). */
int chaos_store_open_posix(const char *root, chaos_store **out);
void chaos_store_close(chaos_store *s);

/* mkdir -p of an absolute path (relative to the store's root). */
int chaos_store_mkdirs(chaos_store *s, const char *dir);
/* Replaces the file's content: create/truncate, write, fsync, close. 0 only if every step
 * returned 0, i.e. the write is acknowledged. */
int chaos_store_write(chaos_store *s, const char *path, const uint8_t *data, size_t len);
int chaos_store_unlink(chaos_store *s, const char *path);
/* Whole content into *data (malloc'd, caller frees; may be NULL when *len is 0).
 * -ENOENT if the file does not exist. Refuses files over max_len with -EFBIG. */
int chaos_store_read(chaos_store *s, const char *path, uint64_t max_len, uint8_t **data,
                     uint64_t *len);

#endif
