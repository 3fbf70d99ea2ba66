/* `chunkfs admin`: cluster maintenance commands.
 *   decommission SERVER | recommission SERVER   (SERVER = chunkserver id or address)
 *   drain-status SERVER                         (replicas left; whether it can be stopped)
 *   progress [--json]                           (repair, trim, rebalance, drain, gc figures)
 *   meta add ID=HOST:PORT | meta remove ID | meta transfer-leader ID
 * Each is one AdminReq (or ClusterStatus) to the leader; membership changes wait there. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "client/chunkfs_admin.h"
#include "client/cli.h"
#include "client/fs_internal.h"
#include "common/errors.h"

static int get_status(cli_ctx *ctx, Chunkfs__MetaResponse **resp)
{
    cfs_fs *fs = cli_fs(ctx);
    if (!fs) return -EIO;
    int rc = cfs_cluster_status(fs, &ctx->cred, resp);
    if (rc < 0) cli_error(ctx, NULL, rc);
    return rc;
}

/* SERVER as a chunkserver id: digits are taken as an id, anything else is looked up as an
 * address in the cluster status. 0 or -ENOENT (message printed). */
static int resolve_server(cli_ctx *ctx, const char *arg, uint64_t *id, Chunkfs__MetaResponse **keep)
{
    Chunkfs__MetaResponse *resp = NULL;
    int rc = get_status(ctx, &resp);
    if (rc < 0) return rc;
    const Chunkfs__ClusterStatusResp *st = resp->cluster_status;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(arg, &end, 10);
    bool numeric = *arg && !*end && !errno && n > 0;
    for (size_t i = 0; i < st->n_chunkservers; i++) {
        const Chunkfs__ChunkserverStatus *cs = st->chunkservers[i];
        if ((numeric && cs->id == n) || (!numeric && strcmp(cs->address, arg) == 0)) {
            *id = cs->id;
            if (keep)
                *keep = resp;
            else
                chunkfs__meta_response__free_unpacked(resp, NULL);
            return 0;
        }
    }
    chunkfs__meta_response__free_unpacked(resp, NULL);
    cli_errorf(ctx, "no chunkserver '%s' (see chunkfs status)", arg);
    return -ENOENT;
}

static int admin_call(cli_ctx *ctx, const char *op, const char *arg)
{
    cfs_fs *fs = cli_fs(ctx);
    if (!fs) return CLI_ERR;
    Chunkfs__MetaRequest req = CHUNKFS__META_REQUEST__INIT;
    Chunkfs__AdminReq a = CHUNKFS__ADMIN_REQ__INIT;
    a.op = (char *)op;
    a.arg = (char *)arg;
    req.op_case = CHUNKFS__META_REQUEST__OP_ADMIN;
    req.admin = &a;
    Chunkfs__MetaResponse *resp = NULL;
    int rc = meta_call(fs, &ctx->cred, &req, &resp);
    if (rc == 0 && (resp->result_case != CHUNKFS__META_RESPONSE__RESULT_ADMIN || !resp->admin))
        rc = -EPROTO;
    if (rc < 0) {
        if (resp && resp->errmsg && *resp->errmsg)
            cli_errorf(ctx, "%s %s: %s (%s)", op, arg, cfs_strerror(rc), resp->errmsg);
        else
            cli_errorf(ctx, "%s %s: %s", op, arg, cfs_strerror(rc));
    } else {
        printf("%s\n", resp->admin->text ? resp->admin->text : "ok");
    }
    if (resp) chunkfs__meta_response__free_unpacked(resp, NULL);
    return rc < 0 ? CLI_ERR : CLI_OK;
}

static int drain(cli_ctx *ctx, const char *op, int argc, char **argv)
{
    if (argc != 2) return cli_usage(ctx, "%s needs one SERVER (id or address)", op);
    uint64_t id;
    if (resolve_server(ctx, argv[1], &id, NULL) < 0) return CLI_ERR;
    char buf[32];
    snprintf(buf, sizeof(buf), "%" PRIu64, id);
    return admin_call(ctx, op, buf);
}

/* Exit 0 when the server holds no replica and nothing is under-replicated or missing (it
 * can be stopped), 1 otherwise. */
static int drain_status(cli_ctx *ctx, int argc, char **argv)
{
    if (argc != 2) return cli_usage(ctx, "drain-status needs one SERVER (id or address)");
    uint64_t id;
    Chunkfs__MetaResponse *resp = NULL;
    if (resolve_server(ctx, argv[1], &id, &resp) < 0) return CLI_ERR;
    const Chunkfs__ClusterStatusResp *st = resp->cluster_status;
    const Chunkfs__ChunkserverStatus *cs = NULL;
    for (size_t i = 0; i < st->n_chunkservers; i++)
        if (st->chunkservers[i]->id == id) cs = st->chunkservers[i];
    bool done = cs && cs->chunks == 0 && st->under_replicated == 0 && st->missing == 0;
    printf("chunkserver %" PRIu64 " (%s): %s, %" PRIu64 " chunks held; cluster: %" PRIu64
           " under-replicated, %" PRIu64 " missing, %" PRIu64 " queued, %" PRIu64 " copying\n%s\n",
           id, cs ? cs->address : "?", cs ? cs->state : "?", cs ? cs->chunks : 0,
           st->under_replicated, st->missing, st->repair_queued, st->repair_inflight,
           done ? "drained: it can be stopped" : "not drained yet");
    if (cs && strcmp(cs->state, "draining") != 0 && !done)
        printf("note: it is not decommissioned (run chunkfs admin decommission %s)\n", argv[1]);
    chunkfs__meta_response__free_unpacked(resp, NULL);
    return done ? CLI_OK : CLI_ERR;
}

void cli_print_progress(const Chunkfs__ClusterStatusResp *st)
{
    printf("repair:    %" PRIu64 " under-replicated, %" PRIu64 " missing, %" PRIu64
           " queued, %" PRIu64 " copying, %" PRIu64 " scheduled, %" PRIu64
           " done, %.1f copies/min\n",
           st->under_replicated, st->missing, st->repair_queued, st->repair_inflight,
           st->repair_scheduled, st->repair_done, st->repair_per_min);
    printf("trim:      %" PRIu64 " surplus replicas removed\n", st->trimmed);
    printf("drain:     %" PRIu64 " replicas left on draining servers\n", st->draining_replicas);
    printf("rebalance: %s, %" PRIu64 " moving, %" PRIu64 " done, %.1f moves/min\n",
           st->balanced ? "balanced" : "unbalanced", st->rebalance_inflight, st->rebalance_done,
           st->rebalance_per_min);
    printf("gc:        %" PRIu64 " orphan/stale replicas in their grace period\n", st->gc_waiting);
}

static int progress(cli_ctx *ctx, int argc, char **argv)
{
    bool json = argc == 2 && strcmp(argv[1], "--json") == 0;
    if (argc > 2 || (argc == 2 && !json)) return cli_usage(ctx, "progress takes only --json");
    Chunkfs__MetaResponse *resp = NULL;
    if (get_status(ctx, &resp) < 0) return CLI_ERR;
    const Chunkfs__ClusterStatusResp *st = resp->cluster_status;
    if (json) {
        printf("{\"under_replicated\": %" PRIu64 ", \"missing\": %" PRIu64
               ", \"repair_queued\": %" PRIu64 ", \"repair_inflight\": %" PRIu64
               ", \"repair_scheduled\": %" PRIu64 ", \"repair_done\": %" PRIu64
               ", \"trimmed\": %" PRIu64 ", \"draining_replicas\": %" PRIu64
               ", \"rebalance_inflight\": %" PRIu64 ", \"rebalance_done\": %" PRIu64
               ", \"balanced\": %s, \"gc_waiting\": %" PRIu64
               ", \"repair_per_min\": %.1f, \"rebalance_per_min\": %.1f}\n",
               st->under_replicated, st->missing, st->repair_queued, st->repair_inflight,
               st->repair_scheduled, st->repair_done, st->trimmed, st->draining_replicas,
               st->rebalance_inflight, st->rebalance_done, st->balanced ? "true" : "false",
               st->gc_waiting, st->repair_per_min, st->rebalance_per_min);
    } else {
        cli_print_progress(st);
    }
    chunkfs__meta_response__free_unpacked(resp, NULL);
    return CLI_OK;
}

static bool parse_id(const char *s)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    return *s && !*end && !errno && v > 0;
}

static int meta_members(cli_ctx *ctx, int argc, char **argv)
{
    if (argc != 3) return cli_usage(ctx, "meta add ID=HOST:PORT | remove ID | transfer-leader ID");
    const char *sub = argv[1], *arg = argv[2];
    if (strcmp(sub, "add") == 0) {
        const char *eq = strchr(arg, '=');
        char id[32];
        if (!eq || (size_t)(eq - arg) >= sizeof(id) || !eq[1])
            return cli_usage(ctx, "meta add needs ID=HOST:PORT");
        memcpy(id, arg, (size_t)(eq - arg));
        id[eq - arg] = 0;
        if (!parse_id(id)) return cli_usage(ctx, "meta add: bad id '%s'", id);
        return admin_call(ctx, "add-member", arg);
    }
    if (!parse_id(arg)) return cli_usage(ctx, "meta %s: bad id '%s'", sub, arg);
    if (strcmp(sub, "remove") == 0) return admin_call(ctx, "remove-member", arg);
    if (strcmp(sub, "transfer-leader") == 0) return admin_call(ctx, "transfer-leader", arg);
    return cli_usage(ctx, "unknown meta subcommand '%s'", sub);
}

int cmd_admin(cli_ctx *ctx, int argc, char **argv)
{
    if (cli_wants_help(ctx, argc, argv)) return CLI_OK;
    if (argc < 2) return cli_usage(ctx, "missing subcommand");
    const char *sub = argv[1];
    if (strcmp(sub, "decommission") == 0 || strcmp(sub, "recommission") == 0)
        return drain(ctx, sub, argc - 1, argv + 1);
    if (strcmp(sub, "drain-status") == 0) return drain_status(ctx, argc - 1, argv + 1);
    if (strcmp(sub, "progress") == 0) return progress(ctx, argc - 1, argv + 1);
    if (strcmp(sub, "meta") == 0) return meta_members(ctx, argc - 1, argv + 1);
    return cli_usage(ctx, "unknown subcommand '%s'", sub);
}
