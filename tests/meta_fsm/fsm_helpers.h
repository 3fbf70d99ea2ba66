#ifndef CFS_TEST_FSM_HELPERS_H
#define CFS_TEST_FSM_HELPERS_H
/* Test driver for meta_fsm: every mutation is packed into a MetaCommand and applied exactly
 * as the metaserver would; reads go through meta_fsm_read. Calls act as the current user
 * (th_as) and client (th_client) at the current time (th_now). */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>

#include "common/errors.h"
#include "metaserver/meta_fsm.h"

extern meta_fsm *TF;      /* the fsm under test */
extern int64_t TNOW;      /* now_ns put into commands */
extern uint64_t TCLIENT;  /* client id of the caller */
extern uint64_t TREQ;     /* next request id */
extern uint32_t TMAXOPEN; /* max_open put into client commands (0: no cap) */

void th_setup(void);
void th_teardown(void);
/* Acts as uid/gid with up to 4 supplementary groups (terminated by 0 or count). */
void th_as(uint32_t uid, uint32_t gid, int ngids, const uint32_t *gids);
void th_root(void);

/* Runs a request (apply if it is a mutation, else read); returns the response (free with
 * chunkfs__meta_response__free_unpacked). Fails the test on -ENOMEM. */
Chunkfs__MetaResponse *th_run(Chunkfs__MetaRequest *req);
/* Same with an explicit request id and replicas for alloc_chunk. */
Chunkfs__MetaResponse *th_run_full(Chunkfs__MetaRequest *req, uint64_t request_id, int n_replicas);
int th_apply_packed(const uint8_t *buf, size_t len, Chunkfs__MetaResponse **out);

/* One-call helpers: return err; on success fill *ino / *attr when non-NULL. */
int th_mkdir(uint64_t parent, const char *name, uint32_t mode, uint64_t *ino);
int th_create(uint64_t parent, const char *name, uint32_t mode, uint64_t *ino);
int th_create_full(uint64_t parent, const char *name, uint32_t mode, int exclusive, int truncate,
                   int open_write, uint64_t *ino, uint64_t *lease);
int th_lookup(uint64_t parent, const char *name, Chunkfs__Attr *attr);
int th_getattr(uint64_t ino, Chunkfs__Attr *attr);
int th_unlink(uint64_t parent, const char *name);
int th_rmdir(uint64_t parent, const char *name);
int th_rename(uint64_t sp, const char *sn, uint64_t dp, const char *dn, uint32_t flags);
int th_link(uint64_t ino, uint64_t parent, const char *name);
int th_symlink(uint64_t parent, const char *name, const char *target, uint64_t *ino);
int th_readlink(uint64_t ino, char *buf, size_t len);
int th_setattr(uint64_t ino, uint32_t valid, uint32_t mode, uint32_t uid, uint32_t gid,
               uint64_t size, int64_t atime, int64_t mtime, Chunkfs__Attr *attr);
int th_access(uint64_t ino, uint32_t mask);
int th_setxattr(uint64_t ino, const char *name, const char *value, uint32_t flags);
int th_getxattr(uint64_t ino, const char *name, char *buf, size_t len);
int th_removexattr(uint64_t ino, const char *name);
int th_listxattr(uint64_t ino, char *joined, size_t len); /* names joined with ',' */
int th_open(uint64_t ino, uint32_t flags, uint64_t *lease);
int th_close(uint64_t ino, uint64_t lease);
int th_renew(uint64_t ino, uint64_t lease);
/* alloc_chunk: returns err; fills id/version/base. */
int th_alloc(uint64_t ino, uint64_t lease, uint32_t index, uint64_t *id, uint64_t *version,
             uint64_t *base);
int th_commit(uint64_t ino, uint64_t lease, uint32_t index, uint64_t id, uint64_t version,
              uint64_t length, uint64_t size);
int th_set_goal(uint64_t ino, uint32_t goal, int recursive);
int th_resolve(const char *path, int follow, uint64_t *ino);
int th_format(const char *cluster_id, uint32_t goal, uint64_t chunk_size);
int th_drop_deleted(uint64_t count);
/* RecoverLeaseCmd settling one chunk (index/id/version/length). */
int th_recover_lease(uint64_t ino, uint64_t lease, uint32_t index, uint64_t id, uint64_t version,
                     uint64_t length);

#endif
