#include "chunkserver/chunk_service.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunkserver/chain_writer.h"
#include "chunkserver/chunk_client.h"
#include "chunkserver/chunk_metrics.h"
#include "chunkserver/stream_limit.h"
#include "chunkserver/chunk_req.h"
#include "chunkserver/token_gate.h"
#include "common/errors.h"
#include "common/log.h"
#include "proto/chunkfs.pb-c.h"

#define DEFAULT_TIMEOUT_MS 120000

struct chunk_service {
    struct chunk_service_opts opts;
    pthread_mutex_t mu;
    char address[256];
    unsigned inflight; /* atomic */
    stream_limit *streams;
};

int chunk_service_create(const struct chunk_service_opts *opts, chunk_service **out)
{
    if (!opts || !opts->store) return -EINVAL;
    chunk_service *svc = calloc(1, sizeof *svc);
    if (!svc) return -ENOMEM;
    svc->opts = *opts;
    if (svc->opts.downstream_timeout_ms <= 0) svc->opts.downstream_timeout_ms = DEFAULT_TIMEOUT_MS;
    if (svc->opts.replicate_timeout_ms <= 0) svc->opts.replicate_timeout_ms = DEFAULT_TIMEOUT_MS;
    svc->streams = stream_limit_new(opts->max_streams_per_client);
    if (!svc->streams) {
        free(svc);
        return -ENOMEM;
    }
    pthread_mutex_init(&svc->mu, NULL);
    *out = svc;
    return 0;
}

void chunk_service_destroy(chunk_service *svc)
{
    if (!svc) return;
    stream_limit_free(svc->streams);
    pthread_mutex_destroy(&svc->mu);
    free(svc);
}

void chunk_service_set_address(chunk_service *svc, const char *address)
{
    pthread_mutex_lock(&svc->mu);
    snprintf(svc->address, sizeof svc->address, "%s", address);
    pthread_mutex_unlock(&svc->mu);
}

static void self_address(chunk_service *svc, char *buf, size_t len)
{
    pthread_mutex_lock(&svc->mu);
    snprintf(buf, len, "%s", svc->address);
    pthread_mutex_unlock(&svc->mu);
}

unsigned chunk_service_load(chunk_service *svc)
{
    return __atomic_load_n(&svc->inflight, __ATOMIC_RELAXED);
}

static void load_inc(chunk_service *svc)
{
    __atomic_fetch_add(&svc->inflight, 1, __ATOMIC_RELAXED);
}

static void load_dec(chunk_service *svc)
{
    __atomic_fetch_sub(&svc->inflight, 1, __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------------ Write */

/* The errmsg of a reply: `why` when given (a refused token), else the error's text. */
static char *errmsg_of(int err, const char *why, char *buf, size_t len)
{
    if (err >= 0) return (char *)"";
    if (!why) return (char *)cfs_strerror(err);
    snprintf(buf, len, "%s: chunk access token refused (%s)", cfs_strerror(err), why);
    return buf;
}

static int send_write_resp(rpc_call *call, int err, const char *why, const char *failed,
                           uint64_t length)
{
    char msg[160];
    Chunkfs__WriteResp resp = CHUNKFS__WRITE_RESP__INIT;
    resp.err = err;
    resp.errmsg = errmsg_of(err, why, msg, sizeof msg);
    resp.failed_address = (char *)(failed ? failed : "");
    resp.length = length;
    resp.acked_offset = err == 0 ? length : 0;
    uint8_t *buf;
    size_t len;
    int rc = rpc_pack(&resp.base, &buf, &len);
    if (rc < 0) return rc;
    rc = rpc_call_send(call, buf, len);
    free(buf);
    return rc;
}

/* Counts a stream of the calling client; -EBUSY (logged) when it runs too many already. */
static int stream_enter(chunk_service *svc, rpc_call *call, const char *what)
{
    int rc = stream_limit_enter(svc->streams, rpc_call_peer(call));
    if (rc == -EBUSY)
        LOG_DEBUG("%s from %s refused: it runs %u streams already (--max-streams-per-client)", what,
                  rpc_call_peer(call), stream_limit_max(svc->streams));
    return rc;
}

/* The first message for the downstream: the same header with the chain shifted by one. */
static int pack_downstream_first(const Chunkfs__WriteReq *m, uint8_t **buf, size_t *len)
{
    Chunkfs__WriteHeader h = *m->header;
    h.chain = m->header->n_chain > 1 ? m->header->chain + 1 : NULL;
    h.n_chain = m->header->n_chain - 1;
    Chunkfs__WriteReq r = *m;
    r.header = &h;
    return rpc_pack(&r.base, buf, len);
}

/* Deadline for the downstream stream: inside our caller's, so our reply beats it. */
static int downstream_timeout(chunk_service *svc, rpc_call *call)
{
    int64_t left = rpc_call_deadline_left_ms(call);
    int64_t t = svc->opts.downstream_timeout_ms;
    if (left != INT64_MAX && left > 0) {
        int64_t inner = left - left / 10 - 200;
        if (inner < t) t = inner > 100 ? inner : 100;
    }
    return (int)t;
}

struct write_session {
    chunk_service *svc;
    uint64_t id, version;
    bool sync_each;
    uint64_t end; /* highest byte written */
};

static int write_local(struct write_session *ws, const Chunkfs__WriteReq *m)
{
    int rc = chunk_req_check_write_piece(m);
    if (rc < 0 || m->data.len == 0) return rc;
    rc = chunk_store_write(ws->svc->opts.store, ws->id, ws->version, m->offset, m->data.data,
                           m->data.len);
    if (rc == 0) chunk_metrics_written(m->data.len);
    if (rc == 0 && ws->sync_each) rc = chunk_store_sync(ws->svc->opts.store, ws->id, ws->version);
    return rc;
}

static int write_stream(chunk_service *svc, rpc_call *call)
{
    char self[256];
    self_address(svc, self, sizeof self);
    uint8_t *buf;
    size_t len;
    int r = rpc_call_recv(call, &buf, &len);
    if (r <= 0) return r == 0 ? -EINVAL : r;
    Chunkfs__WriteReq *m = chunkfs__write_req__unpack(NULL, len, buf);
    free(buf);
    if (!m || !m->header) {
        if (m) chunkfs__write_req__free_unpacked(m, NULL);
        send_write_resp(call, -EINVAL, NULL, self, 0);
        return 0;
    }
    const Chunkfs__WriteHeader *h = m->header;
    int rc = chunk_req_check_write_header(h);
    if (rc == 0) rc = chunk_req_check_write_piece(m); /* before anything changes */
    const char *why = NULL;
    /* Every replica of the chain checks: the header (token included) travels down as is. */
    if (rc == 0 &&
        (rc = token_gate_check(svc->opts.tokens, "write", rpc_call_peer(call), h->token.data,
                               h->token.len, CHUNK_TOKEN_OP_BIT(CHUNK_TOKEN_WRITE), h->chunk_id,
                               h->version, &why)) < 0) {
        chunkfs__write_req__free_unpacked(m, NULL);
        send_write_resp(call, rc, why, self, 0);
        return 0;
    }
    if (rc < 0) {
        chunkfs__write_req__free_unpacked(m, NULL);
        send_write_resp(call, rc, NULL, self, 0);
        return 0;
    }
    load_inc(svc);
    struct write_session ws = {
        .svc = svc,
        .id = h->chunk_id,
        .version = h->version,
        .sync_each = svc->opts.sync == CHUNK_SYNC_PER_WRITE && !h->sync_at_close,
    };
    char next[256] = "";
    chain_writer *fw = NULL;
    /* Forward first: the next replica creates its copy while this one does, so the replicas'
     * work overlaps instead of adding up down the chain. */
    if (h->n_chain > 0) {
        snprintf(next, sizeof next, "%s", h->chain[0]);
        rc = chain_writer_start(next, downstream_timeout(svc, call), &fw);
        uint8_t *fb = NULL;
        size_t fl = 0;
        if (rc == 0) rc = pack_downstream_first(m, &fb, &fl);
        if (rc == 0) rc = chain_writer_push(fw, fb, fl);
        if (rc < 0) {
            LOG_WARN("write %016" PRIx64 ": downstream %s: %s", ws.id, next, cfs_strerror(rc));
            int derr = 0;
            char *dfailed = NULL;
            if (fw) chain_writer_finish(fw, true, &derr, &dfailed);
            free(dfailed);
            chunkfs__write_req__free_unpacked(m, NULL);
            send_write_resp(call, rc, NULL, next, 0);
            load_dec(svc);
            return 0;
        }
    }
    rc = chunk_store_begin_write(svc->opts.store, h->chunk_id, h->version, h->base_version);
    if (rc < 0) {
        LOG_INFO("write %016" PRIx64 " v%" PRIu64 " (base %" PRIu64 ") refused: %s", h->chunk_id,
                 h->version, h->base_version, cfs_strerror(rc));
        int derr = 0;
        char *dfailed = NULL;
        /* Nothing was acknowledged; what the downstream got is not relied on by anyone. */
        if (fw) chain_writer_finish(fw, true, &derr, &dfailed);
        free(dfailed);
        chunkfs__write_req__free_unpacked(m, NULL);
        send_write_resp(call, rc, NULL, self, 0);
        load_dec(svc);
        return 0;
    }
    int local_err = write_local(&ws, m);
    chunkfs__write_req__free_unpacked(m, NULL);
    int client_err = 0;
    while (local_err == 0 && !(fw && chain_writer_failed(fw))) {
        r = rpc_call_recv(call, &buf, &len);
        if (r == 0) break;
        if (r < 0) {
            client_err = r;
            break;
        }
        m = chunkfs__write_req__unpack(NULL, len, buf);
        if (!m) {
            free(buf);
            local_err = -EBADMSG;
            break;
        }
        if (m->header) {
            local_err = -EINVAL; /* only the first message carries a header */
        } else if (fw) {
            /* The raw bytes go downstream as they are; the forwarder frees them. */
            chain_writer_push(fw, buf, len);
            buf = NULL;
        }
        free(buf);
        if (local_err == 0) local_err = write_local(&ws, m);
        chunkfs__write_req__free_unpacked(m, NULL);
    }
    bool complete = local_err == 0 && client_err == 0 && !(fw && chain_writer_failed(fw));
    /* The whole stream arrived: the downstream hears its end now, so every replica syncs at
     * the same time instead of each one after its upstream's sync. */
    if (complete && fw) chain_writer_end_input(fw);
    if (complete) local_err = chunk_store_sync(svc->opts.store, ws.id, ws.version);
    /* -ENOENT only when the replica went away meanwhile, which the write or sync reported. */
    (void)chunk_store_end_write(svc->opts.store, ws.id);
    int derr = 0, dtransport = 0;
    char *dfailed = NULL;
    if (fw)
        dtransport = chain_writer_finish(fw, local_err != 0 || client_err != 0, &derr, &dfailed);
    load_dec(svc);
    if (client_err < 0) {
        /* The client is gone: nobody to answer. */
        free(dfailed);
        LOG_INFO("write %016" PRIx64 ": client stream broke: %s", ws.id, cfs_strerror(client_err));
        return client_err;
    }
    struct chunk_replica_info inf = {0};
    int err = 0;
    const char *failed = "";
    if (local_err < 0) {
        err = local_err;
        failed = self;
    } else if (dtransport < 0) {
        err = dtransport;
        failed = next;
    } else if (derr < 0) {
        err = derr;
        failed = dfailed ? dfailed : next;
    } else if ((err = chunk_store_info(svc->opts.store, ws.id, &inf)) < 0) {
        failed = self;
    }
    if (err < 0)
        LOG_WARN("write %016" PRIx64 " v%" PRIu64 " failed at %s: %s", ws.id, ws.version,
                 failed[0] ? failed : "?", cfs_strerror(err));
    send_write_resp(call, err, NULL, failed, inf.length);
    free(dfailed);
    return 0;
}

static int handle_write(void *arg, rpc_call *call)
{
    chunk_service *svc = arg;
    int rc = stream_enter(svc, call, "write");
    if (rc < 0) {
        char self[256];
        self_address(svc, self, sizeof self);
        send_write_resp(call, rc, NULL, self, 0);
        return 0;
    }
    rc = write_stream(svc, call);
    stream_limit_leave(svc->streams, rpc_call_peer(call));
    return rc;
}

/* ------------------------------------------------------------------ Read */

static int send_read_resp(rpc_call *call, int err, const char *why, uint64_t off,
                          const uint8_t *data, size_t n)
{
    char msg[160];
    Chunkfs__ReadResp resp = CHUNKFS__READ_RESP__INIT;
    resp.err = err;
    resp.errmsg = errmsg_of(err, why, msg, sizeof msg);
    resp.offset = off;
    resp.data.data = (uint8_t *)data;
    resp.data.len = n;
    uint8_t *buf;
    size_t len;
    int rc = rpc_pack(&resp.base, &buf, &len);
    if (rc < 0) return rc;
    return rpc_call_send_owned(call, buf, len);
}

static int read_stream(chunk_service *svc, rpc_call *call)
{
    uint8_t *buf;
    size_t len;
    int r = rpc_call_recv(call, &buf, &len);
    if (r <= 0) return r == 0 ? -EINVAL : r;
    Chunkfs__ReadReq *req = chunkfs__read_req__unpack(NULL, len, buf);
    free(buf);
    if (!req) {
        send_read_resp(call, -EBADMSG, NULL, 0, NULL, 0);
        return -EBADMSG;
    }
    uint64_t id = req->chunk_id, ver = req->version, off = req->offset, end = 0;
    int crc = chunk_req_check_read(req, &off, &end);
    const char *why = NULL;
    /* A replication target pulling a copy presents its replicate token here. */
    int trc = crc < 0 ? 0
                      : token_gate_check(svc->opts.tokens, "read", rpc_call_peer(call),
                                         req->token.data, req->token.len,
                                         CHUNK_TOKEN_OP_BIT(CHUNK_TOKEN_READ) |
                                             CHUNK_TOKEN_OP_BIT(CHUNK_TOKEN_REPLICATE),
                                         id, ver, &why);
    chunkfs__read_req__free_unpacked(req, NULL);
    if (crc < 0) {
        send_read_resp(call, crc, NULL, off, NULL, 0);
        return crc;
    }
    if (trc < 0) {
        send_read_resp(call, trc, why, off, NULL, 0);
        return 0;
    }
    uint8_t *piece = malloc(CHUNK_PIECE_SIZE);
    if (!piece) return -ENOMEM;
    load_inc(svc);
    int rc = 0;
    bool first = true;
    uint64_t pos = off;
    while (pos < end || first) {
        size_t n = (size_t)(end - pos < CHUNK_PIECE_SIZE ? end - pos : CHUNK_PIECE_SIZE);
        ssize_t got = chunk_store_read(svc->opts.store, id, ver, pos, piece, n);
        if (got > 0) chunk_metrics_read((uint64_t)got);
        first = false;
        if (got < 0) {
            rc = (int)got;
            send_read_resp(call, rc, NULL, pos, NULL, 0);
            break;
        }
        if (got == 0) break;
        rc = send_read_resp(call, 0, NULL, pos, piece, (size_t)got);
        if (rc < 0) break;
        pos += (uint64_t)got;
        if ((size_t)got < n) break;
    }
    free(piece);
    load_dec(svc);
    return rc;
}

static int handle_read(void *arg, rpc_call *call)
{
    chunk_service *svc = arg;
    int rc = stream_enter(svc, call, "read");
    if (rc < 0) {
        send_read_resp(call, rc, NULL, 0, NULL, 0);
        return 0;
    }
    rc = read_stream(svc, call);
    stream_limit_leave(svc->streams, rpc_call_peer(call));
    return rc;
}

/* ------------------------------------------------------------------ unary */

static int chunk_reply_why(uint8_t **resp, size_t *resp_len, int err, const char *why,
                           uint64_t version, uint64_t length)
{
    char msg[160];
    Chunkfs__ChunkResp r = CHUNKFS__CHUNK_RESP__INIT;
    r.err = err;
    r.errmsg = errmsg_of(err, why, msg, sizeof msg);
    r.version = version;
    r.length = length;
    return rpc_pack(&r.base, resp, resp_len);
}

static int chunk_reply(uint8_t **resp, size_t *resp_len, int err, uint64_t version, uint64_t length)
{
    return chunk_reply_why(resp, resp_len, err, NULL, version, length);
}

struct import_ctx {
    chunk_store *store;
    uint64_t id, version;
};

static int import_sink(void *arg, uint64_t off, const uint8_t *data, size_t len)
{
    struct import_ctx *c = arg;
    return chunk_store_write(c->store, c->id, c->version, off, data, len);
}

int chunk_service_replicate(chunk_service *svc, uint64_t chunk_id, uint64_t version,
                            const char *source, chunk_token_ref token)
{
    int rc = chunk_req_check_replicate(chunk_id, version, source);
    if (rc < 0) return rc;
    chunk_store *st = svc->opts.store;
    struct chunk_replica_info inf;
    rc = chunk_store_info(st, chunk_id, &inf);
    /* Already held (e.g. a rebalance copy the metaserver has not heard of yet): report it, so
     * the copy the metaserver tracks completes instead of waiting for its timeout. */
    if (rc == 0 && inf.version == version) return chunk_store_announce(st, chunk_id);
    if (rc == 0 && inf.version > version)
        return -CFS_ESTALE_VER; /* we hold something newer: not ours to roll back */
    if (rc == 0) {
        /* Our replica is stale: it is replaced, but only once the source shows it has the
         * wanted version (a bogus request must not cost us the replica we have). */
        uint64_t sv = 0, sl = 0;
        rc = chunk_client_info(source, chunk_id, 5000, &sv, &sl);
        if (rc == 0 && sv != version) rc = -CFS_ESTALE_VER;
        if (rc < 0) return rc;
        rc = chunk_store_delete(st, chunk_id, inf.version);
        if (rc < 0 && rc != -ENOENT) return rc;
    }
    rc = chunk_store_import_begin(st, chunk_id, version);
    if (rc < 0) return rc;
    load_inc(svc);
    struct import_ctx c = {st, chunk_id, version};
    ssize_t n = chunk_client_read(source, chunk_id, version, token, 0, 0,
                                  svc->opts.replicate_timeout_ms, import_sink, &c);
    rc = n < 0 ? (int)n : 0;
    int erc = chunk_store_import_end(st, chunk_id, version, rc == 0);
    load_dec(svc);
    if (rc == 0) rc = erc;
    if (rc < 0)
        LOG_WARN("replicate %016" PRIx64 " v%" PRIu64 " from %s: %s", chunk_id, version, source,
                 cfs_strerror(rc));
    else
        LOG_INFO("replicated %016" PRIx64 " v%" PRIu64 " (%zd bytes) from %s", chunk_id, version, n,
                 source);
    return rc;
}

static int handle_replicate(void *arg, const char *peer, const uint8_t *req, size_t req_len,
                            uint8_t **resp, size_t *resp_len)
{
    chunk_service *svc = arg;
    Chunkfs__ReplicateReq *m = chunkfs__replicate_req__unpack(NULL, req_len, req);
    if (!m) return chunk_reply(resp, resp_len, -EBADMSG, 0, 0);
    uint64_t id = m->chunk_id;
    const char *why = NULL;
    int rc =
        id == 0 ? -EINVAL
                : token_gate_check(svc->opts.tokens, "replicate", peer, m->token.data, m->token.len,
                                   CHUNK_TOKEN_OP_BIT(CHUNK_TOKEN_REPLICATE), id, m->version, &why);
    if (rc == 0)
        rc = chunk_service_replicate(svc, id, m->version, m->source,
                                     (chunk_token_ref){m->token.data, m->token.len});
    chunkfs__replicate_req__free_unpacked(m, NULL);
    struct chunk_replica_info inf = {0};
    if (rc == 0) rc = chunk_store_info(svc->opts.store, id, &inf);
    return chunk_reply_why(resp, resp_len, rc, why, inf.version, inf.length);
}

static int handle_delete(void *arg, const char *peer, const uint8_t *req, size_t req_len,
                         uint8_t **resp, size_t *resp_len)
{
    chunk_service *svc = arg;
    Chunkfs__DeleteReq *m = chunkfs__delete_req__unpack(NULL, req_len, req);
    if (!m) return chunk_reply(resp, resp_len, -EBADMSG, 0, 0);
    const char *why = NULL;
    int rc = chunk_req_check_chunk_id(m->chunk_id);
    if (rc == 0)
        rc =
            token_gate_check(svc->opts.tokens, "delete", peer, m->token.data, m->token.len,
                             CHUNK_TOKEN_OP_BIT(CHUNK_TOKEN_DELETE), m->chunk_id, m->version, &why);
    if (rc == 0) rc = chunk_store_delete(svc->opts.store, m->chunk_id, m->version);
    chunkfs__delete_req__free_unpacked(m, NULL);
    return chunk_reply_why(resp, resp_len, rc, why, 0, 0);
}

static int handle_info(void *arg, const char *peer, const uint8_t *req, size_t req_len,
                       uint8_t **resp, size_t *resp_len)
{
    (void)peer;
    chunk_service *svc = arg;
    Chunkfs__InfoReq *m = chunkfs__info_req__unpack(NULL, req_len, req);
    if (!m) return chunk_reply(resp, resp_len, -EBADMSG, 0, 0);
    struct chunk_replica_info inf = {0};
    int rc = chunk_req_check_chunk_id(m->chunk_id);
    if (rc == 0) rc = chunk_store_info(svc->opts.store, m->chunk_id, &inf);
    chunkfs__info_req__free_unpacked(m, NULL);
    return chunk_reply(resp, resp_len, rc, inf.version, inf.length);
}

static int handle_set_version(void *arg, const char *peer, const uint8_t *req, size_t req_len,
                              uint8_t **resp, size_t *resp_len)
{
    chunk_service *svc = arg;
    Chunkfs__SetVersionReq *m = chunkfs__set_version_req__unpack(NULL, req_len, req);
    if (!m) return chunk_reply(resp, resp_len, -EBADMSG, 0, 0);
    const char *why = NULL;
    int rc = chunk_req_check_set_version(m);
    if (rc == 0)
        rc = token_gate_check(svc->opts.tokens, "set-version", peer, m->token.data, m->token.len,
                              CHUNK_TOKEN_OP_BIT(CHUNK_TOKEN_SET_VERSION), m->chunk_id,
                              m->new_version, &why);
    if (rc == 0)
        rc = chunk_store_set_version(svc->opts.store, m->chunk_id, m->old_version, m->new_version);
    uint64_t id = m->chunk_id;
    chunkfs__set_version_req__free_unpacked(m, NULL);
    struct chunk_replica_info inf = {0};
    if (rc == 0) chunk_store_info(svc->opts.store, id, &inf);
    return chunk_reply_why(resp, resp_len, rc, why, inf.version, inf.length);
}

int chunk_service_register(chunk_service *svc, rpc_server *srv)
{
    int rc = rpc_server_add_stream(srv, CHUNK_METHOD_WRITE, handle_write, svc);
    if (rc == 0) rc = rpc_server_add_stream(srv, CHUNK_METHOD_READ, handle_read, svc);
    if (rc == 0) rc = rpc_server_add_unary(srv, CHUNK_METHOD_REPLICATE, handle_replicate, svc);
    if (rc == 0) rc = rpc_server_add_unary(srv, CHUNK_METHOD_DELETE, handle_delete, svc);
    if (rc == 0) rc = rpc_server_add_unary(srv, CHUNK_METHOD_INFO, handle_info, svc);
    if (rc == 0) rc = rpc_server_add_unary(srv, CHUNK_METHOD_SET_VERSION, handle_set_version, svc);
    return rc;
}
