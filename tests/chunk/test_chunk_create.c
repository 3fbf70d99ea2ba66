/* Creating a replica: a new replica lives as <id>.chk.tmp, unsynced, until its first sync
 * publishes it (fdatasync, rename, directory fsync). A "crash" (closing the store without any
 * further step, then opening it again) after each step must leave the chunk either absent or
 * complete and valid, never present with other content. Also: write sessions keep the file
 * open, and a session outlives neither a delete nor a quarantine. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chunkserver/chunk_file.h"
#include "chunkserver/chunk_store.h"
#include "common/errors.h"

static char g_base[512]; /* made by the parent before the tests fork; removed after all */
static char g_root[768]; /* one test's root, inside g_base */
static char g_dir[1024];

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static chunk_store *open_store(void)
{
    const char *dirs[1] = {g_dir};
    chunk_store *cs = NULL;
    ck_assert_int_eq(chunk_store_open(dirs, 1, &cs), 0);
    return cs;
}

static chunk_store *fresh_store(void)
{
    snprintf(g_root, sizeof g_root, "%s/t_XXXXXX", g_base);
    ck_assert_ptr_nonnull(mkdtemp(g_root));
    snprintf(g_dir, sizeof g_dir, "%s/d0", g_root);
    return open_store();
}

static void remove_root(void)
{
    nftw(g_root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* Files in <dir>/quarantine whose name contains `part`. */
static int quarantined(const char *part)
{
    char q[PATH_MAX];
    snprintf(q, sizeof q, "%s/quarantine", g_dir);
    DIR *d = opendir(q);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.' && strstr(de->d_name, part)) n++;
    closedir(d);
    return n;
}

/* "<dir>/chunks/<xx>/<id>.chk" (the published name). */
static void final_path(uint64_t id, char *buf, size_t len)
{
    snprintf(buf, len, "%s/chunks/%02x/%016llx.chk", g_dir, (unsigned)(id & 0xff),
             (unsigned long long)id);
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)((seed + i) * 2654435761u >> 11);
}

static void expect_content(chunk_store *cs, uint64_t id, uint64_t ver, const uint8_t *want,
                           size_t n)
{
    struct chunk_replica_info inf;
    ck_assert_int_eq(chunk_store_info(cs, id, &inf), 0);
    ck_assert_uint_eq(inf.version, ver);
    ck_assert_uint_eq(inf.length, n);
    uint8_t *got = malloc(n + 1);
    ck_assert_int_eq(chunk_store_read(cs, id, ver, 0, got, n + 1), (ssize_t)n);
    ck_assert_int_eq(memcmp(got, want, n), 0);
    ck_assert_int_eq(chunk_store_verify(cs, id, 0, CHUNK_MAX_SIZE), (ssize_t)n);
    free(got);
}

static void expect_absent(chunk_store *cs, uint64_t id)
{
    struct chunk_replica_info inf;
    uint8_t b[16];
    char path[PATH_MAX];
    ck_assert_int_eq(chunk_store_info(cs, id, &inf), -ENOENT);
    ck_assert_int_eq(chunk_store_read(cs, id, 0, 0, b, sizeof b), -ENOENT);
    final_path(id, path, sizeof path);
    ck_assert_int_eq(access(path, F_OK), -1);
    ck_assert_uint_eq(chunk_store_count(cs), 0);
}

/* One whole write stream creating a chunk: begin, write, sync, end. */
static void write_stream(chunk_store *cs, uint64_t id, uint64_t ver, const uint8_t *data, size_t n)
{
    ck_assert_int_eq(chunk_store_begin_write(cs, id, ver, 0), 0);
    ck_assert_int_eq(chunk_store_write(cs, id, ver, 0, data, n), 0);
    ck_assert_int_eq(chunk_store_sync(cs, id, ver), 0);
    ck_assert_int_eq(chunk_store_end_write(cs, id), 0);
}

/* The steps of a write stream creating a chunk; a crash after `steps` of them. */
enum {
    STEP_BEGIN = 1,
    STEP_WRITE,
    STEP_WRITE2,
    STEP_END,
    STEP_SYNC,
    STEP_MORE,
    NSTEPS = STEP_MORE
};

START_TEST(test_crash_after_each_step)
{
    const int steps = _i;
    const uint64_t id = 0x1234, ver = 3;
    const size_t n1 = 4096, n2 = 200000, extra = 5000;
    uint8_t *data = malloc(n1 + n2 + extra);
    fill(data, n1 + n2 + extra, (unsigned)steps);
    chunk_store *cs = fresh_store();
    if (steps >= STEP_BEGIN) ck_assert_int_eq(chunk_store_begin_write(cs, id, ver, 0), 0);
    if (steps >= STEP_WRITE) ck_assert_int_eq(chunk_store_write(cs, id, ver, 0, data, n1), 0);
    if (steps >= STEP_WRITE2)
        ck_assert_int_eq(chunk_store_write(cs, id, ver, n1, data + n1, n2), 0);
    if (steps >= STEP_SYNC) ck_assert_int_eq(chunk_store_sync(cs, id, ver), 0);
    if (steps >= STEP_END) ck_assert_int_eq(chunk_store_end_write(cs, id), 0);
    if (steps >= STEP_MORE) {
        /* a later stream extends it without a sync: only the synced part survives */
        ck_assert_int_eq(chunk_store_begin_write(cs, id, ver, 0), 0);
        ck_assert_int_eq(chunk_store_write(cs, id, ver, n1 + n2, data + n1 + n2, extra), 0);
    }
    chunk_store_close(cs); /* the crash: nothing after the last step reaches the disk */
    cs = open_store();
    if (steps >= STEP_SYNC) {
        expect_content(cs, id, ver, data, n1 + n2);
        ck_assert_int_eq(quarantined(".tmp"), 0);
    } else {
        expect_absent(cs, id);
        /* the temporary file is set aside, never taken */
        ck_assert_int_eq(quarantined(".chk.tmp.partial"), steps >= STEP_BEGIN ? 1 : 0);
    }
    /* the id can be created again either way (a new stream after the crash) */
    if (steps < STEP_SYNC) {
        write_stream(cs, id, ver, data, n1);
        expect_content(cs, id, ver, data, n1);
    }
    chunk_store_close(cs);
    free(data);
    remove_root();
}
END_TEST

/* The one state a crash can leave that the steps above cannot reach in one process: the
 * content synced but the rename not durable. The synced temp file must not be taken. */
START_TEST(test_synced_but_unrenamed_is_not_taken)
{
    const uint64_t id = 0x4501;
    uint8_t data[70000];
    fill(data, sizeof data, 9);
    chunk_store *cs = fresh_store();
    write_stream(cs, id, 1, data, sizeof data);
    chunk_store_close(cs);
    char path[PATH_MAX], tmp[PATH_MAX + 8];
    final_path(id, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    ck_assert_int_eq(rename(path, tmp), 0);
    cs = open_store();
    expect_absent(cs, id);
    ck_assert_int_eq(quarantined(".chk.tmp.partial"), 1);
    chunk_store_close(cs);
    remove_root();
}
END_TEST

/* Before its first sync a replica has only its temporary name (and reads in this process see
 * what was written); the sync gives it its real name. */
START_TEST(test_names_before_and_after_sync)
{
    const uint64_t id = 0x77aa;
    uint8_t data[4096];
    fill(data, sizeof data, 1);
    chunk_store *cs = fresh_store();
    char path[PATH_MAX], fin[PATH_MAX];
    final_path(id, fin, sizeof fin);
    ck_assert_int_eq(chunk_store_begin_write(cs, id, 1, 0), 0);
    ck_assert_int_eq(chunk_store_write(cs, id, 1, 0, data, sizeof data), 0);
    ck_assert_int_eq(chunk_store_path(cs, id, path, sizeof path), 0);
    ck_assert_str_eq(path + strlen(path) - 8, ".chk.tmp");
    ck_assert_int_eq(access(path, F_OK), 0);
    ck_assert_int_eq(access(fin, F_OK), -1);
    uint8_t back[sizeof data];
    ck_assert_int_eq(chunk_store_read(cs, id, 1, 0, back, sizeof back), (ssize_t)sizeof back);
    ck_assert_int_eq(memcmp(back, data, sizeof data), 0);
    ck_assert_int_eq(chunk_store_sync(cs, id, 1), 0);
    ck_assert_int_eq(chunk_store_path(cs, id, path, sizeof path), 0);
    ck_assert_str_eq(path, fin);
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", fin);
    ck_assert_int_eq(access(tmp, F_OK), -1);
    ck_assert_int_eq(access(fin, F_OK), 0);
    ck_assert_int_eq(chunk_store_end_write(cs, id), 0);
    chunk_store_close(cs);
    remove_root();
}
END_TEST

/* A version bump, a truncate or an import's end also make a fresh replica durable under its
 * real name. */
START_TEST(test_other_durable_steps_publish)
{
    uint8_t data[10000];
    fill(data, sizeof data, 4);
    chunk_store *cs = fresh_store();
    /* bump v1 -> v2 before any sync: durable with what was written */
    ck_assert_int_eq(chunk_store_begin_write(cs, 0x10, 1, 0), 0);
    ck_assert_int_eq(chunk_store_write(cs, 0x10, 1, 0, data, sizeof data), 0);
    ck_assert_int_eq(chunk_store_begin_write(cs, 0x10, 2, 1), 0);
    ck_assert_int_eq(chunk_store_end_write(cs, 0x10), 0);
    ck_assert_int_eq(chunk_store_end_write(cs, 0x10), 0);
    /* truncate to a shorter length */
    ck_assert_int_eq(chunk_store_begin_write(cs, 0x11, 1, 0), 0);
    ck_assert_int_eq(chunk_store_write(cs, 0x11, 1, 0, data, sizeof data), 0);
    ck_assert_int_eq(chunk_store_truncate(cs, 0x11, 1, 3000), 0);
    ck_assert_int_eq(chunk_store_end_write(cs, 0x11), 0);
    /* truncate to the same length */
    ck_assert_int_eq(chunk_store_begin_write(cs, 0x12, 1, 0), 0);
    ck_assert_int_eq(chunk_store_write(cs, 0x12, 1, 0, data, sizeof data), 0);
    ck_assert_int_eq(chunk_store_truncate(cs, 0x12, 1, sizeof data), 0);
    ck_assert_int_eq(chunk_store_end_write(cs, 0x12), 0);
    /* an import that completes, and one that crashes before its end */
    ck_assert_int_eq(chunk_store_import_begin(cs, 0x13, 5), 0);
    ck_assert_int_eq(chunk_store_write(cs, 0x13, 5, 0, data, sizeof data), 0);
    ck_assert_int_eq(chunk_store_import_end(cs, 0x13, 5, true), 0);
    ck_assert_int_eq(chunk_store_import_begin(cs, 0x14, 5), 0);
    ck_assert_int_eq(chunk_store_write(cs, 0x14, 5, 0, data, sizeof data), 0);
    chunk_store_close(cs);
    cs = open_store();
    expect_content(cs, 0x10, 2, data, sizeof data);
    expect_content(cs, 0x11, 1, data, 3000);
    expect_content(cs, 0x12, 1, data, sizeof data);
    expect_content(cs, 0x13, 5, data, sizeof data);
    struct chunk_replica_info inf;
    ck_assert_int_eq(chunk_store_info(cs, 0x14, &inf), -ENOENT);
    ck_assert_uint_eq(chunk_store_count(cs), 4);
    ck_assert_int_eq(quarantined(".chk.tmp.partial"), 1);
    chunk_store_close(cs);
    remove_root();
}
END_TEST

/* An unsynced append into a synced replica's partial last block rewrites that block's CRC;
 * after a crash the synced part is kept when the CRC matches the data up to the file's end,
 * and the replica is set aside when the tail does not match (nothing proves the rest). */
START_TEST(test_unsynced_append_into_last_block)
{
    uint8_t data[100000];
    fill(data, sizeof data, 6);
    const size_t synced = 70000; /* block 1 partial */
    for (int damage = 0; damage < 2; damage++) {
        chunk_store *cs = fresh_store();
        ck_assert_int_eq(chunk_store_begin_write(cs, 0x51, 1, 0), 0);
        ck_assert_int_eq(chunk_store_write(cs, 0x51, 1, 0, data, synced), 0);
        ck_assert_int_eq(chunk_store_sync(cs, 0x51, 1), 0);
        ck_assert_int_eq(chunk_store_write(cs, 0x51, 1, synced, data + synced, 1000), 0);
        char path[PATH_MAX];
        ck_assert_int_eq(chunk_store_path(cs, 0x51, path, sizeof path), 0);
        chunk_store_close(cs);
        if (damage) {
            int fd = open(path, O_RDWR);
            ck_assert_int_ge(fd, 0);
            uint8_t z = (uint8_t)~data[synced + 10];
            ck_assert_int_eq(pwrite(fd, &z, 1, CHUNK_DATA_OFF + synced + 10), 1);
            close(fd);
        }
        cs = open_store();
        if (damage) {
            expect_absent(cs, 0x51);
            ck_assert_int_eq(quarantined(".chk.crc"), 1);
        } else {
            expect_content(cs, 0x51, 1, data, synced);
            chunk_store_close(cs);
            cs = open_store(); /* the repair itself is on disk */
            expect_content(cs, 0x51, 1, data, synced);
        }
        chunk_store_close(cs);
        remove_root();
    }
}
END_TEST

/* Sessions: the file stays usable across sessions (after the last end it is reopened by
 * name); a delete during a session ends it for everybody; an aborted import leaves nothing. */
START_TEST(test_write_sessions)
{
    uint8_t data[9000];
    fill(data, sizeof data, 2);
    chunk_store *cs = fresh_store();
    const uint64_t id = 0x3003;
    ck_assert_int_eq(chunk_store_begin_write(cs, id, 1, 0), 0);
    ck_assert_int_eq(chunk_store_begin_write(cs, id, 1, 0), 0); /* a second stream */
    ck_assert_int_eq(chunk_store_write(cs, id, 1, 0, data, 3000), 0);
    ck_assert_int_eq(chunk_store_end_write(cs, id), 0);
    ck_assert_int_eq(chunk_store_write(cs, id, 1, 3000, data + 3000, 3000), 0);
    ck_assert_int_eq(chunk_store_end_write(cs, id), 0);
    ck_assert_int_eq(chunk_store_end_write(cs, id), 0); /* no session left: no-op */
    /* no session open: writes and the sync find the (still temporary) file by name */
    ck_assert_int_eq(chunk_store_write(cs, id, 1, 6000, data + 6000, 3000), 0);
    ck_assert_int_eq(chunk_store_sync(cs, id, 1), 0);
    expect_content(cs, id, 1, data, sizeof data);
    /* a delete in the middle of a session */
    ck_assert_int_eq(chunk_store_begin_write(cs, 0x3004, 1, 0), 0);
    ck_assert_int_eq(chunk_store_write(cs, 0x3004, 1, 0, data, 100), 0);
    ck_assert_int_eq(chunk_store_delete(cs, 0x3004, 1), 0);
    ck_assert_int_eq(chunk_store_write(cs, 0x3004, 1, 100, data, 100), -ENOENT);
    ck_assert_int_eq(chunk_store_sync(cs, 0x3004, 1), -ENOENT);
    ck_assert_int_eq(chunk_store_end_write(cs, 0x3004), -ENOENT);
    /* a failed import removes its temporary file */
    ck_assert_int_eq(chunk_store_import_begin(cs, 0x3005, 2), 0);
    ck_assert_int_eq(chunk_store_write(cs, 0x3005, 2, 0, data, 100), 0);
    ck_assert_int_eq(chunk_store_import_end(cs, 0x3005, 2, false), 0);
    ck_assert_uint_eq(chunk_store_count(cs), 1);
    chunk_store_close(cs);
    cs = open_store();
    expect_content(cs, id, 1, data, sizeof data);
    ck_assert_uint_eq(chunk_store_count(cs), 1);
    ck_assert_int_eq(quarantined(".tmp"), 0);
    chunk_store_close(cs);
    remove_root();
}
END_TEST

/* Unchecked fixture (runs in the parent): a failed test leaves nothing behind either. */
static void make_base(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(g_base, sizeof g_base, "%s/cfs_create_XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(g_base)) {
        perror("mkdtemp");
        exit(1);
    }
}

static void remove_base(void)
{
    nftw(g_base, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
    Suite *s = suite_create("chunk_create");
    TCase *tc = tcase_create("create");
    tcase_set_timeout(tc, 30);
    tcase_add_unchecked_fixture(tc, make_base, remove_base);
    tcase_add_loop_test(tc, test_crash_after_each_step, 0, NSTEPS + 1);
    tcase_add_test(tc, test_synced_but_unrenamed_is_not_taken);
    tcase_add_test(tc, test_names_before_and_after_sync);
    tcase_add_test(tc, test_other_durable_steps_publish);
    tcase_add_test(tc, test_unsynced_append_into_last_block);
    tcase_add_test(tc, test_write_sessions);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
