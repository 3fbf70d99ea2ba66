#ifndef CFS_TIME_UTIL_H
#define CFS_TIME_UTIL_H
/* Clock helpers. Monotonic time is for intervals and deadlines (never jumps); realtime is for
 * timestamps stored in metadata (mtime etc.). All thread-safe. */
#include <stdint.h>

/* Monotonic clock in nanoseconds / milliseconds since an arbitrary fixed point. */
int64_t cfs_mono_ns(void);
int64_t cfs_mono_ms(void);
/* Wall-clock time in nanoseconds since the Unix epoch. */
int64_t cfs_real_ns(void);
/* Sleeps at least `ms` milliseconds (restarts after signals); ms <= 0 returns at once. */
void cfs_sleep_ms(int64_t ms);

#endif
