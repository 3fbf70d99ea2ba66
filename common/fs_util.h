#ifndef CFS_FS_UTIL_H
#define CFS_FS_UTIL_H
/* Small durable-file helpers shared by the on-disk stores. */

/* fsyncs a directory so a rename or create inside it survives a crash. 0 or -errno. */
int cfs_fsync_dir(const char *dir);

#include <stddef.h>
#include <stdint.h>

/* Reads a whole file into a malloc'd buffer (*out, *len; caller frees). 0 or -errno; a file
 * that shrinks while being read gives -EIO. */
int cfs_read_file(const char *path, uint8_t **out, size_t *len);

#endif
