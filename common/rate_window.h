#ifndef CFS_RATE_WINDOW_H
#define CFS_RATE_WINDOW_H
/* rate_window: the rate of a growing counter over roughly the last window, from samples the
 * caller takes (pure: times are passed in, no clock inside). Used for "copies per minute" of
 * repair and rebalancing in status. */
#include <stdint.h>

#define RATE_WINDOW_SAMPLES 32

typedef struct rate_window {
    int64_t window_ms;
    int64_t t[RATE_WINDOW_SAMPLES];
    uint64_t v[RATE_WINDOW_SAMPLES];
    unsigned head, n; /* ring: n samples, newest at head-1 */
} rate_window;

/* Starts empty; window_ms > 0 is how far back the rate looks. */
void rate_window_init(rate_window *w, int64_t window_ms);

/* Records the counter's value at now_ms (times never go backwards; a sample closer than
 * window/RATE_WINDOW_SAMPLES to the previous one replaces it, so the ring spans the window).
 * A value below the previous one (counter reset) starts the window afresh. */
void rate_window_sample(rate_window *w, int64_t now_ms, uint64_t value);

/* Increase per minute between the oldest sample inside the window and the newest; 0 with
 * fewer than two samples or no time between them. */
double rate_window_per_minute(const rate_window *w, int64_t now_ms);

#endif
