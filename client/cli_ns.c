/* Namespace commands: ls, stat, mkdir, rm, mv, ln, chmod, chown. */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "client/cli.h"

static const char *type_name(uint32_t mode)
{
    return S_ISDIR(mode) ? "dir" : S_ISLNK(mode) ? "symlink" : "file";
}

static int64_t ts_ns(const struct timespec *t)
{
    return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

/* ------------------------------------------------------------------ ls */

typedef struct ls_opts {
    bool longfmt, recursive, human, dironly, json;
    bool first_json;
    bool headers;
} ls_opts;

static void owner_name(uint32_t uid, char *buf, size_t n)
{
    struct passwd *pw = getpwuid(uid);
    if (pw)
        snprintf(buf, n, "%s", pw->pw_name);
    else
        snprintf(buf, n, "%u", uid);
}

static void group_name(uint32_t gid, char *buf, size_t n)
{
    struct group *gr = getgrgid(gid);
    if (gr)
        snprintf(buf, n, "%s", gr->gr_name);
    else
        snprintf(buf, n, "%u", gid);
}

static void ls_print(cli_ctx *ctx, ls_opts *o, const char *path, const char *name,
                     const cfs_attr *a)
{
    char target[CFS_PATH_MAX] = "";
    if (S_ISLNK(a->mode) && (o->longfmt || o->json)) {
        if (cfs_readlink(ctx->fs, a->ino, &ctx->cred, target, sizeof(target)) < 0) target[0] = 0;
    }
    if (o->json) {
        printf("%s\n  {\"path\": ", o->first_json ? "" : ",");
        o->first_json = false;
        json_str(stdout, path);
        printf(", \"name\": ");
        json_str(stdout, name);
        printf(", \"type\": \"%s\", \"ino\": %llu, \"mode\": \"%04o\", \"uid\": %u, "
               "\"gid\": %u, \"nlink\": %u, \"size\": %llu, \"mtime_ns\": %lld",
               type_name(a->mode), (unsigned long long)a->ino, a->mode & 07777, a->uid, a->gid,
               a->nlink, (unsigned long long)a->size, (long long)ts_ns(&a->mtime));
        if (S_ISLNK(a->mode)) {
            printf(", \"target\": ");
            json_str(stdout, target);
        }
        printf("}");
        return;
    }
    if (!o->longfmt) {
        printf("%s\n", name);
        return;
    }
    char mode[11], own[64], grp[64], size[32], when[32];
    cli_mode_string(a->mode, mode);
    owner_name(a->uid, own, sizeof(own));
    group_name(a->gid, grp, sizeof(grp));
    if (o->human)
        cli_human(a->size, size, sizeof(size));
    else
        snprintf(size, sizeof(size), "%llu", (unsigned long long)a->size);
    cli_time_string(&a->mtime, when, sizeof(when));
    printf("%s %3u %-8s %-8s %10s %s %s%s%s\n", mode, a->nlink, own, grp, size, when, name,
           target[0] ? " -> " : "", target);
}

static int ls_dir(cli_ctx *ctx, ls_opts *o, const char *path, const cfs_attr *a)
{
    cfs_dirent *ents;
    size_t n;
    int rc = cli_readdir_all(ctx, a->ino, true, &ents, &n);
    if (rc < 0) {
        cli_error(ctx, path, rc);
        return rc;
    }
    if (o->headers && !o->json) printf("%s:\n", path);
    char *child = malloc(CFS_PATH_MAX);
    if (!child) {
        cli_dirents_free(ents, n);
        return -ENOMEM;
    }
    int worst = 0;
    for (size_t i = 0; i < n; i++) {
        cfs_attr ca;
        if (ents[i].has_attr) {
            ca = ents[i].attr;
        } else if ((rc = cfs_lookup(ctx->fs, a->ino, ents[i].name, &ctx->cred, &ca)) < 0) {
            cli_error(ctx, ents[i].name, rc);
            worst = rc;
            continue;
        }
        if (cli_join(path, ents[i].name, child) < 0) continue;
        ls_print(ctx, o, child, ents[i].name, &ca);
    }
    if (o->recursive) {
        for (size_t i = 0; i < n; i++) {
            if (!ents[i].has_attr || !S_ISDIR(ents[i].attr.mode)) continue;
            if (cli_join(path, ents[i].name, child) < 0) continue;
            if (!o->json) printf("\n");
            rc = ls_dir(ctx, o, child, &ents[i].attr);
            if (rc < 0) worst = rc;
        }
    }
    free(child);
    cli_dirents_free(ents, n);
    return worst;
}

int cmd_ls(cli_ctx *ctx, int argc, char **argv)
{
    ls_opts o = {.first_json = true};
    static const struct option lo[] = {{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
    optind = 0;
    int c;
    while ((c = getopt_long(argc, argv, "lRhda", lo, NULL)) != -1) {
        switch (c) {
        case 'a': /* names starting with '.' are always listed */
            break;
        case 'l':
            o.longfmt = true;
            break;
        case 'R':
            o.recursive = true;
            break;
        case 'h':
            o.human = true;
            break;
        case 'd':
            o.dironly = true;
            break;
        case 'j':
            o.json = o.longfmt = true;
            break;
        default:
            return cli_usage(ctx, "bad option");
        }
    }
    char *defaults[] = {"/"};
    char **paths = optind < argc ? argv + optind : defaults;
    int npaths = optind < argc ? argc - optind : 1;
    o.headers = npaths > 1 || o.recursive;
    if (!cli_fs(ctx)) return CLI_ERR;
    if (o.json) printf("[");
    int status = CLI_OK;
    char norm[CFS_PATH_MAX];
    for (int i = 0; i < npaths; i++) {
        cfs_attr a;
        if (cli_resolve(ctx, paths[i], true, norm, &a) < 0) {
            status = CLI_ERR;
            continue;
        }
        if (!S_ISDIR(a.mode) || o.dironly) {
            char name[CFS_NAME_MAX + 1];
            if (cli_basename(norm, name) < 0) strcpy(name, "/");
            ls_print(ctx, &o, norm, o.dironly ? norm : name, &a);
            continue;
        }
        if (i > 0 && !o.json) printf("\n");
        if (ls_dir(ctx, &o, norm, &a) < 0) status = CLI_ERR;
    }
    if (o.json) printf("\n]\n");
    return status;
}

/* ------------------------------------------------------------------ stat */

int cmd_stat(cli_ctx *ctx, int argc, char **argv)
{
    bool json = false;
    static const struct option lo[] = {{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
    optind = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        if (c == 'j')
            json = true;
        else
            return cli_usage(ctx, "bad option");
    }
    if (optind >= argc) return cli_usage(ctx, "missing PATH");
    int status = CLI_OK;
    if (json) printf("[");
    char norm[CFS_PATH_MAX];
    for (int i = optind; i < argc; i++) {
        cfs_attr a;
        if (cli_resolve(ctx, argv[i], false, norm, &a) < 0) {
            status = CLI_ERR;
            continue;
        }
        if (json) {
            printf("%s\n  {\"path\": ", i == optind ? "" : ",");
            json_str(stdout, norm);
            printf(", \"ino\": %llu, \"type\": \"%s\", \"mode\": \"%04o\", \"uid\": %u, "
                   "\"gid\": %u, \"nlink\": %u, \"size\": %llu, \"atime_ns\": %lld, "
                   "\"mtime_ns\": %lld, \"ctime_ns\": %lld, \"goal\": %u, \"generation\": %llu}",
                   (unsigned long long)a.ino, type_name(a.mode), a.mode & 07777, a.uid, a.gid,
                   a.nlink, (unsigned long long)a.size, (long long)ts_ns(&a.atime),
                   (long long)ts_ns(&a.mtime), (long long)ts_ns(&a.ctime), a.goal,
                   (unsigned long long)a.generation);
            continue;
        }
        char mode[11], at[32], mt[32], ct[32];
        cli_mode_string(a.mode, mode);
        cli_time_string(&a.atime, at, sizeof(at));
        cli_time_string(&a.mtime, mt, sizeof(mt));
        cli_time_string(&a.ctime, ct, sizeof(ct));
        printf("  File: %s\n  Type: %s\n  Size: %llu\n Inode: %llu  Links: %u  Goal: %u\n"
               "Access: (%04o/%s)  Uid: %u  Gid: %u\nAccess: %s\nModify: %s\nChange: %s\n",
               norm, type_name(a.mode), (unsigned long long)a.size, (unsigned long long)a.ino,
               a.nlink, a.goal, a.mode & 07777, mode, a.uid, a.gid, at, mt, ct);
    }
    if (json) printf("\n]\n");
    return status;
}

/* ------------------------------------------------------------------ mkdir */

int cmd_mkdir(cli_ctx *ctx, int argc, char **argv)
{
    bool parents = false;
    uint32_t mode = 0777 & ~ctx->umask;
    optind = 0;
    int c;
    while ((c = getopt(argc, argv, "pm:")) != -1) {
        if (c == 'p')
            parents = true;
        else if (c == 'm') {
            if (cli_parse_mode(optarg, &mode) < 0)
                return cli_usage(ctx, "invalid mode '%s'", optarg);
        } else
            return cli_usage(ctx, "bad option");
    }
    if (optind >= argc) return cli_usage(ctx, "missing PATH");
    cfs_fs *fs = cli_fs(ctx);
    if (!fs) return CLI_ERR;
    int status = CLI_OK;
    char norm[CFS_PATH_MAX];
    for (int i = optind; i < argc; i++) {
        int rc = cli_normalize(argv[i], norm);
        if (rc == 0) rc = cfs_mkdir_path(fs, norm, mode, parents, &ctx->cred, NULL);
        if (rc < 0) {
            cli_error(ctx, argv[i], rc);
            status = CLI_ERR;
        }
    }
    return status;
}

/* ------------------------------------------------------------------ rm */

static int resolve_parent(cli_ctx *ctx, const char *norm, cfs_attr *parent, char *name)
{
    char pp[CFS_PATH_MAX];
    int rc = cfs_path_split(norm, pp, name);
    if (rc == 0) rc = cfs_resolve(ctx->fs, pp, true, &ctx->cred, parent);
    if (rc == 0 && !S_ISDIR(parent->mode)) rc = -ENOTDIR;
    return rc;
}

/* Removes name (with attrs a) from directory `parent`, recursively for directories. */
static int rm_tree(cli_ctx *ctx, uint64_t parent, const char *name, const char *path,
                   const cfs_attr *a)
{
    if (S_ISDIR(a->mode)) {
        cfs_dirent *ents;
        size_t n;
        int rc = cli_readdir_all(ctx, a->ino, true, &ents, &n);
        if (rc < 0) {
            cli_error(ctx, path, rc);
            return rc;
        }
        char *child = malloc(CFS_PATH_MAX);
        for (size_t i = 0; rc == 0 && child && i < n; i++) {
            cfs_attr ca;
            if (ents[i].has_attr)
                ca = ents[i].attr;
            else if ((rc = cfs_lookup(ctx->fs, a->ino, ents[i].name, &ctx->cred, &ca)) < 0)
                break;
            if (cli_join(path, ents[i].name, child) < 0) strcpy(child, ents[i].name);
            rc = rm_tree(ctx, a->ino, ents[i].name, child, &ca);
        }
        if (!child) rc = -ENOMEM;
        free(child);
        cli_dirents_free(ents, n);
        if (rc < 0) return rc;
        rc = cfs_rmdir(ctx->fs, parent, name, &ctx->cred);
        if (rc < 0) cli_error(ctx, path, rc);
        return rc;
    }
    int rc = cfs_unlink(ctx->fs, parent, name, &ctx->cred);
    if (rc < 0) cli_error(ctx, path, rc);
    return rc;
}

int cmd_rm(cli_ctx *ctx, int argc, char **argv)
{
    bool recursive = false, force = false;
    optind = 0;
    int c;
    while ((c = getopt(argc, argv, "rRf")) != -1) {
        if (c == 'r' || c == 'R')
            recursive = true;
        else if (c == 'f')
            force = true;
        else
            return cli_usage(ctx, "bad option");
    }
    if (optind >= argc) return force ? CLI_OK : cli_usage(ctx, "missing PATH");
    if (!cli_fs(ctx)) return CLI_ERR;
    int status = CLI_OK;
    char norm[CFS_PATH_MAX];
    for (int i = optind; i < argc; i++) {
        char name[CFS_NAME_MAX + 1];
        cfs_attr parent, a;
        int rc = cli_normalize(argv[i], norm);
        if (rc == 0 && strcmp(norm, "/") == 0) rc = -EBUSY;
        if (rc == 0) rc = resolve_parent(ctx, norm, &parent, name);
        if (rc == 0) rc = cfs_lookup(ctx->fs, parent.ino, name, &ctx->cred, &a);
        if (rc == -ENOENT && force) continue;
        if (rc == 0 && S_ISDIR(a.mode) && !recursive) rc = -EISDIR;
        if (rc < 0) {
            cli_error(ctx, argv[i], rc);
            status = CLI_ERR;
            continue;
        }
        if (rm_tree(ctx, parent.ino, name, norm, &a) < 0) status = CLI_ERR;
    }
    return status;
}

/* ------------------------------------------------------------------ mv */

/* Where SRC goes for DST: into DST when it is a directory, else DST itself. */
static int target_of(cli_ctx *ctx, const char *src_norm, const char *dst_norm, bool many,
                     cfs_attr *dparent, char *dname)
{
    cfs_attr d;
    int rc = cfs_resolve(ctx->fs, dst_norm, true, &ctx->cred, &d);
    if (rc == 0 && S_ISDIR(d.mode)) {
        *dparent = d;
        return cli_basename(src_norm, dname);
    }
    if (many) return rc == 0 ? -ENOTDIR : rc;
    if (rc < 0 && rc != -ENOENT) return rc;
    return resolve_parent(ctx, dst_norm, dparent, dname);
}

int cmd_mv(cli_ctx *ctx, int argc, char **argv)
{
    optind = 0;
    if (getopt(argc, argv, "") != -1) return cli_usage(ctx, "bad option");
    if (argc - optind < 2) return cli_usage(ctx, "need SRC and DST");
    if (!cli_fs(ctx)) return CLI_ERR;
    char dst[CFS_PATH_MAX], src[CFS_PATH_MAX];
    int rc = cli_normalize(argv[argc - 1], dst);
    if (rc < 0) {
        cli_error(ctx, argv[argc - 1], rc);
        return CLI_ERR;
    }
    bool many = argc - optind > 2;
    int status = CLI_OK;
    for (int i = optind; i < argc - 1; i++) {
        char sname[CFS_NAME_MAX + 1], dname[CFS_NAME_MAX + 1];
        cfs_attr sp, dp;
        rc = cli_normalize(argv[i], src);
        if (rc == 0) rc = resolve_parent(ctx, src, &sp, sname);
        if (rc < 0) {
            cli_error(ctx, argv[i], rc);
            status = CLI_ERR;
            continue;
        }
        rc = target_of(ctx, src, dst, many, &dp, dname);
        if (rc < 0) {
            cli_error(ctx, argv[argc - 1], rc);
            status = CLI_ERR;
            continue;
        }
        rc = cfs_rename(ctx->fs, sp.ino, sname, dp.ino, dname, 0, &ctx->cred);
        if (rc < 0) {
            cli_error(ctx, argv[i], rc);
            status = CLI_ERR;
        }
    }
    return status;
}

/* ------------------------------------------------------------------ ln */

int cmd_ln(cli_ctx *ctx, int argc, char **argv)
{
    bool sym = false;
    optind = 0;
    int c;
    while ((c = getopt(argc, argv, "s")) != -1) {
        if (c == 's')
            sym = true;
        else
            return cli_usage(ctx, "bad option");
    }
    if (argc - optind != 2) return cli_usage(ctx, "need TARGET and LINK");
    if (!cli_fs(ctx)) return CLI_ERR;
    const char *target = argv[optind];
    char link[CFS_PATH_MAX], tnorm[CFS_PATH_MAX];
    char lname[CFS_NAME_MAX + 1];
    cfs_attr lp;
    int rc = cli_normalize(argv[optind + 1], link);
    if (rc == 0) rc = cli_normalize(target, tnorm);
    if (rc == 0) rc = target_of(ctx, tnorm, link, false, &lp, lname);
    if (rc < 0) {
        cli_error(ctx, argv[optind + 1], rc);
        return CLI_ERR;
    }
    if (sym) {
        /* The target is stored as given (relative targets stay relative). */
        rc = cfs_symlink(ctx->fs, lp.ino, lname, target, &ctx->cred, NULL);
    } else {
        cfs_attr t;
        rc = cfs_resolve(ctx->fs, tnorm, false, &ctx->cred, &t);
        if (rc < 0) {
            cli_error(ctx, target, rc);
            return CLI_ERR;
        }
        rc = cfs_link(ctx->fs, t.ino, lp.ino, lname, &ctx->cred, NULL);
    }
    if (rc < 0) {
        cli_error(ctx, argv[optind + 1], rc);
        return CLI_ERR;
    }
    return CLI_OK;
}

/* ------------------------------------------------------------------ chmod / chown */

typedef struct attr_change {
    uint32_t valid;
    cfs_attr in;
} attr_change;

static int apply_change(cli_ctx *ctx, const char *path, const cfs_attr *a, void *arg)
{
    attr_change *ch = arg;
    int rc = cfs_setattr(ctx->fs, a->ino, &ch->in, ch->valid, &ctx->cred, NULL);
    if (rc < 0) cli_error(ctx, path, rc);
    return rc;
}

static int change_paths(cli_ctx *ctx, int first, int argc, char **argv, bool recursive,
                        attr_change *ch)
{
    if (!cli_fs(ctx)) return CLI_ERR;
    int status = CLI_OK;
    char norm[CFS_PATH_MAX];
    for (int i = first; i < argc; i++) {
        cfs_attr a;
        if (cli_resolve(ctx, argv[i], true, norm, &a) < 0) {
            status = CLI_ERR;
            continue;
        }
        int rc =
            recursive ? cli_walk(ctx, norm, &a, apply_change, ch) : apply_change(ctx, norm, &a, ch);
        if (rc < 0) status = CLI_ERR;
    }
    return status;
}

int cmd_chmod(cli_ctx *ctx, int argc, char **argv)
{
    bool recursive = false;
    optind = 0;
    int c;
    while ((c = getopt(argc, argv, "R")) != -1) {
        if (c == 'R')
            recursive = true;
        else
            return cli_usage(ctx, "bad option");
    }
    if (argc - optind < 2) return cli_usage(ctx, "need MODE and PATH");
    attr_change ch;
    memset(&ch, 0, sizeof(ch));
    if (cli_parse_mode(argv[optind], &ch.in.mode) < 0)
        return cli_usage(ctx, "invalid mode '%s' (octal, e.g. 755)", argv[optind]);
    ch.valid = CFS_SET_MODE;
    return change_paths(ctx, optind + 1, argc, argv, recursive, &ch);
}

int cmd_chown(cli_ctx *ctx, int argc, char **argv)
{
    bool recursive = false;
    optind = 0;
    int c;
    while ((c = getopt(argc, argv, "R")) != -1) {
        if (c == 'R')
            recursive = true;
        else
            return cli_usage(ctx, "bad option");
    }
    if (argc - optind < 2) return cli_usage(ctx, "need OWNER[:GROUP] and PATH");
    attr_change ch;
    memset(&ch, 0, sizeof(ch));
    uint32_t uid, gid;
    if (cli_parse_owner(argv[optind], &uid, &gid) < 0)
        return cli_usage(ctx, "invalid owner '%s'", argv[optind]);
    if (uid != UINT32_MAX) {
        ch.valid |= CFS_SET_UID;
        ch.in.uid = uid;
    }
    if (gid != UINT32_MAX) {
        ch.valid |= CFS_SET_GID;
        ch.in.gid = gid;
    }
    return change_paths(ctx, optind + 1, argc, argv, recursive, &ch);
}
