/* Process-wide RPC setup, channel arguments, and the one mapping between negative errno
 * values and gRPC status codes (see the table in docs/protocol.md). */
#include "common/rpc.h"

#include "common/errors.h"
#include "common/log.h"
#include "common/rpc_internal.h"

#include <errno.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/support/log.h>
#include <grpc/support/time.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t g_init_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_inited;

static void rpc_log_from_grpc(gpr_log_func_args *a)
{
    enum cfs_log_level lvl = CFS_LOG_DEBUG;
    if (a->severity == GPR_LOG_SEVERITY_INFO) lvl = CFS_LOG_INFO;
    if (a->severity == GPR_LOG_SEVERITY_ERROR) lvl = CFS_LOG_ERROR;
    if (lvl < cfs_log_get_level()) return;
    cfs_log_write(lvl, a->file, a->line, "grpc: %s", a->message);
}

void rpc_global_init(void)
{
    pthread_mutex_lock(&g_init_mu);
    if (!g_inited) {
        /* gRPC and protobuf-c allocate and free a 1 MiB buffer per bulk message; without this
         * glibc returns those pages to the kernel each time and faults them back in. */
        mallopt(M_MMAP_THRESHOLD, 64 << 20);
        mallopt(M_TRIM_THRESHOLD, 512 << 20);
        mallopt(M_ARENA_MAX, 2);
        gpr_set_log_function(rpc_log_from_grpc);
        grpc_init();
        g_inited = 1;
    }
    pthread_mutex_unlock(&g_init_mu);
}

void rpc_global_shutdown(void)
{
    pthread_mutex_lock(&g_init_mu);
    if (g_inited) {
        rpc_client_shutdown();
        /* Blocking, so that gRPC's own state is gone before the process exits (leak checks). */
        grpc_shutdown_blocking();
        g_inited = 0;
    }
    pthread_mutex_unlock(&g_init_mu);
}

static grpc_arg int_arg(const char *key, int value)
{
    grpc_arg a;
    memset(&a, 0, sizeof a);
    a.type = GRPC_ARG_INTEGER;
    a.key = (char *)key;
    a.value.integer = value;
    return a;
}

size_t rpc_fill_args(grpc_arg *args, int is_server)
{
    size_t n = 0;
    args[n++] = int_arg(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, (int)CFS_RPC_MAX_MESSAGE);
    args[n++] = int_arg(GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, (int)CFS_RPC_MAX_MESSAGE);
    /* Bulk tuning: the BDP probe grows flow-control windows (and RSS) per stream and was
     * slower; 4 MiB frames cut per-frame overhead for 1 MiB messages. */
    args[n++] = int_arg(GRPC_ARG_HTTP2_BDP_PROBE, 0);
    args[n++] = int_arg(GRPC_ARG_HTTP2_MAX_FRAME_SIZE, 4 * 1024 * 1024);
    /* Keepalive detects a frozen peer; both sides must agree or the server sends GOAWAY. */
    args[n++] = int_arg(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
    args[n++] = int_arg(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
    args[n++] = int_arg(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    args[n++] = int_arg(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
    if (is_server) {
        /* A second server on a taken port must fail, not share it silently. */
        args[n++] = int_arg(GRPC_ARG_ALLOW_REUSEPORT, 0);
        args[n++] = int_arg(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 5000);
        args[n++] = int_arg(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
    } else {
        /* The project owns retries; reconnect quickly after a server restart. The minimum
         * backoff is also the connect timeout (TCP + HTTP/2 handshake), so it keeps gRPC's
         * 20 s default: a small value fails connects on a loaded machine. */
        args[n++] = int_arg(GRPC_ARG_ENABLE_RETRIES, 0);
        args[n++] = int_arg(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
        args[n++] = int_arg(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    }
    return n;
}

grpc_status_code rpc_status_from_errno(int err)
{
    switch (-err) {
    case 0:
        return GRPC_STATUS_OK;
    case ENOENT:
        return GRPC_STATUS_NOT_FOUND;
    case EEXIST:
        return GRPC_STATUS_ALREADY_EXISTS;
    case EACCES:
    case EPERM:
    case CFS_ETOKEN:
        return GRPC_STATUS_PERMISSION_DENIED;
    case CFS_EAUTH:
        return GRPC_STATUS_UNAUTHENTICATED;
    case ENOSPC:
    case EDQUOT:
    case EMSGSIZE:
    case CFS_ENOSERVERS:
        return GRPC_STATUS_RESOURCE_EXHAUSTED;
    case EINVAL:
    case ENAMETOOLONG:
    case EBADMSG:
    case CFS_ECLUSTER:
        return GRPC_STATUS_INVALID_ARGUMENT;
    case ENOTEMPTY:
    case ENOTDIR:
    case EISDIR:
        return GRPC_STATUS_FAILED_PRECONDITION;
    case CFS_ESTALE_VER:
    case CFS_ELEASE:
        return GRPC_STATUS_ABORTED;
    case EIO:
    case CFS_ECORRUPT:
        return GRPC_STATUS_DATA_LOSS;
    case ENOTCONN:
    case ESHUTDOWN:
    case EAGAIN:
    case CFS_ENOTLEADER:
        return GRPC_STATUS_UNAVAILABLE;
    case ETIMEDOUT:
        return GRPC_STATUS_DEADLINE_EXCEEDED;
    case ENOSYS:
        return GRPC_STATUS_UNIMPLEMENTED;
    case ECANCELED:
        return GRPC_STATUS_CANCELLED;
    case ERANGE:
    case EFBIG:
        return GRPC_STATUS_OUT_OF_RANGE;
    default:
        return GRPC_STATUS_UNKNOWN;
    }
}

/* Parses the trailer value; 1 and *out on a well-formed negative number, else 0. */
static int parse_errno_trailer(grpc_slice v, int *out)
{
    size_t n = GRPC_SLICE_LENGTH(v);
    const char *p = (const char *)GRPC_SLICE_START_PTR(v);
    if (n < 2 || n > 11 || p[0] != '-') return 0;
    long val = 0;
    for (size_t i = 1; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return 0;
        val = val * 10 + (p[i] - '0');
    }
    if (val <= 0 || val > 1000000) return 0;
    *out = (int)-val;
    return 1;
}

int rpc_errno_from_status(grpc_status_code status, const grpc_metadata_array *trailers)
{
    if (status == GRPC_STATUS_OK) return 0;
    for (size_t i = 0; trailers && i < trailers->count; i++) {
        int e;
        if (grpc_slice_str_cmp(trailers->metadata[i].key, RPC_ERRNO_KEY) == 0 &&
            parse_errno_trailer(trailers->metadata[i].value, &e))
            return e;
    }
    switch (status) {
    case GRPC_STATUS_UNAVAILABLE:
        return -ENOTCONN;
    case GRPC_STATUS_DEADLINE_EXCEEDED:
        return -ETIMEDOUT;
    case GRPC_STATUS_RESOURCE_EXHAUSTED:
        return -EMSGSIZE;
    case GRPC_STATUS_UNIMPLEMENTED:
        return -ENOSYS;
    case GRPC_STATUS_CANCELLED:
        return -ECANCELED;
    case GRPC_STATUS_UNAUTHENTICATED:
        return -CFS_EAUTH;
    default:
        return -EPROTO;
    }
}

int rpc_bb_to_buf(grpc_byte_buffer *bb, uint8_t **buf, size_t *len)
{
    size_t total = grpc_byte_buffer_length(bb);
    uint8_t *out = malloc(total ? total : 1);
    if (!out) return -ENOMEM;
    grpc_byte_buffer_reader rd;
    if (!grpc_byte_buffer_reader_init(&rd, bb)) {
        free(out);
        return -EPROTO;
    }
    size_t off = 0;
    grpc_slice s;
    while (grpc_byte_buffer_reader_next(&rd, &s)) {
        size_t n = GRPC_SLICE_LENGTH(s);
        if (off + n > total) {
            /* A compressed buffer decodes to more than its wire length: grow. */
            uint8_t *bigger = realloc(out, off + n);
            if (!bigger) {
                grpc_slice_unref(s);
                grpc_byte_buffer_reader_destroy(&rd);
                free(out);
                return -ENOMEM;
            }
            out = bigger;
            total = off + n;
        }
        memcpy(out + off, GRPC_SLICE_START_PTR(s), n);
        off += n;
        grpc_slice_unref(s);
    }
    grpc_byte_buffer_reader_destroy(&rd);
    *buf = out;
    *len = off;
    return 0;
}

grpc_byte_buffer *rpc_bb_from_copy(const uint8_t *buf, size_t len)
{
    grpc_slice s = len ? grpc_slice_from_copied_buffer((const char *)buf, len) : grpc_empty_slice();
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    return bb;
}

grpc_byte_buffer *rpc_bb_from_owned(uint8_t *buf, size_t len)
{
    if (!buf || len == 0) {
        free(buf);
        return rpc_bb_from_copy(NULL, 0);
    }
    grpc_slice s = grpc_slice_new(buf, len, free);
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    return bb;
}

gpr_timespec rpc_deadline_after_ms(int64_t timeout_ms)
{
    return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                        gpr_time_from_millis(timeout_ms, GPR_TIMESPAN));
}

int rpc_pack(const ProtobufCMessage *m, uint8_t **buf, size_t *len)
{
    if (!m || !buf || !len) return -EINVAL;
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *out = malloc(n ? n : 1);
    if (!out) return -ENOMEM;
    size_t w = protobuf_c_message_pack(m, out);
    if (w != n) {
        free(out);
        return -EPROTO;
    }
    *buf = out;
    *len = n;
    return 0;
}
