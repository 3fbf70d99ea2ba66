#ifndef CFS_FUSE_INODE_TABLE_H
#define CFS_FUSE_INODE_TABLE_H
/* What the mount remembers about inodes the kernel knows (between a lookup and its forget):
 * the kernel's lookup count, the directory's parent (for ".." and readdir), and the data
 * version last shown to the kernel (size, mtime, generation) so an open can tell whether the
 * kernel's page cache is still valid (close-to-open). Thread-safe; no FUSE or RPC inside. */
#include <stdbool.h>
#include <stdint.h>

#include "client/chunkfs.h"

typedef struct inode_table inode_table;

/* Returns NULL only when out of memory. */
inode_table *inode_table_new(void);
void inode_table_free(inode_table *t);

/* The kernel got an entry for `a` (lookup, create, mkdir, link, readdirplus ...): lookup count
 * +1, data version recorded; `parent` is remembered for directories (0 = unknown, keep). */
int inode_table_add_ref(inode_table *t, const cfs_attr *a, uint64_t parent);
/* The kernel drops `n` lookups (forget); the record goes away at zero. */
void inode_table_forget(inode_table *t, uint64_t ino, uint64_t n);
/* Attributes shown to the kernel (getattr/setattr replies): records the data version. */
void inode_table_update(inode_table *t, const cfs_attr *a);
/* A directory moved (rename): new parent. */
void inode_table_set_parent(inode_table *t, uint64_t ino, uint64_t parent);
/* The parent recorded for a directory, or 0 if unknown. */
uint64_t inode_table_parent(inode_table *t, uint64_t ino);
/* True if the inode is known and `a` shows the same data (size, mtime, generation) as the
 * last version recorded: cached pages may be kept. Then records `a` as the current version. */
bool inode_table_data_unchanged(inode_table *t, const cfs_attr *a);
/* Number of inodes tracked (tests, statistics). */
uint64_t inode_table_count(inode_table *t);

#endif
