/* bench_chunk: write and read throughput of one chunkserver and of a 3-replica chain
 * (processes on loopback), beside a plain local-disk write with fsync of the same data in the
 * same run. Prints a Markdown table.
 *
 *   bench_chunk [--size-mib N (default 256)] [--sync-mode close|per-write]
 *
 * Chunkservers come from $CHUNKFS_BIN (default: the build's bin dir); data goes to
 * ${TMPDIR:-/tmp} (so the baseline and the servers use the same disk) and is removed. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chunk_procs.h"
#include "chunkserver/chunk_client.h"
#include "chunkserver/chunk_file.h"
#include "common/errors.h"
#include "common/rpc.h"

#define MiB (1024u * 1024)
#define TIMEOUT_MS 600000

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint8_t *g_data; /* one chunk's worth of test data, reused for every chunk */

static ssize_t mem_source(void *arg, uint64_t off, uint8_t *buf, size_t max)
{
    (void)arg;
    if (off >= CHUNK_MAX_SIZE) return 0;
    size_t n = CHUNK_MAX_SIZE - off < max ? (size_t)(CHUNK_MAX_SIZE - off) : max;
    memcpy(buf, g_data + off, n);
    return (ssize_t)n;
}

static int count_sink(void *arg, uint64_t off, const uint8_t *data, size_t len)
{
    (void)off;
    (void)data;
    *(uint64_t *)arg += len;
    return 0;
}

/* Plain local disk: write(1 MiB) + fdatasync per MiB (what per-write sync does), and the same
 * with a single fsync at the end. Returns MiB/s. */
static double local_disk(const char *root, size_t chunks, bool sync_each)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/local.bin", root);
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
    if (fd < 0) return -1;
    double t0 = now_s();
    for (size_t c = 0; c < chunks; c++)
        for (uint64_t off = 0; off < CHUNK_MAX_SIZE; off += MiB) {
            if (write(fd, g_data + off, MiB) != (ssize_t)MiB) {
                close(fd);
                return -1;
            }
            if (sync_each && fdatasync(fd) < 0) {
                close(fd);
                return -1;
            }
        }
    if (fsync(fd) < 0) {
        close(fd);
        return -1;
    }
    double t = now_s() - t0;
    close(fd);
    unlink(path);
    return (double)chunks * 64 / t;
}

static double chain_write(struct cs_proc *p, size_t nrep, size_t chunks, uint64_t first_id)
{
    const char *chain[2];
    for (size_t i = 1; i < nrep; i++)
        chain[i - 1] = p[i].addr;
    double t0 = now_s();
    for (size_t c = 0; c < chunks; c++) {
        struct chunk_write_result res;
        int rc = chunk_client_write(p[0].addr, chain, nrep - 1, first_id + c, 1, 0, CHUNK_NO_TOKEN,
                                    0, mem_source, NULL, TIMEOUT_MS, &res);
        if (rc < 0) {
            fprintf(stderr, "write failed: %s at %s\n", cfs_strerror(rc), res.failed_address);
            return -1;
        }
    }
    return (double)chunks * 64 / (now_s() - t0);
}

static double read_all(const char *addr, size_t chunks, uint64_t first_id)
{
    double t0 = now_s();
    for (size_t c = 0; c < chunks; c++) {
        uint64_t got = 0;
        ssize_t n = chunk_client_read(addr, first_id + c, 1, CHUNK_NO_TOKEN, 0, 0, TIMEOUT_MS,
                                      count_sink, &got);
        if (n != (ssize_t)CHUNK_MAX_SIZE) {
            fprintf(stderr, "read failed: %s\n", n < 0 ? cfs_strerror((int)n) : "short");
            return -1;
        }
    }
    return (double)chunks * 64 / (now_s() - t0);
}

int main(int argc, char **argv)
{
    size_t size_mib = 256;
    const char *sync_mode = "close";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--size-mib") == 0 && i + 1 < argc)
            size_mib = (size_t)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--sync-mode") == 0 && i + 1 < argc)
            sync_mode = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--size-mib N] [--sync-mode close|per-write]\n", argv[0]);
            return 2;
        }
    }
    size_t chunks = (size_mib + 63) / 64;
    if (chunks == 0) chunks = 1;
    char root[1024];
    if (cs_make_root(root, sizeof root, "cfs_bench_chunk") < 0) return 1;
    g_data = malloc(CHUNK_MAX_SIZE);
    if (!g_data) return 1;
    cs_pattern(12345, 0, g_data, CHUNK_MAX_SIZE);
    rpc_global_init();
    const char *extra[] = {"--sync-mode", sync_mode, "--scrub-interval", "100000", NULL};
    struct cs_proc p[3];
    int started = 0, status = 1;
    for (; started < 3; started++) {
        char name[8];
        snprintf(name, sizeof name, "cs%d", started);
        int rc = cs_proc_start(&p[started], root, name, extra);
        if (rc < 0) {
            fprintf(stderr, "cannot start chunkserver: %s\n", cfs_strerror(rc));
            goto out;
        }
    }
    double local_each = local_disk(root, chunks, true);
    double local_end = local_disk(root, chunks, false);
    double w1 = chain_write(p, 1, chunks, 1000);
    double r1 = read_all(p[0].addr, chunks, 1000);
    double w3 = chain_write(p, 3, chunks, 2000);
    double r3 = read_all(p[0].addr, chunks, 2000);
    double r3tail = read_all(p[2].addr, chunks, 2000);
    if (w1 < 0 || r1 < 0 || w3 < 0 || r3 < 0 || r3tail < 0 || local_each < 0 || local_end < 0)
        goto out;
    printf("| case (%zu MiB, chunkserver sync %s) | MiB/s |\n|---|---|\n", chunks * 64, sync_mode);
    printf("| local disk: write 1 MiB + fdatasync each | %.0f |\n", local_each);
    printf("| local disk: write, one fsync at the end | %.0f |\n", local_end);
    printf("| 1 chunkserver: write | %.0f |\n", w1);
    printf("| 1 chunkserver: read | %.0f |\n", r1);
    printf("| 3-replica chain: write | %.0f |\n", w3);
    printf("| 3-replica chain: read from the first replica | %.0f |\n", r3);
    printf("| 3-replica chain: read from the last replica | %.0f |\n", r3tail);
    status = 0;
out:
    for (int i = 0; i < started; i++)
        cs_proc_stop(&p[i], SIGTERM);
    cs_remove_tree(root);
    free(g_data);
    return status;
}
