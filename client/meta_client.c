/* MetaService calls: leader discovery, redirects, retries with one request id. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client/fs_internal.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/rpc.h"

/* Returns a malloc'd copy of the address to try next. */
static char *pick_target(cfs_fs *fs)
{
    pthread_mutex_lock(&fs->leader_mu);
    const char *a = fs->leader ? fs->leader : fs->addrs[fs->next_addr % fs->naddrs];
    char *copy = strdup(a);
    pthread_mutex_unlock(&fs->leader_mu);
    return copy;
}

/* `target` failed or is not the leader: remember the hint, or move on to the next address. */
static void leader_moved(cfs_fs *fs, const char *target, const char *hint)
{
    pthread_mutex_lock(&fs->leader_mu);
    if (hint && hint[0] && strcmp(hint, target) != 0) {
        char *h = strdup(hint);
        if (h) {
            free(fs->leader);
            fs->leader = h;
        }
    } else if (fs->leader && strcmp(fs->leader, target) == 0) {
        free(fs->leader);
        fs->leader = NULL;
        fs->next_addr++;
    } else if (!fs->leader) {
        fs->next_addr++;
    }
    pthread_mutex_unlock(&fs->leader_mu);
}

static void leader_found(cfs_fs *fs, const char *target)
{
    pthread_mutex_lock(&fs->leader_mu);
    if (!fs->leader || strcmp(fs->leader, target) != 0) {
        char *t = strdup(target);
        if (t) {
            free(fs->leader);
            fs->leader = t;
        }
    }
    pthread_mutex_unlock(&fs->leader_mu);
}

/* Transport errors after which another metaserver may answer. */
static bool retryable_transport(int rc)
{
    return rc == -ENOTCONN || rc == -ETIMEDOUT || rc == -ECANCELED || rc == -EPROTO ||
           rc == -ENOSYS || rc == -CFS_ENOTLEADER || rc == -EAGAIN || rc == -ECONNREFUSED ||
           rc == -EHOSTUNREACH || rc == -ECONNRESET;
}

int meta_call(cfs_fs *fs, const cfs_cred *cred, Chunkfs__MetaRequest *req,
              Chunkfs__MetaResponse **resp)
{
    Chunkfs__Cred pbcred;
    cred_to_pb(cred, &pbcred);
    req->cred = &pbcred;
    req->client_id = fs->client_id;
    req->request_id = atomic_fetch_add(&fs->next_request_id, 1);
    if (resp) *resp = NULL;

    int window = fs->opt.retry_window_ms < fs->opt.op_timeout_ms ? fs->opt.retry_window_ms
                                                                 : fs->opt.op_timeout_ms;
    int64_t deadline = cfs_mono_ms() + window;
    int backoff = 25;
    int last = -ETIMEDOUT;
    for (int attempt = 0;; attempt++) {
        int64_t left = deadline - cfs_mono_ms();
        if (left <= 0) break;
        char *target = pick_target(fs);
        if (!target) return -ENOMEM;
        int tmo = fs->opt.rpc_timeout_ms < left ? fs->opt.rpc_timeout_ms : (int)left;
        if (tmo < 1) tmo = 1;
        ProtobufCMessage *raw = NULL;
        int rc = rpc_unary_pb(target, CFS_META_METHOD, &req->base,
                              &chunkfs__meta_response__descriptor, tmo, &raw);
        if (rc == 0) {
            Chunkfs__MetaResponse *r = (Chunkfs__MetaResponse *)raw;
            if (r->err == -CFS_ENOTLEADER) {
                bool new_hint =
                    r->leader_hint && r->leader_hint[0] && strcmp(r->leader_hint, target) != 0;
                LOG_DEBUG("meta %s: not leader, hint '%s'", target,
                          r->leader_hint ? r->leader_hint : "");
                leader_moved(fs, target, r->leader_hint);
                chunkfs__meta_response__free_unpacked(r, NULL);
                free(target);
                last = -ETIMEDOUT;
                /* A fresh hint is worth following at once; an election in progress is not. */
                if (new_hint && attempt % 4 != 3) continue;
            } else {
                leader_found(fs, target);
                free(target);
                int err = r->err;
                if (resp)
                    *resp = r;
                else
                    chunkfs__meta_response__free_unpacked(r, NULL);
                return err;
            }
        } else if (retryable_transport(rc)) {
            LOG_DEBUG("meta %s: %s, trying another", target, cfs_strerror(rc));
            leader_moved(fs, target, NULL);
            free(target);
            last = -ETIMEDOUT;
        } else {
            free(target);
            return rc;
        }
        left = deadline - cfs_mono_ms();
        if (left <= 0) break;
        cfs_sleep_ms(backoff < left ? backoff : (int)left);
        backoff = backoff * 2 > 500 ? 500 : backoff * 2;
    }
    return last;
}
