/* Data commands: put, get, cat, cp. Transfers move several blocks in parallel and check a
 * whole-file SHA-256 (see docs/cli.md, "Checksums"). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/cli.h"

#define XATTR_SHA "user.chunkfs.sha256"
#define IO_BLOCK (8u << 20) /* bytes per parallel read / local read */
#define READ_THREADS 4

/* ------------------------------------------------------------------ sha256 */

typedef struct digest {
    EVP_MD_CTX *md;
    char hex[65];
} digest;

static int digest_init(digest *d)
{
    d->md = EVP_MD_CTX_new();
    if (!d->md || EVP_DigestInit_ex(d->md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(d->md);
        d->md = NULL;
        return -ENOMEM;
    }
    d->hex[0] = 0;
    return 0;
}

static void digest_update(digest *d, const void *buf, size_t len)
{
    EVP_DigestUpdate(d->md, buf, len);
}

static void digest_final(digest *d)
{
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(d->md, out, &n);
    for (unsigned int i = 0; i < n && i < 32; i++)
        snprintf(d->hex + 2 * i, 3, "%02x", out[i]);
    EVP_MD_CTX_free(d->md);
    d->md = NULL;
}

/* ------------------------------------------------------------------ ordered pipelined read */

/* Source of a copy: a local fd (read to its end) or a cluster file (read up to `size`). */
typedef struct copy_src {
    int fd;            /* >= 0: local */
    cfs_file *remote;  /* else */
    uint64_t size;     /* total; for a local fd only for progress, 0 when unknown (stdin) */
    const char *label; /* for messages */
} copy_src;

typedef int (*sink_fn)(void *arg, const uint8_t *buf, size_t len);

typedef struct read_slot {
    uint8_t *buf;
    int64_t block; /* block held, -1 when free */
    bool ready;    /* filled (or failed: err) */
    bool hashed;   /* the digest thread is done with it (or there is no digest) */
    bool sunk;     /* the sink is done with it */
    size_t len;
    int err;
} read_slot;

typedef struct preader {
    const copy_src *src;
    uint64_t nblocks; /* UINT64_MAX until a local source reaches its end */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t next_block;
    bool stop;
    int nslots;
    read_slot *slots;
    digest *d; /* fed in file order by its own thread; NULL: no digest */
} preader;

/* Fills buf with block b of the source. *len = bytes read; *eof when a local source ended. */
static int fill_block(const copy_src *src, uint64_t b, uint8_t *buf, size_t *len, bool *eof)
{
    size_t got = 0;
    int err = 0;
    *eof = false;
    if (!src->remote) {
        /* Whole blocks, so the cluster sees large sequential writes. */
        while (got < IO_BLOCK) {
            /* Wait in short slices: the interrupt flag may be set by a signal delivered to
             * another thread, which would not wake a blocked read() on a pipe. */
            struct pollfd pfd = {.fd = src->fd, .events = POLLIN};
            if (cli_interrupted) {
                err = -EINTR;
                break;
            }
            int pr = poll(&pfd, 1, 200);
            if (pr == 0 || (pr < 0 && errno == EINTR)) continue;
            ssize_t n = read(src->fd, buf + got, IO_BLOCK - got);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) {
                err = -errno;
                break;
            }
            if (n == 0) {
                *eof = true;
                break;
            }
            got += (size_t)n;
        }
        *len = got;
        return err;
    }
    uint64_t off = b * IO_BLOCK;
    size_t want = src->size - off < IO_BLOCK ? (size_t)(src->size - off) : IO_BLOCK;
    while (got < want) {
        ssize_t n = cfs_pread(src->remote, buf + got, want - got, off + got);
        if (n < 0) {
            err = (int)n;
            break;
        }
        if (n == 0) {
            err = -EIO; /* the file shrank while we copied it */
            break;
        }
        got += (size_t)n;
    }
    *len = got;
    return err;
}

/* A slot is reusable once both the sink and the digest thread are done with it. */
static void release_if_done(preader *p, read_slot *s)
{
    if (s->hashed && s->sunk) {
        s->block = -1;
        s->ready = false;
    }
    pthread_cond_broadcast(&p->cv);
}

static void *preader_worker(void *arg)
{
    preader *p = arg;
    bool local = !p->src->remote;
    pthread_mutex_lock(&p->mu);
    while (!p->stop && p->next_block < p->nblocks) {
        uint64_t b = p->next_block++;
        read_slot *s = &p->slots[b % (uint64_t)p->nslots];
        while (!p->stop && s->block != -1)
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->stop) break;
        s->block = (int64_t)b;
        s->ready = false;
        s->hashed = p->d == NULL;
        s->sunk = false;
        pthread_mutex_unlock(&p->mu);
        size_t len = 0;
        bool eof;
        int err = fill_block(p->src, b, s->buf, &len, &eof);
        pthread_mutex_lock(&p->mu);
        if (local && err == 0 && len == 0 && eof) {
            p->nblocks = b; /* nothing more: this block does not exist */
            s->block = -1;
            pthread_cond_broadcast(&p->cv);
            break;
        }
        if (local && (eof || err < 0)) p->nblocks = b + 1;
        s->len = len;
        s->err = err;
        s->ready = true;
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Feeds every block to the digest in file order, beside the sink (off the copying thread). */
static void *preader_hasher(void *arg)
{
    preader *p = arg;
    pthread_mutex_lock(&p->mu);
    for (uint64_t h = 0;; h++) {
        read_slot *s = &p->slots[h % (uint64_t)p->nslots];
        while (!p->stop && h < p->nblocks && !(s->block == (int64_t)h && s->ready))
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->stop || h >= p->nblocks || s->err) break;
        pthread_mutex_unlock(&p->mu);
        digest_update(p->d, s->buf, s->len);
        pthread_mutex_lock(&p->mu);
        s->hashed = true;
        release_if_done(p, s);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Reads src (a cluster file with READ_THREADS parallel readers, a local fd with one) and hands
 * the bytes in file order to `sink` (may be NULL) and to the digest `d` (may be NULL), each in
 * its own thread, so reading, hashing and sending overlap. */
static int read_ordered(const copy_src *src, sink_fn sink, void *arg, digest *d)
{
    preader p;
    memset(&p, 0, sizeof(p));
    p.src = src;
    p.d = d;
    int nreaders = src->remote ? READ_THREADS : 1;
    p.nblocks = src->remote ? (src->size + IO_BLOCK - 1) / IO_BLOCK : UINT64_MAX;
    p.nslots = nreaders * 2 < 4 ? 4 : nreaders * 2;
    p.slots = calloc((size_t)p.nslots, sizeof(read_slot));
    if (!p.slots) return -ENOMEM;
    int rc = 0;
    for (int i = 0; i < p.nslots; i++) {
        p.slots[i].block = -1;
        p.slots[i].buf = malloc(IO_BLOCK);
        if (!p.slots[i].buf) rc = -ENOMEM;
    }
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.cv, NULL);
    pthread_t th[READ_THREADS + 1];
    int nth = 0;
    bool hasher = false;
    if (rc == 0 && d) {
        if (pthread_create(&th[nth], NULL, preader_hasher, &p) != 0)
            rc = -EAGAIN;
        else {
            hasher = true;
            nth++;
        }
    }
    for (int i = 0; rc == 0 && i < nreaders; i++) {
        if (pthread_create(&th[nth], NULL, preader_worker, &p) != 0)
            rc = -EAGAIN;
        else
            nth++;
    }
    for (uint64_t b = 0; rc == 0; b++) {
        read_slot *s = &p.slots[b % (uint64_t)p.nslots];
        pthread_mutex_lock(&p.mu);
        while (!(s->block == (int64_t)b && s->ready) && b < p.nblocks)
            pthread_cond_wait(&p.cv, &p.mu);
        bool done = b >= p.nblocks;
        pthread_mutex_unlock(&p.mu);
        if (done) break;
        rc = s->err;
        if (rc == 0 && sink) rc = sink(arg, s->buf, s->len);
        pthread_mutex_lock(&p.mu);
        s->sunk = true;
        release_if_done(&p, s);
        pthread_mutex_unlock(&p.mu);
    }
    /* On success the digest thread still has to finish the last blocks: it ends by itself. */
    if (rc == 0 && hasher) pthread_join(th[0], NULL);
    pthread_mutex_lock(&p.mu);
    p.stop = true;
    pthread_cond_broadcast(&p.cv);
    pthread_mutex_unlock(&p.mu);
    for (int i = rc == 0 && hasher ? 1 : 0; i < nth; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < p.nslots; i++)
        free(p.slots[i].buf);
    free(p.slots);
    pthread_mutex_destroy(&p.mu);
    pthread_cond_destroy(&p.cv);
    return rc;
}

/* ------------------------------------------------------------------ checksum record */

static int record_digest(cli_ctx *ctx, uint64_t ino, const char *hex)
{
    cfs_attr a;
    int rc = cfs_getattr(ctx->fs, ino, &ctx->cred, &a);
    if (rc < 0) return rc;
    char val[200];
    int n = snprintf(val, sizeof(val), "sha256=%s size=%llu mtime_ns=%lld", hex,
                     (unsigned long long)a.size,
                     (long long)a.mtime.tv_sec * 1000000000LL + a.mtime.tv_nsec);
    return cfs_setxattr(ctx->fs, ino, XATTR_SHA, val, (size_t)n, 0, &ctx->cred);
}

/* The digest `put` recorded, if it still describes the file as it is (`a`): 1 and *hex set,
 * 0 when there is none or the file changed since, <0 on error. */
static int recorded_digest(cli_ctx *ctx, const cfs_attr *a, char hex[65])
{
    char val[201];
    ssize_t n = cfs_getxattr(ctx->fs, a->ino, XATTR_SHA, val, sizeof(val) - 1, &ctx->cred);
    if (n == -ENODATA || n == -ERANGE) return 0;
    if (n < 0) return (int)n;
    val[n] = 0;
    unsigned long long size;
    long long mtime;
    char h[65];
    if (sscanf(val, "sha256=%64[0-9a-f] size=%llu mtime_ns=%lld", h, &size, &mtime) != 3) return 0;
    if (size != a->size || mtime != (long long)a->mtime.tv_sec * 1000000000LL + a->mtime.tv_nsec)
        return 0;
    memcpy(hex, h, 65);
    return 1;
}

/* ------------------------------------------------------------------ writing into the cluster */

typedef struct put_state {
    cfs_file *f;
    uint64_t off;
    digest d;
    cli_progress prog;
} put_state;

static int put_sink(void *arg, const uint8_t *buf, size_t len)
{
    put_state *ps = arg;
    if (cli_interrupted) return -EINTR;
    ssize_t n = cfs_pwrite(ps->f, buf, len, ps->off);
    if (n < 0) return (int)n;
    ps->off += len;
    progress_add(&ps->prog, len);
    return 0;
}

/* Copies src into directory `dir_ino` (path dir) as `name`: via a temporary name, verified by
 * reading it back, checksum recorded, then renamed into place. */
static int copy_in(cli_ctx *ctx, const copy_src *src, uint64_t dir_ino, const char *dir,
                   const char *name, uint32_t mode, bool force, bool verify)
{
    cfs_fs *fs = ctx->fs;
    char dst[CFS_PATH_MAX];
    int rc = cli_join(dir, name, dst);
    if (rc < 0) {
        cli_error(ctx, name, rc);
        return rc;
    }
    cfs_attr existing;
    rc = cfs_lookup(fs, dir_ino, name, &ctx->cred, &existing);
    if (rc == 0 && (!force || S_ISDIR(existing.mode))) {
        rc = S_ISDIR(existing.mode) ? -EISDIR : -EEXIST;
        cli_error(ctx, dst, rc);
        return rc;
    }
    if (rc < 0 && rc != -ENOENT) {
        cli_error(ctx, dst, rc);
        return rc;
    }
    char tmp[CFS_NAME_MAX + 1];
    if (strlen(name) + 12 > CFS_NAME_MAX) {
        cli_error(ctx, dst, -ENAMETOOLONG);
        return -ENAMETOOLONG;
    }
    snprintf(tmp, sizeof(tmp), ".%s._COPYING_", name);

    put_state ps;
    memset(&ps, 0, sizeof(ps));
    cfs_attr ta;
    rc = cfs_create(fs, dir_ino, tmp, mode, O_WRONLY | O_TRUNC, &ctx->cred, &ta, &ps.f);
    if (rc < 0) {
        cli_error(ctx, dst, rc);
        return rc;
    }
    if (digest_init(&ps.d) < 0) {
        cfs_close(ps.f);
        cfs_unlink(fs, dir_ino, tmp, &ctx->cred);
        return -ENOMEM;
    }
    progress_start(&ps.prog, src->label, src->size);
    rc = read_ordered(src, put_sink, &ps, &ps.d);
    int crc = cfs_close(ps.f);
    if (rc == 0) rc = crc;
    progress_finish(&ps.prog);
    digest_final(&ps.d);
    const char *failed_at = dst;
    if (rc == 0 && verify) {
        /* Read back what the cluster committed and compare digests end to end. */
        cfs_file *rf;
        rc = cfs_open(fs, ta.ino, O_RDONLY, &ctx->cred, &rf);
        if (rc == 0) {
            digest back;
            rc = digest_init(&back);
            if (rc == 0) {
                copy_src vs = {.fd = -1, .remote = rf, .size = ps.off, .label = name};
                rc = read_ordered(&vs, NULL, NULL, &back);
                digest_final(&back);
                if (rc == 0 && strcmp(back.hex, ps.d.hex) != 0) {
                    cli_errorf(ctx, "%s: checksum mismatch after upload (sent %s, read %s)", dst,
                               ps.d.hex, back.hex);
                    rc = -EIO;
                    failed_at = NULL;
                }
            }
            cfs_close(rf);
        }
    }
    if (rc == 0) rc = record_digest(ctx, ta.ino, ps.d.hex);
    if (rc == 0)
        rc = cfs_rename(fs, dir_ino, tmp, dir_ino, name, force ? 0 : CFS_RENAME_NOREPLACE,
                        &ctx->cred);
    if (rc < 0) {
        if (failed_at) cli_error(ctx, failed_at, rc);
        cfs_unlink(fs, dir_ino, tmp, &ctx->cred);
    }
    return rc;
}

/* ------------------------------------------------------------------ put */

typedef struct copy_opts {
    bool recursive, force, verify;
} copy_opts;

static int put_path(cli_ctx *ctx, const copy_opts *o, const char *src, uint64_t dir_ino,
                    const char *dir, const char *name);

static int put_dir(cli_ctx *ctx, const copy_opts *o, const char *src, uint64_t dir_ino,
                   const char *dir, const char *name, uint32_t mode)
{
    char path[CFS_PATH_MAX];
    int rc = cli_join(dir, name, path);
    cfs_attr da;
    if (rc == 0) {
        rc = cfs_mkdir(ctx->fs, dir_ino, name, mode | 0700, &ctx->cred, &da);
        if (rc == -EEXIST) {
            rc = cfs_lookup(ctx->fs, dir_ino, name, &ctx->cred, &da);
            if (rc == 0 && !S_ISDIR(da.mode)) rc = -ENOTDIR;
        }
    }
    if (rc < 0) {
        cli_error(ctx, path, rc);
        return rc;
    }
    DIR *d = opendir(src);
    if (!d) {
        rc = -errno;
        cli_error(ctx, src, rc);
        return rc;
    }
    int worst = 0;
    struct dirent *e;
    char child[4096];
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(child, sizeof(child), "%s/%s", src, e->d_name);
        rc = put_path(ctx, o, child, da.ino, path, e->d_name);
        if (rc < 0) worst = rc;
    }
    closedir(d);
    return worst;
}

static int put_path(cli_ctx *ctx, const copy_opts *o, const char *src, uint64_t dir_ino,
                    const char *dir, const char *name)
{
    if (strcmp(src, "-") == 0) {
        copy_src s = {.fd = STDIN_FILENO, .size = 0, .label = name};
        return copy_in(ctx, &s, dir_ino, dir, name, 0666 & ~ctx->umask, o->force, o->verify);
    }
    struct stat st;
    if (stat(src, &st) < 0) {
        int rc = -errno;
        cli_error(ctx, src, rc);
        return rc;
    }
    if (S_ISDIR(st.st_mode)) {
        if (!o->recursive) {
            cli_errorf(ctx, "%s: Is a directory (use -r)", src);
            return -EISDIR;
        }
        return put_dir(ctx, o, src, dir_ino, dir, name, (uint32_t)st.st_mode & 0777);
    }
    if (!S_ISREG(st.st_mode)) {
        cli_errorf(ctx, "%s: not a regular file", src);
        return -EINVAL;
    }
    int fd = open(src, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int rc = -errno;
        cli_error(ctx, src, rc);
        return rc;
    }
    copy_src s = {.fd = fd, .size = (uint64_t)st.st_size, .label = name};
    int rc = copy_in(ctx, &s, dir_ino, dir, name, (uint32_t)st.st_mode & 0777 & ~ctx->umask,
                     o->force, o->verify);
    close(fd);
    return rc;
}

static int parse_copy_opts(cli_ctx *ctx, int argc, char **argv, copy_opts *o, bool allow_r)
{
    static const struct option lo[] = {{"no-verify", no_argument, NULL, 'n'}, {NULL, 0, NULL, 0}};
    o->recursive = o->force = false;
    o->verify = true;
    optind = 0;
    int c;
    while ((c = getopt_long(argc, argv, allow_r ? "rRf" : "f", lo, NULL)) != -1) {
        if (c == 'r' || c == 'R')
            o->recursive = true;
        else if (c == 'f')
            o->force = true;
        else if (c == 'n')
            o->verify = false;
        else
            return cli_usage(ctx, "bad option");
    }
    return 0;
}

/* Resolves DST for a copy into the cluster: a directory to copy into (*into = true) or the
 * parent directory and new name of the target. */
static int dest_in_cluster(cli_ctx *ctx, const char *arg, bool many, char *dir, cfs_attr *da,
                           char *name, bool *into)
{
    char norm[CFS_PATH_MAX];
    int rc = cli_normalize(arg, norm);
    if (rc < 0) return rc;
    cfs_attr a;
    rc = cfs_resolve(ctx->fs, norm, true, &ctx->cred, &a);
    if (rc == 0 && S_ISDIR(a.mode)) {
        strcpy(dir, norm);
        *da = a;
        *into = true;
        return 0;
    }
    if (many) return rc == 0 ? -ENOTDIR : rc;
    if (rc < 0 && rc != -ENOENT) return rc;
    size_t len = strlen(arg);
    if (len && arg[len - 1] == '/') return rc == 0 ? -ENOTDIR : -ENOENT;
    *into = false;
    rc = cfs_path_split(norm, dir, name);
    if (rc == 0) rc = cfs_resolve(ctx->fs, dir, true, &ctx->cred, da);
    if (rc == 0 && !S_ISDIR(da->mode)) rc = -ENOTDIR;
    return rc;
}

int cmd_put(cli_ctx *ctx, int argc, char **argv)
{
    copy_opts o;
    int u = parse_copy_opts(ctx, argc, argv, &o, true);
    if (u) return u;
    if (argc - optind < 2) return cli_usage(ctx, "need SRC... and DST");
    if (!cli_fs(ctx)) return CLI_ERR;
    int nsrc = argc - optind - 1;
    const char *dstarg = argv[argc - 1];
    char dir[CFS_PATH_MAX], name[CFS_NAME_MAX + 1];
    cfs_attr da;
    bool into;
    int rc = dest_in_cluster(ctx, dstarg, nsrc > 1, dir, &da, name, &into);
    if (rc < 0) {
        cli_error(ctx, dstarg, rc);
        return CLI_ERR;
    }
    int status = CLI_OK;
    for (int i = optind; i < argc - 1; i++) {
        char base[CFS_NAME_MAX + 1];
        const char *target = name;
        if (into) {
            if (strcmp(argv[i], "-") == 0) {
                cli_errorf(ctx, "-: standard input needs a file name as DST, not a directory");
                status = CLI_ERR;
                continue;
            }
            if (cli_basename(argv[i], base) < 0) {
                cli_error(ctx, argv[i], -EINVAL);
                status = CLI_ERR;
                continue;
            }
            target = base;
        }
        if (put_path(ctx, &o, argv[i], da.ino, dir, target) < 0) status = CLI_ERR;
    }
    return status;
}

/* ------------------------------------------------------------------ get / cat */

typedef struct get_state {
    int fd;
    digest d;
    cli_progress prog;
} get_state;

static int get_sink(void *arg, const uint8_t *buf, size_t len)
{
    get_state *gs = arg;
    if (cli_interrupted) return -EINTR;
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(gs->fd, buf + done, len - done);
        if (n < 0 && errno == EINTR && !cli_interrupted) continue;
        if (n < 0) return -errno;
        done += (size_t)n;
    }
    progress_add(&gs->prog, len);
    return 0;
}

/* Streams a cluster file into fd; unless hex is NULL it gets the SHA-256 of the bytes
 * (computed beside the copy, in its own thread). */
static int fetch(cli_ctx *ctx, const cfs_attr *a, int fd, const char *label, bool progress,
                 char *hex)
{
    cfs_file *f;
    int rc = cfs_open(ctx->fs, a->ino, O_RDONLY, &ctx->cred, &f);
    if (rc < 0) return rc;
    get_state gs;
    memset(&gs, 0, sizeof(gs));
    gs.fd = fd;
    if (hex) rc = digest_init(&gs.d);
    if (rc == 0) {
        progress_start(&gs.prog, label, a->size);
        if (!progress) gs.prog.enabled = false;
        copy_src src = {.fd = -1, .remote = f, .size = a->size, .label = label};
        rc = read_ordered(&src, get_sink, &gs, hex ? &gs.d : NULL);
        progress_finish(&gs.prog);
        if (hex) {
            digest_final(&gs.d);
            memcpy(hex, gs.d.hex, 65);
        }
    }
    cfs_close(f);
    return rc;
}

static int get_path(cli_ctx *ctx, const copy_opts *o, const char *src, const cfs_attr *a,
                    const char *dst);

static int get_dir(cli_ctx *ctx, const copy_opts *o, const char *src, const cfs_attr *a,
                   const char *dst)
{
    if (mkdir(dst, (a->mode & 0777) | 0700) < 0 && errno != EEXIST) {
        int rc = -errno;
        cli_error(ctx, dst, rc);
        return rc;
    }
    cfs_dirent *ents;
    size_t n;
    int rc = cli_readdir_all(ctx, a->ino, true, &ents, &n);
    if (rc < 0) {
        cli_error(ctx, src, rc);
        return rc;
    }
    int worst = 0;
    char rchild[CFS_PATH_MAX], lchild[4096];
    for (size_t i = 0; i < n; i++) {
        if (cli_join(src, ents[i].name, rchild) < 0) continue;
        snprintf(lchild, sizeof(lchild), "%s/%s", dst, ents[i].name);
        cfs_attr ca;
        if (ents[i].has_attr)
            ca = ents[i].attr;
        else if ((rc = cfs_lookup(ctx->fs, a->ino, ents[i].name, &ctx->cred, &ca)) < 0) {
            cli_error(ctx, rchild, rc);
            worst = rc;
            continue;
        }
        rc = get_path(ctx, o, rchild, &ca, lchild);
        if (rc < 0) worst = rc;
    }
    cli_dirents_free(ents, n);
    return worst;
}

static int get_path(cli_ctx *ctx, const copy_opts *o, const char *src, const cfs_attr *a,
                    const char *dst)
{
    if (S_ISDIR(a->mode)) {
        if (!o->recursive) {
            cli_errorf(ctx, "%s: Is a directory (use -r)", src);
            return -EISDIR;
        }
        return get_dir(ctx, o, src, a, dst);
    }
    if (S_ISLNK(a->mode)) {
        char target[CFS_PATH_MAX];
        int rc = cfs_readlink(ctx->fs, a->ino, &ctx->cred, target, sizeof(target));
        if (rc >= 0 && symlink(target, dst) < 0) rc = -errno;
        if (rc < 0) cli_error(ctx, dst, rc);
        return rc < 0 ? rc : 0;
    }
    int flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | (o->force ? 0 : O_EXCL);
    int fd = open(dst, flags, a->mode & 0777);
    if (fd < 0) {
        int rc = -errno;
        cli_error(ctx, dst, rc);
        return rc;
    }
    char name[CFS_NAME_MAX + 1];
    if (cli_basename(src, name) < 0) strcpy(name, "file");
    char hex[65];
    int rc = fetch(ctx, a, fd, name, true, hex);
    if (rc == 0 && fsync(fd) < 0 && errno != EINVAL) rc = -errno;
    if (close(fd) < 0 && rc == 0) rc = -errno;
    if (rc == 0) {
        char want[65];
        int r = recorded_digest(ctx, a, want);
        if (r == 1 && strcmp(want, hex) != 0) {
            cli_errorf(ctx, "%s: checksum mismatch (recorded %s, received %s)", src, want, hex);
            unlink(dst);
            return -EIO;
        }
        if (r < 0) rc = r;
    }
    if (rc < 0) {
        cli_error(ctx, src, rc);
        unlink(dst);
    }
    return rc;
}

int cmd_get(cli_ctx *ctx, int argc, char **argv)
{
    copy_opts o;
    int u = parse_copy_opts(ctx, argc, argv, &o, true);
    if (u) return u;
    if (argc - optind < 2) return cli_usage(ctx, "need SRC... and DST");
    if (!cli_fs(ctx)) return CLI_ERR;
    const char *dst = argv[argc - 1];
    struct stat st;
    bool dst_dir = stat(dst, &st) == 0 && S_ISDIR(st.st_mode);
    if (argc - optind > 2 && !dst_dir) {
        cli_error(ctx, dst, -ENOTDIR);
        return CLI_ERR;
    }
    int status = CLI_OK;
    char norm[CFS_PATH_MAX], local[4096], base[CFS_NAME_MAX + 1];
    for (int i = optind; i < argc - 1; i++) {
        cfs_attr a;
        if (cli_resolve(ctx, argv[i], true, norm, &a) < 0) {
            status = CLI_ERR;
            continue;
        }
        if (dst_dir) {
            if (cli_basename(norm, base) < 0) {
                cli_error(ctx, argv[i], -EINVAL);
                status = CLI_ERR;
                continue;
            }
            snprintf(local, sizeof(local), "%s/%s", dst, base);
        } else {
            snprintf(local, sizeof(local), "%s", dst);
        }
        if (get_path(ctx, &o, norm, &a, local) < 0) status = CLI_ERR;
    }
    return status;
}

int cmd_cat(cli_ctx *ctx, int argc, char **argv)
{
    optind = 0;
    if (getopt(argc, argv, "") != -1) return cli_usage(ctx, "bad option");
    if (optind >= argc) return cli_usage(ctx, "missing PATH");
    if (!cli_fs(ctx)) return CLI_ERR;
    int status = CLI_OK;
    char norm[CFS_PATH_MAX];
    for (int i = optind; i < argc; i++) {
        cfs_attr a;
        if (cli_resolve(ctx, argv[i], true, norm, &a) < 0) {
            status = CLI_ERR;
            continue;
        }
        if (S_ISDIR(a.mode)) {
            cli_error(ctx, argv[i], -EISDIR);
            status = CLI_ERR;
            continue;
        }
        int rc = fetch(ctx, &a, STDOUT_FILENO, argv[i], false, NULL);
        if (rc < 0) {
            cli_error(ctx, argv[i], rc);
            status = CLI_ERR;
        }
    }
    return status;
}

/* ------------------------------------------------------------------ cp */

int cmd_cp(cli_ctx *ctx, int argc, char **argv)
{
    copy_opts o;
    int u = parse_copy_opts(ctx, argc, argv, &o, false);
    if (u) return u;
    if (argc - optind != 2) return cli_usage(ctx, "need SRC and DST");
    if (!cli_fs(ctx)) return CLI_ERR;
    char norm[CFS_PATH_MAX];
    cfs_attr a;
    if (cli_resolve(ctx, argv[optind], true, norm, &a) < 0) return CLI_ERR;
    if (!S_ISREG(a.mode)) {
        cli_error(ctx, argv[optind], S_ISDIR(a.mode) ? -EISDIR : -EINVAL);
        return CLI_ERR;
    }
    char dir[CFS_PATH_MAX], name[CFS_NAME_MAX + 1];
    cfs_attr da;
    bool into;
    int rc = dest_in_cluster(ctx, argv[optind + 1], false, dir, &da, name, &into);
    if (rc == 0 && into) rc = cli_basename(norm, name);
    if (rc < 0) {
        cli_error(ctx, argv[optind + 1], rc);
        return CLI_ERR;
    }
    cfs_file *sf;
    rc = cfs_open(ctx->fs, a.ino, O_RDONLY, &ctx->cred, &sf);
    if (rc < 0) {
        cli_error(ctx, argv[optind], rc);
        return CLI_ERR;
    }
    copy_src s = {.fd = -1, .remote = sf, .size = a.size, .label = name};
    rc = copy_in(ctx, &s, da.ino, dir, name, a.mode & 0777, o.force, o.verify);
    cfs_close(sf);
    return rc < 0 ? CLI_ERR : CLI_OK;
}
