#include "metaserver/rebalance.h"

static double fill(const rebalance_server *s)
{
    return (double)s->stored / (double)s->capacity;
}

static bool mean_fill(const rebalance_server *s, size_t n, double *mean)
{
    long double cap = 0, stored = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i].capacity == 0) continue;
        cap += s[i].capacity;
        stored += s[i].stored;
        k++;
    }
    if (k < 2 || stored == 0) return false;
    *mean = (double)(stored / cap);
    return true;
}

bool rebalance_balanced(const rebalance_server *s, size_t n, double spread)
{
    double mean;
    if (!s || !mean_fill(s, n, &mean)) return true;
    double tol = (spread > 0 ? spread : 0) * mean;
    for (size_t i = 0; i < n; i++) {
        if (s[i].capacity == 0) continue;
        double d = fill(&s[i]) - mean;
        if (d > tol || -d > tol) return false;
    }
    return true;
}

int rebalance_pick(const rebalance_server *s, size_t n, double spread, uint64_t move_bytes,
                   size_t *src, size_t *dst)
{
    if (!s || !src || !dst || move_bytes == 0) return -1;
    if (rebalance_balanced(s, n, spread)) return 0;
    size_t hi = n, lo = n;
    for (size_t i = 0; i < n; i++) {
        if (s[i].capacity == 0) continue;
        if (hi == n || fill(&s[i]) > fill(&s[hi])) hi = i;
        if (lo == n || fill(&s[i]) < fill(&s[lo])) lo = i;
    }
    if (hi == n || hi == lo || s[hi].stored < move_bytes) return 0;
    double after_src = (double)(s[hi].stored - move_bytes) / (double)s[hi].capacity;
    double after_dst = (double)(s[lo].stored + move_bytes) / (double)s[lo].capacity;
    if (after_dst > after_src) return 0;
    *src = hi;
    *dst = lo;
    return 1;
}
