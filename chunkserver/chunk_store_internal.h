#ifndef CFS_CHUNK_STORE_INTERNAL_H
#define CFS_CHUNK_STORE_INTERNAL_H
/* Shared between chunk_store.c (operations) and chunk_store_scan.c (start-up scan). */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "chunkserver/chunk_store.h"

struct chunk_entry {
    uint64_t id;
    uint64_t version;
    uint64_t length;     /* current length (what reads see) */
    uint64_t hdr_seq;    /* seq of the current header slot */
    uint64_t hdr_length; /* length recorded in the current header */
    int dir;             /* index into chunk_store.dirs */
    int refs;            /* guarded by the store's map lock */
    bool dead;           /* deleted/quarantined/failed create; guarded by lock */
    bool importing;      /* being copied from a peer: invisible to reads, lists, reports */
    bool fresh;          /* created but never synced: the file is still <id>.chk.tmp */
    bool name_unsynced;  /* renamed to <id>.chk, directory fsync still owed */
    int fd;              /* open while write sessions run (writers > 0), else -1 */
    int writers;         /* write sessions begun and not ended */
    pthread_mutex_t lock;
    struct chunk_entry *next; /* hash chain */
};

struct chunk_store {
    char **dirs;
    size_t ndirs;
    int *lock_fds; /* <dir>/LOCK, flock'ed: one process per data dir; -1 = not held */
    pthread_mutex_t map_lock;
    struct chunk_entry **buckets;
    size_t nbuckets;
    size_t count;
    chunk_listener_fn listener;
    void *listener_arg;
};

/* Index primitives; the caller holds map_lock. */
struct chunk_entry *cs_map_find(chunk_store *cs, uint64_t id);
void cs_map_insert(chunk_store *cs, struct chunk_entry *e);
void cs_map_remove(chunk_store *cs, struct chunk_entry *e);
struct chunk_entry *cs_entry_new(uint64_t id, uint64_t version, uint64_t length, uint64_t seq,
                                 int dir);
void cs_entry_free(struct chunk_entry *e);

/* "<dir>/chunks/<xx>/<id>.chk" into buf. 0 or -ENAMETOOLONG. */
int cs_chunk_path(const chunk_store *cs, int dir, uint64_t id, char *buf, size_t len);
/* Renames `path` to <dir>/quarantine/<basename>.<reason>.<unix time ns>. 0 or -errno. */
int cs_move_to_quarantine(const chunk_store *cs, int dir, const char *path, const char *reason);
/* fsync of a directory (after rename/unlink/create). */
int cs_fsync_dir(const char *path);

#endif
