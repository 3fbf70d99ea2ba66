/* meta_fsm chunk map, write leases, commit, truncate, deletion queue and exactly-once. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/meta_fsm/fsm_helpers.h"

#define ROOT 1
#define MiB (1ull << 20)

static Chunkfs__MetaResponse *get_chunks(uint64_t ino, uint32_t first, uint32_t count)
{
    Chunkfs__GetChunksReq g = CHUNKFS__GET_CHUNKS_REQ__INIT;
    g.ino = ino;
    g.first = first;
    g.count = count;
    Chunkfs__MetaRequest req = CHUNKFS__META_REQUEST__INIT;
    req.op_case = CHUNKFS__META_REQUEST__OP_GET_CHUNKS;
    req.get_chunks = &g;
    return th_run(&req);
}

START_TEST(t_alloc_commit_read)
{
    ck_assert_int_eq(th_format("c1", 2, MiB), 0);
    uint64_t f, lease, id, ver, base;
    ck_assert_int_eq(th_create_full(ROOT, "f", 0644, 1, 0, 1, &f, &lease), 0);
    ck_assert_uint_gt(lease, 0);
    ck_assert_int_eq(th_alloc(f, lease, 0, &id, &ver, &base), 0);
    ck_assert_uint_eq(ver, 1);
    ck_assert_uint_eq(base, 0);
    /* uncommitted: the file is still empty */
    Chunkfs__Attr a;
    ck_assert_int_eq(th_getattr(f, &a), 0);
    ck_assert_uint_eq(a.size, 0);
    TNOW += 50;
    ck_assert_int_eq(th_commit(f, lease, 0, id, ver, MiB, MiB), 0);
    ck_assert_int_eq(th_getattr(f, &a), 0);
    ck_assert_uint_eq(a.size, MiB);
    ck_assert_int_eq(a.mtime_ns, TNOW);
    ck_assert_uint_eq(a.generation, 1);
    /* second chunk (index 2, leaving a hole at 1) */
    uint64_t id2, ver2;
    ck_assert_int_eq(th_alloc(f, lease, 2, &id2, &ver2, &base), 0);
    ck_assert_uint_ne(id2, id);
    ck_assert_int_eq(th_commit(f, lease, 2, id2, ver2, 100, 2 * MiB + 100), 0);
    /* rewriting chunk 0 bumps its version; a commit of the old version is stale */
    uint64_t idb, verb;
    ck_assert_int_eq(th_alloc(f, lease, 0, &idb, &verb, &base), 0);
    ck_assert_uint_eq(idb, id);
    ck_assert_uint_eq(verb, 2);
    ck_assert_uint_eq(base, 1);
    ck_assert_int_eq(th_commit(f, lease, 0, id, 1, 10, 10), -CFS_ESTALE_VER);
    ck_assert_int_eq(th_commit(f, lease, 1, id, 2, 10, 10), -CFS_ESTALE_VER);
    ck_assert_int_eq(th_commit(f, lease, 0, id, 2, 2 * MiB, 10), -EINVAL);
    ck_assert_int_eq(th_commit(f, lease, 0, id, 2, 10, 10), 0);
    ck_assert_int_eq(th_getattr(f, &a), 0);
    ck_assert_uint_eq(a.size, 2 * MiB + 100); /* size never shrinks by commit */

    Chunkfs__MetaResponse *r = get_chunks(f, 0, 0);
    ck_assert_int_eq(r->err, 0);
    ck_assert_uint_eq(r->chunks->n_chunks, 2);
    ck_assert_uint_eq(r->chunks->size, 2 * MiB + 100);
    ck_assert_uint_eq(r->chunks->chunk_size, MiB);
    ck_assert_uint_eq(r->chunks->chunks[0]->index, 0);
    ck_assert_uint_eq(r->chunks->chunks[0]->version, 2);
    ck_assert_uint_eq(r->chunks->chunks[0]->length, MiB);
    ck_assert_uint_eq(r->chunks->chunks[1]->index, 2);
    ck_assert_uint_eq(r->chunks->chunks[1]->chunk_id, id2);
    ck_assert_uint_eq(r->chunks->chunks[1]->length, 100);
    chunkfs__meta_response__free_unpacked(r, NULL);
    r = get_chunks(f, 1, 1); /* the hole */
    ck_assert_int_eq(r->err, 0);
    ck_assert_uint_eq(r->chunks->n_chunks, 0);
    chunkfs__meta_response__free_unpacked(r, NULL);
    r = get_chunks(ROOT, 0, 1);
    ck_assert_int_eq(r->err, -EISDIR);
    chunkfs__meta_response__free_unpacked(r, NULL);

    meta_chunk_ref ref;
    ck_assert_int_eq(meta_fsm_chunk_lookup(TF, id2, &ref), 0);
    ck_assert_uint_eq(ref.ino, f);
    ck_assert_uint_eq(ref.index, 2);
    ck_assert_uint_eq(ref.goal, 2);
    ck_assert_int_eq(meta_fsm_chunk_lookup(TF, 12345, &ref), -ENOENT);
    ck_assert_int_eq(meta_fsm_file_chunk(TF, f, 0, &ref), 0);
    ck_assert_uint_eq(ref.version, 2);
    ck_assert_int_eq(meta_fsm_file_chunk(TF, f, 1, &ref), -ENOENT);
    ck_assert_int_eq(meta_fsm_file_chunk(TF, ROOT, 0, &ref), -EISDIR);
}
END_TEST

START_TEST(t_truncate_and_delete_queue)
{
    ck_assert_int_eq(th_format("c1", 2, MiB), 0);
    uint64_t f, lease, ids[3], ver;
    ck_assert_int_eq(th_create_full(ROOT, "f", 0644, 1, 0, 1, &f, &lease), 0);
    for (uint32_t i = 0; i < 3; i++) {
        ck_assert_int_eq(th_alloc(f, lease, i, &ids[i], &ver, NULL), 0);
        ck_assert_int_eq(th_commit(f, lease, i, ids[i], ver, MiB, (i + 1) * MiB), 0);
    }
    meta_fsm_info info;
    meta_fsm_get_info(TF, &info);
    ck_assert_uint_eq(info.chunks, 3);
    /* shrink into chunk 1: chunk 2 dropped, chunk 1 cut */
    Chunkfs__Attr a;
    ck_assert_int_eq(th_setattr(f, META_SETATTR_SIZE, 0, 0, 0, MiB + 10, 0, 0, &a), 0);
    ck_assert_uint_eq(a.size, MiB + 10);
    const meta_deleted_chunk *del;
    size_t n;
    meta_fsm_deleted(TF, &del, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(del[0].chunk_id, ids[2]);
    ck_assert_uint_eq(del[0].version, 1);
    meta_chunk_ref ref;
    ck_assert_int_eq(meta_fsm_chunk_lookup(TF, ids[2], &ref), -ENOENT);
    ck_assert_int_eq(meta_fsm_chunk_lookup(TF, ids[1], &ref), 0);
    ck_assert_uint_eq(ref.length, 10);
    /* grow again: the cut bytes stay gone (length 10), the rest reads as a hole */
    ck_assert_int_eq(th_setattr(f, META_SETATTR_SIZE, 0, 0, 0, 3 * MiB, 0, 0, &a), 0);
    ck_assert_int_eq(meta_fsm_chunk_lookup(TF, ids[1], &ref), 0);
    ck_assert_uint_eq(ref.length, 10);
    /* O_TRUNC at open drops everything */
    uint64_t lease2;
    ck_assert_int_eq(th_open(f, O_WRONLY | O_TRUNC, &lease2), 0);
    ck_assert_uint_eq(lease2, lease); /* same client shares its lease */
    ck_assert_int_eq(th_getattr(f, &a), 0);
    ck_assert_uint_eq(a.size, 0);
    meta_fsm_deleted(TF, &del, &n);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(th_drop_deleted(4), -EINVAL);
    ck_assert_int_eq(th_drop_deleted(2), 0);
    meta_fsm_deleted(TF, &del, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(del[0].chunk_id, ids[1]);
    /* unlink of the last link queues the remaining chunks */
    uint64_t g, gl, gid, gv;
    ck_assert_int_eq(th_create_full(ROOT, "g", 0644, 1, 0, 1, &g, &gl), 0);
    ck_assert_int_eq(th_alloc(g, gl, 0, &gid, &gv, NULL), 0);
    ck_assert_int_eq(th_link(g, ROOT, "g2"), 0);
    ck_assert_int_eq(th_unlink(ROOT, "g"), 0);
    meta_fsm_deleted(TF, &del, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(th_unlink(ROOT, "g2"), 0);
    meta_fsm_deleted(TF, &del, &n);
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(del[1].chunk_id, gid);
    meta_fsm_get_info(TF, &info);
    ck_assert_uint_eq(info.chunks, 0);
    ck_assert_uint_eq(info.files, 1);
}
END_TEST

static int count_lease(void *arg, const meta_lease_ref *l)
{
    (void)l;
    (*(int *)arg)++;
    return 0;
}

START_TEST(t_leases)
{
    uint64_t f, lease, id, ver;
    ck_assert_int_eq(th_create_full(ROOT, "f", 0666, 1, 0, 1, &f, &lease), 0);
    /* another client cannot open for writing while the lease is live */
    TCLIENT = 88;
    uint64_t other;
    ck_assert_int_eq(th_open(f, O_WRONLY, &other), -CFS_ELEASE);
    ck_assert_int_eq(th_create_full(ROOT, "f", 0644, 0, 0, 1, NULL, NULL), -CFS_ELEASE);
    ck_assert_int_eq(th_open(f, O_RDONLY, &other), 0); /* readers are fine */
    ck_assert_uint_eq(other, 0);
    ck_assert_int_eq(th_alloc(f, lease, 0, &id, &ver, NULL), -CFS_ELEASE); /* not its lease */
    TCLIENT = 77;
    ck_assert_int_eq(th_alloc(f, lease + 1, 0, &id, &ver, NULL), -CFS_ELEASE);
    ck_assert_int_eq(th_alloc(f, lease, 0, &id, &ver, NULL), 0);
    /* renew keeps it alive past the original expiry */
    TNOW += 20 * 1000000000ll;
    ck_assert_int_eq(th_renew(f, lease), 0);
    TNOW += 20 * 1000000000ll;
    TCLIENT = 88;
    ck_assert_int_eq(th_open(f, O_WRONLY, &other), -CFS_ELEASE);
    /* expired: taken over by the next opener; the old writer's calls fail */
    TNOW += 31 * 1000000000ll;
    ck_assert_int_eq(th_open(f, O_RDWR, &other), 0);
    ck_assert_uint_gt(other, lease);
    TCLIENT = 77;
    ck_assert_int_eq(th_commit(f, lease, 0, id, ver, 10, 10), -CFS_ELEASE);
    ck_assert_int_eq(th_renew(f, lease), -CFS_ELEASE);
    ck_assert_int_eq(th_close(f, lease), -CFS_ELEASE);
    TCLIENT = 88;
    uint64_t id2, ver2;
    ck_assert_int_eq(th_alloc(f, other, 0, &id2, &ver2, NULL), 0);
    ck_assert_uint_eq(id2, id);
    ck_assert_uint_eq(ver2, ver + 1); /* stale data of the old writer cannot win */
    int nl = 0;
    meta_fsm_lease_foreach(TF, count_lease, &nl);
    ck_assert_int_eq(nl, 1);
    ck_assert_int_eq(th_close(f, other), 0);
    nl = 0;
    meta_fsm_lease_foreach(TF, count_lease, &nl);
    ck_assert_int_eq(nl, 0);
    ck_assert_int_eq(th_alloc(f, other, 0, &id2, &ver2, NULL), -CFS_ELEASE);
    ck_assert_int_eq(th_close(f, other), -CFS_ELEASE);
    ck_assert_int_eq(th_close(ROOT, 1), -EISDIR);
    /* two write opens by one client share a lease until the last close */
    uint64_t l1, l2;
    ck_assert_int_eq(th_open(f, O_WRONLY, &l1), 0);
    ck_assert_int_eq(th_open(f, O_RDWR, &l2), 0);
    ck_assert_uint_eq(l1, l2);
    ck_assert_int_eq(th_close(f, l1), 0);
    ck_assert_int_eq(th_renew(f, l1), 0);
    ck_assert_int_eq(th_close(f, l1), 0);
    ck_assert_int_eq(th_renew(f, l1), -CFS_ELEASE);
}
END_TEST

static int sum_chunks(void *arg, const meta_chunk_ref *c)
{
    *(uint64_t *)arg += c->chunk_id;
    return 0;
}

START_TEST(t_recover_lease)
{
    uint64_t f, lease, id, ver;
    ck_assert_int_eq(th_create_full(ROOT, "f", 0666, 1, 0, 1, &f, &lease), 0);
    ck_assert_int_eq(th_alloc(f, lease, 0, &id, &ver, NULL), 0);
    ck_assert_int_eq(th_commit(f, lease, 0, id, ver, 500, 500), 0);
    ck_assert_int_eq(th_alloc(f, lease, 0, &id, &ver, NULL), 0);
    ck_assert_uint_eq(ver, 2);
    /* the writer vanishes after allocating v2; replicas still hold v1 with 500 bytes */
    ck_assert_int_eq(th_recover_lease(f, lease, 0, id, 1, 500), -EBUSY); /* not expired yet */
    TNOW += 31 * 1000000000ll;
    ck_assert_int_eq(th_recover_lease(f, lease + 1, 0, id, 1, 500), -CFS_ELEASE);
    ck_assert_int_eq(th_recover_lease(f, lease, 0, id, 3, 500), -EINVAL); /* beyond current */
    ck_assert_int_eq(th_recover_lease(f, lease, 0, id, 0, 500), -EINVAL);
    ck_assert_int_eq(th_recover_lease(ROOT, lease, 0, id, 1, 500), -EISDIR);
    /* uncommitted bytes stay invisible: a longer replica does not extend the chunk */
    ck_assert_int_eq(th_recover_lease(f, lease, 0, id, 1, 900), 0);
    meta_chunk_ref ref;
    ck_assert_int_eq(meta_fsm_chunk_lookup(TF, id, &ref), 0);
    ck_assert_uint_eq(ref.version, 1);
    ck_assert_uint_eq(ref.length, 500);
    int nl = 0;
    meta_fsm_lease_foreach(TF, count_lease, &nl);
    ck_assert_int_eq(nl, 0);
    ck_assert_int_eq(th_recover_lease(f, lease, 0, id, 1, 500), -CFS_ELEASE); /* done once */
    /* the file is writable again, continuing from the settled version */
    TCLIENT = 99;
    uint64_t l2, v2, base;
    ck_assert_int_eq(th_open(f, O_WRONLY, &l2), 0);
    ck_assert_int_eq(th_alloc(f, l2, 0, NULL, &v2, &base), 0);
    ck_assert_uint_eq(base, 1);
    ck_assert_uint_eq(v2, 2);
    uint64_t sum = 0;
    ck_assert_int_eq(meta_fsm_chunk_foreach(TF, sum_chunks, &sum), 0);
    ck_assert_uint_eq(sum, id);
}
END_TEST

START_TEST(t_alloc_needs_servers)
{
    uint64_t f, lease;
    ck_assert_int_eq(th_create_full(ROOT, "f", 0666, 1, 0, 1, &f, &lease), 0);
    Chunkfs__AllocChunkReq m = CHUNKFS__ALLOC_CHUNK_REQ__INIT;
    m.ino = f;
    m.lease_id = lease;
    Chunkfs__MetaRequest req = CHUNKFS__META_REQUEST__INIT;
    req.op_case = CHUNKFS__META_REQUEST__OP_ALLOC_CHUNK;
    req.alloc_chunk = &m;
    Chunkfs__MetaResponse *r = th_run_full(&req, TREQ++, 0);
    ck_assert_int_eq(r->err, -CFS_ENOSERVERS);
    chunkfs__meta_response__free_unpacked(r, NULL);
    meta_fsm_info info;
    meta_fsm_get_info(TF, &info);
    ck_assert_uint_eq(info.chunks, 0);
}
END_TEST

static int mkdir_req(uint64_t request_id, const char *name, uint64_t *ino)
{
    Chunkfs__MkdirReq m = CHUNKFS__MKDIR_REQ__INIT;
    m.parent = ROOT;
    m.name = (char *)name;
    m.mode = 0755;
    Chunkfs__MetaRequest req = CHUNKFS__META_REQUEST__INIT;
    req.op_case = CHUNKFS__META_REQUEST__OP_MKDIR;
    req.mkdir = &m;
    Chunkfs__MetaResponse *r = th_run_full(&req, request_id, 3);
    int err = r->err;
    if (err == 0 && ino) *ino = r->attr->ino;
    chunkfs__meta_response__free_unpacked(r, NULL);
    return err;
}

/* alloc_chunk with an explicit request id and n_replicas targets; the response's chunk. */
static int alloc_req(uint64_t request_id, uint64_t ino, uint64_t lease, int n_replicas,
                     uint64_t *id, uint64_t *version, size_t *nrep)
{
    Chunkfs__AllocChunkReq m = CHUNKFS__ALLOC_CHUNK_REQ__INIT;
    m.ino = ino;
    m.lease_id = lease;
    Chunkfs__MetaRequest req = CHUNKFS__META_REQUEST__INIT;
    req.op_case = CHUNKFS__META_REQUEST__OP_ALLOC_CHUNK;
    req.alloc_chunk = &m;
    Chunkfs__MetaResponse *r = th_run_full(&req, request_id, n_replicas);
    int err = r->err;
    if (err == 0) {
        *id = r->chunks->chunks[0]->chunk_id;
        *version = r->chunks->chunks[0]->version;
        *nrep = r->chunks->chunks[0]->n_replicas;
    }
    chunkfs__meta_response__free_unpacked(r, NULL);
    return err;
}

/* A retried alloc_chunk whose first reply was lost (all metaservers restarted) is proposed
 * without targets - its chunk may be on no server yet - and must get the first reply back. */
START_TEST(t_alloc_retry_replays)
{
    uint64_t f, lease, id, ver, id2, ver2;
    size_t nrep, nrep2;
    ck_assert_int_eq(th_create_full(ROOT, "f", 0644, 1, 0, 1, &f, &lease), 0);
    ck_assert(!meta_fsm_request_applied(TF, TCLIENT, 500));
    ck_assert_int_eq(alloc_req(500, f, lease, 3, &id, &ver, &nrep), 0);
    ck_assert_uint_eq(nrep, 3);
    ck_assert(meta_fsm_request_applied(TF, TCLIENT, 500));
    ck_assert(!meta_fsm_request_applied(TF, TCLIENT, 501));
    ck_assert(!meta_fsm_request_applied(TF, TCLIENT + 1, 500));
    ck_assert_int_eq(alloc_req(500, f, lease, 0, &id2, &ver2, &nrep2), 0);
    ck_assert_uint_eq(id2, id);
    ck_assert_uint_eq(ver2, ver);
    ck_assert_uint_eq(nrep2, 3);
    /* A new request without targets is refused (the version is not bumped). */
    ck_assert_int_eq(alloc_req(501, f, lease, 0, &id2, &ver2, &nrep2), -CFS_ENOSERVERS);
}
END_TEST

/* create (open_write, exclusive) with alloc_first_chunk, applied with `n_replicas` servers. */
static Chunkfs__MetaResponse *create_alloc(const char *name, int exclusive, int alloc,
                                           int n_replicas)
{
    Chunkfs__CreateReq c = CHUNKFS__CREATE_REQ__INIT;
    c.parent = ROOT;
    c.name = (char *)name;
    c.mode = 0644;
    c.exclusive = exclusive;
    c.open_write = 1;
    c.alloc_first_chunk = alloc;
    c.client_id = TCLIENT;
    Chunkfs__MetaRequest req = CHUNKFS__META_REQUEST__INIT;
    req.op_case = CHUNKFS__META_REQUEST__OP_CREATE;
    req.create = &c;
    return th_run_full(&req, TREQ++, n_replicas);
}

static int close_drop(uint64_t ino, uint64_t lease, int drop)
{
    Chunkfs__CloseReq c = CHUNKFS__CLOSE_REQ__INIT;
    c.ino = ino;
    c.lease_id = lease;
    c.drop_unwritten_first = drop;
    Chunkfs__MetaRequest req = CHUNKFS__META_REQUEST__INIT;
    req.op_case = CHUNKFS__META_REQUEST__OP_CLOSE;
    req.close = &c;
    Chunkfs__MetaResponse *r = th_run(&req);
    int err = r->err;
    chunkfs__meta_response__free_unpacked(r, NULL);
    return err;
}

START_TEST(t_create_allocates_first_chunk)
{
    meta_fsm_info info;
    /* a new file: chunk 0 comes with the create, on the command's servers */
    Chunkfs__MetaResponse *r = create_alloc("a", 1, 1, 3);
    ck_assert_int_eq(r->err, 0);
    ck_assert_ptr_nonnull(r->open);
    ck_assert_ptr_nonnull(r->open->first_chunk);
    const Chunkfs__ChunkInfo *ci = r->open->first_chunk;
    ck_assert_uint_eq(ci->index, 0);
    ck_assert_uint_eq(ci->version, 1);
    ck_assert_uint_eq(ci->base_version, 0);
    ck_assert_uint_eq(ci->length, 0);
    ck_assert_uint_eq(ci->n_replicas, 3);
    ck_assert_str_eq(ci->replicas[1]->address, "127.0.0.1:7002");
    uint64_t a = r->open->attr->ino, la = r->open->lease_id, id = ci->chunk_id;
    ck_assert_uint_eq(r->open->attr->size, 0);
    chunkfs__meta_response__free_unpacked(r, NULL);
    meta_fsm_info before;
    meta_fsm_get_info(TF, &before);
    /* written and committed like any allocated chunk; close keeps it */
    ck_assert_int_eq(th_commit(a, la, 0, id, 1, 4096, 4096), 0);
    ck_assert_int_eq(close_drop(a, la, 1), 0);
    meta_fsm_get_info(TF, &info);
    ck_assert_uint_eq(info.chunks, before.chunks);
    Chunkfs__MetaRequest g = CHUNKFS__META_REQUEST__INIT;
    Chunkfs__GetChunksReq gc = CHUNKFS__GET_CHUNKS_REQ__INIT;
    gc.ino = a;
    g.op_case = CHUNKFS__META_REQUEST__OP_GET_CHUNKS;
    g.get_chunks = &gc;
    r = th_run(&g);
    ck_assert_int_eq(r->err, 0);
    ck_assert_uint_eq(r->chunks->n_chunks, 1);
    ck_assert_uint_eq(r->chunks->chunks[0]->chunk_id, id);
    ck_assert_uint_eq(r->chunks->chunks[0]->length, 4096);
    chunkfs__meta_response__free_unpacked(r, NULL);

    /* never written: the closing handle drops it, and its id is queued for deletion */
    r = create_alloc("b", 1, 1, 3);
    uint64_t b = r->open->attr->ino, lb = r->open->lease_id, idb = r->open->first_chunk->chunk_id;
    chunkfs__meta_response__free_unpacked(r, NULL);
    const meta_deleted_chunk *del;
    size_t n_del0, n_del;
    meta_fsm_deleted(TF, &del, &n_del0);
    /* a second open of the same client: its close must not drop what the other may write */
    uint64_t lb2;
    ck_assert_int_eq(th_open(b, O_WRONLY, &lb2), 0);
    ck_assert_uint_eq(lb2, lb);
    ck_assert_int_eq(close_drop(b, lb, 1), 0);
    meta_fsm_get_info(TF, &info);
    ck_assert_uint_eq(info.chunks, before.chunks + 1);
    ck_assert_int_eq(close_drop(b, lb, 1), 0);
    meta_fsm_get_info(TF, &info);
    ck_assert_uint_eq(info.chunks, before.chunks);
    meta_fsm_deleted(TF, &del, &n_del);
    ck_assert_uint_eq(n_del, n_del0 + 1);
    ck_assert_uint_eq(del[n_del - 1].chunk_id, idb);
    ck_assert_uint_eq(del[n_del - 1].version, 1);
    meta_chunk_ref ref;
    ck_assert_int_eq(meta_fsm_file_chunk(TF, b, 0, &ref), -ENOENT);

    /* nothing allocated: an existing file, no flag, or no servers in the command */
    r = create_alloc("a", 0, 1, 3);
    ck_assert_int_eq(r->err, 0);
    ck_assert_ptr_null(r->open->first_chunk);
    ck_assert_int_eq(close_drop(a, r->open->lease_id, 1), 0); /* committed data stays */
    chunkfs__meta_response__free_unpacked(r, NULL);
    r = create_alloc("c", 1, 0, 3);
    ck_assert_ptr_null(r->open->first_chunk);
    chunkfs__meta_response__free_unpacked(r, NULL);
    r = create_alloc("d", 1, 1, 0);
    ck_assert_int_eq(r->err, 0);
    ck_assert_ptr_null(r->open->first_chunk);
    chunkfs__meta_response__free_unpacked(r, NULL);
    meta_fsm_get_info(TF, &info);
    ck_assert_uint_eq(info.chunks, before.chunks);
    ck_assert_int_eq(meta_fsm_file_chunk(TF, a, 0, &ref), 0);
    ck_assert_uint_eq(ref.chunk_id, id);
    /* a chunk written at a bumped version is not "unwritten" either */
    r = create_alloc("e", 1, 1, 3);
    uint64_t e = r->open->attr->ino, le = r->open->lease_id;
    chunkfs__meta_response__free_unpacked(r, NULL);
    uint64_t ide, ve;
    ck_assert_int_eq(th_alloc(e, le, 0, &ide, &ve, NULL), 0);
    ck_assert_uint_eq(ve, 2);
    ck_assert_int_eq(close_drop(e, le, 1), 0);
    ck_assert_int_eq(meta_fsm_file_chunk(TF, e, 0, &ref), 0);
}
END_TEST

START_TEST(t_exactly_once)
{
    uint64_t a, b;
    ck_assert_int_eq(mkdir_req(10, "d", &a), 0);
    ck_assert_int_eq(mkdir_req(10, "d", &b), 0); /* retry: first result, not EEXIST */
    ck_assert_uint_eq(a, b);
    ck_assert_int_eq(mkdir_req(11, "d", NULL), -EEXIST);
    meta_fsm_info info;
    meta_fsm_get_info(TF, &info);
    ck_assert_uint_eq(info.dirs, 2);
    /* an error is remembered too: after rmdir, the retry of 11 still says EEXIST */
    ck_assert_int_eq(th_rmdir(ROOT, "d"), 0);
    ck_assert_int_eq(mkdir_req(11, "d", NULL), -EEXIST);
    ck_assert_int_eq(th_lookup(ROOT, "d", NULL), -ENOENT);
    /* requests from concurrent threads may arrive out of order */
    ck_assert_int_eq(mkdir_req(13, "x13", NULL), 0);
    ck_assert_int_eq(mkdir_req(12, "x12", NULL), 0);
    /* other clients have their own sessions */
    TCLIENT = 5;
    ck_assert_int_eq(mkdir_req(10, "d", &b), 0);
    ck_assert_uint_ne(a, b);
    /* beyond the window: an old unknown request id is refused, not re-executed */
    TCLIENT = 77;
    for (uint64_t i = 0; i < 140; i++) {
        char name[16];
        snprintf(name, sizeof(name), "w%llu", (unsigned long long)i);
        ck_assert_int_eq(mkdir_req(100 + i, name, NULL), 0);
    }
    ck_assert_int_eq(mkdir_req(14, "late", NULL), -ESTALE);
    ck_assert_int_eq(th_lookup(ROOT, "late", NULL), -ENOENT);
    ck_assert_int_eq(mkdir_req(239, "w139", NULL), 0); /* still remembered */
    /* idle sessions are forgotten after an hour (by log time) */
    meta_fsm_get_info(TF, &info);
    ck_assert_uint_eq(info.sessions, 2);
    TNOW += 3601ll * 1000000000ll;
    TCLIENT = 6;
    ck_assert_int_eq(mkdir_req(1, "late2", NULL), 0);
    meta_fsm_get_info(TF, &info);
    ck_assert_uint_eq(info.sessions, 1);
    /* a mutation without client id is refused */
    TCLIENT = 0;
    ck_assert_int_eq(mkdir_req(1, "noclient", NULL), -EINVAL);
}
END_TEST

Suite *data_suite(void)
{
    Suite *s = suite_create("meta_fsm_data");
    TCase *tc = tcase_create("data");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_add_test(tc, t_alloc_commit_read);
    tcase_add_test(tc, t_truncate_and_delete_queue);
    tcase_add_test(tc, t_leases);
    tcase_add_test(tc, t_alloc_needs_servers);
    tcase_add_test(tc, t_recover_lease);
    tcase_add_test(tc, t_exactly_once);
    tcase_add_test(tc, t_create_allocates_first_chunk);
    tcase_add_test(tc, t_alloc_retry_replays);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(data_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
