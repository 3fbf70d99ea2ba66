#ifndef CFS_CLIENT_EXTENT_LIST_H
#define CFS_CLIENT_EXTENT_LIST_H
/* Dirty byte ranges of one chunk: a sorted list of non-overlapping extents, each owning a copy
 * of its bytes. Newer writes replace older bytes where they overlap. Pure, not thread-safe. */
#include <stdint.h>

#include "client/fs_internal.h"

/* Copies [off, off+len) into the chunk's buffer. Returns 0 or -ENOMEM (list unchanged on
 * -ENOMEM only for the new bytes: overlapped older bytes may already be dropped, which the
 * caller treats as a failed write of the whole chunk). */
int wchunk_insert(wchunk *wc, uint64_t off, const uint8_t *data, uint64_t len);
/* End of the last extent (0 if empty). */
uint64_t wchunk_end(const wchunk *wc);
/* Inserts zeros into every byte of [from, to) no extent covers (bytes past a chunk's committed
 * length must not show what an earlier, uncommitted or truncated write left there). 0 or
 * -ENOMEM. */
int wchunk_fill_gaps(wchunk *wc, uint64_t from, uint64_t to);
/* Frees every extent (not wc itself). */
void wchunk_clear(wchunk *wc);

#endif
