/* security_probe: sends the requests a well-behaved client never sends and checks that the
 * servers refuse each with the exact error, change nothing and keep serving. Run by
 * tests/perms/test_perms.sh against a live cluster; usable by hand.
 *
 *   security_probe names META_ADDRS            bad names and paths -> exact errnos
 *   security_probe oversize META_ADDRS         a 66 MiB message is refused, others served
 *   security_probe emfile META_ADDRS N         N files open for writing, the next EMFILE
 *   security_probe busy CHUNK_ADDR N           N write streams held, the next one EBUSY
 *   security_probe piece CHUNK_ADDR            a 2 MiB WriteReq is refused, nothing stored
 *
 * The chunkserver commands act as the metaserver leader would: with chunk access tokens
 * signed from $CHUNKFS_TOKEN_SECRET_FILE (the servers' token secret) when it is set.
 *
 * Exit status 0 when every check passed, 1 otherwise (each failure is printed). */
#include <errno.h>
#include <fcntl.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "client/chunkfs.h"
#include "common/chunk_token.h"
#include "common/errors.h"
#include "common/rpc.h"
#include "common/secret.h"
#include "common/security_opts.h"
#include "proto/chunkfs.pb-c.h"

#define ROOT_INO 1
#define TIMEOUT_MS 30000

static int failures;

static void expect(const char *what, int got, int want)
{
    bool ok = got == want;
    printf("%s  %s: got %d (%s)", ok ? "ok  " : "FAIL", what, got, got ? cfs_strerror(got) : "ok");
    if (!ok) printf(", wanted %d (%s)", want, want ? cfs_strerror(want) : "ok");
    printf("\n");
    fflush(stdout);
    if (!ok) failures++;
}

/* Same for counts (no error names). */
static void expect_n(const char *what, long long got, long long want)
{
    bool ok = got == want;
    printf("%s  %s: %lld (wanted %lld)\n", ok ? "ok  " : "FAIL", what, got, want);
    fflush(stdout);
    if (!ok) failures++;
}

static const cfs_cred ROOT = {.uid = 0, .gid = 0, .ngids = 0};

static cfs_fs *connect_or_die(const char *meta)
{
    cfs_options o;
    cfs_options_init(&o);
    cfs_fs *fs = NULL;
    int rc = cfs_connect(meta, &o, &fs);
    if (rc < 0) {
        fprintf(stderr, "security_probe: connect %s: %s\n", meta, cfs_strerror(rc));
        exit(1);
    }
    return fs;
}

static uint64_t random_u64(void)
{
    uint64_t v = 0;
    while (v == 0)
        if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v) v = (uint64_t)rand() + 1;
    return v;
}

/* One MetaService.Call with a packed request, following leader hints; returns the response's
 * err (or the transport error). */
static int meta_raw(const char *meta, const uint8_t *buf, size_t len)
{
    char addr[256];
    snprintf(addr, sizeof addr, "%.*s", (int)strcspn(meta, ","), meta);
    for (int hops = 0; hops < 10; hops++) {
        uint8_t *out = NULL;
        size_t out_len = 0;
        int rc = rpc_unary(addr, "/chunkfs.MetaService/Call", buf, len, TIMEOUT_MS, &out, &out_len);
        if (rc < 0) return rc;
        Chunkfs__MetaResponse *r = chunkfs__meta_response__unpack(NULL, out_len, out);
        free(out);
        if (!r) return -EBADMSG;
        int err = r->err;
        bool follow = err == -CFS_ENOTLEADER && r->leader_hint && r->leader_hint[0];
        if (follow) snprintf(addr, sizeof addr, "%s", r->leader_hint);
        if (err != 0) printf("      server says: %s\n", r->errmsg ? r->errmsg : "");
        chunkfs__meta_response__free_unpacked(r, NULL);
        if (!follow) return err;
    }
    return -EHOSTUNREACH;
}

/* mkdir in / of a name given with its length, so it may hold a NUL. */
static int raw_mkdir(const char *meta, const char *name, size_t nlen)
{
    /* protobuf-c packs strings with strlen: pack a same-length placeholder, then patch. */
    char *placeholder = malloc(nlen + 1);
    if (!placeholder) return -ENOMEM;
    memset(placeholder, 'P', nlen);
    placeholder[nlen] = 0;
    Chunkfs__MetaRequest req = CHUNKFS__META_REQUEST__INIT;
    Chunkfs__Cred cred = CHUNKFS__CRED__INIT;
    Chunkfs__MkdirReq mk = CHUNKFS__MKDIR_REQ__INIT;
    mk.parent = ROOT_INO;
    mk.name = placeholder;
    mk.mode = 0755;
    req.cred = &cred;
    req.client_id = random_u64();
    req.request_id = 1;
    req.op_case = CHUNKFS__META_REQUEST__OP_MKDIR;
    req.mkdir = &mk;
    uint8_t *buf;
    size_t len;
    int rc = rpc_pack(&req.base, &buf, &len);
    free(placeholder);
    if (rc < 0) return rc;
    for (size_t i = 0; i + nlen <= len; i++) {
        if (buf[i] == 'P' && memcmp(buf + i, "PPPP", nlen < 4 ? nlen : 4) == 0) {
            memcpy(buf + i, name, nlen);
            break;
        }
    }
    rc = meta_raw(meta, buf, len);
    free(buf);
    return rc;
}

static uint64_t root_entries(cfs_fs *fs)
{
    cfs_dir_page page;
    memset(&page, 0, sizeof page);
    if (cfs_readdir(fs, ROOT_INO, "", 0, false, &ROOT, &page) < 0) return UINT64_MAX;
    uint64_t n = page.count;
    cfs_dir_page_free(&page);
    return n;
}

static int cmd_names(const char *meta)
{
    cfs_fs *fs = connect_or_die(meta);
    cfs_attr a;
    uint64_t before = root_entries(fs);
    char name[300];
    memset(name, 'x', sizeof name);
    name[256] = 0;
    expect("mkdir with '/' in the name -> EINVAL", cfs_mkdir(fs, ROOT_INO, "a/b", 0755, &ROOT, &a),
           -EINVAL);
    expect("mkdir \"..\" -> EEXIST", cfs_mkdir(fs, ROOT_INO, "..", 0755, &ROOT, &a), -EEXIST);
    expect("mkdir \".\" -> EEXIST", cfs_mkdir(fs, ROOT_INO, ".", 0755, &ROOT, &a), -EEXIST);
    expect("rmdir \"..\" -> ENOTEMPTY", cfs_rmdir(fs, ROOT_INO, "..", &ROOT), -ENOTEMPTY);
    expect("unlink \"..\" -> EISDIR", cfs_unlink(fs, ROOT_INO, "..", &ROOT), -EISDIR);
    expect("mkdir of 256 bytes -> ENAMETOOLONG", cfs_mkdir(fs, ROOT_INO, name, 0755, &ROOT, &a),
           -ENAMETOOLONG);
    expect("mkdir \"\" -> ENOENT", cfs_mkdir(fs, ROOT_INO, "", 0755, &ROOT, &a), -ENOENT);
    char *target = malloc(4097);
    if (!target) return 1;
    memset(target, 't', 4096);
    target[4096] = 0;
    expect("symlink target of 4096 bytes -> ENAMETOOLONG",
           cfs_symlink(fs, ROOT_INO, "l", target, &ROOT, &a), -ENAMETOOLONG);
    free(target);
    expect("mkdir \"ab\\0cd\" (raw request) -> EINVAL", raw_mkdir(meta, "ab\0cd", 5), -EINVAL);
    expect("no \"ab\" made by it", cfs_lookup(fs, ROOT_INO, "ab", &ROOT, &a), -ENOENT);
    expect("mkdir \"okname\" (raw request, control)", raw_mkdir(meta, "okname", 6), 0);
    expect_n("entries root gained (only \"okname\")", (long long)(root_entries(fs) - before), 1);
    expect("rmdir okname", cfs_rmdir(fs, ROOT_INO, "okname", &ROOT), 0);
    cfs_disconnect(fs);
    return failures ? 1 : 0;
}

/* ------------------------------------------------------------------ oversize */

struct oversize_call {
    const char *addr;
    grpc_status_code status;
    int err;
};

/* A raw gRPC call on a channel of our own without a send limit: rpc_unary refuses to send
 * anything this large, so the server's own limit is what gets tested. */
static void *oversize_main(void *arg)
{
    struct oversize_call *oc = arg;
    size_t n = CFS_RPC_MAX_MESSAGE + (1u << 20);
    grpc_arg ga = {.type = GRPC_ARG_INTEGER,
                   .key = (char *)GRPC_ARG_MAX_SEND_MESSAGE_LENGTH,
                   .value.integer = -1};
    grpc_channel_args ca = {.num_args = 1, .args = &ga};
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    grpc_channel *ch = grpc_channel_create(oc->addr, creds, &ca);
    grpc_channel_credentials_release(creds);
    grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
    gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                         gpr_time_from_millis(TIMEOUT_MS * 2, GPR_TIMESPAN));
    grpc_slice method = grpc_slice_from_static_string("/chunkfs.MetaService/Call");
    grpc_call *call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, method, NULL,
                                               deadline, NULL);
    grpc_slice payload = grpc_slice_malloc(n);
    memset(GRPC_SLICE_START_PTR(payload), 0x0a, n);
    grpc_byte_buffer *send = grpc_raw_byte_buffer_create(&payload, 1);
    grpc_slice_unref(payload);
    grpc_byte_buffer *recv = NULL;
    grpc_metadata_array init_md, trail_md;
    grpc_metadata_array_init(&init_md);
    grpc_metadata_array_init(&trail_md);
    grpc_slice details;
    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = send;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &init_md;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &recv;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &trail_md;
    ops[5].data.recv_status_on_client.status = &oc->status;
    ops[5].data.recv_status_on_client.status_details = &details;
    oc->err = grpc_call_start_batch(call, ops, 6, (void *)1, NULL) == GRPC_CALL_OK ? 0 : -EPROTO;
    if (oc->err == 0) {
        grpc_event ev = grpc_completion_queue_pluck(
            cq, (void *)1, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL); /* bounded by deadline */
        if (ev.type != GRPC_OP_COMPLETE) oc->err = -EPROTO;
        grpc_slice_unref(details);
    }
    grpc_call_unref(call);
    grpc_byte_buffer_destroy(send);
    if (recv) grpc_byte_buffer_destroy(recv);
    grpc_metadata_array_destroy(&init_md);
    grpc_metadata_array_destroy(&trail_md);
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type !=
           GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(cq);
    grpc_channel_destroy(ch);
    return NULL;
}

static int cmd_oversize(const char *meta)
{
    cfs_fs *fs = connect_or_die(meta);
    cfs_statfs st;
    struct oversize_call oc = {.status = GRPC_STATUS_OK};
    char addr[256];
    snprintf(addr, sizeof addr, "%.*s", (int)strcspn(meta, ","), meta);
    oc.addr = addr;
    pthread_t t;
    if (pthread_create(&t, NULL, oversize_main, &oc) != 0) return 1;
    /* Meanwhile the server answers everybody else. */
    for (int i = 0; i < 5; i++)
        expect("statfs while a 66 MiB message arrives", cfs_statfs_get(fs, &ROOT, &st), 0);
    pthread_join(t, NULL);
    expect("the raw call completed", oc.err, 0);
    printf("%s  66 MiB message refused with RESOURCE_EXHAUSTED: status %d\n",
           oc.status == GRPC_STATUS_RESOURCE_EXHAUSTED ? "ok  " : "FAIL", (int)oc.status);
    if (oc.status != GRPC_STATUS_RESOURCE_EXHAUSTED) failures++;
    expect("statfs after the refusal", cfs_statfs_get(fs, &ROOT, &st), 0);
    /* Our own client refuses to send one at all. */
    uint8_t *out = NULL;
    size_t out_len = 0;
    uint8_t *big = calloc(1, CFS_RPC_MAX_MESSAGE + 1);
    if (!big) return 1;
    expect("rpc_unary of a message over the limit -> EMSGSIZE",
           rpc_unary(addr, "/chunkfs.MetaService/Call", big, CFS_RPC_MAX_MESSAGE + 1, TIMEOUT_MS,
                     &out, &out_len),
           -EMSGSIZE);
    free(big);
    cfs_disconnect(fs);
    return failures ? 1 : 0;
}

/* ------------------------------------------------------------------ emfile */

static int cmd_emfile(const char *meta, int n)
{
    cfs_fs *fs = connect_or_die(meta);
    cfs_file **files = calloc((size_t)n + 1, sizeof *files);
    if (!files) return 1;
    cfs_attr a;
    char name[64];
    int opened = 0;
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "emfile-%d", i);
        int rc = cfs_create(fs, ROOT_INO, name, 0644, O_WRONLY | O_CREAT, &ROOT, &a, &files[i]);
        if (rc == 0) opened++;
        if (rc < 0) expect("open for writing under the cap", rc, 0);
    }
    expect_n("files open for writing", opened, n);
    cfs_file *extra = NULL;
    expect("one more file open for writing -> EMFILE",
           cfs_create(fs, ROOT_INO, "emfile-extra", 0644, O_WRONLY | O_CREAT, &ROOT, &a, &extra),
           -EMFILE);
    expect("the refused file was not created", cfs_lookup(fs, ROOT_INO, "emfile-extra", &ROOT, &a),
           -ENOENT);
    cfs_attr r;
    cfs_file *reader = NULL;
    int rrc = cfs_lookup(fs, ROOT_INO, "emfile-1", &ROOT, &r);
    if (rrc == 0) rrc = cfs_open(fs, r.ino, O_RDONLY, &ROOT, &reader);
    expect("opening for reading takes no lease: not capped", rrc, 0);
    if (reader) cfs_close(reader);
    if (opened > 0) expect("close one", cfs_close(files[0]), 0);
    files[0] = NULL;
    expect("after a close, the open succeeds",
           cfs_create(fs, ROOT_INO, "emfile-extra", 0644, O_WRONLY | O_CREAT, &ROOT, &a, &extra),
           0);
    if (extra) cfs_close(extra);
    for (int i = 1; i < n; i++)
        if (files[i]) cfs_close(files[i]);
    free(files);
    cfs_disconnect(fs);
    return failures ? 1 : 0;
}

/* ------------------------------------------------------------------ chunkserver */

static chunk_keyring g_tokens;
static bool g_tokens_on;

/* Loads the token secret from $CHUNKFS_TOKEN_SECRET_FILE, if set. 0 or -errno. */
static int load_tokens(void)
{
    const char *path = getenv("CHUNKFS_TOKEN_SECRET_FILE");
    if (!path || !*path) return 0;
    cfs_secret s;
    char err[512];
    int rc = cfs_secret_load(path, &s, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "security_probe: %s\n", err);
        return rc;
    }
    rc = chunk_keyring_init(&g_tokens, s.bytes, s.len, CHUNK_TOKEN_EPOCH_MS);
    cfs_secret_wipe(&s);
    g_tokens_on = rc == 0;
    return rc;
}

/* A token for op on (id, version) into tok; its length (0 when tokens are off). */
static size_t probe_token(enum chunk_token_op op, uint64_t id, uint64_t version,
                          uint8_t tok[CHUNK_TOKEN_SIZE])
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    if (!g_tokens_on ||
        chunk_token_sign(&g_tokens, op, id, version, ms, CHUNK_TOKEN_LIFETIME_MS, tok) < 0)
        return 0;
    return CHUNK_TOKEN_SIZE;
}

static int write_first(rpc_stream *st, uint64_t id, size_t data_len)
{
    uint8_t tok[CHUNK_TOKEN_SIZE];
    Chunkfs__WriteHeader h = CHUNKFS__WRITE_HEADER__INIT;
    h.chunk_id = id;
    h.version = 1;
    h.token.data = tok;
    h.token.len = probe_token(CHUNK_TOKEN_WRITE, id, 1, tok);
    Chunkfs__WriteReq w = CHUNKFS__WRITE_REQ__INIT;
    w.header = &h;
    uint8_t *data = data_len ? calloc(1, data_len) : NULL;
    w.data.data = data;
    w.data.len = data_len;
    uint8_t *buf;
    size_t len;
    int rc = rpc_pack(&w.base, &buf, &len);
    free(data);
    if (rc < 0) return rc;
    rc = rpc_stream_send(st, buf, len);
    free(buf);
    return rc;
}

/* The err of the stream's final WriteResp (after half-closing it). */
static int write_verdict(rpc_stream *st)
{
    rpc_stream_close_send(st);
    int err = -EPROTO;
    for (;;) {
        uint8_t *buf;
        size_t len;
        int r = rpc_stream_recv(st, &buf, &len);
        if (r <= 0) break;
        Chunkfs__WriteResp *m = chunkfs__write_resp__unpack(NULL, len, buf);
        free(buf);
        if (m) {
            err = m->err;
            chunkfs__write_resp__free_unpacked(m, NULL);
        }
    }
    rpc_stream_finish(st);
    return err;
}

static int chunk_info(const char *addr, uint64_t id)
{
    Chunkfs__InfoReq r = CHUNKFS__INFO_REQ__INIT;
    r.chunk_id = id;
    ProtobufCMessage *out = NULL;
    int rc = rpc_unary_pb(addr, "/chunkfs.ChunkService/Info", &r.base,
                          &chunkfs__chunk_resp__descriptor, TIMEOUT_MS, &out);
    if (rc < 0) return rc;
    rc = ((Chunkfs__ChunkResp *)out)->err;
    protobuf_c_message_free_unpacked(out, NULL);
    return rc;
}

static int delete_chunk(const char *addr, uint64_t id)
{
    uint8_t tok[CHUNK_TOKEN_SIZE];
    Chunkfs__DeleteReq r = CHUNKFS__DELETE_REQ__INIT;
    r.chunk_id = id;
    r.version = 1;
    r.token.data = tok;
    r.token.len = probe_token(CHUNK_TOKEN_DELETE, id, 1, tok);
    ProtobufCMessage *out = NULL;
    int rc = rpc_unary_pb(addr, "/chunkfs.ChunkService/Delete", &r.base,
                          &chunkfs__chunk_resp__descriptor, TIMEOUT_MS, &out);
    if (rc < 0) return rc;
    rc = ((Chunkfs__ChunkResp *)out)->err;
    protobuf_c_message_free_unpacked(out, NULL);
    return rc;
}

/* Chunk ids far above what a test cluster allocates, so no file owns them. */
static uint64_t probe_chunk_id(int i)
{
    return (1ull << 62) + (random_u64() >> 8) + (uint64_t)i;
}

static int cmd_busy(const char *addr, int n)
{
    rpc_stream **held = calloc((size_t)n, sizeof *held);
    uint64_t *ids = calloc((size_t)n, sizeof *ids);
    if (!held || !ids) return 1;
    /* Streams of one process share one connection: one client to the chunkserver. */
    for (int i = 0; i < n; i++) {
        ids[i] = probe_chunk_id(i);
        int rc = rpc_stream_open(addr, "/chunkfs.ChunkService/Write", TIMEOUT_MS, &held[i]);
        if (rc == 0) rc = write_first(held[i], ids[i], 0);
        expect("write stream under the cap", rc, 0);
    }
    /* The server counts a stream once its handler runs: wait until the held ones exist. */
    for (int tries = 0; tries < 300; tries++) {
        int present = 0;
        for (int i = 0; i < n; i++)
            present += chunk_info(addr, ids[i]) == 0;
        if (present == n) break;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    rpc_stream *extra = NULL;
    int rc = rpc_stream_open(addr, "/chunkfs.ChunkService/Write", TIMEOUT_MS, &extra);
    if (rc == 0) rc = write_first(extra, probe_chunk_id(n), 0);
    expect("one stream over the cap -> EBUSY", rc == 0 || rc == -EPIPE ? write_verdict(extra) : rc,
           -EBUSY);
    if (extra) rpc_stream_free(extra);
    for (int i = 0; i < n; i++) {
        expect("held stream finishes", write_verdict(held[i]), 0);
        rpc_stream_free(held[i]);
        delete_chunk(addr, ids[i]);
    }
    rc = rpc_stream_open(addr, "/chunkfs.ChunkService/Write", TIMEOUT_MS, &extra);
    uint64_t id = probe_chunk_id(n + 1);
    if (rc == 0) rc = write_first(extra, id, 0);
    expect("after the others finished, a stream is served", rc == 0 ? write_verdict(extra) : rc, 0);
    rpc_stream_free(extra);
    delete_chunk(addr, id);
    free(held);
    free(ids);
    return failures ? 1 : 0;
}

static int cmd_piece(const char *addr)
{
    uint64_t id = probe_chunk_id(0);
    rpc_stream *st = NULL;
    int rc = rpc_stream_open(addr, "/chunkfs.ChunkService/Write", TIMEOUT_MS, &st);
    if (rc == 0) rc = write_first(st, id, 2u << 20);
    expect("WriteReq with 2 MiB of data -> EMSGSIZE",
           rc == 0 || rc == -EPIPE ? write_verdict(st) : rc, -EMSGSIZE);
    if (st) rpc_stream_free(st);
    expect("no replica was created", chunk_info(addr, id), -ENOENT);
    return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: security_probe names|oversize|emfile|busy|piece ADDR [N]\n");
        return 2;
    }
    rpc_global_init();
    /* The cluster's secret (and TLS files) from the environment, as every client takes them. */
    cfs_security_opts so = {0};
    cfs_security_from_env(&so);
    char err[512];
    if (cfs_security_apply(&so, false, err, sizeof err) < 0) {
        fprintf(stderr, "security_probe: %s\n", err);
        return 1;
    }
    if (load_tokens() < 0) return 1;
    const char *cmd = argv[1], *addr = argv[2];
    int n = argc > 3 ? atoi(argv[3]) : 0;
    int rc = 2;
    if (strcmp(cmd, "names") == 0)
        rc = cmd_names(addr);
    else if (strcmp(cmd, "oversize") == 0)
        rc = cmd_oversize(addr);
    else if (strcmp(cmd, "emfile") == 0 && n > 0)
        rc = cmd_emfile(addr, n);
    else if (strcmp(cmd, "busy") == 0 && n > 0)
        rc = cmd_busy(addr, n);
    else if (strcmp(cmd, "piece") == 0)
        rc = cmd_piece(addr);
    else
        fprintf(stderr, "security_probe: bad command or N\n");
    rpc_global_shutdown();
    return rc;
}
