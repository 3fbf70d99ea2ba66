#ifndef CFS_CHUNK_CLIENT_H
#define CFS_CHUNK_CLIENT_H
/* Caller side of ChunkService, used by a chunkserver to pull replicas from peers (Replicate)
 * and by tests and benchmarks. Errors are negative errno values as in common/rpc.h. */
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CHUNK_METHOD_WRITE "/chunkfs.ChunkService/Write"
#define CHUNK_METHOD_READ "/chunkfs.ChunkService/Read"
#define CHUNK_METHOD_REPLICATE "/chunkfs.ChunkService/Replicate"
#define CHUNK_METHOD_DELETE "/chunkfs.ChunkService/Delete"
#define CHUNK_METHOD_INFO "/chunkfs.ChunkService/Info"
#define CHUNK_METHOD_SET_VERSION "/chunkfs.ChunkService/SetVersion"

/* A chunk access token as the metaserver signed it (common/chunk_token.h), passed through
 * unread; {NULL, 0} (CHUNK_NO_TOKEN) for servers running without a cluster secret. */
typedef struct chunk_token_ref {
    const uint8_t *data;
    size_t len;
} chunk_token_ref;
#define CHUNK_NO_TOKEN ((chunk_token_ref){NULL, 0})

/* Largest data payload per WriteReq/ReadResp message. */
#define CHUNK_PIECE_SIZE (1024u * 1024)

struct chunk_write_result {
    int err;                  /* 0 or the error of the whole chain */
    char failed_address[256]; /* the replica that failed ("" when none/unknown) */
    uint64_t length;          /* replica length after the write (err == 0) */
};

/* Supplies the data to write: fills up to `max` bytes of `buf` for chunk offset `off` and
 * returns the count; 0 ends the write; < 0 aborts it with that error. */
typedef ssize_t (*chunk_source_fn)(void *arg, uint64_t off, uint8_t *buf, size_t max);

/* Streams a write to `addr` (first replica) with `chain` (the replicas after it) starting at
 * chunk offset `off`, in CHUNK_PIECE_SIZE messages, then waits for the final WriteResp. The
 * header carries `token` (a write token) to every replica of the chain.
 * Returns res->err: 0 when the whole chain has the data durably; otherwise res names the
 * failed replica (the first replica itself when the stream to it broke). */
int chunk_client_write(const char *addr, const char *const *chain, size_t nchain, uint64_t chunk_id,
                       uint64_t version, uint64_t base_version, chunk_token_ref token, uint64_t off,
                       chunk_source_fn source, void *arg, int timeout_ms,
                       struct chunk_write_result *res);

/* Gets each piece of a Read stream. Returning < 0 stops the read with that error. */
typedef int (*chunk_sink_fn)(void *arg, uint64_t off, const uint8_t *data, size_t len);

/* Reads [off, off + len) (len 0: to the end of the replica) of chunk_id at `version` from
 * `addr` with `token` (read or replicate); returns the byte count delivered to `sink` or a
 * negative error (-CFS_ECORRUPT, -CFS_ESTALE_VER, -ENOENT, -EACCES / -CFS_ETOKEN for a refused
 * token, transport errors). */
ssize_t chunk_client_read(const char *addr, uint64_t chunk_id, uint64_t version,
                          chunk_token_ref token, uint64_t off, uint64_t len, int timeout_ms,
                          chunk_sink_fn sink, void *arg);

/* Info/Delete/SetVersion/Replicate: 0 or the error from the reply or the transport. Info needs
 * no token; the others carry a delete, set-version (for new_version) or replicate token. */
int chunk_client_info(const char *addr, uint64_t chunk_id, int timeout_ms, uint64_t *version,
                      uint64_t *length);
int chunk_client_delete(const char *addr, uint64_t chunk_id, uint64_t version,
                        chunk_token_ref token, int timeout_ms);
int chunk_client_set_version(const char *addr, uint64_t chunk_id, uint64_t old_version,
                             uint64_t new_version, chunk_token_ref token, int timeout_ms);
int chunk_client_replicate(const char *addr, uint64_t chunk_id, uint64_t version,
                           const char *source, chunk_token_ref token, int timeout_ms);

#endif
