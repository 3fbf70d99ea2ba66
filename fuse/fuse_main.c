/* chunkfs-mount: mounts a chunkfs cluster with libfuse3's low-level API over libchunkfs.
 *
 *   chunkfs-mount [options] META_ADDRS MOUNTPOINT
 *
 * Without -f it detaches, but only after the cluster answered and the mount is in place, so
 * the exit status of the command tells whether mounting worked (mount(8) relies on that). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/errors.h"
#include "common/http_server.h"
#include "common/log.h"
#include "fuse/fuse_ctx.h"
#include "fuse/fuse_dcache.h"

#define MAX_WRITE (1u << 20)

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
    cfsm *m = userdata;
    if (conn->capable & FUSE_CAP_WRITEBACK_CACHE && m->opts.writeback_cache)
        conn->want |= FUSE_CAP_WRITEBACK_CACHE;
    else
        conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
    /* Truncating opens arrive as setattr(size) after open: open never needs the inode lock
     * the kernel holds for atomic O_TRUNC, so invalidation notifies from open are safe. */
    conn->want &= ~FUSE_CAP_ATOMIC_O_TRUNC;
    conn->want &= ~FUSE_CAP_HANDLE_KILLPRIV;
    if (conn->capable & FUSE_CAP_AUTO_INVAL_DATA) conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
    if (conn->capable & FUSE_CAP_READDIRPLUS)
        conn->want |= FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO;
    if (conn->capable & FUSE_CAP_PARALLEL_DIROPS) conn->want |= FUSE_CAP_PARALLEL_DIROPS;
    conn->max_write = MAX_WRITE;
    conn->max_readahead = m->opts.max_read_ahead;
    conn->max_background = 64;
    conn->congestion_threshold = 48;
    conn->time_gran = 1;
    LOG_INFO("FUSE protocol %u.%u, max_write %u, writeback_cache %s", conn->proto_major,
             conn->proto_minor, conn->max_write,
             conn->want & FUSE_CAP_WRITEBACK_CACHE ? "on" : "off");
}

/* Unmount or SIGTERM: commit everything still open before the daemon goes away. */
static void op_destroy(void *userdata)
{
    cfsm *m = userdata;
    if (m->files) {
        open_files_free(m->files);
        m->files = NULL;
    }
    LOG_INFO("unmounted; open files flushed");
}

static void usage(const char *prog)
{
    printf("usage: %s [options] META_ADDRS MOUNTPOINT\n\n"
           "META_ADDRS: the metaservers, host:port[,host:port...]\n\n"
           "    -f                     stay in the foreground\n"
           "    -d                     debug output (implies -f)\n"
           "    -s                     single-threaded\n"
           "    -h, --help             this help\n",
           prog);
    mount_opts_help();
    printf("\nlibfuse options:\n");
    fuse_lowlevel_help();
}

/* fsname=chunkfs:ADDRS with the commas escaped for libfuse's option parser. */
static char *fsname_arg(const char *addrs)
{
    size_t n = strlen(addrs);
    char *s = malloc(strlen("-ofsname=chunkfs:") + 2 * n + 1);
    if (!s) return NULL;
    char *p = stpcpy(s, "-ofsname=chunkfs:");
    for (const char *a = addrs; *a; a++) {
        if (*a == ',' || *a == '\\') *p++ = '\\';
        *p++ = *a;
    }
    *p = 0;
    return s;
}

/* Forks; the parent waits for the child's verdict and exits with it. Returns the pipe the
 * child reports on, or -1 in the foreground. */
static int detach(void)
{
    int pfd[2];
    if (pipe(pfd) != 0) {
        perror("chunkfs-mount: pipe");
        exit(1);
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("chunkfs-mount: fork");
        exit(1);
    }
    if (pid > 0) {
        close(pfd[1]);
        char status = 1;
        if (read(pfd[0], &status, 1) != 1) status = 1;
        _exit(status);
    }
    close(pfd[0]);
    setsid();
    return pfd[1];
}

static void report(int fd, char status)
{
    if (fd < 0) return;
    if (write(fd, &status, 1) != 1)
        LOG_WARN("could not report status to the parent: %s", strerror(errno));
    close(fd);
}

static void quiet_stdio(bool keep_stderr)
{
    int nul = open("/dev/null", O_RDWR);
    if (nul < 0) return;
    dup2(nul, 0);
    dup2(nul, 1);
    if (!keep_stderr) dup2(nul, 2);
    if (nul > 2) close(nul);
}

int main(int argc, char **argv)
{
    struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
    cfsm m;
    memset(&m, 0, sizeof m);
    cfs_log_set_component("fuse");
    if (mount_opts_parse(&args, &m.opts) != 0) {
        fuse_opt_free_args(&args);
        return 2;
    }
    char *fsname = m.opts.meta_addrs ? fsname_arg(m.opts.meta_addrs) : NULL;
    if (fsname) fuse_opt_insert_arg(&args, 1, fsname);
    fuse_opt_insert_arg(&args, 1, "-osubtype=chunkfs");
    /* Lock waiters park a thread each: allow plenty (a later -o max_threads= wins). */
    fuse_opt_insert_arg(&args, 1, "-omax_threads=64");
    /* The kernel walks cached names without asking us, so only its own check of the cached
     * mode bits can refuse a path through a directory without x permission. */
    if (!m.opts.no_kernel_perms) fuse_opt_insert_arg(&args, 1, "-odefault_permissions");
    struct fuse_cmdline_opts copts;
    if (fuse_parse_cmdline(&args, &copts) != 0) return 2;
    if (copts.show_help) {
        usage(argv[0]);
        return 0;
    }
    if (copts.show_version) {
        printf("chunkfs-mount (libfuse %s)\n", fuse_pkgversion());
        return 0;
    }
    if (!m.opts.meta_addrs || !copts.mountpoint) {
        fprintf(stderr, "usage: %s [options] META_ADDRS MOUNTPOINT (see --help)\n", argv[0]);
        return 2;
    }
    enum cfs_log_level level = CFS_LOG_INFO;
    if (m.opts.log_level && cfs_log_parse_level(m.opts.log_level, &level) != 0) {
        fprintf(stderr, "chunkfs-mount: bad log_level '%s'\n", m.opts.log_level);
        return 2;
    }
    if (copts.debug) level = CFS_LOG_DEBUG;
    cfs_log_set_level(level);
    struct stat st;
    if (stat(copts.mountpoint, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "chunkfs-mount: %s is not a directory\n", copts.mountpoint);
        return 2;
    }

    /* Fork before anything starts threads (gRPC). */
    int status_fd = copts.foreground ? -1 : detach();
    if (m.opts.log_file) {
        int lfd = open(m.opts.log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (lfd < 0) {
            fprintf(stderr, "chunkfs-mount: %s: %s\n", m.opts.log_file, strerror(errno));
            report(status_fd, 1);
            return 1;
        }
        dup2(lfd, 2);
        close(lfd);
    }

    int ret = 1;
    cfs_http_server *http = NULL;
    cfs_options co;
    cfs_options_init(&co);
    co.op_timeout_ms = m.opts.op_timeout_ms;
    if (co.retry_window_ms > co.op_timeout_ms) co.retry_window_ms = co.op_timeout_ms;
    co.readahead_bytes = m.opts.client_readahead;
    co.write_behind_bytes = m.opts.write_behind;
    co.secret_file = m.opts.secret_file;
    co.tls_ca = m.opts.tls_ca;
    co.tls_cert = m.opts.tls_cert;
    co.tls_key = m.opts.tls_key;
    int rc = cfs_connect(m.opts.meta_addrs, &co, &m.fs);
    if (rc < 0) {
        fprintf(stderr, "chunkfs-mount: %s: %s\n", m.opts.meta_addrs, cfs_strerror(rc));
        goto out;
    }
    cfs_cred root = {.uid = 0, .gid = 0, .ngids = 0};
    cfs_statfs sfs;
    rc = cfs_statfs_get(m.fs, &root, &sfs);
    if (rc < 0) {
        fprintf(stderr, "chunkfs-mount: cluster %s does not answer: %s\n", m.opts.meta_addrs,
                cfs_strerror(rc));
        goto out;
    }
    m.inodes = inode_table_new();
    m.files = open_files_new(m.fs, m.opts.op_timeout_ms);
    if (!m.inodes || !m.files) {
        fprintf(stderr, "chunkfs-mount: out of memory\n");
        goto out;
    }
    /* Answering lookups from a cache skips the metaserver's check of the caller's search
     * permission on the directory: only the kernel's own check (default_permissions, with
     * the caller the metaserver would see, i.e. no squashing) may stand in for it. */
    if (!m.opts.no_dir_cache && m.opts.entry_timeout > 0) {
        if (m.opts.no_kernel_perms || m.opts.root_squash || m.opts.all_squash) {
            LOG_INFO("directory cache off: it needs the kernel's permission checks "
                     "(no nodefault_permissions, root_squash or all_squash)");
        } else {
            m.dcache = dir_cache_new((uint64_t)(m.opts.entry_timeout * 1e9),
                                     (uint64_t)(m.opts.attr_timeout * 1e9), FDC_MAX_ENTRIES);
            if (!m.dcache) {
                fprintf(stderr, "chunkfs-mount: out of memory\n");
                goto out;
            }
            open_files_set_dir_cache(m.files, m.dcache);
        }
    }
    struct fuse_lowlevel_ops ops;
    memset(&ops, 0, sizeof ops);
    ops.init = op_init;
    ops.destroy = op_destroy;
    fuse_ops_ns_fill(&ops);
    fuse_ops_file_fill(&ops);
    fuse_ops_xattr_lock_fill(&ops);
    if (m.opts.http_listen) {
        int port = 0;
        if ((rc = fuse_metrics_enable(&ops)) != 0 || (rc = cfs_http_server_new(&http)) != 0 ||
            (rc = cfs_http_server_start(http, m.opts.http_listen, &port)) != 0) {
            fprintf(stderr, "chunkfs-mount: http_listen=%s: %s\n", m.opts.http_listen,
                    cfs_strerror(rc));
            goto out;
        }
        LOG_INFO("http serving on port %d", port);
    }
    m.se = fuse_session_new(&args, &ops, sizeof ops, &m);
    if (!m.se) goto out;
    if (fuse_set_signal_handlers(m.se) != 0) goto out_session;
    if (fuse_session_mount(m.se, copts.mountpoint) != 0) goto out_signals;
    LOG_INFO("mounted %s on %s", m.opts.meta_addrs, copts.mountpoint);
    if (m.opts.all_squash || m.opts.root_squash)
        LOG_INFO("%s callers act as uid %u gid %u", m.opts.all_squash ? "all" : "root",
                 m.opts.squash_uid, m.opts.squash_gid);
    report(status_fd, 0);
    status_fd = -1;
    if (!copts.foreground) {
        quiet_stdio(m.opts.log_file != NULL);
        if (chdir("/") != 0) LOG_WARN("chdir /: %s", strerror(errno));
    }
    if (copts.singlethread) {
        ret = fuse_session_loop(m.se);
    } else {
        struct fuse_loop_config *lc = fuse_loop_cfg_create();
        if (!lc) {
            fuse_session_unmount(m.se);
            goto out_signals;
        }
        fuse_loop_cfg_set_clone_fd(lc, (unsigned)copts.clone_fd);
        if (copts.max_idle_threads != UINT_MAX)
            fuse_loop_cfg_set_idle_threads(lc, copts.max_idle_threads);
        fuse_loop_cfg_set_max_threads(lc, copts.max_threads);
        ret = fuse_session_loop_mt(m.se, lc);
        fuse_loop_cfg_destroy(lc);
    }
    ret = ret < 0 ? 1 : 0;
    /* Commit open files while the metaservers are still reachable, then leave. */
    if (m.files) {
        open_files_free(m.files);
        m.files = NULL;
    }
    fuse_session_unmount(m.se);
out_signals:
    fuse_remove_signal_handlers(m.se);
out_session:
    fuse_session_destroy(m.se);
out:
    report(status_fd, 1);
    cfs_http_server_free(http);
    if (m.fs) cfs_disconnect(m.fs);
    inode_table_free(m.inodes);
    if (m.files) open_files_free(m.files);
    dir_cache_free(m.dcache);
    free(copts.mountpoint);
    free(fsname);
    fuse_opt_free_args(&args);
    mount_opts_free(&m.opts);
    return ret;
}
