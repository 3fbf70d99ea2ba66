#ifndef CFS_METRICS_H
#define CFS_METRICS_H
/* A small thread-safe metrics registry rendered in the Prometheus text exposition format
 * (version 0.0.4): counters, gauges, callback gauges and fixed-bucket histograms, each a
 * family (name, help, type) of series that differ by their label values.
 *
 * Series handles are created once (under the registry lock) and stay valid until the
 * registry is freed; updating them is lock-free (atomics), so hot paths look a handle up
 * once and keep it. Labels are given as a NULL-terminated list of name/value pairs:
 *   const char *l[] = {"op", "lookup", NULL};
 * A family's label names are fixed by its first series: later series of the family must
 * use the same names in the same order. */
#include <stddef.h>
#include <stdint.h>

typedef struct cfs_metrics cfs_metrics;
typedef struct cfs_counter cfs_counter;
typedef struct cfs_gauge cfs_gauge;
typedef struct cfs_histogram cfs_histogram;

/* The process-wide registry (created on first use, never freed) that /metrics serves. */
cfs_metrics *cfs_metrics_global(void);
/* A private registry (tests). NULL on out of memory. */
cfs_metrics *cfs_metrics_new(void);
void cfs_metrics_free(cfs_metrics *r);

/* Each getter returns the series name{labels}, creating its family and the series on first
 * use (the same handle on later calls). 0, or -EINVAL (bad metric/label name, labels that
 * differ from the family's, name already used by another type or other buckets), -ENOMEM.
 * Names: [a-zA-Z_:][a-zA-Z0-9_:]*; label names: [a-zA-Z_][a-zA-Z0-9_]*, not "__" prefixed,
 * not "le" (reserved for histogram buckets); label values: any UTF-8 (escaped on output).
 * help may be NULL (empty HELP text). */
int cfs_metrics_counter(cfs_metrics *r, const char *name, const char *help,
                        const char *const *labels, cfs_counter **out);
int cfs_metrics_gauge(cfs_metrics *r, const char *name, const char *help, const char *const *labels,
                      cfs_gauge **out);
/* bounds: n_bounds (1..64) strictly increasing finite upper bounds; +Inf is implied. */
int cfs_metrics_histogram(cfs_metrics *r, const char *name, const char *help,
                          const char *const *labels, const double *bounds, size_t n_bounds,
                          cfs_histogram **out);

/* A gauge whose value is fn(arg) at render time. fn runs with the registry lock held, so it
 * must not call into this registry; it may take the caller's own locks. Registering the same
 * series again replaces fn/arg. 0 or -EINVAL/-ENOMEM as above. */
typedef double (*cfs_gauge_fn)(void *arg);
int cfs_metrics_gauge_fn(cfs_metrics *r, const char *name, const char *help,
                         const char *const *labels, cfs_gauge_fn fn, void *arg);

/* Called at the start of each render, before the registry lock is taken: the place to
 * refresh several gauges from one expensive snapshot (e.g. one scan for chunk counts by
 * state). Up to 16 hooks; 0 or -ENOSPC. */
typedef void (*cfs_metrics_hook)(cfs_metrics *r, void *arg);
int cfs_metrics_add_hook(cfs_metrics *r, cfs_metrics_hook fn, void *arg);
/* Removes every callback gauge and hook whose arg is `arg` (call before freeing arg). */
void cfs_metrics_forget(cfs_metrics *r, void *arg);

void cfs_counter_add(cfs_counter *c, uint64_t n);
static inline void cfs_counter_inc(cfs_counter *c)
{
    cfs_counter_add(c, 1);
}
uint64_t cfs_counter_value(const cfs_counter *c);
void cfs_gauge_set(cfs_gauge *g, double v);
void cfs_gauge_add(cfs_gauge *g, double d);
double cfs_gauge_value(const cfs_gauge *g);
void cfs_histogram_observe(cfs_histogram *h, double v);

/* Default buckets for latencies in seconds: 100 us .. 10 s. */
extern const double cfs_latency_buckets[];
extern const size_t cfs_latency_buckets_n;

/* Renders every family in registration order as Prometheus text (HELP, TYPE, one line per
 * series; histograms as cumulative _bucket{le=...} incl. +Inf, _sum, _count). *out is a
 * malloc'd NUL-terminated string of *len bytes. 0 or -ENOMEM. */
int cfs_metrics_render(cfs_metrics *r, char **out, size_t *len);

#endif
