/* libchunkfs namespace API against a real cluster: exact results and error codes of lookup,
 * create, mkdir, rename (flags), link, symlink, readdir paging, xattrs, access, setattr
 * (UTIME_NOW), statfs, locks between two clients, and the buffered-size overlay.
 * Usage: client_api META_ADDRS. Exit 0 when every check held. */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "client/chunkfs.h"
#include "common/errors.h"

static int failures;

/* Several threads reading one handle sequentially (as FUSE does) through the read-ahead and
 * prefetch windows. */
typedef struct reader_arg {
    cfs_file *f;
    const char *want;
    size_t size;
    int bad;
} reader_arg;

static void *reader_main(void *p)
{
    reader_arg *r = p;
    char piece[128 * 1024];
    for (size_t off = 0; off < r->size; off += sizeof(piece)) {
        ssize_t n = cfs_pread(r->f, piece, sizeof(piece), off);
        size_t want = r->size - off < sizeof(piece) ? r->size - off : sizeof(piece);
        if (n != (ssize_t)want || memcmp(piece, r->want + off, want) != 0) r->bad++;
    }
    return NULL;
}

#define CHECK_RC(expr, want)                                                                       \
    do {                                                                                           \
        long got_ = (long)(expr);                                                                  \
        if (got_ != (long)(want)) {                                                                \
            fprintf(stderr, "client_api:%d: %s = %ld (%s), want %ld\n", __LINE__, #expr, got_,     \
                    got_ < 0 ? cfs_strerror((int)got_) : "", (long)(want));                        \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "client_api:%d: check failed: %s\n", __LINE__, #cond);                 \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: client_api META_ADDRS\n");
        return 2;
    }
    cfs_fs *fs, *fs2;
    if (cfs_connect(argv[1], NULL, &fs) < 0 || cfs_connect(argv[1], NULL, &fs2) < 0) {
        fprintf(stderr, "client_api: connect failed\n");
        return 1;
    }
    CHECK_RC(cfs_connect("no-port", NULL, &fs2), -EINVAL);
    cfs_cred cred;
    cfs_cred_self(&cred);
    cfs_attr root, d, a, b;

    CHECK_RC(cfs_getattr(fs, CFS_ROOT_INO, &cred, &root), 0);
    CHECK(S_ISDIR(root.mode));
    CHECK_RC(cfs_mkdir(fs, CFS_ROOT_INO, "api", 0755, &cred, &d), 0);
    CHECK(S_ISDIR(d.mode) && (d.mode & 07777) == 0755);
    CHECK_RC(cfs_mkdir(fs, CFS_ROOT_INO, "api", 0755, &cred, NULL), -EEXIST);
    CHECK_RC(cfs_lookup(fs, d.ino, "missing", &cred, &a), -ENOENT);
    CHECK_RC(cfs_mkdir(fs, d.ino, "a/b", 0755, &cred, NULL), -EINVAL);
    char longname[300];
    memset(longname, 'x', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = 0;
    CHECK_RC(cfs_mkdir(fs, d.ino, longname, 0755, &cred, NULL), -ENAMETOOLONG);

    /* create: exclusive, handle, buffered size visible to getattr on this client */
    cfs_file *f;
    CHECK_RC(cfs_create(fs, d.ino, "f", 0640, O_RDWR | O_EXCL, &cred, &a, &f), 0);
    CHECK(S_ISREG(a.mode) && (a.mode & 07777) == 0640 && a.size == 0);
    cfs_file *g;
    CHECK_RC(cfs_create(fs, d.ino, "f", 0640, O_RDWR | O_EXCL, &cred, NULL, &g), -EEXIST);
    CHECK_RC(cfs_pwrite(f, "hello world", 11, 0), 11);
    CHECK_RC(cfs_getattr(fs, a.ino, &cred, &b), 0);
    CHECK(b.size == 11);
    char buf[64];
    CHECK_RC(cfs_pread(f, buf, sizeof(buf), 0), 11);
    CHECK(memcmp(buf, "hello world", 11) == 0);
    CHECK_RC(cfs_pread(f, buf, sizeof(buf), 100), 0);
    CHECK_RC(cfs_close(f), 0);
    CHECK_RC(cfs_getattr(fs2, a.ino, &cred, &b), 0);
    CHECK(b.size == 11);
    CHECK_RC(cfs_open(fs, d.ino, O_RDONLY, &cred, &g), -EISDIR);
    CHECK_RC(cfs_open(fs, a.ino, O_RDONLY | O_TRUNC | O_WRONLY | O_RDWR, &cred, &g), -EINVAL);

    /* O_APPEND writes land at the end */
    CHECK_RC(cfs_open(fs, a.ino, O_WRONLY | O_APPEND, &cred, &f), 0);
    CHECK_RC(cfs_pwrite(f, "!", 1, 0), 1);
    CHECK_RC(cfs_close(f), 0);
    CHECK_RC(cfs_open(fs2, a.ino, O_RDONLY, &cred, &g), 0);
    CHECK_RC(cfs_pread(g, buf, sizeof(buf), 0), 12);
    CHECK(memcmp(buf, "hello world!", 12) == 0);
    CHECK_RC(cfs_pwrite(g, "x", 1, 0), -EBADF);
    CHECK_RC(cfs_close(g), 0);

    /* O_TRUNC through open */
    CHECK_RC(cfs_open(fs, a.ino, O_WRONLY | O_TRUNC, &cred, &f), 0);
    CHECK_RC(cfs_close(f), 0);
    CHECK_RC(cfs_getattr(fs, a.ino, &cred, &b), 0);
    CHECK(b.size == 0);

    /* setattr: mode, size, times incl. UTIME_NOW */
    cfs_attr in;
    memset(&in, 0, sizeof(in));
    in.mode = 0600;
    in.size = 5000;
    in.mtime.tv_sec = 1000000000;
    in.atime.tv_nsec = UTIME_NOW;
    CHECK_RC(cfs_setattr(fs, a.ino, &in,
                         CFS_SET_MODE | CFS_SET_SIZE | CFS_SET_MTIME | CFS_SET_ATIME, &cred, &b),
             0);
    CHECK((b.mode & 07777) == 0600 && b.size == 5000 && b.mtime.tv_sec == 1000000000);
    CHECK(b.atime.tv_sec > 1700000000);
    CHECK_RC(cfs_open(fs, a.ino, O_RDONLY, &cred, &g), 0);
    char zeros[5000], got[5000];
    memset(zeros, 0, sizeof(zeros));
    CHECK_RC(cfs_pread(g, got, sizeof(got), 0), 5000);
    CHECK(memcmp(got, zeros, sizeof(zeros)) == 0);
    CHECK_RC(cfs_close(g), 0);

    /* rename with flags */
    CHECK_RC(cfs_create(fs, d.ino, "other", 0644, O_RDONLY, &cred, NULL, &g), 0);
    CHECK_RC(cfs_close(g), 0);
    CHECK_RC(cfs_rename(fs, d.ino, "f", d.ino, "other", CFS_RENAME_NOREPLACE, &cred), -EEXIST);
    CHECK_RC(cfs_rename(fs, d.ino, "f", d.ino, "other", 3, &cred), -EINVAL);
    CHECK_RC(cfs_rename(fs, d.ino, "f", d.ino, "g", 0, &cred), 0);
    CHECK_RC(cfs_lookup(fs, d.ino, "f", &cred, &b), -ENOENT);
    CHECK_RC(cfs_lookup(fs, d.ino, "g", &cred, &b), 0);
    CHECK(b.ino == a.ino);

    /* link / symlink / readlink */
    CHECK_RC(cfs_link(fs, a.ino, d.ino, "hard", &cred, &b), 0);
    CHECK(b.nlink == 2);
    CHECK_RC(cfs_link(fs, a.ino, d.ino, "hard", &cred, NULL), -EEXIST);
    CHECK_RC(cfs_symlink(fs, d.ino, "sym", "../api/g", &cred, &b), 0);
    CHECK(S_ISLNK(b.mode));
    char target[64];
    CHECK_RC(cfs_readlink(fs, b.ino, &cred, target, sizeof(target)), 8);
    CHECK(strcmp(target, "../api/g") == 0);
    CHECK_RC(cfs_readlink(fs, b.ino, &cred, target, 4), -ENAMETOOLONG);
    CHECK_RC(cfs_resolve(fs, "/api/sym", true, &cred, &b), 0);
    CHECK(b.ino == a.ino);
    CHECK_RC(cfs_unlink(fs, d.ino, "hard", &cred), 0);
    CHECK_RC(cfs_unlink(fs, d.ino, "hard", &cred), -ENOENT);
    CHECK_RC(cfs_rmdir(fs, CFS_ROOT_INO, "api", &cred), -ENOTEMPTY);
    CHECK_RC(cfs_unlink(fs, CFS_ROOT_INO, "api", &cred), -EISDIR);

    /* readdir paging: 1200 entries, pages of 500, name order, cursor = last name */
    cfs_attr big;
    CHECK_RC(cfs_mkdir(fs, d.ino, "many", 0755, &cred, &big), 0);
    for (int i = 0; i < 1200; i++) {
        char name[32];
        snprintf(name, sizeof(name), "e%05d", i);
        CHECK_RC(cfs_mkdir(fs, big.ino, name, 0755, &cred, NULL), 0);
    }
    char after[CFS_NAME_MAX + 1] = "";
    int seen = 0, pages = 0;
    for (;;) {
        cfs_dir_page p;
        CHECK_RC(cfs_readdir(fs, big.ino, after, 500, true, &cred, &p), 0);
        pages++;
        for (size_t i = 0; i < p.count; i++) {
            char want[32];
            snprintf(want, sizeof(want), "e%05d", seen);
            if (strcmp(p.entries[i].name, want) != 0) {
                fprintf(stderr, "readdir: entry %d is %s, want %s\n", seen, p.entries[i].name,
                        want);
                failures++;
            }
            CHECK(p.entries[i].has_attr && S_ISDIR(p.entries[i].attr.mode));
            seen++;
        }
        bool eof = p.eof || p.count == 0;
        if (p.count) snprintf(after, sizeof(after), "%s", p.entries[p.count - 1].name);
        cfs_dir_page_free(&p);
        if (eof || pages > 10) break;
    }
    CHECK(seen == 1200);
    CHECK(pages >= 3);

    /* xattrs */
    CHECK_RC(cfs_setxattr(fs, a.ino, "user.k", "v1", 2, XATTR_REPLACE, &cred), -ENODATA);
    CHECK_RC(cfs_setxattr(fs, a.ino, "user.k", "v1", 2, XATTR_CREATE, &cred), 0);
    CHECK_RC(cfs_setxattr(fs, a.ino, "user.k", "v2", 2, XATTR_CREATE, &cred), -EEXIST);
    CHECK_RC(cfs_setxattr(fs, a.ino, "user.k", "val2", 4, XATTR_REPLACE, &cred), 0);
    CHECK_RC(cfs_getxattr(fs, a.ino, "user.k", NULL, 0, &cred), 4);
    CHECK_RC(cfs_getxattr(fs, a.ino, "user.k", buf, 2, &cred), -ERANGE);
    CHECK_RC(cfs_getxattr(fs, a.ino, "user.k", buf, sizeof(buf), &cred), 4);
    CHECK(memcmp(buf, "val2", 4) == 0);
    CHECK_RC(cfs_getxattr(fs, a.ino, "user.none", buf, sizeof(buf), &cred), -ENODATA);
    CHECK_RC(cfs_setxattr(fs, a.ino, "user.j", "", 0, 0, &cred), 0);
    CHECK_RC(cfs_listxattr(fs, a.ino, NULL, 0, &cred), 14);
    CHECK_RC(cfs_listxattr(fs, a.ino, buf, sizeof(buf), &cred), 14);
    CHECK(memmem(buf, 14, "user.k", 7) && memmem(buf, 14, "user.j", 7));
    CHECK_RC(cfs_removexattr(fs, a.ino, "user.k", &cred), 0);
    CHECK_RC(cfs_removexattr(fs, a.ino, "user.k", &cred), -ENODATA);

    /* access and statfs */
    CHECK_RC(cfs_access(fs, a.ino, R_OK | W_OK, &cred), 0);
    CHECK_RC(cfs_access(fs, a.ino, 0100, &cred), -EINVAL);
    cfs_statfs st;
    CHECK_RC(cfs_statfs_get(fs, &cred, &st), 0);
    CHECK(st.total_bytes > 0 && st.chunk_size > 0);

    /* locks between two clients */
    cfs_lock lk = {.type = F_WRLCK, .start = 0, .end = 99, .pid = 42};
    CHECK_RC(cfs_setlk(fs, a.ino, 7, &lk, false, &cred), 0);
    cfs_lock probe = {.type = F_RDLCK, .start = 50, .end = 60, .pid = 43};
    CHECK_RC(cfs_getlk(fs2, a.ino, 9, &probe, &cred), 0);
    CHECK(probe.type == F_WRLCK && probe.start == 0 && probe.end == 99 && probe.pid == 42);
    cfs_lock other = {.type = F_WRLCK, .start = 10, .end = 20, .pid = 43};
    CHECK_RC(cfs_setlk(fs2, a.ino, 9, &other, false, &cred), -EAGAIN);
    other.start = 100;
    other.end = CFS_LOCK_EOF;
    CHECK_RC(cfs_setlk(fs2, a.ino, 9, &other, false, &cred), 0);
    lk.type = F_UNLCK;
    CHECK_RC(cfs_setlk(fs, a.ino, 7, &lk, false, &cred), 0);
    probe.type = F_WRLCK;
    probe.start = 0;
    probe.end = 99;
    CHECK_RC(cfs_getlk(fs2, a.ino, 11, &probe, &cred), 0);
    CHECK(probe.type == F_UNLCK);
    CHECK_RC(cfs_flock(fs, a.ino, 1, LOCK_EX | LOCK_NB, &cred), 0);
    CHECK_RC(cfs_flock(fs2, a.ino, 2, LOCK_SH | LOCK_NB, &cred), -EAGAIN);
    CHECK_RC(cfs_flock(fs, a.ino, 1, LOCK_UN, &cred), 0);
    CHECK_RC(cfs_flock(fs2, a.ino, 2, LOCK_SH | LOCK_NB, &cred), 0);

    /* file info and goal */
    CHECK_RC(cfs_set_goal(fs, a.ino, 2, false, &cred), 0);
    CHECK_RC(cfs_getattr(fs, a.ino, &cred, &b), 0);
    CHECK(b.goal == 2);
    CHECK_RC(cfs_set_goal(fs, a.ino, 0, false, &cred), -EINVAL);
    cfs_file_info fi;
    CHECK_RC(cfs_file_info_get(fs, a.ino, &cred, &fi), 0);
    CHECK(fi.size == 5000);
    cfs_file_info_free(&fi);

    /* A handle from a read-only create of an existing file reads across chunks (the chunk
     * size comes from the metaserver, not from a default). */
    enum { TWO_MIB = 2 << 20 };
    char *pat = malloc(TWO_MIB), *back = malloc(TWO_MIB);
    for (int i = 0; i < TWO_MIB; i++)
        pat[i] = (char)(i * 7 + i / 4096);
    CHECK_RC(cfs_create(fs, d.ino, "two", 0644, O_WRONLY, &cred, NULL, &f), 0);
    CHECK_RC(cfs_pwrite(f, pat, TWO_MIB, 0), TWO_MIB);
    CHECK_RC(cfs_close(f), 0);
    CHECK_RC(cfs_create(fs2, d.ino, "two", 0644, O_RDONLY, &cred, &b, &g), 0);
    CHECK(b.size == TWO_MIB);
    CHECK_RC(cfs_pread(g, back, TWO_MIB, 0), TWO_MIB);
    CHECK(memcmp(pat, back, TWO_MIB) == 0);
    CHECK_RC(cfs_close(g), 0);
    free(pat);
    free(back);

    /* Concurrent sequential readers on one handle with a small read-ahead window. */
    {
        enum { SIX_MIB = 6 << 20 };
        cfs_options o;
        cfs_options_init(&o);
        o.readahead_bytes = 1 << 20;
        cfs_fs *fs3;
        CHECK_RC(cfs_connect(argv[1], &o, &fs3), 0);
        char *data = malloc(SIX_MIB);
        for (int i = 0; i < SIX_MIB; i++)
            data[i] = (char)(i % 251);
        CHECK_RC(cfs_create(fs, d.ino, "six", 0644, O_WRONLY, &cred, NULL, &f), 0);
        CHECK_RC(cfs_pwrite(f, data, SIX_MIB, 0), SIX_MIB);
        CHECK_RC(cfs_close(f), 0);
        cfs_attr six;
        CHECK_RC(cfs_lookup(fs3, d.ino, "six", &cred, &six), 0);
        CHECK_RC(cfs_open(fs3, six.ino, O_RDONLY, &cred, &g), 0);
        pthread_t th[4];
        reader_arg ra[4];
        for (int i = 0; i < 4; i++) {
            ra[i] = (reader_arg){.f = g, .want = data, .size = SIX_MIB, .bad = 0};
            pthread_create(&th[i], NULL, reader_main, &ra[i]);
        }
        for (int i = 0; i < 4; i++) {
            pthread_join(th[i], NULL);
            CHECK(ra[i].bad == 0);
        }
        CHECK_RC(cfs_close(g), 0);
        cfs_disconnect(fs3);
        free(data);
    }

    /* path helpers */
    CHECK_RC(cfs_mkdir_path(fs, "/api/p/q/r", 0755, true, &cred, &b), 0);
    CHECK(S_ISDIR(b.mode));
    CHECK_RC(cfs_mkdir_path(fs, "/api/p/q/r", 0755, true, &cred, NULL), 0);
    CHECK_RC(cfs_mkdir_path(fs, "/api/g/x", 0755, true, &cred, NULL), -ENOTDIR);
    CHECK_RC(cfs_open_path(fs, "/api/p/new", O_CREAT | O_WRONLY, 0644, &cred, &f), 0);
    CHECK_RC(cfs_close(f), 0);
    CHECK_RC(cfs_resolve(fs, "api/p", true, &cred, &b), -EINVAL);

    cfs_disconnect(fs);
    cfs_disconnect(fs2);
    if (failures) {
        fprintf(stderr, "client_api: %d checks failed\n", failures);
        return 1;
    }
    printf("client_api: all checks passed\n");
    return 0;
}
