#ifndef CFS_CHUNK_REQ_H
#define CFS_CHUNK_REQ_H
/* Validation of decoded ChunkService requests: what chunk_service.c checks before a request
 * touches the store. Pure (no I/O), so the fuzz targets run the same checks without a
 * network. Each returns 0 when the request may proceed, or -EINVAL (or as said). */
#include <stdint.h>

#include "proto/chunkfs.pb-c.h"

#define CHUNK_REQ_MAX_CHAIN 16
#define CHUNK_REQ_MAX_ADDR 255

/* The header of a write stream: chunk id and version nonzero, version above base_version,
 * at most CHUNK_REQ_MAX_CHAIN downstream addresses, each 1..CHUNK_REQ_MAX_ADDR bytes. */
int chunk_req_check_write_header(const Chunkfs__WriteHeader *h);

/* A data piece of a write stream: -EMSGSIZE over CHUNK_PIECE_SIZE (1 MiB, what writers send),
 * -EINVAL unless inside the chunk. */
int chunk_req_check_write_piece(const Chunkfs__WriteReq *m);

/* A read: chunk id nonzero, offset inside the chunk. Sets [*off, *end) to the byte range to
 * serve (length 0 = to the chunk's end; clamped to CHUNK_MAX_SIZE). */
int chunk_req_check_read(const Chunkfs__ReadReq *r, uint64_t *off, uint64_t *end);

/* Replicate: chunk id and version nonzero, a non-empty source address. */
int chunk_req_check_replicate(uint64_t chunk_id, uint64_t version, const char *source);

/* Delete and Info name a chunk: id nonzero. */
int chunk_req_check_chunk_id(uint64_t chunk_id);

/* SetVersion: chunk id and new version nonzero. */
int chunk_req_check_set_version(const Chunkfs__SetVersionReq *m);

#endif
