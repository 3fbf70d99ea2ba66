#include "chunkserver/scrubber.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "common/errors.h"
#include "common/log.h"

#define STEP (1024u * 1024) /* bytes checked per store call (the chunk lock is held that long) */

struct scrubber {
    struct scrubber_opts opts;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    struct scrubber_stats stats;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sleeps `sec` seconds unless asked to stop; returns true when stopping. */
static bool pause_for(scrubber *s, double sec)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (sec > 0) {
        long long ns = (long long)(sec * 1e9);
        ts.tv_sec += (time_t)(ns / 1000000000LL);
        ts.tv_nsec += (long)(ns % 1000000000LL);
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
    }
    pthread_mutex_lock(&s->mu);
    while (!s->stop && sec > 0 && pthread_cond_timedwait(&s->cv, &s->mu, &ts) == 0)
        ;
    bool stop = s->stop;
    pthread_mutex_unlock(&s->mu);
    return stop;
}

static void count(scrubber *s, uint64_t chunks, uint64_t bytes, uint64_t corrupt)
{
    pthread_mutex_lock(&s->mu);
    s->stats.chunks += chunks;
    s->stats.bytes += bytes;
    s->stats.corrupt += corrupt;
    pthread_mutex_unlock(&s->mu);
}

/* Checks one replica; returns true when stopping. The rate is kept over the whole pass:
 * after each step, sleep until `done` bytes are due. */
static bool scrub_one(scrubber *s, uint64_t id, double t0, uint64_t *done)
{
    double rate = s->opts.rate_mib_s * 1024 * 1024;
    for (uint64_t off = 0;; off += STEP) {
        ssize_t n = chunk_store_verify(s->opts.store, id, off, STEP);
        if (n == -CFS_ECORRUPT) {
            LOG_ERROR("scrubber: chunk %016" PRIx64 " corrupt near offset %" PRIu64
                      ": quarantined and reported",
                      id, off);
            count(s, 1, 0, 1);
            return false;
        }
        if (n <= 0) {
            if (n < 0 && n != -ENOENT)
                LOG_WARN("scrubber: chunk %016" PRIx64 ": %s", id, cfs_strerror((int)n));
            count(s, n == 0 ? 1 : 0, 0, 0);
            return false; /* end of replica, or it went away meanwhile */
        }
        *done += (uint64_t)n;
        count(s, 0, (uint64_t)n, 0);
        double due = t0 + (double)*done / rate;
        if (pause_for(s, due - now_s())) return true;
        if ((size_t)n < STEP) {
            count(s, 1, 0, 0);
            return false;
        }
    }
}

static void *scrub_main(void *arg)
{
    scrubber *s = arg;
    if (pause_for(s, s->opts.start_delay_ms / 1000.0)) return NULL;
    for (;;) {
        struct chunk_replica_info *list;
        size_t n;
        if (chunk_store_list(s->opts.store, &list, &n) == 0) {
            double t0 = now_s();
            uint64_t done = 0;
            bool stop = false;
            for (size_t i = 0; i < n && !stop; i++)
                stop = scrub_one(s, list[i].chunk_id, t0, &done);
            free(list);
            if (stop) return NULL;
            pthread_mutex_lock(&s->mu);
            s->stats.passes++;
            pthread_mutex_unlock(&s->mu);
            LOG_DEBUG("scrubber: pass done, %zu replicas, %" PRIu64 " bytes", n, done);
        }
        if (pause_for(s, s->opts.pass_interval_ms / 1000.0)) return NULL;
    }
}

int scrubber_start(const struct scrubber_opts *opts, scrubber **out)
{
    if (!opts || !opts->store) return -EINVAL;
    scrubber *s = calloc(1, sizeof *s);
    if (!s) return -ENOMEM;
    s->opts = *opts;
    if (s->opts.rate_mib_s <= 0) s->opts.rate_mib_s = 8;
    if (s->opts.pass_interval_ms <= 0) s->opts.pass_interval_ms = 3600000;
    if (s->opts.start_delay_ms < 0) s->opts.start_delay_ms = 0;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    int rc = pthread_create(&s->thread, NULL, scrub_main, s);
    if (rc != 0) {
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
        free(s);
        return -rc;
    }
    *out = s;
    return 0;
}

void scrubber_stop(scrubber *s)
{
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

void scrubber_get_stats(scrubber *s, struct scrubber_stats *out)
{
    pthread_mutex_lock(&s->mu);
    *out = s->stats;
    pthread_mutex_unlock(&s->mu);
}
