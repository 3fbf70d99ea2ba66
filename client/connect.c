/* Connection setup and teardown. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/fs_internal.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/rpc.h"
#include "common/security_opts.h"

void cfs_options_init(cfs_options *o)
{
    o->op_timeout_ms = 30000;
    o->retry_window_ms = 20000;
    o->rpc_timeout_ms = 5000;
    o->readahead_bytes = 8u << 20;
    o->write_behind_bytes = 16u << 20;
    o->write_streams = 4;
    o->secret_file = o->tls_ca = o->tls_cert = o->tls_key = NULL;
}

static int parse_addrs(cfs_fs *fs, const char *list)
{
    char *copy = strdup(list);
    if (!copy) return -ENOMEM;
    int rc = 0;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        size_t n = strlen(tok);
        while (n && tok[n - 1] == ' ')
            tok[--n] = 0;
        const char *colon = strrchr(tok, ':');
        if (n == 0 || !colon || colon == tok || colon[1] == 0 || strlen(colon + 1) > 5 ||
            strspn(colon + 1, "0123456789") != strlen(colon + 1)) {
            rc = -EINVAL;
            break;
        }
        char **na = realloc(fs->addrs, (fs->naddrs + 1) * sizeof(*na));
        if (!na) {
            rc = -ENOMEM;
            break;
        }
        fs->addrs = na;
        fs->addrs[fs->naddrs] = strdup(tok);
        if (!fs->addrs[fs->naddrs]) {
            rc = -ENOMEM;
            break;
        }
        fs->naddrs++;
    }
    free(copy);
    if (rc == 0 && fs->naddrs == 0) rc = -EINVAL;
    return rc;
}

static uint64_t random_client_id(void)
{
    uint64_t id = 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (read(fd, &id, sizeof(id)) != (ssize_t)sizeof(id)) id = 0;
        close(fd);
    }
    if (id == 0) id = ((uint64_t)getpid() << 32) ^ (uint64_t)cfs_real_ns();
    return id ? id : 1;
}

static void free_fs(cfs_fs *fs)
{
    for (size_t i = 0; i < fs->naddrs; i++)
        free(fs->addrs[i]);
    free(fs->addrs);
    free(fs->leader);
    pthread_mutex_destroy(&fs->leader_mu);
    pthread_mutex_destroy(&fs->files_mu);
    pthread_cond_destroy(&fs->files_cv);
    free(fs);
}

int cfs_connect(const char *meta_addrs, const cfs_options *opts, cfs_fs **out)
{
    if (!meta_addrs || !out) return -EINVAL;
    cfs_fs *fs = calloc(1, sizeof(*fs));
    if (!fs) return -ENOMEM;
    if (opts)
        fs->opt = *opts;
    else
        cfs_options_init(&fs->opt);
    if (fs->opt.op_timeout_ms <= 0 || fs->opt.retry_window_ms <= 0 || fs->opt.rpc_timeout_ms <= 0 ||
        fs->opt.write_streams <= 0) {
        free(fs);
        return -EINVAL;
    }
    if (fs->opt.write_behind_bytes < (1u << 20)) fs->opt.write_behind_bytes = 1u << 20;
    pthread_mutex_init(&fs->leader_mu, NULL);
    pthread_mutex_init(&fs->files_mu, NULL);
    /* The lease thread's timed waits are computed on CLOCK_MONOTONIC (a default condvar
     * waits on the wall clock, which made every wait expire at once: a busy loop). */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&fs->files_cv, &ca);
    pthread_condattr_destroy(&ca);
    int rc = parse_addrs(fs, meta_addrs);
    if (rc < 0) {
        free_fs(fs);
        return rc;
    }
    fs->client_id = random_client_id();
    atomic_init(&fs->next_request_id, 1);
    atomic_init(&fs->next_pick, fs->client_id);
    /* Spread first contacts of many clients over the group. */
    fs->next_addr = (size_t)(fs->client_id % fs->naddrs);
    rpc_global_init();
    cfs_security_opts so = {fs->opt.secret_file, fs->opt.tls_ca, fs->opt.tls_cert, fs->opt.tls_key,
                            false};
    cfs_security_from_env(&so);
    char err[512];
    rc = cfs_security_apply(&so, false, err, sizeof err);
    /* The option strings belong to the caller and are not kept. */
    fs->opt.secret_file = fs->opt.tls_ca = fs->opt.tls_cert = fs->opt.tls_key = NULL;
    if (rc < 0) {
        LOG_ERROR("%s", err);
        free_fs(fs);
        return rc;
    }
    rc = write_pool_create(fs->opt.write_streams * 2, &fs->pool);
    if (rc < 0) {
        free_fs(fs);
        return rc;
    }
    rc = lease_start(fs);
    if (rc < 0) {
        write_pool_destroy(fs->pool);
        free_fs(fs);
        return rc;
    }
    *out = fs;
    return 0;
}

void cfs_disconnect(cfs_fs *fs)
{
    if (!fs) return;
    for (;;) {
        pthread_mutex_lock(&fs->files_mu);
        cfs_file *f = fs->files;
        pthread_mutex_unlock(&fs->files_mu);
        if (!f) break;
        uint64_t ino = f->ino;
        int rc = cfs_close(f);
        if (rc < 0)
            LOG_WARN("disconnect: closing inode %llu: %s", (unsigned long long)ino,
                     cfs_strerror(rc));
    }
    lease_stop(fs);
    write_pool_destroy(fs->pool);
    free_fs(fs);
}
