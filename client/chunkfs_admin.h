#ifndef CHUNKFS_ADMIN_H
#define CHUNKFS_ADMIN_H
/* Cluster administration calls of libchunkfs (used by the CLI). They hand back the wire
 * message itself: free it with chunkfs__meta_response__free_unpacked(resp, NULL). */
#include <stddef.h>

#include "client/chunkfs.h"
#include "proto/chunkfs.pb-c.h"

/* ClusterStatus from the leader: resp->cluster_status is set on success. */
int cfs_cluster_status(cfs_fs *fs, const cfs_cred *cred, Chunkfs__MetaResponse **resp);
/* Fsck from the leader: resp->fsck is set on success. */
int cfs_fsck(cfs_fs *fs, const cfs_cred *cred, Chunkfs__MetaResponse **resp);
/* The leader address this client last talked to ("" if none yet), copied into buf. */
const char *cfs_leader_address(cfs_fs *fs, char *buf, size_t size);

#endif
