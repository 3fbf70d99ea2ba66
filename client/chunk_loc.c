/* Chunk locations: conversion from the wire format, copies. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client/fs_internal.h"

chunk_loc chunk_hole;

void chunk_loc_free(chunk_loc *c)
{
    if (!c || c == CHUNK_HOLE) return;
    for (size_t i = 0; i < c->nreplicas; i++)
        free(c->replicas[i].address);
    free(c->replicas);
    free(c->token);
    free(c);
}

static int copy_token(chunk_loc *c, const uint8_t *data, size_t len)
{
    c->token = NULL;
    c->token_len = 0;
    if (len == 0) return 0;
    c->token = malloc(len);
    if (!c->token) return -ENOMEM;
    memcpy(c->token, data, len);
    c->token_len = len;
    return 0;
}

int chunk_loc_from_pb(const Chunkfs__ChunkInfo *ci, chunk_loc **out)
{
    chunk_loc *c = calloc(1, sizeof(*c));
    if (!c) return -ENOMEM;
    c->index = ci->index;
    c->chunk_id = ci->chunk_id;
    c->version = ci->version;
    c->base_version = ci->base_version;
    c->length = ci->length;
    if (copy_token(c, ci->token.data, ci->token.len) < 0) {
        free(c);
        return -ENOMEM;
    }
    if (ci->n_replicas) {
        c->replicas = calloc(ci->n_replicas, sizeof(*c->replicas));
        if (!c->replicas) {
            chunk_loc_free(c);
            return -ENOMEM;
        }
    }
    for (size_t i = 0; i < ci->n_replicas; i++) {
        const Chunkfs__ChunkLocation *l = ci->replicas[i];
        if (!l->address || !l->address[0]) continue;
        c->replicas[c->nreplicas].address = strdup(l->address);
        if (!c->replicas[c->nreplicas].address) {
            chunk_loc_free(c);
            return -ENOMEM;
        }
        c->replicas[c->nreplicas].server_id = l->server_id;
        c->nreplicas++;
    }
    *out = c;
    return 0;
}

int chunk_loc_copy(const chunk_loc *src, chunk_loc **out)
{
    if (src == CHUNK_HOLE) {
        *out = CHUNK_HOLE;
        return 0;
    }
    chunk_loc *c = calloc(1, sizeof(*c));
    if (!c) return -ENOMEM;
    *c = *src;
    c->nreplicas = 0;
    c->replicas = NULL;
    if (copy_token(c, src->token, src->token_len) < 0) {
        free(c);
        return -ENOMEM;
    }
    c->replicas = src->nreplicas ? calloc(src->nreplicas, sizeof(*c->replicas)) : NULL;
    if (src->nreplicas && !c->replicas) {
        chunk_loc_free(c);
        return -ENOMEM;
    }
    for (size_t i = 0; i < src->nreplicas; i++) {
        c->replicas[i].address = strdup(src->replicas[i].address);
        if (!c->replicas[i].address) {
            chunk_loc_free(c);
            return -ENOMEM;
        }
        c->replicas[i].server_id = src->replicas[i].server_id;
        c->nreplicas++;
    }
    *out = c;
    return 0;
}
