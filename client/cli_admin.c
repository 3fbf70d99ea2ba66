/* Administrative commands: setrep, fileinfo, df, status, fsck. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "client/chunkfs_admin.h"
#include "client/cli.h"
#include "common/status_json.h"

/* Parses the single option --json (and -h for df); returns -1 on a bad option. */
static int parse_json_flag(int argc, char **argv, const char *shortopts, bool *json, bool *human)
{
    static const struct option lo[] = {{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
    optind = 0;
    int c;
    while ((c = getopt_long(argc, argv, shortopts, lo, NULL)) != -1) {
        if (c == 'j')
            *json = true;
        else if (c == 'h' && human)
            *human = true;
        else
            return -1;
    }
    return 0;
}

int cmd_setrep(cli_ctx *ctx, int argc, char **argv)
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
    if (argc - optind != 2) return cli_usage(ctx, "need N and PATH");
    const char *n = argv[optind];
    if (!*n || strspn(n, "0123456789") != strlen(n) || strlen(n) > 3 || atoi(n) < 1)
        return cli_usage(ctx, "invalid replication '%s' (1..16)", n);
    char norm[CFS_PATH_MAX];
    cfs_attr a;
    if (cli_resolve(ctx, argv[optind + 1], true, norm, &a) < 0) return CLI_ERR;
    int rc = cfs_set_goal(ctx->fs, a.ino, (uint32_t)atoi(n), recursive, &ctx->cred);
    if (rc < 0) {
        cli_error(ctx, argv[optind + 1], rc);
        return CLI_ERR;
    }
    return CLI_OK;
}

int cmd_fileinfo(cli_ctx *ctx, int argc, char **argv)
{
    bool json = false;
    if (parse_json_flag(argc, argv, "", &json, NULL) < 0) return cli_usage(ctx, "bad option");
    if (argc - optind != 1) return cli_usage(ctx, "need one PATH");
    char norm[CFS_PATH_MAX];
    cfs_attr a;
    if (cli_resolve(ctx, argv[optind], true, norm, &a) < 0) return CLI_ERR;
    if (!S_ISREG(a.mode)) {
        cli_error(ctx, argv[optind], S_ISDIR(a.mode) ? -EISDIR : -EINVAL);
        return CLI_ERR;
    }
    cfs_file_info fi;
    int rc = cfs_file_info_get(ctx->fs, a.ino, &ctx->cred, &fi);
    if (rc < 0) {
        cli_error(ctx, argv[optind], rc);
        return CLI_ERR;
    }
    if (json) {
        printf("{\"path\": ");
        json_str(stdout, norm);
        printf(", \"ino\": %llu, \"size\": %llu, \"chunk_size\": %llu, \"goal\": %u, "
               "\"chunks\": [",
               (unsigned long long)a.ino, (unsigned long long)fi.size,
               (unsigned long long)fi.chunk_size, a.goal);
        for (size_t i = 0; i < fi.nchunks; i++) {
            const cfs_chunk *ch = &fi.chunks[i];
            printf("%s\n    {\"index\": %u, \"id\": %llu, \"version\": %llu, \"length\": %llu, "
                   "\"replicas\": [",
                   i ? "," : "", ch->index, (unsigned long long)ch->chunk_id,
                   (unsigned long long)ch->version, (unsigned long long)ch->length);
            for (size_t r = 0; r < ch->nreplicas; r++) {
                printf("%s", r ? ", " : "");
                json_str(stdout, ch->replicas[r].address);
            }
            printf("]}");
        }
        printf("%s]}\n", fi.nchunks ? "\n  " : "");
    } else {
        printf("%s: inode %llu, size %llu, chunk size %llu, goal %u, %zu chunks\n", norm,
               (unsigned long long)a.ino, (unsigned long long)fi.size,
               (unsigned long long)fi.chunk_size, a.goal, fi.nchunks);
        printf("%6s %20s %8s %10s  %s\n", "INDEX", "CHUNK", "VERSION", "LENGTH", "REPLICAS");
        for (size_t i = 0; i < fi.nchunks; i++) {
            const cfs_chunk *ch = &fi.chunks[i];
            printf("%6u %20llu %8llu %10llu  ", ch->index, (unsigned long long)ch->chunk_id,
                   (unsigned long long)ch->version, (unsigned long long)ch->length);
            for (size_t r = 0; r < ch->nreplicas; r++)
                printf("%s%s", r ? "," : "", ch->replicas[r].address);
            printf("%s\n", ch->nreplicas ? "" : "(no live replica)");
        }
    }
    cfs_file_info_free(&fi);
    return CLI_OK;
}

static int get_status(cli_ctx *ctx, Chunkfs__MetaResponse **resp)
{
    cfs_fs *fs = cli_fs(ctx);
    if (!fs) return -ENOTCONN;
    int rc = cfs_cluster_status(fs, &ctx->cred, resp);
    if (rc < 0) cli_error(ctx, ctx->meta, rc);
    return rc;
}

static void size_str(uint64_t v, bool human, char *buf, size_t n)
{
    if (human)
        cli_human(v, buf, n);
    else
        snprintf(buf, n, "%llu", (unsigned long long)v);
}

int cmd_df(cli_ctx *ctx, int argc, char **argv)
{
    bool json = false, human = false;
    if (parse_json_flag(argc, argv, "h", &json, &human) < 0 || optind != argc)
        return cli_usage(ctx, "bad option");
    Chunkfs__MetaResponse *resp;
    if (get_status(ctx, &resp) < 0) return CLI_ERR;
    const Chunkfs__ClusterStatusResp *st = resp->cluster_status;
    uint64_t cap = 0, used = 0;
    for (size_t i = 0; i < st->n_chunkservers; i++) {
        if (strcmp(st->chunkservers[i]->state, "dead") == 0) continue;
        cap += st->chunkservers[i]->capacity;
        used += st->chunkservers[i]->used;
    }
    uint64_t avail = cap > used ? cap - used : 0;
    if (json) {
        printf("{\"total\": {\"capacity\": %llu, \"used\": %llu, \"free\": %llu}, "
               "\"chunkservers\": [",
               (unsigned long long)cap, (unsigned long long)used, (unsigned long long)avail);
        for (size_t i = 0; i < st->n_chunkservers; i++) {
            const Chunkfs__ChunkserverStatus *cs = st->chunkservers[i];
            printf("%s\n  {\"id\": %llu, \"address\": ", i ? "," : "", (unsigned long long)cs->id);
            json_str(stdout, cs->address);
            printf(", \"state\": ");
            json_str(stdout, cs->state);
            printf(", \"capacity\": %llu, \"used\": %llu, \"free\": %llu, \"chunks\": %llu}",
                   (unsigned long long)cs->capacity, (unsigned long long)cs->used,
                   (unsigned long long)(cs->capacity > cs->used ? cs->capacity - cs->used : 0),
                   (unsigned long long)cs->chunks);
        }
        printf("%s]}\n", st->n_chunkservers ? "\n" : "");
    } else {
        char a[32], b[32], c[32];
        printf("%-24s %-8s %12s %12s %12s %5s\n", "CHUNKSERVER", "STATE", "CAPACITY", "USED",
               "FREE", "USE%");
        for (size_t i = 0; i < st->n_chunkservers; i++) {
            const Chunkfs__ChunkserverStatus *cs = st->chunkservers[i];
            uint64_t fr = cs->capacity > cs->used ? cs->capacity - cs->used : 0;
            size_str(cs->capacity, human, a, sizeof(a));
            size_str(cs->used, human, b, sizeof(b));
            size_str(fr, human, c, sizeof(c));
            printf("%-24s %-8s %12s %12s %12s %4llu%%\n", cs->address, cs->state, a, b, c,
                   (unsigned long long)(cs->capacity ? cs->used * 100 / cs->capacity : 0));
        }
        size_str(cap, human, a, sizeof(a));
        size_str(used, human, b, sizeof(b));
        size_str(avail, human, c, sizeof(c));
        printf("%-24s %-8s %12s %12s %12s %4llu%%\n", "total", "", a, b, c,
               (unsigned long long)(cap ? used * 100 / cap : 0));
    }
    chunkfs__meta_response__free_unpacked(resp, NULL);
    return CLI_OK;
}

int cmd_status(cli_ctx *ctx, int argc, char **argv)
{
    bool json = false;
    if (parse_json_flag(argc, argv, "", &json, NULL) < 0 || optind != argc)
        return cli_usage(ctx, "bad option");
    Chunkfs__MetaResponse *resp;
    if (get_status(ctx, &resp) < 0) return CLI_ERR;
    const Chunkfs__ClusterStatusResp *st = resp->cluster_status;
    if (json) {
        cfs_status_json_write(stdout, st, 0, NULL); /* the schema of status.json */
    } else {
        printf("cluster %s\n\nMETASERVERS\n%4s %-22s %-10s %6s %10s %10s %-9s %s\n", st->cluster_id,
               "ID", "ADDRESS", "ROLE", "TERM", "COMMIT", "APPLIED", "REACHABLE", "HTTP");
        for (size_t i = 0; i < st->n_metaservers; i++) {
            const Chunkfs__MetaserverStatus *m = st->metaservers[i];
            printf("%4llu %-22s %-10s %6llu %10llu %10llu %-9s %s\n", (unsigned long long)m->id,
                   m->address, m->role, (unsigned long long)m->term,
                   (unsigned long long)m->commit_index, (unsigned long long)m->applied_index,
                   m->reachable ? "yes" : "no", *m->http ? m->http : "-");
        }
        printf("\nCHUNKSERVERS\n%10s %-22s %-8s %-10s %12s %12s %8s %s\n", "ID", "ADDRESS", "STATE",
               "DOMAIN", "CAPACITY", "USED", "CHUNKS", "HTTP");
        for (size_t i = 0; i < st->n_chunkservers; i++) {
            const Chunkfs__ChunkserverStatus *cs = st->chunkservers[i];
            char a[32], b[32];
            cli_human(cs->capacity, a, sizeof(a));
            cli_human(cs->used, b, sizeof(b));
            printf("%10llu %-22s %-8s %-10s %12s %12s %8llu %s\n", (unsigned long long)cs->id,
                   cs->address, cs->state, cs->domain, a, b, (unsigned long long)cs->chunks,
                   *cs->http ? cs->http : "-");
        }
        printf("\nfiles %llu, directories %llu, chunks %llu: under-replicated %llu, missing "
               "%llu, corrupt %llu\n",
               (unsigned long long)st->files, (unsigned long long)st->dirs,
               (unsigned long long)st->chunks, (unsigned long long)st->under_replicated,
               (unsigned long long)st->missing, (unsigned long long)st->corrupt);
        printf("\nHEALING\n");
        cli_print_progress(st);
    }
    chunkfs__meta_response__free_unpacked(resp, NULL);
    return CLI_OK;
}

int cmd_fsck(cli_ctx *ctx, int argc, char **argv)
{
    bool json = false;
    if (parse_json_flag(argc, argv, "", &json, NULL) < 0 || optind != argc)
        return cli_usage(ctx, "bad option");
    cfs_fs *fs = cli_fs(ctx);
    if (!fs) return CLI_ERR;
    Chunkfs__MetaResponse *resp;
    int rc = cfs_fsck(fs, &ctx->cred, &resp);
    if (rc < 0) {
        cli_error(ctx, ctx->meta, rc);
        return CLI_ERR;
    }
    const Chunkfs__FsckResp *f = resp->fsck;
    if (json) {
        printf("{\"chunks\": %llu, \"healthy\": %llu, \"under_replicated\": %llu, "
               "\"missing\": %llu, \"corrupt\": %llu, \"over_replicated\": %llu, "
               "\"problems\": [",
               (unsigned long long)f->chunks, (unsigned long long)f->healthy,
               (unsigned long long)f->under_replicated, (unsigned long long)f->missing,
               (unsigned long long)f->corrupt, (unsigned long long)f->over_replicated);
        for (size_t i = 0; i < f->n_problems; i++) {
            printf("%s", i ? ", " : "");
            json_str(stdout, f->problems[i]);
        }
        printf("]}\n");
    } else {
        printf("chunks %llu: healthy %llu, under-replicated %llu, missing %llu, corrupt %llu, "
               "over-replicated %llu\n",
               (unsigned long long)f->chunks, (unsigned long long)f->healthy,
               (unsigned long long)f->under_replicated, (unsigned long long)f->missing,
               (unsigned long long)f->corrupt, (unsigned long long)f->over_replicated);
        for (size_t i = 0; i < f->n_problems; i++)
            printf("  %s\n", f->problems[i]);
        printf("%s\n", f->missing || f->corrupt ? "status: DAMAGED" : "status: HEALTHY");
    }
    int status = f->missing || f->corrupt ? CLI_ERR : CLI_OK;
    chunkfs__meta_response__free_unpacked(resp, NULL);
    return status;
}
