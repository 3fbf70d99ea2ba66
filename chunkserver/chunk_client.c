#include "chunkserver/chunk_client.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rpc.h"
#include "proto/chunkfs.pb-c.h"

static void set_failed(struct chunk_write_result *res, int err, const char *addr)
{
    res->err = err;
    snprintf(res->failed_address, sizeof res->failed_address, "%s", addr ? addr : "");
}

int chunk_client_write(const char *addr, const char *const *chain, size_t nchain, uint64_t chunk_id,
                       uint64_t version, uint64_t base_version, chunk_token_ref token, uint64_t off,
                       chunk_source_fn source, void *arg, int timeout_ms,
                       struct chunk_write_result *res)
{
    memset(res, 0, sizeof *res);
    uint8_t *piece = malloc(CHUNK_PIECE_SIZE);
    if (!piece) {
        set_failed(res, -ENOMEM, "");
        return res->err;
    }
    rpc_stream *st = NULL;
    int rc = rpc_stream_open(addr, CHUNK_METHOD_WRITE, timeout_ms, &st);
    if (rc < 0) {
        free(piece);
        set_failed(res, rc, addr);
        return rc;
    }
    Chunkfs__WriteHeader hdr = CHUNKFS__WRITE_HEADER__INIT;
    hdr.chunk_id = chunk_id;
    hdr.version = version;
    hdr.base_version = base_version;
    hdr.n_chain = nchain;
    hdr.chain = (char **)chain;
    hdr.token.data = (uint8_t *)token.data;
    hdr.token.len = token.len;
    uint64_t pos = off;
    int send_err = 0, src_err = 0;
    for (bool first = true;; first = false) {
        ssize_t n = source(arg, pos, piece, CHUNK_PIECE_SIZE);
        if (n < 0) {
            src_err = (int)n;
            break;
        }
        if (n == 0 && !first) break;
        Chunkfs__WriteReq req = CHUNKFS__WRITE_REQ__INIT;
        req.header = first ? &hdr : NULL;
        req.offset = pos;
        req.data.data = piece;
        req.data.len = (size_t)n;
        uint8_t *buf;
        size_t len;
        send_err = rpc_pack(&req.base, &buf, &len);
        if (send_err == 0) {
            send_err = rpc_stream_send_owned(st, buf, len);
        }
        if (send_err < 0 || n == 0)
            break; /* a broken send: the server's final reply (if any) tells why */
        pos += (uint64_t)n;
    }
    free(piece);
    if (src_err < 0) {
        rpc_stream_free(st);
        set_failed(res, src_err, "");
        return src_err;
    }
    if (send_err == 0) rpc_stream_close_send(st);
    uint8_t *rbuf = NULL;
    size_t rlen = 0;
    int r = rpc_stream_recv(st, &rbuf, &rlen);
    int status = rpc_stream_finish(st);
    rpc_stream_free(st);
    if (r == 1) {
        Chunkfs__WriteResp *resp = chunkfs__write_resp__unpack(NULL, rlen, rbuf);
        free(rbuf);
        if (!resp) {
            set_failed(res, -EBADMSG, addr);
            return res->err;
        }
        res->err = resp->err;
        res->length = resp->length;
        snprintf(res->failed_address, sizeof res->failed_address, "%s",
                 resp->failed_address ? resp->failed_address : "");
        if (res->err < 0 && res->failed_address[0] == '\0')
            snprintf(res->failed_address, sizeof res->failed_address, "%s", addr);
        chunkfs__write_resp__free_unpacked(resp, NULL);
        return res->err;
    }
    /* No reply: the first replica (or the way to it) failed. */
    int err = r < 0 ? r : status < 0 ? status : send_err < 0 ? send_err : -EPROTO;
    set_failed(res, err, addr);
    return err;
}

ssize_t chunk_client_read(const char *addr, uint64_t chunk_id, uint64_t version,
                          chunk_token_ref token, uint64_t off, uint64_t len, int timeout_ms,
                          chunk_sink_fn sink, void *arg)
{
    Chunkfs__ReadReq req = CHUNKFS__READ_REQ__INIT;
    req.chunk_id = chunk_id;
    req.version = version;
    req.token.data = (uint8_t *)token.data;
    req.token.len = token.len;
    req.offset = off;
    req.length = len;
    uint8_t *buf;
    size_t blen;
    int rc = rpc_pack(&req.base, &buf, &blen);
    if (rc < 0) return rc;
    rpc_stream *st = NULL;
    rc = rpc_stream_open(addr, CHUNK_METHOD_READ, timeout_ms, &st);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    rc = rpc_stream_send(st, buf, blen);
    free(buf);
    if (rc == 0) rc = rpc_stream_close_send(st);
    ssize_t total = 0;
    int err = rc;
    while (err == 0) {
        uint8_t *m;
        size_t mlen;
        int r = rpc_stream_recv(st, &m, &mlen);
        if (r <= 0) {
            err = r;
            break;
        }
        Chunkfs__ReadResp *resp = chunkfs__read_resp__unpack(NULL, mlen, m);
        free(m);
        if (!resp) {
            err = -EBADMSG;
            break;
        }
        if (resp->err < 0)
            err = resp->err;
        else if (resp->offset != off + (uint64_t)total)
            err = -EPROTO; /* pieces must arrive in order, without gaps */
        else if (resp->data.len > 0)
            err = sink(arg, resp->offset, resp->data.data, resp->data.len);
        if (err == 0) total += (ssize_t)resp->data.len;
        chunkfs__read_resp__free_unpacked(resp, NULL);
    }
    int status = rpc_stream_finish(st);
    rpc_stream_free(st);
    if (err < 0) return err;
    return status < 0 ? status : total;
}

/* Unary ChunkService call returning ChunkResp. Every unary ChunkService call is idempotent
 * (Info, Delete, SetVersion, Replicate), so connection failures are retried a few times with
 * backoff (rpc_unary_retry): a just-started peer may refuse the first connection. */
#define CHUNK_CALL_ATTEMPTS 5

static int chunk_call(const char *addr, const char *method, const ProtobufCMessage *req,
                      int timeout_ms, uint64_t *version, uint64_t *length)
{
    uint8_t *buf = NULL, *out = NULL;
    size_t len = 0, olen = 0;
    int rc = rpc_pack(req, &buf, &len);
    if (rc < 0) return rc;
    rc = rpc_unary_retry(addr, method, buf, len, timeout_ms, CHUNK_CALL_ATTEMPTS, &out, &olen);
    free(buf);
    if (rc < 0) return rc;
    Chunkfs__ChunkResp *resp = chunkfs__chunk_resp__unpack(NULL, olen, out);
    free(out);
    if (!resp) return -EBADMSG;
    rc = resp->err;
    if (version) *version = resp->version;
    if (length) *length = resp->length;
    chunkfs__chunk_resp__free_unpacked(resp, NULL);
    return rc;
}

int chunk_client_info(const char *addr, uint64_t chunk_id, int timeout_ms, uint64_t *version,
                      uint64_t *length)
{
    Chunkfs__InfoReq req = CHUNKFS__INFO_REQ__INIT;
    req.chunk_id = chunk_id;
    return chunk_call(addr, CHUNK_METHOD_INFO, &req.base, timeout_ms, version, length);
}

int chunk_client_delete(const char *addr, uint64_t chunk_id, uint64_t version,
                        chunk_token_ref token, int timeout_ms)
{
    Chunkfs__DeleteReq req = CHUNKFS__DELETE_REQ__INIT;
    req.chunk_id = chunk_id;
    req.version = version;
    req.token.data = (uint8_t *)token.data;
    req.token.len = token.len;
    return chunk_call(addr, CHUNK_METHOD_DELETE, &req.base, timeout_ms, NULL, NULL);
}

int chunk_client_set_version(const char *addr, uint64_t chunk_id, uint64_t old_version,
                             uint64_t new_version, chunk_token_ref token, int timeout_ms)
{
    Chunkfs__SetVersionReq req = CHUNKFS__SET_VERSION_REQ__INIT;
    req.chunk_id = chunk_id;
    req.old_version = old_version;
    req.new_version = new_version;
    req.token.data = (uint8_t *)token.data;
    req.token.len = token.len;
    return chunk_call(addr, CHUNK_METHOD_SET_VERSION, &req.base, timeout_ms, NULL, NULL);
}

int chunk_client_replicate(const char *addr, uint64_t chunk_id, uint64_t version,
                           const char *source, chunk_token_ref token, int timeout_ms)
{
    Chunkfs__ReplicateReq req = CHUNKFS__REPLICATE_REQ__INIT;
    req.chunk_id = chunk_id;
    req.version = version;
    req.source = (char *)source;
    req.token.data = (uint8_t *)token.data;
    req.token.len = token.len;
    return chunk_call(addr, CHUNK_METHOD_REPLICATE, &req.base, timeout_ms, NULL, NULL);
}
