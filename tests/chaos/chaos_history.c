/* History recording, loading, and the per-file rules of what may be read back. */
#include "tests/chaos/chaos_history.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/chaos/chaos_content.h"

struct chaos_history {
    int fd;
};

static const char *const ev_names[] = {"invoke", "ok", "fail", "bad"};
static const char *const op_names[] = {"write", "unlink", "read"};

static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

int chaos_history_create(const char *path, const chaos_params *p, chaos_history **out)
{
    chaos_history *h = calloc(1, sizeof *h);
    if (!h) return -ENOMEM;
    h->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    if (h->fd < 0) {
        int rc = -errno;
        free(h);
        return rc;
    }
    char line[512];
    int n = snprintf(line, sizeof line,
                     "# chaos seed=%" PRIu64 " max_size=%" PRIu64 " files=%u dir=%s\n", p->seed,
                     p->max_size, p->files, p->dir);
    int rc = write_all(h->fd, line, (size_t)n);
    if (rc < 0) {
        chaos_history_close(h);
        return rc;
    }
    *out = h;
    return 0;
}

int chaos_history_add(chaos_history *h, chaos_event ev, chaos_op op, uint32_t file, int64_t gen,
                      int rc)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    char line[160];
    int n;
    if (ev == CHAOS_FAIL)
        n = snprintf(line, sizeof line, "%" PRIu64 " %s %s %u %" PRId64 " %d\n", ms, ev_names[ev],
                     op_names[op], file, gen, rc);
    else
        n = snprintf(line, sizeof line, "%" PRIu64 " %s %s %u %" PRId64 "\n", ms, ev_names[ev],
                     op_names[op], file, gen);
    return write_all(h->fd, line, (size_t)n); /* O_APPEND: one line lands whole */
}

void chaos_history_close(chaos_history *h)
{
    if (!h) return;
    close(h->fd);
    free(h);
}

void chaos_expect_init(chaos_expect *e)
{
    memset(e, 0, sizeof *e);
    e->acked = -1;
}

void chaos_expect_free(chaos_expect *e)
{
    free(e->maybe);
    chaos_expect_init(e);
}

static int add_maybe(chaos_expect *e, uint64_t gen)
{
    if (e->nmaybe == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 8;
        uint64_t *m = realloc(e->maybe, cap * sizeof *m);
        if (!m) return -ENOMEM;
        e->maybe = m;
        e->cap = cap;
    }
    e->maybe[e->nmaybe++] = gen;
    return 0;
}

int chaos_expect_apply(chaos_expect *e, chaos_event ev, chaos_op op, int64_t gen)
{
    if (op == CHAOS_READ) return 0;
    if (ev == CHAOS_INVOKE) {
        if (op == CHAOS_UNLINK) {
            e->maybe_absent = true;
            return 0;
        }
        return add_maybe(e, (uint64_t)gen);
    }
    if (ev != CHAOS_OK) return 0;
    /* Acknowledged: the outcome is now certain, whatever was uncertain before. */
    e->nmaybe = 0;
    e->maybe_absent = false;
    e->acked = op == CHAOS_UNLINK ? -1 : gen;
    return 0;
}

/* Compares data with generation gen: 1 = exactly it; 2 = a prefix in which every byte is
 * either gen's byte or zero (what an interrupted write may leave); 0 = neither. */
static int compare_gen(const chaos_params *p, uint32_t file, uint64_t gen, const uint8_t *data,
                       uint64_t len)
{
    uint64_t glen = chaos_content_len(p->seed, file, gen, p->max_size);
    if (len > glen) return 0;
    uint8_t buf[65536];
    bool exact = len == glen;
    for (uint64_t off = 0; off < len; off += sizeof buf) {
        size_t n = (size_t)(len - off < sizeof buf ? len - off : sizeof buf);
        chaos_content_fill(p->seed, file, gen, off, buf, n);
        if (memcmp(buf, data + off, n) == 0) continue;
        exact = false;
        for (size_t i = 0; i < n; i++)
            if (data[off + i] != buf[i] && data[off + i] != 0) return 0;
    }
    return exact ? 1 : 2;
}

chaos_verdict chaos_expect_verify(const chaos_expect *e, const chaos_params *p, uint32_t file,
                                  bool present, const uint8_t *data, uint64_t len, int64_t *matched,
                                  char *why, size_t why_cap)
{
    *matched = -1;
    why[0] = 0;
    if (!present) {
        if (e->acked < 0 || e->maybe_absent) return CHAOS_VERDICT_OK;
        snprintf(why, why_cap, "f%u is missing; generation %" PRId64 " was acknowledged", file,
                 e->acked);
        return CHAOS_VERDICT_LOST;
    }
    if (e->acked >= 0 && compare_gen(p, file, (uint64_t)e->acked, data, len) == 1) {
        *matched = e->acked;
        return CHAOS_VERDICT_OK;
    }
    for (size_t i = 0; i < e->nmaybe; i++) {
        if (compare_gen(p, file, e->maybe[i], data, len) != 0) {
            *matched = (int64_t)e->maybe[i];
            return CHAOS_VERDICT_OK;
        }
    }
    if (e->acked < 0) {
        snprintf(why, why_cap, "f%u exists (%" PRIu64 " bytes) but must not", file, len);
        return CHAOS_VERDICT_CORRUPT;
    }
    uint64_t want = chaos_content_len(p->seed, file, (uint64_t)e->acked, p->max_size);
    if (len < want && compare_gen(p, file, (uint64_t)e->acked, data, len) != 0) {
        snprintf(why, why_cap,
                 "f%u has %" PRIu64 " of the %" PRIu64 " bytes of acknowledged generation %" PRId64,
                 file, len, want, e->acked);
        return CHAOS_VERDICT_LOST;
    }
    for (int64_t g = e->acked - 1; g >= 1; g--) {
        if (compare_gen(p, file, (uint64_t)g, data, len) == 1) {
            snprintf(why, why_cap,
                     "f%u holds older generation %" PRId64 "; %" PRId64 " was acknowledged", file,
                     g, e->acked);
            return CHAOS_VERDICT_LOST;
        }
    }
    snprintf(why, why_cap,
             "f%u: %" PRIu64 " bytes match neither acknowledged generation %" PRId64 " (%" PRIu64
             " bytes) nor any later attempt",
             file, len, e->acked, want);
    return CHAOS_VERDICT_CORRUPT;
}

static int parse_header(const char *line, chaos_params *p)
{
    char dir[256];
    unsigned long long seed, max;
    unsigned files;
    if (sscanf(line, "# chaos seed=%llu max_size=%llu files=%u dir=%255s", &seed, &max, &files,
               dir) != 4 ||
        files == 0 || files > 1000000)
        return -EINVAL;
    p->seed = seed;
    p->max_size = max;
    p->files = files;
    snprintf(p->dir, sizeof p->dir, "%s", dir);
    return 0;
}

static int lookup_name(const char *s, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0) return i;
    return -1;
}

int chaos_history_load(const char *path, chaos_loaded *out)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "re");
    if (!f) return -errno;
    char line[512];
    int rc = 0;
    unsigned long lineno = 0;
    if (!fgets(line, sizeof line, f) || parse_header(line, &out->params) < 0) {
        fprintf(stderr, "%s:1: not a chaos history header\n", path);
        fclose(f);
        return -EINVAL;
    }
    lineno = 1;
    out->expect = calloc(out->params.files, sizeof *out->expect);
    if (!out->expect) {
        fclose(f);
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < out->params.files; i++)
        chaos_expect_init(&out->expect[i]);
    while (fgets(line, sizeof line, f)) {
        lineno++;
        unsigned long long ms;
        char evs[16], ops[16];
        unsigned file;
        long long gen;
        int erc = 0;
        int n = sscanf(line, "%llu %15s %15s %u %lld %d", &ms, evs, ops, &file, &gen, &erc);
        int ev = lookup_name(evs, ev_names, 4);
        int op = lookup_name(ops, op_names, 3);
        if (n < 5 || ev < 0 || op < 0 || file >= out->params.files || gen < -1 ||
            (op == CHAOS_WRITE && gen < 1 && ev != CHAOS_BAD)) {
            /* A writer killed mid-line leaves at most a torn last line: ignore only that. */
            if (!strchr(line, '\n') && feof(f)) break;
            fprintf(stderr, "%s:%lu: malformed history line: %s", path, lineno, line);
            rc = -EINVAL;
            break;
        }
        if (ev == CHAOS_OK || ev == CHAOS_FAIL) out->operations++;
        if (ev == CHAOS_OK && op != CHAOS_READ) out->acknowledged++;
        if (ev == CHAOS_BAD) out->bad_reads++;
        rc = chaos_expect_apply(&out->expect[file], (chaos_event)ev, (chaos_op)op, gen);
        if (rc < 0) break;
    }
    fclose(f);
    if (rc < 0) chaos_loaded_free(out);
    return rc;
}

void chaos_loaded_free(chaos_loaded *l)
{
    if (l->expect)
        for (uint32_t i = 0; i < l->params.files; i++)
            chaos_expect_free(&l->expect[i]);
    free(l->expect);
    l->expect = NULL;
}
