/* Random pwrite/pread/truncate/reopen patterns through libchunkfs against a real cluster,
 * checked byte for byte against an in-memory model of the file. Writes are biased to cross
 * chunk boundaries. Usage: client_random_io META_ADDRS PATH SEED OPS
 * Exit 0 when every read matched the model; 1 with a message otherwise. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/chunkfs.h"
#include "common/errors.h"

#define MAX_SIZE (12u << 20)

static uint8_t *model;
static uint64_t model_size;
static uint64_t chunk_size;
static unsigned seed_state;

static unsigned rnd(unsigned n)
{
    return (unsigned)(rand_r(&seed_state) % n);
}

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "client_random_io: " __VA_ARGS__);                                         \
        fprintf(stderr, "\n");                                                                     \
        exit(1);                                                                                   \
    } while (0)

static uint64_t pick_offset(void)
{
    /* Half the time near a chunk boundary, else anywhere. */
    uint64_t nchunks = MAX_SIZE / chunk_size;
    if (rnd(2)) {
        uint64_t b = (1 + rnd((unsigned)nchunks - 2)) * chunk_size;
        int64_t delta = (int64_t)rnd(128 * 1024) - 64 * 1024;
        return (uint64_t)((int64_t)b + delta);
    }
    return rnd(MAX_SIZE - 1);
}

static void check_read(cfs_file *f, uint64_t off, uint64_t len, const char *what)
{
    uint8_t *buf = malloc(len ? len : 1);
    ssize_t n = cfs_pread(f, buf, len, off);
    if (n < 0)
        FAIL("%s: pread(%llu, %llu): %s", what, (unsigned long long)off, (unsigned long long)len,
             cfs_strerror((int)n));
    uint64_t expect = off >= model_size ? 0 : (model_size - off < len ? model_size - off : len);
    if ((uint64_t)n != expect)
        FAIL("%s: pread(%llu, %llu) returned %zd, want %llu (size %llu)", what,
             (unsigned long long)off, (unsigned long long)len, n, (unsigned long long)expect,
             (unsigned long long)model_size);
    for (uint64_t i = 0; i < expect; i++)
        if (buf[i] != model[off + i])
            FAIL("%s: byte %llu is %u, want %u", what, (unsigned long long)(off + i), buf[i],
                 model[off + i]);
    free(buf);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: client_random_io META_ADDRS PATH SEED OPS\n");
        return 2;
    }
    seed_state = (unsigned)atoi(argv[3]);
    int ops = atoi(argv[4]);
    cfs_fs *fs;
    int rc = cfs_connect(argv[1], NULL, &fs);
    if (rc < 0) FAIL("connect: %s", cfs_strerror(rc));
    cfs_cred cred;
    cfs_cred_self(&cred);
    cfs_statfs sfs;
    rc = cfs_statfs_get(fs, &cred, &sfs);
    if (rc < 0) FAIL("statfs: %s", cfs_strerror(rc));
    chunk_size = sfs.chunk_size;
    if (chunk_size == 0 || chunk_size > MAX_SIZE / 4)
        FAIL("chunk size %llu: format the test cluster with a small chunk size",
             (unsigned long long)chunk_size);
    model = calloc(1, MAX_SIZE);

    cfs_file *f;
    rc = cfs_open_path(fs, argv[2], O_CREAT | O_EXCL | O_RDWR, 0644, &cred, &f);
    if (rc < 0) FAIL("create %s: %s", argv[2], cfs_strerror(rc));
    /* Error paths users rely on. */
    cfs_file *dup;
    if ((rc = cfs_open_path(fs, argv[2], O_CREAT | O_EXCL | O_RDWR, 0644, &cred, &dup)) != -EEXIST)
        FAIL("exclusive create of an existing file: %d, want -EEXIST", rc);
    cfs_file *dirf;
    if ((rc = cfs_open(fs, CFS_ROOT_INO, O_RDONLY, &cred, &dirf)) != -EISDIR)
        FAIL("open of a directory: %d, want -EISDIR", rc);
    check_read(f, 0, 4096, "empty file");

    uint8_t *buf = malloc(3u << 20);
    for (int op = 0; op < ops; op++) {
        unsigned kind = rnd(100);
        if (kind < 55) {
            uint64_t off = pick_offset();
            uint64_t len = 1 + rnd(rnd(4) == 0 ? (3u << 20) : 70000);
            if (off + len > MAX_SIZE) len = MAX_SIZE - off;
            for (uint64_t i = 0; i < len; i++)
                buf[i] = (uint8_t)rand_r(&seed_state);
            ssize_t n = cfs_pwrite(f, buf, len, off);
            if (n != (ssize_t)len)
                FAIL("op %d: pwrite(%llu, %llu): %s", op, (unsigned long long)off,
                     (unsigned long long)len, n < 0 ? cfs_strerror((int)n) : "short");
            memcpy(model + off, buf, len);
            if (off + len > model_size) model_size = off + len;
        } else if (kind < 85) {
            uint64_t off = rnd(2) ? pick_offset() : rnd((unsigned)model_size + 100000);
            uint64_t len = 1 + rnd(rnd(3) == 0 ? (2u << 20) : 50000);
            if (off + len > MAX_SIZE + 200000) len = 1000;
            check_read(f, off, len, "read");
        } else if (kind < 90) {
            if ((rc = cfs_fsync(f)) < 0) FAIL("op %d: fsync: %s", op, cfs_strerror(rc));
        } else if (kind < 95) {
            uint64_t ns = rnd(MAX_SIZE);
            if ((rc = cfs_ftruncate(f, ns)) < 0)
                FAIL("op %d: ftruncate(%llu): %s", op, (unsigned long long)ns, cfs_strerror(rc));
            if (ns < model_size) memset(model + ns, 0, model_size - ns);
            model_size = ns;
        } else {
            /* Close and reopen: what was written must be committed and visible. */
            if ((rc = cfs_close(f)) < 0) FAIL("op %d: close: %s", op, cfs_strerror(rc));
            cfs_file *r;
            if ((rc = cfs_open_path(fs, argv[2], O_RDONLY, 0, &cred, &r)) < 0)
                FAIL("op %d: reopen for reading: %s", op, cfs_strerror(rc));
            check_read(r, 0, model_size + 10, "whole file after close");
            if (cfs_pwrite(r, buf, 10, 0) != -EBADF)
                FAIL("pwrite on a read-only handle must be -EBADF");
            cfs_close(r);
            if ((rc = cfs_open_path(fs, argv[2], O_RDWR, 0, &cred, &f)) < 0)
                FAIL("op %d: reopen for writing: %s", op, cfs_strerror(rc));
        }
    }
    if ((rc = cfs_close(f)) < 0) FAIL("final close: %s", cfs_strerror(rc));
    cfs_attr a;
    if ((rc = cfs_resolve(fs, argv[2], true, &cred, &a)) < 0) FAIL("stat: %s", cfs_strerror(rc));
    if (a.size != model_size)
        FAIL("size %llu, want %llu", (unsigned long long)a.size, (unsigned long long)model_size);
    cfs_file *r;
    if ((rc = cfs_open_path(fs, argv[2], O_RDONLY, 0, &cred, &r)) < 0)
        FAIL("final open: %s", cfs_strerror(rc));
    check_read(r, 0, model_size + 4096, "final whole file");
    /* Sequential small reads exercise the read-ahead window. */
    for (uint64_t off = 0; off < model_size; off += 128 * 1024)
        check_read(r, off, 128 * 1024, "sequential");
    cfs_close(r);
    printf("client_random_io: %d ops, final size %llu, all reads matched\n", ops,
           (unsigned long long)model_size);
    free(buf);
    free(model);
    cfs_disconnect(fs);
    return 0;
}
