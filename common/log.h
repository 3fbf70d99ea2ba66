#ifndef CFS_LOG_H
#define CFS_LOG_H
/* Leveled logging to stderr, one logfmt line per event:
 *   ts=2026-12-05T09:51:28.123Z level=info comp=meta pid=1234 src=file.c:42 msg="text" k=v ...
 * (msg quoted with '"' and '\' escaped). Thread-safe (one write(2) per line). */
#include <stdarg.h>

enum cfs_log_level { CFS_LOG_DEBUG = 0, CFS_LOG_INFO = 1, CFS_LOG_WARN = 2, CFS_LOG_ERROR = 3 };

/* Sets the component tag printed on every line (e.g. "meta", "chunk"); the string is copied. */
void cfs_log_set_component(const char *component);
void cfs_log_set_level(enum cfs_log_level level);
enum cfs_log_level cfs_log_get_level(void);
/* Parses "debug|info|warn|error"; returns 0 or -EINVAL. */
int cfs_log_parse_level(const char *s, enum cfs_log_level *out);
void cfs_log_write(enum cfs_log_level level, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* An event with key=value fields after the message: fields_fmt formats them, e.g.
 * "id=%llu addr=%s" (values must not contain spaces; quote them in the format if they may). */
void cfs_log_event(enum cfs_log_level level, const char *file, int line, const char *event,
                   const char *fields_fmt, ...) __attribute__((format(printf, 5, 6)));

#define LOG_DEBUG(...)                                                                             \
    do {                                                                                           \
        if (cfs_log_get_level() <= CFS_LOG_DEBUG)                                                  \
            cfs_log_write(CFS_LOG_DEBUG, __FILE__, __LINE__, __VA_ARGS__);                         \
    } while (0)
#define LOG_INFO(...) cfs_log_write(CFS_LOG_INFO, __FILE__, __LINE__, __VA_ARGS__)
#define LOG_WARN(...) cfs_log_write(CFS_LOG_WARN, __FILE__, __LINE__, __VA_ARGS__)
#define LOG_ERROR(...) cfs_log_write(CFS_LOG_ERROR, __FILE__, __LINE__, __VA_ARGS__)
#define LOG_INFO_KV(event, ...) cfs_log_event(CFS_LOG_INFO, __FILE__, __LINE__, event, __VA_ARGS__)
#define LOG_WARN_KV(event, ...) cfs_log_event(CFS_LOG_WARN, __FILE__, __LINE__, event, __VA_ARGS__)

#endif
