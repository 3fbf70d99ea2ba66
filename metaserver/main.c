/* chunkfs-metaserver: `format` creates a new cluster's data dir; without it, runs one
 * metaserver of the Raft group until SIGTERM/SIGINT. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/log_signal.h"
#include "common/rpc.h"
#include "common/security_opts.h"
#include "common/token_keyring.h"
#include "metaserver/meta_format.h"
#include "metaserver/meta_metrics.h"
#include "metaserver/meta_server.h"

#define MAX_PEERS 16

static const cfs_config_def format_defs[] = {
    {"data-dir", CFS_CFG_STRING, NULL, "metaserver data directory to create (required)"},
    {"cluster-id", CFS_CFG_STRING, NULL, "cluster id (default: 16 random hex digits)"},
    {"chunk-size", CFS_CFG_SIZE, "64M", "chunk size, a power of two in 64K..1G"},
    {"goal", CFS_CFG_INT, "3", "replication goal of /, inherited by new entries"},
    {"log-level", CFS_CFG_STRING, "info", "debug, info, warn or error"},
    {NULL, 0, NULL, NULL}};

static const cfs_config_def run_defs[] = {
    {"id", CFS_CFG_INT, NULL, "this metaserver's Raft id (required, nonzero)"},
    {"listen", CFS_CFG_STRING, NULL,
     "host:port serving clients, chunkservers and Raft; "
     "port 0 binds a free port"},
    {"peers", CFS_CFG_STRING, NULL, "initial voters incl. this one: 1=host:port,2=host:port,..."},
    {"data-dir", CFS_CFG_STRING, NULL, "formatted data directory (required)"},
    {"port-file", CFS_CFG_STRING, NULL, "write the bound port here once serving"},
    {"dead-timeout-ms", CFS_CFG_INT, "5000", "a chunkserver silent this long is dead"},
    {"lease-ms", CFS_CFG_INT, "30000", "write lease length handed to clients"},
    {"max-open-per-client", CFS_CFG_INT, "65536",
     "files one client may hold open for writing (more: EMFILE)"},
    {"tick-ms", CFS_CFG_INT, "0", "Raft tick (0: the node's default)"},
    {"election-ticks", CFS_CFG_INT, "0", "election timeout in ticks (0: default)"},
    {"snapshot-entries", CFS_CFG_INT, "0", "snapshot after this many entries (0: default)"},
    {"join", CFS_CFG_BOOL, "false", "start empty as a non-voter, to be added by the leader"},
    {"gc-grace-ms", CFS_CFG_INT, "60000", "orphan/stale replicas are deleted after this long"},
    {"delete-grace-ms", CFS_CFG_INT, "10000",
     "chunks of removed files are deleted from chunkservers after this long (0 = at once)"},
    {"repair-max-inflight", CFS_CFG_INT, "64", "replica copies in flight cluster-wide"},
    {"repair-max-per-server", CFS_CFG_INT, "4", "replica copies in flight to one chunkserver"},
    {"rebalance-spread", CFS_CFG_STRING, "0.1",
     "move chunks until every used fraction is within this of the mean (0 disables)"},
    {"rebalance-max-inflight", CFS_CFG_INT, "4", "rebalancing copies in flight cluster-wide"},
    {"token-lifetime-ms", CFS_CFG_INT, "600000",
     "chunk access tokens expire this long after signing (with a cluster secret); <= 3600000"},
    {"log-level", CFS_CFG_STRING, "info", "debug, info, warn or error"},
    {"http-listen", CFS_CFG_STRING, "", "host:port for /metrics, / and /status.json (empty: off)"},
    CFS_SECURITY_CONFIG_DEFS,
    CFS_TOKEN_CONFIG_DEF,
    {NULL, 0, NULL, NULL}};

static int set_log_level(const cfs_config *c)
{
    enum cfs_log_level lvl;
    if (cfs_log_parse_level(cfs_config_str(c, "log-level"), &lvl) != 0) {
        fprintf(stderr, "chunkfs-metaserver: bad --log-level '%s'\n",
                cfs_config_str(c, "log-level"));
        return -EINVAL;
    }
    cfs_log_set_level(lvl);
    return 0;
}

static int cmd_format(int argc, char **argv)
{
    cfs_config c;
    char err[256];
    if (cfs_config_parse(format_defs, argc, argv, &c, err, sizeof(err)) != 0) {
        fprintf(stderr, "chunkfs-metaserver format: %s\n", err);
        return 2;
    }
    int status = 2;
    if (c.help) {
        cfs_config_usage(format_defs, "chunkfs-metaserver format", "--data-dir DIR [options]",
                         stdout);
        status = 0;
        goto out;
    }
    if (set_log_level(&c) != 0) goto out;
    const char *dir = cfs_config_str(&c, "data-dir");
    if (!dir || c.npositional) {
        fprintf(stderr, "chunkfs-metaserver format: --data-dir is required (no other args)\n");
        goto out;
    }
    meta_cluster_params p;
    memset(&p, 0, sizeof(p));
    const char *id = cfs_config_str(&c, "cluster-id");
    if (id) {
        if (strlen(id) >= sizeof(p.cluster_id)) {
            fprintf(stderr, "chunkfs-metaserver format: cluster id too long\n");
            goto out;
        }
        snprintf(p.cluster_id, sizeof(p.cluster_id), "%s", id);
    } else if (meta_format_new_id(p.cluster_id, sizeof(p.cluster_id)) != 0) {
        fprintf(stderr, "chunkfs-metaserver format: no random numbers for a cluster id\n");
        status = 1;
        goto out;
    }
    int64_t goal = cfs_config_int(&c, "goal");
    p.chunk_size = (uint64_t)cfs_config_int(&c, "chunk-size");
    p.goal = goal > 0 && goal <= 16 ? (uint32_t)goal : 0;
    if (meta_format_check(&p) != 0) {
        fprintf(stderr,
                "chunkfs-metaserver format: bad parameters (cluster id [A-Za-z0-9._-]{1,63}, "
                "chunk size a power of two in 64K..1G, goal 1..16)\n");
        goto out;
    }
    int rc = meta_format_write(dir, &p);
    if (rc == -EEXIST) {
        fprintf(stderr, "chunkfs-metaserver format: %s is already formatted; refusing\n", dir);
        status = 1;
        goto out;
    }
    if (rc != 0) {
        fprintf(stderr, "chunkfs-metaserver format: %s: %s\n", dir, cfs_strerror(rc));
        status = 1;
        goto out;
    }
    printf("formatted %s: cluster id %s, chunk size %llu, goal %u\n", dir, p.cluster_id,
           (unsigned long long)p.chunk_size, p.goal);
    status = 0;
out:
    cfs_config_free(&c);
    return status;
}

/* "1=h:p,2=h:p" -> peers. 0 or -EINVAL (with a message). */
static int parse_peers(const char *s, raft_peer *peers, int *n)
{
    *n = 0;
    char *copy = strdup(s);
    if (!copy) return -ENOMEM;
    int rc = 0;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        char *end;
        errno = 0;
        unsigned long long id = eq ? strtoull(tok, &end, 10) : 0;
        if (!eq || end != eq || errno || id == 0 || eq[1] == '\0' ||
            strlen(eq + 1) >= sizeof(peers[0].addr) || *n >= MAX_PEERS) {
            fprintf(stderr, "chunkfs-metaserver: bad --peers entry '%s' (want ID=host:port)\n",
                    tok);
            rc = -EINVAL;
            break;
        }
        for (int i = 0; i < *n; i++) {
            if (peers[i].id == id) {
                fprintf(stderr, "chunkfs-metaserver: duplicate peer id %llu\n", id);
                rc = -EINVAL;
            }
        }
        if (rc) break;
        peers[*n].id = id;
        snprintf(peers[*n].addr, sizeof(peers[*n].addr), "%s", eq + 1);
        (*n)++;
    }
    free(copy);
    return rc;
}

static int write_port_file(const char *path, int port)
{
    char tmp[4200];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) return -ENAMETOOLONG;
    FILE *f = fopen(tmp, "w");
    if (!f) return -errno;
    int ok = fprintf(f, "%d\n", port) > 0;
    if (fclose(f) != 0) ok = 0;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno ? -errno : -EIO;
        unlink(tmp);
        return e;
    }
    return 0;
}

static int cmd_run(int argc, char **argv)
{
    cfs_config c;
    char err[512];
    if (cfs_config_parse(run_defs, argc, argv, &c, err, sizeof(err)) != 0) {
        fprintf(stderr, "chunkfs-metaserver: %s\n", err);
        return 2;
    }
    int status = 2;
    if (c.help) {
        cfs_config_usage(run_defs, "chunkfs-metaserver",
                         "--id N --listen HOST:PORT --peers 1=H:P,... --data-dir DIR [options]\n"
                         "       chunkfs-metaserver format --data-dir DIR [options]",
                         stdout);
        status = 0;
        goto out;
    }
    if (set_log_level(&c) != 0) goto out;
    int64_t id = cfs_config_int(&c, "id");
    const char *listen = cfs_config_str(&c, "listen");
    const char *dir = cfs_config_str(&c, "data-dir");
    const char *peers_s = cfs_config_str(&c, "peers");
    bool join = cfs_config_bool(&c, "join");
    if (c.npositional || id <= 0 || !listen || !dir || (!peers_s && !join)) {
        fprintf(stderr, "chunkfs-metaserver: --id (> 0), --listen, --data-dir and --peers are "
                        "required (see --help)\n");
        goto out;
    }
    raft_peer peers[MAX_PEERS];
    int n_peers = 0;
    if (peers_s && parse_peers(peers_s, peers, &n_peers) != 0) goto out;
    bool self_listed = false;
    for (int i = 0; i < n_peers; i++)
        self_listed |= peers[i].id == (uint64_t)id;
    if (!join && !self_listed) {
        fprintf(stderr, "chunkfs-metaserver: --peers must include this node's id %lld\n",
                (long long)id);
        goto out;
    }
    int64_t dead = cfs_config_int(&c, "dead-timeout-ms"), lease = cfs_config_int(&c, "lease-ms");
    int64_t tick = cfs_config_int(&c, "tick-ms"), elect = cfs_config_int(&c, "election-ticks");
    int64_t snap = cfs_config_int(&c, "snapshot-entries");
    int64_t grace = cfs_config_int(&c, "gc-grace-ms");
    int64_t del_grace = cfs_config_int(&c, "delete-grace-ms");
    int64_t rep_max = cfs_config_int(&c, "repair-max-inflight");
    int64_t rep_srv = cfs_config_int(&c, "repair-max-per-server");
    int64_t reb_max = cfs_config_int(&c, "rebalance-max-inflight");
    int64_t token_life = cfs_config_int(&c, "token-lifetime-ms");
    char *spread_end = NULL;
    const char *spread_s = cfs_config_str(&c, "rebalance-spread");
    double spread = spread_s ? strtod(spread_s, &spread_end) : -1;
    if (!spread_s || spread_end == spread_s || *spread_end || !(spread >= 0 && spread <= 1) ||
        grace <= 0 || del_grace < 0 || rep_max <= 0 || rep_max > 100000 || rep_srv <= 0 ||
        rep_srv > 10000 || reb_max < 0 || reb_max > 10000) {
        fprintf(stderr, "chunkfs-metaserver: --gc-grace-ms, --repair-max-inflight and "
                        "--repair-max-per-server must be > 0, --delete-grace-ms and "
                        "--rebalance-max-inflight >= 0, "
                        "--rebalance-spread in [0, 1]\n");
        goto out;
    }
    int64_t max_open = cfs_config_int(&c, "max-open-per-client");
    if (max_open <= 0 || max_open > UINT32_MAX) {
        fprintf(stderr, "chunkfs-metaserver: --max-open-per-client must be in 1..%u\n", UINT32_MAX);
        goto out;
    }
    if (dead <= 0 || lease <= 0 || lease > 3600000 || tick < 0 || tick > 10000 || elect < 0 ||
        elect > 10000 || snap < 0) {
        fprintf(stderr, "chunkfs-metaserver: --dead-timeout-ms and --lease-ms must be > 0; "
                        "tick/election/snapshot settings >= 0\n");
        goto out;
    }
    if (token_life <= 0 || token_life > CHUNK_TOKEN_EPOCH_MS) {
        fprintf(stderr, "chunkfs-metaserver: --token-lifetime-ms must be in 1..%lld\n",
                (long long)CHUNK_TOKEN_EPOCH_MS);
        goto out;
    }

    cfs_log_set_component("meta");
    /* Signals are taken synchronously by sigwait below; every thread inherits the mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    rpc_global_init();
    chunk_keyring tokens;
    bool tokens_on = false;
    if (cfs_security_apply_config(&c, true, err, sizeof err) < 0 ||
        cfs_token_keyring_load(&c, &tokens, &tokens_on, err, sizeof err) < 0) {
        fprintf(stderr, "chunkfs-metaserver: %s\n", err);
        goto out;
    }

    meta_server_config cfg = {.id = (uint64_t)id,
                              .peers = peers,
                              .n_peers = n_peers,
                              .data_dir = dir,
                              .listen = listen,
                              .dead_timeout_ms = dead,
                              .lease_ms = (uint32_t)lease,
                              .max_open_per_client = (uint32_t)max_open,
                              .join = join,
                              .tick_ms = (int)tick,
                              .election_ticks = (int)elect,
                              .snapshot_entries = (uint64_t)snap,
                              .gc_grace_ms = grace,
                              .delete_grace_ms = del_grace,
                              .repair_max_inflight = (uint32_t)rep_max,
                              .repair_max_per_server = (uint32_t)rep_srv,
                              .rebalance_spread = spread,
                              .rebalance_max_inflight = (uint32_t)reb_max,
                              .tokens = tokens_on ? &tokens : NULL,
                              .token_lifetime_ms = token_life};
    meta_server *ms = NULL;
    meta_http *http = NULL;
    int port = 0;
    int rc = meta_server_create(&cfg, &ms, &port);
    status = 1;
    if (rc != 0) {
        LOG_ERROR("cannot start: %s", cfs_strerror(rc));
        goto shutdown;
    }
    rc = meta_server_start(ms);
    if (rc != 0) {
        LOG_ERROR("cannot start: %s", cfs_strerror(rc));
        goto shutdown;
    }
    const char *http_listen = cfs_config_str(&c, "http-listen");
    int http_port = 0;
    if (http_listen && *http_listen &&
        (rc = meta_http_start(ms, http_listen, &http, &http_port)) != 0) {
        LOG_ERROR("--http-listen %s: %s", http_listen, cfs_strerror(rc));
        goto shutdown;
    }
    if (http) LOG_INFO("http serving on port %d", http_port);
    if (cfs_log_sigusr1_toggle() < 0) LOG_WARN("SIGUSR1 log level toggle not installed");
    const char *port_file = cfs_config_str(&c, "port-file");
    if (port_file && (rc = write_port_file(port_file, port)) != 0) {
        LOG_ERROR("cannot write port file %s: %s", port_file, cfs_strerror(rc));
        goto shutdown;
    }
    LOG_INFO("serving on port %d", port);
    int sig = 0;
    sigwait(&sigs, &sig);
    LOG_INFO("signal %d: shutting down", sig);
    status = 0;
shutdown:
    meta_http_stop(http);
    meta_server_destroy(ms);
    rpc_global_shutdown();
out:
    cfs_config_free(&c);
    return status;
}

int main(int argc, char **argv)
{
    cfs_log_set_component("meta");
    if (argc > 1 && strcmp(argv[1], "format") == 0) return cmd_format(argc - 1, argv + 1);
    return cmd_run(argc, argv);
}
