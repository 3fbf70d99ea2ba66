/* Dirty extents of one chunk (see extent_list.h). */
#include "client/extent_list.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

void wchunk_clear(wchunk *wc)
{
    extent *e = wc->extents;
    while (e) {
        extent *n = e->next;
        free(e->data);
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
    uint8_t *d = realloc(e->data, cap);
    if (!d) return -ENOMEM;
    e->data = d;
    e->cap = cap;
    return 0;
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
            free(e->data);
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
