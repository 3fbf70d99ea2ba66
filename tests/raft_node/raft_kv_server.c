/* raft_kv_server: a small replicated key-value server on raft_node, for the process tests and
 * as the simplest example of using raft_node. One rpc_server carries RaftService and a tiny
 * "KV" service whose requests and responses are plain text:
 *   /chunkfs.KV/Put      "key=value"  -> "OK" | "NOTLEADER <addr>" | "ERR <errno>"
 *   /chunkfs.KV/Get      "key"        -> "OK <value>" | "NOTFOUND" | "NOTLEADER <addr>" | "ERR"
 *                        (linearizable: ReadIndex barrier first)
 *   /chunkfs.KV/LocalGet "key"        -> the same, from this node's state without a barrier
 *   /chunkfs.KV/Status   ""           -> "id=1 leader=0|1 term=.. commit=.. applied=.. ..."
 *   /chunkfs.KV/AddMember "id=addr", /chunkfs.KV/RemoveMember "id", /chunkfs.KV/Transfer "id"
 *                        -> "OK" | "NOTLEADER <addr>" | "ERR <errno>" (membership, leader only)
 * Usage: raft_kv_server --id N --listen 127.0.0.1:PORT --peers 1=HOST:PORT,2=... --data-dir D
 *        [--port-file F] [--snapshot-entries N] [--join] [--handler-threads N (default 32)]
 * Exits 0 on SIGTERM/SIGINT, 98 when the listen address is taken, 1 on other errors. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/errors.h"
#include "common/log.h"
#include "common/rpc.h"
#include "raft/raft_node.h"

#define KV_BUCKETS 4096
#define PROPOSE_TIMEOUT_MS 1500

typedef struct kv_item {
    char *key, *value;
    struct kv_item *next;
} kv_item;

typedef struct kv_store {
    pthread_mutex_t mu;
    kv_item *buckets[KV_BUCKETS];
    size_t count;
} kv_store;

typedef struct kv_server {
    kv_store kv;
    raft_node *node;
} kv_server;

static unsigned hash_key(const char *s, size_t len)
{
    unsigned h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h % KV_BUCKETS;
}

/* Sets key (len klen) to value (len vlen); mu held. */
static int kv_set(kv_store *kv, const char *key, size_t klen, const char *val, size_t vlen)
{
    unsigned b = hash_key(key, klen);
    for (kv_item *it = kv->buckets[b]; it; it = it->next) {
        if (strlen(it->key) == klen && memcmp(it->key, key, klen) == 0) {
            char *nv = strndup(val, vlen);
            if (!nv) return -ENOMEM;
            free(it->value);
            it->value = nv;
            return 0;
        }
    }
    kv_item *it = calloc(1, sizeof *it);
    if (!it) return -ENOMEM;
    it->key = strndup(key, klen);
    it->value = strndup(val, vlen);
    if (!it->key || !it->value) {
        free(it->key);
        free(it->value);
        free(it);
        return -ENOMEM;
    }
    it->next = kv->buckets[b];
    kv->buckets[b] = it;
    kv->count++;
    return 0;
}

static void kv_clear(kv_store *kv)
{
    for (int b = 0; b < KV_BUCKETS; b++) {
        for (kv_item *it = kv->buckets[b], *next; it; it = next) {
            next = it->next;
            free(it->key);
            free(it->value);
            free(it);
        }
        kv->buckets[b] = NULL;
    }
    kv->count = 0;
}

/* ------------------------------------------------------------------ fsm callbacks */

static int fsm_apply(void *fsm, uint64_t index, const uint8_t *data, size_t len, void **result)
{
    (void)index;
    (void)result;
    kv_store *kv = fsm;
    const char *eq = memchr(data, '=', len);
    if (!eq) /* malformed commands are ignored deterministically on every node */
        return 0;
    pthread_mutex_lock(&kv->mu);
    int rc = kv_set(kv, (const char *)data, (size_t)(eq - (const char *)data), eq + 1,
                    len - (size_t)(eq - (const char *)data) - 1);
    pthread_mutex_unlock(&kv->mu);
    return rc;
}

static int fsm_snapshot(void *fsm, uint8_t **buf, size_t *len)
{
    kv_store *kv = fsm;
    pthread_mutex_lock(&kv->mu);
    size_t total = 0;
    for (int b = 0; b < KV_BUCKETS; b++)
        for (kv_item *it = kv->buckets[b]; it; it = it->next)
            total += strlen(it->key) + strlen(it->value) + 2;
    char *out = malloc(total + 1);
    if (!out) {
        pthread_mutex_unlock(&kv->mu);
        return -ENOMEM;
    }
    size_t off = 0;
    for (int b = 0; b < KV_BUCKETS; b++)
        for (kv_item *it = kv->buckets[b]; it; it = it->next)
            off += (size_t)sprintf(out + off, "%s=%s\n", it->key, it->value);
    pthread_mutex_unlock(&kv->mu);
    *buf = (uint8_t *)out;
    *len = off;
    return 0;
}

static int fsm_restore(void *fsm, const uint8_t *buf, size_t len)
{
    kv_store *kv = fsm;
    pthread_mutex_lock(&kv->mu);
    kv_clear(kv);
    const char *p = (const char *)buf, *end = p + len;
    int rc = 0;
    while (p < end && rc == 0) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eq = memchr(p, '=', (size_t)((nl ? nl : end) - p));
        if (!nl || !eq) {
            rc = -EINVAL;
            break;
        }
        rc = kv_set(kv, p, (size_t)(eq - p), eq + 1, (size_t)(nl - eq - 1));
        p = nl + 1;
    }
    pthread_mutex_unlock(&kv->mu);
    return rc;
}

static void fsm_free_result(void *fsm, void *result)
{
    (void)fsm;
    free(result);
}

/* ------------------------------------------------------------------ KV service */

static int reply(uint8_t **resp, size_t *resp_len, const char *fmt, const char *arg)
{
    char buf[512];
    int n = snprintf(buf, sizeof buf, fmt, arg);
    *resp = (uint8_t *)strndup(buf, (size_t)n);
    if (!*resp) return -ENOMEM;
    *resp_len = (size_t)n;
    return 0;
}

static int not_leader(kv_server *s, uint8_t **resp, size_t *resp_len)
{
    char addr[128];
    raft_node_leader_addr(s->node, addr, sizeof addr);
    return reply(resp, resp_len, "NOTLEADER %s", addr);
}

static int err_reply(int rc, uint8_t **resp, size_t *resp_len)
{
    char num[16];
    snprintf(num, sizeof num, "%d", rc);
    return reply(resp, resp_len, "ERR %s", num);
}

static int handle_put(void *arg, const char *peer, const uint8_t *req, size_t req_len,
                      uint8_t **resp, size_t *resp_len)
{
    (void)peer;
    kv_server *s = arg;
    if (!memchr(req, '=', req_len)) return -EINVAL;
    int rc = raft_node_propose(s->node, req, req_len, PROPOSE_TIMEOUT_MS, NULL);
    if (rc == -CFS_ENOTLEADER) return not_leader(s, resp, resp_len);
    if (rc < 0) return err_reply(rc, resp, resp_len);
    return reply(resp, resp_len, "OK", "");
}

static int lookup(kv_server *s, const uint8_t *req, size_t req_len, uint8_t **resp,
                  size_t *resp_len)
{
    pthread_mutex_lock(&s->kv.mu);
    const char *val = NULL;
    for (kv_item *it = s->kv.buckets[hash_key((const char *)req, req_len)]; it; it = it->next)
        if (strlen(it->key) == req_len && memcmp(it->key, req, req_len) == 0) val = it->value;
    int rc = val ? reply(resp, resp_len, "OK %s", val) : reply(resp, resp_len, "NOTFOUND", "");
    pthread_mutex_unlock(&s->kv.mu);
    return rc;
}

static int handle_get(void *arg, const char *peer, const uint8_t *req, size_t req_len,
                      uint8_t **resp, size_t *resp_len)
{
    (void)peer;
    kv_server *s = arg;
    int rc = raft_node_read_barrier(s->node, PROPOSE_TIMEOUT_MS);
    if (rc == -CFS_ENOTLEADER) return not_leader(s, resp, resp_len);
    if (rc < 0) return err_reply(rc, resp, resp_len);
    return lookup(s, req, req_len, resp, resp_len);
}

static int handle_local_get(void *arg, const char *peer, const uint8_t *req, size_t req_len,
                            uint8_t **resp, size_t *resp_len)
{
    (void)peer;
    return lookup(arg, req, req_len, resp, resp_len);
}

static int handle_status(void *arg, const char *peer, const uint8_t *req, size_t req_len,
                         uint8_t **resp, size_t *resp_len)
{
    (void)peer;
    (void)req;
    (void)req_len;
    kv_server *s = arg;
    raft_node_status st;
    raft_node_get_status(s->node, &st);
    pthread_mutex_lock(&s->kv.mu);
    size_t keys = s->kv.count;
    pthread_mutex_unlock(&s->kv.mu);
    char buf[512];
    int n = snprintf(buf, sizeof buf,
                     "id=%llu leader=%d term=%llu leader_id=%llu commit=%llu applied=%llu "
                     "last=%llu snap=%llu keys=%zu role=%s members=%d",
                     (unsigned long long)st.id, st.is_leader ? 1 : 0, (unsigned long long)st.term,
                     (unsigned long long)st.leader_id, (unsigned long long)st.commit_index,
                     (unsigned long long)st.applied_index, (unsigned long long)st.last_index,
                     (unsigned long long)st.snapshot_index, keys, st.role, st.n_members);
    *resp = (uint8_t *)strndup(buf, (size_t)n);
    if (!*resp) return -ENOMEM;
    *resp_len = (size_t)n;
    return 0;
}

#define MEMBER_TIMEOUT_MS 20000

static int member_reply(kv_server *s, int rc, uint8_t **resp, size_t *resp_len)
{
    if (rc == -CFS_ENOTLEADER) return not_leader(s, resp, resp_len);
    if (rc < 0) return err_reply(rc, resp, resp_len);
    return reply(resp, resp_len, "OK", "");
}

/* Parses a decimal id at the start of req (len bytes); *rest points after it. 0 if invalid. */
static uint64_t parse_id(const uint8_t *req, size_t len, const char **rest)
{
    char buf[160];
    if (len == 0 || len >= sizeof buf) return 0;
    memcpy(buf, req, len);
    buf[len] = 0;
    char *end;
    unsigned long long id = strtoull(buf, &end, 10);
    if (end == buf) return 0;
    *rest = (const char *)req + (end - buf);
    return id;
}

static int handle_add_member(void *arg, const char *peer, const uint8_t *req, size_t req_len,
                             uint8_t **resp, size_t *resp_len)
{
    (void)peer;
    const char *rest;
    uint64_t id = parse_id(req, req_len, &rest);
    size_t addr_len = req_len - (size_t)(rest - (const char *)req);
    if (id == 0 || addr_len < 2 || addr_len > 127 || rest[0] != '=') return -EINVAL;
    char addr[128];
    memcpy(addr, rest + 1, addr_len - 1);
    addr[addr_len - 1] = 0;
    return member_reply(arg,
                        raft_node_add_member(((kv_server *)arg)->node, id, addr, MEMBER_TIMEOUT_MS),
                        resp, resp_len);
}

static int handle_remove_member(void *arg, const char *peer, const uint8_t *req, size_t req_len,
                                uint8_t **resp, size_t *resp_len)
{
    (void)peer;
    const char *rest;
    uint64_t id = parse_id(req, req_len, &rest);
    if (id == 0 || rest != (const char *)req + req_len) return -EINVAL;
    return member_reply(arg,
                        raft_node_remove_member(((kv_server *)arg)->node, id, MEMBER_TIMEOUT_MS),
                        resp, resp_len);
}

static int handle_transfer(void *arg, const char *peer, const uint8_t *req, size_t req_len,
                           uint8_t **resp, size_t *resp_len)
{
    (void)peer;
    const char *rest;
    uint64_t id = parse_id(req, req_len, &rest);
    if (id == 0 || rest != (const char *)req + req_len) return -EINVAL;
    return member_reply(arg,
                        raft_node_transfer_leader(((kv_server *)arg)->node, id, MEMBER_TIMEOUT_MS),
                        resp, resp_len);
}

/* ------------------------------------------------------------------ main */

static int parse_peers(const char *s, raft_peer *peers, int max)
{
    int n = 0;
    const char *p = s;
    while (*p) {
        if (n == max) return -EINVAL;
        char *end;
        unsigned long long id = strtoull(p, &end, 10);
        if (end == p || *end != '=' || id == 0) return -EINVAL;
        p = end + 1;
        size_t len = strcspn(p, ",");
        if (len == 0 || len >= sizeof peers[n].addr) return -EINVAL;
        peers[n].id = id;
        memcpy(peers[n].addr, p, len);
        peers[n].addr[len] = 0;
        n++;
        p += len;
        if (*p == ',') p++;
    }
    return n;
}

static int write_port_file(const char *path, int port)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return -errno;
    fprintf(f, "%d\n", port);
    if (fclose(f) != 0) return -errno;
    return rename(tmp, path) < 0 ? -errno : 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: raft_kv_server --id N --listen HOST:PORT --peers ID=ADDR,... "
                    "--data-dir DIR [--port-file F] [--snapshot-entries N] [--join] "
                    "[--handler-threads N]\n");
}

int main(int argc, char **argv)
{
    const char *listen = NULL, *peers_s = "", *data_dir = NULL, *port_file = NULL;
    unsigned long long id = 0, snap_entries = 0, handler_threads = 32;
    bool join = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--join")) {
            join = true;
            continue;
        }
        if (!v) {
            usage();
            return 1;
        }
        i++;
        if (!strcmp(a, "--id"))
            id = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--listen"))
            listen = v;
        else if (!strcmp(a, "--peers"))
            peers_s = v;
        else if (!strcmp(a, "--data-dir"))
            data_dir = v;
        else if (!strcmp(a, "--port-file"))
            port_file = v;
        else if (!strcmp(a, "--snapshot-entries"))
            snap_entries = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--handler-threads"))
            handler_threads = strtoull(v, NULL, 10);
        else {
            usage();
            return 1;
        }
    }
    raft_peer peers[16];
    int n_peers = parse_peers(peers_s, peers, 16);
    if (id == 0 || !listen || !data_dir || n_peers < 0 || (!join && n_peers == 0) ||
        handler_threads == 0 || handler_threads > 1024) {
        usage();
        return 1;
    }
    char comp[32];
    snprintf(comp, sizeof comp, "kv%llu", id);
    cfs_log_set_component(comp);
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    rpc_global_init();
    static kv_server s;
    pthread_mutex_init(&s.kv.mu, NULL);
    rpc_server_opts so = {.handler_threads = (int)handler_threads};
    rpc_server *srv = rpc_server_create(&so);
    if (!srv) return 1;
    raft_node_config cfg = {.id = id,
                            .peers = peers,
                            .n_peers = n_peers,
                            .data_dir = data_dir,
                            .snapshot_entries = snap_entries,
                            .join = join};
    raft_fsm_ops ops = {.apply = fsm_apply,
                        .free_result = fsm_free_result,
                        .snapshot = fsm_snapshot,
                        .restore = fsm_restore};
    int rc = raft_node_create(&cfg, &ops, &s.kv, srv, &s.node);
    if (rc < 0) {
        LOG_ERROR("raft_node_create: %s", cfs_strerror(rc));
        rpc_server_destroy(srv);
        return 1;
    }
    rc = rpc_server_add_unary(srv, "/chunkfs.KV/Put", handle_put, &s);
    if (rc == 0) rc = rpc_server_add_unary(srv, "/chunkfs.KV/Get", handle_get, &s);
    if (rc == 0) rc = rpc_server_add_unary(srv, "/chunkfs.KV/LocalGet", handle_local_get, &s);
    if (rc == 0) rc = rpc_server_add_unary(srv, "/chunkfs.KV/Status", handle_status, &s);
    if (rc == 0) rc = rpc_server_add_unary(srv, "/chunkfs.KV/AddMember", handle_add_member, &s);
    if (rc == 0)
        rc = rpc_server_add_unary(srv, "/chunkfs.KV/RemoveMember", handle_remove_member, &s);
    if (rc == 0) rc = rpc_server_add_unary(srv, "/chunkfs.KV/Transfer", handle_transfer, &s);
    int port = rc < 0 ? rc : rpc_server_start(srv, listen);
    if (port < 0) {
        LOG_ERROR("cannot serve on %s: %s", listen, cfs_strerror(port));
        rpc_server_destroy(srv);
        raft_node_destroy(s.node);
        return port == -EADDRINUSE ? 98 : 1;
    }
    if (port_file && (rc = write_port_file(port_file, port)) < 0) {
        LOG_ERROR("cannot write %s: %s", port_file, cfs_strerror(rc));
        rpc_server_destroy(srv);
        raft_node_destroy(s.node);
        return 1;
    }
    rc = raft_node_start(s.node);
    if (rc < 0) {
        LOG_ERROR("raft_node_start: %s", cfs_strerror(rc));
        rpc_server_destroy(srv);
        raft_node_destroy(s.node);
        return 1;
    }
    LOG_INFO("kv server %llu serving on port %d", id, port);
    int sig = 0;
    sigwait(&sigs, &sig);
    LOG_INFO("kv server %llu: signal %d, shutting down", id, sig);
    /* The RPC server goes first: its handlers use the node. */
    rpc_server_destroy(srv);
    raft_node_destroy(s.node);
    kv_clear(&s.kv);
    rpc_global_shutdown();
    return 0;
}
