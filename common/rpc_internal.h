#ifndef CFS_RPC_INTERNAL_H
#define CFS_RPC_INTERNAL_H
/* Shared by the rpc_*.c files only: channel arguments, status <-> errno mapping and byte
 * buffer helpers. Nothing outside common/rpc_*.c includes this. */
#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <stddef.h>
#include <stdint.h>

/* Metadata key that carries the exact negative errno a handler returned. */
#define RPC_ERRNO_KEY "cfs-errno"

/* Number of entries rpc_fill_args writes at most. */
#define RPC_MAX_ARGS 16

/* Fills `args` with the project's channel arguments (one entry per key; the first of a
 * duplicated key would win silently) for a server (is_server=1) or a client channel. Returns
 * the number of entries. */
size_t rpc_fill_args(grpc_arg *args, int is_server);

/* The gRPC status a handler's negative errno is sent with. */
grpc_status_code rpc_status_from_errno(int err);

/* The errno a client reports for a finished call: the "cfs-errno" trailer when present, else
 * the mapping of `status` documented in rpc.h. 0 for GRPC_STATUS_OK. */
int rpc_errno_from_status(grpc_status_code status, const grpc_metadata_array *trailers);

/* Copies a received byte buffer into one malloc'd buffer (never NULL on success, even for an
 * empty message). 0 or -ENOMEM / -EPROTO. */
int rpc_bb_to_buf(grpc_byte_buffer *bb, uint8_t **buf, size_t *len);

/* A byte buffer holding a copy of buf[0..len). */
grpc_byte_buffer *rpc_bb_from_copy(const uint8_t *buf, size_t len);

/* A byte buffer that takes ownership of the malloc'd `buf` (freed with free()). */
grpc_byte_buffer *rpc_bb_from_owned(uint8_t *buf, size_t len);

/* Absolute deadline `timeout_ms` from now on the monotonic clock. */
gpr_timespec rpc_deadline_after_ms(int64_t timeout_ms);

/* ---- security (rpc_security.c) */
struct cfs_secret;
/* Sets (NULL: clears) the key proofs are made and checked with; cfs_secret_install calls it. */
void rpc_auth_set_secret(const struct cfs_secret *s);
/* Fills *md with the "cfs-auth" proof for a call to `method` and returns 1 (the caller
 * unrefs md->value after the batch); 0 when no secret is installed; <0 on failure. */
int rpc_auth_md_make(const char *method, grpc_metadata *md);
/* 0 if the call's metadata carries a valid, fresh, unused proof (or no secret is installed),
 * else -CFS_EAUTH after logging the refusal (rate-limited). */
int rpc_auth_server_check(const char *method, const grpc_metadata_array *md, const char *peer);
/* Bumped by every rpc_set_tls: channels made under an older setting are not reused. */
unsigned rpc_security_generation(void);
/* Channel credentials for the current setting (insecure without TLS). Caller releases. */
grpc_channel_credentials *rpc_security_channel_creds(void);
/* Server credentials for the current setting: 0 or -EINVAL (TLS without a certificate). */
int rpc_security_server_creds(grpc_server_credentials **out);

/* Client-side teardown hooks run by rpc_global_shutdown (rpc_client.c). */
void rpc_client_shutdown(void);

#endif
