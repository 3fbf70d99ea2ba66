#ifndef CFS_SCRUBBER_H
#define CFS_SCRUBBER_H
/* Background scrubber: re-reads every replica's blocks and checks their CRCs at a bounded
 * rate. A bad block makes the store quarantine the replica and report it corrupt (through the
 * store's listener, i.e. the next heartbeat). One pass over all replicas, then a pause. */
#include <stdint.h>

#include "chunkserver/chunk_store.h"

struct scrubber_opts {
    chunk_store *store;   /* not owned */
    double rate_mib_s;    /* bytes checked per second, in MiB; <= 0 = 8 */
    int pass_interval_ms; /* pause between passes; <= 0 = 3600000 */
    int start_delay_ms;   /* before the first pass; < 0 = 0 */
};

struct scrubber_stats {
    uint64_t passes;  /* complete passes */
    uint64_t chunks;  /* replicas checked */
    uint64_t bytes;   /* bytes checked */
    uint64_t corrupt; /* replicas found corrupt */
};

typedef struct scrubber scrubber;

int scrubber_start(const struct scrubber_opts *opts, scrubber **out);
/* Stops promptly (within one 1 MiB check) and frees. */
void scrubber_stop(scrubber *s);
void scrubber_get_stats(scrubber *s, struct scrubber_stats *out);

#endif
