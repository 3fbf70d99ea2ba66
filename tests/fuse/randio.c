/* randio: a random I/O workload on a file, checked against a local model file.
 *
 *   randio [-s SEED] [-n OPS] [-m MAX_SIZE] FILE MODEL
 *
 * Applies the same random sequence of pwrite (sizes from 1 byte to 1.5 MiB, offsets anywhere
 * below MAX_SIZE, so chunk boundaries are crossed), ftruncate (shrink and grow), fsync,
 * close/reopen, and mmap reads and writes (MAP_SHARED + msync, as fsx does) to FILE (on the file
 * system under test) and MODEL (on a trusted local file system), and after every read and at the
 * end compares FILE with MODEL byte by byte. Prints the failing operation and exits 1 on the first
 * difference; exit 0 when all matched. A failing SEED reproduces exactly. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static uint64_t rng_state;

static uint64_t rnd(void)
{
    /* xorshift64*: deterministic for a seed. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

static uint64_t below(uint64_t n)
{
    return n ? rnd() % n : 0;
}

static int open_both(const char *file, const char *model, int *fd, int *md)
{
    *fd = open(file, O_RDWR | O_CREAT, 0644);
    *md = open(model, O_RDWR | O_CREAT, 0644);
    if (*fd < 0 || *md < 0) {
        fprintf(stderr, "randio: open: %s\n", strerror(errno));
        return -1;
    }
    return 0;
}

static ssize_t pread_full(int fd, uint8_t *buf, size_t n, off_t off)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(fd, buf + done, n - done, off + (off_t)done);
        if (r < 0) return -1;
        if (r == 0) break;
        done += (size_t)r;
    }
    return (ssize_t)done;
}

/* Compares [off, off+len) of both files; returns 0 if equal. */
static int compare(int fd, int md, off_t off, size_t len, uint8_t *a, uint8_t *b, long op)
{
    ssize_t ra = pread_full(fd, a, len, off);
    ssize_t rb = pread_full(md, b, len, off);
    if (ra != rb) {
        printf("FAIL op %ld: read [%lld,+%zu): file gave %zd bytes, model %zd (%s)\n", op,
               (long long)off, len, ra, rb, ra < 0 ? strerror(errno) : "short");
        return -1;
    }
    if (ra > 0 && memcmp(a, b, (size_t)ra) != 0) {
        size_t i = 0;
        while (a[i] == b[i])
            i++;
        printf("FAIL op %ld: data differs at offset %lld (file %02x, model %02x)\n", op,
               (long long)off + (long long)i, a[i], b[i]);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    uint64_t seed = 1;
    long ops = 2000;
    uint64_t max_size = 8u << 20;
    int c;
    while ((c = getopt(argc, argv, "s:n:m:")) != -1) {
        switch (c) {
        case 's':
            seed = strtoull(optarg, NULL, 10);
            break;
        case 'n':
            ops = strtol(optarg, NULL, 10);
            break;
        case 'm':
            max_size = strtoull(optarg, NULL, 10);
            break;
        default:
            fprintf(stderr, "usage: randio [-s SEED] [-n OPS] [-m MAX_SIZE] FILE MODEL\n");
            return 2;
        }
    }
    if (optind != argc - 2 || ops < 1 || max_size < 4096) {
        fprintf(stderr, "usage: randio [-s SEED] [-n OPS] [-m MAX_SIZE] FILE MODEL\n");
        return 2;
    }
    const char *file = argv[optind], *model = argv[optind + 1];
    rng_state = seed * 0x9e3779b97f4a7c15ULL + 1;
    unlink(model);
    int fd, md;
    if (open_both(file, model, &fd, &md) != 0 || ftruncate(fd, 0) != 0) {
        fprintf(stderr, "randio: cannot prepare files: %s\n", strerror(errno));
        return 2;
    }
    const size_t maxio = 3u << 19; /* 1.5 MiB */
    uint8_t *wbuf = malloc(maxio), *a = malloc(maxio), *b = malloc(maxio);
    if (!wbuf || !a || !b) return 2;
    long counts[8] = {0};
    const long page = sysconf(_SC_PAGESIZE);
    for (long op = 0; op < ops; op++) {
        uint64_t kind = below(100);
        if (kind < 50) { /* write */
            size_t len = below(10) < 7 ? 1 + below(70000) : 1 + below(maxio);
            off_t off = (off_t)below(max_size - len);
            if (below(4) == 0) /* aim at a MiB boundary */
                off = (off_t)((below(max_size >> 20) << 20) + (1 << 20)) - (off_t)below(len);
            if (off < 0) off = 0;
            for (size_t i = 0; i < len; i++)
                wbuf[i] = (uint8_t)(rnd() >> 56);
            ssize_t w1 = pwrite(fd, wbuf, len, off), w2 = pwrite(md, wbuf, len, off);
            if (w1 != (ssize_t)len || w2 != (ssize_t)len) {
                printf("FAIL op %ld: pwrite [%lld,+%zu) gave %zd (%s)\n", op, (long long)off, len,
                       w1, strerror(errno));
                return 1;
            }
            counts[0]++;
        } else if (kind < 80) { /* read and compare */
            size_t len = 1 + below(maxio);
            off_t off = (off_t)below(max_size);
            if (compare(fd, md, off, len, a, b, op) != 0) return 1;
            counts[1]++;
        } else if (kind < 87) { /* truncate */
            off_t size = (off_t)below(max_size);
            if (ftruncate(fd, size) != 0 || ftruncate(md, size) != 0) {
                printf("FAIL op %ld: ftruncate %lld: %s\n", op, (long long)size, strerror(errno));
                return 1;
            }
            counts[2]++;
        } else if (kind < 92) { /* fsync */
            if (fsync(fd) != 0) {
                printf("FAIL op %ld: fsync: %s\n", op, strerror(errno));
                return 1;
            }
            counts[3]++;
        } else if (kind < 96) { /* close and reopen */
            if (close(fd) != 0) {
                printf("FAIL op %ld: close: %s\n", op, strerror(errno));
                return 1;
            }
            close(md);
            if (open_both(file, model, &fd, &md) != 0) return 1;
            counts[4]++;
        } else if (kind < 98) { /* mmap read of a range inside the file */
            struct stat st;
            fstat(md, &st);
            if (st.st_size == 0) continue;
            off_t off = (off_t)below((uint64_t)st.st_size);
            size_t len = 1 + below(262144);
            if ((off_t)len > st.st_size - off) len = (size_t)(st.st_size - off);
            off_t pg = off & ~(off_t)(page - 1);
            size_t mlen = len + (size_t)(off - pg);
            uint8_t *m = mmap(NULL, mlen, PROT_READ, MAP_SHARED, fd, pg);
            if (m == MAP_FAILED) {
                printf("FAIL op %ld: mmap read [%lld,+%zu): %s\n", op, (long long)off, len,
                       strerror(errno));
                return 1;
            }
            ssize_t rb = pread_full(md, b, len, off);
            int diff = rb != (ssize_t)len || memcmp(m + (off - pg), b, len) != 0;
            munmap(m, mlen);
            if (diff) {
                printf("FAIL op %ld: mmap read [%lld,+%zu) differs from the model\n", op,
                       (long long)off, len);
                return 1;
            }
            counts[6]++;
        } else if (kind < 99) { /* mmap write, extending the file first if needed */
            size_t len = 1 + below(262144);
            off_t off = (off_t)below(max_size - len);
            struct stat st;
            fstat(md, &st);
            if (off + (off_t)len > st.st_size &&
                (ftruncate(fd, off + (off_t)len) != 0 || ftruncate(md, off + (off_t)len) != 0)) {
                printf("FAIL op %ld: ftruncate before mmap write: %s\n", op, strerror(errno));
                return 1;
            }
            off_t pg = off & ~(off_t)(page - 1);
            size_t mlen = len + (size_t)(off - pg);
            uint8_t *m = mmap(NULL, mlen, PROT_READ | PROT_WRITE, MAP_SHARED, fd, pg);
            if (m == MAP_FAILED) {
                printf("FAIL op %ld: mmap write [%lld,+%zu): %s\n", op, (long long)off, len,
                       strerror(errno));
                return 1;
            }
            for (size_t i = 0; i < len; i++)
                wbuf[i] = (uint8_t)(rnd() >> 56);
            memcpy(m + (off - pg), wbuf, len);
            int src = msync(m, mlen, MS_SYNC);
            munmap(m, mlen);
            if (src != 0 || pwrite(md, wbuf, len, off) != (ssize_t)len) {
                printf("FAIL op %ld: msync after mmap write: %s\n", op, strerror(errno));
                return 1;
            }
            counts[7]++;
        } else { /* size check */
            struct stat s1, s2;
            fstat(fd, &s1);
            fstat(md, &s2);
            if (s1.st_size != s2.st_size) {
                printf("FAIL op %ld: size %lld, model %lld\n", op, (long long)s1.st_size,
                       (long long)s2.st_size);
                return 1;
            }
            counts[5]++;
        }
    }
    if (close(fd) != 0) {
        printf("FAIL final close: %s\n", strerror(errno));
        return 1;
    }
    close(md);
    if (open_both(file, model, &fd, &md) != 0) return 1;
    struct stat s1, s2;
    fstat(fd, &s1);
    fstat(md, &s2);
    if (s1.st_size != s2.st_size) {
        printf("FAIL final size %lld, model %lld\n", (long long)s1.st_size, (long long)s2.st_size);
        return 1;
    }
    for (off_t off = 0; off < s2.st_size; off += (off_t)maxio)
        if (compare(fd, md, off, maxio, a, b, ops) != 0) return 1;
    printf("randio seed %llu: %ld ops (%ld writes, %ld reads, %ld truncates, %ld fsyncs, "
           "%ld reopens, %ld size checks, %ld mmap reads, %ld mmap writes), final size %lld: "
           "equal\n",
           (unsigned long long)seed, ops, counts[0], counts[1], counts[2], counts[3], counts[4],
           counts[5], counts[6], counts[7], (long long)s2.st_size);
    close(fd);
    close(md);
    free(wbuf);
    free(a);
    free(b);
    return 0;
}
