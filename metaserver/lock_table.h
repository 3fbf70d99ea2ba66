#ifndef CFS_LOCK_TABLE_H
#define CFS_LOCK_TABLE_H
/* POSIX advisory locks kept by the leader (soft state: lost on leader change, like NFSv3's
 * lockd without a grace period; clients that care re-take their locks). Two independent
 * kinds, as on Linux: fcntl byte-range locks (owner = the process's lock owner) and flock
 * whole-file locks (owner = the open file description); the two kinds never conflict with
 * each other. Locks are keyed by (ino, client_id, owner). Non-blocking only: a conflict is
 * reported and the client retries for F_SETLKW / LOCK_EX without LOCK_NB.
 * Not thread-safe: the caller serialises access. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { LOCK_T_UNLOCK = 0, LOCK_T_READ = 1, LOCK_T_WRITE = 2 };

typedef struct lock_desc {
    uint64_t client_id;
    uint64_t owner;
    uint32_t type;  /* LOCK_T_* */
    uint64_t start; /* first byte */
    uint64_t end;   /* last byte, inclusive; UINT64_MAX = to EOF */
    uint32_t pid;   /* reported back by F_GETLK */
    bool flock;     /* whole-file flock() lock: start/end are ignored */
} lock_desc;

typedef struct lock_table lock_table;

lock_table *lock_table_create(void);
void lock_table_destroy(lock_table *t);

/* F_SETLK / flock(): takes, converts or releases (type LOCK_T_UNLOCK) the range for
 * (client_id, owner). A new lock replaces the owner's locks in its range, and unlocking a
 * middle part of a held lock splits it. Returns 0; -EAGAIN and *conflict (if non-NULL) = one
 * conflicting lock when another owner holds an incompatible overlapping lock (nothing
 * changes); -EINVAL for a bad type or start > end; -ENOMEM. */
int lock_table_set(lock_table *t, uint64_t ino, const lock_desc *req, lock_desc *conflict);

/* F_GETLK: returns 0; *conflict = the first lock that would block req, or type
 * LOCK_T_UNLOCK when req could be taken. Changes nothing. -EINVAL as above. */
int lock_table_test(lock_table *t, uint64_t ino, const lock_desc *req, lock_desc *conflict);

/* Drops every lock of one owner on one inode (close of the descriptor). */
void lock_table_release_owner(lock_table *t, uint64_t ino, uint64_t client_id, uint64_t owner);
/* Drops every lock a client holds (its session ended). */
void lock_table_release_client(lock_table *t, uint64_t client_id);
/* Number of lock records held on ino (ranges after splitting/merging); for status and tests. */
size_t lock_table_count(const lock_table *t, uint64_t ino);

#endif
