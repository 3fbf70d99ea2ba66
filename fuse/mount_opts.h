#ifndef CFS_FUSE_MOUNT_OPTS_H
#define CFS_FUSE_MOUNT_OPTS_H
/* chunkfs-mount's own -o options (the rest go to libfuse: allow_other, default_permissions,
 * ro, fsname, ...). Parsed with fuse_opt_parse, which removes them from the argument list. */
#include <stdbool.h>
#include <stddef.h>

struct fuse_args;

typedef struct mount_opts {
    char *meta_addrs;        /* first non-option argument: "host:port,host:port" */
    double entry_timeout;    /* seconds the kernel caches names; default 1.0 */
    double attr_timeout;     /* seconds the kernel caches attributes; default 1.0 */
    unsigned max_read_ahead; /* kernel read-ahead bytes; default 1 MiB */
    int writeback_cache;     /* kernel write-back caching; default off */
    int no_kernel_perms;     /* leave out default_permissions (metaserver checks only) */
    int op_timeout_ms;       /* bound on every operation; default 30000 (then EIO) */
    size_t client_readahead; /* libchunkfs sequential read-ahead; default 8 MiB */
    size_t write_behind;     /* libchunkfs dirty bytes per handle; default 16 MiB */
    char *log_file;          /* log destination in the background; default none (discarded) */
    char *log_level;         /* debug|info|warn|error; default info */
    char *http_listen;       /* host:port serving /metrics and /log-level; default none */
    char *secret_file;       /* cluster secret; default $CHUNKFS_SECRET_FILE, else none */
    char *tls_ca;            /* TLS: CA to verify servers; default $CHUNKFS_TLS_CA */
    char *tls_cert;          /* TLS client certificate (mutual TLS); default $CHUNKFS_TLS_CERT */
    char *tls_key;           /* its key; default $CHUNKFS_TLS_KEY */
    int root_squash;         /* callers' uid 0 / gid 0 act as squash_uid / squash_gid */
    int all_squash;          /* every caller acts as squash_uid / squash_gid, no groups */
    unsigned squash_uid;     /* default 65534 (nobody) */
    unsigned squash_gid;     /* default 65534 (nogroup) */
    int no_dir_cache;        /* no directory cache (lookups and directory getattr ask) */
} mount_opts;

/* Fills defaults, then takes chunkfs options and META_ADDRS out of args; the mount point and
 * libfuse's options stay in args. Returns 0, or -EINVAL with a message on stderr. */
int mount_opts_parse(struct fuse_args *args, mount_opts *o);
void mount_opts_free(mount_opts *o);
/* Prints the chunkfs options. */
void mount_opts_help(void);

#endif
