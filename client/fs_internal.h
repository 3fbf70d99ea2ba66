#ifndef CFS_CLIENT_FS_INTERNAL_H
#define CFS_CLIENT_FS_INTERNAL_H
/* Internal state of libchunkfs shared by its source files; not part of the public API. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "client/chunkfs.h"
#include "client/index_map.h"
#include "common/time_util.h"
#include "proto/chunkfs.pb-c.h"

#define CFS_META_METHOD "/chunkfs.MetaService/Call"
#define CFS_CHUNK_WRITE_METHOD "/chunkfs.ChunkService/Write"
#define CFS_CHUNK_READ_METHOD "/chunkfs.ChunkService/Read"
/* Largest data payload of one WriteReq / ReadResp (protocol limit). */
#define CFS_DATA_PIECE (1u << 20)

typedef struct write_pool write_pool;

struct cfs_fs {
    cfs_options opt;
    char **addrs; /* metaserver addresses as given */
    size_t naddrs;
    uint64_t client_id;
    atomic_uint_fast64_t next_request_id;
    atomic_uint_fast64_t next_pick; /* read_path: which replica a chunk read tries first */

    pthread_mutex_t leader_mu;
    char *leader;     /* cached leader address (malloc'd), NULL when unknown */
    size_t next_addr; /* where to probe next when the leader is unknown */

    /* Open write handles (for lease renewal, getattr overlay, truncate) */
    pthread_mutex_t files_mu;
    pthread_cond_t files_cv;
    struct cfs_file *files;
    bool stopping;
    pthread_t lease_thread;
    bool lease_thread_started;

    write_pool *pool;
};

/* One replica as the data path needs it. */
typedef struct chunk_replica {
    char *address;
    uint64_t server_id;
} chunk_replica;

/* A chunk's location and version (from GetChunks or AllocChunk). */
typedef struct chunk_loc {
    uint32_t index;
    uint64_t chunk_id;
    uint64_t version;
    uint64_t base_version;
    uint64_t length;
    size_t nreplicas;
    chunk_replica *replicas;
    uint8_t *token; /* chunk access token (opaque, read or write), NULL when none */
    size_t token_len;
} chunk_loc;

/* A dirty byte range inside one chunk. */
typedef struct extent {
    uint64_t off; /* offset within the chunk */
    uint64_t len;
    uint64_t cap;
    uint8_t *data;
    struct extent *next; /* sorted by off, non-overlapping */
} extent;

/* Buffered writes of one chunk index, waiting to be sent. */
typedef struct wchunk {
    uint32_t index;
    uint64_t bytes;
    extent *extents;
} wchunk;

/* A chunk written (durable on replicas) but not yet committed. */
typedef struct pending_commit {
    uint32_t index;
    uint64_t chunk_id;
    uint64_t version;
    uint64_t length;
} pending_commit;

struct cfs_file {
    cfs_fs *fs;
    uint64_t ino;
    int flags;
    bool writable;
    bool append;
    cfs_cred cred;
    uint64_t chunk_size;
    bool chunk_size_known; /* from OpenResp or a GetChunks answer (else a fallback) */
    cfs_attr attr;         /* as of open / last commit */

    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t size;           /* logical size incl. buffered writes (writers) / last seen size */
    uint64_t committed_size; /* size the metaserver has (writers) */
    int err;                 /* sticky error of background writes */

    /* writers */
    uint64_t lease_id;
    bool first_prealloc; /* chunk 0 came allocated with the create (close may drop it) */
    bool first_streamed; /* a write of chunk 0 was started (its replicas may exist) */
    uint32_t lease_ms;
    int64_t next_renew_ms;
    index_map dirty; /* index -> wchunk* not yet sent */
    uint64_t dirty_bytes;
    index_map inflight; /* index -> (void*)1 while a job writes that chunk */
    int ninflight;
    index_map allocs;  /* index -> chunk_loc* allocated in this write session */
    index_map pending; /* index -> pending_commit* */
    bool registered;   /* on fs->files */
    int refs;          /* borrowed by namespace calls (under fs->files_mu) */
    struct cfs_file *next;

    /* readers */
    pthread_mutex_t cache_mu;
    index_map cache; /* index -> chunk_loc* or CHUNK_HOLE */
    pthread_mutex_t ra_mu;
    uint64_t ra_off;
    uint64_t ra_len;
    uint8_t *ra_buf;
    /* background prefetch of the window after ra (sequential reads) */
    pthread_cond_t ra_cv;
    pthread_t pf_thread;
    int pf_state; /* 0 none, 1 running, 2 done (thread finished, join pending) */
    int pf_rc;
    uint64_t pf_off;
    uint64_t pf_len;
    uint8_t *pf_buf;
    uint64_t last_read_end;
};

/* ---------------------------------------------------------------- meta_client.c */
/* Sends one MetaService call to the leader: fills cred, client_id and a fresh request_id
 * (reused across retries), follows leader hints, retries unreachable servers with backoff
 * within the retry window. Returns the response's err (0 or negative errno) or a transport
 * error; *resp is set (caller frees with chunkfs__meta_response__free_unpacked) whenever the
 * server answered, NULL otherwise. resp may be NULL when only err matters. */
int meta_call(cfs_fs *fs, const cfs_cred *cred, Chunkfs__MetaRequest *req,
              Chunkfs__MetaResponse **resp);

/* ---------------------------------------------------------------- attr.c */
void attr_from_pb(const Chunkfs__Attr *a, cfs_attr *out);

/* ---------------------------------------------------------------- chunk_loc.c */
int chunk_loc_from_pb(const Chunkfs__ChunkInfo *ci, chunk_loc **out);
void chunk_loc_free(chunk_loc *c);
/* Deep copy (CHUNK_HOLE copies to itself). */
int chunk_loc_copy(const chunk_loc *src, chunk_loc **out);
/* Sentinel cached for an index that is a hole. */
extern chunk_loc chunk_hole;
#define CHUNK_HOLE (&chunk_hole)

/* ---------------------------------------------------------------- chunk_cache.c */
/* Location of chunk `index` of f (fetching a batch from the metaserver on a miss); *out is a
 * private copy (free with chunk_loc_free), or CHUNK_HOLE. Updates f->size for readers. */
int chunk_cache_get(cfs_file *f, uint32_t index, chunk_loc **out);
void chunk_cache_invalidate(cfs_file *f, uint32_t index);
void chunk_cache_clear(cfs_file *f);
/* The cluster's chunk size for f, asking the metaserver if the open did not say. */
int chunk_size_of(cfs_file *f, uint64_t *out);

/* ---------------------------------------------------------------- read_path.c */
ssize_t read_path_pread(cfs_file *f, void *buf, size_t size, uint64_t off);
void read_path_drop_readahead(cfs_file *f);

/* ---------------------------------------------------------------- write_path.c */
int write_pool_create(int threads, write_pool **out);
void write_pool_destroy(write_pool *p);
/* Buffers data; may hand full chunks to the pool (blocks while too many are in flight). */
int write_path_pwrite(cfs_file *f, const void *buf, size_t size, uint64_t off);
/* Sends everything buffered, waits, commits. */
int write_path_flush(cfs_file *f);
/* Frees the buffers and session state of a handle (after a final flush). */
void write_path_release(cfs_file *f);
/* Forgets allocated chunk versions (after truncate the metaserver changed them). */
void write_path_forget_allocs(cfs_file *f);

/* ---------------------------------------------------------------- lease.c */
int lease_start(cfs_fs *fs);
void lease_stop(cfs_fs *fs);
void lease_register(cfs_file *f);
void lease_unregister(cfs_file *f);
/* The open write handle of `ino` on this fs, if any (not reference counted: use under
 * fs->files_mu only). */
cfs_file *lease_find_writer_locked(cfs_fs *fs, uint64_t ino);
/* Borrows the open write handle of `ino` (NULL if none); give it back with lease_put. */
cfs_file *lease_get_writer(cfs_fs *fs, uint64_t ino);
void lease_put(cfs_file *f);

/* ---------------------------------------------------------------- file_io.c */
/* Builds a handle for an opened file: from OpenResp (write opens) or from attr alone. */
int file_handle_new(cfs_fs *fs, const cfs_cred *cred, int flags, const Chunkfs__OpenResp *open,
                    const Chunkfs__Attr *attr, cfs_file **out);
/* Validates a single path component: -ENOENT (empty), -EINVAL ('/') or -ENAMETOOLONG. "."
 * and ".." go to the metaserver, which answers what Linux answers for the operation
 * (mkdir EEXIST, rmdir EINVAL/ENOTEMPTY, unlink EISDIR, rename EBUSY). */
int check_name(const char *name);

/* ---------------------------------------------------------------- cred.c */
void cred_to_pb(const cfs_cred *c, Chunkfs__Cred *pb);

#endif
