/* chunkfs-chunkserver: serves chunk replicas from local data dirs, registers and heartbeats
 * with the metaserver group, scrubs in the background. SIGTERM/SIGINT: clean shutdown. */
#include <errno.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chunkserver/chunk_service.h"
#include "chunkserver/chunk_metrics.h"
#include "chunkserver/chunk_store.h"
#include "chunkserver/heartbeat.h"
#include "chunkserver/scrubber.h"
#include "common/config.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/log_signal.h"
#include "common/rpc.h"
#include "common/security_opts.h"
#include "common/token_keyring.h"

static const cfs_config_def defs[] = {
    {"listen", CFS_CFG_STRING, NULL, "host:port to serve on (port 0: any free port)"},
    {"advertise", CFS_CFG_STRING, NULL, "host:port clients use (default: the listen host)"},
    {"meta", CFS_CFG_STRING, NULL, "metaserver addresses, comma-separated"},
    {"data-dir", CFS_CFG_LIST, NULL, "data directory, one per disk (repeatable)"},
    {"cluster-id", CFS_CFG_STRING, NULL, "cluster id (must match the metaservers')"},
    {"domain", CFS_CFG_STRING, "default", "failure domain label (rack, host, ...)"},
    {"port-file", CFS_CFG_STRING, NULL, "write the bound port here once serving"},
    {"sync-mode", CFS_CFG_STRING, "close",
     "close: fsync once per write stream, before its acknowledgement; per-write: also after "
     "every write message"},
    {"scrub-rate", CFS_CFG_INT, "8", "scrubber read rate, MiB/s"},
    {"scrub-interval", CFS_CFG_INT, "3600", "seconds between scrubber passes"},
    {"heartbeat-ms", CFS_CFG_INT, "1000", "heartbeat period"},
    /* Each chained write holds a handler on every replica while it waits for the next one:
     * with few handlers, servers forwarding to each other can starve each other. */
    {"threads", CFS_CFG_INT, "64", "RPC handler threads (concurrent calls)"},
    {"max-streams-per-client", CFS_CFG_INT, "32",
     "chunk reads/writes one client connection may run at once (more: EBUSY, it retries)"},
    {"log-level", CFS_CFG_STRING, "info", "debug|info|warn|error"},
    {"http-listen", CFS_CFG_STRING, "", "host:port for /metrics and /log-level (empty: off)"},
    CFS_SECURITY_CONFIG_DEFS,
    CFS_TOKEN_CONFIG_DEF,
    {NULL, 0, NULL, NULL},
};

static int write_port_file(const char *path, int port)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) return -ENAMETOOLONG;
    FILE *f = fopen(tmp, "w");
    if (!f) return -errno;
    fprintf(f, "%d\n", port);
    if (fclose(f) != 0) return -errno;
    /* rename: a reader never sees a half-written number */
    return rename(tmp, path) < 0 ? -errno : 0;
}

/* Splits "a,b,c" in place into up to `max` pointers. */
static size_t split_list(char *s, char **out, size_t max)
{
    size_t n = 0;
    for (char *save = NULL, *t = strtok_r(s, ",", &save); t && n < max;
         t = strtok_r(NULL, ",", &save))
        if (*t) out[n++] = t;
    return n;
}

/* The http endpoint others should use: the listen host with the bound port, or, when the
 * listen host is a wildcard, the host of the advertised RPC address. */
static void http_advertise(const char *http_listen, const char *address, int port, char *out,
                           size_t cap)
{
    const char *colon = strrchr(http_listen, ':');
    int hl = colon ? (int)(colon - http_listen) : (int)strlen(http_listen);
    bool wildcard = hl == 0 || strncmp(http_listen, "0.0.0.0", (size_t)hl) == 0 ||
                    strncmp(http_listen, "[::]", (size_t)hl) == 0;
    if (wildcard) {
        colon = strrchr(address, ':');
        hl = colon ? (int)(colon - address) : (int)strlen(address);
        http_listen = address;
    }
    snprintf(out, cap, "%.*s:%d", hl, http_listen, port);
}

int main(int argc, char **argv)
{
    cfs_log_set_component("chunk");
    /* Signals are taken by sigwait in this thread only: block them before any thread starts. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    cfs_config cfg;
    char err[512];
    if (cfs_config_parse(defs, argc, argv, &cfg, err, sizeof err) < 0) {
        fprintf(stderr, "chunkfs-chunkserver: %s\n", err);
        return 2;
    }
    if (cfg.help) {
        cfs_config_usage(defs, "chunkfs-chunkserver",
                         "--listen H:P --meta A,B,C --data-dir D [--data-dir D2] --cluster-id ID",
                         stdout);
        cfs_config_free(&cfg);
        return 0;
    }
    enum cfs_log_level lvl;
    const char *listen = cfs_config_str(&cfg, "listen");
    const char *meta = cfs_config_str(&cfg, "meta");
    const char *cluster = cfs_config_str(&cfg, "cluster-id");
    const char *sync_s = cfs_config_str(&cfg, "sync-mode");
    char *const *dirs;
    size_t ndirs = cfs_config_list(&cfg, "data-dir", &dirs);
    const char *bad = !listen      ? "--listen"
                      : !meta      ? "--meta"
                      : !cluster   ? "--cluster-id"
                      : ndirs == 0 ? "--data-dir"
                      : cfs_log_parse_level(cfs_config_str(&cfg, "log-level"), &lvl) < 0
                          ? "--log-level"
                      : strcmp(sync_s, "per-write") && strcmp(sync_s, "close") ? "--sync-mode"
                      : cfs_config_int(&cfg, "scrub-rate") <= 0                ? "--scrub-rate"
                      : cfs_config_int(&cfg, "scrub-interval") <= 0            ? "--scrub-interval"
                      : cfs_config_int(&cfg, "heartbeat-ms") <= 0              ? "--heartbeat-ms"
                      : cfs_config_int(&cfg, "threads") <= 0                   ? "--threads"
                      : cfs_config_int(&cfg, "max-streams-per-client") < 0 ||
                              cfs_config_int(&cfg, "max-streams-per-client") > 1000000
                          ? "--max-streams-per-client (0: no cap)"
                          : NULL;
    if (bad) {
        fprintf(stderr, "chunkfs-chunkserver: missing or bad %s (see --help)\n", bad);
        cfs_config_free(&cfg);
        return 2;
    }
    cfs_log_set_level(lvl);
    char *meta_copy = strdup(meta);
    char *metas[32];
    size_t nmetas = meta_copy ? split_list(meta_copy, metas, 32) : 0;
    if (nmetas == 0) {
        fprintf(stderr, "chunkfs-chunkserver: --meta has no address\n");
        free(meta_copy);
        cfs_config_free(&cfg);
        return 2;
    }

    rpc_global_init();
    chunk_keyring tokens;
    bool tokens_on = false;
    if (cfs_security_apply_config(&cfg, true, err, sizeof err) < 0 ||
        cfs_token_keyring_load(&cfg, &tokens, &tokens_on, err, sizeof err) < 0) {
        fprintf(stderr, "chunkfs-chunkserver: %s\n", err);
        free(meta_copy);
        cfs_config_free(&cfg);
        return 2;
    }
    int status = 1;
    chunk_store *store = NULL;
    chunk_service *svc = NULL;
    heartbeat *hb = NULL;
    scrubber *scrub = NULL;
    rpc_server *srv = NULL;
    chunk_http *http = NULL;
    int rc = chunk_store_open((const char *const *)dirs, ndirs, &store);
    if (rc < 0) {
        LOG_ERROR("cannot open the chunk store: %s", cfs_strerror(rc));
        goto out;
    }
    struct chunk_service_opts so = {
        .store = store,
        .sync = strcmp(sync_s, "close") == 0 ? CHUNK_SYNC_CLOSE : CHUNK_SYNC_PER_WRITE,
        .max_streams_per_client = (unsigned)cfs_config_int(&cfg, "max-streams-per-client"),
        .tokens = tokens_on ? &tokens : NULL,
    };
    rc = chunk_service_create(&so, &svc);
    if (rc == 0) {
        rpc_server_opts ro = {.cq_threads = 2,
                              .handler_threads = (int)cfs_config_int(&cfg, "threads")};
        srv = rpc_server_create(&ro);
        rc = srv ? chunk_service_register(svc, srv) : -ENOMEM;
    }
    int port = rc == 0 ? rpc_server_start(srv, listen) : rc;
    if (port < 0) {
        LOG_ERROR("cannot serve on %s: %s", listen, cfs_strerror(port));
        goto out;
    }
    char address[300];
    const char *adv = cfs_config_str(&cfg, "advertise");
    if (adv) {
        snprintf(address, sizeof address, "%s", adv);
    } else {
        const char *colon = strrchr(listen, ':');
        int hl = colon ? (int)(colon - listen) : (int)strlen(listen);
        if (hl == 0 || strncmp(listen, "0.0.0.0", (size_t)hl) == 0 ||
            strncmp(listen, "[::]", (size_t)hl) == 0) {
            LOG_ERROR("--listen %s is a wildcard: give --advertise host:port", listen);
            goto out;
        }
        snprintf(address, sizeof address, "%.*s:%d", hl, listen, port);
    }
    chunk_service_set_address(svc, address);

    /* Started before the first registration so that the metaserver learns its address. */
    const char *http_listen = cfs_config_str(&cfg, "http-listen");
    int http_port = 0;
    char http_address[300] = "";
    if (http_listen && *http_listen &&
        (rc = chunk_http_start(store, http_listen, &http, &http_port)) < 0) {
        LOG_ERROR("--http-listen %s: %s", http_listen, cfs_strerror(rc));
        goto out;
    }
    if (http) {
        http_advertise(http_listen, address, http_port, http_address, sizeof http_address);
        LOG_INFO("http serving on port %d (%s)", http_port, http_address);
    }

    struct heartbeat_opts ho = {
        .store = store,
        .service = svc,
        .metas = (const char *const *)metas,
        .nmetas = nmetas,
        .cluster_id = cluster,
        .domain = cfs_config_str(&cfg, "domain"),
        .address = address,
        .http_address = http_address,
        .interval_ms = (int)cfs_config_int(&cfg, "heartbeat-ms"),
        .tokens = tokens_on ? &tokens : NULL,
    };
    rc = heartbeat_create(&ho, &hb);
    if (rc == 0) {
        chunk_store_set_listener(store, heartbeat_on_chunk_event, hb);
        rc = heartbeat_start(hb);
    }
    if (rc < 0) {
        LOG_ERROR("heartbeat: %s", cfs_strerror(rc));
        goto out;
    }
    struct scrubber_opts sco = {
        .store = store,
        .rate_mib_s = (double)cfs_config_int(&cfg, "scrub-rate"),
        .pass_interval_ms = (int)(cfs_config_int(&cfg, "scrub-interval") * 1000),
    };
    rc = scrubber_start(&sco, &scrub);
    if (rc < 0) {
        LOG_ERROR("scrubber: %s", cfs_strerror(rc));
        goto out;
    }
    const char *pf = cfs_config_str(&cfg, "port-file");
    if (pf && (rc = write_port_file(pf, port)) < 0) {
        LOG_ERROR("port file %s: %s", pf, cfs_strerror(rc));
        goto out;
    }
    if (cfs_log_sigusr1_toggle() < 0) LOG_WARN("SIGUSR1 log level toggle not installed");
    LOG_INFO("serving %s (listen %s), %zu data dirs, sync %s, metaservers %s", address, listen,
             ndirs, sync_s, meta);
    int sig = 0;
    sigwait(&sigs, &sig);
    LOG_INFO("signal %d: shutting down", sig);
    status = 0;
out:
    /* Order: nothing may call into an object after it is gone (handlers and the
     * heartbeat's replicator use the service and the store; the store calls the listener). */
    chunk_http_stop(http);
    scrubber_stop(scrub);
    if (srv) rpc_server_destroy(srv);
    heartbeat_destroy(hb);
    if (store) chunk_store_set_listener(store, NULL, NULL);
    chunk_service_destroy(svc);
    chunk_store_close(store);
    rpc_global_shutdown();
    free(meta_copy);
    cfs_config_free(&cfg);
    return status;
}
