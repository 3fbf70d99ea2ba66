/* Open handle registry and background renewal of write leases. */
#include <errno.h>
#include <stdlib.h>

#include "client/fs_internal.h"
#include "common/errors.h"
#include "common/log.h"

#define RENEW_BATCH 64

static int renew_interval_ms(const cfs_file *f)
{
    uint32_t ms = f->lease_ms ? f->lease_ms : 15000;
    return (int)(ms / 3 ? ms / 3 : 1);
}

static int renew(cfs_file *f)
{
    Chunkfs__MetaRequest req = CHUNKFS__META_REQUEST__INIT;
    Chunkfs__RenewLeaseReq op = CHUNKFS__RENEW_LEASE_REQ__INIT;
    op.ino = f->ino;
    op.lease_id = f->lease_id;
    req.op_case = CHUNKFS__META_REQUEST__OP_RENEW_LEASE;
    req.renew_lease = &op;
    return meta_call(f->fs, &f->cred, &req, NULL);
}

static void *lease_main(void *arg)
{
    cfs_fs *fs = arg;
    pthread_mutex_lock(&fs->files_mu);
    while (!fs->stopping) {
        int64_t now = cfs_mono_ms();
        int64_t wake = now + 1000;
        cfs_file *due[RENEW_BATCH];
        int ndue = 0;
        for (cfs_file *f = fs->files; f; f = f->next) {
            if (!f->writable) continue;
            if (f->next_renew_ms <= now && ndue < RENEW_BATCH) {
                f->refs++;
                due[ndue++] = f;
            } else if (f->next_renew_ms < wake) {
                wake = f->next_renew_ms;
            }
        }
        if (ndue == 0) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            int64_t ms = wake - now;
            ts.tv_sec += ms / 1000;
            ts.tv_nsec += (ms % 1000) * 1000000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&fs->files_cv, &fs->files_mu, &ts);
            continue;
        }
        pthread_mutex_unlock(&fs->files_mu);
        for (int i = 0; i < ndue; i++) {
            cfs_file *f = due[i];
            int rc = renew(f);
            int64_t next = cfs_mono_ms() + renew_interval_ms(f);
            if (rc == -CFS_ELEASE || rc == -ENOENT || rc == -EPERM || rc == -EBADF) {
                LOG_ERROR("inode %llu: write lease lost: %s", (unsigned long long)f->ino,
                          cfs_strerror(rc));
                pthread_mutex_lock(&f->mu);
                if (f->err == 0) f->err = -CFS_ELEASE;
                pthread_cond_broadcast(&f->cv);
                pthread_mutex_unlock(&f->mu);
            } else if (rc < 0) {
                /* Transient (no leader right now): try again soon, within the lease. */
                LOG_WARN("inode %llu: lease renewal: %s", (unsigned long long)f->ino,
                         cfs_strerror(rc));
                next = cfs_mono_ms() + 500;
            }
            pthread_mutex_lock(&fs->files_mu);
            f->next_renew_ms = next;
            f->refs--;
            pthread_cond_broadcast(&fs->files_cv);
            pthread_mutex_unlock(&fs->files_mu);
        }
        pthread_mutex_lock(&fs->files_mu);
    }
    pthread_mutex_unlock(&fs->files_mu);
    return NULL;
}

int lease_start(cfs_fs *fs)
{
    if (pthread_create(&fs->lease_thread, NULL, lease_main, fs) != 0) return -EAGAIN;
    fs->lease_thread_started = true;
    return 0;
}

void lease_stop(cfs_fs *fs)
{
    pthread_mutex_lock(&fs->files_mu);
    fs->stopping = true;
    pthread_cond_broadcast(&fs->files_cv);
    pthread_mutex_unlock(&fs->files_mu);
    if (fs->lease_thread_started) pthread_join(fs->lease_thread, NULL);
    fs->lease_thread_started = false;
}

void lease_register(cfs_file *f)
{
    cfs_fs *fs = f->fs;
    pthread_mutex_lock(&fs->files_mu);
    f->next_renew_ms = cfs_mono_ms() + renew_interval_ms(f);
    f->next = fs->files;
    fs->files = f;
    f->registered = true;
    pthread_cond_broadcast(&fs->files_cv);
    pthread_mutex_unlock(&fs->files_mu);
}

void lease_unregister(cfs_file *f)
{
    cfs_fs *fs = f->fs;
    pthread_mutex_lock(&fs->files_mu);
    if (f->registered) {
        for (cfs_file **pp = &fs->files; *pp; pp = &(*pp)->next) {
            if (*pp == f) {
                *pp = f->next;
                break;
            }
        }
        f->registered = false;
    }
    while (f->refs > 0)
        pthread_cond_wait(&fs->files_cv, &fs->files_mu);
    pthread_mutex_unlock(&fs->files_mu);
}

cfs_file *lease_find_writer_locked(cfs_fs *fs, uint64_t ino)
{
    for (cfs_file *f = fs->files; f; f = f->next)
        if (f->writable && f->ino == ino) return f;
    return NULL;
}

cfs_file *lease_get_writer(cfs_fs *fs, uint64_t ino)
{
    pthread_mutex_lock(&fs->files_mu);
    cfs_file *f = lease_find_writer_locked(fs, ino);
    if (f) f->refs++;
    pthread_mutex_unlock(&fs->files_mu);
    return f;
}

void lease_put(cfs_file *f)
{
    cfs_fs *fs = f->fs;
    pthread_mutex_lock(&fs->files_mu);
    f->refs--;
    pthread_cond_broadcast(&fs->files_cv);
    pthread_mutex_unlock(&fs->files_mu);
}
