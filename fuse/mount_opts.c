#define FUSE_USE_VERSION 312
#include "fuse/mount_opts.h"

#include <errno.h>
#include <fuse_opt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { KEY_TIMEOUT_BOTH = 1 };

#define OPT(t, p)                                                                                  \
    {                                                                                              \
        t, offsetof(mount_opts, p), 1                                                              \
    }
static const struct fuse_opt chunkfs_opts[] = {
    OPT("entry_timeout=%lf", entry_timeout),
    OPT("attr_timeout=%lf", attr_timeout),
    OPT("max_read_ahead=%u", max_read_ahead),
    OPT("writeback_cache", writeback_cache),
    OPT("nodefault_permissions", no_kernel_perms),
    OPT("op_timeout_ms=%d", op_timeout_ms),
    OPT("client_readahead=%zu", client_readahead),
    OPT("write_behind=%zu", write_behind),
    OPT("log_file=%s", log_file),
    OPT("log_level=%s", log_level),
    OPT("http_listen=%s", http_listen),
    OPT("secret_file=%s", secret_file),
    OPT("tls_ca=%s", tls_ca),
    OPT("tls_cert=%s", tls_cert),
    OPT("tls_key=%s", tls_key),
    OPT("root_squash", root_squash),
    OPT("all_squash", all_squash),
    OPT("squash_uid=%u", squash_uid),
    OPT("squash_gid=%u", squash_gid),
    OPT("no_dir_cache", no_dir_cache),
    FUSE_OPT_KEY("timeout=", KEY_TIMEOUT_BOTH),
    FUSE_OPT_END,
};

static int opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
    (void)outargs;
    mount_opts *o = data;
    if (key == FUSE_OPT_KEY_NONOPT && !o->meta_addrs) {
        o->meta_addrs = strdup(arg);
        return o->meta_addrs ? 0 : -1;
    }
    if (key == KEY_TIMEOUT_BOTH) {
        /* timeout=S sets both cache timeouts (as in other FUSE file systems). */
        char *end;
        double v = strtod(arg + strlen("timeout="), &end);
        if (*end || v < 0) {
            fprintf(stderr, "chunkfs-mount: bad value in '%s'\n", arg);
            return -1;
        }
        o->entry_timeout = o->attr_timeout = v;
        return 0;
    }
    return 1; /* keep: the mount point and libfuse's options */
}

int mount_opts_parse(struct fuse_args *args, mount_opts *o)
{
    memset(o, 0, sizeof *o);
    o->entry_timeout = 1.0;
    o->attr_timeout = 1.0;
    o->max_read_ahead = 1u << 20;
    o->op_timeout_ms = 30000;
    o->client_readahead = 8u << 20;
    o->write_behind = 16u << 20;
    o->squash_uid = o->squash_gid = 65534;
    if (fuse_opt_parse(args, o, chunkfs_opts, opt_proc) != 0) return -EINVAL;
    /* (uid_t)-1 is no one; squashing to 0 would make everybody root. */
    if (o->squash_uid == 0 || o->squash_gid == 0 || o->squash_uid == UINT32_MAX ||
        o->squash_gid == UINT32_MAX) {
        fprintf(stderr, "chunkfs-mount: squash_uid and squash_gid must be in 1..4294967294\n");
        return -EINVAL;
    }
    if (o->entry_timeout < 0 || o->attr_timeout < 0 || o->op_timeout_ms < 100) {
        fprintf(stderr, "chunkfs-mount: timeouts must be >= 0 and op_timeout_ms >= 100\n");
        return -EINVAL;
    }
    if (o->write_behind < (1u << 20)) {
        fprintf(stderr, "chunkfs-mount: write_behind must be at least 1 MiB\n");
        return -EINVAL;
    }
    return 0;
}

void mount_opts_free(mount_opts *o)
{
    free(o->meta_addrs);
    free(o->log_file);
    free(o->log_level);
    free(o->http_listen);
    free(o->secret_file);
    free(o->tls_ca);
    free(o->tls_cert);
    free(o->tls_key);
    memset(o, 0, sizeof *o);
}

void mount_opts_help(void)
{
    printf("chunkfs options:\n"
           "    -o entry_timeout=S     seconds names are cached by the kernel (1.0)\n"
           "    -o attr_timeout=S      seconds attributes are cached by the kernel (1.0)\n"
           "    -o timeout=S           both of the above\n"
           "    -o max_read_ahead=N    kernel read-ahead in bytes (1048576)\n"
           "    -o writeback_cache     let the kernel buffer writes (off)\n"
           "    -o nodefault_permissions  no kernel-side permission checks (the metaserver\n"
           "                           still checks, but cached names skip the checks of\n"
           "                           directories on the way: not POSIX)\n"
           "    -o op_timeout_ms=N     an operation that cannot finish in N ms fails with EIO "
           "(30000)\n"
           "    -o client_readahead=N  libchunkfs sequential read-ahead bytes (8388608)\n"
           "    -o write_behind=N      libchunkfs buffered bytes per open file (16777216)\n"
           "    -o log_file=PATH       append the daemon's log here (default: stderr in the\n"
           "                           foreground, discarded in the background)\n"
           "    -o log_level=L         debug|info|warn|error (info)\n"
           "    -o http_listen=H:P     serve GET /metrics (Prometheus) and /log-level on H:P\n"
           "                           (port 0: any free port, logged as \"http serving on\n"
           "                           port N\"; default: off)\n"
           "    -o secret_file=PATH    cluster secret, mode 0600 ($CHUNKFS_SECRET_FILE)\n"
           "    -o tls_ca=PATH         TLS: CA certificate to verify servers ($CHUNKFS_TLS_CA)\n"
           "    -o tls_cert=PATH,tls_key=PATH  client certificate for mutual TLS\n"
           "                           ($CHUNKFS_TLS_CERT, $CHUNKFS_TLS_KEY)\n"
           "    -o root_squash         callers with uid 0 act as squash_uid, gid 0 as\n"
           "                           squash_gid (as NFS root_squash; default: off)\n"
           "    -o all_squash          every caller acts as squash_uid:squash_gid, without\n"
           "                           supplementary groups (default: off)\n"
           "    -o squash_uid=N        uid of squashed callers (65534, nobody)\n"
           "    -o squash_gid=N        gid of squashed callers (65534, nogroup)\n"
           "    -o no_dir_cache        no directory cache: every lookup and directory stat\n"
           "                           asks the metaserver (default: cache on, see fuse.md)\n");
}
