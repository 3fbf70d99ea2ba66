#include "common/errors.h"

#include <errno.h>
#include <string.h>

const char *cfs_strerror(int err)
{
    int e = err < 0 ? -err : err;
    switch (e) {
    case CFS_ENOTLEADER: return "Not the metaserver leader";
    case CFS_ESTALE_VER: return "Stale chunk version";
    case CFS_ECORRUPT: return "Checksum mismatch (corrupt data)";
    case CFS_ELEASE: return "File is being written by another client";
    case CFS_ETOKEN: return "Chunk access token expired";
    case CFS_EAUTH: return "Authentication failed: no or wrong cluster secret";
    case CFS_ECLUSTER: return "Wrong cluster id";
    case CFS_ENOSERVERS: return "Not enough live chunkservers";
    default: break;
    }
    if (e > 0 && e < 1000) {
        /* strerrordesc_np is thread-safe and never allocates. */
        const char *s = strerrordesc_np(e);
        if (s) return s;
    }
    return "Unknown error";
}

int cfs_err_to_posix(int err)
{
    if (err >= 0) return err;
    switch (-err) {
    case CFS_ENOTLEADER: return -EAGAIN;
    case CFS_ESTALE_VER: return -EIO;
    case CFS_ECORRUPT: return -EIO;
    case CFS_ELEASE: return -EBUSY;
    case CFS_ETOKEN: return -EACCES;
    case CFS_EAUTH: return -EACCES;
    case CFS_ECLUSTER: return -EINVAL;
    case CFS_ENOSERVERS: return -ENOSPC;
    default: return err;
    }
}
