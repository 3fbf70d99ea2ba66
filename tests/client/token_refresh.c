/* libchunkfs refreshes expired chunk access tokens transparently. Run against a cluster whose
 * metaservers sign tokens that live LIFETIME_MS (--token-lifetime-ms): a reader's cached read
 * token and a writer's cached write allocation both expire while their handles stay open, and
 * the next pread / pwrite+fsync still succeed with the right bytes (the chunkservers answered
 * -CFS_ETOKEN; the caller saw nothing of it).
 * Usage: token_refresh META_ADDRS LIFETIME_MS. Exit 0 when every check held. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/chunkfs.h"
#include "common/errors.h"

#define SIZE (512 * 1024)

static int failures;

#define CHECK_RC(expr, want)                                                                       \
    do {                                                                                           \
        long got_ = (long)(expr);                                                                  \
        if (got_ != (long)(want)) {                                                                \
            fprintf(stderr, "token_refresh:%d: %s = %ld (%s), want %ld\n", __LINE__, #expr, got_,  \
                    got_ < 0 ? cfs_strerror((int)got_) : "", (long)(want));                        \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

static void fill(uint8_t *b, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(i * 131 + seed * 7 + (i >> 9));
}

/* Lets every token signed so far expire (plus a margin for a loaded machine's clock reads). */
static void outlive_tokens(long lifetime_ms)
{
    long ms = lifetime_ms + 500;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int main(int argc, char **argv)
{
    long lifetime = argc == 3 ? strtol(argv[2], NULL, 10) : 0;
    if (argc != 3 || lifetime <= 0) {
        fprintf(stderr, "usage: token_refresh META_ADDRS LIFETIME_MS\n");
        return 2;
    }
    cfs_options o;
    cfs_options_init(&o);
    o.readahead_bytes = 0; /* every pread goes to a chunkserver, none served from a window */
    cfs_fs *fs;
    if (cfs_connect(argv[1], &o, &fs) < 0) {
        fprintf(stderr, "token_refresh: connect failed\n");
        return 1;
    }
    cfs_cred cred;
    cfs_cred_self(&cred);
    uint8_t *v1 = malloc(SIZE), *v2 = malloc(SIZE), *got = malloc(SIZE);
    if (!v1 || !v2 || !got) return 1;
    fill(v1, SIZE, 1);
    fill(v2, SIZE, 2);

    cfs_file *w, *r;
    cfs_attr a;
    CHECK_RC(cfs_create(fs, CFS_ROOT_INO, "tokfile", 0644, O_RDWR | O_EXCL, &cred, &a, &w), 0);
    if (failures) return 1;
    CHECK_RC(cfs_pwrite(w, v1, SIZE, 0), SIZE);
    CHECK_RC(cfs_fsync(w), 0);
    CHECK_RC(cfs_open(fs, a.ino, O_RDONLY, &cred, &r), 0);
    if (failures) return 1;
    CHECK_RC(cfs_pread(r, got, SIZE, 0), SIZE); /* caches the chunk's location and read token */
    CHECK_RC(memcmp(got, v1, SIZE), 0);

    outlive_tokens(lifetime);
    /* The reader's cached token expired: the read still returns the data. */
    memset(got, 0, SIZE);
    CHECK_RC(cfs_pread(r, got, SIZE, 0), SIZE);
    CHECK_RC(memcmp(got, v1, SIZE), 0);
    /* The writer's allocation (kept for the session) has an expired write token: an
     * overwrite of the same chunk still lands. */
    CHECK_RC(cfs_pwrite(w, v2, SIZE, 0), SIZE);
    CHECK_RC(cfs_fsync(w), 0);
    CHECK_RC(cfs_close(w), 0);
    CHECK_RC(cfs_close(r), 0);

    CHECK_RC(cfs_open(fs, a.ino, O_RDONLY, &cred, &r), 0);
    if (failures) return 1;
    memset(got, 0, SIZE);
    CHECK_RC(cfs_pread(r, got, SIZE, 0), SIZE);
    CHECK_RC(memcmp(got, v2, SIZE), 0);
    CHECK_RC(cfs_close(r), 0);
    cfs_disconnect(fs);
    free(v1);
    free(v2);
    free(got);
    if (failures) {
        fprintf(stderr, "token_refresh: %d check(s) failed\n", failures);
        return 1;
    }
    printf("token_refresh: ok\n");
    return 0;
}
