/* Chunk store unit tests: the store against an in-memory model, CRC checks, start-up recovery,
 * version atomicity, disk full. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chunkserver/chunk_file.h"
#include "chunkserver/chunk_store.h"
#include "chunkserver/scrubber.h"
#include "common/errors.h"

#define DIRLEN 1024 /* data dir names; derived paths get PATH_MAX */
static char g_root[512];

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void make_root(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(g_root, sizeof g_root, "%s/cfs_store_XXXXXX", t && *t ? t : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(g_root));
}

static void remove_root(void)
{
    nftw(g_root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void sub_dir(char *buf, const char *name)
{
    snprintf(buf, DIRLEN, "%s/%s", g_root, name);
}

static chunk_store *open_one(const char *dir)
{
    const char *dirs[1] = {dir};
    chunk_store *cs = NULL;
    ck_assert_int_eq(chunk_store_open(dirs, 1, &cs), 0);
    return cs;
}

static uint64_t rng_state = 0x1234567;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void fill(uint8_t *p, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)((seed + i) * 2654435761u >> 13);
}

static size_t count_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

/* Events seen by the listener. */
struct events {
    pthread_mutex_t mu;
    int added, removed, corrupt;
    uint64_t last_corrupt;
};

static void on_event(void *arg, enum chunk_event ev, uint64_t id, uint64_t ver, uint64_t len)
{
    (void)ver;
    (void)len;
    struct events *e = arg;
    pthread_mutex_lock(&e->mu);
    if (ev == CHUNK_ADDED)
        e->added++;
    else if (ev == CHUNK_REMOVED)
        e->removed++;
    else if (ev == CHUNK_CORRUPT) {
        e->corrupt++;
        e->last_corrupt = id;
    }
    pthread_mutex_unlock(&e->mu);
}

/* A fresh root with one data dir d0 (its quarantine dir in q), opened with `ev` listening. */
static chunk_store *open_watched(char dir[DIRLEN], char q[PATH_MAX], struct events *ev)
{
    make_root();
    sub_dir(dir, "d0");
    snprintf(q, PATH_MAX, "%s/quarantine", dir);
    chunk_store *cs = open_one(dir);
    chunk_store_set_listener(cs, on_event, ev);
    return cs;
}

/* XORs the byte at `at` of chunk `id`'s replica file with `mask`, behind the store's back. */
static void flip_byte(chunk_store *cs, uint64_t id, uint64_t at, uint8_t mask)
{
    char path[PATH_MAX];
    ck_assert_int_eq(chunk_store_path(cs, id, path, sizeof path), 0);
    int fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    uint8_t b = 0;
    ck_assert_int_eq(pread(fd, &b, 1, (off_t)at), 1);
    b ^= mask;
    ck_assert_int_eq(pwrite(fd, &b, 1, (off_t)at), 1);
    close(fd);
}

static void check_equal(chunk_store *cs, uint64_t id, uint64_t ver, const uint8_t *model,
                        uint64_t len)
{
    struct chunk_replica_info inf;
    ck_assert_int_eq(chunk_store_info(cs, id, &inf), 0);
    ck_assert_uint_eq(inf.length, len);
    uint8_t *buf = malloc(len + 1);
    ck_assert_int_eq(chunk_store_read(cs, id, ver, 0, buf, len + 1), (ssize_t)len);
    ck_assert_int_eq(memcmp(buf, model, len), 0);
    free(buf);
}

/* Random overwrites, extensions with gaps and truncations against a byte model; then the
 * same content after a reopen. */
START_TEST(test_random_ranges_match_model)
{
    make_root();
    char dir[DIRLEN];
    sub_dir(dir, "d0");
    chunk_store *cs = open_one(dir);
    const uint64_t id = 0xabc, MAXL = 3u * 1024 * 1024 + 12345;
    uint8_t *model = calloc(1, MAXL);
    uint8_t *data = malloc(MAXL);
    uint64_t len = 0;
    ck_assert_int_eq(chunk_store_begin_write(cs, id, 1, 0), 0);
    for (int op = 0; op < 300; op++) {
        uint64_t r = rnd() % 10;
        if (r < 8) {
            uint64_t off = rnd() % MAXL;
            uint64_t n = 1 + rnd() % (r < 4 ? 200000 : 3000);
            if (off + n > MAXL) n = MAXL - off;
            fill(data, n, rnd());
            ck_assert_int_eq(chunk_store_write(cs, id, 1, off, data, n), 0);
            memcpy(model + off, data, n);
            if (off + n > len) len = off + n;
        } else {
            uint64_t nl = rnd() % MAXL;
            ck_assert_int_eq(chunk_store_truncate(cs, id, 1, nl), 0);
            if (nl < len) memset(model + nl, 0, len - nl);
            len = nl;
        }
        if (op % 25 == 0) {
            ck_assert_int_eq(chunk_store_sync(cs, id, 1), 0);
            check_equal(cs, id, 1, model, len);
            /* a read at a random unaligned range */
            uint64_t off = len ? rnd() % len : 0;
            size_t n = (size_t)(rnd() % 300000);
            ssize_t got = chunk_store_read(cs, id, 1, off, data, n);
            size_t want = off + n > len ? (size_t)(len - off) : n;
            ck_assert_int_eq(got, (ssize_t)want);
            ck_assert_int_eq(memcmp(data, model + off, want), 0);
        }
    }
    ck_assert_int_eq(chunk_store_sync(cs, id, 1), 0);
    check_equal(cs, id, 1, model, len);
    chunk_store_close(cs);
    cs = open_one(dir);
    check_equal(cs, id, 1, model, len);
    ck_assert_int_eq(chunk_store_verify(cs, id, 0, CHUNK_MAX_SIZE), (ssize_t)len);
    chunk_store_close(cs);
    free(model);
    free(data);
    remove_root();
}
END_TEST

START_TEST(test_bad_arguments_change_nothing)
{
    make_root();
    char dir[DIRLEN];
    sub_dir(dir, "d0");
    chunk_store *cs = open_one(dir);
    uint8_t b[16] = {1};
    ck_assert_int_eq(chunk_store_begin_write(cs, 0, 1, 0), -EINVAL);
    ck_assert_int_eq(chunk_store_begin_write(cs, 5, 0, 0), -EINVAL);
    ck_assert_int_eq(chunk_store_begin_write(cs, 5, 2, 2), -EINVAL);
    ck_assert_int_eq(chunk_store_begin_write(cs, 5, 2, 1), -CFS_ESTALE_VER); /* absent */
    ck_assert_int_eq(chunk_store_write(cs, 5, 1, 0, b, 16), -ENOENT);
    ck_assert_int_eq(chunk_store_begin_write(cs, 5, 1, 0), 0);
    /* a second store (another chunkserver) on the same dir is refused */
    const char *same[1] = {dir};
    chunk_store *other = NULL;
    ck_assert_int_eq(chunk_store_open(same, 1, &other), -EBUSY);
    ck_assert_int_eq(chunk_store_write(cs, 5, 1, CHUNK_MAX_SIZE - 8, b, 16), -EINVAL);
    ck_assert_int_eq(chunk_store_write(cs, 5, 1, UINT64_MAX - 4, b, 16), -EINVAL);
    ck_assert_int_eq(chunk_store_write(cs, 5, 2, 0, b, 16), -CFS_ESTALE_VER);
    ck_assert_int_eq(chunk_store_truncate(cs, 5, 1, CHUNK_MAX_SIZE + 1ull), -EINVAL);
    ck_assert_int_eq(chunk_store_write(cs, 5, 1, CHUNK_MAX_SIZE - 16, b, 16), 0);
    struct chunk_replica_info inf;
    ck_assert_int_eq(chunk_store_info(cs, 5, &inf), 0);
    ck_assert_uint_eq(inf.length, CHUNK_MAX_SIZE);
    ck_assert_int_eq(chunk_store_read(cs, 5, 3, 0, b, 16), -CFS_ESTALE_VER);
    ck_assert_int_eq(chunk_store_read(cs, 5, 1, CHUNK_MAX_SIZE, b, 16), 0);
    /* the version rules of a write session */
    ck_assert_int_eq(chunk_store_begin_write(cs, 5, 1, 0), 0);               /* continue */
    ck_assert_int_eq(chunk_store_begin_write(cs, 5, 3, 2), -CFS_ESTALE_VER); /* wrong base */
    ck_assert_int_eq(chunk_store_begin_write(cs, 5, 2, 0), -CFS_ESTALE_VER); /* exists */
    ck_assert_int_eq(chunk_store_begin_write(cs, 5, 2, 1), 0);               /* bump */
    ck_assert_int_eq(chunk_store_info(cs, 5, &inf), 0);
    ck_assert_uint_eq(inf.version, 2);
    ck_assert_int_eq(chunk_store_delete(cs, 5, 1), -CFS_ESTALE_VER);
    ck_assert_int_eq(chunk_store_delete(cs, 5, 2), 0);
    ck_assert_int_eq(chunk_store_info(cs, 5, &inf), -ENOENT);
    ck_assert_int_eq(chunk_store_delete(cs, 5, 0), -ENOENT);
    chunk_store_close(cs);
    remove_root();
}
END_TEST

/* Flipping one data byte in the file makes reads of that block fail, moves the replica aside
 * and reports it. */
START_TEST(test_crc_mismatch_detected_on_read)
{
    char dir[DIRLEN], q[PATH_MAX], path[PATH_MAX];
    struct events ev = {.mu = PTHREAD_MUTEX_INITIALIZER};
    chunk_store *cs = open_watched(dir, q, &ev);
    size_t n = 300000;
    uint8_t *data = malloc(n), *back = malloc(n);
    fill(data, n, 7);
    ck_assert_int_eq(chunk_store_begin_write(cs, 77, 1, 0), 0);
    ck_assert_int_eq(chunk_store_write(cs, 77, 1, 0, data, n), 0);
    ck_assert_int_eq(chunk_store_sync(cs, 77, 1), 0);
    ck_assert_int_eq(chunk_store_path(cs, 77, path, sizeof path), 0);
    flip_byte(cs, 77, CHUNK_DATA_OFF + 3 * CHUNK_BLOCK_SIZE + 100, 0x40); /* block 3 */
    /* blocks before the bad one still read */
    ck_assert_int_eq(chunk_store_read(cs, 77, 1, 0, back, 3 * CHUNK_BLOCK_SIZE),
                     3 * CHUNK_BLOCK_SIZE);
    ck_assert_int_eq(memcmp(back, data, 3 * CHUNK_BLOCK_SIZE), 0);
    ck_assert_int_eq(count_files(q), 0);
    ck_assert_int_eq(chunk_store_read(cs, 77, 1, 3 * CHUNK_BLOCK_SIZE + 5, back, 10),
                     -CFS_ECORRUPT);
    ck_assert_int_eq(ev.corrupt, 1);
    ck_assert_uint_eq(ev.last_corrupt, 77);
    struct chunk_replica_info inf;
    ck_assert_int_eq(chunk_store_info(cs, 77, &inf), -ENOENT);
    ck_assert_int_eq(count_files(q), 1);
    ck_assert_int_eq(access(path, F_OK), -1);
    chunk_store_close(cs);
    free(data);
    free(back);
    remove_root();
}
END_TEST

/* A partial overwrite of a block whose old data is corrupt must not give it a fresh CRC. */
START_TEST(test_partial_write_does_not_launder_corruption)
{
    make_root();
    char dir[DIRLEN], path[PATH_MAX];
    sub_dir(dir, "d0");
    chunk_store *cs = open_one(dir);
    uint8_t data[100000];
    fill(data, sizeof data, 3);
    ck_assert_int_eq(chunk_store_begin_write(cs, 9, 1, 0), 0);
    ck_assert_int_eq(chunk_store_write(cs, 9, 1, 0, data, sizeof data), 0);
    ck_assert_int_eq(chunk_store_sync(cs, 9, 1), 0);
    ck_assert_int_eq(chunk_store_path(cs, 9, path, sizeof path), 0);
    int fd = open(path, O_RDWR);
    uint8_t z = 0xEE;
    ck_assert_int_eq(pwrite(fd, &z, 1, CHUNK_DATA_OFF + 10), 1);
    close(fd);
    ck_assert_int_eq(chunk_store_write(cs, 9, 1, 1000, data, 10), -CFS_ECORRUPT);
    struct chunk_replica_info inf;
    ck_assert_int_eq(chunk_store_info(cs, 9, &inf), -ENOENT);
    chunk_store_close(cs);
    remove_root();
}
END_TEST

static void write_chunk(chunk_store *cs, uint64_t id, uint64_t ver, size_t n, uint64_t seed)
{
    uint8_t *d = malloc(n);
    fill(d, n, seed);
    ck_assert_int_eq(chunk_store_begin_write(cs, id, ver, 0), 0);
    ck_assert_int_eq(chunk_store_write(cs, id, ver, 0, d, n), 0);
    ck_assert_int_eq(chunk_store_sync(cs, id, ver), 0);
    free(d);
}

static void expect_chunk(chunk_store *cs, uint64_t id, uint64_t ver, size_t n, uint64_t seed)
{
    uint8_t *d = malloc(n), *b = malloc(n + 1);
    fill(d, n, seed);
    struct chunk_replica_info inf;
    ck_assert_int_eq(chunk_store_info(cs, id, &inf), 0);
    ck_assert_uint_eq(inf.version, ver);
    ck_assert_int_eq(chunk_store_read(cs, id, ver, 0, b, n + 1), (ssize_t)n);
    ck_assert_int_eq(memcmp(b, d, n), 0);
    free(d);
    free(b);
}

/* Truncated files, bad headers and temp files are quarantined at start; the good ones stay;
 * an unsynced tail is cut off. */
START_TEST(test_torn_files_quarantined_at_start)
{
    make_root();
    char dir[DIRLEN], q[PATH_MAX], p2[PATH_MAX], p3[PATH_MAX], p4[PATH_MAX];
    sub_dir(dir, "d0");
    snprintf(q, sizeof q, "%s/quarantine", dir);
    chunk_store *cs = open_one(dir);
    write_chunk(cs, 1, 1, 200000, 1); /* stays good */
    write_chunk(cs, 2, 1, 200000, 2); /* truncated by "crash" */
    write_chunk(cs, 3, 1, 5000, 3);   /* bad header */
    write_chunk(cs, 4, 1, 70000, 4);  /* unsynced tail */
    ck_assert_int_eq(chunk_store_path(cs, 2, p2, sizeof p2), 0);
    ck_assert_int_eq(chunk_store_path(cs, 3, p3, sizeof p3), 0);
    ck_assert_int_eq(chunk_store_path(cs, 4, p4, sizeof p4), 0);
    chunk_store_close(cs);

    ck_assert_int_eq(truncate(p2, CHUNK_DATA_OFF + 200000 - 1000), 0);
    int fd = open(p3, O_RDWR);
    uint8_t junk[1024];
    memset(junk, 0x5a, sizeof junk);
    ck_assert_int_eq(pwrite(fd, junk, sizeof junk, 0), (ssize_t)sizeof junk);
    close(fd);
    fd = open(p4, O_RDWR);
    ck_assert_int_eq(pwrite(fd, junk, sizeof junk, CHUNK_DATA_OFF + 70000), (ssize_t)sizeof junk);
    close(fd);
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", p4);
    fd = open(tmp, O_CREAT | O_WRONLY, 0644);
    ck_assert_int_ge(fd, 0);
    close(fd);

    cs = open_one(dir);
    ck_assert_uint_eq(chunk_store_count(cs), 2);
    expect_chunk(cs, 1, 1, 200000, 1);
    expect_chunk(cs, 4, 1, 70000, 4);
    struct chunk_replica_info inf;
    ck_assert_int_eq(chunk_store_info(cs, 2, &inf), -ENOENT);
    ck_assert_int_eq(chunk_store_info(cs, 3, &inf), -ENOENT);
    ck_assert_int_eq(count_files(q), 3);
    struct stat st;
    ck_assert_int_eq(stat(p4, &st), 0);
    ck_assert_int_eq(st.st_size, CHUNK_DATA_OFF + 70000);
    /* an id can be written afresh after its bad replica went away */
    write_chunk(cs, 2, 5, 1000, 9);
    expect_chunk(cs, 2, 5, 1000, 9);
    chunk_store_close(cs);
    remove_root();
}
END_TEST

/* A version bump whose header write is torn leaves the old version with its data; a complete
 * one leaves the new version. */
START_TEST(test_version_bump_atomic)
{
    make_root();
    char dir[DIRLEN], path[PATH_MAX];
    sub_dir(dir, "d0");
    chunk_store *cs = open_one(dir);
    write_chunk(cs, 42, 1, 150000, 42);
    ck_assert_int_eq(chunk_store_set_version(cs, 42, 1, 2), 0);
    ck_assert_int_eq(chunk_store_set_version(cs, 42, 1, 3), -CFS_ESTALE_VER);
    expect_chunk(cs, 42, 2, 150000, 42);
    ck_assert_int_eq(chunk_store_path(cs, 42, path, sizeof path), 0);
    chunk_store_close(cs);

    cs = open_one(dir);
    expect_chunk(cs, 42, 2, 150000, 42);
    ck_assert_int_eq(chunk_store_set_version(cs, 42, 2, 3), 0);
    chunk_store_close(cs);

    /* Find the slot holding version 3 (the newest) and tear it, as a crash in mid-write. */
    int fd = open(path, O_RDWR);
    uint8_t slot[CHUNK_SLOT_SIZE];
    int torn = -1;
    for (int s = 0; s < 2; s++) {
        struct chunk_hdr h;
        ck_assert_int_eq(pread(fd, slot, sizeof slot, s * CHUNK_SLOT_SIZE), (ssize_t)sizeof slot);
        if (chunk_hdr_decode(slot, &h) == 0 && h.version == 3) torn = s;
    }
    ck_assert_int_ge(torn, 0);
    memset(slot + 20, 0xff, 12); /* half of the new slot written */
    ck_assert_int_eq(pwrite(fd, slot + 20, 12, torn * CHUNK_SLOT_SIZE + 20), 12);
    close(fd);
    cs = open_one(dir);
    expect_chunk(cs, 42, 2, 150000, 42);
    /* and a new bump after recovery works and survives */
    ck_assert_int_eq(chunk_store_set_version(cs, 42, 2, 4), 0);
    chunk_store_close(cs);
    cs = open_one(dir);
    expect_chunk(cs, 42, 4, 150000, 42);
    chunk_store_close(cs);
    remove_root();
}
END_TEST

/* Two data dirs: chunks in both are found; the same id on both keeps the newer version. */
START_TEST(test_two_dirs_and_duplicates)
{
    make_root();
    char d0[DIRLEN], d1[DIRLEN], path[PATH_MAX], dst[PATH_MAX + 32];
    sub_dir(d0, "d0");
    sub_dir(d1, "d1");
    const char *dirs[2] = {d0, d1};
    chunk_store *cs = NULL;
    ck_assert_int_eq(chunk_store_open(dirs, 2, &cs), 0);
    for (uint64_t id = 1; id <= 20; id++)
        write_chunk(cs, id, 1, 1000 + id, id);
    ck_assert_int_eq(chunk_store_set_version(cs, 7, 1, 2), 0);
    ck_assert_int_eq(chunk_store_path(cs, 7, path, sizeof path), 0);
    chunk_store_close(cs);
    /* an older copy of chunk 7 on the other disk */
    const char *other = strncmp(path, d0, strlen(d0)) == 0 ? d1 : d0;
    snprintf(dst, sizeof dst, "%s/chunks/07", other);
    mkdir(dst, 0755);
    snprintf(dst, sizeof dst, "%s/chunks/07/0000000000000007.chk", other);
    cs = NULL;
    {
        /* build it with a store over a scratch dir, then move the file in */
        char scratch[DIRLEN], sp[PATH_MAX];
        sub_dir(scratch, "scratch");
        chunk_store *s2 = open_one(scratch);
        write_chunk(s2, 7, 1, 500, 99);
        ck_assert_int_eq(chunk_store_path(s2, 7, sp, sizeof sp), 0);
        chunk_store_close(s2);
        ck_assert_int_eq(rename(sp, dst), 0);
    }
    ck_assert_int_eq(chunk_store_open(dirs, 2, &cs), 0);
    ck_assert_uint_eq(chunk_store_count(cs), 20);
    expect_chunk(cs, 7, 2, 1007, 7);
    for (uint64_t id = 1; id <= 20; id++)
        if (id != 7) expect_chunk(cs, id, 1, 1000 + id, id);
    struct chunk_replica_info *list;
    size_t n;
    ck_assert_int_eq(chunk_store_list(cs, &list, &n), 0);
    ck_assert_uint_eq(n, 20);
    free(list);
    uint64_t cap, used;
    ck_assert_int_eq(chunk_store_usage(cs, &cap, &used), 0);
    ck_assert_uint_gt(cap, 0);
    chunk_store_close(cs);
    remove_root();
}
END_TEST

/* A size-limited tmpfs: a write that does not fit returns -ENOSPC and loses nothing. */
START_TEST(test_disk_full_loses_nothing)
{
    make_root();
    char dir[DIRLEN];
    sub_dir(dir, "tmpfs");
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    /* A private mount namespace: the tmpfs vanishes with this (forked) test process even
     * when an assertion ends it early. */
    if (geteuid() != 0 || unshare(CLONE_NEWNS) != 0 ||
        mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("tmpfs", dir, "tmpfs", 0, "size=4m") != 0) {
        fprintf(stderr, "SKIP test_disk_full_loses_nothing: cannot mount a tmpfs (%s)\n",
                geteuid() != 0 ? "not root" : strerror(errno));
        remove_root();
        return;
    }
    chunk_store *cs = open_one(dir);
    const size_t A = 1u << 20;
    write_chunk(cs, 1, 1, A, 11);
    /* chunk 2 grows in 512 KiB steps until the disk is full */
    uint8_t *d = malloc(512 * 1024);
    ck_assert_int_eq(chunk_store_begin_write(cs, 2, 1, 0), 0);
    uint64_t len = 0;
    int rc = 0;
    for (int i = 0; i < 64 && rc == 0; i++) {
        fill(d, 512 * 1024, 100 + (uint64_t)i);
        rc = chunk_store_write(cs, 2, 1, len, d, 512 * 1024);
        if (rc == 0) {
            len += 512 * 1024;
            ck_assert_int_eq(chunk_store_sync(cs, 2, 1), 0);
        }
    }
    ck_assert_int_eq(rc, -ENOSPC);
    ck_assert_uint_gt(len, 0);
    struct chunk_replica_info inf;
    ck_assert_int_eq(chunk_store_info(cs, 2, &inf), 0);
    ck_assert_uint_eq(inf.length, len);
    /* a brand-new chunk on the full disk also fails cleanly or is created empty */
    expect_chunk(cs, 1, 1, A, 11);
    uint8_t *b = malloc(len);
    ck_assert_int_eq(chunk_store_read(cs, 2, 1, 0, b, len), (ssize_t)len);
    for (uint64_t i = 0; i < len / (512 * 1024); i++) {
        fill(d, 512 * 1024, 100 + i);
        ck_assert_int_eq(memcmp(b + i * 512 * 1024, d, 512 * 1024), 0);
    }
    chunk_store_close(cs);
    cs = open_one(dir);
    expect_chunk(cs, 1, 1, A, 11);
    ck_assert_int_eq(chunk_store_info(cs, 2, &inf), 0);
    ck_assert_uint_eq(inf.length, len);
    ck_assert_int_eq(chunk_store_verify(cs, 2, 0, CHUNK_MAX_SIZE), (ssize_t)len);
    /* space freed by a delete is usable again */
    ck_assert_int_eq(chunk_store_delete(cs, 1, 1), 0);
    fill(d, 512 * 1024, 100 + len / (512 * 1024));
    ck_assert_int_eq(chunk_store_write(cs, 2, 1, len, d, 512 * 1024), 0);
    chunk_store_close(cs);
    free(b);
    free(d);
    umount2(dir, MNT_DETACH);
    remove_root();
}
END_TEST

/* An import is invisible until it ends; one cut short by a crash is quarantined at start. */
START_TEST(test_import_invisible_until_done)
{
    make_root();
    char dir[DIRLEN];
    sub_dir(dir, "d0");
    chunk_store *cs = open_one(dir);
    struct events ev = {.mu = PTHREAD_MUTEX_INITIALIZER};
    chunk_store_set_listener(cs, on_event, &ev);
    uint8_t d[5000], b[5000];
    fill(d, sizeof d, 5);
    ck_assert_int_eq(chunk_store_import_begin(cs, 31, 4), 0);
    ck_assert_int_eq(chunk_store_import_begin(cs, 31, 4), -EEXIST);
    ck_assert_int_eq(chunk_store_write(cs, 31, 4, 0, d, sizeof d), 0);
    struct chunk_replica_info inf;
    ck_assert_int_eq(chunk_store_info(cs, 31, &inf), -ENOENT);
    ck_assert_int_eq(chunk_store_read(cs, 31, 4, 0, b, sizeof b), -ENOENT);
    ck_assert_int_eq(chunk_store_begin_write(cs, 31, 5, 4), -EBUSY);
    ck_assert_int_eq(ev.added, 0);
    ck_assert_int_eq(chunk_store_import_end(cs, 31, 4, true), 0);
    ck_assert_int_eq(ev.added, 1);
    ck_assert_int_eq(chunk_store_read(cs, 31, 4, 0, b, sizeof b), (ssize_t)sizeof b);
    ck_assert_int_eq(memcmp(b, d, sizeof d), 0);
    /* a failed import leaves nothing */
    ck_assert_int_eq(chunk_store_import_begin(cs, 32, 1), 0);
    ck_assert_int_eq(chunk_store_write(cs, 32, 1, 0, d, sizeof d), 0);
    ck_assert_int_eq(chunk_store_import_end(cs, 32, 1, false), 0);
    ck_assert_int_eq(chunk_store_info(cs, 32, &inf), -ENOENT);
    /* an import cut short by a crash */
    ck_assert_int_eq(chunk_store_import_begin(cs, 33, 1), 0);
    ck_assert_int_eq(chunk_store_write(cs, 33, 1, 0, d, sizeof d), 0);
    ck_assert_int_eq(chunk_store_sync(cs, 33, 1), 0);
    chunk_store_close(cs);
    cs = open_one(dir);
    ck_assert_uint_eq(chunk_store_count(cs), 1);
    ck_assert_int_eq(chunk_store_info(cs, 33, &inf), -ENOENT);
    ck_assert_int_eq(chunk_store_info(cs, 31, &inf), 0);
    chunk_store_close(cs);
    remove_root();
}
END_TEST

/* The scrubber finds a flipped byte nobody reads, quarantines that replica, reports it, and
 * leaves the healthy one alone. */
START_TEST(test_scrubber_finds_corruption)
{
    char dir[DIRLEN], q[PATH_MAX];
    struct events ev = {.mu = PTHREAD_MUTEX_INITIALIZER};
    chunk_store *cs = open_watched(dir, q, &ev);
    write_chunk(cs, 51, 1, 3u << 20, 51);
    write_chunk(cs, 52, 1, 1u << 20, 52);
    flip_byte(cs, 51, CHUNK_DATA_OFF + (2u << 20) + 99, 0x80);
    struct scrubber_opts so = {.store = cs, .rate_mib_s = 64, .pass_interval_ms = 50};
    scrubber *sc = NULL;
    ck_assert_int_eq(scrubber_start(&so, &sc), 0);
    struct scrubber_stats st = {0};
    for (int i = 0; i < 500 && (st.corrupt == 0 || st.passes < 2); i++) {
        usleep(20000);
        scrubber_get_stats(sc, &st);
    }
    scrubber_stop(sc);
    ck_assert_uint_eq(st.corrupt, 1);
    ck_assert_uint_ge(st.passes, 2);
    ck_assert_int_eq(ev.corrupt, 1);
    ck_assert_uint_eq(ev.last_corrupt, 51);
    struct chunk_replica_info inf;
    ck_assert_int_eq(chunk_store_info(cs, 51, &inf), -ENOENT);
    expect_chunk(cs, 52, 1, 1u << 20, 52);
    chunk_store_close(cs);
    remove_root();
}
END_TEST

/* A flipped byte in the current header slot is invisible to reads (they use the index) but
 * would roll the replica back to the older slot at the next start: a verify from offset 0
 * catches it, quarantines the replica and reports it; the intact replica stays. */
START_TEST(test_verify_finds_damaged_header)
{
    char dir[DIRLEN], q[PATH_MAX], path[PATH_MAX];
    struct events ev = {.mu = PTHREAD_MUTEX_INITIALIZER};
    chunk_store *cs = open_watched(dir, q, &ev);
    write_chunk(cs, 61, 1, 200000, 61);
    ck_assert_int_eq(chunk_store_set_version(cs, 61, 1, 2), 0);
    write_chunk(cs, 62, 1, 100000, 62);
    ck_assert_int_eq(chunk_store_verify(cs, 61, 0, CHUNK_MAX_SIZE), 200000);
    ck_assert_int_eq(chunk_store_path(cs, 61, path, sizeof path), 0);
    int fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    struct chunk_hdr h;
    ck_assert_int_eq(chunk_file_read_hdr(fd, &h), 0);
    ck_assert_uint_eq(h.version, 2);
    close(fd);
    flip_byte(cs, 61, (h.seq % 2) * CHUNK_SLOT_SIZE + 25, 0x01); /* inside the version field */
    /* Reads do not look at the header; the bytes are still right. */
    expect_chunk(cs, 61, 2, 200000, 61);
    ck_assert_int_eq(ev.corrupt, 0);
    ck_assert_int_eq(chunk_store_verify(cs, 61, 0, CHUNK_MAX_SIZE), -CFS_ECORRUPT);
    ck_assert_int_eq(ev.corrupt, 1);
    ck_assert_uint_eq(ev.last_corrupt, 61);
    struct chunk_replica_info inf;
    ck_assert_int_eq(chunk_store_info(cs, 61, &inf), -ENOENT);
    ck_assert_int_eq(count_files(q), 1);
    ck_assert_int_eq(chunk_store_verify(cs, 62, 0, CHUNK_MAX_SIZE), 100000);
    expect_chunk(cs, 62, 1, 100000, 62);
    chunk_store_close(cs);
    remove_root();
}
END_TEST

struct thr_arg {
    chunk_store *cs;
    uint64_t id;
    int failures;
};

static void *writer_thread(void *p)
{
    struct thr_arg *a = p;
    uint8_t d[70000], b[70000];
    if (chunk_store_begin_write(a->cs, a->id, 1, 0) != 0) {
        a->failures++;
        return NULL;
    }
    for (int i = 0; i < 40; i++) {
        fill(d, sizeof d, a->id * 1000 + (uint64_t)i);
        uint64_t off = (uint64_t)(i % 7) * 50000;
        if (chunk_store_write(a->cs, a->id, 1, off, d, sizeof d) != 0 ||
            chunk_store_read(a->cs, a->id, 1, off, b, sizeof b) != (ssize_t)sizeof b ||
            memcmp(b, d, sizeof d) != 0)
            a->failures++;
    }
    return NULL;
}

/* Parallel writers on distinct chunks plus one shared chunk: no errors, no torn data. */
START_TEST(test_concurrent_writers)
{
    make_root();
    char dir[DIRLEN];
    sub_dir(dir, "d0");
    chunk_store *cs = open_one(dir);
    pthread_t t[6];
    struct thr_arg a[6];
    for (int i = 0; i < 6; i++) {
        a[i] = (struct thr_arg){.cs = cs, .id = 100 + (uint64_t)i};
        pthread_create(&t[i], NULL, writer_thread, &a[i]);
    }
    for (int i = 0; i < 6; i++) {
        pthread_join(t[i], NULL);
        ck_assert_int_eq(a[i].failures, 0);
    }
    ck_assert_uint_eq(chunk_store_count(cs), 6);
    for (int i = 0; i < 6; i++)
        ck_assert_int_ge(chunk_store_verify(cs, 100 + (uint64_t)i, 0, CHUNK_MAX_SIZE), 1);
    chunk_store_close(cs);
    remove_root();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("chunk_store");
    TCase *tc = tcase_create("store");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_random_ranges_match_model);
    tcase_add_test(tc, test_bad_arguments_change_nothing);
    tcase_add_test(tc, test_crc_mismatch_detected_on_read);
    tcase_add_test(tc, test_partial_write_does_not_launder_corruption);
    tcase_add_test(tc, test_torn_files_quarantined_at_start);
    tcase_add_test(tc, test_version_bump_atomic);
    tcase_add_test(tc, test_two_dirs_and_duplicates);
    tcase_add_test(tc, test_disk_full_loses_nothing);
    tcase_add_test(tc, test_concurrent_writers);
    tcase_add_test(tc, test_import_invisible_until_done);
    tcase_add_test(tc, test_scrubber_finds_corruption);
    tcase_add_test(tc, test_verify_finds_damaged_header);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
