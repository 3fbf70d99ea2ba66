#ifndef CFS_REPAIR_PLAN_H
#define CFS_REPAIR_PLAN_H
/* Pure decisions of the repair machinery (no I/O, clock or locks): the order in which
 * under-replicated chunks are copied, and which replica an over-replicated chunk loses. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct repair_item {
    uint64_t chunk_id;
    uint64_t version;
    uint32_t goal;
    uint32_t live; /* replicas at the current version on live, non-draining servers */
} repair_item;

/* Sorts the queue most urgent first: fewest live replicas, then the largest shortfall
 * (goal - live), then chunk id (deterministic). */
void repair_order(repair_item *v, size_t n);

typedef struct trim_replica {
    uint64_t server_id;
    const char *domain; /* "" or NULL: a domain of its own */
    uint64_t capacity;
    uint64_t used;
    bool draining;
} trim_replica;

/* Index of the replica to remove from a chunk that has more than it needs: one on a
 * draining server first, else one sharing its failure domain with another replica, else
 * the one on the fullest server (used fraction; ties: the higher server id). -1 when n == 0
 * or reps is NULL. */
int repair_pick_trim(const trim_replica *reps, size_t n);

#endif
