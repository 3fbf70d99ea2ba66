#ifndef CFS_CHUNK_SERVICE_H
#define CFS_CHUNK_SERVICE_H
/* ChunkService handlers over the chunk store: Write (streamed and forwarded along the chain),
 * Read (streamed, CRC-checked), Replicate (pull from a peer), Delete, Info, SetVersion.
 * Replies carry errors in their err field (0 or a negative errno / -CFS_* code).
 * Bad input is refused before anything changes: a WriteReq over CHUNK_PIECE_SIZE bytes of
 * data gets -EMSGSIZE, a range past CHUNK_MAX_SIZE or a bad header -EINVAL; a client over
 * its stream cap gets -EBUSY (and retries later). */
#include <stdbool.h>

#include "chunkserver/chunk_client.h"
#include "chunkserver/chunk_store.h"
#include "common/chunk_token.h"
#include "common/rpc.h"

/* A write stream is acknowledged once, by its final WriteResp, and only after the sync on
 * this replica and the final reply of every replica downstream: in both modes everything
 * acknowledged is durable on every replica. So that the replicas' work overlaps, a replica
 * opens the downstream stream and forwards the first message before it creates or opens
 * its own replica, and half-closes the downstream as soon as its own input ended, before its
 * own sync (a refused or failed local write still ends the downstream stream normally: what
 * an unacknowledged stream left behind is not relied on). They differ only in what an
 * unacknowledged (interrupted) stream leaves on disk after a crash, which nobody may rely on. */
enum chunk_sync_mode {
    /* fdatasync once when the stream ends, before the final reply (default). */
    CHUNK_SYNC_CLOSE = 0,
    /* Also fdatasync after every WriteReq message: a crash in the middle of a stream keeps
     * all but the last message (never acknowledged either way), at one fdatasync per MiB. */
    CHUNK_SYNC_PER_WRITE = 1,
};

struct chunk_service_opts {
    chunk_store *store;              /* not owned */
    enum chunk_sync_mode sync;       /* a WriteHeader with sync_at_close selects CLOSE as well */
    int downstream_timeout_ms;       /* deadline for a forwarded write stream; 0 = 120000 */
    int replicate_timeout_ms;        /* deadline for pulling one chunk from a peer; 0 = 120000 */
    unsigned max_streams_per_client; /* concurrent Read/Write streams of one peer connection
                                        (more are refused with -EBUSY); 0 = no cap */
    /* Chunk access tokens (not owned; NULL: off, the cluster has no secret). When set, Read,
     * Write (on every replica of the chain), Delete, Replicate and SetVersion need a token
     * for that chunk, version and operation: -EACCES when missing or invalid, -CFS_ETOKEN
     * when expired, with the reason in errmsg and one log line per refused call. */
    const chunk_keyring *tokens;
};

typedef struct chunk_service chunk_service;

int chunk_service_create(const struct chunk_service_opts *opts, chunk_service **out);
/* Adds the ChunkService methods to `srv` (before rpc_server_start). */
int chunk_service_register(chunk_service *svc, rpc_server *srv);
/* The address this server is reached at (named in failed_address on local errors). Call once
 * the port is known; copied. */
void chunk_service_set_address(chunk_service *svc, const char *address);
/* Reads and writes in flight (heartbeat "load"). */
unsigned chunk_service_load(chunk_service *svc);
/* After the rpc server is destroyed. */
void chunk_service_destroy(chunk_service *svc);

/* Pulls chunk_id at `version` from `source` into the store (used by the Replicate RPC and by
 * replicate commands from the metaserver), presenting `token` (the replicate token the caller
 * checked) to the source. 0 when held at that version afterwards. */
int chunk_service_replicate(chunk_service *svc, uint64_t chunk_id, uint64_t version,
                            const char *source, chunk_token_ref token);

#endif
