#ifndef CFS_HEARTBEAT_H
#define CFS_HEARTBEAT_H
/* The chunkserver's side of ClusterService: registration with the metaserver leader (following
 * leader hints, trying the next address on errors, backing off), a persisted server id, a full
 * chunk report after each registration, a heartbeat every interval with usage and the
 * incremental added/removed/corrupt lists, and the commands that come back (delete replicas,
 * replicate from a peer). Runs on its own thread; keeps retrying forever while the
 * metaservers are unreachable, so the chunkserver keeps serving meanwhile. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chunkserver/chunk_service.h"
#include "chunkserver/chunk_store.h"
#include "common/chunk_token.h"

struct heartbeat_opts {
    chunk_store *store;     /* not owned */
    chunk_service *service; /* not owned: load figure and replicate commands */
    const char *const *metas;
    size_t nmetas;
    const char *cluster_id;
    const char *domain;
    const char *address;      /* where clients reach this chunkserver */
    const char *http_address; /* its http endpoint "host:port"; NULL or "" = none */
    int interval_ms;          /* heartbeat period; 0 = 1000 */
    int rpc_timeout_ms;       /* per call; 0 = 3000 */
    size_t report_batch;      /* replicas per ReportChunks call; 0 = 10000 */
    /* Not owned; NULL: tokens off. When set, a delete or replicate command runs only with a
     * valid token for it (delete_tokens[i], ReplicateCmd.token); the replicate token is also
     * what the source's Read checks. */
    const chunk_keyring *tokens;
};

typedef struct heartbeat heartbeat;

/* Copies the options, loads the server id from <first data dir>/server_id (0 when absent;
 * -EBADMSG when the file is malformed). No thread yet. */
int heartbeat_create(const struct heartbeat_opts *opts, heartbeat **out);
/* Store listener: queues the event for the next heartbeat. Install with
 * chunk_store_set_listener(store, heartbeat_on_chunk_event, hb). */
void heartbeat_on_chunk_event(void *hb, enum chunk_event ev, uint64_t chunk_id, uint64_t version,
                              uint64_t length);
int heartbeat_start(heartbeat *hb);
/* Stops the threads (returns within about one RPC timeout) and frees everything. */
void heartbeat_destroy(heartbeat *hb);

/* The id the metaserver assigned (0 before the first registration). */
uint64_t heartbeat_server_id(heartbeat *hb);
bool heartbeat_registered(heartbeat *hb);

/* The server id file: "<decimal id>\n". 0 / -ENOENT / -EBADMSG / -errno. */
int heartbeat_load_server_id(const char *dir, uint64_t *id);
int heartbeat_save_server_id(const char *dir, uint64_t id);

#endif
