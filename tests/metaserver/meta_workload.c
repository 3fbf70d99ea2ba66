/* Driver for the metaserver cluster test (tests/metaserver/meta_cluster_test.sh).
 *   meta_workload freeport                      print a free TCP port on 127.0.0.1
 *   meta_workload run ADDRS N MODEL PROGRESS    N namespace changes under /w, each retried
 *                                               (same request_id) until acknowledged; the
 *                                               expected tree goes to MODEL, the count of
 *                                               acknowledged ops to PROGRESS as it goes
 *   meta_workload verify ADDRS MODEL            the tree under /w equals MODEL exactly
 *   meta_workload leader ADDRS                  print the leader's id
 *   meta_workload dump ADDR                     print one node's "dump" (no redirect)
 *   meta_workload badinput ADDRS                malformed/invalid requests get clean errors
 *   meta_workload admin ADDRS OP ARG            an admin request to the leader (as root)
 * ADDRS is a comma-separated list of host:port. Exit 0 on success, 1 on failure. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/errors.h"
#include "common/rpc.h"
#include "common/time_util.h"
#include "proto/chunkfs.pb-c.h"

#define METHOD "/chunkfs.MetaService/Call"
#define OP_DEADLINE_MS 30000
#define MAX_ADDRS 8

static char addrs[MAX_ADDRS][128];
static int n_addrs, cur;
static uint64_t client_id, next_req = 1;

static void parse_addrs(const char *s)
{
    char *copy = strdup(s), *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t && n_addrs < MAX_ADDRS;
         t = strtok_r(NULL, ",", &save))
        snprintf(addrs[n_addrs++], sizeof(addrs[0]), "%s", t);
    free(copy);
}

static int find_addr(const char *a)
{
    for (int i = 0; i < n_addrs; i++)
        if (strcmp(addrs[i], a) == 0) return i;
    return -1;
}

/* One MetaRequest to the leader: follows hints, rotates on transport errors and retries with
 * the same request_id until an answer that is not a redirect, or the deadline. Returns the
 * response (caller frees) or NULL. */
static Chunkfs__MetaResponse *call(Chunkfs__MetaRequest *req)
{
    static Chunkfs__Cred root = CHUNKFS__CRED__INIT;
    req->cred = &root;
    req->client_id = client_id;
    req->request_id = next_req++;
    int64_t deadline = cfs_mono_ms() + OP_DEADLINE_MS;
    int backoff = 20;
    while (cfs_mono_ms() < deadline) {
        ProtobufCMessage *m = NULL;
        int rc = rpc_unary_pb(addrs[cur], METHOD, &req->base, &chunkfs__meta_response__descriptor,
                              3000, &m);
        if (rc == 0) {
            Chunkfs__MetaResponse *r = (Chunkfs__MetaResponse *)m;
            if (r->err != -CFS_ENOTLEADER && r->err != -ETIMEDOUT) return r;
            int hinted = r->leader_hint ? find_addr(r->leader_hint) : -1;
            protobuf_c_message_free_unpacked(m, NULL);
            if (hinted >= 0 && hinted != cur) {
                cur = hinted;
                continue;
            }
        }
        cur = (cur + 1) % n_addrs;
        cfs_sleep_ms(backoff);
        if (backoff < 500) backoff *= 2;
    }
    fprintf(stderr, "request %llu: no answer within %d ms\n", (unsigned long long)req->request_id,
            OP_DEADLINE_MS);
    return NULL;
}

static int lookup(uint64_t parent, const char *name, Chunkfs__Attr *out)
{
    Chunkfs__MetaRequest req = CHUNKFS__META_REQUEST__INIT;
    Chunkfs__LookupReq l = CHUNKFS__LOOKUP_REQ__INIT;
    l.parent = parent;
    l.name = (char *)name;
    req.op_case = CHUNKFS__META_REQUEST__OP_LOOKUP;
    req.lookup = &l;
    Chunkfs__MetaResponse *r = call(&req);
    if (!r) return -ETIMEDOUT;
    int err = r->err;
    if (!err && r->attr) *out = *r->attr;
    if (!err && !r->attr) err = -EPROTO;
    chunkfs__meta_response__free_unpacked(r, NULL);
    return err;
}

/* ---------------------------------------------------------------- the model */

typedef struct entry {
    char path[96]; /* relative to /w */
    int type;      /* 1 file, 2 dir */
} entry;

static entry model[8192];
static int n_model;

static void model_add(const char *path, int type)
{
    snprintf(model[n_model].path, sizeof(model[0].path), "%s", path);
    model[n_model++].type = type;
}

static void model_del(const char *path)
{
    for (int i = 0; i < n_model; i++) {
        if (strcmp(model[i].path, path) == 0) {
            model[i] = model[--n_model];
            return;
        }
    }
}

static void model_rename(const char *from, const char *to)
{
    for (int i = 0; i < n_model; i++)
        if (strcmp(model[i].path, from) == 0)
            snprintf(model[i].path, sizeof(model[0].path), "%s", to);
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const entry *)a)->path, ((const entry *)b)->path);
}

/* ---------------------------------------------------------------- run */

static int expect_ok(Chunkfs__MetaResponse *r, const char *what, long i, Chunkfs__Attr *attr)
{
    if (!r) {
        fprintf(stderr, "op %ld (%s): not acknowledged\n", i, what);
        return -1;
    }
    int err = r->err;
    if (err)
        fprintf(stderr, "op %ld (%s): unexpected error %d (%s) %s\n", i, what, err,
                cfs_strerror(err), r->errmsg ? r->errmsg : "");
    if (!err && attr && r->attr) *attr = *r->attr;
    chunkfs__meta_response__free_unpacked(r, NULL);
    return err ? -1 : 0;
}

static int write_progress(const char *path, long n)
{
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return -1;
    fprintf(f, "%ld\n", n);
    fclose(f);
    return rename(tmp, path);
}

static int cmd_run(long n_ops, const char *model_path, const char *progress)
{
    /* /w itself (the first op) */
    Chunkfs__Attr wattr, a;
    Chunkfs__MetaRequest req = CHUNKFS__META_REQUEST__INIT;
    Chunkfs__MkdirReq mk = CHUNKFS__MKDIR_REQ__INIT;
    mk.parent = 1;
    mk.name = "w";
    mk.mode = 0755;
    req.op_case = CHUNKFS__META_REQUEST__OP_MKDIR;
    req.mkdir = &mk;
    if (expect_ok(call(&req), "mkdir /w", -1, &wattr)) return 1;
    uint64_t dir_ino[8192] = {0};
    for (long i = 0; i < n_ops; i++) {
        Chunkfs__MetaRequest q = CHUNKFS__META_REQUEST__INIT;
        char name[64], name2[64], path[96], path2[96];
        long k = i / 4;
        switch (i % 4) {
        case 0: { /* mkdir /w/dK */
            Chunkfs__MkdirReq m = CHUNKFS__MKDIR_REQ__INIT;
            snprintf(name, sizeof(name), "d%ld", k);
            m.parent = wattr.ino;
            m.name = name;
            m.mode = 0755;
            q.op_case = CHUNKFS__META_REQUEST__OP_MKDIR;
            q.mkdir = &m;
            if (expect_ok(call(&q), "mkdir", i, &a)) return 1;
            dir_ino[k] = a.ino;
            model_add(name, 2);
            break;
        }
        case 1: { /* create /w/fK */
            Chunkfs__CreateReq c = CHUNKFS__CREATE_REQ__INIT;
            snprintf(name, sizeof(name), "f%ld", k);
            c.parent = wattr.ino;
            c.name = name;
            c.mode = 0644;
            c.exclusive = true;
            q.op_case = CHUNKFS__META_REQUEST__OP_CREATE;
            q.create = &c;
            if (expect_ok(call(&q), "create", i, NULL)) return 1;
            model_add(name, 1);
            break;
        }
        case 2: { /* rename /w/fK -> /w/dK/gK */
            Chunkfs__RenameReq rn = CHUNKFS__RENAME_REQ__INIT;
            snprintf(name, sizeof(name), "f%ld", k);
            snprintf(name2, sizeof(name2), "g%ld", k);
            rn.src_parent = wattr.ino;
            rn.src_name = name;
            rn.dst_parent = dir_ino[k];
            rn.dst_name = name2;
            q.op_case = CHUNKFS__META_REQUEST__OP_RENAME;
            q.rename = &rn;
            if (expect_ok(call(&q), "rename", i, NULL)) return 1;
            snprintf(path2, sizeof(path2), "d%ld/g%ld", k, k);
            model_rename(name, path2);
            break;
        }
        case 3: { /* every other round: unlink /w/d(K-1)/g(K-1) */
            if (k == 0 || k % 2) {
                Chunkfs__SymlinkReq s = CHUNKFS__SYMLINK_REQ__INIT;
                snprintf(name, sizeof(name), "s%ld", k);
                s.parent = wattr.ino;
                s.name = name;
                s.target = name;
                q.op_case = CHUNKFS__META_REQUEST__OP_SYMLINK;
                q.symlink = &s;
                if (expect_ok(call(&q), "symlink", i, NULL)) return 1;
                model_add(name, 3);
                break;
            }
            Chunkfs__UnlinkReq u = CHUNKFS__UNLINK_REQ__INIT;
            snprintf(name, sizeof(name), "g%ld", k - 1);
            u.parent = dir_ino[k - 1];
            u.name = name;
            q.op_case = CHUNKFS__META_REQUEST__OP_UNLINK;
            q.unlink = &u;
            if (expect_ok(call(&q), "unlink", i, NULL)) return 1;
            snprintf(path, sizeof(path), "d%ld/g%ld", k - 1, k - 1);
            model_del(path);
            break;
        }
        }
        if (i % 10 == 9 && write_progress(progress, i + 1) != 0) return 1;
    }
    if (write_progress(progress, n_ops) != 0) return 1;
    FILE *f = fopen(model_path, "w");
    if (!f) return 1;
    qsort(model, (size_t)n_model, sizeof(entry), cmp_entry);
    for (int i = 0; i < n_model; i++)
        fprintf(f, "%d %s\n", model[i].type, model[i].path);
    fclose(f);
    printf("workload: %ld ops acknowledged, %d entries\n", n_ops, n_model);
    return 0;
}

/* ---------------------------------------------------------------- verify */

static entry seen[8192];
static int n_seen;

static int walk(uint64_t ino, const char *prefix)
{
    char after[256] = "";
    for (;;) {
        Chunkfs__MetaRequest req = CHUNKFS__META_REQUEST__INIT;
        Chunkfs__ReaddirReq rd = CHUNKFS__READDIR_REQ__INIT;
        rd.ino = ino;
        rd.after = after;
        rd.max = 100;
        req.op_case = CHUNKFS__META_REQUEST__OP_READDIR;
        req.readdir = &rd;
        Chunkfs__MetaResponse *r = call(&req);
        if (!r || r->err || !r->readdir) {
            fprintf(stderr, "readdir %llu failed: %d\n", (unsigned long long)ino, r ? r->err : 0);
            if (r) chunkfs__meta_response__free_unpacked(r, NULL);
            return -1;
        }
        for (size_t i = 0; i < r->readdir->n_entries; i++) {
            const Chunkfs__DirEntry *e = r->readdir->entries[i];
            snprintf(after, sizeof(after), "%s", e->name);
            if (strcmp(e->name, ".") == 0 || strcmp(e->name, "..") == 0) continue;
            if (n_seen >= 8192) break;
            snprintf(seen[n_seen].path, sizeof(seen[0].path), "%s%s", prefix, e->name);
            seen[n_seen].type = (int)e->type;
            n_seen++;
            if (e->type == CHUNKFS__FILE_TYPE__FT_DIR) {
                char sub[96];
                snprintf(sub, sizeof(sub), "%s%s/", prefix, e->name);
                if (walk(e->ino, sub)) {
                    chunkfs__meta_response__free_unpacked(r, NULL);
                    return -1;
                }
            }
        }
        bool done = r->readdir->eof || r->readdir->n_entries == 0;
        chunkfs__meta_response__free_unpacked(r, NULL);
        if (done) return 0;
    }
}

static int cmd_verify(const char *model_path)
{
    FILE *f = fopen(model_path, "r");
    if (!f) {
        perror(model_path);
        return 1;
    }
    int type;
    char path[96];
    while (n_model < 8192 && fscanf(f, "%d %95s", &type, path) == 2)
        model_add(path, type);
    fclose(f);
    Chunkfs__Attr w;
    int rc = lookup(1, "w", &w);
    if (rc) {
        fprintf(stderr, "lookup /w: %s\n", cfs_strerror(rc));
        return 1;
    }
    if (walk(w.ino, "")) return 1;
    qsort(model, (size_t)n_model, sizeof(entry), cmp_entry);
    qsort(seen, (size_t)n_seen, sizeof(entry), cmp_entry);
    int bad = 0;
    for (int i = 0, j = 0; i < n_model || j < n_seen;) {
        int c = i >= n_model ? 1 : j >= n_seen ? -1 : strcmp(model[i].path, seen[j].path);
        if (c < 0) {
            fprintf(stderr, "missing: %s\n", model[i++].path);
            bad++;
        } else if (c > 0) {
            fprintf(stderr, "unexpected: %s\n", seen[j++].path);
            bad++;
        } else {
            if (model[i].type != seen[j].type) {
                fprintf(stderr, "type of %s: %d, want %d\n", model[i].path, seen[j].type,
                        model[i].type);
                bad++;
            }
            i++;
            j++;
        }
    }
    if (bad) {
        fprintf(stderr, "verify: %d differences (%d expected entries, %d found)\n", bad, n_model,
                n_seen);
        return 1;
    }
    printf("verify: %d entries match\n", n_model);
    return 0;
}

/* ---------------------------------------------------------------- small commands */

static int cmd_leader(void)
{
    Chunkfs__MetaRequest req = CHUNKFS__META_REQUEST__INIT;
    Chunkfs__ClusterStatusReq cs = CHUNKFS__CLUSTER_STATUS_REQ__INIT;
    req.op_case = CHUNKFS__META_REQUEST__OP_CLUSTER_STATUS;
    req.cluster_status = &cs;
    Chunkfs__MetaResponse *r = call(&req);
    if (!r || r->err || !r->cluster_status) {
        if (r) chunkfs__meta_response__free_unpacked(r, NULL);
        return 1;
    }
    printf("%llu\n", (unsigned long long)r->cluster_status->leader_id);
    chunkfs__meta_response__free_unpacked(r, NULL);
    return 0;
}

static int cmd_dump(const char *addr)
{
    Chunkfs__MetaRequest req = CHUNKFS__META_REQUEST__INIT;
    Chunkfs__AdminReq ad = CHUNKFS__ADMIN_REQ__INIT;
    ad.op = "dump";
    req.op_case = CHUNKFS__META_REQUEST__OP_ADMIN;
    req.admin = &ad;
    ProtobufCMessage *m = NULL;
    int rc = rpc_unary_pb(addr, METHOD, &req.base, &chunkfs__meta_response__descriptor, 3000, &m);
    if (rc) {
        fprintf(stderr, "dump %s: %s\n", addr, cfs_strerror(rc));
        return 1;
    }
    Chunkfs__MetaResponse *r = (Chunkfs__MetaResponse *)m;
    int ok = r->err == 0 && r->admin && r->admin->text;
    if (ok) printf("%s\n", r->admin->text);
    protobuf_c_message_free_unpacked(m, NULL);
    return ok ? 0 : 1;
}

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

/* Bad input never crashes the leader and gets a clear error. */
static int cmd_badinput(void)
{
    /* Find the leader first (call() follows redirects and leaves cur on it). */
    Chunkfs__Attr root;
    CHECK(lookup(1, ".", &root) != -ETIMEDOUT, "no leader");
    const char *leader = addrs[cur];
    uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x80};
    uint8_t *resp = NULL;
    size_t len = 0;
    int rc = rpc_unary(leader, METHOD, junk, sizeof(junk), 3000, &resp, &len);
    CHECK(rc == 0, "junk request: rpc error %d", rc);
    Chunkfs__MetaResponse *r = chunkfs__meta_response__unpack(NULL, len, resp);
    free(resp);
    CHECK(r && r->err == -EINVAL, "junk request: want -EINVAL, got %d", r ? r->err : 0);
    chunkfs__meta_response__free_unpacked(r, NULL);

    Chunkfs__MetaRequest empty = CHUNKFS__META_REQUEST__INIT;
    r = call(&empty);
    CHECK(r && r->err == -EINVAL, "request without op: want -EINVAL, got %d", r ? r->err : 0);
    chunkfs__meta_response__free_unpacked(r, NULL);

    Chunkfs__Attr a;
    CHECK(lookup(1, "no-such-entry", &a) == -ENOENT, "lookup of a missing name: want -ENOENT");

    Chunkfs__MetaRequest q = CHUNKFS__META_REQUEST__INIT;
    Chunkfs__AdminReq ad = CHUNKFS__ADMIN_REQ__INIT;
    ad.op = "no-such-op";
    q.op_case = CHUNKFS__META_REQUEST__OP_ADMIN;
    q.admin = &ad;
    r = call(&q);
    CHECK(r && r->err == -EINVAL, "unknown admin op: want -EINVAL, got %d", r ? r->err : 0);
    chunkfs__meta_response__free_unpacked(r, NULL);

    /* Locks: a write lock conflicts with another owner's, F_GETLK reports it. */
    Chunkfs__LockReq lk = CHUNKFS__LOCK_REQ__INIT;
    lk.ino = 1;
    lk.client_id = 11;
    lk.owner = 1;
    lk.type = 2;
    lk.start = 0;
    lk.end = 99;
    lk.pid = 4242;
    q.op_case = CHUNKFS__META_REQUEST__OP_LOCK;
    q.lock = &lk;
    r = call(&q);
    CHECK(r && r->err == 0, "first write lock: got %d", r ? r->err : 0);
    chunkfs__meta_response__free_unpacked(r, NULL);
    lk.client_id = 12;
    lk.start = 50;
    lk.end = 60;
    r = call(&q);
    CHECK(r && r->err == -EAGAIN && r->lock && r->lock->pid == 4242,
          "conflicting lock: want -EAGAIN with pid 4242, got %d", r ? r->err : 0);
    chunkfs__meta_response__free_unpacked(r, NULL);
    lk.test = true;
    r = call(&q);
    CHECK(r && r->err == 0 && r->lock && r->lock->type == 2 && r->lock->end == 99,
          "F_GETLK: want the write lock 0..99");
    chunkfs__meta_response__free_unpacked(r, NULL);
    lk.ino = 999999;
    lk.test = false;
    r = call(&q);
    CHECK(r && r->err == -ENOENT, "lock on a missing inode: want -ENOENT, got %d", r ? r->err : 0);
    chunkfs__meta_response__free_unpacked(r, NULL);

    /* A chunkserver of another cluster is refused. */
    Chunkfs__RegisterReq reg = CHUNKFS__REGISTER_REQ__INIT;
    reg.cluster_id = "not-this-cluster";
    reg.address = "127.0.0.1:1";
    ProtobufCMessage *m = NULL;
    rc = rpc_unary_pb(leader, "/chunkfs.ClusterService/RegisterServer", &reg.base,
                      &chunkfs__register_resp__descriptor, 3000, &m);
    CHECK(rc == 0 && ((Chunkfs__RegisterResp *)m)->err == -CFS_ECLUSTER,
          "wrong cluster id: want -CFS_ECLUSTER");
    protobuf_c_message_free_unpacked(m, NULL);
    /* An unknown chunkserver's heartbeat asks it to register. */
    Chunkfs__HeartbeatReq hb = CHUNKFS__HEARTBEAT_REQ__INIT;
    hb.server_id = 123456789;
    rc = rpc_unary_pb(leader, "/chunkfs.ClusterService/Heartbeat", &hb.base,
                      &chunkfs__heartbeat_resp__descriptor, 3000, &m);
    CHECK(rc == 0 && ((Chunkfs__HeartbeatResp *)m)->err == -ENOENT,
          "unknown server heartbeat: want -ENOENT");
    protobuf_c_message_free_unpacked(m, NULL);
    printf("badinput: all clean errors\n");
    return 0;
}

static int cmd_admin(const char *op, const char *arg)
{
    Chunkfs__MetaRequest req = CHUNKFS__META_REQUEST__INIT;
    Chunkfs__AdminReq ad = CHUNKFS__ADMIN_REQ__INIT;
    ad.op = (char *)op;
    ad.arg = (char *)arg;
    req.op_case = CHUNKFS__META_REQUEST__OP_ADMIN;
    req.admin = &ad;
    Chunkfs__MetaResponse *r = call(&req);
    if (!r) return 1;
    int err = r->err;
    if (err)
        fprintf(stderr, "admin %s %s: %s %s\n", op, arg, cfs_strerror(err),
                r->errmsg ? r->errmsg : "");
    else
        printf("%s\n", r->admin && r->admin->text ? r->admin->text : "");
    chunkfs__meta_response__free_unpacked(r, NULL);
    return err ? 1 : 0;
}

static int cmd_freeport(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof(sa);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &sl) != 0)
        return 1;
    printf("%d\n", ntohs(sa.sin_port));
    close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "freeport") == 0) return cmd_freeport();
    if (argc < 3) {
        fprintf(stderr, "usage: see the comment at the top of meta_workload.c\n");
        return 2;
    }
    rpc_global_init();
    if (getrandom(&client_id, sizeof(client_id), 0) != sizeof(client_id) || client_id == 0)
        client_id = (uint64_t)cfs_mono_ns() | 1;
    int rc = 2;
    if (strcmp(argv[1], "dump") == 0) {
        rc = cmd_dump(argv[2]);
    } else {
        parse_addrs(argv[2]);
        if (strcmp(argv[1], "run") == 0 && argc == 6)
            rc = cmd_run(atol(argv[3]), argv[4], argv[5]);
        else if (strcmp(argv[1], "verify") == 0 && argc == 4)
            rc = cmd_verify(argv[3]);
        else if (strcmp(argv[1], "leader") == 0)
            rc = cmd_leader();
        else if (strcmp(argv[1], "badinput") == 0)
            rc = cmd_badinput();
        else if (strcmp(argv[1], "admin") == 0 && argc == 5)
            rc = cmd_admin(argv[3], argv[4]);
    }
    rpc_global_shutdown();
    return rc;
}
