/* posix_suite: a POSIX behaviour suite for a mounted file system.
 *
 *   posix_suite [-s SECTION[,SECTION...]] [-n DIRENTS] [-b BIG_BYTES] [-p PEER_DIR] DIR
 *
 * Runs every check inside a fresh directory DIR/psuite.<pid> (removed at the end when all
 * passed) and prints one line per check ("ok", "FAIL" or "skip"), then a summary. Exits 0 only
 * if every check passed, 1 if any failed, 2 on bad usage. PEER_DIR is the same file system
 * seen through another mount (two FUSE mounts of one cluster): lock and close-to-open checks
 * then run across the two mounts. Permission checks switch to uid/gid 1000 in a forked child
 * and need root; without root they are reported as skipped.
 *
 * Sections: names rename links symlinks io truncate sparse big mmap readdir xattr times
 * attrs misc perms locks peer dircache. Default: all. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

static int g_pass, g_fail, g_skip;
static char g_base[PATH_MAX];      /* DIR/psuite.<pid> */
static char g_peer_base[PATH_MAX]; /* PEER_DIR/psuite.<pid>, or "" */
static long g_dirents = 10000;
static long g_big = 5L * 1024 * 1024 + 4321;

static void result(bool ok, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void result(bool ok, const char *name, const char *fmt, ...)
{
    if (ok) {
        g_pass++;
        printf("ok    %s\n", name);
    } else {
        g_fail++;
        printf("FAIL  %s: ", name);
        va_list ap;
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        printf("\n");
    }
    fflush(stdout);
}

static void skip(const char *name, const char *why)
{
    g_skip++;
    printf("skip  %s: %s\n", name, why);
    fflush(stdout);
}

/* A call that must succeed (returns >= 0). */
static bool expect_ok(const char *name, long rc)
{
    int e = errno;
    result(rc >= 0, name, "returned %ld, errno %d (%s)", rc, e, strerror(e));
    return rc >= 0;
}

/* A call that must fail with exactly `want`. */
static void expect_err(const char *name, long rc, int want)
{
    int e = errno;
    if (rc >= 0)
        result(false, name, "succeeded (returned %ld), wanted %s", rc, strerror(want));
    else
        result(e == want, name, "errno %d (%s), wanted %d (%s)", e, strerror(e), want,
               strerror(want));
}

/* Path under the test root; rotating static buffers so several can be live at once. */
static const char *P(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *P(const char *fmt, ...)
{
    static char bufs[16][PATH_MAX];
    static int next;
    char *b = bufs[next++ % 16];
    int n = snprintf(b, PATH_MAX, "%s/", g_base);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b + n, (size_t)(PATH_MAX - n), fmt, ap);
    va_end(ap);
    return b;
}

/* Same relative path seen through the peer mount. */
static const char *PP(const char *rel)
{
    static char bufs[4][2 * PATH_MAX];
    static int next;
    char *b = bufs[next++ % 4];
    snprintf(b, 2 * PATH_MAX, "%s/%s", g_peer_base, rel);
    return b;
}

static int write_file(const char *path, const void *data, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0) return -1;
    const char *p = data;
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, p + done, len - done);
        if (w <= 0) {
            close(fd);
            return -1;
        }
        done += (size_t)w;
    }
    return close(fd);
}

/* Reads up to cap bytes of a file; returns the count or -1. */
static ssize_t read_file(const char *path, void *buf, size_t cap)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    size_t done = 0;
    while (done < cap) {
        ssize_t r = read(fd, (char *)buf + done, cap - done);
        if (r < 0) {
            close(fd);
            return -1;
        }
        if (r == 0) break;
        done += (size_t)r;
    }
    close(fd);
    return (ssize_t)done;
}

static bool file_equals(const char *path, const char *want)
{
    char buf[4096];
    ssize_t n = read_file(path, buf, sizeof buf);
    return n == (ssize_t)strlen(want) && memcmp(buf, want, (size_t)n) == 0;
}

static void check_content(const char *name, const char *path, const char *want)
{
    char buf[4096];
    ssize_t n = read_file(path, buf, sizeof buf - 1);
    if (n < 0) {
        result(false, name, "read %s: %s", path, strerror(errno));
        return;
    }
    buf[n] = 0;
    result(n == (ssize_t)strlen(want) && memcmp(buf, want, (size_t)n) == 0, name,
           "content '%.60s' (%zd bytes), wanted '%.60s'", buf, n, want);
}

static long long st_nlink_of(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) return -1;
    return (long long)st.st_nlink;
}

static ino_t ino_of(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) return 0;
    return st.st_ino;
}

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static uint8_t pat(uint64_t off)
{
    return (uint8_t)((off * 2654435761u) >> 13);
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i]) return false;
    return true;
}

static int64_t ts_ns(struct timespec t)
{
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* ------------------------------------------------------------------ names */

static void s_names(void)
{
    mkdir(P("names"), 0755);
    int fd = open(P("names/f"), O_CREAT | O_EXCL | O_WRONLY, 0644);
    expect_ok("create new file with O_EXCL", fd);
    if (fd >= 0) close(fd);
    expect_err("O_CREAT|O_EXCL on existing file -> EEXIST",
               open(P("names/f"), O_CREAT | O_EXCL | O_WRONLY, 0644), EEXIST);
    fd = open(P("names/f"), O_CREAT | O_WRONLY, 0644);
    expect_ok("O_CREAT without O_EXCL on existing file opens it", fd);
    if (fd >= 0) close(fd);
    expect_err("open missing file without O_CREAT -> ENOENT", open(P("names/nope"), O_RDONLY),
               ENOENT);
    expect_err("stat missing file -> ENOENT", access(P("names/nope"), F_OK), ENOENT);
    expect_ok("mkdir", mkdir(P("names/d"), 0755));
    expect_err("mkdir existing dir -> EEXIST", mkdir(P("names/d"), 0755), EEXIST);
    expect_err("mkdir over existing file -> EEXIST", mkdir(P("names/f"), 0755), EEXIST);
    expect_err("O_CREAT over existing dir -> EISDIR", open(P("names/d"), O_CREAT | O_WRONLY, 0644),
               EISDIR);
    expect_err("mkdir in missing parent -> ENOENT", mkdir(P("names/nope/x"), 0755), ENOENT);
    expect_err("create in missing parent -> ENOENT",
               open(P("names/nope/x"), O_CREAT | O_WRONLY, 0644), ENOENT);
    expect_err("unlink missing -> ENOENT", unlink(P("names/nope")), ENOENT);
    expect_err("unlink a directory -> EISDIR", unlink(P("names/d")), EISDIR);
    expect_err("rmdir a file -> ENOTDIR", rmdir(P("names/f")), ENOTDIR);
    expect_err("rmdir missing -> ENOENT", rmdir(P("names/nope")), ENOENT);
    expect_ok("create file inside dir", write_file(P("names/d/x"), "x", 1, 0644));
    expect_err("rmdir non-empty dir -> ENOTEMPTY", rmdir(P("names/d")), ENOTEMPTY);
    expect_err("rmdir '.' -> EINVAL", rmdir(P("names/d/.")), EINVAL);
    expect_err("path through a file -> ENOTDIR", open(P("names/f/x"), O_RDONLY), ENOTDIR);
    expect_err("create below a file -> ENOTDIR", open(P("names/f/x"), O_CREAT | O_WRONLY, 0644),
               ENOTDIR);
    expect_err("mkdir below a file -> ENOTDIR", mkdir(P("names/f/x"), 0755), ENOTDIR);
    expect_err("open dir for writing -> EISDIR", open(P("names/d"), O_WRONLY), EISDIR);
    expect_err("O_DIRECTORY on a file -> ENOTDIR", open(P("names/f"), O_RDONLY | O_DIRECTORY),
               ENOTDIR);

    char name[300];
    memset(name, 'n', 255);
    name[255] = 0;
    fd = open(P("names/%s", name), O_CREAT | O_WRONLY, 0644);
    expect_ok("create 255-byte name", fd);
    if (fd >= 0) close(fd);
    result(exists(P("names/%s", name)), "255-byte name visible", "stat: %s", strerror(errno));
    expect_ok("unlink 255-byte name", unlink(P("names/%s", name)));
    memset(name, 'n', 256);
    name[256] = 0;
    expect_err("create 256-byte name -> ENAMETOOLONG",
               open(P("names/%s", name), O_CREAT | O_WRONLY, 0644), ENAMETOOLONG);
    expect_err("mkdir 256-byte name -> ENAMETOOLONG", mkdir(P("names/%s", name), 0755),
               ENAMETOOLONG);
    expect_err("lookup 256-byte name -> ENAMETOOLONG", access(P("names/%s", name), F_OK),
               ENAMETOOLONG);

    /* Odd but legal names. */
    const char *odd[] = {"with space", "tab\tname", "uni\xc3\xa9\xe2\x82\xac",
                         "-dash",      ".hidden",   "..dots",
                         "a:b;c",      "new\nline"};
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        char nm[128];
        snprintf(nm, sizeof nm, "create and stat odd name #%zu", i);
        bool ok = write_file(P("names/%s", odd[i]), odd[i], strlen(odd[i]), 0644) == 0 &&
                  file_equals(P("names/%s", odd[i]), odd[i]);
        result(ok, nm, "%s", strerror(errno));
    }
    expect_ok("unlink file", unlink(P("names/f")));
    result(!exists(P("names/f")), "unlinked file is gone", "still exists");
    expect_ok("unlink file in dir", unlink(P("names/d/x")));
    expect_ok("rmdir now-empty dir", rmdir(P("names/d")));
    result(!exists(P("names/d")), "removed dir is gone", "still exists");

    /* An open, unlinked file stays readable and writable through its descriptor. */
    fd = open(P("names/open-unlinked"), O_CREAT | O_RDWR, 0644);
    if (expect_ok("create file for open-unlink", fd)) {
        expect_ok("write before unlink", write(fd, "hello", 5));
        expect_ok("unlink while open", unlink(P("names/open-unlinked")));
        result(!exists(P("names/open-unlinked")), "open-unlinked name is gone", "still exists");
        char b[8] = {0};
        ssize_t r = pread(fd, b, 5, 0);
        result(r == 5 && memcmp(b, "hello", 5) == 0, "read through fd after unlink",
               "read %zd '%s': %s", r, b, strerror(errno));
        expect_ok("write through fd after unlink", pwrite(fd, "HELLO", 5, 5));
        struct stat st;
        result(fstat(fd, &st) == 0 && st.st_size == 10, "fstat after unlink sees new size",
               "size %lld", (long long)st.st_size);
        close(fd);
    }
}

/* ------------------------------------------------------------------ rename */

static void s_rename(void)
{
    mkdir(P("ren"), 0755);
    write_file(P("ren/a"), "A", 1, 0644);
    write_file(P("ren/b"), "B", 1, 0644);
    ino_t ia = ino_of(P("ren/a"));
    expect_ok("rename file over existing file", rename(P("ren/a"), P("ren/b")));
    result(!exists(P("ren/a")), "rename: source name gone", "still exists");
    result(ino_of(P("ren/b")) == ia, "rename: target is the source inode", "ino differs");
    check_content("rename: target has source content", P("ren/b"), "A");
    expect_ok("rename to new name", rename(P("ren/b"), P("ren/c")));
    check_content("rename to new name keeps content", P("ren/c"), "A");
    expect_err("rename missing source -> ENOENT", rename(P("ren/nope"), P("ren/x")), ENOENT);
    expect_err("rename into missing dir -> ENOENT", rename(P("ren/c"), P("ren/nodir/x")), ENOENT);

    mkdir(P("ren/d1"), 0755);
    mkdir(P("ren/d2"), 0755);
    mkdir(P("ren/full"), 0755);
    write_file(P("ren/full/x"), "x", 1, 0644);
    expect_err("rename file over dir -> EISDIR", rename(P("ren/c"), P("ren/d1")), EISDIR);
    expect_err("rename dir over file -> ENOTDIR", rename(P("ren/d1"), P("ren/c")), ENOTDIR);
    expect_err("rename dir over non-empty dir -> ENOTEMPTY", rename(P("ren/d1"), P("ren/full")),
               ENOTEMPTY);
    ino_t id1 = ino_of(P("ren/d1"));
    expect_ok("rename dir over empty dir", rename(P("ren/d1"), P("ren/d2")));
    result(ino_of(P("ren/d2")) == id1 && !exists(P("ren/d1")), "rename dir over empty dir result",
           "wrong inode or source still there");
    mkdir(P("ren/d2/sub"), 0755);
    mkdir(P("ren/d2/sub/deeper"), 0755);
    expect_err("rename dir into its own subdir -> EINVAL",
               rename(P("ren/d2"), P("ren/d2/sub/deeper/x")), EINVAL);
    expect_err("rename dir into its own child -> EINVAL", rename(P("ren/d2"), P("ren/d2/x")),
               EINVAL);
    result(exists(P("ren/d2/sub/deeper")), "failed rename left tree intact", "tree changed");

    /* Moving a directory between parents fixes both parents' link counts and its '..'. */
    long long n_full = st_nlink_of(P("ren/full"));
    long long n_d2 = st_nlink_of(P("ren/d2"));
    expect_ok("move dir to another parent", rename(P("ren/d2/sub"), P("ren/full/sub")));
    result(st_nlink_of(P("ren/full")) == n_full + 1, "new parent nlink +1", "nlink %lld, was %lld",
           st_nlink_of(P("ren/full")), n_full);
    result(st_nlink_of(P("ren/d2")) == n_d2 - 1, "old parent nlink -1", "nlink %lld, was %lld",
           st_nlink_of(P("ren/d2")), n_d2);
    result(ino_of(P("ren/full/sub/..")) == ino_of(P("ren/full")), "moved dir's '..' is new parent",
           "'..' inode %lu", (unsigned long)ino_of(P("ren/full/sub/..")));
    write_file(P("ren/full/sub/deeper/f"), "deep", 4, 0644);
    check_content("files below a moved dir are reachable", P("ren/full/sub/deeper/f"), "deep");

    /* Renaming one hard link onto another of the same inode is a successful no-op. */
    write_file(P("ren/h1"), "H", 1, 0644);
    link(P("ren/h1"), P("ren/h2"));
    expect_ok("rename hard link onto its twin", rename(P("ren/h1"), P("ren/h2")));
    result(exists(P("ren/h1")) && exists(P("ren/h2")), "both twin names remain", "a name vanished");
    expect_ok("rename to itself", rename(P("ren/h2"), P("ren/h2")));

    /* renameat2 flags. */
    write_file(P("ren/x"), "X", 1, 0644);
    write_file(P("ren/y"), "Y", 1, 0644);
    expect_err("RENAME_NOREPLACE onto existing -> EEXIST",
               renameat2(AT_FDCWD, P("ren/x"), AT_FDCWD, P("ren/y"), RENAME_NOREPLACE), EEXIST);
    check_content("RENAME_NOREPLACE failure keeps target", P("ren/y"), "Y");
    expect_ok("RENAME_NOREPLACE onto new name",
              renameat2(AT_FDCWD, P("ren/x"), AT_FDCWD, P("ren/z"), RENAME_NOREPLACE));
    check_content("RENAME_NOREPLACE moved the file", P("ren/z"), "X");
    expect_ok("RENAME_EXCHANGE two files",
              renameat2(AT_FDCWD, P("ren/y"), AT_FDCWD, P("ren/z"), RENAME_EXCHANGE));
    check_content("RENAME_EXCHANGE swapped first", P("ren/y"), "X");
    check_content("RENAME_EXCHANGE swapped second", P("ren/z"), "Y");
    expect_ok("RENAME_EXCHANGE file and dir",
              renameat2(AT_FDCWD, P("ren/y"), AT_FDCWD, P("ren/full"), RENAME_EXCHANGE));
    struct stat st;
    result(stat(P("ren/y"), &st) == 0 && S_ISDIR(st.st_mode) && exists(P("ren/y/sub/deeper/f")),
           "RENAME_EXCHANGE: dir now under first name", "not a dir");
    check_content("RENAME_EXCHANGE: file now under second name", P("ren/full"), "X");
    expect_err("RENAME_EXCHANGE with missing target -> ENOENT",
               renameat2(AT_FDCWD, P("ren/z"), AT_FDCWD, P("ren/missing"), RENAME_EXCHANGE),
               ENOENT);
    expect_err("RENAME_EXCHANGE|NOREPLACE -> EINVAL",
               renameat2(AT_FDCWD, P("ren/z"), AT_FDCWD, P("ren/full"),
                         RENAME_EXCHANGE | RENAME_NOREPLACE),
               EINVAL);

    /* A rename updates the parents' mtime. */
    struct timespec old[2] = {{1000, 0}, {1000, 0}};
    utimensat(AT_FDCWD, P("ren"), old, 0);
    rename(P("ren/z"), P("ren/z2"));
    result(stat(P("ren"), &st) == 0 && st.st_mtime > 1000, "rename updates directory mtime",
           "mtime %lld", (long long)st.st_mtime);
}

/* ------------------------------------------------------------------ links */

static void s_links(void)
{
    mkdir(P("lnk"), 0755);
    write_file(P("lnk/f"), "data", 4, 0644);
    result(st_nlink_of(P("lnk/f")) == 1, "new file nlink 1", "nlink %lld", st_nlink_of(P("lnk/f")));
    expect_ok("link", link(P("lnk/f"), P("lnk/g")));
    result(st_nlink_of(P("lnk/f")) == 2 && st_nlink_of(P("lnk/g")) == 2, "nlink 2 on both names",
           "nlink %lld/%lld", st_nlink_of(P("lnk/f")), st_nlink_of(P("lnk/g")));
    result(ino_of(P("lnk/f")) == ino_of(P("lnk/g")), "hard links share the inode", "differ");
    write_file(P("lnk/g"), "changed", 7, 0644);
    check_content("write through one link visible through the other", P("lnk/f"), "changed");
    mkdir(P("lnk/sub"), 0755);
    expect_ok("link into another dir", link(P("lnk/f"), P("lnk/sub/h")));
    result(st_nlink_of(P("lnk/f")) == 3, "nlink 3", "nlink %lld", st_nlink_of(P("lnk/f")));
    expect_err("link onto existing name -> EEXIST", link(P("lnk/f"), P("lnk/g")), EEXIST);
    expect_err("link of missing file -> ENOENT", link(P("lnk/nope"), P("lnk/x")), ENOENT);
    expect_err("link a directory -> EPERM", link(P("lnk/sub"), P("lnk/sub2")), EPERM);
    expect_ok("unlink one link", unlink(P("lnk/f")));
    result(st_nlink_of(P("lnk/g")) == 2, "nlink drops to 2", "nlink %lld", st_nlink_of(P("lnk/g")));
    check_content("remaining link keeps data", P("lnk/sub/h"), "changed");
    unlink(P("lnk/g"));
    result(st_nlink_of(P("lnk/sub/h")) == 1, "nlink drops to 1", "nlink %lld",
           st_nlink_of(P("lnk/sub/h")));

    /* Directory link counts: 2 + number of subdirectories. */
    mkdir(P("lnk/dd"), 0755);
    result(st_nlink_of(P("lnk/dd")) == 2, "new dir nlink 2", "nlink %lld",
           st_nlink_of(P("lnk/dd")));
    long long parent = st_nlink_of(P("lnk"));
    mkdir(P("lnk/dd/s1"), 0755);
    mkdir(P("lnk/dd/s2"), 0755);
    write_file(P("lnk/dd/file"), "", 0, 0644);
    result(st_nlink_of(P("lnk/dd")) == 4, "dir with 2 subdirs and a file nlink 4", "nlink %lld",
           st_nlink_of(P("lnk/dd")));
    rmdir(P("lnk/dd/s1"));
    result(st_nlink_of(P("lnk/dd")) == 3, "rmdir subdir: nlink 3", "nlink %lld",
           st_nlink_of(P("lnk/dd")));
    result(st_nlink_of(P("lnk")) == parent, "parent nlink unchanged by grandchildren",
           "%lld vs %lld", st_nlink_of(P("lnk")), parent);
    result(ino_of(P("lnk/dd/.")) == ino_of(P("lnk/dd")) &&
               ino_of(P("lnk/dd/..")) == ino_of(P("lnk")),
           "'.' and '..' resolve", "wrong inode");
}

/* ------------------------------------------------------------------ symlinks */

static void s_symlinks(void)
{
    mkdir(P("sym"), 0755);
    write_file(P("sym/target"), "tdata", 5, 0644);
    expect_ok("symlink", symlink("target", P("sym/l")));
    char buf[PATH_MAX];
    ssize_t n = readlink(P("sym/l"), buf, sizeof buf);
    result(n == 6 && memcmp(buf, "target", 6) == 0, "readlink returns target", "got %zd", n);
    struct stat st;
    result(lstat(P("sym/l"), &st) == 0 && S_ISLNK(st.st_mode) && st.st_size == 6,
           "lstat: symlink type and size = target length", "mode %o size %lld", st.st_mode,
           (long long)st.st_size);
    result(stat(P("sym/l"), &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 5,
           "stat follows symlink", "mode %o size %lld", st.st_mode, (long long)st.st_size);
    check_content("open through symlink", P("sym/l"), "tdata");
    expect_ok("dangling symlink", symlink("no/such/thing", P("sym/dangle")));
    expect_err("stat dangling symlink -> ENOENT", stat(P("sym/dangle"), &st), ENOENT);
    result(lstat(P("sym/dangle"), &st) == 0 && S_ISLNK(st.st_mode), "lstat dangling symlink", "%s",
           strerror(errno));
    expect_err("symlink onto existing name -> EEXIST", symlink("x", P("sym/l")), EEXIST);
    expect_err("readlink of regular file -> EINVAL", readlink(P("sym/target"), buf, sizeof buf),
               EINVAL);
    expect_err("O_NOFOLLOW on symlink -> ELOOP", open(P("sym/l"), O_RDONLY | O_NOFOLLOW), ELOOP);
    expect_err("O_CREAT|O_EXCL on dangling symlink -> EEXIST",
               open(P("sym/dangle"), O_CREAT | O_EXCL | O_WRONLY, 0644), EEXIST);
    mkdir(P("sym/dir"), 0755);
    write_file(P("sym/dir/in"), "in", 2, 0644);
    symlink("dir", P("sym/dl"));
    check_content("traverse symlink to dir", P("sym/dl/in"), "in");
    char longt[4000];
    memset(longt, 'x', sizeof longt - 1);
    longt[sizeof longt - 1] = 0;
    expect_ok("symlink with 3999-byte target", symlink(longt, P("sym/long")));
    n = readlink(P("sym/long"), buf, sizeof buf);
    result(n == 3999 && memcmp(buf, longt, 3999) == 0, "readlink long target", "got %zd", n);
    symlink("loop2", P("sym/loop1"));
    symlink("loop1", P("sym/loop2"));
    expect_err("symlink loop -> ELOOP", open(P("sym/loop1"), O_RDONLY), ELOOP);
    expect_ok("unlink symlink", unlink(P("sym/l")));
    result(exists(P("sym/target")), "unlinking symlink keeps target", "target gone");
    symlink("/absolute/target", P("sym/abs"));
    n = readlink(P("sym/abs"), buf, sizeof buf);
    result(n == 16 && memcmp(buf, "/absolute/target", 16) == 0, "absolute target kept verbatim",
           "got %zd", n);
    link(P("sym/abs"), P("sym/abs2"));
    result(lstat(P("sym/abs2"), &st) == 0 && S_ISLNK(st.st_mode) && st.st_nlink == 2,
           "hard link to a symlink", "mode %o nlink %lu", st.st_mode, (unsigned long)st.st_nlink);
}

/* ------------------------------------------------------------------ io */

static void s_io(void)
{
    mkdir(P("io"), 0755);
    expect_ok("write small file", write_file(P("io/f"), "0123456789", 10, 0644));
    check_content("read back", P("io/f"), "0123456789");
    int fd = open(P("io/f"), O_RDWR);
    if (fd >= 0) {
        expect_ok("pwrite in middle", pwrite(fd, "ab", 2, 4));
        char b[16] = {0};
        ssize_t r = pread(fd, b, sizeof b, 0);
        result(r == 10 && memcmp(b, "0123ab6789", 10) == 0, "overwrite in middle keeps the rest",
               "got %zd '%s'", r, b);
        r = pread(fd, b, 4, 10);
        result(r == 0, "read at EOF returns 0", "got %zd", r);
        r = pread(fd, b, 4, 1000);
        result(r == 0, "read past EOF returns 0", "got %zd", r);
        expect_ok("lseek SEEK_END", lseek(fd, 0, SEEK_END));
        write(fd, "XY", 2);
        struct stat st;
        result(fstat(fd, &st) == 0 && st.st_size == 12, "write at end extends size", "size %lld",
               (long long)st.st_size);
        close(fd);
    }
    check_content("content after reopen", P("io/f"), "0123ab6789XY");

    /* O_APPEND from two descriptors. */
    write_file(P("io/app"), "", 0, 0644);
    int a1 = open(P("io/app"), O_WRONLY | O_APPEND);
    int a2 = open(P("io/app"), O_WRONLY | O_APPEND);
    if (a1 >= 0 && a2 >= 0) {
        write(a1, "aaa", 3);
        write(a2, "bbb", 3);
        lseek(a1, 0, SEEK_SET);
        write(a1, "ccc", 3);
        off_t pos = lseek(a1, 0, SEEK_CUR);
        result(pos == 9, "O_APPEND leaves offset at the end", "offset %lld", (long long)pos);
    }
    if (a1 >= 0) close(a1);
    if (a2 >= 0) close(a2);
    check_content("O_APPEND writes from two fds all land at the end", P("io/app"), "aaabbbccc");
    fd = open(P("io/app"), O_RDWR | O_APPEND);
    if (fd >= 0) {
        char b[4] = {0};
        ssize_t r = pread(fd, b, 3, 3);
        result(r == 3 && memcmp(b, "bbb", 3) == 0, "O_RDWR|O_APPEND can read anywhere", "got %zd",
               r);
        close(fd);
    }

    /* O_TRUNC. */
    write_file(P("io/t"), "long content", 12, 0644);
    fd = open(P("io/t"), O_WRONLY | O_TRUNC);
    if (expect_ok("open O_TRUNC", fd)) {
        struct stat st;
        result(fstat(fd, &st) == 0 && st.st_size == 0, "O_TRUNC empties the file", "size %lld",
               (long long)st.st_size);
        write(fd, "new", 3);
        close(fd);
    }
    check_content("write after O_TRUNC", P("io/t"), "new");
    fd = open(P("io/t"), O_RDONLY);
    if (fd >= 0) {
        expect_err("write on O_RDONLY fd -> EBADF", write(fd, "x", 1), EBADF);
        close(fd);
    }
    fd = open(P("io/t"), O_WRONLY);
    if (fd >= 0) {
        char b[4];
        expect_err("read on O_WRONLY fd -> EBADF", read(fd, b, 1), EBADF);
        close(fd);
    }

    /* Unaligned writes and reads of mixed sizes across page boundaries. */
    const size_t n = 300000;
    uint8_t *buf = malloc(n), *got = malloc(n);
    for (size_t i = 0; i < n; i++)
        buf[i] = pat(i);
    fd = open(P("io/mixed"), O_CREAT | O_RDWR | O_TRUNC, 0644);
    if (fd >= 0) {
        size_t off = 0, step = 1;
        while (off < n) {
            size_t len = step < n - off ? step : n - off;
            pwrite(fd, buf + off, len, (off_t)off);
            off += len;
            step = step * 3 + 7;
        }
        close(fd);
        ssize_t r = read_file(P("io/mixed"), got, n);
        result(r == (ssize_t)n && memcmp(got, buf, n) == 0, "unaligned writes of growing size",
               "read %zd", r);
    }
    free(buf);
    free(got);

    /* Same file through two descriptors: a write is visible to a read of the other. */
    int w = open(P("io/two"), O_CREAT | O_RDWR | O_TRUNC, 0644);
    int r = open(P("io/two"), O_RDONLY);
    if (w >= 0 && r >= 0) {
        write(w, "shared", 6);
        char b[8] = {0};
        ssize_t got2 = pread(r, b, 6, 0);
        result(got2 == 6 && memcmp(b, "shared", 6) == 0, "write visible through second fd",
               "got %zd", got2);
    }
    if (w >= 0) close(w);
    if (r >= 0) close(r);
}

/* ------------------------------------------------------------------ truncate */

static void s_truncate(void)
{
    mkdir(P("trunc"), 0755);
    char data[100];
    memset(data, 'a', sizeof data);
    write_file(P("trunc/f"), data, sizeof data, 0644);
    int fd = open(P("trunc/f"), O_RDWR);
    if (fd < 0) {
        result(false, "open for truncate", "%s", strerror(errno));
        return;
    }
    struct stat st;
    expect_ok("ftruncate shrink", ftruncate(fd, 50));
    result(fstat(fd, &st) == 0 && st.st_size == 50, "size after shrink", "size %lld",
           (long long)st.st_size);
    expect_ok("ftruncate grow", ftruncate(fd, 5000));
    uint8_t b[5000];
    ssize_t r = pread(fd, b, sizeof b, 0);
    bool ok = r == 5000;
    for (int i = 0; ok && i < 50; i++)
        ok = b[i] == 'a';
    result(ok && all_zero(b + 50, 4950), "grow after shrink reads zeros past old end", "read %zd",
           r);
    close(fd);
    expect_ok("truncate by path", truncate(P("trunc/f"), 10));
    result(stat(P("trunc/f"), &st) == 0 && st.st_size == 10, "size after truncate()", "size %lld",
           (long long)st.st_size);
    expect_ok("truncate to 0", truncate(P("trunc/f"), 0));
    result(stat(P("trunc/f"), &st) == 0 && st.st_size == 0, "size 0", "size %lld",
           (long long)st.st_size);
    expect_err("truncate negative -> EINVAL", truncate(P("trunc/f"), -1), EINVAL);
    expect_err("truncate a dir -> EISDIR", truncate(P("trunc"), 0), EISDIR);
    expect_err("truncate missing -> ENOENT", truncate(P("trunc/nope"), 0), ENOENT);

    /* Shrink and grow across several MiB (chunk boundaries with a small chunk size). */
    const size_t big = 3 * 1024 * 1024 + 777;
    uint8_t *buf = malloc(big);
    for (size_t i = 0; i < big; i++)
        buf[i] = pat(i) | 1;
    write_file(P("trunc/big"), buf, big, 0644);
    const off_t cut = 1536 * 1024 + 3;
    expect_ok("truncate multi-MiB file to the middle", truncate(P("trunc/big"), cut));
    expect_ok("grow it back", truncate(P("trunc/big"), (off_t)big));
    uint8_t *got = malloc(big);
    r = read_file(P("trunc/big"), got, big);
    result(r == (ssize_t)big && memcmp(got, buf, (size_t)cut) == 0 &&
               all_zero(got + cut, big - (size_t)cut),
           "shrink + grow across chunks: head kept, tail zeros", "read %zd", r);
    fd = open(P("trunc/big"), O_RDWR);
    if (fd >= 0) {
        ftruncate(fd, 100);
        pwrite(fd, "Z", 1, 2 * 1024 * 1024);
        close(fd);
    }
    r = read_file(P("trunc/big"), got, big);
    result(r == 2 * 1024 * 1024 + 1 && memcmp(got, buf, 100) == 0 &&
               all_zero(got + 100, 2 * 1024 * 1024 - 100) && got[2 * 1024 * 1024] == 'Z',
           "truncate then write beyond: gap reads zeros", "read %zd", r);
    free(buf);
    free(got);
    /* O_TRUNC on a file open elsewhere. */
    int keep = open(P("trunc/big"), O_RDONLY);
    fd = open(P("trunc/big"), O_WRONLY | O_TRUNC);
    if (keep >= 0 && fd >= 0) {
        char c;
        result(pread(keep, &c, 1, 0) == 0, "O_TRUNC visible to another open fd", "still data");
    }
    if (keep >= 0) close(keep);
    if (fd >= 0) close(fd);
}

/* ------------------------------------------------------------------ sparse */

static void s_sparse(void)
{
    mkdir(P("sparse"), 0755);
    const off_t at = 10L * 1024 * 1024;
    int fd = open(P("sparse/f"), O_CREAT | O_RDWR | O_TRUNC, 0644);
    if (fd < 0) {
        result(false, "create sparse file", "%s", strerror(errno));
        return;
    }
    expect_ok("pwrite at 10 MiB", pwrite(fd, "tail", 4, at));
    close(fd);
    struct stat st;
    result(stat(P("sparse/f"), &st) == 0 && st.st_size == at + 4, "sparse size", "size %lld",
           (long long)st.st_size);
    fd = open(P("sparse/f"), O_RDONLY);
    if (fd < 0) return;
    uint8_t *b = malloc(1 << 20);
    bool zeros = true;
    for (off_t off = 0; off < at && zeros; off += 1 << 20) {
        ssize_t r = pread(fd, b, 1 << 20, off);
        zeros = r == (1 << 20) && all_zero(b, 1 << 20);
    }
    result(zeros, "holes read as zeros", "non-zero or short read in the hole");
    char t[8] = {0};
    ssize_t r = pread(fd, t, 8, at);
    result(r == 4 && memcmp(t, "tail", 4) == 0, "data after hole", "got %zd", r);
    r = pread(fd, b, 100, at - 50);
    result(r == 54 && all_zero(b, 50) && memcmp(b + 50, "tail", 4) == 0,
           "read straddling hole and data", "got %zd", r);
    close(fd);
    /* A hole in the middle of written data. */
    fd = open(P("sparse/g"), O_CREAT | O_RDWR | O_TRUNC, 0644);
    if (fd >= 0) {
        pwrite(fd, "head", 4, 0);
        pwrite(fd, "end", 3, 3 * 1024 * 1024 + 5);
        r = pread(fd, b, 1 << 20, 1 << 20);
        result(r == (1 << 20) && all_zero(b, 1 << 20), "hole between data reads zeros", "got %zd",
               r);
        close(fd);
    }
    free(b);
}

/* ------------------------------------------------------------------ big */

static void s_big(void)
{
    mkdir(P("big"), 0755);
    size_t n = (size_t)g_big;
    uint8_t *buf = malloc(n), *got = malloc(n);
    for (size_t i = 0; i < n; i++)
        buf[i] = pat(i);
    int fd = open(P("big/f"), O_CREAT | O_WRONLY | O_TRUNC, 0644);
    bool ok = fd >= 0;
    for (size_t off = 0; ok && off < n;) {
        size_t len = n - off < 262144 ? n - off : 262144;
        ssize_t w = write(fd, buf + off, len);
        ok = w > 0;
        off += w > 0 ? (size_t)w : 0;
    }
    ok = ok && close(fd) == 0;
    result(ok, "write large file", "%s", strerror(errno));
    struct stat st;
    result(stat(P("big/f"), &st) == 0 && (size_t)st.st_size == n, "large file size",
           "size %lld want %zu", (long long)st.st_size, n);
    fd = open(P("big/f"), O_RDONLY);
    size_t off = 0;
    while (fd >= 0 && off < n) {
        ssize_t r = read(fd, got + off, n - off < 100000 ? n - off : 100000);
        if (r <= 0) break;
        off += (size_t)r;
    }
    result(off == n && memcmp(got, buf, n) == 0, "large file reads back equal", "read %zu of %zu",
           off, n);
    /* Reads straddling every MiB boundary (chunk boundaries with a 1 MiB chunk size). */
    ok = fd >= 0;
    for (size_t b = 1 << 20; ok && b + 10 < n; b += 1 << 20) {
        uint8_t s[20];
        ok = pread(fd, s, 20, (off_t)(b - 10)) == 20 && memcmp(s, buf + b - 10, 20) == 0;
    }
    result(ok, "reads straddling MiB boundaries", "mismatch");
    if (fd >= 0) close(fd);
    /* Overwrite across a boundary and re-read. */
    fd = open(P("big/f"), O_WRONLY);
    if (fd >= 0) {
        memset(buf + (1 << 20) - 5000, 0x5a, 10000);
        pwrite(fd, buf + (1 << 20) - 5000, 10000, (1 << 20) - 5000);
        close(fd);
    }
    ssize_t r = read_file(P("big/f"), got, n);
    result(r == (ssize_t)n && memcmp(got, buf, n) == 0, "overwrite across boundary reads back",
           "read %zd", r);
    free(buf);
    free(got);
}

/* ------------------------------------------------------------------ mmap */

static void s_mmap(void)
{
    mkdir(P("mmap"), 0755);
    const size_t n = 2 * 1024 * 1024 + 12345;
    uint8_t *buf = malloc(n), *got = malloc(n);
    for (size_t i = 0; i < n; i++)
        buf[i] = pat(i);
    write_file(P("mmap/f"), buf, n, 0644);
    int fd = open(P("mmap/f"), O_RDWR);
    if (fd < 0) {
        result(false, "open for mmap", "%s", strerror(errno));
        return;
    }
    uint8_t *m = mmap(NULL, n, PROT_READ, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) {
        result(false, "mmap read-only", "%s", strerror(errno));
    } else {
        result(memcmp(m, buf, n) == 0, "mmap read equals file", "mismatch");
        munmap(m, n);
    }
    m = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) {
        result(false, "mmap read-write shared", "%s", strerror(errno));
    } else {
        for (size_t i = 0; i < n; i += 4096) {
            m[i] = 'M';
            buf[i] = 'M';
        }
        memcpy(m + (1 << 20) - 3, "ACROSS", 6);
        memcpy(buf + (1 << 20) - 3, "ACROSS", 6);
        m[n - 1] = 'E';
        buf[n - 1] = 'E';
        expect_ok("msync MS_SYNC", msync(m, n, MS_SYNC));
        ssize_t r = pread(fd, got, n, 0);
        result(r == (ssize_t)n && memcmp(got, buf, n) == 0, "mmap writes visible to read()",
               "read %zd", r);
        munmap(m, n);
    }
    close(fd);
    ssize_t r = read_file(P("mmap/f"), got, n);
    result(r == (ssize_t)n && memcmp(got, buf, n) == 0, "mmap writes persist after close",
           "read %zd", r);
    /* write() after mapping is visible in the mapping. */
    fd = open(P("mmap/f"), O_RDWR);
    if (fd >= 0) {
        m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
        if (m != MAP_FAILED) {
            pwrite(fd, "WRITTEN", 7, 100);
            result(memcmp(m + 100, "WRITTEN", 7) == 0, "write() visible in shared mapping",
                   "mapping stale");
            munmap(m, 4096);
        }
        /* MAP_PRIVATE changes are not written back. */
        m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
        if (m != MAP_FAILED) {
            m[0] = 'P';
            munmap(m, 4096);
            char c = 0;
            pread(fd, &c, 1, 0);
            result(c == 'M', "MAP_PRIVATE writes stay private", "file byte '%c'", c);
        }
        close(fd);
    }
    /* Extend with ftruncate, then write through a mapping of the new range. */
    fd = open(P("mmap/grow"), O_CREAT | O_RDWR | O_TRUNC, 0644);
    if (fd >= 0) {
        ftruncate(fd, 3 * 4096);
        m = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (m != MAP_FAILED) {
            memset(m + 4096, 'g', 4096);
            msync(m, 3 * 4096, MS_SYNC);
            munmap(m, 3 * 4096);
        }
        close(fd);
        r = read_file(P("mmap/grow"), got, 3 * 4096);
        bool ok = r == 3 * 4096 && all_zero(got, 4096) && all_zero(got + 8192, 4096);
        for (int i = 4096; ok && i < 8192; i++)
            ok = got[i] == 'g';
        result(ok, "mmap write into truncated-up file", "read %zd", r);
    }
    free(buf);
    free(got);
}

/* ------------------------------------------------------------------ readdir */

/* Creates (mknod) or unlinks rd/entry-000000 .. n-1 from 8 processes; true if all worked. */
static bool for_each_entry_parallel(long n, bool create)
{
    const int workers = 8;
    pid_t pids[8];
    fflush(stdout);
    for (int w = 0; w < workers; w++) {
        pids[w] = fork();
        if (pids[w] == 0) {
            for (long i = w; i < n; i += workers) {
                const char *p = P("rd/entry-%06ld", i);
                int rc = create ? mknod(p, S_IFREG | 0644, 0) : unlink(p);
                if (rc != 0) {
                    printf("      %s %s: %s\n", create ? "mknod" : "unlink", p, strerror(errno));
                    _exit(1);
                }
            }
            _exit(0);
        }
    }
    bool ok = true;
    for (int w = 0; w < workers; w++) {
        int st = 0;
        ok &= pids[w] > 0 && waitpid(pids[w], &st, 0) == pids[w] && WIFEXITED(st) &&
              WEXITSTATUS(st) == 0;
    }
    return ok;
}

static void s_readdir(void)
{
    mkdir(P("rd"), 0755);
    long n = g_dirents;
    /* Eight processes create (and later remove) the entries: concurrent namespace changes
     * in one directory, and a fraction of the wall time on a replicated metaserver. */
    bool ok = for_each_entry_parallel(n, true);
    result(ok, "create directory entries (8 processes)", "see above");
    mkdir(P("rd/subdir"), 0755);
    symlink("x", P("rd/symlink"));
    unsigned char *seen = calloc((size_t)n, 1);
    long dots = 0, dotdots = 0, other = 0, dup = 0, badtype = 0, sub = 0, sl = 0;
    DIR *d = opendir(P("rd"));
    if (!d) {
        result(false, "opendir big dir", "%s", strerror(errno));
        free(seen);
        return;
    }
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d))) {
        long idx;
        char tail;
        if (strcmp(de->d_name, ".") == 0) {
            dots++;
        } else if (strcmp(de->d_name, "..") == 0) {
            dotdots++;
        } else if (strcmp(de->d_name, "subdir") == 0) {
            sub++;
            if (de->d_type != DT_UNKNOWN && de->d_type != DT_DIR) badtype++;
        } else if (strcmp(de->d_name, "symlink") == 0) {
            sl++;
            if (de->d_type != DT_UNKNOWN && de->d_type != DT_LNK) badtype++;
        } else if (sscanf(de->d_name, "entry-%ld%c", &idx, &tail) == 1 && idx >= 0 && idx < n) {
            if (seen[idx]++) dup++;
            if (de->d_type != DT_UNKNOWN && de->d_type != DT_REG) badtype++;
        } else {
            other++;
        }
    }
    int rerr = errno;
    closedir(d);
    long missing = 0;
    for (long i = 0; i < n; i++)
        missing += !seen[i];
    char nm[96];
    snprintf(nm, sizeof nm, "readdir of %ld entries: each exactly once", n + 2);
    result(rerr == 0 && missing == 0 && dup == 0 && other == 0 && sub == 1 && sl == 1, nm,
           "missing %ld dup %ld unknown %ld subdir %ld symlink %ld errno %d", missing, dup, other,
           sub, sl, rerr);
    result(dots == 1 && dotdots == 1, "readdir lists '.' and '..' once", "%ld / %ld", dots,
           dotdots);
    result(badtype == 0, "readdir d_type correct", "%ld wrong", badtype);

    /* seekdir/telldir: resume from the middle. */
    d = opendir(P("rd"));
    if (d) {
        for (int i = 0; i < 100 && readdir(d); i++)
            ;
        long pos = telldir(d);
        de = readdir(d);
        char name[256] = "";
        if (de) snprintf(name, sizeof name, "%s", de->d_name);
        for (int i = 0; i < 50 && readdir(d); i++)
            ;
        seekdir(d, pos);
        de = readdir(d);
        result(de && strcmp(de->d_name, name) == 0, "seekdir to telldir position",
               "got '%s' want '%s'", de ? de->d_name : "(end)", name);
        closedir(d);
    }

    ok = for_each_entry_parallel(n, false);
    result(ok, "unlink all entries (8 processes)", "see above");
    rmdir(P("rd/subdir"));
    unlink(P("rd/symlink"));
    d = opendir(P("rd"));
    long left = 0;
    while (d && (de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) left++;
    if (d) closedir(d);
    result(left == 0, "emptied dir lists nothing", "%ld entries left", left);
    expect_ok("rmdir emptied dir", rmdir(P("rd")));
    free(seen);
}

/* ------------------------------------------------------------------ xattr */

static void s_xattr(void)
{
    mkdir(P("xa"), 0755);
    write_file(P("xa/f"), "x", 1, 0644);
    const char *f = P("xa/f");
    char buf[8192];
    expect_ok("setxattr", setxattr(f, "user.one", "value1", 6, 0));
    ssize_t n = getxattr(f, "user.one", buf, sizeof buf);
    result(n == 6 && memcmp(buf, "value1", 6) == 0, "getxattr returns value", "got %zd", n);
    n = getxattr(f, "user.one", NULL, 0);
    result(n == 6, "getxattr size query", "got %zd", n);
    expect_err("getxattr buffer too small -> ERANGE", getxattr(f, "user.one", buf, 3), ERANGE);
    expect_err("getxattr missing -> ENODATA", getxattr(f, "user.none", buf, sizeof buf), ENODATA);
    expect_err("XATTR_CREATE on existing -> EEXIST", setxattr(f, "user.one", "v", 1, XATTR_CREATE),
               EEXIST);
    expect_err("XATTR_REPLACE on missing -> ENODATA",
               setxattr(f, "user.two", "v", 1, XATTR_REPLACE), ENODATA);
    expect_ok("XATTR_REPLACE on existing",
              setxattr(f, "user.one", "longer-value", 12, XATTR_REPLACE));
    n = getxattr(f, "user.one", buf, sizeof buf);
    result(n == 12 && memcmp(buf, "longer-value", 12) == 0, "replaced value", "got %zd", n);
    expect_ok("XATTR_CREATE on new", setxattr(f, "user.two", "", 0, XATTR_CREATE));
    n = getxattr(f, "user.two", buf, sizeof buf);
    result(n == 0, "empty xattr value", "got %zd", n);
    static char bin[4000];
    for (size_t i = 0; i < sizeof bin; i++)
        bin[i] = (char)i;
    expect_ok("binary 4000-byte xattr", setxattr(f, "user.bin", bin, sizeof bin, 0));
    n = getxattr(f, "user.bin", buf, sizeof buf);
    result(n == (ssize_t)sizeof bin && memcmp(buf, bin, sizeof bin) == 0, "binary value intact",
           "got %zd", n);
    n = listxattr(f, buf, sizeof buf);
    bool one = false, two = false, binf = false;
    for (ssize_t i = 0; n > 0 && i < n; i += (ssize_t)strlen(buf + i) + 1) {
        one |= strcmp(buf + i, "user.one") == 0;
        two |= strcmp(buf + i, "user.two") == 0;
        binf |= strcmp(buf + i, "user.bin") == 0;
    }
    result(one && two && binf, "listxattr lists all names", "got %zd bytes", n);
    ssize_t need = listxattr(f, NULL, 0);
    result(need == n, "listxattr size query", "%zd vs %zd", need, n);
    expect_err("listxattr buffer too small -> ERANGE", listxattr(f, buf, 3), ERANGE);
    expect_ok("removexattr", removexattr(f, "user.one"));
    expect_err("getxattr after remove -> ENODATA", getxattr(f, "user.one", buf, sizeof buf),
               ENODATA);
    expect_err("removexattr missing -> ENODATA", removexattr(f, "user.one"), ENODATA);
    expect_ok("xattr on directory", setxattr(P("xa"), "user.d", "dv", 2, 0));
    n = getxattr(P("xa"), "user.d", buf, sizeof buf);
    result(n == 2 && memcmp(buf, "dv", 2) == 0, "directory xattr value", "got %zd", n);
    link(f, P("xa/g"));
    n = getxattr(P("xa/g"), "user.bin", buf, sizeof buf);
    result(n == (ssize_t)sizeof bin, "xattrs shared by hard links", "got %zd", n);
    rename(f, P("xa/h"));
    n = getxattr(P("xa/h"), "user.two", buf, sizeof buf);
    result(n == 0, "xattrs survive rename", "got %zd errno %s", n, strerror(errno));
    expect_err("getxattr on missing file -> ENOENT", getxattr(P("xa/none"), "user.x", buf, 10),
               ENOENT);
}

/* ------------------------------------------------------------------ times */

static void s_times(void)
{
    mkdir(P("tm"), 0755);
    write_file(P("tm/f"), "x", 1, 0644);
    const char *f = P("tm/f");
    struct timespec ts[2] = {{1000, 500}, {2000, 700}};
    expect_ok("utimensat explicit times", utimensat(AT_FDCWD, f, ts, 0));
    struct stat st;
    stat(f, &st);
    result(ts_ns(st.st_atim) == 1000000000500LL && ts_ns(st.st_mtim) == 2000000000700LL,
           "explicit atime/mtime with nanoseconds", "atime %lld mtime %lld",
           (long long)ts_ns(st.st_atim), (long long)ts_ns(st.st_mtim));
    struct timespec om[2] = {{0, UTIME_OMIT}, {3000, 0}};
    expect_ok("utimensat UTIME_OMIT atime", utimensat(AT_FDCWD, f, om, 0));
    stat(f, &st);
    result(ts_ns(st.st_atim) == 1000000000500LL && st.st_mtime == 3000, "UTIME_OMIT keeps atime",
           "atime %lld mtime %lld", (long long)ts_ns(st.st_atim), (long long)st.st_mtime);
    time_t before = time(NULL);
    struct timespec now[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
    expect_ok("utimensat UTIME_NOW atime", utimensat(AT_FDCWD, f, now, 0));
    time_t after = time(NULL);
    stat(f, &st);
    result(st.st_atime >= before - 2 && st.st_atime <= after + 2 && st.st_mtime == 3000,
           "UTIME_NOW sets atime to now, UTIME_OMIT keeps mtime", "atime %lld mtime %lld",
           (long long)st.st_atime, (long long)st.st_mtime);
    result(st.st_ctime >= before - 2, "utimensat updates ctime", "ctime %lld",
           (long long)st.st_ctime);
    expect_ok("utimes(NULL) = now", utimensat(AT_FDCWD, f, NULL, 0));
    stat(f, &st);
    result(st.st_mtime >= before - 2 && st.st_atime >= before - 2, "NULL times set both to now",
           "atime %lld mtime %lld", (long long)st.st_atime, (long long)st.st_mtime);
    int fd = open(f, O_RDWR);
    if (fd >= 0) {
        struct timespec fts[2] = {{5000, 0}, {6000, 0}};
        expect_ok("futimens", futimens(fd, fts));
        fstat(fd, &st);
        result(st.st_atime == 5000 && st.st_mtime == 6000, "futimens times", "%lld %lld",
               (long long)st.st_atime, (long long)st.st_mtime);
        before = time(NULL);
        write(fd, "more", 4);
        close(fd);
        stat(f, &st);
        result(st.st_mtime >= before - 2, "write updates mtime", "mtime %lld",
               (long long)st.st_mtime);
    }
    struct timespec old[2] = {{1000, 0}, {1000, 0}};
    utimensat(AT_FDCWD, P("tm"), old, 0);
    write_file(P("tm/new"), "", 0, 0644);
    stat(P("tm"), &st);
    result(st.st_mtime > 1000, "create updates dir mtime", "mtime %lld", (long long)st.st_mtime);
    utimensat(AT_FDCWD, P("tm"), old, 0);
    unlink(P("tm/new"));
    stat(P("tm"), &st);
    result(st.st_mtime > 1000, "unlink updates dir mtime", "mtime %lld", (long long)st.st_mtime);
    utimensat(AT_FDCWD, f, old, 0);
    truncate(f, 0);
    stat(f, &st);
    result(st.st_mtime > 1000, "truncate updates mtime", "mtime %lld", (long long)st.st_mtime);
    /* Times of a symlink itself (AT_SYMLINK_NOFOLLOW) must not touch the target. */
    symlink("f", P("tm/l"));
    utimensat(AT_FDCWD, f, old, 0);
    struct timespec lt[2] = {{7000, 0}, {7000, 0}};
    int rc = utimensat(AT_FDCWD, P("tm/l"), lt, AT_SYMLINK_NOFOLLOW);
    stat(f, &st);
    result(st.st_mtime == 1000, "AT_SYMLINK_NOFOLLOW leaves the target alone",
           "rc %d target mtime %lld", rc, (long long)st.st_mtime);
}

/* ------------------------------------------------------------------ attrs */

static void s_attrs(void)
{
    mkdir(P("at"), 0755);
    mode_t old = umask(022);
    int fd = open(P("at/f"), O_CREAT | O_WRONLY, 0777);
    if (fd >= 0) close(fd);
    struct stat st;
    stat(P("at/f"), &st);
    result(S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0755, "create mode honours umask",
           "mode %o", st.st_mode);
    result(st.st_uid == geteuid() && st.st_gid == getegid(), "new file owned by caller",
           "uid %u gid %u", st.st_uid, st.st_gid);
    mkdir(P("at/d"), 0750);
    stat(P("at/d"), &st);
    result(S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0750, "mkdir mode", "mode %o",
           st.st_mode);
    umask(old);
    expect_ok("chmod", chmod(P("at/f"), 0640));
    stat(P("at/f"), &st);
    result((st.st_mode & 07777) == 0640 && S_ISREG(st.st_mode), "chmod result", "mode %o",
           st.st_mode);
    expect_ok("chmod sticky/setgid/setuid bits", chmod(P("at/d"), 07755));
    stat(P("at/d"), &st);
    result((st.st_mode & 07777) == 07755, "special mode bits kept", "mode %o", st.st_mode);
    if (geteuid() == 0) {
        expect_ok("chown", chown(P("at/f"), 1234, 5678));
        stat(P("at/f"), &st);
        result(st.st_uid == 1234 && st.st_gid == 5678, "chown result", "%u:%u", st.st_uid,
               st.st_gid);
        expect_ok("chown -1 keeps uid", chown(P("at/f"), (uid_t)-1, 99));
        stat(P("at/f"), &st);
        result(st.st_uid == 1234 && st.st_gid == 99, "chown gid only", "%u:%u", st.st_uid,
               st.st_gid);
        expect_ok("lchown symlink", (symlink("f", P("at/l")), lchown(P("at/l"), 42, 43)));
        lstat(P("at/l"), &st);
        struct stat tst;
        stat(P("at/f"), &tst);
        result(st.st_uid == 42 && st.st_gid == 43 && tst.st_uid == 1234,
               "lchown changes the link only", "link %u:%u target %u", st.st_uid, st.st_gid,
               tst.st_uid);
    } else {
        skip("chown", "needs root");
    }
    result(stat(P("at/f"), &st) == 0 && st.st_blksize > 0, "st_blksize positive", "%ld",
           (long)st.st_blksize);
    ino_t a = ino_of(P("at/f")), b = ino_of(P("at/d"));
    result(a != 0 && b != 0 && a != b && ino_of(P("at/f")) == a,
           "inode numbers stable and distinct", "%lu %lu", (unsigned long)a, (unsigned long)b);
    fd = open(P("at/f"), O_RDWR);
    if (fd >= 0) {
        write(fd, "12345", 5);
        fstat(fd, &st);
        result(st.st_size == 5, "fstat size on open fd", "size %lld", (long long)st.st_size);
        expect_ok("fchmod", fchmod(fd, 0600));
        fstat(fd, &st);
        result((st.st_mode & 07777) == 0600, "fchmod result", "mode %o", st.st_mode);
        close(fd);
    }
    expect_ok("mknod regular file", mknod(P("at/node"), S_IFREG | 0644, 0));
    result(stat(P("at/node"), &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0,
           "mknod makes an empty regular file", "mode %o", st.st_mode);
    errno = 0;
    int rc = mknod(P("at/fifo"), S_IFIFO | 0644, 0);
    int e = errno;
    result((rc == 0 && stat(P("at/fifo"), &st) == 0 && S_ISFIFO(st.st_mode)) ||
               (rc < 0 && (e == EPERM || e == ENOSYS || e == EOPNOTSUPP)),
           "mknod fifo: a fifo or a clean refusal", "rc %d errno %s", rc, strerror(e));
    unlink(P("at/fifo"));
}

/* ------------------------------------------------------------------ misc */

static void s_misc(void)
{
    mkdir(P("misc"), 0755);
    write_file(P("misc/f"), "x", 1, 0644);
    int fd = open(P("misc/f"), O_RDWR);
    if (fd >= 0) {
        write(fd, "y", 1);
        expect_ok("fsync", fsync(fd));
        expect_ok("fdatasync", fdatasync(fd));
        close(fd);
    }
    fd = open(P("misc"), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        expect_ok("fsync on directory", fsync(fd));
        close(fd);
    }
    struct statvfs sv;
    expect_ok("statvfs", statvfs(P("misc"), &sv));
    result(sv.f_bsize > 0 && sv.f_blocks > 0 && sv.f_bfree <= sv.f_blocks &&
               sv.f_bavail <= sv.f_blocks && sv.f_namemax >= 255,
           "statvfs figures sane", "bsize %lu blocks %lu bfree %lu namemax %lu",
           (unsigned long)sv.f_bsize, (unsigned long)sv.f_blocks, (unsigned long)sv.f_bfree,
           (unsigned long)sv.f_namemax);
    expect_ok("access F_OK", access(P("misc/f"), F_OK));
    expect_err("access missing -> ENOENT", access(P("misc/none"), F_OK), ENOENT);
    expect_ok("access R_OK|W_OK", access(P("misc/f"), R_OK | W_OK));
    if (geteuid() == 0) {
        chmod(P("misc/f"), 0644);
        expect_err("root X_OK on file without x bits -> EACCES", access(P("misc/f"), X_OK), EACCES);
        chmod(P("misc/f"), 0000);
        expect_ok("root R_OK|W_OK on mode 000", access(P("misc/f"), R_OK | W_OK));
        fd = open(P("misc/f"), O_RDWR);
        expect_ok("root opens mode 000 file", fd);
        if (fd >= 0) close(fd);
        chmod(P("misc/f"), 0644);
    }
    expect_ok("access X_OK on dir", access(P("misc"), X_OK));
    /* Descriptor-relative calls. */
    int dfd = open(P("misc"), O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        fd = openat(dfd, "rel", O_CREAT | O_WRONLY, 0644);
        expect_ok("openat relative to dir fd", fd);
        if (fd >= 0) close(fd);
        expect_ok("mkdirat", mkdirat(dfd, "reld", 0755));
        expect_ok("unlinkat dir", unlinkat(dfd, "reld", AT_REMOVEDIR));
        expect_ok("unlinkat file", unlinkat(dfd, "rel", 0));
        close(dfd);
    }
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof cwd) && chdir(P("misc")) == 0) {
        result(file_equals("f", "xy") || file_equals("f", "y"), "relative path after chdir",
               "content differs");
        if (chdir(cwd) != 0) result(false, "chdir back", "%s", strerror(errno));
    }
}

/* ------------------------------------------------------------------ perms */

static int child_fails;
static void cresult(bool ok, const char *name, const char *detail)
{
    printf("%s  [uid 1000] %s%s%s\n", ok ? "ok  " : "FAIL", name, ok ? "" : ": ", ok ? "" : detail);
    fflush(stdout);
    if (!ok) child_fails++;
}
static void c_err(const char *name, long rc, int want)
{
    int e = errno;
    char d[128];
    if (rc >= 0)
        snprintf(d, sizeof d, "succeeded, wanted %s", strerror(want));
    else
        snprintf(d, sizeof d, "errno %s, wanted %s", strerror(e), strerror(want));
    cresult(rc < 0 && e == want, name, d);
}
static void c_ok(const char *name, long rc)
{
    int e = errno;
    char d[128];
    snprintf(d, sizeof d, "failed: %s", strerror(e));
    cresult(rc >= 0, name, d);
}

static void perms_child(void)
{
    struct stat st;
    c_err("open 0600 root file for reading -> EACCES", open(P("perm/secret"), O_RDONLY), EACCES);
    c_err("access R_OK on 0600 root file -> EACCES", access(P("perm/secret"), R_OK), EACCES);
    int fd = open(P("perm/pub"), O_RDONLY);
    c_ok("open 0644 root file for reading", fd);
    if (fd >= 0) close(fd);
    c_err("open 0644 root file for writing -> EACCES", open(P("perm/pub"), O_WRONLY), EACCES);
    c_err("access W_OK on 0644 root file -> EACCES", access(P("perm/pub"), W_OK), EACCES);
    c_ok("access R_OK on 0644 root file", access(P("perm/pub"), R_OK));
    c_err("truncate 0644 root file -> EACCES", truncate(P("perm/pub"), 0), EACCES);
    c_err("chmod by non-owner -> EPERM", chmod(P("perm/pub"), 0777), EPERM);
    c_err("chown by non-owner -> EPERM", chown(P("perm/pub"), 1000, 1000), EPERM);
    struct timespec ts[2] = {{1, 0}, {1, 0}};
    c_err("explicit utimensat by non-owner -> EPERM", utimensat(AT_FDCWD, P("perm/pub"), ts, 0),
          EPERM);
    c_err("utimensat(NULL) without write access -> EACCES",
          utimensat(AT_FDCWD, P("perm/pub"), NULL, 0), EACCES);
    c_ok("utimensat(NULL) with write access (0666 file)",
         utimensat(AT_FDCWD, P("perm/world"), NULL, 0));
    c_err("setxattr without write access -> EACCES", setxattr(P("perm/pub"), "user.x", "v", 1, 0),
          EACCES);
    fd = open(P("perm/grp"), O_RDONLY);
    c_ok("read 0060 file via supplementary group", fd);
    if (fd >= 0) close(fd);
    c_err("stat below dir without x -> EACCES", stat(P("perm/noexec/inner"), &st), EACCES);
    c_err("open below dir without x -> EACCES", open(P("perm/noexec/inner"), O_RDONLY), EACCES);
    c_err("opendir 0711 dir -> EACCES", open(P("perm/nolist"), O_RDONLY | O_DIRECTORY), EACCES);
    c_ok("stat known name in 0711 dir", stat(P("perm/nolist/known"), &st));
    c_err("create in 0755 root dir -> EACCES",
          open(P("perm/rootdir/new"), O_CREAT | O_WRONLY, 0644), EACCES);
    c_err("mkdir in 0755 root dir -> EACCES", mkdir(P("perm/rootdir/newd"), 0755), EACCES);
    c_err("unlink in 0755 root dir -> EACCES", unlink(P("perm/rootdir/file")), EACCES);
    c_err("rename out of 0755 root dir -> EACCES",
          rename(P("perm/rootdir/file"), P("perm/userdir/stolen")), EACCES);
    c_err("symlink in 0755 root dir -> EACCES", symlink("x", P("perm/rootdir/l")), EACCES);
    c_err("link into 0755 root dir -> EACCES", link(P("perm/world"), P("perm/rootdir/l")), EACCES);
    fd = open(P("perm/userdir/mine"), O_CREAT | O_RDWR, 0644);
    c_ok("create in 0777 dir", fd);
    if (fd >= 0) {
        fstat(fd, &st);
        cresult(st.st_uid == 1000 && st.st_gid == 1000, "new file owned by uid/gid 1000",
                "wrong owner");
        c_ok("write own file", write(fd, "mine", 4));
        c_ok("chmod own file to 0", fchmod(fd, 0));
        c_ok("write through fd after chmod 0", pwrite(fd, "MINE", 4, 0));
        close(fd);
        c_err("reopen after chmod 0 -> EACCES", open(P("perm/userdir/mine"), O_RDONLY), EACCES);
        c_ok("chmod own file back", chmod(P("perm/userdir/mine"), 0644));
        cresult(file_equals(P("perm/userdir/mine"), "MINE"), "data written after chmod 0 kept",
                "content differs");
    }
    c_ok("chgrp own file to a member group", chown(P("perm/userdir/mine"), (uid_t)-1, 2000));
    c_err("chgrp own file to a foreign group -> EPERM",
          chown(P("perm/userdir/mine"), (uid_t)-1, 3000), EPERM);
    c_err("chown own file to root -> EPERM", chown(P("perm/userdir/mine"), 0, (gid_t)-1), EPERM);
    fd = open(P("perm/sticky/childfile"), O_CREAT | O_WRONLY, 0644);
    c_ok("create in sticky dir", fd);
    if (fd >= 0) close(fd);
    c_err("unlink other's file in sticky dir -> EPERM", unlink(P("perm/sticky/rootfile")), EPERM);
    c_err("rename other's file in sticky dir -> EPERM",
          rename(P("perm/sticky/rootfile"), P("perm/sticky/moved")), EPERM);
    c_ok("write other's 0666 file in sticky dir",
         (fd = open(P("perm/sticky/rootfile"), O_WRONLY)) >= 0 ? close(fd) : -1);
    c_ok("rename own file in sticky dir",
         rename(P("perm/sticky/childfile"), P("perm/sticky/childfile2")));
    c_ok("unlink own file in sticky dir", unlink(P("perm/sticky/childfile2")));
    fd = open(P("perm/sgid/f"), O_CREAT | O_WRONLY, 0644);
    if (fd >= 0) {
        fstat(fd, &st);
        close(fd);
        cresult(st.st_gid == 2000, "file in setgid dir inherits the dir's group", "wrong gid");
    } else {
        cresult(false, "create in setgid dir", strerror(errno));
    }
    c_ok("mkdir in setgid dir", mkdir(P("perm/sgid/d"), 0755));
    cresult(stat(P("perm/sgid/d"), &st) == 0 && st.st_gid == 2000 && (st.st_mode & S_ISGID),
            "subdir of setgid dir inherits group and setgid bit", "wrong gid or mode");
    c_err("rmdir in 0755 root dir -> EACCES", rmdir(P("perm/rootdir/sub")), EACCES);
    c_err("access X_OK on 0644 file -> EACCES", access(P("perm/pub"), X_OK), EACCES);
}

static void s_perms(void)
{
    if (geteuid() != 0) {
        skip("permission checks", "need root to switch to uid 1000");
        return;
    }
    mkdir(P("perm"), 0755);
    chmod(P("perm"), 0755);
    write_file(P("perm/secret"), "s", 1, 0600);
    write_file(P("perm/pub"), "p", 1, 0644);
    chmod(P("perm/pub"), 0644);
    write_file(P("perm/world"), "w", 1, 0666);
    chmod(P("perm/world"), 0666);
    write_file(P("perm/grp"), "g", 1, 0060);
    chown(P("perm/grp"), 0, 2000);
    chmod(P("perm/grp"), 0060);
    mkdir(P("perm/noexec"), 0755);
    write_file(P("perm/noexec/inner"), "i", 1, 0644);
    chmod(P("perm/noexec"), 0644);
    mkdir(P("perm/nolist"), 0755);
    write_file(P("perm/nolist/known"), "k", 1, 0644);
    chmod(P("perm/nolist"), 0711);
    mkdir(P("perm/sticky"), 0777);
    chmod(P("perm/sticky"), 01777);
    write_file(P("perm/sticky/rootfile"), "r", 1, 0666);
    chmod(P("perm/sticky/rootfile"), 0666);
    mkdir(P("perm/rootdir"), 0755);
    mkdir(P("perm/rootdir/sub"), 0755);
    write_file(P("perm/rootdir/file"), "f", 1, 0644);
    mkdir(P("perm/userdir"), 0777);
    chmod(P("perm/userdir"), 0777);
    mkdir(P("perm/sgid"), 0777);
    chown(P("perm/sgid"), 0, 2000);
    chmod(P("perm/sgid"), 02777);

    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        gid_t groups[] = {1000, 2000};
        if (setgroups(2, groups) != 0 || setgid(1000) != 0 || setuid(1000) != 0) {
            printf("FAIL  switch to uid 1000: %s\n", strerror(errno));
            _exit(100);
        }
        umask(022);
        perms_child();
        _exit(child_fails > 99 ? 99 : child_fails);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    int fails = WIFEXITED(status) ? WEXITSTATUS(status) : 100;
    /* The child's lines are already printed; fold its count into ours. */
    if (fails == 100) {
        result(false, "permission child", "crashed or could not switch uid (status %d)", status);
    } else {
        g_fail += fails;
        result(true, "permission child completed", "%s", "");
    }
    struct stat st;
    result(stat(P("perm/sticky/rootfile"), &st) == 0, "sticky-protected file still there", "gone");
    result(stat(P("perm/rootdir/file"), &st) == 0, "root dir file still there", "gone");
    chmod(P("perm/noexec"), 0755);
    chmod(P("perm/nolist"), 0755);
}

/* ------------------------------------------------------------------ locks */

/* Waits up to 30 s for one byte on fd. */
static int wait_byte(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, ms) <= 0) return -1;
    char c;
    return read(fd, &c, 1) == 1 ? c : -1;
}

static void send_byte(int fd, char c)
{
    if (write(fd, &c, 1) != 1) _exit(120);
}

/* The child holds locks through `path` (the peer mount when given); commands: 'f' take fcntl
 * write lock 0-99, 'u' unlock it, 'F' flock LOCK_EX, 'U' flock unlock, 'S' flock LOCK_SH
 * non-blocking (replies '1'/'0'), 'X' flock LOCK_EX non-blocking (replies '1'/'0'),
 * 'r' take fcntl read lock 200-299, 'q' quit; 'd' = take fcntl lock 0-99 and exit
 * without unlocking. Every command is acknowledged with one byte. */
static void lock_child(const char *path, int in, int out)
{
    int fd = open(path, O_RDWR);
    if (fd < 0) _exit(121);
    for (;;) {
        int c = wait_byte(in, 60000);
        struct flock fl = {.l_whence = SEEK_SET, .l_start = 0, .l_len = 100};
        switch (c) {
        case 'f':
            fl.l_type = F_WRLCK;
            send_byte(out, fcntl(fd, F_SETLK, &fl) == 0 ? '1' : '0');
            break;
        case 'r':
            fl.l_type = F_RDLCK;
            fl.l_start = 200;
            send_byte(out, fcntl(fd, F_SETLK, &fl) == 0 ? '1' : '0');
            break;
        case 'u':
            fl.l_type = F_UNLCK;
            fl.l_len = 0;
            send_byte(out, fcntl(fd, F_SETLK, &fl) == 0 ? '1' : '0');
            break;
        case 'F':
            send_byte(out, flock(fd, LOCK_EX | LOCK_NB) == 0 ? '1' : '0');
            break;
        case 'U':
            send_byte(out, flock(fd, LOCK_UN) == 0 ? '1' : '0');
            break;
        case 'S':
            send_byte(out, flock(fd, LOCK_SH | LOCK_NB) == 0 ? '1' : '0');
            break;
        case 'X':
            send_byte(out, flock(fd, LOCK_EX | LOCK_NB) == 0 ? '1' : '0');
            break;
        case 'd':
            fl.l_type = F_WRLCK;
            send_byte(out, fcntl(fd, F_SETLK, &fl) == 0 ? '1' : '0');
            _exit(0);
        case 'w': /* release after a short while: the parent is (probably) blocked in SETLKW */
            wait_byte(in, 300);
            fl.l_type = F_UNLCK;
            fl.l_len = 0;
            fcntl(fd, F_SETLK, &fl);
            break;
        default:
            _exit(0);
        }
    }
}

static void on_alarm(int sig)
{
    (void)sig;
}

static void s_locks(void)
{
    mkdir(P("lk"), 0755);
    write_file(P("lk/f"), "lockfile", 8, 0644);
    const char *cpath = g_peer_base[0] ? PP("lk/f") : P("lk/f");
    const char *where = g_peer_base[0] ? " (other mount)" : "";
    int to_child[2], from_child[2];
    if (pipe(to_child) != 0 || pipe(from_child) != 0) {
        result(false, "pipe", "%s", strerror(errno));
        return;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(to_child[1]);
        close(from_child[0]);
        lock_child(cpath, to_child[0], from_child[1]);
        _exit(0);
    }
    close(to_child[0]);
    close(from_child[1]);
    int in = from_child[0], out = to_child[1];
    int fd = open(P("lk/f"), O_RDWR);
    char nm[160];
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 100};

    send_byte(out, 'f');
    snprintf(nm, sizeof nm, "peer takes fcntl write lock 0-99%s", where);
    result(wait_byte(in, 30000) == '1', nm, "child could not lock");
    expect_err("conflicting F_SETLK write -> EAGAIN", fcntl(fd, F_SETLK, &fl), EAGAIN);
    fl.l_type = F_RDLCK;
    fl.l_start = 50;
    fl.l_len = 10;
    expect_err("conflicting F_SETLK read -> EAGAIN", fcntl(fd, F_SETLK, &fl), EAGAIN);
    fl.l_type = F_WRLCK;
    fl.l_start = 100;
    fl.l_len = 100;
    expect_ok("non-overlapping F_SETLK succeeds", fcntl(fd, F_SETLK, &fl));
    fl.l_type = F_UNLCK;
    fcntl(fd, F_SETLK, &fl);
    struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 10, .l_len = 5};
    expect_ok("F_GETLK", fcntl(fd, F_GETLK, &q));
    result(q.l_type == F_WRLCK && q.l_start == 0 && q.l_len == 100 &&
               (g_peer_base[0] || q.l_pid == pid),
           "F_GETLK reports the holder's lock", "type %d start %lld len %lld pid %d", q.l_type,
           (long long)q.l_start, (long long)q.l_len, q.l_pid);
    send_byte(out, 'u');
    result(wait_byte(in, 30000) == '1', "peer unlocks", "unlock failed");
    fl.l_type = F_WRLCK;
    fl.l_start = 0;
    fl.l_len = 100;
    expect_ok("F_SETLK succeeds after release", fcntl(fd, F_SETLK, &fl));
    q = (struct flock){.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    fcntl(fd, F_GETLK, &q);
    result(q.l_type == F_UNLCK, "F_GETLK on own lock reports none", "type %d", q.l_type);
    fl.l_type = F_UNLCK;
    fl.l_len = 0;
    fcntl(fd, F_SETLK, &fl);

    /* Shared read locks coexist. */
    send_byte(out, 'r');
    wait_byte(in, 30000);
    fl = (struct flock){.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 250, .l_len = 10};
    expect_ok("read lock alongside peer's read lock", fcntl(fd, F_SETLK, &fl));
    fl.l_type = F_WRLCK;
    expect_err("upgrade to write over peer's read lock -> EAGAIN", fcntl(fd, F_SETLK, &fl), EAGAIN);
    fl.l_type = F_UNLCK;
    fcntl(fd, F_SETLK, &fl);
    send_byte(out, 'u');
    wait_byte(in, 30000);

    /* F_SETLKW waits for the holder. */
    send_byte(out, 'f');
    wait_byte(in, 30000);
    send_byte(out, 'w');
    fl = (struct flock){.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 100};
    expect_ok("F_SETLKW blocks until the peer releases", fcntl(fd, F_SETLKW, &fl));
    fl.l_type = F_UNLCK;
    fcntl(fd, F_SETLK, &fl);

    /* A signal ends a wait in F_SETLKW with EINTR (the lock stays held meanwhile). */
    send_byte(out, 'f');
    wait_byte(in, 30000);
    struct sigaction sa = {.sa_handler = on_alarm}, old_sa;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, &old_sa); /* no SA_RESTART */
    alarm(1);
    fl = (struct flock){.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 100};
    expect_err("signal interrupts F_SETLKW -> EINTR", fcntl(fd, F_SETLKW, &fl), EINTR);
    alarm(0);
    sigaction(SIGALRM, &old_sa, NULL);
    send_byte(out, 'u');
    wait_byte(in, 30000);

    /* flock. */
    send_byte(out, 'F');
    snprintf(nm, sizeof nm, "peer takes flock LOCK_EX%s", where);
    result(wait_byte(in, 30000) == '1', nm, "child could not flock");
    expect_err("flock LOCK_EX|LOCK_NB against holder -> EWOULDBLOCK", flock(fd, LOCK_EX | LOCK_NB),
               EWOULDBLOCK);
    expect_err("flock LOCK_SH|LOCK_NB against holder -> EWOULDBLOCK", flock(fd, LOCK_SH | LOCK_NB),
               EWOULDBLOCK);
    send_byte(out, 'U');
    wait_byte(in, 30000);
    expect_ok("flock LOCK_EX after release", flock(fd, LOCK_EX | LOCK_NB));
    flock(fd, LOCK_UN);
    expect_ok("flock LOCK_SH", flock(fd, LOCK_SH | LOCK_NB));
    send_byte(out, 'S');
    result(wait_byte(in, 30000) == '1', "peer shares LOCK_SH", "refused");
    send_byte(out, 'X');
    result(wait_byte(in, 30000) == '0', "peer LOCK_EX refused while shared", "granted");
    send_byte(out, 'U');
    wait_byte(in, 30000);
    flock(fd, LOCK_UN);

    /* A lock dies with its process. */
    send_byte(out, 'd');
    wait_byte(in, 30000);
    int status;
    waitpid(pid, &status, 0);
    fl = (struct flock){.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 100};
    int rc = -1;
    /* The release travels asynchronously through the peer's daemon: poll, bounded. */
    for (int i = 0; i < 100 && rc != 0; i++) {
        rc = fcntl(fd, F_SETLK, &fl);
        if (rc != 0) usleep(100000);
    }
    result(rc == 0, "lock released when the holder exits", "%s", strerror(errno));
    close(fd);
    close(in);
    close(out);
}

/* ------------------------------------------------------------------ peer */

static void s_peer(void)
{
    if (!g_peer_base[0]) {
        skip("close-to-open across mounts", "no -p PEER_DIR");
        return;
    }
    mkdir(P("peer"), 0755);
    write_file(P("peer/f"), "written on mount one", 20, 0644);
    check_content("file closed on one mount reads whole on the other", PP("peer/f"),
                  "written on mount one");
    write_file(PP("peer/f"), "two", 3, 0644);
    check_content("rewrite on the other mount seen after reopen", P("peer/f"), "two");
    int fd = open(PP("peer/f"), O_WRONLY | O_APPEND);
    if (fd >= 0) {
        write(fd, "+more", 5);
        close(fd);
    }
    check_content("append on the other mount seen after reopen", P("peer/f"), "two+more");
    mkdir(PP("peer/d"), 0755);
    /* This mount may answer from its cached listing of peer/ until the entry timeout. */
    bool seen = false;
    for (int i = 0; i < 100 && !seen; i++) {
        seen = exists(P("peer/d"));
        if (!seen) usleep(100000);
    }
    result(seen, "mkdir on one mount visible on the other (within entry timeout)", "missing");
    unlink(PP("peer/f"));
    /* The other mount may serve the name from its entry cache until the entry timeout. */
    bool gone = false;
    for (int i = 0; i < 100 && !gone; i++) {
        gone = !exists(P("peer/f"));
        if (!gone) usleep(100000);
    }
    result(gone, "unlink on one mount visible on the other (within entry timeout)", "still there");
}

/* ------------------------------------------------------------------ dircache */

/* Drops the kernel's unused names and inodes (root only), so the next path walk asks the file
 * system again: whatever a cache in the file system answers then must be current. */
static bool forget_kernel_names(void)
{
    int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
    if (fd < 0) return false;
    bool ok = write(fd, "2", 1) == 1;
    close(fd);
    return ok;
}

static bool lstat_fresh(const char *path, struct stat *st)
{
    forget_kernel_names();
    return lstat(path, st) == 0;
}

static long listing_size(const char *dir)
{
    long n = 0;
    DIR *d = opendir(dir);
    if (!d) return -1;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) n++;
    closedir(d);
    return n;
}

/* Polls up to 5 s: a name kept for an open file may go only at the (asynchronous) release. */
static void listing_size_is(const char *name, const char *dir, long want)
{
    long n = listing_size(dir);
    for (int i = 0; i < 50 && n != want; i++) {
        usleep(100000);
        n = listing_size(dir);
    }
    result(n == want, name, "%ld entries, wanted %ld", n, want);
}

/* Changes through this file system seen by lookups that reach it (kernel names dropped
 * before each check), right after the change: a directory cache must stay exact. */
static void s_dircache(void)
{
    struct stat st, before;
    if (!forget_kernel_names()) {
        skip("dircache", "needs root (writes /proc/sys/vm/drop_caches)");
        return;
    }
    mkdir(P("dc"), 0755);
    for (int i = 0; i < 20; i++)
        write_file(P("dc/f%d", i), "x", 1, 0644);
    /* A listing (and a run of lookups) lets a cache take the whole directory. */
    listing_size_is("dircache: 20 files listed", P("dc"), 20);
    for (int i = 0; i < 3; i++) {
        expect_err("dircache: absent name -> ENOENT", lstat_fresh(P("dc/none%d", i), &st) ? 0 : -1,
                   ENOENT);
    }
    result(lstat_fresh(P("dc/f0"), &st) && st.st_size == 1, "dircache: listed file found",
           "missing or size %lld", (long long)st.st_size);

    write_file(P("dc/new"), "hello", 5, 0600);
    result(lstat_fresh(P("dc/new"), &st) && st.st_size == 5 && (st.st_mode & 07777) == 0600,
           "dircache: created file found with its size and mode", "size %lld mode %o",
           (long long)st.st_size, st.st_mode);
    unlink(P("dc/f1"));
    expect_err("dircache: unlinked -> ENOENT", lstat_fresh(P("dc/f1"), &st) ? 0 : -1, ENOENT);

    ino_t i2 = ino_of(P("dc/f2")), i3 = ino_of(P("dc/f3")), i5 = ino_of(P("dc/f5")),
          i6 = ino_of(P("dc/f6"));
    rename(P("dc/f2"), P("dc/g2"));
    result(!lstat_fresh(P("dc/f2"), &st) && lstat_fresh(P("dc/g2"), &st) && st.st_ino == i2,
           "dircache: rename moves the name", "wrong");
    rename(P("dc/f3"), P("dc/f4"));
    result(!lstat_fresh(P("dc/f3"), &st) && lstat_fresh(P("dc/f4"), &st) && st.st_ino == i3,
           "dircache: rename over an existing name", "wrong");
    renameat2(AT_FDCWD, P("dc/f5"), AT_FDCWD, P("dc/f6"), RENAME_EXCHANGE);
    result(ino_of(P("dc/f5")) == i6 && lstat_fresh(P("dc/f6"), &st) && st.st_ino == i5,
           "dircache: exchange swaps the names", "wrong");
    mkdir(P("dc/sub"), 0755);
    rename(P("dc/f7"), P("dc/sub/f7"));
    result(!lstat_fresh(P("dc/f7"), &st) && lstat_fresh(P("dc/sub/f7"), &st),
           "dircache: rename into another directory", "wrong");

    chmod(P("dc/f8"), 0640);
    result(lstat_fresh(P("dc/f8"), &st) && (st.st_mode & 07777) == 0640,
           "dircache: chmod seen by a new lookup", "mode %o", st.st_mode);
    truncate(P("dc/f9"), 1000);
    result(lstat_fresh(P("dc/f9"), &st) && st.st_size == 1000,
           "dircache: truncate seen by a new lookup", "size %lld", (long long)st.st_size);
    write_file(P("dc/f10"), "abcdef", 6, 0644);
    result(lstat_fresh(P("dc/f10"), &st) && st.st_size == 6,
           "dircache: rewrite seen by a new lookup", "size %lld", (long long)st.st_size);
    lstat(P("dc/f12"), &before);
    setxattr(P("dc/f12"), "user.dc", "v", 1, 0);
    result(lstat_fresh(P("dc/f12"), &st) && (st.st_ctim.tv_sec != before.st_ctim.tv_sec ||
                                             st.st_ctim.tv_nsec != before.st_ctim.tv_nsec),
           "dircache: setxattr moves ctime", "ctime unchanged");

    link(P("dc/f11"), P("dc/f11b"));
    result(lstat_fresh(P("dc/f11"), &st) && st.st_nlink == 2 && lstat_fresh(P("dc/f11b"), &st) &&
               st.st_nlink == 2,
           "dircache: link count 2 on both names", "nlink %lld", (long long)st.st_nlink);
    unlink(P("dc/f11b"));
    result(lstat_fresh(P("dc/f11"), &st) && st.st_nlink == 1, "dircache: link count back to 1",
           "nlink %lld", (long long)st.st_nlink);

    /* The parent's attributes after changes in it (answered from the change's reply). */
    lstat(P("dc"), &before);
    mkdir(P("dc/d1"), 0755);
    result(lstat(P("dc"), &st) == 0 && st.st_nlink == before.st_nlink + 1 &&
               (st.st_mtim.tv_sec != before.st_mtim.tv_sec ||
                st.st_mtim.tv_nsec != before.st_mtim.tv_nsec),
           "dircache: mkdir: parent nlink +1 and new mtime", "nlink %lld (was %lld)",
           (long long)st.st_nlink, (long long)before.st_nlink);
    rmdir(P("dc/d1"));
    result(lstat_fresh(P("dc"), &st) && st.st_nlink == before.st_nlink,
           "dircache: rmdir: parent nlink back", "nlink %lld", (long long)st.st_nlink);
    lstat(P("dc"), &before);
    write_file(P("dc/m"), "", 0, 0644);
    result(lstat(P("dc"), &st) == 0 && (st.st_mtim.tv_sec != before.st_mtim.tv_sec ||
                                        st.st_mtim.tv_nsec != before.st_mtim.tv_nsec),
           "dircache: create moves the parent's mtime", "unchanged");
    lstat(P("dc/sub"), &before);
    rename(P("dc/m"), P("dc/sub/m"));
    result(lstat(P("dc/sub"), &st) == 0 && (st.st_mtim.tv_sec != before.st_mtim.tv_sec ||
                                            st.st_mtim.tv_nsec != before.st_mtim.tv_nsec),
           "dircache: rename moves the destination's mtime", "unchanged");

    /* An open file unlinked: gone by name, readable by descriptor, no name left after close. */
    int fd = open(P("dc/f13"), O_RDONLY);
    unlink(P("dc/f13"));
    expect_err("dircache: unlinked open file -> ENOENT", lstat_fresh(P("dc/f13"), &st) ? 0 : -1,
               ENOENT);
    result(fd >= 0 && fstat(fd, &st) == 0, "dircache: unlinked open file fstat", "failed");
    if (fd >= 0) close(fd);
    /* f0 f2->g2 f4 f5 f6 f8..f10 f11 f12 f14..f19 new sub: f1, f3, f7, f13 gone */
    listing_size_is("dircache: listing after the changes", P("dc"), 18);
}

/* ------------------------------------------------------------------ main */

static int rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) return -1;
    if (S_ISDIR(st.st_mode)) {
        chmod(path, 0755);
        DIR *d = opendir(path);
        if (!d) return -1;
        struct dirent *de;
        while ((de = readdir(d))) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
            char sub[PATH_MAX];
            snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
            rm_rf(sub);
        }
        closedir(d);
        return rmdir(path);
    }
    return unlink(path);
}

struct section {
    const char *name;
    void (*fn)(void);
};

static const struct section sections[] = {
    {"names", s_names}, {"rename", s_rename},     {"links", s_links},   {"symlinks", s_symlinks},
    {"io", s_io},       {"truncate", s_truncate}, {"sparse", s_sparse}, {"big", s_big},
    {"mmap", s_mmap},   {"readdir", s_readdir},   {"xattr", s_xattr},   {"times", s_times},
    {"attrs", s_attrs}, {"misc", s_misc},         {"perms", s_perms},   {"locks", s_locks},
    {"peer", s_peer},   {"dircache", s_dircache},
};

static void usage(void)
{
    fprintf(stderr, "usage: posix_suite [-s SECTIONS] [-n DIRENTS] [-b BIG_BYTES] [-p PEER_DIR] "
                    "DIR\nsections:");
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++)
        fprintf(stderr, " %s", sections[i].name);
    fprintf(stderr, "\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *only = NULL, *peer = NULL;
    int c;
    while ((c = getopt(argc, argv, "s:n:b:p:h")) != -1) {
        switch (c) {
        case 's':
            only = optarg;
            break;
        case 'n':
            g_dirents = strtol(optarg, NULL, 10);
            break;
        case 'b':
            g_big = strtol(optarg, NULL, 10);
            break;
        case 'p':
            peer = optarg;
            break;
        default:
            usage();
        }
    }
    if (optind != argc - 1 || g_dirents < 1 || g_big < 1) usage();
    signal(SIGPIPE, SIG_IGN);
    snprintf(g_base, sizeof g_base, "%s/psuite.%d", argv[optind], (int)getpid());
    if (peer) snprintf(g_peer_base, sizeof g_peer_base, "%s/psuite.%d", peer, (int)getpid());
    if (mkdir(g_base, 0755) != 0 || chmod(g_base, 0755) != 0) {
        fprintf(stderr, "posix_suite: cannot create %s: %s\n", g_base, strerror(errno));
        return 2;
    }
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++) {
        if (only) {
            bool want = false;
            char *copy = strdup(only), *save = NULL;
            for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
                want |= strcmp(t, sections[i].name) == 0;
            free(copy);
            if (!want) continue;
        }
        printf("# section %s\n", sections[i].name);
        fflush(stdout);
        sections[i].fn();
    }
    printf("# %d passed, %d failed, %d skipped\n", g_pass, g_fail, g_skip);
    if (g_fail == 0)
        rm_rf(g_base);
    else
        printf("# left %s for inspection\n", g_base);
    return g_fail ? 1 : 0;
}
