/* dir_cache: listings answer lookups (positive and negative) within entry_ttl, changes keep
 * them exact, races with changes keep stale data out, attributes expire and are forgotten,
 * the size cap holds. Times are plain nanosecond numbers. */
#include "fuse/dir_cache.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SEC 1000000000ULL
#define T0 (100 * SEC)

static cfs_attr mk(uint64_t ino, uint32_t type, uint64_t size, uint32_t nlink)
{
    cfs_attr a;
    memset(&a, 0, sizeof a);
    a.ino = ino;
    a.mode = type | 0644;
    a.size = size;
    a.nlink = nlink;
    return a;
}

static cfs_dirent ent(const char *name, uint64_t ino, uint32_t type, uint64_t size)
{
    cfs_dirent e;
    memset(&e, 0, sizeof e);
    e.name = (char *)name;
    e.ino = ino;
    e.mode = type | 0644;
    e.has_attr = true;
    e.attr = mk(ino, type, size, type == S_IFDIR ? 2 : 1);
    return e;
}

/* Directory 1 holds a (file 10, 100 bytes), b (file 11), sub (dir 12). */
static dir_cache *with_listing(void)
{
    dir_cache *c = dir_cache_new(SEC, SEC, 100);
    ck_assert_ptr_nonnull(c);
    cfs_dirent e[3] = {ent("a", 10, S_IFREG, 100), ent("b", 11, S_IFREG, 5),
                       ent("sub", 12, S_IFDIR, 0)};
    uint64_t t = dir_cache_fetch_begin(c);
    ck_assert_int_eq(dir_cache_fetch_install(c, t, 1, e, 3, T0), 0);
    ck_assert_uint_eq(dir_cache_names(c), 3);
    return c;
}

START_TEST(lookup_hits_negatives_and_expiry)
{
    dir_cache *c = with_listing();
    cfs_attr a;
    ck_assert_int_eq(dir_cache_lookup(c, 1, "a", T0 + 1, &a, NULL), DC_HIT);
    ck_assert_uint_eq(a.ino, 10);
    ck_assert_uint_eq(a.size, 100);
    ck_assert_int_eq(dir_cache_lookup(c, 1, "nothere", T0 + 1, &a, NULL), DC_ABSENT);
    /* The answer is as fresh as the listing: the kernel may keep it for what is left. */
    uint64_t left = 0;
    ck_assert_int_eq(dir_cache_lookup(c, 1, "b", T0 + SEC / 4, &a, &left), DC_HIT);
    ck_assert_uint_eq(left, SEC - SEC / 4);
    ck_assert(dir_cache_getattr(c, 12, T0 + SEC / 2, &a, &left));
    ck_assert_uint_eq(left, SEC / 2);
    /* Another directory is not known. */
    ck_assert_int_eq(dir_cache_lookup(c, 2, "a", T0 + 1, &a, NULL), DC_MISS);
    /* Just before entry_ttl still answers; at entry_ttl the listing is gone. */
    ck_assert_int_eq(dir_cache_lookup(c, 1, "nothere", T0 + SEC - 1, &a, NULL), DC_ABSENT);
    ck_assert_int_eq(dir_cache_lookup(c, 1, "nothere", T0 + SEC, &a, NULL), DC_MISS);
    ck_assert_int_eq(dir_cache_lookup(c, 1, "a", T0 + SEC, &a, NULL), DC_MISS);
    ck_assert_uint_eq(dir_cache_names(c), 0);
    dir_cache_free(c);
}
END_TEST

START_TEST(second_miss_asks_for_fetch)
{
    dir_cache *c = dir_cache_new(SEC, SEC, 100);
    ck_assert(!dir_cache_note_miss(c, 1, T0));
    ck_assert(dir_cache_note_miss(c, 1, T0 + 10));
    /* Counting starts again after a fetch was asked for, and misses further apart than
     * entry_ttl do not add up. */
    ck_assert(!dir_cache_note_miss(c, 1, T0 + 20));
    ck_assert(!dir_cache_note_miss(c, 1, T0 + 20 + SEC));
    ck_assert(dir_cache_note_miss(c, 1, T0 + 30 + SEC));
    /* A failed (or too large) fetch is not tried again within entry_ttl. */
    dir_cache_fetch_failed(c, 1, T0 + 2 * SEC);
    ck_assert(!dir_cache_note_miss(c, 1, T0 + 2 * SEC + 1));
    ck_assert(!dir_cache_note_miss(c, 1, T0 + 2 * SEC + 2));
    ck_assert(!dir_cache_note_miss(c, 1, T0 + 3 * SEC));
    ck_assert(dir_cache_note_miss(c, 1, T0 + 3 * SEC + 1));
    dir_cache_free(c);
}
END_TEST

START_TEST(changes_keep_listing_exact)
{
    dir_cache *c = with_listing();
    cfs_attr a, p = mk(1, S_IFDIR, 0, 4);
    /* create */
    uint64_t t = dir_cache_begin(c);
    cfs_attr n = mk(20, S_IFREG, 0, 1);
    dir_cache_set_entry(c, t, 1, "new", &n, T0 + 1);
    dir_cache_set_attr(c, t, &p, T0 + 1);
    dir_cache_end(c, t);
    ck_assert_int_eq(dir_cache_lookup(c, 1, "new", T0 + 2, &a, NULL), DC_HIT);
    ck_assert_uint_eq(a.ino, 20);
    ck_assert(dir_cache_getattr(c, 1, T0 + 2, &a, NULL));
    ck_assert_uint_eq(a.nlink, 4);
    /* unlink */
    t = dir_cache_begin(c);
    dir_cache_remove_entry(c, 1, "a");
    dir_cache_end(c, t);
    ck_assert_int_eq(dir_cache_lookup(c, 1, "a", T0 + 3, &a, NULL), DC_ABSENT);
    /* rename within the directory over an existing name */
    t = dir_cache_begin(c);
    dir_cache_rename(c, 1, "new", 1, "b", false);
    dir_cache_end(c, t);
    ck_assert_int_eq(dir_cache_lookup(c, 1, "new", T0 + 4, &a, NULL), DC_ABSENT);
    ck_assert_uint_eq(dir_cache_entry_ino(c, 1, "b"), 20);
    /* the moved inode's attributes (ctime) are not known any more */
    ck_assert_int_eq(dir_cache_lookup(c, 1, "b", T0 + 4, &a, NULL), DC_MISS);
    ck_assert_uint_eq(dir_cache_names(c), 2);
    dir_cache_free(c);
}
END_TEST

START_TEST(rename_exchange_and_across)
{
    dir_cache *c = with_listing();
    cfs_attr a;
    /* Listing of directory 12 (sub) holds x (30). */
    cfs_dirent e[1] = {ent("x", 30, S_IFREG, 7)};
    uint64_t t = dir_cache_fetch_begin(c);
    ck_assert_int_eq(dir_cache_fetch_install(c, t, 12, e, 1, T0), 0);
    t = dir_cache_begin(c);
    dir_cache_rename(c, 1, "a", 12, "x", true);
    dir_cache_end(c, t);
    ck_assert_uint_eq(dir_cache_entry_ino(c, 1, "a"), 30);
    ck_assert_uint_eq(dir_cache_entry_ino(c, 12, "x"), 10);
    ck_assert_int_eq(dir_cache_lookup(c, 1, "a", T0 + 1, &a, NULL), DC_MISS);
    /* b untouched keeps its attributes */
    ck_assert_int_eq(dir_cache_lookup(c, 1, "b", T0 + 1, &a, NULL), DC_HIT);
    /* move across directories */
    t = dir_cache_begin(c);
    dir_cache_rename(c, 1, "b", 12, "y", false);
    dir_cache_end(c, t);
    ck_assert_int_eq(dir_cache_lookup(c, 1, "b", T0 + 1, &a, NULL), DC_ABSENT);
    ck_assert_uint_eq(dir_cache_entry_ino(c, 12, "y"), 11);
    /* from a directory whose listing is not cached: the destination cannot know the inode,
     * its listing goes, and all attributes are forgotten */
    t = dir_cache_begin(c);
    dir_cache_rename(c, 99, "z", 12, "w", false);
    dir_cache_end(c, t);
    ck_assert_int_eq(dir_cache_lookup(c, 12, "w", T0 + 1, &a, NULL), DC_MISS);
    ck_assert_int_eq(dir_cache_lookup(c, 12, "anything", T0 + 1, &a, NULL), DC_MISS);
    ck_assert_int_eq(dir_cache_lookup(c, 1, "sub", T0 + 1, &a, NULL), DC_MISS);
    ck_assert_uint_eq(dir_cache_entry_ino(c, 1, "sub"), 12);
    /* exchange where one side is not cached drops the cached side */
    t = dir_cache_begin(c);
    dir_cache_rename(c, 1, "sub", 98, "q", true);
    dir_cache_end(c, t);
    ck_assert_int_eq(dir_cache_lookup(c, 1, "zzz", T0 + 1, &a, NULL), DC_MISS);
    dir_cache_free(c);
}
END_TEST

START_TEST(attributes_forgotten_and_hard_links)
{
    dir_cache *c = with_listing();
    cfs_attr a;
    dir_cache_forget_attr(c, 10); /* e.g. a write */
    ck_assert_int_eq(dir_cache_lookup(c, 1, "a", T0 + 1, &a, NULL), DC_MISS);
    /* a missing attribute does not ask for the listing again */
    ck_assert(!dir_cache_note_miss(c, 1, T0 + 1));
    ck_assert(!dir_cache_note_miss(c, 1, T0 + 2));
    /* link: the new name exists, but a file with two names keeps no attributes, also not
     * under its first name */
    uint64_t t = dir_cache_begin(c);
    cfs_attr l = mk(11, S_IFREG, 5, 2);
    dir_cache_set_entry(c, t, 1, "b2", &l, T0 + 1);
    dir_cache_end(c, t);
    ck_assert_uint_eq(dir_cache_entry_ino(c, 1, "b2"), 11);
    ck_assert_int_eq(dir_cache_lookup(c, 1, "b2", T0 + 1, &a, NULL), DC_MISS);
    ck_assert_int_eq(dir_cache_lookup(c, 1, "b", T0 + 1, &a, NULL), DC_MISS);
    /* getattr answers for directories only, within attr_ttl */
    ck_assert(dir_cache_getattr(c, 12, T0 + 1, &a, NULL));
    ck_assert(!dir_cache_getattr(c, 12, T0 + SEC, &a, NULL));
    ck_assert(!dir_cache_getattr(c, 11, T0 + 1, &a, NULL));
    dir_cache_clear(c);
    ck_assert_int_eq(dir_cache_lookup(c, 1, "x", T0 + 1, &a, NULL), DC_MISS);
    ck_assert_uint_eq(dir_cache_names(c), 0);
    dir_cache_free(c);
}
END_TEST

START_TEST(races_keep_stale_data_out)
{
    dir_cache *c = dir_cache_new(SEC, SEC, 100);
    cfs_dirent e[1] = {ent("a", 10, S_IFREG, 1)};
    cfs_attr a;
    /* A change that began before the fetch and is still in flight: not installed. */
    uint64_t ch = dir_cache_begin(c);
    uint64_t t = dir_cache_fetch_begin(c);
    ck_assert_int_eq(dir_cache_fetch_install(c, t, 1, e, 1, T0), -EAGAIN);
    dir_cache_end(c, ch);
    /* A change that began and ended during the fetch: not installed either. */
    t = dir_cache_fetch_begin(c);
    ch = dir_cache_begin(c);
    dir_cache_end(c, ch);
    ck_assert_int_eq(dir_cache_fetch_install(c, t, 1, e, 1, T0), -EAGAIN);
    ck_assert_int_eq(dir_cache_lookup(c, 1, "b", T0, &a, NULL), DC_MISS);
    /* Two overlapping changes: neither keeps the parent attributes it was told. */
    cfs_attr p1 = mk(1, S_IFDIR, 0, 3), p2 = mk(1, S_IFDIR, 0, 4);
    uint64_t c1 = dir_cache_begin(c), c2 = dir_cache_begin(c);
    dir_cache_set_attr(c, c2, &p2, T0);
    dir_cache_end(c, c2);
    dir_cache_set_attr(c, c1, &p1, T0);
    dir_cache_end(c, c1);
    ck_assert(!dir_cache_getattr(c, 1, T0, &a, NULL));
    /* Attributes of another inode forgotten meanwhile (a release) do not matter; of the same
     * inode (a chmod of it) they do. */
    c1 = dir_cache_begin(c);
    dir_cache_forget_attr(c, 77);
    dir_cache_set_attr(c, c1, &p2, T0);
    dir_cache_end(c, c1);
    ck_assert(dir_cache_getattr(c, 1, T0, &a, NULL));
    c1 = dir_cache_begin(c);
    dir_cache_forget_attr(c, 1);
    dir_cache_set_attr(c, c1, &p2, T0);
    dir_cache_end(c, c1);
    ck_assert(!dir_cache_getattr(c, 1, T0, &a, NULL));
    /* A forget during a fetch keeps the fetch out. */
    t = dir_cache_fetch_begin(c);
    dir_cache_forget_attr(c, 10);
    ck_assert_int_eq(dir_cache_fetch_install(c, t, 1, e, 1, T0), -EAGAIN);
    /* One change alone keeps them. */
    c1 = dir_cache_begin(c);
    dir_cache_set_attr(c, c1, &p2, T0);
    dir_cache_end(c, c1);
    ck_assert(dir_cache_getattr(c, 1, T0, &a, NULL));
    ck_assert_uint_eq(a.nlink, 4);
    dir_cache_free(c);
}
END_TEST

START_TEST(size_caps)
{
    dir_cache *c = dir_cache_new(SEC, SEC, 10);
    cfs_dirent e[11];
    char names[11][8];
    for (int i = 0; i < 11; i++) {
        snprintf(names[i], sizeof names[i], "f%d", i);
        e[i] = ent(names[i], 100 + (uint64_t)i, S_IFREG, 0);
    }
    uint64_t t = dir_cache_fetch_begin(c);
    ck_assert_int_eq(dir_cache_fetch_install(c, t, 1, e, 11, T0), -E2BIG);
    ck_assert_uint_eq(dir_cache_names(c), 0);
    /* not asked for again within entry_ttl */
    ck_assert(!dir_cache_note_miss(c, 1, T0 + 1));
    ck_assert(!dir_cache_note_miss(c, 1, T0 + 2));
    /* The total is bounded by 8 listings of the cap: the 9th full one clears the rest. */
    for (uint64_t d = 2; d < 2 + 9; d++) {
        t = dir_cache_fetch_begin(c);
        ck_assert_int_eq(dir_cache_fetch_install(c, t, d, e, 10, T0), 0);
        ck_assert_uint_le(dir_cache_names(c), 80);
    }
    cfs_attr a;
    ck_assert_int_eq(dir_cache_lookup(c, 10, "f3", T0, &a, NULL), DC_HIT);
    ck_assert_int_eq(dir_cache_lookup(c, 2, "f3", T0, &a, NULL), DC_MISS);
    dir_cache_free(c);
}
END_TEST

/* Many names in many directories, removed and renamed at random, against a simple model:
 * every name the model has is found with its inode, every other name is absent. */
START_TEST(random_against_model)
{
    enum { DIRS = 4, NAMES = 300 };
    dir_cache *c = dir_cache_new(1000 * SEC, 1000 * SEC, 100000);
    static uint64_t model[DIRS][NAMES];
    memset(model, 0, sizeof model);
    char name[16];
    for (uint64_t d = 0; d < DIRS; d++) {
        uint64_t t = dir_cache_fetch_begin(c);
        ck_assert_int_eq(dir_cache_fetch_install(c, t, d + 1, NULL, 0, T0), 0);
    }
    srandom(7);
    uint64_t next_ino = 1000;
    for (int step = 0; step < 20000; step++) {
        uint64_t d = (uint64_t)random() % DIRS, d2 = (uint64_t)random() % DIRS;
        int k = (int)(random() % NAMES), k2 = (int)(random() % NAMES);
        char name2[16];
        snprintf(name, sizeof name, "n%d", k);
        snprintf(name2, sizeof name2, "n%d", k2);
        uint64_t t = dir_cache_begin(c);
        switch (random() % 3) {
        case 0: {
            cfs_attr a = mk(next_ino, S_IFREG, 0, 1);
            model[d][k] = next_ino++;
            dir_cache_set_entry(c, t, d + 1, name, &a, T0);
            break;
        }
        case 1:
            model[d][k] = 0;
            dir_cache_remove_entry(c, d + 1, name);
            break;
        default:
            if (model[d][k] && !(d == d2 && k == k2)) {
                model[d2][k2] = model[d][k];
                model[d][k] = 0;
                dir_cache_rename(c, d + 1, name, d2 + 1, name2, false);
            }
        }
        dir_cache_end(c, t);
    }
    size_t live = 0;
    for (uint64_t d = 0; d < DIRS; d++)
        for (int k = 0; k < NAMES; k++) {
            snprintf(name, sizeof name, "n%d", k);
            ck_assert_uint_eq(dir_cache_entry_ino(c, d + 1, name), model[d][k]);
            cfs_attr a;
            dc_result r = dir_cache_lookup(c, d + 1, name, T0, &a, NULL);
            if (model[d][k]) {
                live++;
                ck_assert_int_ne(r, DC_ABSENT);
            } else {
                ck_assert_int_eq(r, DC_ABSENT);
            }
        }
    ck_assert_uint_eq(dir_cache_names(c), live);
    dir_cache_free(c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dir_cache");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, lookup_hits_negatives_and_expiry);
    tcase_add_test(tc, second_miss_asks_for_fetch);
    tcase_add_test(tc, changes_keep_listing_exact);
    tcase_add_test(tc, rename_exchange_and_across);
    tcase_add_test(tc, attributes_forgotten_and_hard_links);
    tcase_add_test(tc, races_keep_stale_data_out);
    tcase_add_test(tc, size_caps);
    tcase_add_test(tc, random_against_model);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
