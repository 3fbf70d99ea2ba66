#include "chunkserver/chain_writer.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "chunkserver/chunk_client.h"
#include "common/log.h"
#include "common/errors.h"
#include "common/rpc.h"
#include "proto/chunkfs.pb-c.h"

#define QUEUE_CAP 8      /* messages (<= 1 MiB each) in flight towards the downstream */
#define POOL_IDLE_MAX 16 /* sender threads kept waiting for the next stream */

struct qitem {
    uint8_t *buf;
    size_t len;
};

struct chain_writer {
    rpc_stream *st;
    struct chain_writer *next_job; /* in the pool's queue */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct qitem q[QUEUE_CAP];
    size_t head, count;
    bool closing, abort, done;
    bool failed; /* read unlocked by chain_writer_failed: atomic accesses */
    int send_err;
    /* results, valid once done */
    int transport_err;
    int resp_err;
    char *resp_failed;
};

static void drop_queue(chain_writer *w)
{
    while (w->count > 0) {
        free(w->q[w->head].buf);
        w->head = (w->head + 1) % QUEUE_CAP;
        w->count--;
    }
}

/* Runs one stream to its end; `w` is not touched once done is set (finish frees it). */
static void run_sender(chain_writer *w)
{
    for (;;) {
        pthread_mutex_lock(&w->mu);
        while (w->count == 0 && !w->closing)
            pthread_cond_wait(&w->cv, &w->mu);
        if (w->count == 0 || w->abort) {
            pthread_mutex_unlock(&w->mu);
            break;
        }
        struct qitem it = w->q[w->head];
        w->head = (w->head + 1) % QUEUE_CAP;
        w->count--;
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
        int rc = rpc_stream_send_owned(w->st, it.buf, it.len);
        if (rc < 0) {
            pthread_mutex_lock(&w->mu);
            w->send_err = rc;
            __atomic_store_n(&w->failed, true, __ATOMIC_RELEASE);
            drop_queue(w);
            pthread_cond_broadcast(&w->cv);
            pthread_mutex_unlock(&w->mu);
            break;
        }
    }
    if (!__atomic_load_n(&w->failed, __ATOMIC_ACQUIRE)) rpc_stream_close_send(w->st);
    /* Even after a failed send the downstream may have answered (it ended the call early
     * with a reply naming the replica that failed further down). */
    uint8_t *m = NULL;
    size_t mlen = 0;
    int r = rpc_stream_recv(w->st, &m, &mlen);
    int status = rpc_stream_finish(w->st);
    int transport = 0, resp_err = 0;
    char *failed = NULL;
    if (r == 1) {
        Chunkfs__WriteResp *resp = chunkfs__write_resp__unpack(NULL, mlen, m);
        if (!resp) {
            transport = -EBADMSG;
        } else {
            resp_err = resp->err;
            if (resp->failed_address && resp->failed_address[0])
                failed = strdup(resp->failed_address);
            chunkfs__write_resp__free_unpacked(resp, NULL);
        }
        free(m);
    } else {
        transport = r < 0 ? r : status < 0 ? status : w->send_err < 0 ? w->send_err : -EPROTO;
    }
    pthread_mutex_lock(&w->mu);
    w->transport_err = transport;
    w->resp_err = resp_err;
    w->resp_failed = failed;
    w->done = true;
    __atomic_store_n(&w->failed, transport < 0 || resp_err < 0 || w->send_err < 0,
                     __ATOMIC_RELEASE);
    drop_queue(w);
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* Sender threads are reused across streams: a small write would otherwise pay a thread
 * creation (and exit) on every replica of its chain. A stream goes to an idle thread when
 * there is one (the dispatcher reserves it by decrementing pool_idle), else to a new one;
 * up to POOL_IDLE_MAX threads wait for work, more exit. */
static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cv = PTHREAD_COND_INITIALIZER;
static chain_writer *pool_head, *pool_tail;
static unsigned pool_idle;

static void *pool_thread(void *arg)
{
    chain_writer *w = arg;
    for (;;) {
        run_sender(w);
        pthread_mutex_lock(&pool_mu);
        if (pool_idle >= POOL_IDLE_MAX) {
            pthread_mutex_unlock(&pool_mu);
            return NULL;
        }
        pool_idle++;
        while (!pool_head)
            pthread_cond_wait(&pool_cv, &pool_mu);
        w = pool_head;
        pool_head = w->next_job;
        if (!pool_head) pool_tail = NULL;
        pthread_mutex_unlock(&pool_mu);
    }
}

/* Hands `w` to an idle sender thread or starts one. 0 or -errno of pthread_create. */
static int pool_dispatch(chain_writer *w)
{
    pthread_mutex_lock(&pool_mu);
    if (pool_idle > 0) {
        pool_idle--;
        w->next_job = NULL;
        if (pool_tail)
            pool_tail->next_job = w;
        else
            pool_head = w;
        pool_tail = w;
        pthread_cond_signal(&pool_cv);
        pthread_mutex_unlock(&pool_mu);
        return 0;
    }
    pthread_mutex_unlock(&pool_mu);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    int rc = pthread_create(&t, &attr, pool_thread, w);
    pthread_attr_destroy(&attr);
    return -rc;
}

int chain_writer_start(const char *addr, int timeout_ms, chain_writer **out)
{
    chain_writer *w = calloc(1, sizeof *w);
    if (!w) return -ENOMEM;
    int rc = rpc_stream_open(addr, CHUNK_METHOD_WRITE, timeout_ms, &w->st);
    if (rc < 0) {
        free(w);
        return rc;
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    rc = pool_dispatch(w);
    if (rc < 0) {
        rpc_stream_free(w->st);
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        free(w);
        return rc;
    }
    *out = w;
    return 0;
}

int chain_writer_push(chain_writer *w, uint8_t *buf, size_t len)
{
    pthread_mutex_lock(&w->mu);
    while (w->count == QUEUE_CAP && !w->done && w->send_err == 0)
        pthread_cond_wait(&w->cv, &w->mu);
    if (w->done || w->send_err < 0) {
        int rc = w->send_err < 0 ? w->send_err : -EPIPE;
        pthread_mutex_unlock(&w->mu);
        free(buf);
        return rc;
    }
    w->q[(w->head + w->count) % QUEUE_CAP] = (struct qitem){buf, len};
    w->count++;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

bool chain_writer_failed(chain_writer *w)
{
    return __atomic_load_n(&w->failed, __ATOMIC_ACQUIRE);
}

void chain_writer_end_input(chain_writer *w)
{
    pthread_mutex_lock(&w->mu);
    w->closing = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

int chain_writer_finish(chain_writer *w, bool abort, int *err, char **failed_address)
{
    pthread_mutex_lock(&w->mu);
    w->closing = true;
    if (abort) {
        w->abort = true;
        drop_queue(w);
    }
    pthread_cond_broadcast(&w->cv);
    while (!w->done)
        pthread_cond_wait(&w->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
    rpc_stream_free(w->st);
    int rc = w->transport_err;
    *err = w->resp_err;
    *failed_address = w->resp_failed;
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
    return rc;
}
