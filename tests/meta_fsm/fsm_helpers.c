#include "tests/meta_fsm/fsm_helpers.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

meta_fsm *TF;
int64_t TNOW;
uint64_t TCLIENT;
uint64_t TREQ;
uint32_t TMAXOPEN;

static Chunkfs__Cred cred;
static uint32_t gids[4];

void th_setup(void)
{
    TF = meta_fsm_create();
    ck_assert_ptr_nonnull(TF);
    TNOW = 1000000000000ll;
    TCLIENT = 77;
    TREQ = 1;
    TMAXOPEN = 0;
    th_root();
}

void th_teardown(void)
{
    meta_fsm_destroy(TF);
    TF = NULL;
}

void th_as(uint32_t uid, uint32_t gid, int ngids, const uint32_t *g)
{
    chunkfs__cred__init(&cred);
    cred.uid = uid;
    cred.gid = gid;
    for (int i = 0; i < ngids && i < 4; i++)
        gids[i] = g[i];
    cred.n_gids = (size_t)(ngids < 4 ? ngids : 4);
    cred.gids = gids;
}

void th_root(void)
{
    th_as(0, 0, 0, NULL);
}

int th_apply_packed(const uint8_t *buf, size_t len, Chunkfs__MetaResponse **out)
{
    return meta_fsm_apply(TF, buf, len, out);
}

Chunkfs__MetaResponse *th_run_full(Chunkfs__MetaRequest *req, uint64_t request_id, int n_replicas)
{
    req->cred = &cred;
    req->client_id = TCLIENT;
    req->request_id = request_id;
    Chunkfs__MetaResponse *resp = NULL;
    if (!meta_fsm_is_mutation(req)) {
        ck_assert_int_eq(meta_fsm_read(TF, req, &resp), 0);
        return resp;
    }
    Chunkfs__MetaCommand cmd = CHUNKFS__META_COMMAND__INIT;
    cmd.now_ns = TNOW;
    cmd.cmd_case = CHUNKFS__META_COMMAND__CMD_CLIENT;
    cmd.client = req;
    cmd.max_open = TMAXOPEN;
    Chunkfs__ChunkLocation locs[3], *lp[3];
    static const char *addrs[3] = {"127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003"};
    for (int i = 0; i < n_replicas && i < 3; i++) {
        chunkfs__chunk_location__init(&locs[i]);
        locs[i].address = (char *)addrs[i];
        locs[i].server_id = (uint64_t)i + 1;
        lp[i] = &locs[i];
    }
    cmd.n_replicas = (size_t)n_replicas;
    cmd.replicas = lp;
    size_t len = chunkfs__meta_command__get_packed_size(&cmd);
    uint8_t *buf = malloc(len);
    ck_assert_ptr_nonnull(buf);
    chunkfs__meta_command__pack(&cmd, buf);
    ck_assert_int_eq(meta_fsm_apply(TF, buf, len, &resp), 0);
    free(buf);
    ck_assert_ptr_nonnull(resp);
    return resp;
}

Chunkfs__MetaResponse *th_run(Chunkfs__MetaRequest *req)
{
    return th_run_full(req, TREQ++, 3);
}

static int finish_attr(Chunkfs__MetaResponse *r, uint64_t *ino, Chunkfs__Attr *attr)
{
    int err = r->err;
    if (err == 0) {
        const Chunkfs__Attr *a =
            r->result_case == CHUNKFS__META_RESPONSE__RESULT_OPEN ? r->open->attr : r->attr;
        ck_assert_ptr_nonnull(a);
        if (ino) *ino = a->ino;
        if (attr) {
            *attr = *a;
            attr->base.descriptor = a->base.descriptor;
        }
    }
    chunkfs__meta_response__free_unpacked(r, NULL);
    return err;
}

static int finish(Chunkfs__MetaResponse *r)
{
    int err = r->err;
    chunkfs__meta_response__free_unpacked(r, NULL);
    return err;
}

#define REQ(var, kind, KIND)                                                                       \
    Chunkfs__MetaRequest req = CHUNKFS__META_REQUEST__INIT;                                        \
    req.op_case = CHUNKFS__META_REQUEST__OP_##KIND;                                                \
    req.kind = &var

int th_mkdir(uint64_t parent, const char *name, uint32_t mode, uint64_t *ino)
{
    Chunkfs__MkdirReq m = CHUNKFS__MKDIR_REQ__INIT;
    m.parent = parent;
    m.name = (char *)name;
    m.mode = mode;
    REQ(m, mkdir, MKDIR);
    return finish_attr(th_run(&req), ino, NULL);
}

int th_create_full(uint64_t parent, const char *name, uint32_t mode, int exclusive, int truncate,
                   int open_write, uint64_t *ino, uint64_t *lease)
{
    Chunkfs__CreateReq m = CHUNKFS__CREATE_REQ__INIT;
    m.parent = parent;
    m.name = (char *)name;
    m.mode = mode;
    m.exclusive = exclusive;
    m.truncate = truncate;
    m.open_write = open_write;
    REQ(m, create, CREATE);
    Chunkfs__MetaResponse *r = th_run(&req);
    if (r->err == 0 && lease)
        *lease = r->result_case == CHUNKFS__META_RESPONSE__RESULT_OPEN ? r->open->lease_id : 0;
    return finish_attr(r, ino, NULL);
}

int th_create(uint64_t parent, const char *name, uint32_t mode, uint64_t *ino)
{
    return th_create_full(parent, name, mode, 1, 0, 0, ino, NULL);
}

int th_lookup(uint64_t parent, const char *name, Chunkfs__Attr *attr)
{
    Chunkfs__LookupReq m = CHUNKFS__LOOKUP_REQ__INIT;
    m.parent = parent;
    m.name = (char *)name;
    REQ(m, lookup, LOOKUP);
    return finish_attr(th_run(&req), NULL, attr);
}

int th_getattr(uint64_t ino, Chunkfs__Attr *attr)
{
    Chunkfs__GetattrReq m = CHUNKFS__GETATTR_REQ__INIT;
    m.ino = ino;
    REQ(m, getattr, GETATTR);
    return finish_attr(th_run(&req), NULL, attr);
}

int th_unlink(uint64_t parent, const char *name)
{
    Chunkfs__UnlinkReq m = CHUNKFS__UNLINK_REQ__INIT;
    m.parent = parent;
    m.name = (char *)name;
    REQ(m, unlink, UNLINK);
    return finish(th_run(&req));
}

int th_rmdir(uint64_t parent, const char *name)
{
    Chunkfs__RmdirReq m = CHUNKFS__RMDIR_REQ__INIT;
    m.parent = parent;
    m.name = (char *)name;
    REQ(m, rmdir, RMDIR);
    return finish(th_run(&req));
}

int th_rename(uint64_t sp, const char *sn, uint64_t dp, const char *dn, uint32_t flags)
{
    Chunkfs__RenameReq m = CHUNKFS__RENAME_REQ__INIT;
    m.src_parent = sp;
    m.src_name = (char *)sn;
    m.dst_parent = dp;
    m.dst_name = (char *)dn;
    m.flags = flags;
    REQ(m, rename, RENAME);
    return finish(th_run(&req));
}

int th_link(uint64_t ino, uint64_t parent, const char *name)
{
    Chunkfs__LinkReq m = CHUNKFS__LINK_REQ__INIT;
    m.ino = ino;
    m.new_parent = parent;
    m.new_name = (char *)name;
    REQ(m, link, LINK);
    return finish_attr(th_run(&req), NULL, NULL);
}

int th_symlink(uint64_t parent, const char *name, const char *target, uint64_t *ino)
{
    Chunkfs__SymlinkReq m = CHUNKFS__SYMLINK_REQ__INIT;
    m.parent = parent;
    m.name = (char *)name;
    m.target = (char *)target;
    REQ(m, symlink, SYMLINK);
    return finish_attr(th_run(&req), ino, NULL);
}

int th_readlink(uint64_t ino, char *buf, size_t len)
{
    Chunkfs__ReadlinkReq m = CHUNKFS__READLINK_REQ__INIT;
    m.ino = ino;
    REQ(m, readlink, READLINK);
    Chunkfs__MetaResponse *r = th_run(&req);
    if (r->err == 0) snprintf(buf, len, "%s", r->target);
    return finish(r);
}

int th_setattr(uint64_t ino, uint32_t valid, uint32_t mode, uint32_t uid, uint32_t gid,
               uint64_t size, int64_t atime, int64_t mtime, Chunkfs__Attr *attr)
{
    Chunkfs__SetattrReq m = CHUNKFS__SETATTR_REQ__INIT;
    m.ino = ino;
    m.valid = valid;
    m.mode = mode;
    m.uid = uid;
    m.gid = gid;
    m.size = size;
    m.atime_ns = atime;
    m.mtime_ns = mtime;
    REQ(m, setattr, SETATTR);
    return finish_attr(th_run(&req), NULL, attr);
}

int th_access(uint64_t ino, uint32_t mask)
{
    Chunkfs__AccessReq m = CHUNKFS__ACCESS_REQ__INIT;
    m.ino = ino;
    m.mask = mask;
    REQ(m, access, ACCESS);
    return finish(th_run(&req));
}

int th_setxattr(uint64_t ino, const char *name, const char *value, uint32_t flags)
{
    Chunkfs__SetxattrReq m = CHUNKFS__SETXATTR_REQ__INIT;
    m.ino = ino;
    m.name = (char *)name;
    m.value.data = (uint8_t *)value;
    m.value.len = strlen(value);
    m.flags = flags;
    REQ(m, setxattr, SETXATTR);
    return finish(th_run(&req));
}

int th_getxattr(uint64_t ino, const char *name, char *buf, size_t len)
{
    Chunkfs__GetxattrReq m = CHUNKFS__GETXATTR_REQ__INIT;
    m.ino = ino;
    m.name = (char *)name;
    REQ(m, getxattr, GETXATTR);
    Chunkfs__MetaResponse *r = th_run(&req);
    if (r->err == 0) {
        ck_assert_uint_lt(r->xattr_value.len, len);
        memcpy(buf, r->xattr_value.data, r->xattr_value.len);
        buf[r->xattr_value.len] = '\0';
    }
    return finish(r);
}

int th_removexattr(uint64_t ino, const char *name)
{
    Chunkfs__RemovexattrReq m = CHUNKFS__REMOVEXATTR_REQ__INIT;
    m.ino = ino;
    m.name = (char *)name;
    REQ(m, removexattr, REMOVEXATTR);
    return finish(th_run(&req));
}

int th_listxattr(uint64_t ino, char *joined, size_t len)
{
    Chunkfs__ListxattrReq m = CHUNKFS__LISTXATTR_REQ__INIT;
    m.ino = ino;
    REQ(m, listxattr, LISTXATTR);
    Chunkfs__MetaResponse *r = th_run(&req);
    joined[0] = '\0';
    if (r->err == 0) {
        for (size_t i = 0; i < r->xattr_names->n_names; i++) {
            if (i) strncat(joined, ",", len - strlen(joined) - 1);
            strncat(joined, r->xattr_names->names[i], len - strlen(joined) - 1);
        }
    }
    return finish(r);
}

int th_open(uint64_t ino, uint32_t flags, uint64_t *lease)
{
    Chunkfs__OpenReq m = CHUNKFS__OPEN_REQ__INIT;
    m.ino = ino;
    m.flags = flags;
    m.client_id = TCLIENT;
    REQ(m, open, OPEN);
    Chunkfs__MetaResponse *r = th_run(&req);
    if (r->err == 0 && lease) *lease = r->open->lease_id;
    return finish(r);
}

int th_close(uint64_t ino, uint64_t lease)
{
    Chunkfs__CloseReq m = CHUNKFS__CLOSE_REQ__INIT;
    m.ino = ino;
    m.lease_id = lease;
    REQ(m, close, CLOSE);
    return finish(th_run(&req));
}

int th_renew(uint64_t ino, uint64_t lease)
{
    Chunkfs__RenewLeaseReq m = CHUNKFS__RENEW_LEASE_REQ__INIT;
    m.ino = ino;
    m.lease_id = lease;
    REQ(m, renew_lease, RENEW_LEASE);
    return finish(th_run(&req));
}

int th_alloc(uint64_t ino, uint64_t lease, uint32_t index, uint64_t *id, uint64_t *version,
             uint64_t *base)
{
    Chunkfs__AllocChunkReq m = CHUNKFS__ALLOC_CHUNK_REQ__INIT;
    m.ino = ino;
    m.lease_id = lease;
    m.index = index;
    REQ(m, alloc_chunk, ALLOC_CHUNK);
    Chunkfs__MetaResponse *r = th_run(&req);
    if (r->err == 0) {
        ck_assert_int_eq(r->result_case, CHUNKFS__META_RESPONSE__RESULT_CHUNKS);
        ck_assert_uint_eq(r->chunks->n_chunks, 1);
        const Chunkfs__ChunkInfo *ci = r->chunks->chunks[0];
        ck_assert_uint_eq(ci->index, index);
        ck_assert_uint_eq(ci->n_replicas, 3);
        ck_assert_str_eq(ci->replicas[1]->address, "127.0.0.1:7002");
        ck_assert_uint_eq(ci->replicas[2]->server_id, 3);
        if (id) *id = ci->chunk_id;
        if (version) *version = ci->version;
        if (base) *base = ci->base_version;
    }
    return finish(r);
}

int th_commit(uint64_t ino, uint64_t lease, uint32_t index, uint64_t id, uint64_t version,
              uint64_t length, uint64_t size)
{
    Chunkfs__CommitWriteReq m = CHUNKFS__COMMIT_WRITE_REQ__INIT;
    Chunkfs__ChunkCommit cc = CHUNKFS__CHUNK_COMMIT__INIT, *ccp = &cc;
    cc.index = index;
    cc.chunk_id = id;
    cc.version = version;
    cc.length = length;
    m.ino = ino;
    m.lease_id = lease;
    m.n_chunks = 1;
    m.chunks = &ccp;
    m.size = size;
    REQ(m, commit_write, COMMIT_WRITE);
    return finish(th_run(&req));
}

int th_set_goal(uint64_t ino, uint32_t goal, int recursive)
{
    Chunkfs__SetGoalReq m = CHUNKFS__SET_GOAL_REQ__INIT;
    m.ino = ino;
    m.goal = goal;
    m.recursive = recursive;
    REQ(m, set_goal, SET_GOAL);
    return finish(th_run(&req));
}

int th_resolve(const char *path, int follow, uint64_t *ino)
{
    Chunkfs__ResolveReq m = CHUNKFS__RESOLVE_REQ__INIT;
    m.path = (char *)path;
    m.follow = follow;
    REQ(m, resolve, RESOLVE);
    return finish_attr(th_run(&req), ino, NULL);
}

static int apply_cmd(Chunkfs__MetaCommand *cmd)
{
    size_t len = chunkfs__meta_command__get_packed_size(cmd);
    uint8_t *buf = malloc(len ? len : 1);
    ck_assert_ptr_nonnull(buf);
    chunkfs__meta_command__pack(cmd, buf);
    Chunkfs__MetaResponse *r = NULL;
    ck_assert_int_eq(meta_fsm_apply(TF, buf, len, &r), 0);
    free(buf);
    return finish(r);
}

int th_format(const char *cluster_id, uint32_t goal, uint64_t chunk_size)
{
    Chunkfs__FormatCmd f = CHUNKFS__FORMAT_CMD__INIT;
    f.cluster_id = (char *)cluster_id;
    f.root_goal = goal;
    f.chunk_size = chunk_size;
    Chunkfs__MetaCommand cmd = CHUNKFS__META_COMMAND__INIT;
    cmd.now_ns = TNOW;
    cmd.cmd_case = CHUNKFS__META_COMMAND__CMD_FORMAT;
    cmd.format = &f;
    return apply_cmd(&cmd);
}

int th_drop_deleted(uint64_t count)
{
    Chunkfs__DropDeletedCmd d = CHUNKFS__DROP_DELETED_CMD__INIT;
    d.count = count;
    Chunkfs__MetaCommand cmd = CHUNKFS__META_COMMAND__INIT;
    cmd.now_ns = TNOW;
    cmd.cmd_case = CHUNKFS__META_COMMAND__CMD_DROP_DELETED;
    cmd.drop_deleted = &d;
    return apply_cmd(&cmd);
}

int th_recover_lease(uint64_t ino, uint64_t lease, uint32_t index, uint64_t id, uint64_t version,
                     uint64_t length)
{
    Chunkfs__ChunkCommit cc = CHUNKFS__CHUNK_COMMIT__INIT, *ccp = &cc;
    cc.index = index;
    cc.chunk_id = id;
    cc.version = version;
    cc.length = length;
    Chunkfs__RecoverLeaseCmd r = CHUNKFS__RECOVER_LEASE_CMD__INIT;
    r.ino = ino;
    r.lease_id = lease;
    r.n_chunks = 1;
    r.chunks = &ccp;
    Chunkfs__MetaCommand cmd = CHUNKFS__META_COMMAND__INIT;
    cmd.now_ns = TNOW;
    cmd.cmd_case = CHUNKFS__META_COMMAND__CMD_RECOVER_LEASE;
    cmd.recover_lease = &r;
    return apply_cmd(&cmd);
}
