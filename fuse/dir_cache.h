#ifndef CFS_FUSE_DIR_CACHE_H
#define CFS_FUSE_DIR_CACHE_H
/* The mount's directory cache: whole listings of directories (name -> inode) and attributes
 * of inodes, so lookups (positive and negative) and a directory's getattr can be answered
 * without a round trip. A listing answers for entry_ttl after it was fetched (the staleness
 * the kernel's own entry cache has), attributes of a directory answer getattr for attr_ttl.
 * Changes made through this mount keep it exact: the glue reports them between
 * dir_cache_begin and dir_cache_end, and anything it cannot describe exactly drops the
 * affected listing or attributes.
 *
 * Races: a listing fetched from the server is installed only if no change began or ended
 * and no attributes were forgotten while it was fetched (the fetch may have missed them), and
 * attributes reported by a change are kept only if it is the only change in flight, none
 * began since, and the inode's attributes were not forgotten since (they may already be
 * older). Thread-safe; pure: no FUSE, RPC or clock (times are passed in, in nanoseconds). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/chunkfs.h"

typedef struct dir_cache dir_cache;

typedef enum dc_result {
    DC_MISS,   /* the cache does not know: ask the server */
    DC_HIT,    /* the name exists: *out holds its attributes */
    DC_ABSENT, /* the directory's listing is fresh and has no such name: ENOENT */
} dc_result;

/* max_entries: listings longer than this are not cached (and the total of cached names is
 * bounded by 8 times it, the inodes with attributes by 9 times it: above that, everything is
 * dropped). Returns NULL without memory. */
dir_cache *dir_cache_new(uint64_t entry_ttl_ns, uint64_t attr_ttl_ns, size_t max_entries);
void dir_cache_free(dir_cache *c);

/* Looks `name` up in the cached listing of `dir`. On DC_HIT, *left_ns (may be NULL) says how
 * much longer the answer is as fresh as the cache promises (the listing's and the
 * attributes' remaining time, whichever ends first): what the kernel may cache it for. */
dc_result dir_cache_lookup(dir_cache *c, uint64_t dir, const char *name, uint64_t now,
                           cfs_attr *out, uint64_t *left_ns);
/* A lookup in `dir` had to go to the server. Returns true when the whole listing should be
 * fetched now: the second miss within entry_ttl, and no fetch of it failed or was too large
 * within entry_ttl. */
bool dir_cache_note_miss(dir_cache *c, uint64_t dir, uint64_t now);
/* The attributes of directory `ino` if they were learnt less than attr_ttl ago and nothing
 * changed them through this mount since. */
bool dir_cache_getattr(dir_cache *c, uint64_t ino, uint64_t now, cfs_attr *out, uint64_t *left_ns);

/* Fetching a listing: take a token before the first page is asked for, then either install
 * the complete listing (entries without attributes are remembered by name only) or report
 * that it could not be had (too long, refused, failed). Install returns 0, -EAGAIN if a change
 * raced with the fetch (not installed), -E2BIG if longer than max_entries (not installed, and
 * not tried again for entry_ttl), -ENOMEM. */
uint64_t dir_cache_fetch_begin(dir_cache *c);
int dir_cache_fetch_install(dir_cache *c, uint64_t token, uint64_t dir, const cfs_dirent *ents,
                            size_t n, uint64_t now);
void dir_cache_fetch_failed(dir_cache *c, uint64_t dir, uint64_t now);

/* A change through this mount: begin before the request leaves, end after its outcome was
 * reported with the calls below (also when it failed). */
uint64_t dir_cache_begin(dir_cache *c);
void dir_cache_end(dir_cache *c, uint64_t token);

/* `name` in `dir` now is the inode `a` (created, linked, or replaced): the listing (if cached)
 * gets it; the attributes are kept if no other change began since `token`. Hard-linked
 * non-directories (nlink > 1) keep no attributes: a change through another name could not
 * be matched to them. -ENOMEM drops the listing instead. */
void dir_cache_set_entry(dir_cache *c, uint64_t token, uint64_t dir, const char *name,
                         const cfs_attr *a, uint64_t now);
/* `name` is gone from `dir`: removed from the listing; the inode it named loses its cached
 * attributes (its link count changed). */
void dir_cache_remove_entry(dir_cache *c, uint64_t dir, const char *name);
/* rename(2) of sdir/sname to ddir/dname: the inode moves (a replaced target is removed, see
 * dir_cache_remove_entry); with exchange the two names swap inodes. Inodes that move lose
 * their cached attributes (ctime). A listing whose new state is not known exactly (the
 * moved inode is not in the cached source listing) is dropped. */
void dir_cache_rename(dir_cache *c, uint64_t sdir, const char *sname, uint64_t ddir,
                      const char *dname, bool exchange);
/* Attributes of directory `dir` reported by a change (parent_attr): kept if no other change
 * began since `token`. */
void dir_cache_set_attr(dir_cache *c, uint64_t token, const cfs_attr *a, uint64_t now);
/* The inode's attributes are no longer known (setattr, write, xattr change, ...). Call it
 * after the change is done: fetches and changes in flight then keep their (maybe older)
 * attributes of it out. No begin/end needed around it. */
void dir_cache_forget_attr(dir_cache *c, uint64_t ino);
/* The directory's listing is no longer known (a change it cannot describe). */
void dir_cache_drop_listing(dir_cache *c, uint64_t dir);
/* Everything is forgotten. */
void dir_cache_clear(dir_cache *c);

/* The inode `name` names in the cached listing of `dir`, or 0 (tests, callers deciding what
 * to forget). */
uint64_t dir_cache_entry_ino(dir_cache *c, uint64_t dir, const char *name);
/* Names held in all listings (tests, statistics). */
size_t dir_cache_names(dir_cache *c);

#endif
