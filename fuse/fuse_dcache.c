#include "fuse/fuse_dcache.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/log.h"
#include "common/time_util.h"
#include "fuse/dir_cache.h"

static uint64_t now_ns(void)
{
    return (uint64_t)cfs_mono_ns();
}

/* Reads the whole listing of `dir` (with attributes) into the cache, page by page. Gives up
 * above the cache's size limit (the directory is then not asked for again for a while). */
static void fetch_listing(cfsm *m, uint64_t dir, const cfs_cred *cred)
{
    uint64_t at = now_ns();
    uint64_t token = dir_cache_fetch_begin(m->dcache);
    cfs_dirent *ents = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    for (bool eof = false; !eof && rc == 0;) {
        cfs_dir_page page;
        rc = cfs_readdir(m->fs, dir, n ? ents[n - 1].name : "", 0, true, cred, &page);
        if (rc < 0) break;
        eof = page.eof || page.count == 0;
        if (n + page.count > FDC_MAX_ENTRIES) {
            rc = -E2BIG;
        } else if (n + page.count > cap) {
            size_t ncap = cap ? cap : 256;
            while (ncap < n + page.count)
                ncap *= 2;
            cfs_dirent *ne = realloc(ents, ncap * sizeof *ne);
            if (ne) {
                ents = ne;
                cap = ncap;
            } else {
                rc = -ENOMEM;
            }
        }
        if (rc == 0) {
            /* The names move into ents; the page keeps only its array. */
            memcpy(ents + n, page.entries, page.count * sizeof *ents);
            n += page.count;
            page.count = 0;
        }
        cfs_dir_page_free(&page);
    }
    if (rc == 0)
        rc = dir_cache_fetch_install(m->dcache, token, dir, ents, n, at);
    else
        dir_cache_fetch_failed(m->dcache, dir, at);
    if (rc < 0 && rc != -EAGAIN)
        LOG_DEBUG("directory %llu not cached: %d", (unsigned long long)dir, rc);
    for (size_t i = 0; i < n; i++)
        free(ents[i].name);
    free(ents);
}

/* A regular file open in this mount is not answered from the cache: its handles may hold
 * writes the listing does not show. */
static dc_result cached(cfsm *m, uint64_t parent, const char *name, cfs_attr *out, double *fresh_s)
{
    uint64_t left = 0;
    dc_result r = dir_cache_lookup(m->dcache, parent, name, now_ns(), out, &left);
    *fresh_s = (double)left / 1e9;
    if (r == DC_HIT && S_ISREG(out->mode) && open_files_is_open(m->files, out->ino)) r = DC_MISS;
    return r;
}

int fdc_lookup(cfsm *m, uint64_t parent, const char *name, const cfs_cred *cred, cfs_attr *out,
               double *fresh_s)
{
    *fresh_s = HUGE_VAL; /* a server answer: the mount's timeouts apply */
    if (!m->dcache) return cfs_lookup(m->fs, parent, name, cred, out);
    double left;
    dc_result r = cached(m, parent, name, out, &left);
    if (r == DC_MISS && dir_cache_note_miss(m->dcache, parent, now_ns())) {
        fetch_listing(m, parent, cred);
        r = cached(m, parent, name, out, &left);
    }
    if (r == DC_HIT) {
        *fresh_s = left;
        return 0;
    }
    if (r == DC_ABSENT) return -ENOENT;
    return cfs_lookup(m->fs, parent, name, cred, out);
}

bool fdc_getattr(cfsm *m, uint64_t ino, cfs_attr *out, double *fresh_s)
{
    uint64_t left = 0;
    if (!m->dcache || !dir_cache_getattr(m->dcache, ino, now_ns(), out, &left)) return false;
    *fresh_s = (double)left / 1e9;
    return true;
}

void fdc_listing_begin(cfsm *m, uint64_t *token, uint64_t *at)
{
    *at = now_ns();
    *token = m->dcache ? dir_cache_fetch_begin(m->dcache) : 0;
}

void fdc_listing_done(cfsm *m, uint64_t token, uint64_t at, uint64_t dir, const cfs_dirent *ents,
                      size_t n)
{
    if (m->dcache) (void)dir_cache_fetch_install(m->dcache, token, dir, ents, n, at);
}

uint64_t fdc_begin(cfsm *m)
{
    return m->dcache ? dir_cache_begin(m->dcache) : 0;
}

void fdc_end(cfsm *m, uint64_t token)
{
    if (m->dcache) dir_cache_end(m->dcache, token);
}

/* The parents' attributes after a change: kept if the server sent them, else forgotten. A
 * failed change may have met a stale listing (e.g. EEXIST for a name it did not have). */
static void parents_changed(cfsm *m, uint64_t token, int rc, uint64_t parent, uint64_t newparent)
{
    if (rc < 0) {
        dir_cache_drop_listing(m->dcache, parent);
        dir_cache_forget_attr(m->dcache, parent);
        if (newparent) {
            dir_cache_drop_listing(m->dcache, newparent);
            dir_cache_forget_attr(m->dcache, newparent);
        }
        return;
    }
    cfs_dir_attrs da;
    cfs_last_dir_attrs(&da);
    uint64_t now = now_ns();
    if (da.has_parent && da.parent.ino == parent)
        dir_cache_set_attr(m->dcache, token, &da.parent, now);
    else
        dir_cache_forget_attr(m->dcache, parent);
    if (!newparent || newparent == parent) return;
    if (da.has_new_parent && da.new_parent.ino == newparent)
        dir_cache_set_attr(m->dcache, token, &da.new_parent, now);
    else
        dir_cache_forget_attr(m->dcache, newparent);
}

void fdc_made(cfsm *m, uint64_t token, int rc, uint64_t parent, const char *name, const cfs_attr *a)
{
    if (!m->dcache) return;
    if (rc == 0) dir_cache_set_entry(m->dcache, token, parent, name, a, now_ns());
    parents_changed(m, token, rc, parent, 0);
}

void fdc_removed(cfsm *m, uint64_t token, int rc, uint64_t parent, const char *name)
{
    if (!m->dcache) return;
    if (rc == 0) dir_cache_remove_entry(m->dcache, parent, name);
    parents_changed(m, token, rc, parent, 0);
}

void fdc_renamed(cfsm *m, uint64_t token, int rc, uint64_t parent, const char *name,
                 uint64_t newparent, const char *newname, bool exchange)
{
    if (!m->dcache) return;
    if (rc == 0) dir_cache_rename(m->dcache, parent, name, newparent, newname, exchange);
    parents_changed(m, token, rc, parent, newparent);
}

void fdc_attr_changed(cfsm *m, uint64_t ino)
{
    if (m->dcache) dir_cache_forget_attr(m->dcache, ino);
}
