#ifndef CFS_CHAIN_WRITER_H
#define CFS_CHAIN_WRITER_H
/* Forwards a Write stream to the next replica of the chain from a sender thread (taken from a
 * small pool reused across streams), so that the handler writes to the local disk while the
 * same bytes travel downstream (pipelined, not store-and-forward). A bounded queue gives
 * back-pressure. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct chain_writer chain_writer;

/* Opens the stream to `addr` (deadline timeout_ms) and hands it to a sender thread.
 * 0 or the -errno of the open. */
int chain_writer_start(const char *addr, int timeout_ms, chain_writer **out);

/* Queues one packed WriteReq; takes ownership of `buf` (malloc'd) in every case. Blocks while
 * the queue is full. Returns 0, or the downstream error once it has failed (the caller should
 * then stop and report). */
int chain_writer_push(chain_writer *w, uint8_t *buf, size_t len);

/* True once sending downstream has failed (cheap; no locking on the caller's side needed). */
bool chain_writer_failed(chain_writer *w);

/* No more pushes: the sender half-closes the downstream stream once the queue is sent, so the
 * downstream starts its sync while this replica does its own. Does not wait. */
void chain_writer_end_input(chain_writer *w);

/* Ends the stream: without `abort` sends what is queued, half-closes and waits for the
 * downstream's final WriteResp; with `abort` drops what is queued first. Returns 0 and the
 * downstream's verdict in *err (0 or < 0) and *failed_address (malloc'd or NULL: the
 * downstream did not name one), or a transport error (the downstream itself failed).
 * Frees `w`. */
int chain_writer_finish(chain_writer *w, bool abort, int *err, char **failed_address);

#endif
