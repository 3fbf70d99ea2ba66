/* Caller credentials. */
#include <unistd.h>

#include "client/fs_internal.h"

void cfs_cred_self(cfs_cred *c)
{
    c->uid = (uint32_t)geteuid();
    c->gid = (uint32_t)getegid();
    gid_t g[CFS_CRED_MAX_GIDS];
    int n = getgroups(CFS_CRED_MAX_GIDS, g);
    c->ngids = 0;
    for (int i = 0; i < n; i++)
        c->gids[c->ngids++] = (uint32_t)g[i];
}

void cred_to_pb(const cfs_cred *c, Chunkfs__Cred *pb)
{
    chunkfs__cred__init(pb);
    pb->uid = c->uid;
    pb->gid = c->gid;
    pb->n_gids = c->ngids > CFS_CRED_MAX_GIDS ? CFS_CRED_MAX_GIDS : c->ngids;
    pb->gids = (uint32_t *)c->gids;
}
