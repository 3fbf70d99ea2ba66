#include "common/rate_window.h"

#include <string.h>

void rate_window_init(rate_window *w, int64_t window_ms)
{
    memset(w, 0, sizeof *w);
    w->window_ms = window_ms > 0 ? window_ms : 60000;
}

static unsigned idx(const rate_window *w, unsigned back) /* back = 0: newest */
{
    return (w->head + RATE_WINDOW_SAMPLES - 1 - back) % RATE_WINDOW_SAMPLES;
}

void rate_window_sample(rate_window *w, int64_t now_ms, uint64_t value)
{
    if (w->n > 0) {
        unsigned last = idx(w, 0);
        if (value < w->v[last] || now_ms < w->t[last]) {
            w->n = 0; /* counter reset or clock confusion: start again */
        } else if (w->n > 1 && now_ms - w->t[idx(w, 1)] < w->window_ms / RATE_WINDOW_SAMPLES) {
            w->t[last] = now_ms; /* too close to the one before: move the newest */
            w->v[last] = value;
            return;
        }
    }
    w->t[w->head] = now_ms;
    w->v[w->head] = value;
    w->head = (w->head + 1) % RATE_WINDOW_SAMPLES;
    if (w->n < RATE_WINDOW_SAMPLES) w->n++;
}

double rate_window_per_minute(const rate_window *w, int64_t now_ms)
{
    if (w->n < 2) return 0;
    unsigned newest = idx(w, 0);
    unsigned oldest = newest;
    for (unsigned back = 1; back < w->n; back++) {
        unsigned i = idx(w, back);
        if (now_ms - w->t[i] > w->window_ms) break;
        oldest = i;
    }
    int64_t dt = w->t[newest] - w->t[oldest];
    if (dt <= 0) return 0;
    return (double)(w->v[newest] - w->v[oldest]) * 60000.0 / (double)dt;
}
