#ifndef CFS_REBALANCE_H
#define CFS_REBALANCE_H
/* Rebalancer planning (pure: no I/O, clock or locks). Each server's fill is the bytes of
 * chunk replicas it holds over its capacity; the cluster's mean fill is total bytes over
 * total capacity. The cluster is balanced when every server's fill is within
 * spread * mean of the mean (spread is relative: 0.1 = within 10% of the mean), so a new,
 * empty server is filled even when the disks are large and mostly free. One move copies a
 * chunk from the fullest server to the emptiest one, then deletes the source copy. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rebalance_server {
    uint64_t id;
    uint64_t capacity; /* bytes; 0 = not a candidate */
    uint64_t stored;   /* bytes of replicas it holds (plus moves planned into it) */
} rebalance_server;

/* True when every server with capacity is within spread * mean of the mean fill (also when
 * there are fewer than two such servers or nothing is stored). spread < 0 counts as 0. */
bool rebalance_balanced(const rebalance_server *s, size_t n, double spread);

/* Picks the next move of `move_bytes`: *src = index of the fullest server, *dst = index of
 * the emptiest, when the cluster is not balanced and the move does not leave the target
 * fuller than the source (no ping-pong). Returns 1 with the indices, 0 when no move is
 * worth making, -1 on bad arguments (NULL pointers, move_bytes 0). */
int rebalance_pick(const rebalance_server *s, size_t n, double spread, uint64_t move_bytes,
                   size_t *src, size_t *dst);

#endif
