#include "common/time_util.h"

#include <errno.h>
#include <time.h>

static int64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts); /* cannot fail for these clocks with a valid pointer */
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t cfs_mono_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}

int64_t cfs_mono_ms(void)
{
    return clock_ns(CLOCK_MONOTONIC) / 1000000;
}

int64_t cfs_real_ns(void)
{
    return clock_ns(CLOCK_REALTIME);
}

void cfs_sleep_ms(int64_t ms)
{
    if (ms <= 0) return;
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}
