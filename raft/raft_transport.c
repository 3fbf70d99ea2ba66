#include "raft/raft_transport.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/errors.h"
#include "common/log.h"
#include "common/time_util.h"
#include "proto/chunkfs.pb-c.h"

#define SEND_TIMEOUT_MS 2000
#define SNAP_TIMEOUT_MS 10000
#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 1000
/* A batch carries at most this many payload bytes (the rest waits for the next call). */
#define BATCH_MAX_BYTES (8u * 1024 * 1024)

typedef struct out_msg {
    uint8_t *buf; /* packed RaftMessage */
    size_t len;
    bool snap;
    int64_t queued_ns; /* monotonic time it was queued */
} out_msg;

typedef struct peer_sender {
    raft_transport *t;
    uint64_t id;
    char addr[RAFT_ADDR_MAX];
    pthread_mutex_t mu;
    pthread_cond_t cond;
    out_msg *q; /* ring buffer */
    size_t head, count;
    size_t bytes;
    size_t dropped;
    pthread_t thread;
} peer_sender;

struct raft_transport {
    raft_transport_handlers h;
    pthread_mutex_t mu; /* peers array, self_addr */
    char self_addr[RAFT_ADDR_MAX];
    peer_sender **peers;
    size_t n_peers;
    atomic_bool stopping;
    atomic_uint_least64_t sent_batches, send_queue_ns, send_rpc_ns;
};

/* ------------------------------------------------------------------ conversions */

int raft_msg_to_pb(const raft_msg *m, Chunkfs__RaftMessage *pb, void **scratch)
{
    chunkfs__raft_message__init(pb);
    *scratch = NULL;
    pb->type = m->type;
    pb->from = m->from;
    pb->to = m->to;
    pb->term = m->term;
    pb->log_term = m->log_term;
    pb->index = m->index;
    pb->commit = m->commit;
    pb->reject = m->reject;
    pb->reject_hint = m->reject_hint;
    pb->hint_term = m->hint_term;
    pb->snap_index = m->snap_index;
    pb->snap_term = m->snap_term;
    pb->snap_conf.data = m->snap_conf;
    pb->snap_conf.len = m->snap_conf_len;
    pb->snap_offset = m->snap_offset;
    pb->snap_data.data = m->snap_data;
    pb->snap_data.len = m->snap_data_len;
    pb->snap_done = m->snap_done;
    pb->context.data = m->context;
    pb->context.len = m->context_len;
    if (m->n_entries > 0) {
        /* One allocation: the pointer array followed by the entry structs. */
        size_t n = m->n_entries;
        uint8_t *mem = malloc(n * (sizeof(Chunkfs__RaftEntry *) + sizeof(Chunkfs__RaftEntry)));
        if (!mem) return -ENOMEM;
        Chunkfs__RaftEntry **ptrs = (Chunkfs__RaftEntry **)mem;
        Chunkfs__RaftEntry *ents = (Chunkfs__RaftEntry *)(mem + n * sizeof *ptrs);
        for (size_t i = 0; i < n; i++) {
            chunkfs__raft_entry__init(&ents[i]);
            ents[i].term = m->entries[i].term;
            ents[i].index = m->entries[i].index;
            ents[i].type = m->entries[i].type;
            ents[i].data.data = m->entries[i].data;
            ents[i].data.len = m->entries[i].len;
            ptrs[i] = &ents[i];
        }
        pb->n_entries = n;
        pb->entries = ptrs;
        *scratch = mem;
    }
    return 0;
}

int raft_msg_from_pb(const Chunkfs__RaftMessage *pb, raft_msg *m)
{
    memset(m, 0, sizeof *m);
    m->type = pb->type;
    m->from = pb->from;
    m->to = pb->to;
    m->term = pb->term;
    m->log_term = pb->log_term;
    m->index = pb->index;
    m->commit = pb->commit;
    m->reject = pb->reject;
    m->reject_hint = pb->reject_hint;
    m->hint_term = pb->hint_term;
    m->snap_index = pb->snap_index;
    m->snap_term = pb->snap_term;
    m->snap_conf = pb->snap_conf.data;
    m->snap_conf_len = pb->snap_conf.len;
    m->snap_offset = pb->snap_offset;
    m->snap_data = pb->snap_data.data;
    m->snap_data_len = pb->snap_data.len;
    m->snap_done = pb->snap_done;
    m->context = pb->context.data;
    m->context_len = pb->context.len;
    if (pb->n_entries > 0) {
        m->entries = calloc(pb->n_entries, sizeof *m->entries);
        if (!m->entries) return -ENOMEM;
        for (size_t i = 0; i < pb->n_entries; i++) {
            const Chunkfs__RaftEntry *e = pb->entries[i];
            if (!e) {
                free(m->entries);
                m->entries = NULL;
                return -EINVAL;
            }
            m->entries[i].term = e->term;
            m->entries[i].index = e->index;
            m->entries[i].type = e->type;
            m->entries[i].data = e->data.data;
            m->entries[i].len = e->data.len;
        }
        m->n_entries = pb->n_entries;
    }
    return 0;
}

/* ------------------------------------------------------------------ server side */

static void deliver(raft_transport *t, const Chunkfs__RaftMessage *pb, const char *from_addr)
{
    raft_msg m;
    if (raft_msg_from_pb(pb, &m) < 0) {
        LOG_WARN("raft transport: dropping a malformed message from %s", from_addr);
        return;
    }
    t->h.on_message(t->h.arg, &m, from_addr);
    free(m.entries);
}

static int pack_ack(int err, uint8_t **resp, size_t *resp_len)
{
    Chunkfs__RaftAck ack = CHUNKFS__RAFT_ACK__INIT;
    ack.err = err;
    return rpc_pack(&ack.base, resp, resp_len);
}

static peer_sender *find_peer(raft_transport *t, uint64_t id);
static size_t varint_len(uint64_t v);
static size_t put_varint(uint8_t *p, uint64_t v);

/* Takes the regular (non-snapshot) messages queued for `id` from the head of its queue, up to
 * BATCH_MAX_BYTES, and frames them as RaftAck.msgs (field 2) into a malloc'd buffer. */
static int steal_answers(raft_transport *t, uint64_t id, uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    peer_sender *p = find_peer(t, id);
    if (!p) return 0;
    pthread_mutex_lock(&p->mu);
    size_t n = 0, bytes = 0, framed = 0;
    while (n < p->count) {
        out_msg *m = &p->q[(p->head + n) % RAFT_TRANSPORT_QUEUE_MSGS];
        if (m->snap || (n > 0 && bytes + m->len > BATCH_MAX_BYTES)) break;
        bytes += m->len;
        framed += 1 + varint_len(m->len) + m->len;
        n++;
    }
    uint8_t *buf = n ? malloc(framed) : NULL;
    if (n && !buf) {
        pthread_mutex_unlock(&p->mu);
        return -ENOMEM;
    }
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        out_msg *m = &p->q[p->head];
        buf[off++] = 0x12;
        off += put_varint(buf + off, m->len);
        memcpy(buf + off, m->buf, m->len);
        off += m->len;
        free(m->buf);
        p->head = (p->head + 1) % RAFT_TRANSPORT_QUEUE_MSGS;
        p->count--;
    }
    p->bytes -= bytes;
    pthread_mutex_unlock(&p->mu);
    *out = buf;
    *out_len = off;
    return 0;
}

static int handle_send(void *arg, const char *peer, const uint8_t *req, size_t req_len,
                       uint8_t **resp, size_t *resp_len)
{
    raft_transport *t = arg;
    Chunkfs__RaftBatch *b = chunkfs__raft_batch__unpack(NULL, req_len, req);
    if (!b) {
        LOG_WARN("raft transport: unparsable batch from %s", peer);
        return -EBADMSG;
    }
    uint64_t from = 0;
    for (size_t i = 0; i < b->n_msgs; i++) {
        if (!b->msgs[i]) continue;
        from = b->msgs[i]->from;
        deliver(t, b->msgs[i], b->from_addr ? b->from_addr : "");
    }
    chunkfs__raft_batch__free_unpacked(b, NULL);
    if (from == 0 || !t->h.wait_answers) return pack_ack(0, resp, resp_len);
    t->h.wait_answers(t->h.arg);
    /* A RaftAck with err = 0 is just its msgs field. */
    if (steal_answers(t, from, resp, resp_len) < 0) return pack_ack(0, resp, resp_len);
    return 0;
}

static int handle_snapshot(void *arg, rpc_call *call)
{
    raft_transport *t = arg;
    for (;;) {
        uint8_t *buf;
        size_t len;
        int rc = rpc_call_recv(call, &buf, &len);
        if (rc < 0) return rc;
        if (rc == 0) break;
        Chunkfs__RaftMessage *pb = chunkfs__raft_message__unpack(NULL, len, buf);
        free(buf);
        if (!pb) {
            LOG_WARN("raft transport: unparsable snapshot piece from %s", rpc_call_peer(call));
            return -EBADMSG;
        }
        deliver(t, pb, "");
        chunkfs__raft_message__free_unpacked(pb, NULL);
    }
    uint8_t *resp;
    size_t resp_len;
    int rc = pack_ack(0, &resp, &resp_len);
    if (rc < 0) return rc;
    rc = rpc_call_send(call, resp, resp_len);
    free(resp);
    return rc;
}

/* ------------------------------------------------------------------ client side */

static void sleep_ms_interruptible(peer_sender *p, int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&p->mu);
    while (!p->t->stopping) {
        if (pthread_cond_timedwait(&p->cond, &p->mu, &ts) == ETIMEDOUT) break;
    }
    pthread_mutex_unlock(&p->mu);
}

static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static size_t put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* A RaftBatch is, on the wire, field 1 (msgs) repeated, then field 2 (from_addr): the packed
 * messages are framed directly instead of unpacked and packed again. */
static int send_batch(peer_sender *p, out_msg *msgs, size_t n, const char *self)
{
    size_t self_len = strlen(self);
    size_t total = 1 + varint_len(self_len) + self_len;
    for (size_t i = 0; i < n; i++)
        total += 1 + varint_len(msgs[i].len) + msgs[i].len;
    uint8_t *buf = malloc(total);
    if (!buf) return -ENOMEM;
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        buf[off++] = 0x0a;
        off += put_varint(buf + off, msgs[i].len);
        memcpy(buf + off, msgs[i].buf, msgs[i].len);
        off += msgs[i].len;
    }
    buf[off++] = 0x12;
    off += put_varint(buf + off, self_len);
    memcpy(buf + off, self, self_len);
    off += self_len;
    uint8_t *resp = NULL;
    size_t resp_len = 0;
    int rc =
        rpc_unary(p->addr, RAFT_TRANSPORT_SEND_METHOD, buf, off, SEND_TIMEOUT_MS, &resp, &resp_len);
    free(buf);
    if (rc == 0 && resp_len > 0) {
        /* The peer's answers came back with the ack. */
        Chunkfs__RaftAck *ack = chunkfs__raft_ack__unpack(NULL, resp_len, resp);
        if (ack) {
            for (size_t i = 0; i < ack->n_msgs; i++)
                if (ack->msgs[i]) deliver(p->t, ack->msgs[i], p->addr);
            chunkfs__raft_ack__free_unpacked(ack, NULL);
            /* Act on the answers here (e.g. a leader learning of a commit) rather than waking
             * another thread for it. */
            if (p->t->h.wait_answers) p->t->h.wait_answers(p->t->h.arg);
        } else {
            LOG_WARN("raft transport: unparsable ack from %s", p->addr);
        }
    }
    free(resp);
    return rc;
}

static int send_snapshot(peer_sender *p, out_msg *msgs, size_t n)
{
    rpc_stream *st;
    int rc = rpc_stream_open(p->addr, RAFT_TRANSPORT_SNAP_METHOD, SNAP_TIMEOUT_MS, &st);
    if (rc < 0) return rc;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = rpc_stream_send(st, msgs[i].buf, msgs[i].len);
    if (rc == 0) rc = rpc_stream_close_send(st);
    if (rc == 0) {
        uint8_t *resp;
        size_t len;
        int r;
        while ((r = rpc_stream_recv(st, &resp, &len)) > 0)
            free(resp);
        rc = rpc_stream_finish(st);
    }
    rpc_stream_free(st);
    return rc;
}

static void *sender_main(void *arg)
{
    peer_sender *p = arg;
    raft_transport *t = p->t;
    int backoff = 0;
    out_msg *batch = malloc(RAFT_TRANSPORT_QUEUE_MSGS * sizeof *batch);
    if (!batch) {
        LOG_ERROR("raft transport: no memory for the sender of peer %llu",
                  (unsigned long long)p->id);
        return NULL;
    }
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (p->count == 0 && !t->stopping)
            pthread_cond_wait(&p->cond, &p->mu);
        if (t->stopping) {
            pthread_mutex_unlock(&p->mu);
            break;
        }
        /* Take a run of messages of one kind (regular or snapshot pieces), bounded in bytes. */
        size_t n = 0, bytes = 0;
        bool snap = p->q[p->head].snap;
        while (p->count > 0 && p->q[p->head].snap == snap &&
               (n == 0 || bytes + p->q[p->head].len <= BATCH_MAX_BYTES)) {
            batch[n] = p->q[p->head];
            bytes += batch[n].len;
            n++;
            p->head = (p->head + 1) % RAFT_TRANSPORT_QUEUE_MSGS;
            p->count--;
        }
        p->bytes -= bytes;
        char addr[RAFT_ADDR_MAX];
        memcpy(addr, p->addr, sizeof addr);
        pthread_mutex_unlock(&p->mu);

        char self[RAFT_ADDR_MAX];
        pthread_mutex_lock(&t->mu);
        memcpy(self, t->self_addr, sizeof self);
        pthread_mutex_unlock(&t->mu);
        int64_t t0 = cfs_mono_ns();
        int rc = snap ? send_snapshot(p, batch, n) : send_batch(p, batch, n, self);
        if (!snap) {
            int64_t t1 = cfs_mono_ns();
            atomic_fetch_add(&t->sent_batches, 1);
            if (t0 > batch[0].queued_ns)
                atomic_fetch_add(&t->send_queue_ns, (uint64_t)(t0 - batch[0].queued_ns));
            if (t1 > t0) atomic_fetch_add(&t->send_rpc_ns, (uint64_t)(t1 - t0));
        }
        for (size_t i = 0; i < n; i++)
            free(batch[i].buf);
        if (rc < 0) {
            if (backoff == 0)
                LOG_WARN("raft transport: peer %llu at %s: %s (retrying with backoff)",
                         (unsigned long long)p->id, addr, cfs_strerror(rc));
            t->h.on_fail(t->h.arg, p->id, snap);
            backoff = backoff ? backoff * 2 : BACKOFF_MIN_MS;
            if (backoff > BACKOFF_MAX_MS) backoff = BACKOFF_MAX_MS;
            sleep_ms_interruptible(p, backoff);
        } else {
            if (backoff)
                LOG_INFO("raft transport: peer %llu at %s reachable again",
                         (unsigned long long)p->id, addr);
            backoff = 0;
        }
    }
    free(batch);
    return NULL;
}

/* ------------------------------------------------------------------ public */

int raft_transport_create(rpc_server *srv, const char *self_addr, const raft_transport_handlers *h,
                          raft_transport **out)
{
    raft_transport *t = calloc(1, sizeof *t);
    if (!t) return -ENOMEM;
    t->h = *h;
    pthread_mutex_init(&t->mu, NULL);
    snprintf(t->self_addr, sizeof t->self_addr, "%s", self_addr ? self_addr : "");
    int rc = rpc_server_add_unary(srv, RAFT_TRANSPORT_SEND_METHOD, handle_send, t);
    if (rc == 0) rc = rpc_server_add_stream(srv, RAFT_TRANSPORT_SNAP_METHOD, handle_snapshot, t);
    if (rc < 0) {
        pthread_mutex_destroy(&t->mu);
        free(t);
        return rc;
    }
    *out = t;
    return 0;
}

void raft_transport_set_self_addr(raft_transport *t, const char *self_addr)
{
    pthread_mutex_lock(&t->mu);
    snprintf(t->self_addr, sizeof t->self_addr, "%s", self_addr);
    pthread_mutex_unlock(&t->mu);
}

static peer_sender *find_peer(raft_transport *t, uint64_t id)
{
    pthread_mutex_lock(&t->mu);
    peer_sender *p = NULL;
    for (size_t i = 0; i < t->n_peers; i++)
        if (t->peers[i]->id == id) p = t->peers[i];
    pthread_mutex_unlock(&t->mu);
    return p;
}

static peer_sender *get_peer(raft_transport *t, uint64_t id, const char *addr)
{
    pthread_mutex_lock(&t->mu);
    peer_sender *p = NULL;
    for (size_t i = 0; i < t->n_peers; i++)
        if (t->peers[i]->id == id) p = t->peers[i];
    if (!p && !t->stopping) {
        p = calloc(1, sizeof *p);
        peer_sender **np = realloc(t->peers, (t->n_peers + 1) * sizeof *np);
        out_msg *q = malloc(RAFT_TRANSPORT_QUEUE_MSGS * sizeof *q);
        if (!p || !np || !q) {
            free(p);
            free(q);
            if (np) t->peers = np;
            pthread_mutex_unlock(&t->mu);
            return NULL;
        }
        t->peers = np;
        p->t = t;
        p->id = id;
        p->q = q;
        snprintf(p->addr, sizeof p->addr, "%s", addr);
        pthread_mutex_init(&p->mu, NULL);
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&p->cond, &ca);
        pthread_condattr_destroy(&ca);
        if (pthread_create(&p->thread, NULL, sender_main, p) != 0) {
            pthread_cond_destroy(&p->cond);
            pthread_mutex_destroy(&p->mu);
            free(q);
            free(p);
            pthread_mutex_unlock(&t->mu);
            return NULL;
        }
        t->peers[t->n_peers++] = p;
    }
    pthread_mutex_unlock(&t->mu);
    return p;
}

int raft_transport_send(raft_transport *t, uint64_t to, const char *addr, const raft_msg *m)
{
    if (!addr || !addr[0]) return -EINVAL;
    peer_sender *p = get_peer(t, to, addr);
    if (!p) return -ENOMEM;
    Chunkfs__RaftMessage pb;
    void *scratch;
    int rc = raft_msg_to_pb(m, &pb, &scratch);
    if (rc < 0) return rc;
    out_msg om = {.len = chunkfs__raft_message__get_packed_size(&pb),
                  .snap = m->type == RAFT_MSG_SNAP,
                  .queued_ns = cfs_mono_ns()};
    om.buf = malloc(om.len ? om.len : 1);
    if (!om.buf) {
        free(scratch);
        return -ENOMEM;
    }
    chunkfs__raft_message__pack(&pb, om.buf);
    free(scratch);
    pthread_mutex_lock(&p->mu);
    if (strcmp(p->addr, addr) != 0) snprintf(p->addr, sizeof p->addr, "%s", addr);
    if (p->count >= RAFT_TRANSPORT_QUEUE_MSGS || p->bytes + om.len > RAFT_TRANSPORT_QUEUE_BYTES) {
        if (p->dropped++ % 1000 == 0)
            LOG_DEBUG("raft transport: queue to peer %llu full, dropping a message",
                      (unsigned long long)to);
        pthread_mutex_unlock(&p->mu);
        free(om.buf);
        return -ENOBUFS;
    }
    p->q[(p->head + p->count) % RAFT_TRANSPORT_QUEUE_MSGS] = om;
    p->count++;
    p->bytes += om.len;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

void raft_transport_get_timing(raft_transport *t, uint64_t *batches, uint64_t *queue_ns,
                               uint64_t *rpc_ns)
{
    *batches = atomic_load(&t->sent_batches);
    *queue_ns = atomic_load(&t->send_queue_ns);
    *rpc_ns = atomic_load(&t->send_rpc_ns);
}

void raft_transport_destroy(raft_transport *t)
{
    if (!t) return;
    pthread_mutex_lock(&t->mu);
    atomic_store(&t->stopping, true);
    pthread_mutex_unlock(&t->mu);
    for (size_t i = 0; i < t->n_peers; i++) {
        peer_sender *p = t->peers[i];
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->cond);
        pthread_mutex_unlock(&p->mu);
    }
    for (size_t i = 0; i < t->n_peers; i++) {
        peer_sender *p = t->peers[i];
        pthread_join(p->thread, NULL);
        for (size_t k = 0; k < p->count; k++)
            free(p->q[(p->head + k) % RAFT_TRANSPORT_QUEUE_MSGS].buf);
        free(p->q);
        pthread_cond_destroy(&p->cond);
        pthread_mutex_destroy(&p->mu);
        free(p);
    }
    free(t->peers);
    pthread_mutex_destroy(&t->mu);
    free(t);
}
