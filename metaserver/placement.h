#ifndef CFS_PLACEMENT_H
#define CFS_PLACEMENT_H
/* Replica target selection (pure: no I/O, no clock, no randomness of its own).
 * Rules, in priority order:
 *   1. only candidates that are alive, not draining, not excluded and have at least
 *      `min_free` bytes free are eligible;
 *   2. spread over failure domains: a target in a domain not yet used (by the chunk's
 *      existing replicas or by earlier picks) beats one in a used domain;
 *   3. then the least used fraction (used / capacity) wins;
 *   4. ties break deterministically by a hash of (seed, server id), so equal servers share
 *      the load when the caller passes a different seed per allocation. */
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

typedef struct placement_candidate {
    uint64_t id;
    const char *domain; /* failure domain label; "" or NULL = its own unlabelled domain */
    uint64_t capacity;
    uint64_t used;
    bool alive;
    bool draining;
} placement_candidate;

typedef struct placement_request {
    int want;                /* how many targets (> 0) */
    uint64_t min_free;       /* a candidate needs this many free bytes (e.g. one chunk) */
    const uint64_t *exclude; /* never pick these server ids */
    size_t n_exclude;
    const uint64_t *existing; /* servers already holding the chunk: not picked, their domains
                                 count as used */
    size_t n_existing;
    uint64_t seed; /* caller's random value for the tie-break */
} placement_request;

/* Writes up to req->want distinct server ids into out (room for req->want) and returns how
 * many (>= 1) it chose: when fewer than `want` are eligible it returns what is possible.
 * -CFS_ENOSERVERS when no eligible server would remain even ignoring free space (none alive,
 * or all excluded/draining); -ENOSPC when such servers exist but all lack min_free bytes;
 * -EINVAL on bad arguments (want <= 0, NULL pointers with nonzero counts). */
int placement_choose(const placement_candidate *cands, size_t n_cands, const placement_request *req,
                     uint64_t *out);

#endif
