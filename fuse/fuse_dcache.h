#ifndef CFS_FUSE_DCACHE_H
#define CFS_FUSE_DCACHE_H
/* The FUSE handlers' side of the directory cache (dir_cache.h): lookups and directory
 * getattrs answered from it, listings fetched into it, and every change made through the
 * mount reported to it. Every call does nothing (or asks the server) when the cache is off
 * (m->dcache == NULL). */
#include <stdbool.h>
#include <stdint.h>

#include "fuse/fuse_ctx.h"

/* Listings longer than this are not cached. */
#define FDC_MAX_ENTRIES 16384

/* Lookup of a plain name (not "." or ".."): from the cache, else from the server; the second
 * miss in a directory within entry_timeout fetches its whole listing first. *fresh_s gets how
 * long the kernel may cache the answer at most (HUGE_VAL for a server answer: the mount's
 * timeouts; what is left of the cache's for a cached one). */
int fdc_lookup(cfsm *m, uint64_t parent, const char *name, const cfs_cred *cred, cfs_attr *out,
               double *fresh_s);
/* Attributes of a directory, if the cache has them fresh (*fresh_s: for how much longer). */
bool fdc_getattr(cfsm *m, uint64_t ino, cfs_attr *out, double *fresh_s);

/* A readdir handle read a directory from its first page to the end: its listing goes into
 * the cache if nothing changed meanwhile. *token and *at are taken before the first page. */
void fdc_listing_begin(cfsm *m, uint64_t *token, uint64_t *at);
void fdc_listing_done(cfsm *m, uint64_t token, uint64_t at, uint64_t dir, const cfs_dirent *ents,
                      size_t n);

/* Changes: take a token before the request, report the outcome with one of the calls below
 * (rc = the request's result; on failure the directories involved are forgotten, their
 * listings may have been stale), then end. The parents' new attributes come from
 * cfs_last_dir_attrs, so report right after the libchunkfs call, on the same thread. */
uint64_t fdc_begin(cfsm *m);
void fdc_end(cfsm *m, uint64_t token);
/* `name` in `parent` was made (create, mkdir, symlink, link): it names *a. */
void fdc_made(cfsm *m, uint64_t token, int rc, uint64_t parent, const char *name,
              const cfs_attr *a);
/* `name` in `parent` was removed (unlink, rmdir). */
void fdc_removed(cfsm *m, uint64_t token, int rc, uint64_t parent, const char *name);
void fdc_renamed(cfsm *m, uint64_t token, int rc, uint64_t parent, const char *name,
                 uint64_t newparent, const char *newname, bool exchange);
/* The inode's attributes changed (or may have): call after the change is done. */
void fdc_attr_changed(cfsm *m, uint64_t ino);

#endif
