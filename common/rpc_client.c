/* RPC client: a process-wide channel cache keyed by address, a pool of pluck completion
 * queues for blocking calls, unary calls with deadlines and bounded retries, and blocking
 * streams (one sender and one receiver thread may run at once). */
#include "common/rpc.h"

#include "common/errors.h"
#include "common/log.h"
#include "common/rpc_internal.h"
#include "common/time_util.h"

#include <errno.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ channel cache */

struct chan_entry {
    char *addr;
    unsigned sec_gen; /* rpc_security_generation() when made: TLS settings are part of the key */
    grpc_channel *ch;
};

static pthread_mutex_t g_chan_mu = PTHREAD_MUTEX_INITIALIZER;
static struct chan_entry *g_chans;
static size_t g_nchans, g_chan_cap;

/* The one place client channels are made: credentials (TLS or not) from rpc_security.c. */
static grpc_channel *channel_create(const char *addr)
{
    grpc_arg args[RPC_MAX_ARGS];
    grpc_channel_args ca = {rpc_fill_args(args, 0), args};
    grpc_channel_credentials *creds = rpc_security_channel_creds();
    if (!creds) return NULL;
    grpc_channel *ch = grpc_channel_create(addr, creds, &ca);
    grpc_channel_credentials_release(creds);
    return ch;
}

static grpc_channel *channel_get(const char *addr)
{
    grpc_channel *ch = NULL;
    unsigned gen = rpc_security_generation();
    pthread_mutex_lock(&g_chan_mu);
    for (size_t i = 0; i < g_nchans; i++) {
        if (g_chans[i].sec_gen == gen && strcmp(g_chans[i].addr, addr) == 0) {
            ch = g_chans[i].ch;
            break;
        }
    }
    if (!ch) {
        if (g_nchans == g_chan_cap) {
            size_t cap = g_chan_cap ? g_chan_cap * 2 : 8;
            struct chan_entry *n = realloc(g_chans, cap * sizeof *n);
            if (!n) goto out;
            g_chans = n;
            g_chan_cap = cap;
        }
        char *copy = strdup(addr);
        if (!copy) goto out;
        ch = channel_create(addr);
        if (!ch) {
            free(copy);
            goto out;
        }
        g_chans[g_nchans++] = (struct chan_entry){copy, gen, ch};
    }
out:
    pthread_mutex_unlock(&g_chan_mu);
    return ch;
}

/* ------------------------------------------------------------------ pluck queue pool */

static pthread_mutex_t g_cq_mu = PTHREAD_MUTEX_INITIALIZER;
static grpc_completion_queue **g_cqs;
static size_t g_ncqs, g_cq_cap;

static grpc_completion_queue *cq_get(void)
{
    grpc_completion_queue *cq = NULL;
    pthread_mutex_lock(&g_cq_mu);
    if (g_ncqs > 0) cq = g_cqs[--g_ncqs];
    pthread_mutex_unlock(&g_cq_mu);
    return cq ? cq : grpc_completion_queue_create_for_pluck(NULL);
}

static void cq_destroy(grpc_completion_queue *cq)
{
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
           GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(cq);
}

/* Only for a queue with nothing outstanding. */
static void cq_put(grpc_completion_queue *cq)
{
    pthread_mutex_lock(&g_cq_mu);
    if (g_ncqs == g_cq_cap) {
        size_t cap = g_cq_cap ? g_cq_cap * 2 : 16;
        grpc_completion_queue **n = realloc(g_cqs, cap * sizeof *n);
        if (!n) {
            pthread_mutex_unlock(&g_cq_mu);
            cq_destroy(cq);
            return;
        }
        g_cqs = n;
        g_cq_cap = cap;
    }
    g_cqs[g_ncqs++] = cq;
    pthread_mutex_unlock(&g_cq_mu);
}

void rpc_client_shutdown(void)
{
    pthread_mutex_lock(&g_chan_mu);
    for (size_t i = 0; i < g_nchans; i++) {
        grpc_channel_destroy(g_chans[i].ch);
        free(g_chans[i].addr);
    }
    free(g_chans);
    g_chans = NULL;
    g_nchans = g_chan_cap = 0;
    pthread_mutex_unlock(&g_chan_mu);
    pthread_mutex_lock(&g_cq_mu);
    for (size_t i = 0; i < g_ncqs; i++)
        cq_destroy(g_cqs[i]);
    free(g_cqs);
    g_cqs = NULL;
    g_ncqs = g_cq_cap = 0;
    pthread_mutex_unlock(&g_cq_mu);
}

static grpc_event pluck(grpc_completion_queue *cq, void *tag)
{
    /* The call's own deadline bounds every batch, so waiting without a limit here is safe. */
    return grpc_completion_queue_pluck(cq, tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
}

/* ------------------------------------------------------------------ unary */

/* Failures the RPC layer itself produced (no errno trailer from a handler) are logged with
 * gRPC's details: unexpected ones as warnings, routine ones (peer down, deadline) as debug. */
static void log_failure(const char *method, const char *addr, grpc_status_code status, int err,
                        const grpc_metadata_array *trailers, grpc_slice details,
                        const char *error_string)
{
    for (size_t i = 0; i < trailers->count; i++)
        if (grpc_slice_str_cmp(trailers->metadata[i].key, RPC_ERRNO_KEY) == 0) return;
    int unexpected = err == -EPROTO || err == -EMSGSIZE;
    if (!unexpected && cfs_log_get_level() > CFS_LOG_DEBUG) return;
    char *d = grpc_slice_to_c_string(details);
    if (unexpected)
        LOG_WARN("rpc: %s to %s: status %d (%s): %s", method, addr, (int)status, d,
                 error_string ? error_string : "");
    else
        LOG_DEBUG("rpc: %s to %s: status %d (%s): %s", method, addr, (int)status, d,
                  error_string ? error_string : "");
    gpr_free(d);
}

static int check_args(const char *addr, const char *method, int timeout_ms)
{
    if (!addr || !addr[0] || !method || method[0] != '/' || timeout_ms <= 0) return -EINVAL;
    return 0;
}

/* Sends `bb` (consumed) as one unary call. */
static int unary_bb(const char *addr, const char *method, grpc_byte_buffer *bb, int timeout_ms,
                    uint8_t **resp, size_t *resp_len)
{
    rpc_global_init();
    grpc_channel *ch = channel_get(addr);
    if (!ch) {
        grpc_byte_buffer_destroy(bb);
        return -ENOMEM;
    }
    grpc_completion_queue *cq = cq_get();
    grpc_slice mslice = grpc_slice_from_copied_string(method);
    grpc_call *call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, mslice, NULL,
                                               rpc_deadline_after_ms(timeout_ms), NULL);
    grpc_metadata_array init_md, trail_md;
    grpc_metadata_array_init(&init_md);
    grpc_metadata_array_init(&trail_md);
    grpc_byte_buffer *rbb = NULL;
    grpc_status_code status = GRPC_STATUS_UNKNOWN;
    grpc_slice details = grpc_empty_slice();
    const char *error_string = NULL;
    grpc_metadata auth;
    int has_auth = rpc_auth_md_make(method, &auth);
    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    if (has_auth > 0) {
        ops[0].data.send_initial_metadata.count = 1;
        ops[0].data.send_initial_metadata.metadata = &auth;
    }
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = bb;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &init_md;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &rbb;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &trail_md;
    ops[5].data.recv_status_on_client.status = &status;
    ops[5].data.recv_status_on_client.status_details = &details;
    ops[5].data.recv_status_on_client.error_string = &error_string;
    int tag;
    int rc;
    grpc_call_error e =
        has_auth < 0 ? GRPC_CALL_ERROR : grpc_call_start_batch(call, ops, 6, &tag, NULL);
    if (has_auth < 0) {
        LOG_ERROR("rpc: %s to %s: cannot make the authentication proof: %s", method, addr,
                  cfs_strerror(has_auth));
        rc = has_auth;
    } else if (e != GRPC_CALL_OK) {
        LOG_ERROR("rpc: %s to %s: batch refused (grpc error %d)", method, addr, (int)e);
        rc = -EPROTO;
    } else {
        (void)pluck(cq, &tag);
        rc = rpc_errno_from_status(status, &trail_md);
        if (rc == 0) {
            if (!rbb) {
                rc = -EPROTO;
            } else {
                rc = rpc_bb_to_buf(rbb, resp, resp_len);
            }
        } else {
            log_failure(method, addr, status, rc, &trail_md, details, error_string);
        }
    }
    grpc_call_unref(call);
    cq_put(cq);
    if (has_auth > 0) grpc_slice_unref(auth.value);
    grpc_slice_unref(mslice);
    grpc_metadata_array_destroy(&init_md);
    grpc_metadata_array_destroy(&trail_md);
    grpc_slice_unref(details);
    gpr_free((void *)error_string);
    grpc_byte_buffer_destroy(bb);
    if (rbb) grpc_byte_buffer_destroy(rbb);
    return rc;
}

int rpc_unary(const char *addr, const char *method, const uint8_t *req, size_t req_len,
              int timeout_ms, uint8_t **resp, size_t *resp_len)
{
    int rc = check_args(addr, method, timeout_ms);
    if (rc < 0) return rc;
    if (!resp || !resp_len || (!req && req_len)) return -EINVAL;
    if (req_len > CFS_RPC_MAX_MESSAGE) return -EMSGSIZE;
    rpc_global_init();
    return unary_bb(addr, method, rpc_bb_from_copy(req, req_len), timeout_ms, resp, resp_len);
}

int rpc_unary_retry(const char *addr, const char *method, const uint8_t *req, size_t req_len,
                    int timeout_ms, int attempts, uint8_t **resp, size_t *resp_len)
{
    if (attempts <= 0) return -EINVAL;
    int backoff = 50;
    int rc = -EINVAL;
    for (int i = 0; i < attempts; i++) {
        if (i > 0) {
            cfs_sleep_ms(backoff);
            backoff = backoff * 2 > 1000 ? 1000 : backoff * 2;
        }
        rc = rpc_unary(addr, method, req, req_len, timeout_ms, resp, resp_len);
        if (rc != -ENOTCONN && rc != -ETIMEDOUT) return rc;
    }
    return rc;
}

int rpc_unary_pb(const char *addr, const char *method, const ProtobufCMessage *req,
                 const ProtobufCMessageDescriptor *resp_desc, int timeout_ms,
                 ProtobufCMessage **resp)
{
    int rc = check_args(addr, method, timeout_ms);
    if (rc < 0) return rc;
    if (!req || !resp_desc || !resp) return -EINVAL;
    uint8_t *buf;
    size_t len;
    rc = rpc_pack(req, &buf, &len);
    if (rc < 0) return rc;
    if (len > CFS_RPC_MAX_MESSAGE) {
        free(buf);
        return -EMSGSIZE;
    }
    rpc_global_init();
    uint8_t *out = NULL;
    size_t out_len = 0;
    rc = unary_bb(addr, method, rpc_bb_from_owned(buf, len), timeout_ms, &out, &out_len);
    if (rc < 0) return rc;
    ProtobufCMessage *m = protobuf_c_message_unpack(resp_desc, NULL, out_len, out);
    free(out);
    if (!m) return -EBADMSG;
    *resp = m;
    return 0;
}

/* ------------------------------------------------------------------ streams */

struct rpc_stream {
    char *addr;        /* for log messages */
    char *method_name; /* for log messages */
    grpc_call *call;
    grpc_completion_queue *cq;
    grpc_slice method;
    int got_initial_md;
    atomic_int recv_busy;  /* a thread is inside rpc_stream_recv */
    atomic_int recv_ended; /* rpc_stream_recv has returned 0 or an error */
    grpc_metadata_array init_md;
    /* tags: distinct addresses so sender, receiver and status waiter pluck their own */
    char send_tag, recv_tag, status_tag, close_tag;

    pthread_mutex_t status_mu;
    int status_done;
    int status_err;
    grpc_metadata_array trail_md;
    grpc_status_code status;
    grpc_slice details;
    const char *error_string;
};

/* Waits up to `wait_ms` (< 0: until the call ends) for the call's final status, outstanding
 * since open, and maps it. Returns 1 with *err set once the status is known, else 0. */
static int stream_status_wait(rpc_stream *st, int64_t wait_ms, int *err)
{
    pthread_mutex_lock(&st->status_mu);
    if (!st->status_done) {
        gpr_timespec until =
            wait_ms < 0 ? gpr_inf_future(GPR_CLOCK_REALTIME) : rpc_deadline_after_ms(wait_ms);
        grpc_event ev = grpc_completion_queue_pluck(st->cq, &st->status_tag, until, NULL);
        if (ev.type == GRPC_OP_COMPLETE) {
            st->status_err = rpc_errno_from_status(st->status, &st->trail_md);
            if (st->status_err < 0)
                log_failure(st->method_name, st->addr, st->status, st->status_err, &st->trail_md,
                            st->details, st->error_string);
            st->status_done = 1;
        }
    }
    int done = st->status_done;
    if (done) *err = st->status_err;
    pthread_mutex_unlock(&st->status_mu);
    return done;
}

static int stream_status(rpc_stream *st)
{
    int err = -EPROTO;
    (void)stream_status_wait(st, -1, &err);
    return err;
}

/* The error for a failed send batch. The status may not be complete yet: gRPC delivers it
 * only after the caller has read the server's messages, so never wait long for it here. */
static int stream_send_broken(rpc_stream *st)
{
    int err;
    if (stream_status_wait(st, 50, &err) && err < 0) return err;
    return -EPIPE;
}

/* The error for a failed receive: the call is over, so its status is there. */
static int stream_broken(rpc_stream *st)
{
    int rc = stream_status(st);
    return rc < 0 ? rc : -EPIPE;
}

int rpc_stream_open(const char *addr, const char *method, int timeout_ms, rpc_stream **out)
{
    int rc = check_args(addr, method, timeout_ms);
    if (rc < 0) return rc;
    if (!out) return -EINVAL;
    rpc_global_init();
    grpc_channel *ch = channel_get(addr);
    if (!ch) return -ENOMEM;
    rpc_stream *st = calloc(1, sizeof *st);
    if (!st) return -ENOMEM;
    pthread_mutex_init(&st->status_mu, NULL);
    grpc_metadata_array_init(&st->init_md);
    grpc_metadata_array_init(&st->trail_md);
    st->details = grpc_empty_slice();
    st->status = GRPC_STATUS_UNKNOWN;
    st->addr = strdup(addr);
    st->method_name = strdup(method);
    if (!st->addr || !st->method_name) {
        free(st->addr);
        free(st->method_name);
        grpc_metadata_array_destroy(&st->init_md);
        grpc_metadata_array_destroy(&st->trail_md);
        pthread_mutex_destroy(&st->status_mu);
        free(st);
        return -ENOMEM;
    }
    st->cq = cq_get();
    st->method = grpc_slice_from_copied_string(method);
    st->call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, st->cq, st->method, NULL,
                                        rpc_deadline_after_ms(timeout_ms), NULL);
    grpc_op op;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    op.data.recv_status_on_client.trailing_metadata = &st->trail_md;
    op.data.recv_status_on_client.status = &st->status;
    op.data.recv_status_on_client.status_details = &st->details;
    op.data.recv_status_on_client.error_string = &st->error_string;
    grpc_call_error e = grpc_call_start_batch(st->call, &op, 1, &st->status_tag, NULL);
    if (e != GRPC_CALL_OK) {
        LOG_ERROR("rpc: stream %s to %s: status batch refused (grpc error %d)", method, addr,
                  (int)e);
        st->status_done = 1; /* nothing outstanding to wait for */
        rpc_stream_free(st);
        return -EPROTO;
    }
    grpc_metadata auth;
    int has_auth = rpc_auth_md_make(method, &auth);
    if (has_auth < 0) {
        LOG_ERROR("rpc: stream %s to %s: cannot make the authentication proof: %s", method, addr,
                  cfs_strerror(has_auth));
        rpc_stream_free(st);
        return has_auth;
    }
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_SEND_INITIAL_METADATA;
    if (has_auth) {
        op.data.send_initial_metadata.count = 1;
        op.data.send_initial_metadata.metadata = &auth;
    }
    e = grpc_call_start_batch(st->call, &op, 1, &st->send_tag, NULL);
    if (e != GRPC_CALL_OK) {
        if (has_auth) grpc_slice_unref(auth.value);
        LOG_ERROR("rpc: stream %s to %s: open refused (grpc error %d)", method, addr, (int)e);
        rpc_stream_free(st);
        return -EPROTO;
    }
    grpc_event ev = pluck(st->cq, &st->send_tag);
    if (has_auth) grpc_slice_unref(auth.value);
    if (!ev.success) {
        rc = stream_broken(st);
        rpc_stream_free(st);
        return rc;
    }
    *out = st;
    return 0;
}

/* Sends bb (consumed) and waits until gRPC took it. */
static int stream_send_bb(rpc_stream *st, grpc_byte_buffer *bb)
{
    grpc_op op;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_SEND_MESSAGE;
    op.data.send_message.send_message = bb;
    grpc_call_error e = grpc_call_start_batch(st->call, &op, 1, &st->send_tag, NULL);
    if (e != GRPC_CALL_OK) {
        grpc_byte_buffer_destroy(bb);
        LOG_ERROR("rpc: stream send refused (grpc error %d)", (int)e);
        return -EPROTO;
    }
    grpc_event ev = pluck(st->cq, &st->send_tag);
    grpc_byte_buffer_destroy(bb);
    return ev.success ? 0 : stream_send_broken(st);
}

int rpc_stream_send(rpc_stream *st, const uint8_t *buf, size_t len)
{
    if (!st || (!buf && len)) return -EINVAL;
    if (len > CFS_RPC_MAX_MESSAGE) return -EMSGSIZE;
    return stream_send_bb(st, rpc_bb_from_copy(buf, len));
}

int rpc_stream_send_owned(rpc_stream *st, uint8_t *buf, size_t len)
{
    int rc = !st || (!buf && len) ? -EINVAL : len > CFS_RPC_MAX_MESSAGE ? -EMSGSIZE : 0;
    if (rc < 0) {
        free(buf);
        return rc;
    }
    return stream_send_bb(st, rpc_bb_from_owned(buf, len));
}

int rpc_stream_close_send(rpc_stream *st)
{
    if (!st) return -EINVAL;
    grpc_op op;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    grpc_call_error e = grpc_call_start_batch(st->call, &op, 1, &st->close_tag, NULL);
    if (e != GRPC_CALL_OK) {
        LOG_ERROR("rpc: stream close refused (grpc error %d)", (int)e);
        return -EPROTO;
    }
    grpc_event ev = pluck(st->cq, &st->close_tag);
    return ev.success ? 0 : stream_send_broken(st);
}

static int stream_recv_one(rpc_stream *st, uint8_t **buf, size_t *len)
{
    grpc_byte_buffer *bb = NULL;
    grpc_op ops[2];
    size_t n = 0;
    memset(ops, 0, sizeof ops);
    if (!st->got_initial_md) {
        ops[n].op = GRPC_OP_RECV_INITIAL_METADATA;
        ops[n++].data.recv_initial_metadata.recv_initial_metadata = &st->init_md;
    }
    ops[n].op = GRPC_OP_RECV_MESSAGE;
    ops[n++].data.recv_message.recv_message = &bb;
    grpc_call_error e = grpc_call_start_batch(st->call, ops, n, &st->recv_tag, NULL);
    if (e != GRPC_CALL_OK) {
        LOG_ERROR("rpc: stream recv refused (grpc error %d)", (int)e);
        return -EPROTO;
    }
    st->got_initial_md = 1;
    grpc_event ev = pluck(st->cq, &st->recv_tag);
    if (!ev.success) {
        if (bb) grpc_byte_buffer_destroy(bb);
        return stream_broken(st);
    }
    if (!bb) {
        /* End of the server's messages: report its status right away if it failed. */
        int rc = stream_status(st);
        return rc < 0 ? rc : 0;
    }
    int rc = rpc_bb_to_buf(bb, buf, len);
    grpc_byte_buffer_destroy(bb);
    return rc < 0 ? rc : 1;
}

int rpc_stream_recv(rpc_stream *st, uint8_t **buf, size_t *len)
{
    if (!st || !buf || !len) return -EINVAL;
    atomic_store(&st->recv_busy, 1);
    int rc = stream_recv_one(st, buf, len);
    if (rc <= 0) atomic_store(&st->recv_ended, 1);
    atomic_store(&st->recv_busy, 0);
    return rc;
}

int rpc_stream_finish(rpc_stream *st)
{
    if (!st) return -EINVAL;
    /* gRPC completes the status only once the server's messages have been read: discard
     * the ones the caller left, unless another thread is still receiving them. */
    if (!atomic_load(&st->recv_busy)) {
        while (!atomic_load(&st->recv_ended)) {
            uint8_t *buf;
            size_t len;
            if (rpc_stream_recv(st, &buf, &len) == 1) free(buf);
        }
    }
    return stream_status(st);
}

void rpc_stream_free(rpc_stream *st)
{
    if (!st) return;
    pthread_mutex_lock(&st->status_mu);
    int done = st->status_done;
    pthread_mutex_unlock(&st->status_mu);
    if (!done) {
        grpc_call_cancel(st->call, NULL);
        (void)stream_status(st);
    }
    grpc_call_unref(st->call);
    cq_put(st->cq);
    grpc_slice_unref(st->method);
    grpc_metadata_array_destroy(&st->init_md);
    grpc_metadata_array_destroy(&st->trail_md);
    grpc_slice_unref(st->details);
    gpr_free((void *)st->error_string);
    pthread_mutex_destroy(&st->status_mu);
    free(st->addr);
    free(st->method_name);
    free(st);
}
