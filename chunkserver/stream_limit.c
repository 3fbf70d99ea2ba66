#include "chunkserver/stream_limit.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Peers with streams running: few (bounded by the handler threads), so a list will do. */
struct peer_count {
    struct peer_count *next;
    unsigned n;
    char peer[];
};

struct stream_limit {
    pthread_mutex_t mu;
    unsigned max;
    struct peer_count *peers;
};

stream_limit *stream_limit_new(unsigned max)
{
    stream_limit *sl = calloc(1, sizeof *sl);
    if (!sl) return NULL;
    pthread_mutex_init(&sl->mu, NULL);
    sl->max = max;
    return sl;
}

void stream_limit_free(stream_limit *sl)
{
    if (!sl) return;
    while (sl->peers) {
        struct peer_count *p = sl->peers;
        sl->peers = p->next;
        free(p);
    }
    pthread_mutex_destroy(&sl->mu);
    free(sl);
}

unsigned stream_limit_max(const stream_limit *sl)
{
    return sl->max;
}

static struct peer_count **find(stream_limit *sl, const char *peer)
{
    struct peer_count **pp = &sl->peers;
    while (*pp && strcmp((*pp)->peer, peer) != 0)
        pp = &(*pp)->next;
    return pp;
}

int stream_limit_enter(stream_limit *sl, const char *peer)
{
    if (sl->max == 0) return 0;
    if (!peer) peer = "";
    pthread_mutex_lock(&sl->mu);
    struct peer_count **pp = find(sl, peer);
    int rc = 0;
    if (*pp && (*pp)->n >= sl->max) {
        rc = -EBUSY;
    } else if (*pp) {
        (*pp)->n++;
    } else {
        size_t len = strlen(peer) + 1;
        struct peer_count *p = malloc(sizeof *p + len);
        if (p) {
            memcpy(p->peer, peer, len);
            p->n = 1;
            p->next = sl->peers;
            sl->peers = p;
        } else {
            rc = -ENOMEM;
        }
    }
    pthread_mutex_unlock(&sl->mu);
    return rc;
}

void stream_limit_leave(stream_limit *sl, const char *peer)
{
    if (sl->max == 0) return;
    if (!peer) peer = "";
    pthread_mutex_lock(&sl->mu);
    struct peer_count **pp = find(sl, peer);
    struct peer_count *p = *pp;
    if (p && --p->n == 0) {
        *pp = p->next;
        free(p);
    }
    pthread_mutex_unlock(&sl->mu);
}
