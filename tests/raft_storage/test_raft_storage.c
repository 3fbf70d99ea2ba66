/* Unit tests for the Raft WAL and snapshot files: round trips, torn tails, corruption in the
 * middle, suffix replacement, compaction, reset, and snapshot fallback. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "raft/raft_snapshot.h"
#include "raft/raft_wal.h"

#define REC_HDR 12
#define ENTRY_FIXED 20

static char g_root[256];

static void make_root(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(g_root, sizeof g_root, "%s/raft_storage.XXXXXX", t ? t : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(g_root));
}

static void rm_rf(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
            char p[1024];
            snprintf(p, sizeof p, "%s/%s", path, de->d_name);
            rm_rf(p);
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static void setup(void)
{
    make_root();
}

static void teardown(void)
{
    rm_rf(g_root);
}

static void wal_dir(char *buf, size_t len)
{
    snprintf(buf, len, "%s/wal", g_root);
}

/* Entry i has term 1 + i/10 and payload "entry-<i>" repeated to a length depending on i. */
static raft_entry mk_entry(uint64_t index, uint64_t term, char tag)
{
    raft_entry e = {.term = term, .index = index, .type = (uint32_t)(index % 3)};
    e.len = 8 + index % 37;
    e.data = malloc(e.len);
    for (size_t k = 0; k < e.len; k++)
        e.data[k] = (uint8_t)(tag + index + k);
    return e;
}

static void check_entry(const raft_entry *e, uint64_t index, uint64_t term, char tag)
{
    raft_entry want = mk_entry(index, term, tag);
    ck_assert_uint_eq(e->index, index);
    ck_assert_uint_eq(e->term, term);
    ck_assert_uint_eq(e->type, want.type);
    ck_assert_uint_eq(e->len, want.len);
    ck_assert_mem_eq(e->data, want.data, want.len);
    free(want.data);
}

/* Appends [from, to] in batches of `batch`, with a hard state after each batch, and syncs. */
static void append_range(raft_wal *w, uint64_t from, uint64_t to, uint64_t term, char tag,
                         size_t batch)
{
    for (uint64_t i = from; i <= to;) {
        raft_entry ents[64];
        size_t n = 0;
        while (n < batch && i <= to) {
            ents[n++] = mk_entry(i, term, tag);
            i++;
        }
        raft_hard_state hs = {.term = term, .vote = 2, .commit = i - 1};
        ck_assert_int_eq(raft_wal_append(w, ents, n, &hs), 0);
        for (size_t k = 0; k < n; k++)
            free(ents[k].data);
    }
    ck_assert_int_eq(raft_wal_sync(w), 0);
}

static int count_files(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name), s = strlen(suffix);
        if (l > s && !strcmp(de->d_name + l - s, suffix)) n++;
    }
    closedir(d);
    return n;
}

/* Path of the newest (last in name order) segment file. */
static void last_segment(const char *dir, char *out, size_t len)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    char best[256] = "";
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strstr(de->d_name, ".wal") && strcmp(de->d_name, best) > 0)
            snprintf(best, sizeof best, "%s", de->d_name);
    closedir(d);
    ck_assert(best[0]);
    snprintf(out, len, "%s/%s", dir, best);
}

static off_t file_size(const char *path)
{
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    return st.st_size;
}

static void flip_byte(const char *path, off_t off)
{
    int fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    uint8_t b;
    ck_assert_int_eq(pread(fd, &b, 1, off), 1);
    b ^= 0x5a;
    ck_assert_int_eq(pwrite(fd, &b, 1, off), 1);
    close(fd);
}

static void copy_file(const char *from, const char *to)
{
    int a = open(from, O_RDONLY), b = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert_int_ge(a, 0);
    ck_assert_int_ge(b, 0);
    char buf[65536];
    ssize_t k;
    while ((k = read(a, buf, sizeof buf)) > 0)
        ck_assert_int_eq(write(b, buf, (size_t)k), k);
    close(a);
    close(b);
}

START_TEST(wal_round_trip_across_segments)
{
    char dir[300];
    wal_dir(dir, sizeof dir);
    raft_wal *w;
    raft_wal_recovered rec;
    ck_assert_int_eq(raft_wal_open(dir, 2048, 0, &w, &rec), 0);
    ck_assert_uint_eq(rec.n_entries, 0);
    ck_assert(!rec.has_hard_state);
    raft_wal_recovered_free(&rec);
    append_range(w, 1, 300, 3, 'a', 7);
    ck_assert_uint_eq(raft_wal_first_index(w), 1);
    ck_assert_uint_eq(raft_wal_last_index(w), 300);
    raft_wal_close(w);
    ck_assert_int_gt(count_files(dir, ".wal"), 3); /* rotation happened */

    ck_assert_int_eq(raft_wal_open(dir, 2048, 0, &w, &rec), 0);
    ck_assert_uint_eq(rec.n_entries, 300);
    for (uint64_t i = 0; i < 300; i++)
        check_entry(&rec.entries[i], i + 1, 3, 'a');
    ck_assert(rec.has_hard_state);
    ck_assert_uint_eq(rec.hs.term, 3);
    ck_assert_uint_eq(rec.hs.vote, 2);
    ck_assert_uint_eq(rec.hs.commit, 300);
    ck_assert_uint_eq(rec.dropped_bytes, 0);
    raft_wal_recovered_free(&rec);
    /* Appending continues after the recovered end; a gap is refused. */
    raft_entry gap = mk_entry(302, 3, 'a');
    ck_assert_int_eq(raft_wal_append(w, &gap, 1, NULL), -EINVAL);
    free(gap.data);
    append_range(w, 301, 310, 4, 'b', 5);
    raft_wal_close(w);
    ck_assert_int_eq(raft_wal_open(dir, 2048, 0, &w, &rec), 0);
    ck_assert_uint_eq(rec.n_entries, 310);
    check_entry(&rec.entries[299], 300, 3, 'a');
    check_entry(&rec.entries[309], 310, 4, 'b');
    ck_assert_uint_eq(rec.hs.term, 4);
    raft_wal_recovered_free(&rec);
    raft_wal_close(w);
}
END_TEST

START_TEST(wal_hard_state_only)
{
    char dir[300];
    wal_dir(dir, sizeof dir);
    raft_wal *w;
    raft_wal_recovered rec;
    ck_assert_int_eq(raft_wal_open(dir, 0, 0, &w, &rec), 0);
    raft_wal_recovered_free(&rec);
    raft_hard_state hs = {.term = 7, .vote = 3, .commit = 0};
    ck_assert_int_eq(raft_wal_append(w, NULL, 0, &hs), 0);
    ck_assert_int_eq(raft_wal_sync(w), 0);
    raft_wal_close(w);
    ck_assert_int_eq(raft_wal_open(dir, 0, 0, &w, &rec), 0);
    ck_assert(rec.has_hard_state);
    ck_assert_uint_eq(rec.hs.term, 7);
    ck_assert_uint_eq(rec.hs.vote, 3);
    ck_assert_uint_eq(rec.n_entries, 0);
    raft_wal_recovered_free(&rec);
    raft_wal_close(w);
}
END_TEST

/* Cutting the last record at every byte offset of its length loses only that record. */
START_TEST(wal_torn_tail_every_offset)
{
    char dir[300], seg[600], saved[700];
    wal_dir(dir, sizeof dir);
    raft_wal *w;
    raft_wal_recovered rec;
    ck_assert_int_eq(raft_wal_open(dir, 0, 0, &w, &rec), 0);
    raft_wal_recovered_free(&rec);
    append_range(w, 1, 20, 2, 'c', 4);
    /* The last record: entry 21 alone (no hard state after it). */
    raft_entry last = mk_entry(21, 2, 'c');
    ck_assert_int_eq(raft_wal_append(w, &last, 1, NULL), 0);
    ck_assert_int_eq(raft_wal_sync(w), 0);
    raft_wal_close(w);
    size_t rec_len = REC_HDR + ENTRY_FIXED + last.len;
    free(last.data);
    last_segment(dir, seg, sizeof seg);
    snprintf(saved, sizeof saved, "%s/saved", g_root);
    copy_file(seg, saved);
    off_t full = file_size(seg);
    off_t start = full - (off_t)rec_len;
    for (size_t cut = 0; cut < rec_len; cut++) {
        copy_file(saved, seg);
        ck_assert_int_eq(truncate(seg, start + (off_t)cut), 0);
        ck_assert_int_eq(raft_wal_open(dir, 0, 0, &w, &rec), 0);
        ck_assert_uint_eq(rec.n_entries, 20);
        check_entry(&rec.entries[19], 20, 2, 'c');
        ck_assert_uint_eq(rec.hs.commit, 20);
        ck_assert_uint_eq(rec.dropped_bytes, cut);
        ck_assert_uint_eq(rec.dropped_records, cut ? 1 : 0);
        raft_wal_recovered_free(&rec);
        if (cut != 1 && cut != rec_len / 2 && cut != rec_len - 1) {
            raft_wal_close(w);
            continue;
        }
        /* The log is usable: entry 21 can be written again and survives a reopen. */
        append_range(w, 21, 21, 2, 'c', 1);
        raft_wal_close(w);
        ck_assert_int_eq(raft_wal_open(dir, 0, 0, &w, &rec), 0);
        ck_assert_uint_eq(rec.n_entries, 21);
        check_entry(&rec.entries[20], 21, 2, 'c');
        ck_assert_uint_eq(rec.dropped_bytes, 0);
        raft_wal_recovered_free(&rec);
        raft_wal_close(w);
    }
}
END_TEST

START_TEST(wal_corrupt_tail_truncated)
{
    char dir[300], seg[600];
    wal_dir(dir, sizeof dir);
    raft_wal *w;
    raft_wal_recovered rec;
    ck_assert_int_eq(raft_wal_open(dir, 0, 0, &w, &rec), 0);
    raft_wal_recovered_free(&rec);
    append_range(w, 1, 10, 1, 'd', 10);
    raft_entry last = mk_entry(11, 1, 'd');
    ck_assert_int_eq(raft_wal_append(w, &last, 1, NULL), 0);
    ck_assert_int_eq(raft_wal_sync(w), 0);
    raft_wal_close(w);
    free(last.data);
    last_segment(dir, seg, sizeof seg);
    flip_byte(seg, file_size(seg) - 3); /* inside entry 11's payload */
    ck_assert_int_eq(raft_wal_open(dir, 0, 0, &w, &rec), 0);
    ck_assert_uint_eq(rec.n_entries, 10);
    ck_assert_uint_eq(rec.dropped_records, 1);
    raft_wal_recovered_free(&rec);
    raft_wal_close(w);
}
END_TEST

START_TEST(wal_corrupt_middle_refuses)
{
    char dir[300], seg[600];
    wal_dir(dir, sizeof dir);
    raft_wal *w;
    raft_wal_recovered rec;
    ck_assert_int_eq(raft_wal_open(dir, 0, 0, &w, &rec), 0);
    raft_wal_recovered_free(&rec);
    append_range(w, 1, 30, 1, 'e', 3);
    raft_wal_close(w);
    last_segment(dir, seg, sizeof seg);
    /* A byte in the payload of an early record (valid records follow it). */
    flip_byte(seg, 200);
    ck_assert_int_eq(raft_wal_open(dir, 0, 0, &w, &rec), -EIO);
    ck_assert_ptr_null(rec.entries);
    /* Still refused the second time: nothing was "repaired" by the failed open. */
    ck_assert_int_eq(raft_wal_open(dir, 0, 0, &w, &rec), -EIO);
}
END_TEST

/* A middle record whose length field now points past the end of the file looks like a torn
 * tail on its own; the records after it must still make recovery refuse. */
START_TEST(wal_corrupt_length_in_middle_refuses)
{
    char dir[300], seg[600];
    wal_dir(dir, sizeof dir);
    raft_wal *w;
    raft_wal_recovered rec;
    ck_assert_int_eq(raft_wal_open(dir, 0, 0, &w, &rec), 0);
    raft_wal_recovered_free(&rec);
    append_range(w, 1, 30, 1, 'm', 30); /* one batch: entries 1..30, then a hard state */
    raft_wal_close(w);
    last_segment(dir, seg, sizeof seg);
    /* Entry 1's record starts at offset 0: set the top byte of its length. */
    flip_byte(seg, 3);
    ck_assert_int_eq(raft_wal_open(dir, 0, 0, &w, &rec), -EIO);
}
END_TEST

/* Every single-byte corruption of a log either is refused (-EIO) or, when it hits the last
 * record, loses exactly that record: recovery never returns different or fewer entries
 * silently. */
START_TEST(wal_any_byte_flip_is_refused_or_tail)
{
    char dir[300], seg[600], saved[700];
    wal_dir(dir, sizeof dir);
    raft_wal *w;
    raft_wal_recovered rec;
    ck_assert_int_eq(raft_wal_open(dir, 0, 0, &w, &rec), 0);
    raft_wal_recovered_free(&rec);
    append_range(w, 1, 24, 3, 'n', 5);
    raft_entry last = mk_entry(25, 3, 'n');
    ck_assert_int_eq(raft_wal_append(w, &last, 1, NULL), 0);
    ck_assert_int_eq(raft_wal_sync(w), 0);
    raft_wal_close(w);
    off_t tail_start = 0;
    last_segment(dir, seg, sizeof seg);
    off_t size = file_size(seg);
    tail_start = size - (off_t)(REC_HDR + ENTRY_FIXED + last.len);
    free(last.data);
    snprintf(saved, sizeof saved, "%s/saved", g_root);
    copy_file(seg, saved);
    int refused = 0, tails = 0;
    for (off_t at = 0; at < size; at += 4) {
        copy_file(saved, seg);
        flip_byte(seg, at);
        int rc = raft_wal_open(dir, 0, 0, &w, &rec);
        if (at < tail_start) {
            ck_assert_msg(rc == -EIO, "flip at %lld of %lld: rc %d, want -EIO", (long long)at,
                          (long long)size, rc);
            refused++;
            continue;
        }
        ck_assert_msg(rc == 0, "flip in the last record (at %lld): rc %d", (long long)at, rc);
        ck_assert_uint_eq(rec.n_entries, 24);
        for (uint64_t i = 0; i < 24; i++)
            check_entry(&rec.entries[i], i + 1, 3, 'n');
        raft_wal_recovered_free(&rec);
        raft_wal_close(w);
        tails++;
    }
    ck_assert_int_gt(refused, 80);
    ck_assert_int_gt(tails, 4);
}
END_TEST

START_TEST(wal_corrupt_older_segment_refuses)
{
    char dir[300], first[600];
    wal_dir(dir, sizeof dir);
    raft_wal *w;
    raft_wal_recovered rec;
    ck_assert_int_eq(raft_wal_open(dir, 1024, 0, &w, &rec), 0);
    raft_wal_recovered_free(&rec);
    append_range(w, 1, 100, 1, 'f', 5);
    raft_wal_close(w);
    /* The first segment's last byte: the tail of a segment that is not the last one. */
    DIR *d = opendir(dir);
    char best[256] = "~";
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strstr(de->d_name, ".wal") && strcmp(de->d_name, best) < 0)
            snprintf(best, sizeof best, "%s", de->d_name);
    closedir(d);
    snprintf(first, sizeof first, "%s/%s", dir, best);
    flip_byte(first, file_size(first) - 1);
    ck_assert_int_eq(raft_wal_open(dir, 1024, 0, &w, &rec), -EIO);
    /* A torn older segment (truncated) is refused too. */
    flip_byte(first, file_size(first) - 1);
    ck_assert_int_eq(truncate(first, file_size(first) - 5), 0);
    ck_assert_int_eq(raft_wal_open(dir, 1024, 0, &w, &rec), -EIO);
}
END_TEST

START_TEST(wal_conflicting_suffix_replaced)
{
    char dir[300];
    wal_dir(dir, sizeof dir);
    raft_wal *w;
    raft_wal_recovered rec;
    ck_assert_int_eq(raft_wal_open(dir, 1024, 0, &w, &rec), 0);
    raft_wal_recovered_free(&rec);
    append_range(w, 1, 60, 1, 'g', 6);
    append_range(w, 41, 45, 2, 'h', 5); /* replaces 41..60 */
    ck_assert_uint_eq(raft_wal_last_index(w), 45);
    append_range(w, 46, 50, 2, 'h', 2);
    raft_wal_close(w);
    ck_assert_int_eq(raft_wal_open(dir, 1024, 0, &w, &rec), 0);
    ck_assert_uint_eq(rec.n_entries, 50);
    check_entry(&rec.entries[39], 40, 1, 'g');
    check_entry(&rec.entries[40], 41, 2, 'h');
    check_entry(&rec.entries[49], 50, 2, 'h');
    ck_assert_uint_eq(rec.hs.term, 2);
    raft_wal_recovered_free(&rec);
    /* Replace from the very first entry. */
    append_range(w, 1, 3, 5, 'i', 3);
    raft_wal_close(w);
    ck_assert_int_eq(raft_wal_open(dir, 1024, 0, &w, &rec), 0);
    ck_assert_uint_eq(rec.n_entries, 3);
    check_entry(&rec.entries[2], 3, 5, 'i');
    raft_wal_recovered_free(&rec);
    raft_wal_close(w);
}
END_TEST

START_TEST(wal_compaction_drops_whole_segments)
{
    char dir[300];
    wal_dir(dir, sizeof dir);
    raft_wal *w;
    raft_wal_recovered rec;
    ck_assert_int_eq(raft_wal_open(dir, 1024, 0, &w, &rec), 0);
    raft_wal_recovered_free(&rec);
    append_range(w, 1, 200, 1, 'j', 4);
    int before = count_files(dir, ".wal");
    uint64_t bytes_before = raft_wal_bytes(w);
    ck_assert_int_eq(raft_wal_compact(w, 150), 0);
    ck_assert_int_lt(count_files(dir, ".wal"), before);
    ck_assert_uint_lt(raft_wal_bytes(w), bytes_before);
    uint64_t first = raft_wal_first_index(w);
    ck_assert_uint_gt(first, 1);
    ck_assert_uint_le(first, 151); /* nothing above the snapshot index is dropped */
    raft_wal_close(w);
    ck_assert_int_eq(raft_wal_open(dir, 1024, 150, &w, &rec), 0);
    ck_assert_uint_eq(rec.entries[0].index, first);
    ck_assert_uint_eq(rec.entries[rec.n_entries - 1].index, 200);
    ck_assert_uint_eq(rec.hs.commit, 200);
    raft_wal_recovered_free(&rec);
    raft_wal_close(w);
    /* Without the snapshot that covers the dropped prefix the log cannot be used. */
    ck_assert_int_eq(raft_wal_open(dir, 1024, 0, &w, &rec), -EIO);
}
END_TEST

START_TEST(wal_reset_after_snapshot)
{
    char dir[300];
    wal_dir(dir, sizeof dir);
    raft_wal *w;
    raft_wal_recovered rec;
    ck_assert_int_eq(raft_wal_open(dir, 1024, 0, &w, &rec), 0);
    raft_wal_recovered_free(&rec);
    append_range(w, 1, 50, 1, 'k', 5);
    raft_hard_state hs = {.term = 9, .vote = 1, .commit = 500};
    ck_assert_int_eq(raft_wal_reset(w, 501, &hs), 0);
    ck_assert_int_eq(count_files(dir, ".wal"), 1);
    ck_assert_uint_eq(raft_wal_last_index(w), 500);
    append_range(w, 501, 505, 9, 'l', 5);
    raft_wal_close(w);
    ck_assert_int_eq(raft_wal_open(dir, 1024, 500, &w, &rec), 0);
    ck_assert_uint_eq(rec.n_entries, 5);
    check_entry(&rec.entries[0], 501, 9, 'l');
    ck_assert_uint_eq(rec.hs.term, 9);
    raft_wal_recovered_free(&rec);
    raft_wal_close(w);
    ck_assert_int_eq(raft_wal_open(dir, 1024, 0, &w, &rec), -EIO);
}
END_TEST

/* ------------------------------------------------------------------ snapshots */

static raft_snapshot mk_snap(uint64_t index, uint64_t term, size_t len)
{
    raft_snapshot s = {.meta = {.index = index, .term = term}};
    s.meta.conf.n = 2;
    s.meta.conf.members[0].id = 1;
    snprintf(s.meta.conf.members[0].addr, RAFT_ADDR_MAX, "127.0.0.1:7001");
    s.meta.conf.members[1].id = 5;
    s.meta.conf.members[1].learner = true;
    snprintf(s.meta.conf.members[1].addr, RAFT_ADDR_MAX, "127.0.0.1:7005");
    s.len = len;
    s.data = malloc(len ? len : 1);
    for (size_t i = 0; i < len; i++)
        s.data[i] = (uint8_t)((i * 7 + index) % 13); /* compressible */
    return s;
}

static void snap_file(uint64_t term, uint64_t index, char *buf, size_t len)
{
    snprintf(buf, len, "%s/snap/snap-%016llx-%016llx", g_root, (unsigned long long)term,
             (unsigned long long)index);
}

START_TEST(snapshot_round_trip)
{
    char dir[300];
    snprintf(dir, sizeof dir, "%s/snap", g_root);
    raft_snapshot s = mk_snap(1000, 4, 300000), got;
    ck_assert_int_eq(raft_snapshot_save(dir, &s, 2), 0);
    ck_assert_int_eq(raft_snapshot_load(dir, &got), 0);
    ck_assert_uint_eq(got.meta.index, 1000);
    ck_assert_uint_eq(got.meta.term, 4);
    ck_assert_int_eq(got.meta.conf.n, 2);
    ck_assert_uint_eq(got.meta.conf.members[1].id, 5);
    ck_assert(got.meta.conf.members[1].learner);
    ck_assert_str_eq(got.meta.conf.members[1].addr, "127.0.0.1:7005");
    ck_assert_uint_eq(got.len, s.len);
    ck_assert_mem_eq(got.data, s.data, s.len);
    char path[400];
    snap_file(4, 1000, path, sizeof path);
    ck_assert_int_lt(file_size(path), 300000 / 4); /* compressed */
    raft_snapshot_release(&got);
    raft_snapshot_release(&s);
    /* An empty image is valid too. */
    s = mk_snap(1001, 4, 0);
    ck_assert_int_eq(raft_snapshot_save(dir, &s, 2), 0);
    ck_assert_int_eq(raft_snapshot_load(dir, &got), 0);
    ck_assert_uint_eq(got.meta.index, 1001);
    ck_assert_uint_eq(got.len, 0);
    raft_snapshot_release(&got);
    raft_snapshot_release(&s);
}
END_TEST

START_TEST(snapshot_keeps_newest_and_falls_back)
{
    char dir[300], path[400];
    snprintf(dir, sizeof dir, "%s/snap", g_root);
    for (uint64_t i = 1; i <= 3; i++) {
        raft_snapshot s = mk_snap(100 * i, i, 5000);
        ck_assert_int_eq(raft_snapshot_save(dir, &s, 2), 0);
        raft_snapshot_release(&s);
    }
    ck_assert_int_eq(count_files(dir, "-00000000000000c8") + count_files(dir, "-000000000000012c"),
                     2);
    ck_assert_int_eq(count_files(dir, "-0000000000000064"), 0); /* snap 100 deleted */
    ck_assert_uint_eq(raft_snapshot_oldest_index(dir), 200);
    /* Corrupt the newest: load falls back to the previous one. */
    snap_file(3, 300, path, sizeof path);
    flip_byte(path, file_size(path) - 10);
    raft_snapshot got;
    ck_assert_int_eq(raft_snapshot_load(dir, &got), 0);
    ck_assert_uint_eq(got.meta.index, 200);
    raft_snapshot ref = mk_snap(200, 2, 5000);
    ck_assert_mem_eq(got.data, ref.data, ref.len);
    raft_snapshot_release(&ref);
    raft_snapshot_release(&got);
    /* The corrupt file left the rotation: the next snapshot keeps 400 and the valid 200. */
    ck_assert_int_eq(count_files(dir, "-000000000000012c.corrupt"), 1);
    ck_assert_int_eq(count_files(dir, "-000000000000012c"), 0);
    raft_snapshot s4 = mk_snap(400, 4, 5000);
    ck_assert_int_eq(raft_snapshot_save(dir, &s4, 2), 0);
    raft_snapshot_release(&s4);
    ck_assert_uint_eq(raft_snapshot_oldest_index(dir), 200);
    /* Truncate both: no valid snapshot is a clean -EIO, and nothing is renamed. */
    snap_file(4, 400, path, sizeof path);
    ck_assert_int_eq(truncate(path, 40), 0);
    snap_file(2, 200, path, sizeof path);
    ck_assert_int_eq(truncate(path, 40), 0);
    ck_assert_int_eq(raft_snapshot_load(dir, &got), -EIO);
    ck_assert_ptr_null(got.data);
    ck_assert_uint_eq(got.len, 0);
    ck_assert_int_eq(raft_snapshot_load(dir, &got), -EIO);
    ck_assert_int_eq(count_files(dir, "-0000000000000190"), 1);
}
END_TEST

START_TEST(snapshot_header_tamper_detected)
{
    char dir[300], path[400], renamed[400];
    snprintf(dir, sizeof dir, "%s/snap", g_root);
    raft_snapshot s = mk_snap(50, 2, 1000), got;
    ck_assert_int_eq(raft_snapshot_save(dir, &s, 1), 0);
    raft_snapshot_release(&s);
    /* A file renamed to claim a newer index is refused (header names its own index). */
    snap_file(2, 50, path, sizeof path);
    snap_file(2, 60, renamed, sizeof renamed);
    ck_assert_int_eq(rename(path, renamed), 0);
    ck_assert_int_eq(raft_snapshot_load(dir, &got), -EIO);
    ck_assert_int_eq(rename(renamed, path), 0);
    flip_byte(path, 17); /* the index field */
    ck_assert_int_eq(raft_snapshot_load(dir, &got), -EIO);
}
END_TEST

START_TEST(snapshot_missing_dir_is_enoent)
{
    char dir[300];
    snprintf(dir, sizeof dir, "%s/nosuch", g_root);
    raft_snapshot got;
    ck_assert_int_eq(raft_snapshot_load(dir, &got), -ENOENT);
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    ck_assert_int_eq(raft_snapshot_load(dir, &got), -ENOENT);
    /* A leftover temp file from a crash mid-write is not a snapshot. */
    char tmp[400];
    snprintf(tmp, sizeof tmp, "%s/snap-0000000000000001-0000000000000009.tmp", dir);
    int fd = open(tmp, O_CREAT | O_WRONLY, 0644);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_int_eq(raft_snapshot_load(dir, &got), -ENOENT);
    ck_assert_uint_eq(raft_snapshot_oldest_index(dir), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("raft_storage");
    TCase *tc = tcase_create("wal");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, wal_round_trip_across_segments);
    tcase_add_test(tc, wal_hard_state_only);
    tcase_add_test(tc, wal_torn_tail_every_offset);
    tcase_add_test(tc, wal_corrupt_tail_truncated);
    tcase_add_test(tc, wal_corrupt_middle_refuses);
    tcase_add_test(tc, wal_corrupt_older_segment_refuses);
    tcase_add_test(tc, wal_corrupt_length_in_middle_refuses);
    tcase_add_test(tc, wal_any_byte_flip_is_refused_or_tail);
    tcase_add_test(tc, wal_conflicting_suffix_replaced);
    tcase_add_test(tc, wal_compaction_drops_whole_segments);
    tcase_add_test(tc, wal_reset_after_snapshot);
    suite_add_tcase(s, tc);
    TCase *ts = tcase_create("snapshot");
    tcase_add_checked_fixture(ts, setup, teardown);
    tcase_add_test(ts, snapshot_round_trip);
    tcase_add_test(ts, snapshot_keeps_newest_and_falls_back);
    tcase_add_test(ts, snapshot_header_tamper_detected);
    tcase_add_test(ts, snapshot_missing_dir_is_enoent);
    suite_add_tcase(s, ts);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
