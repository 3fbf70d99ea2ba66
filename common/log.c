#include "common/log.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static char g_component[32] = "chunkfs";
static atomic_int g_level = CFS_LOG_INFO;

void cfs_log_set_component(const char *component)
{
    snprintf(g_component, sizeof g_component, "%s", component);
}

void cfs_log_set_level(enum cfs_log_level level)
{
    atomic_store(&g_level, (int)level);
}

enum cfs_log_level cfs_log_get_level(void)
{
    return (enum cfs_log_level)atomic_load(&g_level);
}

int cfs_log_parse_level(const char *s, enum cfs_log_level *out)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, names[i]) == 0) {
            *out = (enum cfs_log_level)i;
            return 0;
        }
    }
    return -EINVAL;
}

void cfs_log_write(enum cfs_log_level level, const char *file, int line, const char *fmt, ...)
{
    static const char *tags[] = {"DEBUG", "INFO ", "WARN ", "ERROR"};
    if ((int)level < atomic_load(&g_level)) return;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    char buf[2048];
    int n = snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s %s[%d] %s:%d ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (int)(tv.tv_usec / 1000), tags[level & 3], g_component, (int)getpid(), base,
                     line);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && n < (int)sizeof buf) n += vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof buf - 1) n = (int)sizeof buf - 2;
    buf[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, buf, (size_t)n);
    (void)w;
}
