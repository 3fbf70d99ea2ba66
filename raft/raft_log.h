#ifndef CFS_RAFT_LOG_H
#define CFS_RAFT_LOG_H
/* The in-memory Raft log of the core (internal to raft/): entries after the snapshot point,
 * the stable (persisted) mark, and the commit and applied indexes. Pure data structure. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft/raft.h"

typedef struct raft_log {
    uint64_t snap_index; /* entries start at snap_index + 1 */
    uint64_t snap_term;
    raft_entry *ents; /* ents[i].index == snap_index + 1 + i; each owns its data */
    size_t n;
    size_t cap;
    uint64_t stable; /* last index the caller persisted (>= snap_index) */
    uint64_t committed;
    uint64_t applied;
} raft_log;

void raft_log_init(raft_log *l, uint64_t snap_index, uint64_t snap_term);
void raft_log_free(raft_log *l);

static inline uint64_t raft_log_last_index(const raft_log *l)
{
    return l->snap_index + l->n;
}

static inline uint64_t raft_log_first_index(const raft_log *l)
{
    return l->snap_index + 1;
}

/* Term of entry i: true and *term when known (snapshot point or held), false otherwise. */
bool raft_log_term(const raft_log *l, uint64_t i, uint64_t *term);
uint64_t raft_log_last_term(const raft_log *l);
bool raft_log_match_term(const raft_log *l, uint64_t i, uint64_t term);
/* The held entry at i, or NULL. */
const raft_entry *raft_log_entry(const raft_log *l, uint64_t i);

/* Raft's "at least as up-to-date" comparison of (last_index, last_term) with ours. */
bool raft_log_is_up_to_date(const raft_log *l, uint64_t last_index, uint64_t last_term);

/* Appends copies of ents (contiguous), first removing any held suffix from ents[0].index
 * (which must be in [first_index, last_index + 1]); lowers stable if it truncates.
 * 0, -EINVAL (gap or would cut the snapshot), -ENOMEM. */
int raft_log_append(raft_log *l, const raft_entry *ents, size_t n);

/* First index in ents whose term differs from ours or that we lack; 0 if all match. */
uint64_t raft_log_find_conflict(const raft_log *l, const raft_entry *ents, size_t n);

/* Largest index <= index whose term is <= term (or the first index we cannot see below). */
uint64_t raft_log_find_conflict_by_term(const raft_log *l, uint64_t index, uint64_t term);

/* Marks entries up to i persisted if entry i still has term t (it may have been replaced). */
void raft_log_stable_to(raft_log *l, uint64_t i, uint64_t t);

/* Drops entries <= i (which must be held or the snapshot point). */
void raft_log_compact(raft_log *l, uint64_t i);

/* Forgets everything and restarts the log after a snapshot at (i, t): commit = applied =
 * stable = i. */
void raft_log_restore(raft_log *l, uint64_t i, uint64_t t);

/* Deep-copies entries [lo, hi] (held) into a new array; *out NULL when lo > hi. */
int raft_log_copy_range(const raft_log *l, uint64_t lo, uint64_t hi, raft_entry **out, size_t *n);

/* Entry helpers shared by the core. */
int raft_entry_copy(raft_entry *dst, const raft_entry *src);
void raft_entries_free(raft_entry *ents, size_t n);

#endif
