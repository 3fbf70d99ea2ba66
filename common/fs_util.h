#ifndef CFS_FS_UTIL_H
#define CFS_FS_UTIL_H
/* Small durable-file helpers shared by the on-disk stores. */

/* fsyncs a directory so a rename or create inside it survives a crash. 0 or -errno. */
int cfs_fsync_dir(const char *dir);

#endif
