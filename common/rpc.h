#ifndef CFS_RPC_H
#define CFS_RPC_H
/* The RPC layer: every process talks gRPC (HTTP/2) through the C core 1.51 API, with protobuf-c
 * messages packed into byte buffers. This header is the only place the rest of the code meets
 * gRPC. Errors are negative errno values:
 *   handler returned -E          -> caller gets -E exactly (gRPC status + "cfs-errno" trailer)
 *   peer unreachable / conn lost -> -ENOTCONN       deadline expired     -> -ETIMEDOUT
 *   message over the size limit  -> -EMSGSIZE       unknown method       -> -ENOSYS
 *   cancelled locally            -> -ECANCELED      other gRPC failures  -> -EPROTO
 * Method names are full gRPC paths: "/chunkfs.MetaService/Call". */
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

/* Largest message either side accepts: a 64 MiB chunk payload plus headroom. */
#define CFS_RPC_MAX_MESSAGE (64u * 1024 * 1024 + 1024 * 1024)

/* Process-wide setup: grpc_init, malloc tuning for bulk buffers, gRPC logs routed to our log.
 * Call once at the top of main (idempotent); rpc_global_shutdown after all objects are gone. */
void rpc_global_init(void);
void rpc_global_shutdown(void);

/* ------------------------------------------------------------------ security
 * Two independent layers, both process-wide and off by default (plaintext, unauthenticated):
 * - Authentication: once a cluster secret is installed (cfs_secret_install, common/secret.h),
 *   every call this process makes carries a proof of it, and every call it serves must carry
 *   a valid one (rpc_auth.h); a call without gets -CFS_EAUTH (gRPC UNAUTHENTICATED) before
 *   any handler runs, and the server logs it (at most one line per 10 s).
 * - TLS (rpc_set_tls): servers present `cert_file` and clients verify them against `ca_file`
 *   (the name or IP in the address must be in the certificate's SANs). A process with a
 *   certificate also presents it as a client (servers are clients of each other); with
 *   `require_client_cert`, servers refuse peers without a certificate signed by the CA.
 *   A TLS handshake failure looks like an unreachable peer to the caller (-ENOTCONN).
 * Set both at startup, before the first call or server. */
typedef struct rpc_tls_config {
    const char *ca_file;     /* PEM CA certificate(s); required */
    const char *cert_file;   /* PEM certificate chain; required for servers, optional otherwise */
    const char *key_file;    /* PEM private key (unencrypted) of cert_file */
    int require_client_cert; /* servers: mutual TLS */
} rpc_tls_config;

/* Loads and checks the files (the key must match the certificate) and switches TLS on for
 * channels and servers created afterwards; NULL switches it off. 0, or -EINVAL / -errno with
 * a message naming the file in err[0..errlen). */
int rpc_set_tls(const rpc_tls_config *cfg, char *err, size_t errlen);

/* ------------------------------------------------------------------ server */

typedef struct rpc_server rpc_server;
typedef struct rpc_call rpc_call; /* one server-side streaming call */

/* Unary handler, run on one of the server's handler threads (it may block, e.g. on fsync or
 * on a downstream RPC). Gets the request bytes; on success sets *resp and *resp_len to a malloc'd
 * buffer (the layer frees it; NULL/0 is an empty message) and returns 0. A negative return is
 * sent as an error status and the response is ignored. `peer` is the caller's address. */
typedef int (*rpc_unary_fn)(void *arg, const char *peer, const uint8_t *req, size_t req_len,
                            uint8_t **resp, size_t *resp_len);

/* Streaming handler (client-, server- or bidi-streaming), run on a handler thread; it reads
 * with rpc_call_recv and writes with rpc_call_send, then returns 0 or -errno as the status. */
typedef int (*rpc_stream_fn)(void *arg, rpc_call *call);

typedef struct rpc_server_opts {
    int cq_threads;      /* completion-queue threads; 0 = 1 */
    int handler_threads; /* threads running handlers (bounded concurrency); 0 = 16 */
} rpc_server_opts;

rpc_server *rpc_server_create(const rpc_server_opts *opts);
/* Register methods before rpc_server_start; `method` must outlive the server. */
int rpc_server_add_unary(rpc_server *s, const char *method, rpc_unary_fn fn, void *arg);
int rpc_server_add_stream(rpc_server *s, const char *method, rpc_stream_fn fn, void *arg);
/* Binds `addr` ("127.0.0.1:0" picks a free port) and starts serving. Returns the bound port
 * (> 0) or a negative errno (-EADDRINUSE when the port is taken, SO_REUSEPORT being off, or
 * the address cannot be bound; -EINVAL if already started). */
int rpc_server_start(rpc_server *s, const char *addr);
/* Stops accepting, cancels calls in flight, waits for every handler to return, frees all.
 * Calls still queued for a handler thread are answered -ESHUTDOWN without running. A
 * handler that never returns blocks this: bound every wait inside handlers. Never call it
 * from one of the server's own handlers (it would wait for itself).
 * Safe on a server that was never started. */
void rpc_server_destroy(rpc_server *s);

/* Inside a stream handler. rpc_call_recv: 1 = a message (*buf malloc'd, caller frees),
 * 0 = the client half-closed, <0 = stream broken (-ECANCELED / -ETIMEDOUT / -ENOTCONN). */
int rpc_call_recv(rpc_call *c, uint8_t **buf, size_t *len);
/* Sends one message (blocks until gRPC accepted it). 0 or -errno. */
int rpc_call_send(rpc_call *c, const uint8_t *buf, size_t len);
/* Like rpc_call_send, but takes ownership of the malloc'd `buf` (freed in every case, also on
 * error): gRPC sends it without a copy. */
int rpc_call_send_owned(rpc_call *c, uint8_t *buf, size_t len);
/* gRPC's peer string, e.g. "ipv4:127.0.0.1:40512"; valid during the handler. */
const char *rpc_call_peer(const rpc_call *c);
/* Milliseconds left until the caller's deadline (INT64_MAX without one). */
int64_t rpc_call_deadline_left_ms(const rpc_call *c);

/* ------------------------------------------------------------------ client */

/* Unary call. Connects through a process-wide channel cache keyed by address (channels are
 * kept and reused; a broken connection reconnects on the next call). `timeout_ms` is the
 * deadline (> 0, required). On success *resp is malloc'd (caller frees) and 0 is returned. */
int rpc_unary(const char *addr, const char *method, const uint8_t *req, size_t req_len,
              int timeout_ms, uint8_t **resp, size_t *resp_len);

/* Like rpc_unary, for idempotent calls: retries -ENOTCONN and -ETIMEDOUT up to `attempts`
 * times in all, with exponential backoff from 50 ms (capped at 1 s), within `timeout_ms` per
 * attempt. Any other error is returned at once. */
int rpc_unary_retry(const char *addr, const char *method, const uint8_t *req, size_t req_len,
                    int timeout_ms, int attempts, uint8_t **resp, size_t *resp_len);

/* protobuf-c convenience: packs `req`, calls, unpacks the reply with `resp_desc`
 * (-EBADMSG if it does not parse). Free *resp with protobuf_c_message_free_unpacked. */
int rpc_unary_pb(const char *addr, const char *method, const ProtobufCMessage *req,
                 const ProtobufCMessageDescriptor *resp_desc, int timeout_ms,
                 ProtobufCMessage **resp);

/* Client side of a streaming call (client-, server- or bidi-streaming). One thread may send
 * while another receives; never two senders or two receivers at once. */
typedef struct rpc_stream rpc_stream;
int rpc_stream_open(const char *addr, const char *method, int timeout_ms, rpc_stream **out);
/* 0, -EMSGSIZE (over CFS_RPC_MAX_MESSAGE, nothing sent), or, when the call is over, its
 * error if already known, else -EPIPE: the server may have ended early with a reply, which
 * rpc_stream_recv still returns; rpc_stream_finish gives the final status. */
int rpc_stream_send(rpc_stream *st, const uint8_t *buf, size_t len);
/* Like rpc_stream_send, but takes ownership of the malloc'd `buf` (freed in every case, also
 * on error): gRPC sends it without a copy (bulk data paths). */
int rpc_stream_send_owned(rpc_stream *st, uint8_t *buf, size_t len);
/* Half-closes the sending side. */
int rpc_stream_close_send(rpc_stream *st);
/* 1 = a message (*buf malloc'd), 0 = the server finished with success (call
 * rpc_stream_finish), <0 = the error the server (or transport) ended the call with. */
int rpc_stream_recv(rpc_stream *st, uint8_t **buf, size_t *len);
/* Waits for the final status: 0 or the -errno the server (or transport) ended with.
 * Messages not yet read are discarded (unless another thread is inside rpc_stream_recv). */
int rpc_stream_finish(rpc_stream *st);
/* Cancels if still running, releases everything. Always call exactly once. */
void rpc_stream_free(rpc_stream *st);

/* Packs a protobuf-c message into a malloc'd buffer (helper for handlers and streams). */
int rpc_pack(const ProtobufCMessage *m, uint8_t **buf, size_t *len);

#endif
