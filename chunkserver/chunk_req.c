/* ChunkService request validation (see chunk_req.h). */
#include "chunkserver/chunk_req.h"

#include <errno.h>
#include <string.h>

#include "chunkserver/chunk_client.h"
#include "chunkserver/chunk_file.h"

int chunk_req_check_write_header(const Chunkfs__WriteHeader *h)
{
    if (h->chunk_id == 0 || h->version == 0 || h->version <= h->base_version) return -EINVAL;
    if (h->n_chain > CHUNK_REQ_MAX_CHAIN) return -EINVAL;
    for (size_t i = 0; i < h->n_chain; i++)
        if (!h->chain[i] || !h->chain[i][0] || strlen(h->chain[i]) > CHUNK_REQ_MAX_ADDR)
            return -EINVAL;
    return 0;
}

int chunk_req_check_write_piece(const Chunkfs__WriteReq *m)
{
    if (m->data.len > CHUNK_PIECE_SIZE) return -EMSGSIZE; /* writers send at most 1 MiB */
    if (m->offset > CHUNK_MAX_SIZE || m->data.len > CHUNK_MAX_SIZE - m->offset) return -EINVAL;
    return 0;
}

int chunk_req_check_read(const Chunkfs__ReadReq *r, uint64_t *off, uint64_t *end)
{
    if (r->chunk_id == 0 || r->offset > CHUNK_MAX_SIZE) return -EINVAL;
    uint64_t want = r->length == 0 ? CHUNK_MAX_SIZE : r->length;
    *off = r->offset;
    *end = r->offset + (want > CHUNK_MAX_SIZE - r->offset ? CHUNK_MAX_SIZE - r->offset : want);
    return 0;
}

int chunk_req_check_replicate(uint64_t chunk_id, uint64_t version, const char *source)
{
    return chunk_id == 0 || version == 0 || !source || !source[0] ? -EINVAL : 0;
}

int chunk_req_check_chunk_id(uint64_t chunk_id)
{
    return chunk_id == 0 ? -EINVAL : 0;
}

int chunk_req_check_set_version(const Chunkfs__SetVersionReq *m)
{
    return m->chunk_id == 0 || m->new_version == 0 ? -EINVAL : 0;
}
