#include "fuse/open_files.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/errors.h"
#include "common/log.h"

#define NBUCKETS 4096

struct ofile {
    uint64_t ino;
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
    atomic_bool dirty;    /* writes since the last commit */
    char *hidden_name;    /* unlinked while open: renamed to this, removed at last close */
    uint64_t hidden_parent;
    cfs_cred hidden_cred;
    atomic_bool locked;
};

struct open_files {
    cfs_fs *fs;
    pthread_mutex_t lock;
    atomic_long count; /* entries in the table */
    atomic_ulong hidden_seq;
    ofile *buckets[NBUCKETS];
};

static size_t bucket_of(uint64_t ino)
{
    return (size_t)((ino * 0x9e3779b97f4a7c15ULL) >> 52) & (NBUCKETS - 1);
}

open_files *open_files_new(cfs_fs *fs)
{
    open_files *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->fs = fs;
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

void open_files_free(open_files *t)
{
    if (!t) return;
    for (size_t b = 0; b < NBUCKETS; b++) {
        ofile *of = t->buckets[b];
        while (of) {
            ofile *next = of->next;
            close_logged(&of->wr, of->ino);
            close_logged(&of->rd, of->ino);
            if (of->hidden_name) {
                cfs_unlink(t->fs, of->hidden_parent, of->hidden_name, &of->hidden_cred);
                free(of->hidden_name);
            }
            pthread_rwlock_destroy(&of->rw);
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
            pthread_rwlock_init(&of->rw, NULL);
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
    close_logged(&of->wr, of->ino);
    close_logged(&of->rd, of->ino);
    if (of->hidden_name) {
        int rc = cfs_unlink(t->fs, of->hidden_parent, of->hidden_name, &of->hidden_cred);
        if (rc < 0 && rc != -ENOENT)
            LOG_WARN("removing %s (unlinked while open) in dir %llu: %s", of->hidden_name,
                     (unsigned long long)of->hidden_parent, cfs_strerror(rc));
        free(of->hidden_name);
    }
    pthread_rwlock_destroy(&of->rw);
    free(of);
}

bool open_files_any(open_files *t)
{
    return atomic_load(&t->count) > 0;
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

int open_files_open(open_files *t, uint64_t ino, int flags, const cfs_cred *cred, open_ref *ref,
                    cfs_attr *attr, bool *fresh)
{
    int acc = flags & O_ACCMODE;
    bool need_r = acc != O_WRONLY, need_w = acc != O_RDONLY;
    ofile *of = get_ofile(t, ino);
    if (!of) return -ENOMEM;
    pthread_rwlock_wrlock(&of->rw);
    bool had_lease = of->wr != NULL;
    cfs_file *new_wr = NULL, *new_rd = NULL;
    int mask = 0, rc = 0;
    if (need_w && !of->wr) {
        rc = cfs_open(t->fs, ino, acc, cred, &new_wr);
    } else if (need_w) {
        mask |= W_OK;
        if (need_r && !of->wr_reads && !of->rd)
            rc = cfs_open(t->fs, ino, O_RDONLY, cred, &new_rd);
        else if (need_r)
            mask |= R_OK;
    } else if (!of->rd && !(of->wr && of->wr_reads)) {
        rc = cfs_open(t->fs, ino, O_RDONLY, cred, &new_rd);
    } else {
        mask |= R_OK;
    }
    if (rc == 0 && mask) rc = cfs_access(t->fs, ino, mask, cred);
    if (rc == 0) {
        if (new_wr)
            rc = cfs_fgetattr(new_wr, attr);
        else if (new_rd)
            rc = cfs_fgetattr(new_rd, attr);
        else if (!had_lease)
            rc = cfs_getattr(t->fs, ino, cred, attr);
    }
    if (rc < 0) {
        if (new_wr) close_logged(&new_wr, ino);
        if (new_rd) close_logged(&new_rd, ino);
        pthread_rwlock_unlock(&of->rw);
        put_ofile(t, of);
        return rc;
    }
    if (new_wr) {
        of->wr = new_wr;
        of->wr_reads = acc == O_RDWR;
    }
    if (new_rd) of->rd = new_rd;
    if (need_r && of->readers == 0) of->reader_cred = *cred;
    of->readers += need_r;
    of->writers += need_w;
    pthread_rwlock_unlock(&of->rw);
    *fresh = !had_lease;
    *ref = (open_ref){.of = of, .reader = need_r, .writer = need_w};
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
    } else if (!need_w && !of->rd && !(of->wr && of->wr_reads)) {
        of->rd = fh;
    } else {
        close_logged(&fh, ino);
    }
    if (need_r && of->readers == 0) of->reader_cred = *cred;
    of->readers += need_r;
    of->writers += need_w;
    pthread_rwlock_unlock(&of->rw);
    *ref = (open_ref){.of = of, .reader = need_r, .writer = need_w};
    return 0;
}

int open_files_release(open_files *t, open_ref *ref)
{
    ofile *of = ref->of;
    int rc = 0;
    pthread_rwlock_wrlock(&of->rw);
    of->readers -= ref->reader;
    of->writers -= ref->writer;
    if (of->writers == 0 && of->wr) {
        bool reads_left = of->readers > 0 && of->wr_reads && !of->rd;
        rc = cfs_close(of->wr);
        of->wr = NULL;
        atomic_store(&of->dirty, false);
        if (reads_left) {
            /* Readers were served by the write handle; give them their own. */
            int orc = cfs_open(t->fs, of->ino, O_RDONLY, &of->reader_cred, &of->rd);
            if (orc < 0)
                LOG_WARN("reopening inode %llu for remaining readers: %s",
                         (unsigned long long)of->ino, cfs_strerror(orc));
        }
    }
    if (of->readers == 0 && of->rd) close_logged(&of->rd, of->ino);
    pthread_rwlock_unlock(&of->rw);
    put_ofile(t, of);
    ref->of = NULL;
    return rc;
}

ssize_t ofile_read(const open_ref *ref, void *buf, size_t size, uint64_t off)
{
    ofile *of = ref->of;
    ssize_t rc;
    pthread_rwlock_rdlock(&of->rw);
    if (of->wr && of->wr_reads) {
        rc = cfs_pread(of->wr, buf, size, off);
    } else if (of->rd) {
        rc = 0;
        /* The read handle sees committed data only: commit what the writer buffered. */
        if (of->wr && atomic_exchange(&of->dirty, false)) {
            rc = cfs_fsync(of->wr);
            if (rc < 0) atomic_store(&of->dirty, true);
        }
        if (rc == 0) rc = cfs_pread(of->rd, buf, size, off);
    } else {
        rc = -EBADF;
    }
    pthread_rwlock_unlock(&of->rw);
    return rc;
}

ssize_t ofile_write(const open_ref *ref, const void *buf, size_t size, uint64_t off)
{
    ofile *of = ref->of;
    ssize_t rc;
    pthread_rwlock_rdlock(&of->rw);
    if (of->wr) {
        atomic_store(&of->dirty, true);
        rc = cfs_pwrite(of->wr, buf, size, off);
    } else {
        rc = -EBADF;
    }
    pthread_rwlock_unlock(&of->rw);
    return rc;
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
