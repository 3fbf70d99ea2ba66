/* RPC server: cq_threads threads each drain their own completion queue and never block;
 * handler_threads threads run the (blocking) unary and streaming handlers. A handler thread
 * starts the reply batch itself; completions come back on the call's queue. */
#include "common/rpc.h"

#include "common/errors.h"
#include "common/log.h"
#include "common/rpc_internal.h"

#include <errno.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Request slots kept posted per method and per completion queue. */
#define SLOTS_UNARY 8
#define SLOTS_STREAM 4
#define SLOTS_GENERIC 2

enum tag_kind {
    TK_SLOT,         /* a registered method's request slot matched a call (or was failed) */
    TK_GENERIC_SLOT, /* the catch-all slot matched a call to an unknown method */
    TK_GENERIC_DONE, /* the UNIMPLEMENTED reply went out */
    TK_FINAL,        /* the status batch of a call completed */
    TK_RECV,         /* a stream handler's RECV_MESSAGE completed */
    TK_SEND,         /* a stream handler's SEND_MESSAGE completed */
    TK_CLOSE,        /* a stream's RECV_CLOSE_ON_SERVER completed (call over) */
    TK_SHUTDOWN,     /* grpc_server_shutdown_and_notify finished */
};

struct srv_tag {
    enum tag_kind kind;
    void *owner;
};

struct method {
    const char *name;
    void *handle;
    int streaming;
    rpc_unary_fn ufn;
    rpc_stream_fn sfn;
    void *arg;
};

struct worker {
    rpc_server *s;
    grpc_completion_queue *cq;
    pthread_t thr;
    int running;
};

struct rpc_server {
    grpc_server *gs;
    struct method *methods;
    int nmethods;
    int ncq;
    struct worker *workers;
    grpc_completion_queue *shutdown_cq;
    int nhandlers;
    int handlers_started;
    pthread_t *handlers;
    int started;

    pthread_mutex_t mu;
    pthread_cond_t work_cv; /* handler queue not empty, or handlers must exit */
    pthread_cond_t idle_cv; /* live reached 0 */
    rpc_call *qhead, *qtail;
    long live; /* posted slots + accepted calls not yet released */
    int stopping;
    int handlers_exit;
};

struct rpc_call {
    rpc_server *s;
    struct method *m;
    struct worker *w;
    grpc_call *call;
    gpr_timespec deadline;
    grpc_metadata_array req_md;
    grpc_byte_buffer *payload;
    char *peer;
    struct srv_tag slot_tag, final_tag, recv_tag, send_tag, close_tag;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    int recv_done, recv_ok;
    grpc_byte_buffer *recv_bb;
    int send_done, send_ok;
    int close_done, final_done;
    int cancelled;
    int sent_initial_md;

    /* Kept alive until the final batch completes. */
    grpc_byte_buffer *resp_bb;
    grpc_slice details;
    int has_details;
    grpc_metadata trailer;
    int has_trailer;

    rpc_call *next;
};

struct generic_call {
    rpc_server *s;
    grpc_call *call;
    grpc_call_details details;
    grpc_metadata_array md;
    grpc_slice status_details;
    int cancelled;
    struct srv_tag slot_tag, done_tag;
};

static const uint8_t k_empty[1];

static void live_add(rpc_server *s, long d)
{
    pthread_mutex_lock(&s->mu);
    s->live += d;
    if (s->live == 0) pthread_cond_broadcast(&s->idle_cv);
    pthread_mutex_unlock(&s->mu);
}

/* ------------------------------------------------------------------ slots */

static void call_free(rpc_call *c)
{
    if (c->call) grpc_call_unref(c->call);
    grpc_metadata_array_destroy(&c->req_md);
    if (c->payload) grpc_byte_buffer_destroy(c->payload);
    if (c->recv_bb) grpc_byte_buffer_destroy(c->recv_bb);
    if (c->resp_bb) grpc_byte_buffer_destroy(c->resp_bb);
    if (c->has_details) grpc_slice_unref(c->details);
    if (c->has_trailer) grpc_slice_unref(c->trailer.value);
    if (c->peer) gpr_free(c->peer);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    rpc_server *s = c->s;
    free(c);
    live_add(s, -1);
}

static int post_slot(struct worker *w, struct method *m)
{
    rpc_server *s = w->s;
    rpc_call *c = calloc(1, sizeof *c);
    if (!c) return -ENOMEM;
    c->s = s;
    c->m = m;
    c->w = w;
    grpc_metadata_array_init(&c->req_md);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    c->slot_tag = (struct srv_tag){TK_SLOT, c};
    c->final_tag = (struct srv_tag){TK_FINAL, c};
    c->recv_tag = (struct srv_tag){TK_RECV, c};
    c->send_tag = (struct srv_tag){TK_SEND, c};
    c->close_tag = (struct srv_tag){TK_CLOSE, c};
    live_add(s, 1);
    grpc_call_error e = grpc_server_request_registered_call(
        s->gs, m->handle, &c->call, &c->deadline, &c->req_md, m->streaming ? NULL : &c->payload,
        w->cq, w->cq, &c->slot_tag);
    if (e != GRPC_CALL_OK) {
        LOG_ERROR("rpc: cannot post a request slot for %s (grpc error %d)", m->name, (int)e);
        call_free(c);
        return -EPROTO;
    }
    return 0;
}

static void generic_free(struct generic_call *g)
{
    if (g->call) grpc_call_unref(g->call);
    grpc_call_details_destroy(&g->details);
    grpc_metadata_array_destroy(&g->md);
    grpc_slice_unref(g->status_details);
    rpc_server *s = g->s;
    free(g);
    live_add(s, -1);
}

static int post_generic_slot(struct worker *w)
{
    rpc_server *s = w->s;
    struct generic_call *g = calloc(1, sizeof *g);
    if (!g) return -ENOMEM;
    g->s = s;
    grpc_call_details_init(&g->details);
    grpc_metadata_array_init(&g->md);
    g->status_details = grpc_slice_from_static_string("unknown method");
    g->slot_tag = (struct srv_tag){TK_GENERIC_SLOT, g};
    g->done_tag = (struct srv_tag){TK_GENERIC_DONE, g};
    live_add(s, 1);
    grpc_call_error e =
        grpc_server_request_call(s->gs, &g->call, &g->details, &g->md, w->cq, w->cq, &g->slot_tag);
    if (e != GRPC_CALL_OK) {
        LOG_ERROR("rpc: cannot post the generic request slot (grpc error %d)", (int)e);
        generic_free(g);
        return -EPROTO;
    }
    return 0;
}

/* An unknown method: answer UNIMPLEMENTED at once (without a posted generic slot such a call
 * would hang until its deadline). Runs on the CQ thread; never blocks. */
static void generic_reply(struct worker *w, struct generic_call *g)
{
    (void)post_generic_slot(w);
    grpc_op ops[3];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[1].data.send_status_from_server.status = GRPC_STATUS_UNIMPLEMENTED;
    ops[1].data.send_status_from_server.status_details = &g->status_details;
    ops[2].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[2].data.recv_close_on_server.cancelled = &g->cancelled;
    grpc_call_error e = grpc_call_start_batch(g->call, ops, 3, &g->done_tag, NULL);
    if (e != GRPC_CALL_OK) {
        LOG_ERROR("rpc: cannot answer an unknown method (grpc error %d)", (int)e);
        generic_free(g);
    }
}

/* ------------------------------------------------------------------ CQ threads */

static void enqueue_call(rpc_server *s, rpc_call *c)
{
    pthread_mutex_lock(&s->mu);
    c->next = NULL;
    if (s->qtail)
        s->qtail->next = c;
    else
        s->qhead = c;
    s->qtail = c;
    pthread_cond_signal(&s->work_cv);
    pthread_mutex_unlock(&s->mu);
}

static void on_new_call(struct worker *w, rpc_call *c)
{
    (void)post_slot(w, c->m);
    c->peer = grpc_call_get_peer(c->call);
    if (c->m->streaming) {
        /* Outstanding for the whole call, so a vanished client cancels it. */
        grpc_op op;
        memset(&op, 0, sizeof op);
        op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
        op.data.recv_close_on_server.cancelled = &c->cancelled;
        grpc_call_error e = grpc_call_start_batch(c->call, &op, 1, &c->close_tag, NULL);
        if (e != GRPC_CALL_OK) {
            LOG_ERROR("rpc: %s: cannot watch for close (grpc error %d)", c->m->name, (int)e);
            grpc_call_cancel(c->call, NULL);
            c->close_done = 1;
        }
    }
    enqueue_call(w->s, c);
}

/* A streaming call is released once both its status batch and its close watch are done. */
static void stream_part_done(rpc_call *c, int is_final)
{
    pthread_mutex_lock(&c->mu);
    if (is_final)
        c->final_done = 1;
    else
        c->close_done = 1;
    int both = c->final_done && c->close_done;
    pthread_mutex_unlock(&c->mu);
    if (both) call_free(c);
}

static void *cq_thread(void *arg)
{
    struct worker *w = arg;
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(w->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN) break;
        if (ev.type != GRPC_OP_COMPLETE) continue;
        struct srv_tag *t = ev.tag;
        switch (t->kind) {
        case TK_SLOT: {
            rpc_call *c = t->owner;
            if (!ev.success)
                call_free(c); /* server shutting down: do not re-post */
            else
                on_new_call(w, c);
            break;
        }
        case TK_GENERIC_SLOT: {
            struct generic_call *g = t->owner;
            if (!ev.success)
                generic_free(g);
            else
                generic_reply(w, g);
            break;
        }
        case TK_GENERIC_DONE:
            generic_free(t->owner);
            break;
        case TK_FINAL: {
            rpc_call *c = t->owner;
            if (c->m->streaming)
                stream_part_done(c, 1);
            else
                call_free(c);
            break;
        }
        case TK_CLOSE:
            stream_part_done(t->owner, 0);
            break;
        case TK_RECV:
        case TK_SEND: {
            rpc_call *c = t->owner;
            pthread_mutex_lock(&c->mu);
            if (t->kind == TK_RECV) {
                c->recv_ok = ev.success;
                c->recv_done = 1;
            } else {
                c->send_ok = ev.success;
                c->send_done = 1;
            }
            pthread_cond_broadcast(&c->cv);
            pthread_mutex_unlock(&c->mu);
            break;
        }
        case TK_SHUTDOWN:
            break;
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------ handler threads */

/* Fills the status part of the final batch for `rc` (0 or -errno). Returns the op count. */
static int fill_status_op(rpc_call *c, int rc, grpc_op *op)
{
    memset(op, 0, sizeof *op);
    op->op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    op->data.send_status_from_server.status = rpc_status_from_errno(rc);
    if (rc < 0) {
        char val[16];
        snprintf(val, sizeof val, "%d", rc);
        c->details = grpc_slice_from_copied_string(cfs_strerror(rc));
        c->has_details = 1;
        c->trailer.key = grpc_slice_from_static_string(RPC_ERRNO_KEY);
        c->trailer.value = grpc_slice_from_copied_string(val);
        c->has_trailer = 1;
        op->data.send_status_from_server.status_details = &c->details;
        op->data.send_status_from_server.trailing_metadata = &c->trailer;
        op->data.send_status_from_server.trailing_metadata_count = 1;
    }
    return 1;
}

static int check_handler_rc(const rpc_call *c, int rc)
{
    if (rc > 0) {
        LOG_ERROR("rpc: handler of %s returned %d (must be 0 or -errno)", c->m->name, rc);
        return -EPROTO;
    }
    return rc;
}

static void run_unary(rpc_call *c, int stopping)
{
    uint8_t *resp = NULL;
    size_t resp_len = 0;
    int rc;
    if (stopping) {
        rc = -ESHUTDOWN;
    } else {
        uint8_t *req = NULL;
        size_t req_len = 0;
        rc = rpc_auth_server_check(c->m->name, &c->req_md, c->peer);
        if (rc == 0) rc = c->payload ? rpc_bb_to_buf(c->payload, &req, &req_len) : 0;
        if (rc == 0) {
            rc = c->m->ufn(c->m->arg, c->peer ? c->peer : "", req ? req : k_empty, req_len, &resp,
                           &resp_len);
            rc = check_handler_rc(c, rc);
        }
        free(req);
    }
    if (rc == 0 && resp_len > CFS_RPC_MAX_MESSAGE) {
        LOG_ERROR("rpc: %s: response of %zu bytes is over the limit", c->m->name, resp_len);
        rc = -EMSGSIZE;
    }
    if (rc < 0) {
        free(resp);
        resp = NULL;
        resp_len = 0;
    }
    grpc_op ops[4];
    int n = 0;
    memset(ops, 0, sizeof ops);
    ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
    if (rc == 0) {
        c->resp_bb = rpc_bb_from_owned(resp, resp_len);
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n++].data.send_message.send_message = c->resp_bb;
    }
    n += fill_status_op(c, rc, &ops[n]);
    ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[n++].data.recv_close_on_server.cancelled = &c->cancelled;
    grpc_call_error e = grpc_call_start_batch(c->call, ops, (size_t)n, &c->final_tag, NULL);
    if (e != GRPC_CALL_OK) {
        LOG_ERROR("rpc: %s: cannot send the reply (grpc error %d)", c->m->name, (int)e);
        call_free(c);
    }
}

static void run_stream(rpc_call *c, int stopping)
{
    int rc = stopping ? -ESHUTDOWN : rpc_auth_server_check(c->m->name, &c->req_md, c->peer);
    if (rc == 0) rc = check_handler_rc(c, c->m->sfn(c->m->arg, c));
    grpc_op ops[2];
    int n = 0;
    memset(ops, 0, sizeof ops);
    if (!c->sent_initial_md) ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
    n += fill_status_op(c, rc, &ops[n]);
    grpc_call_error e = grpc_call_start_batch(c->call, ops, (size_t)n, &c->final_tag, NULL);
    if (e != GRPC_CALL_OK) {
        LOG_ERROR("rpc: %s: cannot send the status (grpc error %d)", c->m->name, (int)e);
        grpc_call_cancel(c->call, NULL);
        stream_part_done(c, 1);
    }
    /* c may be gone now: the CQ thread frees it once both parts are done. */
}

static void *handler_thread(void *arg)
{
    rpc_server *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (!s->qhead && !s->handlers_exit)
            pthread_cond_wait(&s->work_cv, &s->mu);
        if (!s->qhead) {
            pthread_mutex_unlock(&s->mu);
            break;
        }
        rpc_call *c = s->qhead;
        s->qhead = c->next;
        if (!s->qhead) s->qtail = NULL;
        int stopping = s->stopping;
        pthread_mutex_unlock(&s->mu);
        if (c->m->streaming)
            run_stream(c, stopping);
        else
            run_unary(c, stopping);
    }
    return NULL;
}

/* ------------------------------------------------------------------ streaming calls */

static int call_broken_err(const rpc_call *c)
{
    return rpc_call_deadline_left_ms(c) <= 0 ? -ETIMEDOUT : -ECANCELED;
}

int rpc_call_recv(rpc_call *c, uint8_t **buf, size_t *len)
{
    grpc_op op;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_RECV_MESSAGE;
    op.data.recv_message.recv_message = &c->recv_bb;
    pthread_mutex_lock(&c->mu);
    c->recv_done = 0;
    pthread_mutex_unlock(&c->mu);
    grpc_call_error e = grpc_call_start_batch(c->call, &op, 1, &c->recv_tag, NULL);
    if (e != GRPC_CALL_OK) {
        LOG_ERROR("rpc: %s: recv batch refused (grpc error %d)", c->m->name, (int)e);
        return -EPROTO;
    }
    pthread_mutex_lock(&c->mu);
    while (!c->recv_done)
        pthread_cond_wait(&c->cv, &c->mu);
    int ok = c->recv_ok;
    grpc_byte_buffer *bb = c->recv_bb;
    c->recv_bb = NULL;
    pthread_mutex_unlock(&c->mu);
    if (!ok) {
        if (bb) grpc_byte_buffer_destroy(bb);
        return call_broken_err(c);
    }
    if (!bb) {
        /* A cancelled call also ends the message stream with "success"; tell them apart. */
        return grpc_call_failed_before_recv_message(c->call) ? call_broken_err(c) : 0;
    }
    int rc = rpc_bb_to_buf(bb, buf, len);
    grpc_byte_buffer_destroy(bb);
    return rc < 0 ? rc : 1;
}

/* Sends bb (consumed) and waits until gRPC took it. */
static int call_send_bb(rpc_call *c, grpc_byte_buffer *bb)
{
    grpc_op ops[2];
    int n = 0;
    memset(ops, 0, sizeof ops);
    if (!c->sent_initial_md) ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n++].data.send_message.send_message = bb;
    pthread_mutex_lock(&c->mu);
    c->send_done = 0;
    pthread_mutex_unlock(&c->mu);
    grpc_call_error e = grpc_call_start_batch(c->call, ops, (size_t)n, &c->send_tag, NULL);
    if (e != GRPC_CALL_OK) {
        grpc_byte_buffer_destroy(bb);
        LOG_ERROR("rpc: %s: send batch refused (grpc error %d)", c->m->name, (int)e);
        return -EPROTO;
    }
    c->sent_initial_md = 1;
    pthread_mutex_lock(&c->mu);
    while (!c->send_done)
        pthread_cond_wait(&c->cv, &c->mu);
    int ok = c->send_ok;
    pthread_mutex_unlock(&c->mu);
    grpc_byte_buffer_destroy(bb);
    return ok ? 0 : call_broken_err(c);
}

int rpc_call_send(rpc_call *c, const uint8_t *buf, size_t len)
{
    if (len > CFS_RPC_MAX_MESSAGE) return -EMSGSIZE;
    return call_send_bb(c, rpc_bb_from_copy(buf, len));
}

int rpc_call_send_owned(rpc_call *c, uint8_t *buf, size_t len)
{
    if (len > CFS_RPC_MAX_MESSAGE) {
        free(buf);
        return -EMSGSIZE;
    }
    return call_send_bb(c, rpc_bb_from_owned(buf, len));
}

const char *rpc_call_peer(const rpc_call *c)
{
    return c->peer ? c->peer : "";
}

int64_t rpc_call_deadline_left_ms(const rpc_call *c)
{
    if (c->deadline.tv_sec == INT64_MAX) return INT64_MAX;
    gpr_timespec dl = gpr_convert_clock_type(c->deadline, GPR_CLOCK_MONOTONIC);
    gpr_timespec left = gpr_time_sub(dl, gpr_now(GPR_CLOCK_MONOTONIC));
    return (int64_t)left.tv_sec * 1000 + left.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ lifecycle */

rpc_server *rpc_server_create(const rpc_server_opts *opts)
{
    rpc_global_init();
    rpc_server *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->ncq = opts && opts->cq_threads > 0 ? opts->cq_threads : 1;
    s->nhandlers = opts && opts->handler_threads > 0 ? opts->handler_threads : 16;
    s->workers = calloc((size_t)s->ncq, sizeof *s->workers);
    s->handlers = calloc((size_t)s->nhandlers, sizeof *s->handlers);
    if (!s->workers || !s->handlers) {
        free(s->workers);
        free(s->handlers);
        free(s);
        return NULL;
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->work_cv, NULL);
    pthread_cond_init(&s->idle_cv, NULL);
    grpc_arg args[RPC_MAX_ARGS];
    grpc_channel_args ca = {rpc_fill_args(args, 1), args};
    s->gs = grpc_server_create(&ca, NULL);
    for (int i = 0; i < s->ncq; i++) {
        s->workers[i].s = s;
        s->workers[i].cq = grpc_completion_queue_create_for_next(NULL);
        grpc_server_register_completion_queue(s->gs, s->workers[i].cq, NULL);
    }
    /* Not registered with the server: gRPC spreads new connections over registered queues,
     * and one that nobody polls until shutdown left ~1 in 4 first calls failing. Shutdown
     * notification does not need a registered queue. */
    s->shutdown_cq = grpc_completion_queue_create_for_next(NULL);
    return s;
}

static int add_method(rpc_server *s, const char *method, int streaming, rpc_unary_fn ufn,
                      rpc_stream_fn sfn, void *arg)
{
    if (!s || !method || method[0] != '/' || s->started) return -EINVAL;
    for (int i = 0; i < s->nmethods; i++)
        if (strcmp(s->methods[i].name, method) == 0) return -EEXIST;
    struct method *nm = realloc(s->methods, (size_t)(s->nmethods + 1) * sizeof *nm);
    if (!nm) return -ENOMEM;
    s->methods = nm;
    void *h = grpc_server_register_method(
        s->gs, method, NULL,
        streaming ? GRPC_SRM_PAYLOAD_NONE : GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
    if (!h) return -EEXIST;
    s->methods[s->nmethods++] = (struct method){method, h, streaming, ufn, sfn, arg};
    return 0;
}

int rpc_server_add_unary(rpc_server *s, const char *method, rpc_unary_fn fn, void *arg)
{
    if (!fn) return -EINVAL;
    return add_method(s, method, 0, fn, NULL, arg);
}

int rpc_server_add_stream(rpc_server *s, const char *method, rpc_stream_fn fn, void *arg)
{
    if (!fn) return -EINVAL;
    return add_method(s, method, 1, NULL, fn, arg);
}

int rpc_server_start(rpc_server *s, const char *addr)
{
    if (!s || !addr || s->started) return -EINVAL;
    grpc_server_credentials *creds = NULL;
    int rc = rpc_security_server_creds(&creds);
    if (rc < 0) return rc;
    int port = grpc_server_add_http2_port(s->gs, addr, creds);
    grpc_server_credentials_release(creds);
    if (port <= 0) {
        LOG_ERROR("rpc: cannot listen on %s (address in use or invalid)", addr);
        return -EADDRINUSE;
    }
    grpc_server_start(s->gs);
    s->started = 1;
    for (int i = 0; i < s->ncq; i++) {
        struct worker *w = &s->workers[i];
        for (int m = 0; m < s->nmethods; m++) {
            int k = s->methods[m].streaming ? SLOTS_STREAM : SLOTS_UNARY;
            for (int j = 0; j < k; j++)
                if (post_slot(w, &s->methods[m]) < 0) return -EPROTO;
        }
        for (int j = 0; j < SLOTS_GENERIC; j++)
            if (post_generic_slot(w) < 0) return -EPROTO;
    }
    for (int i = 0; i < s->nhandlers; i++) {
        int e = pthread_create(&s->handlers[i], NULL, handler_thread, s);
        if (e) return -e;
        s->handlers_started++;
    }
    for (int i = 0; i < s->ncq; i++) {
        int e = pthread_create(&s->workers[i].thr, NULL, cq_thread, &s->workers[i]);
        if (e) return -e;
        s->workers[i].running = 1;
    }
    return port;
}

static void drain_and_destroy(grpc_completion_queue *cq)
{
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
           GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(cq);
}

void rpc_server_destroy(rpc_server *s)
{
    if (!s) return;
    struct srv_tag shutdown_tag = {TK_SHUTDOWN, NULL};
    pthread_mutex_lock(&s->mu);
    s->stopping = 1;
    pthread_mutex_unlock(&s->mu);
    grpc_server_shutdown_and_notify(s->gs, s->shutdown_cq, &shutdown_tag);
    grpc_server_cancel_all_calls(s->gs);
    for (;;) {
        grpc_event ev =
            grpc_completion_queue_next(s->shutdown_cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type == GRPC_OP_COMPLETE && ev.tag == &shutdown_tag) break;
    }
    /* The shutdown tag does not mean our calls are finished: a cancelled stream's handler may
     * still start a batch. Shutting the queues down before every call is released aborts. */
    pthread_mutex_lock(&s->mu);
    while (s->live > 0 && s->ncq > 0 && s->workers[0].running)
        pthread_cond_wait(&s->idle_cv, &s->mu);
    s->handlers_exit = 1;
    pthread_cond_broadcast(&s->work_cv);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < s->handlers_started; i++)
        pthread_join(s->handlers[i], NULL);
    for (int i = 0; i < s->ncq; i++) {
        if (s->workers[i].running) {
            grpc_completion_queue_shutdown(s->workers[i].cq);
            pthread_join(s->workers[i].thr, NULL);
        }
    }
    grpc_server_destroy(s->gs);
    for (int i = 0; i < s->ncq; i++) {
        if (s->workers[i].running)
            grpc_completion_queue_destroy(s->workers[i].cq);
        else
            drain_and_destroy(s->workers[i].cq);
    }
    drain_and_destroy(s->shutdown_cq);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->work_cv);
    pthread_cond_destroy(&s->idle_cv);
    free(s->methods);
    free(s->handlers);
    free(s->workers);
    free(s);
}
