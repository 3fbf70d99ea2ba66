/* Administrative calls: file chunk info, replication goal, cluster status, fsck. */
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "client/chunkfs_admin.h"
#include "client/fs_internal.h"

void cfs_file_info_free(cfs_file_info *fi)
{
    for (size_t i = 0; i < fi->nchunks; i++) {
        cfs_chunk *c = &fi->chunks[i];
        for (size_t r = 0; r < c->nreplicas; r++) {
            free(c->replicas[r].address);
            free(c->replicas[r].domain);
        }
        free(c->replicas);
    }
    free(fi->chunks);
    memset(fi, 0, sizeof(*fi));
}

static int copy_chunk(const Chunkfs__ChunkInfo *ci, cfs_chunk *c)
{
    c->index = ci->index;
    c->chunk_id = ci->chunk_id;
    c->version = ci->version;
    c->length = ci->length;
    c->nreplicas = 0;
    c->replicas = ci->n_replicas ? calloc(ci->n_replicas, sizeof(cfs_replica)) : NULL;
    if (ci->n_replicas && !c->replicas) return -ENOMEM;
    for (size_t r = 0; r < ci->n_replicas; r++) {
        cfs_replica *d = &c->replicas[r];
        d->address = strdup(ci->replicas[r]->address ? ci->replicas[r]->address : "");
        d->domain = strdup(ci->replicas[r]->domain ? ci->replicas[r]->domain : "");
        d->server_id = ci->replicas[r]->server_id;
        c->nreplicas++;
        if (!d->address || !d->domain) return -ENOMEM;
    }
    return 0;
}

int cfs_file_info_get(cfs_fs *fs, uint64_t ino, const cfs_cred *cred, cfs_file_info *out)
{
    memset(out, 0, sizeof(*out));
    Chunkfs__MetaRequest req = CHUNKFS__META_REQUEST__INIT;
    Chunkfs__FileInfoReq op = CHUNKFS__FILE_INFO_REQ__INIT;
    op.ino = ino;
    req.op_case = CHUNKFS__META_REQUEST__OP_FILE_INFO;
    req.file_info = &op;
    Chunkfs__MetaResponse *resp = NULL;
    int rc = meta_call(fs, cred, &req, &resp);
    if (rc == 0) {
        Chunkfs__ChunksResp *cr = resp->chunks;
        if (resp->result_case != CHUNKFS__META_RESPONSE__RESULT_CHUNKS || !cr) {
            rc = -EPROTO;
        } else {
            out->size = cr->size;
            out->chunk_size = cr->chunk_size;
            out->chunks = cr->n_chunks ? calloc(cr->n_chunks, sizeof(cfs_chunk)) : NULL;
            if (cr->n_chunks && !out->chunks) rc = -ENOMEM;
            for (size_t i = 0; rc == 0 && i < cr->n_chunks; i++) {
                out->nchunks++;
                rc = copy_chunk(cr->chunks[i], &out->chunks[i]);
            }
            if (rc < 0) cfs_file_info_free(out);
        }
    }
    if (resp) chunkfs__meta_response__free_unpacked(resp, NULL);
    return rc;
}

int cfs_set_goal(cfs_fs *fs, uint64_t ino, uint32_t goal, bool recursive, const cfs_cred *cred)
{
    if (goal == 0) return -EINVAL;
    Chunkfs__MetaRequest req = CHUNKFS__META_REQUEST__INIT;
    Chunkfs__SetGoalReq op = CHUNKFS__SET_GOAL_REQ__INIT;
    op.ino = ino;
    op.goal = goal;
    op.recursive = recursive;
    req.op_case = CHUNKFS__META_REQUEST__OP_SET_GOAL;
    req.set_goal = &op;
    return meta_call(fs, cred, &req, NULL);
}

static int simple_call(cfs_fs *fs, const cfs_cred *cred, Chunkfs__MetaRequest *req,
                       Chunkfs__MetaResponse__ResultCase want, Chunkfs__MetaResponse **out)
{
    *out = NULL;
    Chunkfs__MetaResponse *resp = NULL;
    int rc = meta_call(fs, cred, req, &resp);
    if (rc == 0 && resp->result_case != want) rc = -EPROTO;
    if (rc < 0) {
        if (resp) chunkfs__meta_response__free_unpacked(resp, NULL);
        return rc;
    }
    *out = resp;
    return 0;
}

int cfs_cluster_status(cfs_fs *fs, const cfs_cred *cred, Chunkfs__MetaResponse **out)
{
    Chunkfs__MetaRequest req = CHUNKFS__META_REQUEST__INIT;
    Chunkfs__ClusterStatusReq op = CHUNKFS__CLUSTER_STATUS_REQ__INIT;
    req.op_case = CHUNKFS__META_REQUEST__OP_CLUSTER_STATUS;
    req.cluster_status = &op;
    return simple_call(fs, cred, &req, CHUNKFS__META_RESPONSE__RESULT_CLUSTER_STATUS, out);
}

int cfs_fsck(cfs_fs *fs, const cfs_cred *cred, Chunkfs__MetaResponse **out)
{
    Chunkfs__MetaRequest req = CHUNKFS__META_REQUEST__INIT;
    Chunkfs__FsckReq op = CHUNKFS__FSCK_REQ__INIT;
    req.op_case = CHUNKFS__META_REQUEST__OP_FSCK;
    req.fsck = &op;
    return simple_call(fs, cred, &req, CHUNKFS__META_RESPONSE__RESULT_FSCK, out);
}

const char *cfs_leader_address(cfs_fs *fs, char *buf, size_t size)
{
    pthread_mutex_lock(&fs->leader_mu);
    snprintf(buf, size, "%s", fs->leader ? fs->leader : "");
    pthread_mutex_unlock(&fs->leader_mu);
    return buf;
}
