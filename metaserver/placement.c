#include "metaserver/placement.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"

/* splitmix64 finalizer: a cheap, well-mixed hash for the tie-break. */
static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static bool id_in(uint64_t id, const uint64_t *ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id) return true;
    return false;
}

static bool labelled(const char *domain)
{
    return domain != NULL && domain[0] != '\0';
}

static const placement_candidate *find_cand(const placement_candidate *c, size_t n, uint64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (c[i].id == id) return &c[i];
    return NULL;
}

/* True when `domain` is already taken by an existing replica or an earlier pick. Unlabelled
 * servers never share a domain with anyone. */
static bool domain_used(const placement_candidate *cands, size_t n_cands,
                        const placement_request *req, const uint64_t *picked, int n_picked,
                        const char *domain)
{
    if (!labelled(domain)) return false;
    for (size_t i = 0; i < req->n_existing; i++) {
        const placement_candidate *c = find_cand(cands, n_cands, req->existing[i]);
        if (c && labelled(c->domain) && strcmp(c->domain, domain) == 0) return true;
    }
    for (int i = 0; i < n_picked; i++) {
        const placement_candidate *c = find_cand(cands, n_cands, picked[i]);
        if (c && labelled(c->domain) && strcmp(c->domain, domain) == 0) return true;
    }
    return false;
}

/* Compares used fractions exactly (no floating point): a.used/a.cap vs b.used/b.cap. */
static int cmp_fraction(const placement_candidate *a, const placement_candidate *b)
{
    unsigned __int128 lhs = (unsigned __int128)a->used * b->capacity;
    unsigned __int128 rhs = (unsigned __int128)b->used * a->capacity;
    return lhs < rhs ? -1 : lhs > rhs ? 1 : 0;
}

int placement_choose(const placement_candidate *cands, size_t n_cands, const placement_request *req,
                     uint64_t *out)
{
    if (!req || !out || req->want <= 0 || (n_cands && !cands) ||
        (req->n_exclude && !req->exclude) || (req->n_existing && !req->existing))
        return -EINVAL;

    size_t usable = 0, with_space = 0;
    for (size_t i = 0; i < n_cands; i++) {
        const placement_candidate *c = &cands[i];
        if (!c->alive || c->draining || id_in(c->id, req->exclude, req->n_exclude) ||
            id_in(c->id, req->existing, req->n_existing))
            continue;
        usable++;
        if (c->capacity >= c->used && c->capacity - c->used >= req->min_free && c->capacity > 0)
            with_space++;
    }
    if (usable == 0) return -CFS_ENOSERVERS;
    if (with_space == 0) return -ENOSPC;

    int n = 0;
    while (n < req->want) {
        const placement_candidate *best = NULL;
        bool best_new_domain = false;
        uint64_t best_tie = 0;
        for (size_t i = 0; i < n_cands; i++) {
            const placement_candidate *c = &cands[i];
            if (!c->alive || c->draining || c->capacity == 0 || c->used > c->capacity ||
                c->capacity - c->used < req->min_free ||
                id_in(c->id, req->exclude, req->n_exclude) ||
                id_in(c->id, req->existing, req->n_existing) || id_in(c->id, out, (size_t)n))
                continue;
            bool new_domain = !domain_used(cands, n_cands, req, out, n, c->domain);
            uint64_t tie = mix64(req->seed ^ mix64(c->id));
            bool better;
            if (!best) {
                better = true;
            } else if (new_domain != best_new_domain) {
                better = new_domain;
            } else {
                int f = cmp_fraction(c, best);
                better =
                    f < 0 || (f == 0 && (tie < best_tie || (tie == best_tie && c->id < best->id)));
            }
            if (better) {
                best = c;
                best_new_domain = new_domain;
                best_tie = tie;
            }
        }
        if (!best) break;
        out[n++] = best->id;
    }
    return n;
}
