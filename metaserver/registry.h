#ifndef CFS_REGISTRY_H
#define CFS_REGISTRY_H
/* The chunkserver registry: the leader's soft state about chunkservers and where chunk
 * replicas live (like GFS, locations are not in Raft; a new leader rebuilds them from the
 * next registrations and reports). Times are monotonic milliseconds passed in by the caller,
 * so everything here is deterministic and testable. Not thread-safe: the caller holds a lock.
 *
 * Servers: registered with an id (assigned through Raft by the caller), address and failure
 * domain; alive while heartbeats arrive; dead once `dead_timeout_ms` passes without one (its
 * replicas are forgotten: it must register again and send a full report).
 * Replicas: chunk_id -> [(server id, version, length)], from full and incremental reports.
 * Deletes: a per-server queue of replicas to delete, drained into heartbeat replies. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metaserver/placement.h"

#define REG_ADDR_MAX 128
#define REG_DOMAIN_MAX 64

typedef struct registry registry;

typedef struct reg_server_info {
    uint64_t id;
    char address[REG_ADDR_MAX];
    char domain[REG_DOMAIN_MAX];
    char http[REG_ADDR_MAX]; /* its http endpoint ("host:port"), "" when it has none */
    uint64_t capacity;
    uint64_t used; /* last reported, plus bytes allocated to it since that report */
    uint64_t chunks;
    uint32_t load;
    int64_t last_heartbeat_ms;
    bool alive;
    bool draining; /* decommissioning: no new replicas land here */
    bool reported; /* its full chunk report is complete */
} reg_server_info;

typedef struct reg_replica {
    uint64_t server_id;
    uint64_t version;
    uint64_t length;
} reg_replica;

typedef struct reg_location {
    uint64_t server_id;
    char address[REG_ADDR_MAX];
    char domain[REG_DOMAIN_MAX];
} reg_location;

typedef struct reg_delete {
    uint64_t chunk_id;
    uint64_t version; /* 0 = any version */
} reg_delete;

/* dead_timeout_ms > 0. NULL on allocation failure. */
registry *registry_create(int64_t dead_timeout_ms);
void registry_destroy(registry *r);

/* Registers (or re-registers) server `id`. A re-registration forgets the server's replicas
 * and pending deletes (a full report follows). Another server registered at the same
 * address is removed (the machine came back with a new identity). -EINVAL for id 0, an
 * empty/too long address or a too long domain; -ENOMEM. */
int registry_register(registry *r, uint64_t id, const char *address, const char *domain,
                      uint64_t capacity, uint64_t used, int64_t now_ms);

/* Sets the http endpoint ("host:port", "" = none) a registered server announced; kept until
 * its next registration. -ENOENT for an unknown server, -EINVAL for a too long address. */
int registry_set_http(registry *r, uint64_t id, const char *http);

/* Records a heartbeat. -ENOENT when the server is unknown or was declared dead (it must
 * register again). */
int registry_heartbeat(registry *r, uint64_t id, uint64_t capacity, uint64_t used,
                       uint64_t chunk_count, uint32_t load, int64_t now_ms);

/* Adds or updates the replica of chunk_id on server (one entry per server and chunk).
 * -ENOENT for an unknown/dead server, -EINVAL for chunk_id 0 or version 0, -ENOMEM. */
int registry_add_replica(registry *r, uint64_t server, uint64_t chunk_id, uint64_t version,
                         uint64_t length);
/* Forgets the replica of chunk_id on server (no-op when absent). */
void registry_remove_replica(registry *r, uint64_t server, uint64_t chunk_id);
/* Marks the server's full report complete. -ENOENT when unknown. */
int registry_report_done(registry *r, uint64_t server);

/* Declares dead every alive server whose last heartbeat is older than the timeout; forgets
 * their replicas. Writes up to `max` newly dead ids to dead_ids (may be NULL) and returns
 * how many servers died. */
size_t registry_expire(registry *r, int64_t now_ms, uint64_t *dead_ids, size_t max);

/* Live servers holding exactly `version` of the chunk, least loaded (then least used
 * fraction) first. Returns how many were written (<= max). */
size_t registry_locations(const registry *r, uint64_t chunk_id, uint64_t version, reg_location *out,
                          size_t max);
/* Every known replica of the chunk (live servers only). Returns the total count; writes up to
 * max. */
size_t registry_replicas(const registry *r, uint64_t chunk_id, reg_replica *out, size_t max);

/* Calls fn for every (chunk, replica); fn must not modify the registry. */
void registry_foreach_replica(const registry *r,
                              void (*fn)(void *arg, uint64_t chunk_id, const reg_replica *rep),
                              void *arg);

/* Decommission (true) / recommission (false). -ENOENT when unknown. */
int registry_set_draining(registry *r, uint64_t id, bool draining);

/* Server lookup by id (0 or -ENOENT) and listing (returns the total, writes up to max). */
int registry_get_server(const registry *r, uint64_t id, reg_server_info *out);
size_t registry_list_servers(const registry *r, reg_server_info *out, size_t max);
size_t registry_server_count(const registry *r);

/* Fills placement candidates for every known server (domain strings point into the
 * registry: valid until the next registry call). Returns the total, writes up to max. */
size_t registry_candidates(const registry *r, placement_candidate *out, size_t max);
/* Adds `bytes` to the estimated usage of each server (until its next heartbeat), so a burst
 * of allocations does not pile onto the same emptiest server. */
void registry_note_allocation(registry *r, const uint64_t *ids, size_t n, uint64_t bytes);

/* Queues a delete command for server and forgets that replica when its version matches (or
 * version is 0), so a scan does not queue it again. -ENOENT unknown server, -ENOMEM. */
int registry_queue_delete(registry *r, uint64_t server, uint64_t chunk_id, uint64_t version);
/* Moves up to max queued deletes of server into out; returns how many. */
size_t registry_take_deletes(registry *r, uint64_t server, reg_delete *out, size_t max);
/* Number of deletes queued for server. */
size_t registry_pending_deletes(const registry *r, uint64_t server);

/* Allocation intents: the servers the leader last handed out for a chunk (alloc_chunk).
 * A client that loses a replica first lands its data on the survivors and then asks for a
 * version bump at once, before their next heartbeat reports the chunk: the bump's targets
 * come from the intent as well as from reports. A bounded FIFO (REG_INTENTS entries); a
 * chunk's newer intent replaces its older one. */
#define REG_INTENTS 4096
#define REG_INTENT_MAX 8
void registry_set_intent(registry *r, uint64_t chunk_id, const uint64_t *ids, size_t n);
/* Copies the chunk's intent (up to max ids) and returns how many; 0 when none. */
size_t registry_get_intent(const registry *r, uint64_t chunk_id, uint64_t *ids, size_t max);

/* Repair: replicate commands queued per server (drained into heartbeat replies), and a
 * bounded table of repairs in flight so a chunk is not scheduled twice while its copy runs. */
typedef struct reg_replicate {
    uint64_t chunk_id;
    uint64_t version;
    char source[REG_ADDR_MAX]; /* a live holder to pull from */
} reg_replicate;
/* -ENOENT unknown/dead server, -EINVAL bad source, -ENOMEM. */
int registry_queue_replicate(registry *r, uint64_t server, uint64_t chunk_id, uint64_t version,
                             const char *source);
size_t registry_take_replicates(registry *r, uint64_t server, reg_replicate *out, size_t max);
#define REG_REPAIRS 1024
/* Marks a repair of chunk_id as started at now_ms. Returns false (and changes nothing) while
 * an earlier repair of the chunk is younger than timeout_ms, or when the table is full of
 * young repairs. */
bool registry_repair_begin(registry *r, uint64_t chunk_id, int64_t now_ms, int64_t timeout_ms);
/* Same, tracking the target server: the repair ends (its slot frees, the done counter grows)
 * as soon as `target` reports a replica of the chunk. */
bool registry_repair_start(registry *r, uint64_t chunk_id, uint64_t target, int64_t now_ms,
                           int64_t timeout_ms);
/* Repairs younger than timeout_ms going to `target` (0: to any server), for throttling. */
size_t registry_repairs_inflight(const registry *r, uint64_t target, int64_t now_ms,
                                 int64_t timeout_ms);
/* True while a repair of chunk_id younger than timeout_ms runs (its copy is not reported). */
bool registry_repair_pending(const registry *r, uint64_t chunk_id, int64_t now_ms,
                             int64_t timeout_ms);
/* Forgets the repair of chunk_id in flight, if any: a replica of the chunk was found corrupt,
 * and it may be the one that copy reads from (that copy then fails without a report, and the
 * chunk would wait out the timeout). The next round schedules a copy afresh. */
void registry_repair_cancel(registry *r, uint64_t chunk_id);
/* Tracked repairs confirmed by their target's report since this registry was created. */
uint64_t registry_repairs_done(const registry *r);

/* Totals over live servers (statfs). */
void registry_totals(const registry *r, uint64_t *capacity, uint64_t *used);

#endif
