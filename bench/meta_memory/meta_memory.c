/* meta_memory: resident memory per file of the metaserver's namespace state machine.
 * Creates N regular files with one committed chunk each, through meta_fsm_apply with packed
 * log commands exactly as the metaserver applies them (create+open, alloc_chunk, commit_write,
 * close), 1,000 files per directory, then prints RSS growth per file, the snapshot image size
 * and the apply rate. Usage: meta_memory [--files N] */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "metaserver/meta_fsm.h"

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return -1;
    long pages_total, pages_rss;
    int n = fscanf(f, "%ld %ld", &pages_total, &pages_rss);
    fclose(f);
    return n == 2 ? pages_rss * (sysconf(_SC_PAGESIZE) / 1024) : -1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct driver {
    meta_fsm *fsm;
    Chunkfs__Cred cred;
    uint64_t request_id;
    int64_t now;
    uint8_t *buf;
    size_t cap;
};

/* Applies one client request; returns the response (caller frees) or exits on failure. */
static Chunkfs__MetaResponse *apply(struct driver *d, Chunkfs__MetaRequest *req)
{
    static char addr[] = "10.0.0.1:9500";
    Chunkfs__ChunkLocation loc = CHUNKFS__CHUNK_LOCATION__INIT, *locp = &loc;
    loc.address = addr;
    loc.server_id = 1;
    req->cred = &d->cred;
    req->client_id = 1;
    req->request_id = ++d->request_id;
    Chunkfs__MetaCommand cmd = CHUNKFS__META_COMMAND__INIT;
    cmd.now_ns = d->now += 1000;
    cmd.cmd_case = CHUNKFS__META_COMMAND__CMD_CLIENT;
    cmd.client = req;
    cmd.n_replicas = 1;
    cmd.replicas = &locp;
    size_t len = chunkfs__meta_command__get_packed_size(&cmd);
    if (len > d->cap) {
        d->cap = len * 2;
        d->buf = realloc(d->buf, d->cap);
        if (!d->buf) exit(1);
    }
    chunkfs__meta_command__pack(&cmd, d->buf);
    Chunkfs__MetaResponse *resp;
    if (meta_fsm_apply(d->fsm, d->buf, len, &resp) != 0) {
        fprintf(stderr, "apply: out of memory\n");
        exit(1);
    }
    if (resp->err) {
        fprintf(stderr, "op %d failed: %d\n", req->op_case, resp->err);
        exit(1);
    }
    return resp;
}

static uint64_t mkdir_in(struct driver *d, uint64_t parent, const char *name)
{
    Chunkfs__MkdirReq m = CHUNKFS__MKDIR_REQ__INIT;
    m.parent = parent;
    m.name = (char *)name;
    m.mode = 0755;
    Chunkfs__MetaRequest req = CHUNKFS__META_REQUEST__INIT;
    req.op_case = CHUNKFS__META_REQUEST__OP_MKDIR;
    req.mkdir = &m;
    Chunkfs__MetaResponse *r = apply(d, &req);
    uint64_t ino = r->attr->ino;
    chunkfs__meta_response__free_unpacked(r, NULL);
    return ino;
}

static void file_with_chunk(struct driver *d, uint64_t dir, const char *name)
{
    Chunkfs__CreateReq c = CHUNKFS__CREATE_REQ__INIT;
    c.parent = dir;
    c.name = (char *)name;
    c.mode = 0644;
    c.exclusive = true;
    c.open_write = true;
    Chunkfs__MetaRequest req = CHUNKFS__META_REQUEST__INIT;
    req.op_case = CHUNKFS__META_REQUEST__OP_CREATE;
    req.create = &c;
    Chunkfs__MetaResponse *r = apply(d, &req);
    uint64_t ino = r->open->attr->ino, lease = r->open->lease_id;
    chunkfs__meta_response__free_unpacked(r, NULL);

    Chunkfs__AllocChunkReq a = CHUNKFS__ALLOC_CHUNK_REQ__INIT;
    a.ino = ino;
    a.lease_id = lease;
    req = (Chunkfs__MetaRequest)CHUNKFS__META_REQUEST__INIT;
    req.op_case = CHUNKFS__META_REQUEST__OP_ALLOC_CHUNK;
    req.alloc_chunk = &a;
    r = apply(d, &req);
    Chunkfs__ChunkCommit cc = CHUNKFS__CHUNK_COMMIT__INIT, *ccp = &cc;
    cc.index = 0;
    cc.chunk_id = r->chunks->chunks[0]->chunk_id;
    cc.version = r->chunks->chunks[0]->version;
    cc.length = 1 << 20;
    chunkfs__meta_response__free_unpacked(r, NULL);

    Chunkfs__CommitWriteReq w = CHUNKFS__COMMIT_WRITE_REQ__INIT;
    w.ino = ino;
    w.lease_id = lease;
    w.n_chunks = 1;
    w.chunks = &ccp;
    w.size = 1 << 20;
    req = (Chunkfs__MetaRequest)CHUNKFS__META_REQUEST__INIT;
    req.op_case = CHUNKFS__META_REQUEST__OP_COMMIT_WRITE;
    req.commit_write = &w;
    chunkfs__meta_response__free_unpacked(apply(d, &req), NULL);

    Chunkfs__CloseReq cl = CHUNKFS__CLOSE_REQ__INIT;
    cl.ino = ino;
    cl.lease_id = lease;
    req = (Chunkfs__MetaRequest)CHUNKFS__META_REQUEST__INIT;
    req.op_case = CHUNKFS__META_REQUEST__OP_CLOSE;
    req.close = &cl;
    chunkfs__meta_response__free_unpacked(apply(d, &req), NULL);
}

int main(int argc, char **argv)
{
    long files = 1000000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--files") == 0 && i + 1 < argc) {
            files = strtol(argv[++i], NULL, 10);
        } else {
            fprintf(stderr, "usage: %s [--files N]\n", argv[0]);
            return 2;
        }
    }
    if (files <= 0) {
        fprintf(stderr, "--files must be positive\n");
        return 2;
    }
    struct driver d = {0};
    d.fsm = meta_fsm_create();
    if (!d.fsm) return 1;
    chunkfs__cred__init(&d.cred);
    d.now = 1700000000000000000ll;

    long rss0 = rss_kib();
    double t0 = now_s();
    uint64_t dir = 0;
    char name[32];
    for (long i = 0; i < files; i++) {
        if (i % 1000 == 0) {
            snprintf(name, sizeof(name), "dir%06ld", i / 1000);
            dir = mkdir_in(&d, 1, name);
        }
        snprintf(name, sizeof(name), "file%06ld.dat", i);
        file_with_chunk(&d, dir, name);
    }
    double t1 = now_s();
    long rss1 = rss_kib();

    uint8_t *img;
    size_t img_len;
    if (meta_fsm_snapshot(d.fsm, &img, &img_len) != 0) return 1;
    double t2 = now_s();
    meta_fsm *copy = meta_fsm_create();
    if (!copy || meta_fsm_restore(copy, img, img_len) != 0) return 1;
    double t3 = now_s();

    meta_fsm_info info;
    meta_fsm_get_info(d.fsm, &info);
    double per_file = (double)(rss1 - rss0) * 1024.0 / (double)files;
    printf("files:            %ld (plus %llu directories), one chunk each\n", files,
           (unsigned long long)info.dirs);
    printf("names:            file%%06ld.dat (15 bytes), 1000 per directory\n");
    printf("RSS before/after: %ld KiB / %ld KiB\n", rss0, rss1);
    printf("RSS per file:     %.1f bytes\n", per_file);
    printf("applies:          %llu in %.2f s (%.0f/s, with protobuf pack+unpack)\n",
           (unsigned long long)d.request_id, t1 - t0, (double)d.request_id / (t1 - t0));
    printf("snapshot image:   %zu bytes (%.1f bytes/file), written in %.2f s, restored in %.2f s\n",
           img_len, (double)img_len / (double)files, t2 - t1, t3 - t2);
    free(img);
    meta_fsm_destroy(copy);
    meta_fsm_destroy(d.fsm);
    free(d.buf);
    return 0;
}
