/* Fuzz target: ChunkService requests, decoded and validated as chunk_service.c does
 * (chunkserver/chunk_req.c), then applied to a real chunk store in a fresh directory, without
 * a network. Each record (see fuzz_util.h) is an op byte and a payload: op 0 a WriteReq that
 * starts a write stream (header) and op 1 a further piece of it (the stream syncs when the
 * next op is not a piece, as at the end of a stream); 2 ReadReq; 3 ReplicateReq (the checks
 * and the local part: the copy itself needs a peer); 4 DeleteReq; 5 SetVersionReq; 6 InfoReq.
 * Invariant: after the store is closed and opened again (a restart), it holds exactly the
 * replicas, versions and lengths it held before, and each reads back in full. */
#include <stdlib.h>
#include <string.h>

#include "chunkserver/chunk_req.h"
#include "chunkserver/chunk_store.h"
#include "common/errors.h"
#include "fuzz_util.h"

#define MAX_OPS 48
#define READ_MAX (256u * 1024)

typedef struct stream {
    bool open;
    uint64_t id, version;
} stream;

static void end_stream(chunk_store *st, stream *s)
{
    if (s->open) chunk_store_sync(st, s->id, s->version);
    s->open = false;
}

static void write_piece(chunk_store *st, stream *s, const Chunkfs__WriteReq *m)
{
    if (!s->open) return;
    if (chunk_req_check_write_piece(m) < 0 || m->data.len == 0) return;
    if (chunk_store_write(st, s->id, s->version, m->offset, m->data.data, m->data.len) < 0)
        s->open = false; /* the service answers the error and ends the stream */
}

static void do_write(chunk_store *st, stream *s, const uint8_t *p, size_t len, bool first)
{
    Chunkfs__WriteReq *m = chunkfs__write_req__unpack(NULL, len, p);
    if (!m) return;
    if (first) {
        end_stream(st, s);
        const Chunkfs__WriteHeader *h = m->header;
        if (h && chunk_req_check_write_header(h) == 0 &&
            chunk_store_begin_write(st, h->chunk_id, h->version, h->base_version) == 0)
            *s = (stream){true, h->chunk_id, h->version};
    } else if (m->header) {
        s->open = false; /* only the first message carries a header */
    }
    write_piece(st, s, m);
    chunkfs__write_req__free_unpacked(m, NULL);
}

static void do_read(chunk_store *st, const uint8_t *p, size_t len, uint8_t *buf)
{
    Chunkfs__ReadReq *r = chunkfs__read_req__unpack(NULL, len, p);
    if (!r) return;
    uint64_t off, end;
    if (chunk_req_check_read(r, &off, &end) == 0) {
        size_t n = end - off < READ_MAX ? (size_t)(end - off) : READ_MAX;
        ssize_t got = chunk_store_read(st, r->chunk_id, r->version, off, buf, n);
        if (got > (ssize_t)n) fuzz_fail("read returned more than asked");
    }
    chunkfs__read_req__free_unpacked(r, NULL);
}

static void do_unary(chunk_store *st, uint8_t op, const uint8_t *p, size_t len)
{
    struct chunk_replica_info inf;
    if (op == 3) {
        Chunkfs__ReplicateReq *m = chunkfs__replicate_req__unpack(NULL, len, p);
        if (!m) return;
        if (chunk_req_check_replicate(m->chunk_id, m->version, m->source) == 0 &&
            chunk_store_info(st, m->chunk_id, &inf) == 0 && inf.version == m->version)
            chunk_store_announce(st, m->chunk_id);
        chunkfs__replicate_req__free_unpacked(m, NULL);
    } else if (op == 4) {
        Chunkfs__DeleteReq *m = chunkfs__delete_req__unpack(NULL, len, p);
        if (!m) return;
        if (chunk_req_check_chunk_id(m->chunk_id) == 0)
            chunk_store_delete(st, m->chunk_id, m->version);
        chunkfs__delete_req__free_unpacked(m, NULL);
    } else if (op == 5) {
        Chunkfs__SetVersionReq *m = chunkfs__set_version_req__unpack(NULL, len, p);
        if (!m) return;
        if (chunk_req_check_set_version(m) == 0)
            chunk_store_set_version(st, m->chunk_id, m->old_version, m->new_version);
        chunkfs__set_version_req__free_unpacked(m, NULL);
    } else {
        Chunkfs__InfoReq *m = chunkfs__info_req__unpack(NULL, len, p);
        if (!m) return;
        if (chunk_req_check_chunk_id(m->chunk_id) == 0) chunk_store_info(st, m->chunk_id, &inf);
        chunkfs__info_req__free_unpacked(m, NULL);
    }
}

static int cmp_info(const void *a, const void *b)
{
    const struct chunk_replica_info *x = a, *y = b;
    return x->chunk_id < y->chunk_id ? -1 : x->chunk_id > y->chunk_id;
}

static void list_sorted(chunk_store *st, struct chunk_replica_info **l, size_t *n)
{
    if (chunk_store_list(st, l, n) != 0) fuzz_fail("chunk_store_list");
    qsort(*l, *n, sizeof **l, cmp_info);
}

/* Restart: the reopened store must hold the same replicas, each readable to its end. */
static void check_restart(chunk_store **st, const char *dir, uint8_t *buf)
{
    struct chunk_replica_info *a, *b;
    size_t na, nb;
    list_sorted(*st, &a, &na);
    /* A clean shutdown: what a failed stream left unsynced is made durable first (a crash
     * may lose it, by design). */
    for (size_t i = 0; i < na; i++)
        chunk_store_sync(*st, a[i].chunk_id, a[i].version);
    free(a);
    list_sorted(*st, &a, &na);
    chunk_store_close(*st);
    const char *dirs[1] = {dir};
    if (chunk_store_open(dirs, 1, st) != 0) fuzz_fail("chunk_store_open after restart");
    list_sorted(*st, &b, &nb);
    if (na != nb) fuzz_fail("%zu replicas before a restart, %zu after", na, nb);
    for (size_t i = 0; i < na; i++) {
        if (a[i].chunk_id != b[i].chunk_id || a[i].version != b[i].version ||
            a[i].length != b[i].length)
            fuzz_fail("replica %llu changed across a restart", (unsigned long long)a[i].chunk_id);
        for (uint64_t off = 0; off < a[i].length; off += READ_MAX) {
            ssize_t got = chunk_store_read(*st, a[i].chunk_id, a[i].version, off, buf, READ_MAX);
            if (got <= 0)
                fuzz_fail("replica %llu unreadable at %llu after a restart: %zd",
                          (unsigned long long)a[i].chunk_id, (unsigned long long)off, got);
        }
    }
    free(a);
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet_logs();
    const char *dir = fuzz_fresh_dir();
    const char *dirs[1] = {dir};
    chunk_store *st;
    if (chunk_store_open(dirs, 1, &st) != 0) fuzz_fail("chunk_store_open");
    uint8_t *buf = malloc(READ_MAX);
    if (!buf) fuzz_fail("out of memory");
    stream s = {0};
    fuzz_in in = {data, size};
    const uint8_t *p;
    size_t len;
    for (int i = 0; i < MAX_OPS && fuzz_take_record(&in, &p, &len); i++) {
        if (len == 0) continue;
        uint8_t op = p[0] % 7;
        p++;
        len--;
        if (op != 1) end_stream(st, &s);
        if (op <= 1)
            do_write(st, &s, p, len, op == 0);
        else if (op == 2)
            do_read(st, p, len, buf);
        else
            do_unary(st, op, p, len);
    }
    end_stream(st, &s);
    check_restart(&st, dir, buf);
    chunk_store_close(st);
    free(buf);
    fuzz_remove_dir();
    return 0;
}
