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

/* Appends `s` to buf[*n..cap) as a logfmt quoted value: '"' and '\' escaped, control
 * characters shown as spaces, so one event stays one parseable line. */
static void append_quoted(char *buf, size_t cap, size_t *n, const char *s)
{
    if (*n < cap) buf[(*n)++] = '"';
    for (; *s && *n + 2 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') buf[(*n)++] = '\\';
        buf[(*n)++] = c < 0x20 ? ' ' : (char)c;
    }
    if (*n < cap) buf[(*n)++] = '"';
}

/* One line: ts=... level=... comp=... pid=... src=file:line msg="..." [fields]. */
static void log_line(enum cfs_log_level level, const char *file, int line, const char *msg,
                     const char *fields)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    char buf[2560];
    const size_t cap = sizeof buf - 1; /* room for the newline */
    int h = snprintf(
        buf, cap, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03dZ level=%s comp=%s pid=%d src=%s:%d msg=",
        tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
        (int)(tv.tv_usec / 1000), names[level & 3], g_component, (int)getpid(), base, line);
    size_t n = h < 0 ? 0 : (size_t)h < cap ? (size_t)h : cap;
    append_quoted(buf, cap, &n, msg);
    if (fields && *fields) n += (size_t)snprintf(buf + n, cap - n, " %s", fields);
    if (n > cap - 1) n = cap - 1;
    buf[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, buf, n);
    (void)w;
}

void cfs_log_write(enum cfs_log_level level, const char *file, int line, const char *fmt, ...)
{
    if ((int)level < atomic_load(&g_level)) return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_line(level, file, line, msg, NULL);
}

void cfs_log_event(enum cfs_log_level level, const char *file, int line, const char *event,
                   const char *fields_fmt, ...)
{
    if ((int)level < atomic_load(&g_level)) return;
    char fields[1024];
    va_list ap;
    va_start(ap, fields_fmt);
    vsnprintf(fields, sizeof fields, fields_fmt, ap);
    va_end(ap);
    log_line(level, file, line, event, fields);
}
