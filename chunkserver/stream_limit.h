#ifndef CFS_STREAM_LIMIT_H
#define CFS_STREAM_LIMIT_H
/* Caps the chunk streams (reads and writes) one client runs at once on this chunkserver, so
 * one client cannot hold every handler thread. A client is a gRPC peer string
 * ("ipv4:10.0.0.5:40512"): one connection, and libchunkfs keeps one connection per
 * chunkserver, so that is one client process (another chunkserver forwarding chains is one
 * client too). Thread-safe. */
#include <stdbool.h>

typedef struct stream_limit stream_limit;

/* max 0: no cap (enter always succeeds). NULL on out of memory. */
stream_limit *stream_limit_new(unsigned max);
void stream_limit_free(stream_limit *sl);
/* Counts a stream of `peer`: 0, or -EBUSY when it already runs max (nothing counted), or
 * -ENOMEM. Every 0 must be paired with one stream_limit_leave of the same peer. */
int stream_limit_enter(stream_limit *sl, const char *peer);
void stream_limit_leave(stream_limit *sl, const char *peer);
/* The cap (0: none). */
unsigned stream_limit_max(const stream_limit *sl);

#endif
