/* Attribute conversion between the wire format and the public structs. */
#include <string.h>

#include "client/fs_internal.h"

static struct timespec ts_of(int64_t ns)
{
    struct timespec ts;
    ts.tv_sec = (time_t)(ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    if (ts.tv_nsec < 0) {
        ts.tv_nsec += 1000000000;
        ts.tv_sec -= 1;
    }
    return ts;
}

static uint32_t type_bits(Chunkfs__FileType t)
{
    switch (t) {
    case CHUNKFS__FILE_TYPE__FT_DIR:
        return S_IFDIR;
    case CHUNKFS__FILE_TYPE__FT_SYMLINK:
        return S_IFLNK;
    default:
        return S_IFREG;
    }
}

void attr_from_pb(const Chunkfs__Attr *a, cfs_attr *out)
{
    memset(out, 0, sizeof(*out));
    if (!a) return;
    out->ino = a->ino;
    out->mode = type_bits(a->type) | (a->mode & 07777);
    out->uid = a->uid;
    out->gid = a->gid;
    out->nlink = a->nlink;
    out->size = a->size;
    out->atime = ts_of(a->atime_ns);
    out->mtime = ts_of(a->mtime_ns);
    out->ctime = ts_of(a->ctime_ns);
    out->goal = a->goal;
    out->generation = a->generation;
}

void cfs_attr_to_stat(const cfs_attr *a, struct stat *st)
{
    memset(st, 0, sizeof(*st));
    st->st_ino = (ino_t)a->ino;
    st->st_mode = a->mode;
    st->st_nlink = a->nlink;
    st->st_uid = a->uid;
    st->st_gid = a->gid;
    st->st_size = (off_t)a->size;
    st->st_blksize = 65536;
    st->st_blocks = (blkcnt_t)((a->size + 511) / 512);
    st->st_atim = a->atime;
    st->st_mtim = a->mtime;
    st->st_ctim = a->ctime;
}
