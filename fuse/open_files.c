#include "fuse/open_files.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/errors.h"
#include "common/log.h"
#include "fuse/fuse_metrics.h"

#define NBUCKETS 4096

struct ofile {
    uint64_t ino;
    cfs_fs *fs;
    int lease_wait_ms;
    int refs; /* open_refs + in-progress opens; guarded by the table lock */
    ofile *next;
    /* The fields below are guarded by `rw`: data calls hold it shared, handle changes
     * exclusively. */
    pthread_rwlock_t rw;
    int readers, writers;
    cfs_file *wr;         /* shared write handle (lease) while writers > 0 */
    bool wr_reads;        /* wr was opened O_RDWR */
    cfs_file *rd;         /* read handle when wr cannot serve reads */
    cfs_cred reader_cred; /* to reopen a read handle when the writer leaves */
    cfs_cred writer_cred; /* to take the lease again after close(2) gave it back */
    int wr_acc;           /* O_WRONLY or O_RDWR for reopening wr */
    atomic_bool dirty;    /* writes since the last commit */
    char *hidden_name;    /* unlinked while open: renamed to this, removed at last close */
    uint64_t hidden_parent;
    cfs_cred hidden_cred;
    atomic_bool locked;
    /* Reads of one file go one at a time: the kernel sends read-ahead requests of one
     * sequential stream in parallel and out of order, which would defeat libchunkfs's
     * per-handle sequential read-ahead (and its window is shared state of the handle). */
    pthread_mutex_t read_mu;
};

struct open_files {
    cfs_fs *fs;
    int lease_wait_ms;
    pthread_mutex_t lock;
    atomic_long count; /* entries in the table */
    atomic_ulong hidden_seq;
    dir_cache *dcache; /* told about hidden names removed at the last close; may be NULL */
    ofile *buckets[NBUCKETS];
};

static size_t bucket_of(uint64_t ino)
{
    return (size_t)((ino * 0x9e3779b97f4a7c15ULL) >> 52) & (NBUCKETS - 1);
}

open_files *open_files_new(cfs_fs *fs, int lease_wait_ms)
{
    open_files *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->fs = fs;
    t->lease_wait_ms = lease_wait_ms;
    pthread_mutex_init(&t->lock, NULL);
    return t;
}

static void close_logged(cfs_file **f, uint64_t ino)
{
    if (!*f) return;
    int rc = cfs_close(*f);
    *f = NULL;
    if (rc < 0) LOG_ERROR("closing inode %llu: %s", (unsigned long long)ino, cfs_strerror(rc));
}

/* Closes the shared write handle (lease) if held; errors are logged. */
static void close_wr_logged(ofile *of)
{
    if (of->wr) fuse_metrics_write_handles(-1);
    close_logged(&of->wr, of->ino);
}

void open_files_free(open_files *t)
{
    if (!t) return;
    for (size_t b = 0; b < NBUCKETS; b++) {
        ofile *of = t->buckets[b];
        while (of) {
            ofile *next = of->next;
            close_wr_logged(of);
            close_logged(&of->rd, of->ino);
            if (of->hidden_name) {
                cfs_unlink(t->fs, of->hidden_parent, of->hidden_name, &of->hidden_cred);
                free(of->hidden_name);
            }
            pthread_rwlock_destroy(&of->rw);
            pthread_mutex_destroy(&of->read_mu);
            free(of);
            of = next;
        }
    }
    pthread_mutex_destroy(&t->lock);
    free(t);
}

/* Finds or creates the inode's entry with one more reference. */
static ofile *get_ofile(open_files *t, uint64_t ino)
{
    pthread_mutex_lock(&t->lock);
    size_t b = bucket_of(ino);
    ofile *of = t->buckets[b];
    while (of && of->ino != ino)
        of = of->next;
    if (!of) {
        of = calloc(1, sizeof *of);
        if (of) {
            of->ino = ino;
            of->fs = t->fs;
            of->lease_wait_ms = t->lease_wait_ms;
            pthread_rwlock_init(&of->rw, NULL);
            pthread_mutex_init(&of->read_mu, NULL);
            of->next = t->buckets[b];
            t->buckets[b] = of;
            atomic_fetch_add(&t->count, 1);
        }
    }
    if (of) of->refs++;
    pthread_mutex_unlock(&t->lock);
    return of;
}

/* Finds the inode's entry, if open, with one more reference. */
static ofile *find_ofile(open_files *t, uint64_t ino)
{
    pthread_mutex_lock(&t->lock);
    ofile *of = t->buckets[bucket_of(ino)];
    while (of && of->ino != ino)
        of = of->next;
    if (of) of->refs++;
    pthread_mutex_unlock(&t->lock);
    return of;
}

static void put_ofile(open_files *t, ofile *of)
{
    pthread_mutex_lock(&t->lock);
    bool last = --of->refs == 0;
    if (last) {
        ofile **pp = &t->buckets[bucket_of(of->ino)];
        while (*pp != of)
            pp = &(*pp)->next;
        *pp = of->next;
        atomic_fetch_sub(&t->count, 1);
    }
    pthread_mutex_unlock(&t->lock);
    if (!last) return;
    /* Nobody else can reach it now; handles were closed by the last release. */
    close_wr_logged(of);
    close_logged(&of->rd, of->ino);
    if (of->hidden_name) {
        uint64_t token = t->dcache ? dir_cache_begin(t->dcache) : 0;
        int rc = cfs_unlink(t->fs, of->hidden_parent, of->hidden_name, &of->hidden_cred);
        if (t->dcache) {
            dir_cache_remove_entry(t->dcache, of->hidden_parent, of->hidden_name);
            dir_cache_forget_attr(t->dcache, of->hidden_parent);
            dir_cache_end(t->dcache, token);
        }
        if (rc < 0 && rc != -ENOENT)
            LOG_WARN("removing %s (unlinked while open) in dir %llu: %s", of->hidden_name,
                     (unsigned long long)of->hidden_parent, cfs_strerror(rc));
        free(of->hidden_name);
    }
    pthread_rwlock_destroy(&of->rw);
    pthread_mutex_destroy(&of->read_mu);
    free(of);
}

bool open_files_any(open_files *t)
{
    return atomic_load(&t->count) > 0;
}

bool open_files_is_open(open_files *t, uint64_t ino)
{
    if (!open_files_any(t)) return false;
    pthread_mutex_lock(&t->lock);
    ofile *of = t->buckets[bucket_of(ino)];
    while (of && of->ino != ino)
        of = of->next;
    pthread_mutex_unlock(&t->lock);
    return of != NULL;
}

void open_files_set_dir_cache(open_files *t, dir_cache *c)
{
    t->dcache = c;
}

int open_files_hide(open_files *t, uint64_t ino, uint64_t parent, const char *name,
                    const cfs_cred *cred, char *hidden, size_t hidden_size)
{
    ofile *of = find_ofile(t, ino);
    if (!of) return 0;
    snprintf(hidden, hidden_size, ".cfs_hidden.%llu.%lu", (unsigned long long)ino,
             (unsigned long)atomic_fetch_add(&t->hidden_seq, 1));
    int rc = cfs_rename(t->fs, parent, name, parent, hidden, CFS_RENAME_NOREPLACE, cred);
    if (rc < 0) {
        put_ofile(t, of);
        return rc;
    }
    char *copy = strdup(hidden);
    pthread_rwlock_wrlock(&of->rw);
    if (copy) {
        free(of->hidden_name);
        of->hidden_name = copy;
        of->hidden_parent = parent;
        of->hidden_cred = *cred;
    }
    pthread_rwlock_unlock(&of->rw);
    put_ofile(t, of);
    return copy ? 1 : -ENOMEM;
}

/* Handle management; all with of->rw held exclusively. The write handle may be absent while
 * writers remain: close(2) of the last writing descriptor gives the lease back at once (other
 * clients may write right after), and a later write through a dup'ed descriptor or a shared
 * mapping takes it again with the writer's credentials. */
static int ensure_wr(ofile *of)
{
    if (of->wr) return 0;
    /* Another client writing the file: wait for its close, bounded by the op timeout. */
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    int wait_ms = 10, rc;
    for (;;) {
        rc = cfs_open(of->fs, of->ino, of->wr_acc, &of->writer_cred, &of->wr);
        if (rc != -CFS_ELEASE) break;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long waited = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (waited >= of->lease_wait_ms) break;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)wait_ms * 1000000};
        nanosleep(&ts, NULL);
        wait_ms = wait_ms * 2 > 500 ? 500 : wait_ms * 2;
    }
    of->wr_reads = rc == 0 && of->wr_acc == O_RDWR;
    if (rc == 0) fuse_metrics_write_handles(+1);
    return rc;
}

static int ensure_rd(ofile *of)
{
    if (of->rd || (of->wr && of->wr_reads)) return 0;
    return cfs_open(of->fs, of->ino, O_RDONLY, &of->reader_cred, &of->rd);
}

static int drop_wr(ofile *of)
{
    if (!of->wr) return 0;
    fuse_metrics_write_handles(-1);
    int rc = cfs_close(of->wr);
    of->wr = NULL;
    of->wr_reads = false;
    atomic_store(&of->dirty, false);
    return rc;
}

int open_files_open(open_files *t, uint64_t ino, int flags, const cfs_cred *cred, open_ref *ref,
                    cfs_attr *attr, bool *fresh)
{
    int acc = flags & O_ACCMODE;
    bool need_r = acc != O_WRONLY, need_w = acc != O_RDONLY;
    ofile *of = get_ofile(t, ino);
    if (!of) return -ENOMEM;
    pthread_rwlock_wrlock(&of->rw);
    bool had_lease = of->wr != NULL;
    cfs_file *new_rd = NULL;
    int mask = need_w ? W_OK : 0, rc = 0;
    /* Writing descriptors take the write lease at their first write, not here: two clients
     * may both open a file read-write (to lock it, say) and only writers queue. */
    if (need_r && !of->rd && !(of->wr && of->wr_reads))
        rc = cfs_open(t->fs, ino, O_RDONLY, cred, &new_rd);
    else if (need_r)
        mask |= R_OK;
    if (rc == 0 && mask) rc = cfs_access(t->fs, ino, mask, cred);
    if (rc == 0) {
        if (new_rd)
            rc = cfs_fgetattr(new_rd, attr);
        else if (!had_lease)
            rc = cfs_getattr(t->fs, ino, cred, attr);
    }
    if (rc < 0) {
        if (new_rd) close_logged(&new_rd, ino);
        pthread_rwlock_unlock(&of->rw);
        put_ofile(t, of);
        return rc;
    }
    if (new_rd) of->rd = new_rd;
    if (need_w) {
        of->writer_cred = *cred;
        /* A lease taken later serves every writer: read-write if any of them reads. */
        if (of->writers == 0 || acc == O_RDWR) of->wr_acc = acc;
    }
    if (need_r && of->readers == 0) of->reader_cred = *cred;
    of->readers += need_r;
    of->writers += need_w;
    pthread_rwlock_unlock(&of->rw);
    *fresh = !had_lease;
    *ref = (open_ref){.of = of, .reader = need_r, .writer = need_w};
    fuse_metrics_open_files(+1);
    return 0;
}

int open_files_adopt(open_files *t, uint64_t ino, cfs_file *fh, int flags, const cfs_cred *cred,
                     open_ref *ref)
{
    int acc = flags & O_ACCMODE;
    bool need_r = acc != O_WRONLY, need_w = acc != O_RDONLY;
    ofile *of = get_ofile(t, ino);
    if (!of) {
        close_logged(&fh, ino);
        return -ENOMEM;
    }
    pthread_rwlock_wrlock(&of->rw);
    /* Normally the inode is new to this mount; if another descriptor raced us here, keep the
     * handle already shared and drop the new one. */
    if (need_w && !of->wr) {
        of->wr = fh;
        of->wr_reads = acc == O_RDWR;
        fuse_metrics_write_handles(+1);
    } else if (!need_w && !of->rd && !(of->wr && of->wr_reads)) {
        of->rd = fh;
    } else {
        close_logged(&fh, ino);
    }
    if (need_w) {
        of->writer_cred = *cred;
        of->wr_acc = of->wr_reads ? O_RDWR : acc;
    }
    if (need_r && of->readers == 0) of->reader_cred = *cred;
    of->readers += need_r;
    of->writers += need_w;
    pthread_rwlock_unlock(&of->rw);
    *ref = (open_ref){.of = of, .reader = need_r, .writer = need_w};
    fuse_metrics_open_files(+1);
    return 0;
}

int open_files_release(open_files *t, open_ref *ref)
{
    ofile *of = ref->of;
    int rc = 0;
    pthread_rwlock_wrlock(&of->rw);
    of->readers -= ref->reader;
    of->writers -= ref->writer;
    if (of->writers == 0) rc = drop_wr(of);
    if (of->readers == 0 && of->rd) close_logged(&of->rd, of->ino);
    pthread_rwlock_unlock(&of->rw);
    put_ofile(t, of);
    ref->of = NULL;
    fuse_metrics_open_files(-1);
    return rc;
}

int ofile_flush(const open_ref *ref)
{
    ofile *of = ref->of;
    if (!ref->writer) return 0;
    pthread_rwlock_wrlock(&of->rw);
    bool only_writer = of->writers == 1;
    int rc = only_writer ? drop_wr(of) : 0;
    pthread_rwlock_unlock(&of->rw);
    return only_writer ? rc : ofile_commit(ref);
}

static ssize_t read_locked(const open_ref *ref, void *buf, size_t size, uint64_t off)
{
    ofile *of = ref->of;
    if (!ref->reader) return -EBADF;
    ssize_t rc;
    pthread_rwlock_rdlock(&of->rw);
    if (of->wr && of->wr_reads) {
        rc = cfs_pread(of->wr, buf, size, off);
        pthread_rwlock_unlock(&of->rw);
        return rc;
    }
    if (of->rd && !(of->wr && atomic_load(&of->dirty))) {
        rc = cfs_pread(of->rd, buf, size, off);
        pthread_rwlock_unlock(&of->rw);
        return rc;
    }
    pthread_rwlock_unlock(&of->rw);
    /* Slow path: a read handle is missing, or a write-only handle of this mount buffered
     * data the read handle cannot see: commit it and read through a fresh handle. */
    pthread_rwlock_wrlock(&of->rw);
    rc = 0;
    if (of->wr && atomic_exchange(&of->dirty, false)) {
        rc = cfs_fsync(of->wr);
        if (rc < 0)
            atomic_store(&of->dirty, true);
        else
            close_logged(&of->rd, of->ino);
    }
    if (rc == 0) rc = ensure_rd(of);
    if (rc == 0) rc = cfs_pread(of->wr && of->wr_reads ? of->wr : of->rd, buf, size, off);
    pthread_rwlock_unlock(&of->rw);
    return rc;
}

ssize_t ofile_read(const open_ref *ref, void *buf, size_t size, uint64_t off)
{
    pthread_mutex_lock(&ref->of->read_mu);
    ssize_t rc = read_locked(ref, buf, size, off);
    pthread_mutex_unlock(&ref->of->read_mu);
    return rc;
}

void open_files_size_changed(open_files *t, uint64_t ino)
{
    ofile *of = find_ofile(t, ino);
    if (!of) return;
    /* A read handle caches the size, chunk list and read-ahead: start it afresh. */
    pthread_rwlock_wrlock(&of->rw);
    close_logged(&of->rd, of->ino);
    pthread_rwlock_unlock(&of->rw);
    put_ofile(t, of);
}

ssize_t ofile_write(const open_ref *ref, const void *buf, size_t size, uint64_t off)
{
    ofile *of = ref->of;
    for (int attempt = 0;; attempt++) {
        pthread_rwlock_rdlock(&of->rw);
        if (of->wr) {
            atomic_store(&of->dirty, true);
            ssize_t rc = cfs_pwrite(of->wr, buf, size, off);
            pthread_rwlock_unlock(&of->rw);
            return rc;
        }
        pthread_rwlock_unlock(&of->rw);
        if (!ref->writer || attempt > 0) return -EBADF;
        pthread_rwlock_wrlock(&of->rw);
        int orc = of->writers > 0 ? ensure_wr(of) : -EBADF;
        pthread_rwlock_unlock(&of->rw);
        if (orc < 0) return orc;
    }
}

int ofile_commit(const open_ref *ref)
{
    ofile *of = ref->of;
    int rc = 0;
    pthread_rwlock_rdlock(&of->rw);
    if (of->wr && atomic_exchange(&of->dirty, false)) {
        rc = cfs_fsync(of->wr);
        if (rc < 0) atomic_store(&of->dirty, true);
    }
    pthread_rwlock_unlock(&of->rw);
    return rc;
}

int ofile_getattr(const open_ref *ref, cfs_attr *out)
{
    ofile *of = ref->of;
    int rc;
    pthread_rwlock_rdlock(&of->rw);
    if (of->wr)
        rc = cfs_fgetattr(of->wr, out);
    else if (of->rd)
        rc = cfs_fgetattr(of->rd, out);
    else
        rc = -EBADF;
    pthread_rwlock_unlock(&of->rw);
    return rc;
}

void ofile_set_locked(const open_ref *ref)
{
    atomic_store(&ref->of->locked, true);
}

bool ofile_locked(const open_ref *ref)
{
    return atomic_load(&ref->of->locked);
}

uint64_t ofile_ino(const open_ref *ref)
{
    return ref->of->ino;
}
