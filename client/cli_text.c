/* Pure text helpers of the CLI: remote path normalisation, sizes, progress text, JSON. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/cli.h"

int cli_normalize(const char *in, char *out)
{
    if (!in || !in[0]) return -EINVAL;
    size_t len = 0; /* length of out, which always starts with '/' */
    out[len++] = '/';
    const char *p = in;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p) break;
        const char *e = p;
        while (*e && *e != '/')
            e++;
        size_t n = (size_t)(e - p);
        if (n == 1 && p[0] == '.') {
            /* stays */
        } else if (n == 2 && p[0] == '.' && p[1] == '.') {
            while (len > 1 && out[len - 1] != '/')
                len--;
            if (len > 1) len--; /* drop the slash before the removed component */
        } else {
            if (n > CFS_NAME_MAX) return -ENAMETOOLONG;
            if (len + (len > 1) + n + 1 > CFS_PATH_MAX) return -ENAMETOOLONG;
            if (len > 1) out[len++] = '/';
            memcpy(out + len, p, n);
            len += n;
        }
        p = e;
    }
    out[len] = 0;
    return 0;
}

int cli_join(const char *dir, const char *name, char *out)
{
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/')
        dl--;
    bool root = dl == 1 && dir[0] == '/';
    size_t need = dl + (root ? 0 : 1) + strlen(name) + 1;
    if (need > CFS_PATH_MAX) return -ENAMETOOLONG;
    memcpy(out, dir, dl);
    size_t pos = dl;
    if (!root) out[pos++] = '/';
    strcpy(out + pos, name);
    return 0;
}

int cli_basename(const char *path, char *out)
{
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        len--;
    size_t start = len;
    while (start > 0 && path[start - 1] != '/')
        start--;
    size_t n = len - start;
    if (n == 0 || (n == 1 && path[start] == '/')) return -EINVAL;
    if (n > CFS_NAME_MAX) return -ENAMETOOLONG;
    memcpy(out, path + start, n);
    out[n] = 0;
    return 0;
}

void cli_human(uint64_t bytes, char *buf, size_t size)
{
    static const char units[] = "KMGTPE";
    if (bytes < 1024) {
        snprintf(buf, size, "%llu", (unsigned long long)bytes);
        return;
    }
    double v = (double)bytes;
    int u = -1;
    while (v >= 1024.0 && u < 5) {
        v /= 1024.0;
        u++;
    }
    /* Like ls -h: one decimal below 10, none above. */
    if (v < 10.0)
        snprintf(buf, size, "%.1f%c", v, units[u]);
    else
        snprintf(buf, size, "%.0f%c", v, units[u]);
}

void progress_format(char *buf, size_t size, const char *label, uint64_t done, uint64_t total,
                     int64_t elapsed_ms, int width)
{
    char d[16], t[16], r[16], eta[32];
    cli_human(done, d, sizeof(d));
    cli_human(total, t, sizeof(t));
    double secs = elapsed_ms > 0 ? (double)elapsed_ms / 1000.0 : 0.0;
    double rate = secs > 0 ? (double)done / secs : 0.0;
    cli_human((uint64_t)rate, r, sizeof(r));
    if (rate > 0 && total >= done) {
        uint64_t left = (uint64_t)((double)(total - done) / rate + 0.5);
        snprintf(eta, sizeof(eta), "%llu:%02llu", (unsigned long long)(left / 60),
                 (unsigned long long)(left % 60));
    } else {
        snprintf(eta, sizeof(eta), "--:--");
    }
    int pct = total ? (int)((done * 100) / total) : 100;
    if (pct > 100) pct = 100;
    if (width < 2) width = 2;
    if (width > 200) width = 200;
    char bar[208];
    int fill = total ? (int)((double)width * (double)done / (double)total) : width;
    if (fill > width) fill = width;
    for (int i = 0; i < width; i++)
        bar[i] = i < fill ? '=' : ' ';
    if (fill > 0 && fill < width) bar[fill - 1] = '>';
    bar[width] = 0;
    snprintf(buf, size, "%s %3d%% [%s] %s/%s %s/s ETA %s", label, pct, bar, d, t, r, eta);
}

void json_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        switch (*p) {
        case '"':
            fputs("\\\"", out);
            break;
        case '\\':
            fputs("\\\\", out);
            break;
        case '\n':
            fputs("\\n", out);
            break;
        case '\t':
            fputs("\\t", out);
            break;
        case '\r':
            fputs("\\r", out);
            break;
        default:
            if (*p < 0x20)
                fprintf(out, "\\u%04x", *p);
            else
                fputc(*p, out);
        }
    }
    fputc('"', out);
}

int cli_parse_mode(const char *s, uint32_t *out)
{
    if (!s || !*s || strlen(s) > 5 || strspn(s, "01234567") != strlen(s)) return -EINVAL;
    unsigned long v = strtoul(s, NULL, 8);
    if (v > 07777) return -EINVAL;
    *out = (uint32_t)v;
    return 0;
}
