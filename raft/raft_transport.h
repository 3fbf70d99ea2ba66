#ifndef CFS_RAFT_TRANSPORT_H
#define CFS_RAFT_TRANSPORT_H
/* raft_transport: RaftService over common/rpc.
 *   Send(RaftBatch) -> RaftAck: a batch of Raft messages, fire-and-forget for the core;
 *   InstallSnapshot(stream RaftMessage) -> RaftAck: snapshot pieces (RAFT_MSG_SNAP).
 * raft_msg <-> RaftMessage map 1:1 (field by field). Outgoing messages go through one sender
 * thread per peer with a bounded queue: sending never blocks the caller (a full queue drops
 * the message; Raft retransmits), a failed send is reported through `on_fail` and the peer is
 * retried with exponential backoff (50 ms doubling to 1 s). Answers to a batch travel back in
 * its RaftAck when they are ready in time (see wait_answers), otherwise as a batch of their
 * own. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/rpc.h"
#include "raft/raft.h"

#define RAFT_TRANSPORT_SEND_METHOD "/chunkfs.RaftService/Send"
#define RAFT_TRANSPORT_SNAP_METHOD "/chunkfs.RaftService/InstallSnapshot"
/* Queue bounds per peer. */
#define RAFT_TRANSPORT_QUEUE_MSGS 4096
#define RAFT_TRANSPORT_QUEUE_BYTES (64u * 1024 * 1024)

typedef struct raft_transport raft_transport;

typedef struct raft_transport_handlers {
    /* A message arrived (runs on an RPC handler thread; m and its buffers are valid only
     * during the call). from_addr is the sender's address ("" if it did not say). */
    void (*on_message)(void *arg, const raft_msg *m, const char *from_addr);
    /* Sending to `peer` failed; `snapshot` when the lost message was a snapshot piece. */
    void (*on_fail)(void *arg, uint64_t peer, bool snapshot);
    /* Called (may be NULL) after a received batch, or the answers that came back in a
     * RaftAck, were delivered: returns once the messages they caused are queued, or after a
     * short bound (it may do that work on the calling thread). The transport then returns
     * the queued messages for a batch's sender in the RaftAck, so the sender needs no free
     * handler thread of its own to get its acks (a leader whose handlers are all busy in
     * proposals would otherwise never hear them). */
    void (*wait_answers)(void *arg);
    void *arg;
} raft_transport_handlers;

/* Registers the RaftService methods on `srv` (not started yet). `self_addr` is put in every
 * batch so joining nodes learn where to answer. 0 or -errno. */
int raft_transport_create(rpc_server *srv, const char *self_addr, const raft_transport_handlers *h,
                          raft_transport **out);
/* Updates the address announced in batches (e.g. once this node learns its own address). */
void raft_transport_set_self_addr(raft_transport *t, const char *self_addr);
/* Queues `m` for peer `to` at `addr` (packed now; m may be freed right after). Never blocks.
 * 0, -ENOBUFS when the peer's queue is full (dropped), -EINVAL for an empty address. */
int raft_transport_send(raft_transport *t, uint64_t to, const char *addr, const raft_msg *m);
/* Totals over the Send calls made so far: how many, the time each batch's first message
 * waited in its queue, the time the calls took. */
void raft_transport_get_timing(raft_transport *t, uint64_t *batches, uint64_t *queue_ns,
                               uint64_t *rpc_ns);
/* Stops and joins the sender threads (each finishes at most its RPC in flight) and frees t.
 * Call after the rpc_server is destroyed (its handlers use t). */
void raft_transport_destroy(raft_transport *t);

/* Conversions (exposed for tests). raft_msg_to_pb fills `pb` with pointers into `m` (and a
 * malloc'd entries array in *scratch that the caller frees). raft_msg_from_pb fills `m` with
 * pointers into `pb` and a malloc'd entries array (m->entries) the caller frees.
 * 0, -ENOMEM or -EINVAL (malformed). */
struct Chunkfs__RaftMessage;
int raft_msg_to_pb(const raft_msg *m, struct Chunkfs__RaftMessage *pb, void **scratch);
int raft_msg_from_pb(const struct Chunkfs__RaftMessage *pb, raft_msg *m);

#endif
