/* In-memory Raft log (see raft_log.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "raft/raft_log.h"

void raft_log_init(raft_log *l, uint64_t snap_index, uint64_t snap_term)
{
    memset(l, 0, sizeof(*l));
    l->snap_index = snap_index;
    l->snap_term = snap_term;
    l->stable = snap_index;
    l->committed = snap_index;
    l->applied = snap_index;
}

void raft_entries_free(raft_entry *ents, size_t n)
{
    if (ents == NULL) return;
    for (size_t i = 0; i < n; i++)
        free(ents[i].data);
    free(ents);
}

void raft_log_free(raft_log *l)
{
    raft_entries_free(l->ents, l->n);
    l->ents = NULL;
    l->n = l->cap = 0;
}

int raft_entry_copy(raft_entry *dst, const raft_entry *src)
{
    *dst = *src;
    dst->data = NULL;
    if (src->len > 0) {
        dst->data = malloc(src->len);
        if (dst->data == NULL) return -ENOMEM;
        memcpy(dst->data, src->data, src->len);
    }
    return 0;
}

bool raft_log_term(const raft_log *l, uint64_t i, uint64_t *term)
{
    if (i == l->snap_index) {
        *term = l->snap_term;
        return true;
    }
    if (i < l->snap_index || i > raft_log_last_index(l)) return false;
    *term = l->ents[i - l->snap_index - 1].term;
    return true;
}

uint64_t raft_log_last_term(const raft_log *l)
{
    return l->n > 0 ? l->ents[l->n - 1].term : l->snap_term;
}

bool raft_log_match_term(const raft_log *l, uint64_t i, uint64_t term)
{
    uint64_t t;
    return raft_log_term(l, i, &t) && t == term;
}

const raft_entry *raft_log_entry(const raft_log *l, uint64_t i)
{
    if (i <= l->snap_index || i > raft_log_last_index(l)) return NULL;
    return &l->ents[i - l->snap_index - 1];
}

bool raft_log_is_up_to_date(const raft_log *l, uint64_t last_index, uint64_t last_term)
{
    uint64_t our_term = raft_log_last_term(l);
    return last_term > our_term || (last_term == our_term && last_index >= raft_log_last_index(l));
}

static void truncate_from(raft_log *l, uint64_t from)
{
    size_t keep = (size_t)(from - l->snap_index - 1);
    for (size_t i = keep; i < l->n; i++)
        free(l->ents[i].data);
    l->n = keep;
    if (l->stable >= from) l->stable = from - 1;
}

int raft_log_append(raft_log *l, const raft_entry *ents, size_t n)
{
    if (n == 0) return 0;
    uint64_t from = ents[0].index;
    if (from <= l->snap_index || from > raft_log_last_index(l) + 1) return -EINVAL;
    for (size_t i = 1; i < n; i++)
        if (ents[i].index != from + i) return -EINVAL;
    if (from <= l->committed) return -EINVAL; /* committed entries are never replaced */
    size_t keep = (size_t)(from - l->snap_index - 1);
    if (keep + n > l->cap) {
        size_t cap = l->cap ? l->cap : 64;
        while (cap < keep + n)
            cap *= 2;
        raft_entry *p = realloc(l->ents, cap * sizeof(*p));
        if (p == NULL) return -ENOMEM;
        l->ents = p;
        l->cap = cap;
    }
    /* Copy first so that a failed allocation leaves the log unchanged. */
    raft_entry *copies = malloc(n * sizeof(*copies));
    if (copies == NULL) return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (raft_entry_copy(&copies[i], &ents[i]) < 0) {
            raft_entries_free(copies, i);
            return -ENOMEM;
        }
    }
    truncate_from(l, from);
    memcpy(l->ents + keep, copies, n * sizeof(*copies));
    l->n = keep + n;
    free(copies);
    return 0;
}

uint64_t raft_log_find_conflict(const raft_log *l, const raft_entry *ents, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!raft_log_match_term(l, ents[i].index, ents[i].term)) return ents[i].index;
    return 0;
}

uint64_t raft_log_find_conflict_by_term(const raft_log *l, uint64_t index, uint64_t term)
{
    uint64_t last = raft_log_last_index(l);
    if (index > last) index = last;
    for (;;) {
        uint64_t t;
        if (!raft_log_term(l, index, &t) || t <= term) return index;
        index--;
    }
}

void raft_log_stable_to(raft_log *l, uint64_t i, uint64_t t)
{
    if (i > l->stable && raft_log_match_term(l, i, t)) l->stable = i;
}

void raft_log_compact(raft_log *l, uint64_t i)
{
    if (i <= l->snap_index || i > raft_log_last_index(l)) return;
    size_t drop = (size_t)(i - l->snap_index);
    uint64_t t = l->ents[drop - 1].term;
    for (size_t k = 0; k < drop; k++)
        free(l->ents[k].data);
    memmove(l->ents, l->ents + drop, (l->n - drop) * sizeof(*l->ents));
    l->n -= drop;
    l->snap_index = i;
    l->snap_term = t;
    if (l->stable < i) l->stable = i;
}

void raft_log_restore(raft_log *l, uint64_t i, uint64_t t)
{
    raft_entries_free(l->ents, l->n);
    raft_log_init(l, i, t);
}

int raft_log_copy_range(const raft_log *l, uint64_t lo, uint64_t hi, raft_entry **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (lo > hi) return 0;
    if (lo <= l->snap_index || hi > raft_log_last_index(l)) return -EINVAL;
    size_t cnt = (size_t)(hi - lo + 1);
    raft_entry *e = malloc(cnt * sizeof(*e));
    if (e == NULL) return -ENOMEM;
    for (size_t k = 0; k < cnt; k++) {
        if (raft_entry_copy(&e[k], raft_log_entry(l, lo + k)) < 0) {
            raft_entries_free(e, k);
            return -ENOMEM;
        }
    }
    *out = e;
    *n = cnt;
    return 0;
}
