#ifndef CFS_CLI_H
#define CFS_CLI_H
/* Shared pieces of the `chunkfs` command line tool. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "client/chunkfs.h"

/* Exit statuses. */
#define CLI_OK 0
#define CLI_ERR 1
#define CLI_USAGE 2

struct cli_command;

typedef struct cli_ctx {
    const char *meta; /* metaserver addresses, resolved from --meta / env / config */
    cfs_fs *fs;       /* connected lazily by cli_fs() */
    cfs_cred cred;
    const char *cmd; /* command name, for messages */
    uint32_t umask;
    const struct cli_command *command;
    /* Global security flags (NULL: from the environment, see cfs_options). */
    const char *secret_file, *tls_ca, *tls_cert, *tls_key;
} cli_ctx;

typedef struct cli_command {
    const char *name;
    int (*run)(cli_ctx *ctx, int argc, char **argv);
    const char *usage;   /* "put [-r] [-f] SRC... DST" */
    const char *summary; /* one line */
    const char *help;    /* option details */
} cli_command;

/* Connects on first use; prints the error and returns NULL on failure. */
cfs_fs *cli_fs(cli_ctx *ctx);

/* "chunkfs: CMD: PATH: message" on stderr (path may be NULL). */
void cli_error(const cli_ctx *ctx, const char *path, int err);
void cli_errorf(const cli_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Usage error: message, the command's usage line, returns CLI_USAGE. */
int cli_usage(const cli_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* True when argv has -h/--help before "--"; prints the command help. */
bool cli_wants_help(const cli_ctx *ctx, int argc, char **argv);

/* Remote path normalisation (pure): relative paths are taken from "/", "." and ".." are
 * resolved lexically, repeated slashes collapse; a trailing slash is dropped. out has
 * CFS_PATH_MAX bytes. 0, -ENAMETOOLONG or -EINVAL (empty). */
int cli_normalize(const char *in, char *out);
/* Joins dir and name into out (CFS_PATH_MAX bytes). 0 or -ENAMETOOLONG. */
int cli_join(const char *dir, const char *name, char *out);
/* Last component of a local or remote path ("a/b/" -> "b"), into out (CFS_NAME_MAX+1). */
int cli_basename(const char *path, char *out);

/* Human-readable size like `ls -h`: "512", "1.5K", "23M", "4.0G" (pure). */
void cli_human(uint64_t bytes, char *buf, size_t size);

/* Progress bar on stderr (only when stderr is a terminal, or forced). */
typedef struct cli_progress {
    bool enabled;
    const char *label;
    uint64_t total;
    uint64_t done;
    int64_t start_ms;
    int64_t last_draw_ms;
} cli_progress;
void progress_start(cli_progress *p, const char *label, uint64_t total);
void progress_add(cli_progress *p, uint64_t bytes);
void progress_finish(cli_progress *p);
/* The bar's text for `done` of `total` after `elapsed_ms` (pure):
 * "label  45% [=========>          ] 230.0M/512.0M  115.0M/s  ETA 0:02". */
void progress_format(char *buf, size_t size, const char *label, uint64_t done, uint64_t total,
                     int64_t elapsed_ms, int width);

/* JSON output helpers: a string with escapes. */
void json_str(FILE *out, const char *s);

/* Prints the self-healing progress lines (repair, trim, drain, rebalance, gc) of a cluster
 * status; shared by `status` and `admin progress`. */
struct Chunkfs__ClusterStatusResp;
void cli_print_progress(const struct Chunkfs__ClusterStatusResp *st);

/* Parses a permission mode in octal ("755", "0644"): 0 or -EINVAL. */
int cli_parse_mode(const char *s, uint32_t *out);
/* Parses "user[:group]" (names or numbers); a missing part is left as UINT32_MAX. */
int cli_parse_owner(const char *s, uint32_t *uid, uint32_t *gid);

/* Normalises `arg` into norm (CFS_PATH_MAX) and resolves it; prints the error on failure. */
int cli_resolve(cli_ctx *ctx, const char *arg, bool follow, char *norm, cfs_attr *a);
/* Every entry of directory `ino` (all pages). Free with cli_dirents_free. */
int cli_readdir_all(cli_ctx *ctx, uint64_t ino, bool attrs, cfs_dirent **out, size_t *n);
void cli_dirents_free(cfs_dirent *e, size_t n);
/* Calls fn on `path` and, for directories, on everything below it (pre-order; symlinks are
 * not followed). Stops at the first error fn returns. */
typedef int (*cli_walk_fn)(cli_ctx *ctx, const char *path, const cfs_attr *a, void *arg);
int cli_walk(cli_ctx *ctx, const char *path, const cfs_attr *a, cli_walk_fn fn, void *arg);
/* "drwxr-xr-x" for a full st_mode (pure). */
void cli_mode_string(uint32_t mode, char out[11]);
/* "2026-12-05 10:04:05" local time. */
void cli_time_string(const struct timespec *ts, char *buf, size_t size);

/* Set by SIGINT/SIGTERM: copies stop, clean up (temporary files, leases) and fail with
 * -EINTR instead of dying half-way. */
extern volatile int cli_interrupted;
void cli_install_signals(void);

/* Commands. */
int cmd_put(cli_ctx *ctx, int argc, char **argv);
int cmd_get(cli_ctx *ctx, int argc, char **argv);
int cmd_cat(cli_ctx *ctx, int argc, char **argv);
int cmd_cp(cli_ctx *ctx, int argc, char **argv);
int cmd_ls(cli_ctx *ctx, int argc, char **argv);
int cmd_stat(cli_ctx *ctx, int argc, char **argv);
int cmd_mkdir(cli_ctx *ctx, int argc, char **argv);
int cmd_rm(cli_ctx *ctx, int argc, char **argv);
int cmd_mv(cli_ctx *ctx, int argc, char **argv);
int cmd_ln(cli_ctx *ctx, int argc, char **argv);
int cmd_chmod(cli_ctx *ctx, int argc, char **argv);
int cmd_chown(cli_ctx *ctx, int argc, char **argv);
int cmd_setrep(cli_ctx *ctx, int argc, char **argv);
int cmd_fileinfo(cli_ctx *ctx, int argc, char **argv);
int cmd_df(cli_ctx *ctx, int argc, char **argv);
int cmd_status(cli_ctx *ctx, int argc, char **argv);
int cmd_fsck(cli_ctx *ctx, int argc, char **argv);

#endif
