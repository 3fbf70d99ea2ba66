/* Metrics registry and Prometheus text rendering (see metrics.h). One mutex guards the
 * family/series lists; values are atomics so updates never take it. */
#include "common/metrics.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LABELS 8
#define MAX_BOUNDS 64
#define MAX_HOOKS 16

enum metric_type { M_COUNTER, M_GAUGE, M_HISTOGRAM };

struct cfs_counter {
    _Atomic uint64_t v;
};
struct cfs_gauge {
    _Atomic uint64_t bits; /* a double's bit pattern: atomics on doubles need a CAS loop */
};
struct cfs_histogram {
    size_t n_bounds;
    const double *bounds;     /* the family's */
    _Atomic uint64_t *counts; /* n_bounds + 1 (last: above every bound), not cumulative */
    _Atomic uint64_t sum_bits;
};

typedef struct series {
    char **values; /* one per family label */
    struct cfs_counter counter;
    struct cfs_gauge gauge;
    cfs_gauge_fn fn; /* callback gauge when set */
    void *fn_arg;
    struct cfs_histogram hist;
    struct series *next;
} series;

typedef struct family {
    char *name, *help;
    enum metric_type type;
    char *labels[MAX_LABELS];
    size_t n_labels;
    double bounds[MAX_BOUNDS];
    size_t n_bounds;
    series *first, *last;
    struct family *next;
} family;

typedef struct hook {
    cfs_metrics_hook fn;
    void *arg;
} hook;

struct cfs_metrics {
    pthread_mutex_t mu;
    family *first, *last;
    hook hooks[MAX_HOOKS];
    size_t n_hooks;
};

const double cfs_latency_buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                      0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
const size_t cfs_latency_buckets_n = sizeof(cfs_latency_buckets) / sizeof(cfs_latency_buckets[0]);

static uint64_t dbits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof(u));
    return u;
}

static double bitsd(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof(d));
    return d;
}

static void atomic_add_double(_Atomic uint64_t *a, double d)
{
    uint64_t old = atomic_load_explicit(a, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(a, &old, dbits(bitsd(old) + d),
                                                  memory_order_relaxed, memory_order_relaxed)) {
    }
}

/* ---------------------------------------------------------------- registry */

cfs_metrics *cfs_metrics_new(void)
{
    cfs_metrics *r = calloc(1, sizeof(*r));
    if (!r) return NULL;
    if (pthread_mutex_init(&r->mu, NULL) != 0) {
        free(r);
        return NULL;
    }
    return r;
}

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static cfs_metrics *global_registry;
static void global_init(void)
{
    global_registry = cfs_metrics_new();
}

cfs_metrics *cfs_metrics_global(void)
{
    pthread_once(&global_once, global_init);
    return global_registry;
}

static void series_free(series *s, size_t n_labels)
{
    if (!s) return;
    if (s->values)
        for (size_t i = 0; i < n_labels; i++)
            free(s->values[i]);
    free(s->values);
    free(s->hist.counts);
    free(s);
}

static void family_free(family *f)
{
    for (series *s = f->first, *n; s; s = n) {
        n = s->next;
        series_free(s, f->n_labels);
    }
    for (size_t i = 0; i < f->n_labels; i++)
        free(f->labels[i]);
    free(f->name);
    free(f->help);
    free(f);
}

void cfs_metrics_free(cfs_metrics *r)
{
    if (!r) return;
    for (family *f = r->first, *n; f; f = n) {
        n = f->next;
        family_free(f);
    }
    pthread_mutex_destroy(&r->mu);
    free(r);
}

static bool valid_name(const char *s, bool colon_ok)
{
    if (!s || !*s) return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        bool ok = alpha || (colon_ok && c == ':') || (p != s && c >= '0' && c <= '9');
        if (!ok) return false;
    }
    return true;
}

static bool valid_label_name(const char *s)
{
    return valid_name(s, false) && strncmp(s, "__", 2) != 0 && strcmp(s, "le") != 0;
}

/* Counts and checks the name/value pairs. -EINVAL on a bad name or too many labels. */
static int count_labels(const char *const *labels, size_t *n)
{
    *n = 0;
    if (!labels) return 0;
    while (labels[2 * *n]) {
        if (*n >= MAX_LABELS || !valid_label_name(labels[2 * *n]) || !labels[2 * *n + 1])
            return -EINVAL;
        for (size_t i = 0; i < *n; i++)
            if (strcmp(labels[2 * i], labels[2 * *n]) == 0) return -EINVAL;
        (*n)++;
    }
    return 0;
}

static family *find_family(cfs_metrics *r, const char *name)
{
    for (family *f = r->first; f; f = f->next)
        if (strcmp(f->name, name) == 0) return f;
    return NULL;
}

static int new_family(cfs_metrics *r, const char *name, const char *help, enum metric_type type,
                      const char *const *labels, size_t n_labels, const double *bounds,
                      size_t n_bounds, family **out)
{
    family *f = calloc(1, sizeof(*f));
    if (!f) return -ENOMEM;
    f->type = type;
    f->name = strdup(name);
    f->help = strdup(help ? help : "");
    bool ok = f->name && f->help;
    for (size_t i = 0; ok && i < n_labels; i++) {
        f->labels[i] = strdup(labels[2 * i]);
        f->n_labels = i + 1;
        ok = f->labels[i] != NULL;
    }
    if (!ok) {
        family_free(f);
        return -ENOMEM;
    }
    if (n_bounds) memcpy(f->bounds, bounds, n_bounds * sizeof(*bounds));
    f->n_bounds = n_bounds;
    if (r->last)
        r->last->next = f;
    else
        r->first = f;
    r->last = f;
    *out = f;
    return 0;
}

static bool same_labels(const family *f, const char *const *labels, size_t n)
{
    if (f->n_labels != n) return false;
    for (size_t i = 0; i < n; i++)
        if (strcmp(f->labels[i], labels[2 * i]) != 0) return false;
    return true;
}

static series *find_series(family *f, const char *const *labels)
{
    for (series *s = f->first; s; s = s->next) {
        size_t i = 0;
        while (i < f->n_labels && strcmp(s->values[i], labels[2 * i + 1]) == 0)
            i++;
        if (i == f->n_labels) return s;
    }
    return NULL;
}

static int new_series(family *f, const char *const *labels, series **out)
{
    series *s = calloc(1, sizeof(*s));
    if (!s) return -ENOMEM;
    s->values = calloc(f->n_labels ? f->n_labels : 1, sizeof(char *));
    bool ok = s->values != NULL;
    for (size_t i = 0; ok && i < f->n_labels; i++)
        ok = (s->values[i] = strdup(labels[2 * i + 1])) != NULL;
    if (ok && f->type == M_HISTOGRAM) {
        s->hist.n_bounds = f->n_bounds;
        s->hist.bounds = f->bounds;
        s->hist.counts = calloc(f->n_bounds + 1, sizeof(*s->hist.counts));
        ok = s->hist.counts != NULL;
    }
    if (!ok) {
        series_free(s, f->n_labels);
        return -ENOMEM;
    }
    if (f->last)
        f->last->next = s;
    else
        f->first = s;
    f->last = s;
    *out = s;
    return 0;
}

/* Finds or creates the series; caller holds r->mu. */
static int get_series(cfs_metrics *r, const char *name, const char *help, enum metric_type type,
                      const char *const *labels, const double *bounds, size_t n_bounds,
                      series **out)
{
    size_t n_labels;
    if (!valid_name(name, true) || count_labels(labels, &n_labels) != 0) return -EINVAL;
    static const char *const no_labels[] = {NULL};
    if (!labels) labels = no_labels;
    family *f = find_family(r, name);
    if (f) {
        if (f->type != type || !same_labels(f, labels, n_labels) || f->n_bounds != n_bounds ||
            (n_bounds && memcmp(f->bounds, bounds, n_bounds * sizeof(*bounds)) != 0))
            return -EINVAL;
    } else {
        int rc = new_family(r, name, help, type, labels, n_labels, bounds, n_bounds, &f);
        if (rc) return rc;
    }
    series *s = find_series(f, labels);
    if (s) {
        *out = s;
        return 0;
    }
    return new_series(f, labels, out);
}

int cfs_metrics_counter(cfs_metrics *r, const char *name, const char *help,
                        const char *const *labels, cfs_counter **out)
{
    series *s = NULL;
    pthread_mutex_lock(&r->mu);
    int rc = get_series(r, name, help, M_COUNTER, labels, NULL, 0, &s);
    pthread_mutex_unlock(&r->mu);
    if (rc == 0) *out = &s->counter;
    return rc;
}

int cfs_metrics_gauge(cfs_metrics *r, const char *name, const char *help, const char *const *labels,
                      cfs_gauge **out)
{
    series *s = NULL;
    pthread_mutex_lock(&r->mu);
    int rc = get_series(r, name, help, M_GAUGE, labels, NULL, 0, &s);
    pthread_mutex_unlock(&r->mu);
    if (rc == 0) *out = &s->gauge;
    return rc;
}

int cfs_metrics_histogram(cfs_metrics *r, const char *name, const char *help,
                          const char *const *labels, const double *bounds, size_t n_bounds,
                          cfs_histogram **out)
{
    if (!bounds || n_bounds == 0 || n_bounds > MAX_BOUNDS) return -EINVAL;
    for (size_t i = 0; i < n_bounds; i++)
        if (!isfinite(bounds[i]) || (i && bounds[i] <= bounds[i - 1])) return -EINVAL;
    series *s = NULL;
    pthread_mutex_lock(&r->mu);
    int rc = get_series(r, name, help, M_HISTOGRAM, labels, bounds, n_bounds, &s);
    pthread_mutex_unlock(&r->mu);
    if (rc == 0) *out = &s->hist;
    return rc;
}

int cfs_metrics_gauge_fn(cfs_metrics *r, const char *name, const char *help,
                         const char *const *labels, cfs_gauge_fn fn, void *arg)
{
    if (!fn) return -EINVAL;
    series *s = NULL;
    pthread_mutex_lock(&r->mu);
    int rc = get_series(r, name, help, M_GAUGE, labels, NULL, 0, &s);
    if (rc == 0) {
        s->fn = fn;
        s->fn_arg = arg;
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

int cfs_metrics_add_hook(cfs_metrics *r, cfs_metrics_hook fn, void *arg)
{
    if (!fn) return -EINVAL;
    pthread_mutex_lock(&r->mu);
    int rc = -ENOSPC;
    if (r->n_hooks < MAX_HOOKS) {
        r->hooks[r->n_hooks].fn = fn;
        r->hooks[r->n_hooks].arg = arg;
        r->n_hooks++;
        rc = 0;
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

void cfs_metrics_forget(cfs_metrics *r, void *arg)
{
    pthread_mutex_lock(&r->mu);
    size_t k = 0;
    for (size_t i = 0; i < r->n_hooks; i++)
        if (r->hooks[i].arg != arg) r->hooks[k++] = r->hooks[i];
    r->n_hooks = k;
    /* The series stays (its handle may be held); it renders as a plain gauge from now on. */
    for (family *f = r->first; f; f = f->next)
        for (series *s = f->first; s; s = s->next)
            if (s->fn && s->fn_arg == arg) {
                s->fn = NULL;
                s->fn_arg = NULL;
            }
    pthread_mutex_unlock(&r->mu);
}

/* ---------------------------------------------------------------- updates */

void cfs_counter_add(cfs_counter *c, uint64_t n)
{
    atomic_fetch_add_explicit(&c->v, n, memory_order_relaxed);
}

uint64_t cfs_counter_value(const cfs_counter *c)
{
    return atomic_load_explicit(&((cfs_counter *)c)->v, memory_order_relaxed);
}

void cfs_gauge_set(cfs_gauge *g, double v)
{
    atomic_store_explicit(&g->bits, dbits(v), memory_order_relaxed);
}

void cfs_gauge_add(cfs_gauge *g, double d)
{
    atomic_add_double(&g->bits, d);
}

double cfs_gauge_value(const cfs_gauge *g)
{
    return bitsd(atomic_load_explicit(&((cfs_gauge *)g)->bits, memory_order_relaxed));
}

void cfs_histogram_observe(cfs_histogram *h, double v)
{
    size_t i = 0;
    while (i < h->n_bounds && v > h->bounds[i])
        i++;
    atomic_fetch_add_explicit(&h->counts[i], 1, memory_order_relaxed);
    atomic_add_double(&h->sum_bits, v);
}

/* ---------------------------------------------------------------- rendering */

typedef struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
} sbuf;

static void sb_reserve(sbuf *b, size_t more)
{
    if (b->oom || b->len + more + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = true;
        return;
    }
    b->p = p;
    b->cap = cap;
}

static void sb_putn(sbuf *b, const char *s, size_t n)
{
    sb_reserve(b, n);
    if (b->oom) return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_puts(sbuf *b, const char *s)
{
    sb_putn(b, s, strlen(s));
}

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *tmp = NULL;
    int n = vasprintf(&tmp, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = true;
        return;
    }
    sb_putn(b, tmp, (size_t)n);
    free(tmp);
}

/* HELP text escapes backslash and newline; label values also escape the double quote. */
static void sb_escaped(sbuf *b, const char *s, bool quote)
{
    for (; *s; s++) {
        if (*s == '\\')
            sb_puts(b, "\\\\");
        else if (*s == '\n')
            sb_puts(b, "\\n");
        else if (quote && *s == '"')
            sb_puts(b, "\\\"");
        else
            sb_putn(b, s, 1);
    }
}

/* Prometheus float syntax: shortest decimal that reads back exactly, NaN, +Inf, -Inf. */
static void sb_double(sbuf *b, double v)
{
    if (isnan(v)) {
        sb_puts(b, "NaN");
    } else if (isinf(v)) {
        sb_puts(b, v > 0 ? "+Inf" : "-Inf");
    } else if (v == floor(v) && fabs(v) < 9007199254740992.0) {
        sb_printf(b, "%.0f", v); /* integral values as plain integers: 200000, not 2e+05 */
    } else {
        char tmp[40];
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
            if (strtod(tmp, NULL) == v) break;
        }
        sb_puts(b, tmp);
    }
}

/* {a="x",b="y"[,le="..."]}; nothing when there are no labels at all. */
static void sb_labels(sbuf *b, const family *f, const series *s, const char *le)
{
    if (f->n_labels == 0 && !le) return;
    sb_puts(b, "{");
    for (size_t i = 0; i < f->n_labels; i++) {
        sb_printf(b, "%s%s=\"", i ? "," : "", f->labels[i]);
        sb_escaped(b, s->values[i], true);
        sb_puts(b, "\"");
    }
    if (le) sb_printf(b, "%sle=\"%s\"", f->n_labels ? "," : "", le);
    sb_puts(b, "}");
}

static void render_histogram(sbuf *b, const family *f, const series *s)
{
    uint64_t cum = 0;
    for (size_t i = 0; i <= f->n_bounds; i++) {
        cum += atomic_load_explicit(&s->hist.counts[i], memory_order_relaxed);
        char le[40];
        if (i == f->n_bounds) {
            snprintf(le, sizeof(le), "+Inf");
        } else {
            sbuf t = {0};
            sb_double(&t, f->bounds[i]);
            snprintf(le, sizeof(le), "%s", t.p ? t.p : "0");
            free(t.p);
        }
        sb_printf(b, "%s_bucket", f->name);
        sb_labels(b, f, s, le);
        sb_printf(b, " %llu\n", (unsigned long long)cum);
    }
    sb_printf(b, "%s_sum", f->name);
    sb_labels(b, f, s, NULL);
    sb_puts(b, " ");
    sb_double(b, bitsd(atomic_load_explicit(&s->hist.sum_bits, memory_order_relaxed)));
    sb_printf(b, "\n%s_count", f->name);
    sb_labels(b, f, s, NULL);
    /* The +Inf bucket's cumulative count, so _count always equals it in one scrape. */
    sb_printf(b, " %llu\n", (unsigned long long)cum);
}

int cfs_metrics_render(cfs_metrics *r, char **out, size_t *len)
{
    pthread_mutex_lock(&r->mu);
    size_t n_hooks = r->n_hooks;
    hook hooks[MAX_HOOKS];
    memcpy(hooks, r->hooks, n_hooks * sizeof(hooks[0]));
    pthread_mutex_unlock(&r->mu);
    for (size_t i = 0; i < n_hooks; i++)
        hooks[i].fn(r, hooks[i].arg);

    sbuf b = {0};
    sb_reserve(&b, 0);
    pthread_mutex_lock(&r->mu);
    static const char *const type_names[] = {"counter", "gauge", "histogram"};
    for (const family *f = r->first; f; f = f->next) {
        sb_printf(&b, "# HELP %s ", f->name);
        sb_escaped(&b, f->help, false);
        sb_printf(&b, "\n# TYPE %s %s\n", f->name, type_names[f->type]);
        for (const series *s = f->first; s; s = s->next) {
            if (f->type == M_HISTOGRAM) {
                render_histogram(&b, f, s);
                continue;
            }
            sb_puts(&b, f->name);
            sb_labels(&b, f, s, NULL);
            sb_puts(&b, " ");
            if (f->type == M_COUNTER)
                sb_printf(&b, "%llu", (unsigned long long)cfs_counter_value(&s->counter));
            else
                sb_double(&b, s->fn ? s->fn(s->fn_arg) : cfs_gauge_value(&s->gauge));
            sb_puts(&b, "\n");
        }
    }
    pthread_mutex_unlock(&r->mu);
    if (b.oom) {
        free(b.p);
        return -ENOMEM;
    }
    *out = b.p;
    *len = b.len;
    return 0;
}
