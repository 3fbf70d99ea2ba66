#ifndef CFS_REPLAY_CACHE_H
#define CFS_REPLAY_CACHE_H
/* Remembers the nonces of accepted authentication proofs so that each is accepted once.
 * Pure (the caller passes the time), not thread-safe (the caller locks), fixed memory.
 *
 * It keeps nonces whose timestamp is inside the acceptance window. When more than half of
 * the slots fill with live entries (more than capacity/2 calls inside one window), it forgets
 * the older half and raises a floor: proofs stamped at or below the floor are refused from
 * then on, because their nonce may have been forgotten. Under normal load the floor stays
 * below now - window and refuses nothing the window would accept. */
#include <stddef.h>
#include <stdint.h>

#define REPLAY_NONCE_LEN 16

typedef struct replay_cache replay_cache;

/* capacity: slots, rounded up to a power of two (>= 16). NULL on allocation failure. */
replay_cache *replay_cache_create(size_t capacity, int64_t window_ms);
void replay_cache_destroy(replay_cache *rc);

/* Records the nonce of a proof stamped ts_ms, checked at now_ms. Returns 0 (first use,
 * recorded), -EALREADY (seen before) or -ESTALE (ts_ms at or below the floor). */
int replay_cache_check_add(replay_cache *rc, const uint8_t nonce[REPLAY_NONCE_LEN], int64_t ts_ms,
                           int64_t now_ms);

/* Entries held now (for tests). */
size_t replay_cache_count(const replay_cache *rc);

#endif
