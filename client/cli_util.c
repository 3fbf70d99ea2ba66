/* CLI plumbing: connection, error messages, usage, progress drawing, owner parsing. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "client/cli.h"
#include "common/errors.h"
#include "common/time_util.h"

cfs_fs *cli_fs(cli_ctx *ctx)
{
    if (ctx->fs) return ctx->fs;
    if (!ctx->meta) {
        fprintf(stderr,
                "chunkfs: %s: no cluster given: use --meta ADDRS, CHUNKFS_META, or "
                "~/.config/chunkfs/client.conf\n",
                ctx->cmd);
        return NULL;
    }
    cfs_options o;
    cfs_options_init(&o);
    /* Bulk copies: keep several whole chunks in flight (the library default suits FUSE). */
    o.write_behind_bytes = 128u << 20;
    o.write_streams = 4;
    o.secret_file = ctx->secret_file;
    o.tls_ca = ctx->tls_ca;
    o.tls_cert = ctx->tls_cert;
    o.tls_key = ctx->tls_key;
    const char *t = getenv("CHUNKFS_TIMEOUT_MS");
    if (t && atoi(t) > 0) o.op_timeout_ms = o.retry_window_ms = atoi(t);
    int rc = cfs_connect(ctx->meta, &o, &ctx->fs);
    if (rc < 0) {
        cli_error(ctx, ctx->meta, rc);
        return NULL;
    }
    return ctx->fs;
}

void cli_error(const cli_ctx *ctx, const char *path, int err)
{
    if (path)
        fprintf(stderr, "chunkfs: %s: %s: %s\n", ctx->cmd, path, cfs_strerror(err));
    else
        fprintf(stderr, "chunkfs: %s: %s\n", ctx->cmd, cfs_strerror(err));
}

void cli_errorf(const cli_ctx *ctx, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "chunkfs: %s: %s\n", ctx->cmd, msg);
}

int cli_usage(const cli_ctx *ctx, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "chunkfs: %s: %s\n", ctx->cmd, msg);
    if (ctx->command)
        fprintf(stderr, "usage: chunkfs %s\nTry 'chunkfs %s --help'.\n", ctx->command->usage,
                ctx->cmd);
    return CLI_USAGE;
}

bool cli_wants_help(const cli_ctx *ctx, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) break;
        /* ls and df use -h for human-readable sizes, like coreutils. */
        bool h_is_help = strcmp(ctx->cmd, "ls") != 0 && strcmp(ctx->cmd, "df") != 0;
        if ((h_is_help && strcmp(argv[i], "-h") == 0) || strcmp(argv[i], "--help") == 0) {
            const struct cli_command *c = ctx->command;
            printf("usage: chunkfs %s\n\n%s\n", c->usage, c->summary);
            if (c->help && c->help[0]) printf("\n%s", c->help);
            return true;
        }
    }
    return false;
}

static int term_width(void)
{
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
    return 80;
}

void progress_start(cli_progress *p, const char *label, uint64_t total)
{
    const char *force = getenv("CHUNKFS_PROGRESS");
    p->enabled = force ? strcmp(force, "1") == 0 : isatty(STDERR_FILENO) == 1;
    p->label = label;
    p->total = total;
    p->done = 0;
    p->start_ms = cfs_mono_ms();
    p->last_draw_ms = 0;
}

static void progress_draw(cli_progress *p)
{
    char line[512];
    int width = term_width() - 60;
    progress_format(line, sizeof(line), p->label, p->done, p->total, cfs_mono_ms() - p->start_ms,
                    width < 10   ? 10
                    : width > 50 ? 50
                                 : width);
    fprintf(stderr, "\r%s\033[K", line);
    fflush(stderr);
}

void progress_add(cli_progress *p, uint64_t bytes)
{
    p->done += bytes;
    if (!p->enabled) return;
    int64_t now = cfs_mono_ms();
    if (now - p->last_draw_ms >= 200) {
        p->last_draw_ms = now;
        progress_draw(p);
    }
}

void progress_finish(cli_progress *p)
{
    if (!p->enabled) return;
    if (p->total < p->done) p->total = p->done;
    progress_draw(p);
    fputc('\n', stderr);
}

static int parse_id(const char *s, bool user, uint32_t *out)
{
    if (!*s) return -EINVAL;
    if (strspn(s, "0123456789") == strlen(s)) {
        unsigned long v = strtoul(s, NULL, 10);
        if (v >= UINT32_MAX) return -EINVAL;
        *out = (uint32_t)v;
        return 0;
    }
    if (user) {
        struct passwd *pw = getpwnam(s);
        if (!pw) return -EINVAL;
        *out = (uint32_t)pw->pw_uid;
    } else {
        struct group *gr = getgrnam(s);
        if (!gr) return -EINVAL;
        *out = (uint32_t)gr->gr_gid;
    }
    return 0;
}

int cli_parse_owner(const char *s, uint32_t *uid, uint32_t *gid)
{
    *uid = UINT32_MAX;
    *gid = UINT32_MAX;
    char buf[256];
    if (strlen(s) >= sizeof(buf) || !*s) return -EINVAL;
    strcpy(buf, s);
    char *colon = strchr(buf, ':');
    if (colon) {
        *colon = 0;
        if (colon[1] && parse_id(colon + 1, false, gid) < 0) return -EINVAL;
    }
    if (buf[0] && parse_id(buf, true, uid) < 0) return -EINVAL;
    if (*uid == UINT32_MAX && *gid == UINT32_MAX) return -EINVAL;
    return 0;
}

int cli_resolve(cli_ctx *ctx, const char *arg, bool follow, char *norm, cfs_attr *a)
{
    int rc = cli_normalize(arg, norm);
    if (rc == 0) {
        cfs_fs *fs = cli_fs(ctx);
        if (!fs) return -ENOTCONN;
        rc = cfs_resolve(fs, norm, follow, &ctx->cred, a);
    }
    if (rc < 0) cli_error(ctx, arg, rc);
    return rc;
}

void cli_dirents_free(cfs_dirent *e, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(e[i].name);
    free(e);
}

int cli_readdir_all(cli_ctx *ctx, uint64_t ino, bool attrs, cfs_dirent **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    cfs_fs *fs = cli_fs(ctx);
    if (!fs) return -ENOTCONN;
    char *after = strdup("");
    if (!after) return -ENOMEM;
    size_t cap = 0;
    for (;;) {
        cfs_dir_page page;
        int rc = cfs_readdir(fs, ino, after, 1000, attrs, &ctx->cred, &page);
        if (rc < 0) {
            free(after);
            cli_dirents_free(*out, *n);
            *out = NULL;
            *n = 0;
            return rc;
        }
        if (*n + page.count > cap) {
            size_t ncap = (*n + page.count) * 2;
            cfs_dirent *ne = realloc(*out, ncap * sizeof(*ne));
            if (!ne) {
                cfs_dir_page_free(&page);
                free(after);
                return -ENOMEM;
            }
            *out = ne;
            cap = ncap;
        }
        for (size_t i = 0; i < page.count; i++) {
            (*out)[(*n)++] = page.entries[i];
            page.entries[i].name = NULL; /* moved */
        }
        bool done = page.eof || page.count == 0;
        if (!done) {
            free(after);
            after = strdup((*out)[*n - 1].name);
        }
        page.count = 0;
        cfs_dir_page_free(&page);
        if (done || !after) break;
    }
    free(after);
    return 0;
}

int cli_walk(cli_ctx *ctx, const char *path, const cfs_attr *a, cli_walk_fn fn, void *arg)
{
    int rc = fn(ctx, path, a, arg);
    if (rc < 0 || !S_ISDIR(a->mode)) return rc;
    cfs_dirent *ents;
    size_t n;
    rc = cli_readdir_all(ctx, a->ino, true, &ents, &n);
    if (rc < 0) {
        cli_error(ctx, path, rc);
        return rc;
    }
    char *child = malloc(CFS_PATH_MAX);
    if (!child) {
        cli_dirents_free(ents, n);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = cli_join(path, ents[i].name, child);
        if (rc < 0) {
            cli_error(ctx, path, rc);
            break;
        }
        cfs_attr ca;
        if (ents[i].has_attr) {
            ca = ents[i].attr;
        } else {
            rc = cfs_lookup(ctx->fs, a->ino, ents[i].name, &ctx->cred, &ca);
            if (rc < 0) {
                cli_error(ctx, child, rc);
                break;
            }
        }
        rc = cli_walk(ctx, child, &ca, fn, arg);
    }
    free(child);
    cli_dirents_free(ents, n);
    return rc;
}

void cli_mode_string(uint32_t mode, char out[11])
{
    out[0] = S_ISDIR(mode) ? 'd' : S_ISLNK(mode) ? 'l' : '-';
    const char *rwx = "rwxrwxrwx";
    for (int i = 0; i < 9; i++)
        out[1 + i] = (mode & (0400u >> i)) ? rwx[i] : '-';
    if (mode & S_ISUID) out[3] = (mode & S_IXUSR) ? 's' : 'S';
    if (mode & S_ISGID) out[6] = (mode & S_IXGRP) ? 's' : 'S';
    if (mode & S_ISVTX) out[9] = (mode & S_IXOTH) ? 't' : 'T';
    out[10] = 0;
}

void cli_time_string(const struct timespec *ts, char *buf, size_t size)
{
    struct tm tm;
    time_t t = ts->tv_sec;
    localtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm);
}

volatile int cli_interrupted;

static void on_signal(int sig)
{
    (void)sig;
    cli_interrupted = 1;
}

void cli_install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal; /* no SA_RESTART: a blocked read() returns EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}
