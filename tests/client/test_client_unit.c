/* Unit tests of the client's pure pieces: index map, dirty extents, path handling, CLI text. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "client/chunkfs.h"
#include "client/cli.h"
#include "client/extent_list.h"
#include "client/index_map.h"

START_TEST(index_map_put_get_del)
{
    index_map m;
    index_map_init(&m);
    int err;
    static int vals[5000];
    for (uint32_t i = 0; i < 5000; i++)
        ck_assert_ptr_null(index_map_put(&m, i * 7, &vals[i], &err));
    ck_assert_int_eq(err, 0);
    ck_assert_uint_eq(m.count, 5000);
    for (uint32_t i = 0; i < 5000; i++)
        ck_assert_ptr_eq(index_map_get(&m, i * 7), &vals[i]);
    ck_assert_ptr_null(index_map_get(&m, 3));
    /* Deleting every other key keeps the rest reachable (probe chains repaired). */
    for (uint32_t i = 0; i < 5000; i += 2)
        ck_assert_ptr_eq(index_map_del(&m, i * 7), &vals[i]);
    for (uint32_t i = 0; i < 5000; i++)
        ck_assert_ptr_eq(index_map_get(&m, i * 7), i % 2 ? &vals[i] : NULL);
    ck_assert_ptr_eq(index_map_put(&m, 7, &vals[0], &err), &vals[1]);
    ck_assert_ptr_null(index_map_del(&m, 123456));
    index_map_free(&m);
}
END_TEST

/* Applies writes to a wchunk and to a flat model; the extents must equal the model. */
static void check_extents(const wchunk *wc, const uint8_t *model, const uint8_t *written,
                          size_t size)
{
    uint64_t bytes = 0, last_end = 0;
    bool first = true;
    for (const extent *e = wc->extents; e; e = e->next) {
        ck_assert(first || e->off >= last_end); /* sorted, non-overlapping */
        first = false;
        for (uint64_t i = 0; i < e->len; i++) {
            ck_assert(written[e->off + i]);
            ck_assert_uint_eq(e->data[i], model[e->off + i]);
        }
        bytes += e->len;
        last_end = e->off + e->len;
    }
    uint64_t expect = 0;
    for (size_t i = 0; i < size; i++)
        expect += written[i] ? 1 : 0;
    ck_assert_uint_eq(bytes, expect);
    ck_assert_uint_eq(wc->bytes, expect);
}

START_TEST(extents_random_overwrites)
{
    enum { SIZE = 4096 };
    uint8_t model[SIZE], written[SIZE], buf[SIZE];
    memset(model, 0, sizeof(model));
    memset(written, 0, sizeof(written));
    wchunk wc = {.index = 0};
    srand(42);
    for (int iter = 0; iter < 1000; iter++) {
        uint64_t off = (uint64_t)(rand() % SIZE);
        uint64_t len = 1 + (uint64_t)(rand() % 300);
        if (off + len > SIZE) len = SIZE - off;
        for (uint64_t i = 0; i < len; i++)
            buf[i] = (uint8_t)rand();
        ck_assert_int_eq(wchunk_insert(&wc, off, buf, len), 0);
        memcpy(model + off, buf, len);
        memset(written + off, 1, len);
        if (iter % 200 == 0) check_extents(&wc, model, written, SIZE);
    }
    check_extents(&wc, model, written, SIZE);
    wchunk_clear(&wc);
    ck_assert_ptr_null(wc.extents);
}
END_TEST

START_TEST(extents_sequential_appends_merge)
{
    wchunk wc = {.index = 3};
    uint8_t buf[1000];
    for (int i = 0; i < 100; i++) {
        memset(buf, i, sizeof(buf));
        ck_assert_int_eq(wchunk_insert(&wc, (uint64_t)i * 1000, buf, 1000), 0);
    }
    ck_assert_ptr_nonnull(wc.extents);
    ck_assert_ptr_null(wc.extents->next); /* one extent: streamed as large pieces */
    ck_assert_uint_eq(wc.extents->len, 100000);
    ck_assert_uint_eq(wchunk_end(&wc), 100000);
    ck_assert_uint_eq(wc.extents->data[99999], 99);
    wchunk_clear(&wc);
}
END_TEST

START_TEST(extents_fill_gaps_zeroes_only_gaps)
{
    wchunk wc = {.index = 0};
    uint8_t ones[100];
    memset(ones, 1, sizeof(ones));
    ck_assert_int_eq(wchunk_insert(&wc, 300, ones, 100), 0);
    ck_assert_int_eq(wchunk_insert(&wc, 600, ones, 100), 0);
    ck_assert_int_eq(wchunk_fill_gaps(&wc, 100, wchunk_end(&wc)), 0);
    /* [100, 700) is covered now: data where written, zeros elsewhere. */
    ck_assert_uint_eq(wc.bytes, 600);
    uint64_t pos = 100;
    for (const extent *e = wc.extents; e; e = e->next) {
        ck_assert_uint_eq(e->off, pos);
        for (uint64_t i = 0; i < e->len; i++) {
            uint64_t at = e->off + i;
            bool data = (at >= 300 && at < 400) || (at >= 600 && at < 700);
            ck_assert_uint_eq(e->data[i], data ? 1 : 0);
        }
        pos = e->off + e->len;
    }
    ck_assert_uint_eq(pos, 700);
    ck_assert_int_eq(wchunk_fill_gaps(&wc, 700, 700), 0);
    wchunk_clear(&wc);
}
END_TEST

START_TEST(path_split_cases)
{
    char parent[CFS_PATH_MAX], name[CFS_NAME_MAX + 1];
    ck_assert_int_eq(cfs_path_split("/a/b/c", parent, name), 0);
    ck_assert_str_eq(parent, "/a/b");
    ck_assert_str_eq(name, "c");
    ck_assert_int_eq(cfs_path_split("/top", parent, name), 0);
    ck_assert_str_eq(parent, "/");
    ck_assert_str_eq(name, "top");
    ck_assert_int_eq(cfs_path_split("//x//y//", parent, name), 0);
    ck_assert_str_eq(parent, "//x");
    ck_assert_str_eq(name, "y");
    ck_assert_int_eq(cfs_path_split("/", parent, name), -EINVAL);
    ck_assert_int_eq(cfs_path_split("relative", parent, name), -EINVAL);
    ck_assert_int_eq(cfs_path_split("/a/..", parent, name), -EINVAL);
    char longname[300];
    memset(longname, 'n', sizeof(longname));
    longname[0] = '/';
    longname[299] = 0;
    ck_assert_int_eq(cfs_path_split(longname, parent, name), -ENAMETOOLONG);
}
END_TEST

START_TEST(normalize_cases)
{
    char out[CFS_PATH_MAX];
    ck_assert_int_eq(cli_normalize("/a//b/./c/", out), 0);
    ck_assert_str_eq(out, "/a/b/c");
    ck_assert_int_eq(cli_normalize("a/b", out), 0);
    ck_assert_str_eq(out, "/a/b");
    ck_assert_int_eq(cli_normalize("/a/b/../../..", out), 0);
    ck_assert_str_eq(out, "/");
    ck_assert_int_eq(cli_normalize("/a/../b/..c", out), 0);
    ck_assert_str_eq(out, "/b/..c");
    ck_assert_int_eq(cli_normalize("/", out), 0);
    ck_assert_str_eq(out, "/");
    ck_assert_int_eq(cli_normalize("", out), -EINVAL);
    char join[CFS_PATH_MAX];
    ck_assert_int_eq(cli_join("/", "x", join), 0);
    ck_assert_str_eq(join, "/x");
    ck_assert_int_eq(cli_join("/d/", "x", join), 0);
    ck_assert_str_eq(join, "/d/x");
    char base[CFS_NAME_MAX + 1];
    ck_assert_int_eq(cli_basename("dir/file.bin", base), 0);
    ck_assert_str_eq(base, "file.bin");
    ck_assert_int_eq(cli_basename("dir/sub/", base), 0);
    ck_assert_str_eq(base, "sub");
    ck_assert_int_eq(cli_basename("/", base), -EINVAL);
}
END_TEST

START_TEST(human_sizes)
{
    char b[32];
    cli_human(0, b, sizeof(b));
    ck_assert_str_eq(b, "0");
    cli_human(1023, b, sizeof(b));
    ck_assert_str_eq(b, "1023");
    cli_human(1536, b, sizeof(b));
    ck_assert_str_eq(b, "1.5K");
    cli_human(23u << 20, b, sizeof(b));
    ck_assert_str_eq(b, "23M");
    cli_human(4ull << 30, b, sizeof(b));
    ck_assert_str_eq(b, "4.0G");
}
END_TEST

START_TEST(progress_text)
{
    char line[256];
    /* 256 MiB of 512 MiB after 2 s: 50%, 128M/s, 2 s left. */
    progress_format(line, sizeof(line), "big.iso", 256u << 20, 512u << 20, 2000, 10);
    ck_assert_str_eq(line, "big.iso  50% [====>     ] 256M/512M 128M/s ETA 0:02");
    progress_format(line, sizeof(line), "x", 0, 100, 0, 4);
    ck_assert_str_eq(line, "x   0% [    ] 0/100 0/s ETA --:--");
    progress_format(line, sizeof(line), "x", 100, 100, 1000, 4);
    ck_assert_str_eq(line, "x 100% [====] 100/100 100/s ETA 0:00");
}
END_TEST

START_TEST(modes_and_owner)
{
    char m[11];
    cli_mode_string(S_IFDIR | 0755, m);
    ck_assert_str_eq(m, "drwxr-xr-x");
    cli_mode_string(S_IFREG | 04644, m);
    ck_assert_str_eq(m, "-rwSr--r--");
    cli_mode_string(S_IFLNK | 01777, m);
    ck_assert_str_eq(m, "lrwxrwxrwt");
    uint32_t v;
    ck_assert_int_eq(cli_parse_mode("0755", &v), 0);
    ck_assert_uint_eq(v, 0755);
    ck_assert_int_eq(cli_parse_mode("999", &v), -EINVAL);
    ck_assert_int_eq(cli_parse_mode("u+x", &v), -EINVAL);
    ck_assert_int_eq(cli_parse_mode("17777", &v), -EINVAL);
    uint32_t uid, gid;
    ck_assert_int_eq(cli_parse_owner("1000:2000", &uid, &gid), 0);
    ck_assert_uint_eq(uid, 1000);
    ck_assert_uint_eq(gid, 2000);
    ck_assert_int_eq(cli_parse_owner(":5", &uid, &gid), 0);
    ck_assert_uint_eq(uid, UINT32_MAX);
    ck_assert_uint_eq(gid, 5);
    ck_assert_int_eq(cli_parse_owner(":", &uid, &gid), -EINVAL);
    ck_assert_int_eq(cli_parse_owner("no-such-user-xyz", &uid, &gid), -EINVAL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("client_unit");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, index_map_put_get_del);
    tcase_add_test(tc, extents_random_overwrites);
    tcase_add_test(tc, extents_sequential_appends_merge);
    tcase_add_test(tc, extents_fill_gaps_zeroes_only_gaps);
    tcase_add_test(tc, path_split_cases);
    tcase_add_test(tc, normalize_cases);
    tcase_add_test(tc, human_sizes);
    tcase_add_test(tc, progress_text);
    tcase_add_test(tc, modes_and_owner);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
