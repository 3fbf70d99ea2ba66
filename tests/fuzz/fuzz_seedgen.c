/* Writes the seed corpus of every fuzz target: small valid inputs (in the targets' input
 * formats) that reach deep into each decoder. Run once after a change of those formats:
 *   fuzz_seedgen tests/fuzz/corpus
 * The output is checked in; crashing inputs found later are added next to it by hand. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "chunkserver/chunk_file.h"
#include "common/crc32c.h"
#include "common/rpc_auth.h"
#include "fuzz_util.h"
#include "metaserver/meta_cmd.h"
#include "metaserver/meta_fsm.h"
#include "proto/chunkfs.pb-c.h"
#include "proto/meta_log.pb-c.h"
#include "raft/raft.h"

#define CAP (60 * 1024)

typedef struct seed {
    uint8_t b[CAP];
    size_t n;
} seed;

static const char *g_out;

static void die(const char *what)
{
    fprintf(stderr, "fuzz_seedgen: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void save(const char *target, int k, const seed *s)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", g_out, target);
    if (mkdir(path, 0755) < 0 && errno != EEXIST) die(path);
    snprintf(path, sizeof path, "%s/%s/seed-%02d", g_out, target, k);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(s->b, 1, s->n, f) != s->n || fclose(f) != 0) die(path);
}

static void put_byte(seed *s, uint8_t v)
{
    if (s->n < CAP) s->b[s->n++] = v;
}

static void put_raw(seed *s, const void *p, size_t n)
{
    if (!fuzz_put_record(s->b, CAP, &s->n, p, n)) {
        fprintf(stderr, "fuzz_seedgen: seed too large\n");
        exit(1);
    }
}

/* A record holding an op byte then the packed message. */
static void put_msg(seed *s, int op, const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(n + 1);
    if (!buf) die("malloc");
    size_t off = 0;
    if (op >= 0) buf[off++] = (uint8_t)op;
    protobuf_c_message_pack(m, buf + off);
    put_raw(s, buf, n + off);
    free(buf);
}

/* ---------------------------------------------------------------- metaserver */

static Chunkfs__Cred g_cred = CHUNKFS__CRED__INIT;
static uint64_t g_req_id;

static void meta_req(seed *s, Chunkfs__MetaRequest *r)
{
    r->cred = &g_cred;
    r->client_id = 77;
    r->request_id = ++g_req_id;
    put_msg(s, -1, &r->base);
}

#define REQ(field, CASE, msg)                                                                      \
    do {                                                                                           \
        Chunkfs__MetaRequest r = CHUNKFS__META_REQUEST__INIT;                                      \
        r.op_case = CHUNKFS__META_REQUEST__OP_##CASE;                                              \
        r.field = &(msg);                                                                          \
        meta_req(s, &r);                                                                           \
    } while (0)

/* A namespace session: directories, a written file, links, xattrs, a rename, locks. */
static void meta_session(seed *s, bool write_path)
{
    g_req_id = 0;
    Chunkfs__MkdirReq mk = CHUNKFS__MKDIR_REQ__INIT;
    mk.parent = 1, mk.name = "a", mk.mode = 0755;
    REQ(mkdir, MKDIR, mk);
    Chunkfs__CreateReq cr = CHUNKFS__CREATE_REQ__INIT;
    cr.parent = 2, cr.name = "f", cr.mode = 0644, cr.open_write = write_path, cr.client_id = 77;
    REQ(create, CREATE, cr);
    if (write_path) {
        Chunkfs__AllocChunkReq al = CHUNKFS__ALLOC_CHUNK_REQ__INIT;
        al.ino = 3, al.lease_id = 1, al.index = 0;
        REQ(alloc_chunk, ALLOC_CHUNK, al);
        Chunkfs__ChunkCommit cc = CHUNKFS__CHUNK_COMMIT__INIT, *ccp = &cc;
        cc.index = 0, cc.chunk_id = 1, cc.version = 1, cc.length = 4096;
        Chunkfs__CommitWriteReq cw = CHUNKFS__COMMIT_WRITE_REQ__INIT;
        cw.ino = 3, cw.lease_id = 1, cw.n_chunks = 1, cw.chunks = &ccp, cw.size = 4096;
        REQ(commit_write, COMMIT_WRITE, cw);
        Chunkfs__GetChunksReq gc = CHUNKFS__GET_CHUNKS_REQ__INIT;
        gc.ino = 3, gc.count = 4;
        REQ(get_chunks, GET_CHUNKS, gc);
        Chunkfs__CloseReq cl = CHUNKFS__CLOSE_REQ__INIT;
        cl.ino = 3, cl.lease_id = 1;
        REQ(close, CLOSE, cl);
    }
    Chunkfs__SymlinkReq sl = CHUNKFS__SYMLINK_REQ__INIT;
    sl.parent = 2, sl.name = "l", sl.target = "f";
    REQ(symlink, SYMLINK, sl);
    Chunkfs__LinkReq ln = CHUNKFS__LINK_REQ__INIT;
    ln.ino = 3, ln.new_parent = 1, ln.new_name = "g";
    REQ(link, LINK, ln);
    Chunkfs__SetxattrReq sx = CHUNKFS__SETXATTR_REQ__INIT;
    sx.ino = 3, sx.name = "user.k", sx.value.data = (uint8_t *)"v", sx.value.len = 1;
    REQ(setxattr, SETXATTR, sx);
    Chunkfs__RenameReq rn = CHUNKFS__RENAME_REQ__INIT;
    rn.src_parent = 2, rn.src_name = "f", rn.dst_parent = 1, rn.dst_name = "h";
    REQ(rename, RENAME, rn);
    Chunkfs__SetattrReq sa = CHUNKFS__SETATTR_REQ__INIT;
    sa.ino = 3, sa.valid = 1 | 8, sa.mode = 0600, sa.size = 100;
    REQ(setattr, SETATTR, sa);
    Chunkfs__ReaddirReq rd = CHUNKFS__READDIR_REQ__INIT;
    rd.ino = 1, rd.with_attrs = true;
    REQ(readdir, READDIR, rd);
    Chunkfs__ResolveReq rs = CHUNKFS__RESOLVE_REQ__INIT;
    rs.path = "/a/l", rs.follow = true;
    REQ(resolve, RESOLVE, rs);
    Chunkfs__LockReq lk = CHUNKFS__LOCK_REQ__INIT;
    lk.ino = 3, lk.owner = 5, lk.type = 2, lk.start = 0, lk.end = 99;
    REQ(lock, LOCK, lk);
    Chunkfs__SetGoalReq sg = CHUNKFS__SET_GOAL_REQ__INIT;
    sg.ino = 1, sg.goal = 2, sg.recursive = true;
    REQ(set_goal, SET_GOAL, sg);
    Chunkfs__UnlinkReq ul = CHUNKFS__UNLINK_REQ__INIT;
    ul.parent = 1, ul.name = "g";
    REQ(unlink, UNLINK, ul);
    Chunkfs__RmdirReq rm = CHUNKFS__RMDIR_REQ__INIT;
    rm.parent = 1, rm.name = "a";
    REQ(rmdir, RMDIR, rm);
}

static void gen_meta(void)
{
    seed *s = calloc(1, sizeof *s);
    if (!s) die("calloc");
    meta_session(s, true);
    save("meta_request", 1, s);
    s->n = 0;
    meta_session(s, false);
    save("meta_request", 2, s);

    /* The same sessions as log entries: each client request wrapped in a MetaCommand. */
    for (int k = 1; k <= 2; k++) {
        seed *req = calloc(1, sizeof *req), *cmd = calloc(1, sizeof *cmd);
        if (!req || !cmd) die("calloc");
        meta_session(req, k == 1);
        fuzz_in in = {req->b, req->n};
        const uint8_t *p;
        size_t n;
        int64_t now = 1700000000000000000ll;
        while (fuzz_take_record(&in, &p, &n)) {
            Chunkfs__MetaRequest *r = chunkfs__meta_request__unpack(NULL, n, p);
            if (!r) die("unpack");
            reg_location t[1] = {{1, "127.0.0.1:7001", "a"}};
            uint8_t *buf;
            size_t len;
            size_t nt = r->op_case == CHUNKFS__META_REQUEST__OP_ALLOC_CHUNK ? 1 : 0;
            if (meta_cmd_pack_client(r, now, 30000, 0, t, nt, &buf, &len) == 0) {
                put_raw(cmd, buf, len);
                free(buf);
            }
            chunkfs__meta_request__free_unpacked(r, NULL);
            now += 1000000000ll;
        }
        if (k == 1) {
            meta_settle st = {0, 1, 1, 4096};
            uint8_t *buf;
            size_t len;
            if (meta_cmd_pack_recover_lease(3, 1, &st, 1, now, &buf, &len) == 0) {
                put_raw(cmd, buf, len);
                free(buf);
            }
            if (meta_cmd_pack_drop_deleted(1, now, &buf, &len) == 0) {
                put_raw(cmd, buf, len);
                free(buf);
            }
        }
        save("meta_command", k, cmd);
        free(req);
        free(cmd);
    }
    free(s);
}

/* ---------------------------------------------------------------- cluster */

static void gen_cluster(void)
{
    seed *s = calloc(1, sizeof *s);
    if (!s) die("calloc");
    for (uint64_t id = 1; id <= 2; id++) {
        Chunkfs__RegisterReq r = CHUNKFS__REGISTER_REQ__INIT;
        r.cluster_id = "fuzz-cluster";
        r.address = id == 1 ? "127.0.0.1:7001" : "127.0.0.1:7002";
        r.domain = id == 1 ? "a" : "b";
        r.server_id = id;
        r.capacity = 1ull << 40;
        r.used = 1ull << 30;
        r.http_address = "127.0.0.1:8001";
        put_msg(s, 0, &r.base);
    }
    Chunkfs__ChunkReplica reps[3], *rp[3];
    for (int i = 0; i < 3; i++) {
        chunkfs__chunk_replica__init(&reps[i]);
        reps[i].chunk_id = (uint64_t)i + 1;
        reps[i].version = 1;
        reps[i].length = 4096;
        rp[i] = &reps[i];
    }
    Chunkfs__ChunkReportReq cr = CHUNKFS__CHUNK_REPORT_REQ__INIT;
    cr.server_id = 1, cr.n_chunks = 3, cr.chunks = rp, cr.last = true;
    put_msg(s, 2, &cr.base);
    Chunkfs__HeartbeatReq hb = CHUNKFS__HEARTBEAT_REQ__INIT;
    hb.server_id = 2, hb.capacity = 1ull << 40, hb.used = 1 << 20, hb.chunk_count = 3;
    hb.n_added = 2, hb.added = rp;
    hb.n_removed = 1, hb.removed = rp + 2;
    hb.n_corrupt = 1, hb.corrupt = rp;
    put_msg(s, 1, &hb.base);
    uint8_t tick[2] = {3, 20};
    put_raw(s, tick, 2);
    put_msg(s, 1, &hb.base);
    save("cluster", 1, s);
    free(s);
}

/* ---------------------------------------------------------------- raft */

static void gen_raft(void)
{
    seed *s = calloc(1, sizeof *s);
    if (!s) die("calloc");
    /* As a follower: the leader (2) appends entries after the founding entry (index 1),
     * commits them, sends a heartbeat. */
    put_byte(s, 0);
    Chunkfs__RaftEntry e[2], *ep[2];
    for (int i = 0; i < 2; i++) {
        chunkfs__raft_entry__init(&e[i]);
        e[i].term = 2;
        e[i].index = 2 + (uint64_t)i;
        e[i].type = i == 0 ? RAFT_ENTRY_NOOP : RAFT_ENTRY_NORMAL;
        e[i].data.data = (uint8_t *)"cmd";
        e[i].data.len = i == 0 ? 0 : 3;
        ep[i] = &e[i];
    }
    Chunkfs__RaftMessage app = CHUNKFS__RAFT_MESSAGE__INIT;
    app.type = RAFT_MSG_APP, app.from = 2, app.to = 1, app.term = 2, app.log_term = 1;
    app.index = 1, app.commit = 3, app.n_entries = 2, app.entries = ep;
    Chunkfs__RaftMessage hb = CHUNKFS__RAFT_MESSAGE__INIT;
    hb.type = RAFT_MSG_HEARTBEAT, hb.from = 2, hb.to = 1, hb.term = 2, hb.commit = 3;
    Chunkfs__RaftMessage *bm[2] = {&app, &hb};
    Chunkfs__RaftBatch b = CHUNKFS__RAFT_BATCH__INIT;
    b.n_msgs = 2, b.msgs = bm, b.from_addr = "127.0.0.1:9002";
    put_msg(s, 0, &b.base);
    uint8_t tick[2] = {2, 25};
    put_raw(s, tick, 2);
    save("raft_msg", 1, s);

    /* A snapshot piece with its membership. */
    s->n = 0;
    put_byte(s, 0);
    raft_conf conf = {.n = 3};
    for (int i = 0; i < 3; i++) {
        conf.members[i].id = (uint64_t)i + 1;
        snprintf(conf.members[i].addr, RAFT_ADDR_MAX, "127.0.0.1:%d", 9001 + i);
    }
    uint8_t cbuf[RAFT_CONF_MAX_BYTES];
    int cn = raft_conf_encode(&conf, cbuf, sizeof cbuf);
    if (cn < 0) die("raft_conf_encode");
    Chunkfs__RaftMessage sn = CHUNKFS__RAFT_MESSAGE__INIT;
    sn.type = RAFT_MSG_SNAP, sn.from = 2, sn.to = 1, sn.term = 3, sn.snap_index = 10;
    sn.snap_term = 3, sn.snap_conf.data = cbuf, sn.snap_conf.len = (size_t)cn;
    sn.snap_data.data = (uint8_t *)"image", sn.snap_data.len = 5, sn.snap_done = true;
    put_msg(s, 1, &sn.base);
    save("raft_msg", 2, s);

    /* As the leader: followers answer appends and votes; a proposal and a read round (the
     * log: founding entry, the leader's no-op, the proposal). */
    s->n = 0;
    put_byte(s, 1);
    uint8_t prop[4] = {3, 'x', 'y', 'z'};
    put_raw(s, prop, 4);
    Chunkfs__RaftMessage ar = CHUNKFS__RAFT_MESSAGE__INIT;
    ar.type = RAFT_MSG_APP_RESP, ar.from = 2, ar.to = 1, ar.term = 2, ar.index = 3;
    Chunkfs__RaftMessage hr = CHUNKFS__RAFT_MESSAGE__INIT;
    uint8_t ctx[8] = {1};
    hr.type = RAFT_MSG_HEARTBEAT_RESP, hr.from = 3, hr.to = 1, hr.term = 2;
    hr.context.data = ctx, hr.context.len = 8;
    Chunkfs__RaftMessage *lm[2] = {&ar, &hr};
    b.n_msgs = 2, b.msgs = lm;
    put_msg(s, 0, &b.base);
    save("raft_msg", 3, s);
    free(s);
}

/* ---------------------------------------------------------------- raft storage */

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* One WAL record (header + payload) with its CRC. */
static size_t wal_record(uint8_t *out, uint8_t type, const uint8_t *payload, uint32_t len)
{
    put_le(out, len, 4);
    out[8] = type;
    out[9] = out[10] = out[11] = 0;
    memcpy(out + 12, payload, len);
    uint32_t c = crc32c(0, out, 4);
    c = crc32c(c, out + 8, 4);
    c = crc32c(c, out + 12, len);
    put_le(out + 4, c, 4);
    return 12 + len;
}

static void gen_wal(void)
{
    seed *s = calloc(1, sizeof *s);
    if (!s) die("calloc");
    uint8_t seg[1024];
    for (int k = 1; k <= 2; k++) {
        s->n = 0;
        put_byte(s, 0);              /* CRCs as written */
        put_byte(s, k == 1 ? 0 : 2); /* snapshot index */
        for (int sg = 0; sg < k; sg++) {
            size_t n = 0;
            uint64_t first = k == 1 ? 1 : (sg == 0 ? 1 : 3);
            seg[n++] = (uint8_t)first;
            uint8_t hs[24];
            put_le(hs, 2, 8), put_le(hs + 8, 1, 8), put_le(hs + 16, first, 8);
            n += wal_record(seg + n, 2, hs, 24);
            for (uint64_t i = first; i < first + 3; i++) {
                uint8_t ent[24];
                put_le(ent, 1, 8), put_le(ent + 8, i, 8), put_le(ent + 16, 0, 4);
                memcpy(ent + 20, "data", 4);
                n += wal_record(seg + n, 1, ent, 24);
            }
            put_raw(s, seg, n);
        }
        save("raft_wal", k, s);
    }
    free(s);
}

static void gen_snapshot(void)
{
    seed *s = calloc(1, sizeof *s);
    if (!s) die("calloc");
    raft_conf conf = {.n = 2};
    for (int i = 0; i < 2; i++) {
        conf.members[i].id = (uint64_t)i + 1;
        conf.members[i].learner = i == 1;
        snprintf(conf.members[i].addr, RAFT_ADDR_MAX, "127.0.0.1:%d", 9001 + i);
    }
    uint8_t cbuf[RAFT_CONF_MAX_BYTES];
    int cn = raft_conf_encode(&conf, cbuf, sizeof cbuf);
    if (cn < 0) die("raft_conf_encode");
    const char *image = "a state machine image, a state machine image";
    uint8_t z[256];
    uLongf zn = sizeof z;
    if (compress(z, &zn, (const Bytef *)image, strlen(image)) != Z_OK) die("compress");
    uint8_t f[56 + RAFT_CONF_MAX_BYTES + 256];
    memcpy(f, "CFSSNAP1", 8);
    put_le(f + 8, 1, 4);
    put_le(f + 12, (uint64_t)cn, 4);
    put_le(f + 16, 12, 8);
    put_le(f + 24, 3, 8);
    put_le(f + 32, strlen(image), 8);
    put_le(f + 40, zn, 8);
    memcpy(f + 56, cbuf, (size_t)cn);
    memcpy(f + 56 + cn, z, zn);
    size_t flen = 56 + (size_t)cn + zn;
    put_le(f + 48, crc32c(0, f + 56, flen - 56), 4);
    put_le(f + 52, crc32c(0, f, 52), 4);
    s->n = 0;
    put_byte(s, 0);
    memcpy(s->b + s->n, f, flen);
    s->n += flen;
    save("raft_snapshot", 1, s);
    free(s);
}

/* ---------------------------------------------------------------- meta snapshot image */

static void gen_meta_snapshot(void)
{
    /* The state a namespace session leaves, as meta_fsm_snapshot writes it. */
    seed *cmds = calloc(1, sizeof *cmds), *s = calloc(1, sizeof *s);
    if (!cmds || !s) die("calloc");
    meta_fsm *fsm = meta_fsm_create();
    uint8_t *buf;
    size_t len;
    if (!fsm || meta_cmd_pack_format("fuzz-cluster", 1u << 20, 3, 1, &buf, &len) != 0)
        die("format");
    Chunkfs__MetaResponse *resp;
    if (meta_fsm_apply(fsm, buf, len, &resp) != 0) die("apply");
    chunkfs__meta_response__free_unpacked(resp, NULL);
    free(buf);
    meta_session(cmds, true);
    fuzz_in in = {cmds->b, cmds->n};
    const uint8_t *p;
    size_t n;
    while (fuzz_take_record(&in, &p, &n)) {
        Chunkfs__MetaRequest *r = chunkfs__meta_request__unpack(NULL, n, p);
        reg_location t[1] = {{1, "127.0.0.1:7001", "a"}};
        size_t nt = r->op_case == CHUNKFS__META_REQUEST__OP_ALLOC_CHUNK ? 1 : 0;
        if (meta_fsm_is_mutation(r) &&
            meta_cmd_pack_client(r, 2, 30000, 0, t, nt, &buf, &len) == 0) {
            if (meta_fsm_apply(fsm, buf, len, &resp) != 0) die("apply");
            chunkfs__meta_response__free_unpacked(resp, NULL);
            free(buf);
        }
        chunkfs__meta_request__free_unpacked(r, NULL);
    }
    if (meta_fsm_snapshot(fsm, &buf, &len) != 0 || len + 1 > CAP) die("snapshot");
    s->b[0] = 0;
    memcpy(s->b + 1, buf, len);
    s->n = len + 1;
    save("meta_snapshot", 1, s);
    free(buf);
    meta_fsm_destroy(fsm);
    free(cmds);
    free(s);
}

/* ---------------------------------------------------------------- chunkserver */

static void gen_chunk(void)
{
    seed *s = calloc(1, sizeof *s);
    if (!s) die("calloc");
    Chunkfs__WriteHeader h = CHUNKFS__WRITE_HEADER__INIT;
    h.chunk_id = 0x1234, h.version = 1, h.base_version = 0;
    Chunkfs__WriteReq w = CHUNKFS__WRITE_REQ__INIT;
    uint8_t data[3000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 7);
    w.header = &h, w.offset = 0, w.data.data = data, w.data.len = sizeof data;
    put_msg(s, 0, &w.base);
    Chunkfs__WriteReq w2 = CHUNKFS__WRITE_REQ__INIT;
    w2.offset = sizeof data, w2.data.data = data, w2.data.len = 1000;
    put_msg(s, 1, &w2.base);
    Chunkfs__ReadReq rd = CHUNKFS__READ_REQ__INIT;
    rd.chunk_id = 0x1234, rd.version = 1, rd.offset = 100, rd.length = 2000;
    put_msg(s, 2, &rd.base);
    Chunkfs__SetVersionReq sv = CHUNKFS__SET_VERSION_REQ__INIT;
    sv.chunk_id = 0x1234, sv.old_version = 1, sv.new_version = 2;
    put_msg(s, 5, &sv.base);
    /* A version bump writing into the middle, as a client rewriting a block. */
    h.version = 3, h.base_version = 2;
    w.offset = 65000, w.data.len = 1000;
    put_msg(s, 0, &w.base);
    Chunkfs__InfoReq in = CHUNKFS__INFO_REQ__INIT;
    in.chunk_id = 0x1234;
    put_msg(s, 6, &in.base);
    Chunkfs__ReplicateReq rp = CHUNKFS__REPLICATE_REQ__INIT;
    rp.chunk_id = 0x1234, rp.version = 3, rp.source = "127.0.0.1:7003";
    put_msg(s, 3, &rp.base);
    Chunkfs__WriteHeader h2 = CHUNKFS__WRITE_HEADER__INIT;
    h2.chunk_id = 0x99, h2.version = 1;
    w.header = &h2, w.offset = 0, w.data.len = 500;
    put_msg(s, 0, &w.base);
    Chunkfs__DeleteReq dl = CHUNKFS__DELETE_REQ__INIT;
    dl.chunk_id = 0x99, dl.version = 1;
    put_msg(s, 4, &dl.base);
    save("chunk_req", 1, s);

    /* A replica file: header slot 0 current (seq 2), slot 1 older, 70000 bytes of data. */
    s->n = 0;
    put_byte(s, 0);
    uint8_t slots[1024] = {0};
    struct chunk_hdr cur = {.seq = 2, .chunk_id = 0x1234, .version = 3, .length = 3000};
    struct chunk_hdr old = {.seq = 1, .chunk_id = 0x1234, .version = 2, .length = 3000};
    chunk_hdr_encode(&cur, slots);
    chunk_hdr_encode(&old, slots + 512);
    put_raw(s, slots, sizeof slots);
    uint8_t crc[4];
    put_le(crc, crc32c(0, data, 3000), 4);
    put_raw(s, crc, 4);
    put_raw(s, data, 3000);
    save("chunk_file", 1, s);
    free(s);
}

/* ---------------------------------------------------------------- config */

static void gen_config(void)
{
    seed *s = calloc(1, sizeof *s);
    if (!s) die("calloc");
    const char *ini = "[chunkserver]\nlisten = 127.0.0.1:7001\ndata_dir = /a\ndata-dir = /b\n"
                      "chunk-size = 1M\nretries = 5\nsync = off\n";
    put_byte(s, 1);
    put_raw(s, ini, strlen(ini));
    const char *args[] = {"--listen=127.0.0.1:9", "--data-dir", "/c", "--no-sync",
                          "--chunk-size",         "64KiB",      "--", "pos"};
    for (size_t i = 0; i < sizeof args / sizeof *args; i++)
        put_raw(s, args[i], strlen(args[i]));
    save("config", 1, s);
    s->n = 0;
    const char *cl = "[cluster]\ncluster_id = 3f9c0d2a8b1e4c57\nchunk_size = 67108864\ngoal = 3\n";
    put_byte(s, 2);
    put_raw(s, cl, strlen(cl));
    save("config", 2, s);
    free(s);
}

/* ---------------------------------------------------------------- RPC authentication */

static void gen_rpc_auth(void)
{
    seed *s = calloc(1, sizeof *s);
    if (!s) die("calloc");
    cfs_secret secret = {.len = 32};
    memset(secret.bytes, 0x5a, secret.len);
    snprintf(secret.key_id, sizeof secret.key_id, "00112233aabbccdd");
    rpc_auth_key key;
    if (rpc_auth_key_from_secret(&secret, &key) != 0) die("rpc_auth_key_from_secret");
    const char *method = "/chunkfs.MetaService/Call";
    uint8_t nonce[RPC_AUTH_NONCE_LEN] = {1, 2, 3};
    char proof[RPC_AUTH_PROOF_MAX];
    int n = rpc_auth_make(&key, method, 1700000000000ll, nonce, proof, sizeof proof);
    if (n < 0) die("rpc_auth_make");
    put_byte(s, (uint8_t)strlen(method));
    memcpy(s->b + s->n, method, strlen(method));
    s->n += strlen(method);
    put_byte(s, 0);
    memcpy(s->b + s->n, proof, (size_t)n);
    s->n += (size_t)n;
    save("rpc_auth", 1, s);
    s->n = 0;
    put_byte(s, 0);
    put_byte(s, 0x80);
    const char *file = "0123456789abcdef0123456789abcdef\n";
    memcpy(s->b + s->n, file, strlen(file));
    s->n += strlen(file);
    save("rpc_auth", 2, s);
    free(s);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
        return 2;
    }
    g_out = argv[1];
    if (mkdir(g_out, 0755) < 0 && errno != EEXIST) die(g_out);
    chunkfs__cred__init(&g_cred);
    gen_meta();
    gen_meta_snapshot();
    gen_cluster();
    gen_raft();
    gen_wal();
    gen_snapshot();
    gen_chunk();
    gen_config();
    gen_rpc_auth();
    return 0;
}
