/* Dirty extents of one chunk (see extent_list.h). */
#include "client/extent_list.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Buffers of at least BIG_BUF bytes are private anonymous mappings asking for transparent
 * huge pages: a sequential writer fills a fresh 64 MiB buffer per chunk, and faulting it in
 * 4 KiB pages cost about a fifth of a bulk copy's CPU (profile in docs/benchmarks.md). Smaller
 * ones come from malloc. Which kind a buffer is follows from its capacity alone. */
#define BIG_BUF ((uint64_t)2 << 20)

static void buf_free(uint8_t *data, uint64_t cap)
{
    if (!data) return;
    if (cap >= BIG_BUF)
        munmap(data, cap);
    else
        free(data);
}

/* Moves e's bytes into a buffer of `cap` bytes (cap >= e->len). */
static int buf_resize(extent *e, uint64_t cap)
{
    uint8_t *d;
    if (cap < BIG_BUF) {
        d = realloc(e->data, cap);
        if (!d) return -ENOMEM;
    } else if (e->cap >= BIG_BUF) {
        d = mremap(e->data, e->cap, cap, MREMAP_MAYMOVE);
        if (d == MAP_FAILED) return -ENOMEM;
    } else {
        d = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (d == MAP_FAILED) return -ENOMEM;
        /* Advice only: without huge pages the buffer works the same, just slower to fill. */
        (void)madvise(d, cap, MADV_HUGEPAGE);
        if (e->len) memcpy(d, e->data, e->len);
        free(e->data);
    }
    e->data = d;
    e->cap = cap;
    return 0;
}

void wchunk_clear(wchunk *wc)
{
    extent *e = wc->extents;
    while (e) {
        extent *n = e->next;
        buf_free(e->data, e->cap);
        free(e);
        e = n;
    }
    wc->extents = NULL;
    wc->bytes = 0;
}

uint64_t wchunk_end(const wchunk *wc)
{
    uint64_t end = 0;
    for (const extent *e = wc->extents; e; e = e->next)
        end = e->off + e->len;
    return end;
}

/* Grows e's buffer to hold at least `need` bytes (doubling, so appends are amortised). */
static int reserve(extent *e, uint64_t need)
{
    if (need <= e->cap) return 0;
    uint64_t cap = e->cap ? e->cap : need;
    while (cap < need)
        cap *= 2;
    if (cap >= BIG_BUF) cap = (cap + BIG_BUF - 1) & ~(BIG_BUF - 1); /* whole huge pages */
    return buf_resize(e, cap);
}

int wchunk_insert(wchunk *wc, uint64_t off, const uint8_t *data, uint64_t len)
{
    if (len == 0) return 0;
    uint64_t end = off + len;
    /* Overwrite inside one extent: no change of shape. */
    for (extent *e = wc->extents; e && e->off <= off; e = e->next) {
        if (e->off <= off && e->off + e->len >= end) {
            memcpy(e->data + (off - e->off), data, len);
            return 0;
        }
    }
    /* Cut older bytes that the new range covers. */
    extent **pp = &wc->extents;
    while (*pp) {
        extent *e = *pp;
        uint64_t eend = e->off + e->len;
        if (eend <= off || e->off >= end) {
            pp = &e->next;
            continue;
        }
        if (e->off >= off && eend <= end) { /* fully covered: drop */
            wc->bytes -= e->len;
            *pp = e->next;
            buf_free(e->data, e->cap);
            free(e);
            continue;
        }
        if (e->off < off) { /* covers our start: keep its head */
            wc->bytes -= eend - off;
            e->len = off - e->off;
        } else { /* covers our end: keep its tail */
            uint64_t cut = end - e->off;
            memmove(e->data, e->data + cut, e->len - cut);
            wc->bytes -= cut;
            e->off = end;
            e->len -= cut;
        }
        pp = &e->next;
    }
    /* Find the neighbour before the new range; append to it when contiguous. */
    extent *prev = NULL;
    for (extent *e = wc->extents; e && e->off < off; e = e->next)
        prev = e;
    if (prev && prev->off + prev->len == off) {
        if (reserve(prev, prev->len + len) < 0) return -ENOMEM;
        memcpy(prev->data + prev->len, data, len);
        prev->len += len;
        wc->bytes += len;
        return 0;
    }
    extent *n = calloc(1, sizeof(*n));
    if (!n) return -ENOMEM;
    n->off = off;
    if (reserve(n, len) < 0) {
        free(n);
        return -ENOMEM;
    }
    memcpy(n->data, data, len);
    n->len = len;
    if (prev) {
        n->next = prev->next;
        prev->next = n;
    } else {
        n->next = wc->extents;
        wc->extents = n;
    }
    wc->bytes += len;
    return 0;
}

int wchunk_fill_gaps(wchunk *wc, uint64_t from, uint64_t to)
{
    if (from >= to) return 0;
    uint8_t *zeros = calloc(1, to - from);
    if (!zeros) return -ENOMEM;
    /* Collect the gaps first: inserting changes the list. */
    uint64_t pos = from;
    int rc = 0;
    while (pos < to && rc == 0) {
        uint64_t gap_end = to;
        bool covered = false;
        for (const extent *e = wc->extents; e; e = e->next) {
            if (e->off <= pos && e->off + e->len > pos) {
                pos = e->off + e->len; /* skip covered bytes */
                covered = true;
                break;
            }
            if (e->off > pos) {
                gap_end = e->off < to ? e->off : to;
                break;
            }
        }
        if (covered) continue;
        rc = wchunk_insert(wc, pos, zeros, gap_end - pos);
        pos = gap_end;
    }
    free(zeros);
    return rc;
}
