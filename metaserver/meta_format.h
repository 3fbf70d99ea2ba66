#ifndef CFS_META_FORMAT_H
#define CFS_META_FORMAT_H
/* The formatted data directory of a metaserver: DATA/cluster.ini holds the cluster's
 * parameters (written once by `chunkfs-metaserver format`), DATA/raft/ the Raft log and
 * snapshots. The leader writes the same parameters into the replicated state (FormatCmd) as
 * the first entry of a new cluster. File format (inih):
 *     [cluster]
 *     cluster_id = 3f9c0d2a8b1e4c57
 *     chunk_size = 67108864
 *     goal = 3
 */
#include <stddef.h>
#include <stdint.h>

#define META_CLUSTER_ID_MAX 64

typedef struct meta_cluster_params {
    char cluster_id[META_CLUSTER_ID_MAX];
    uint64_t chunk_size;
    uint32_t goal;
} meta_cluster_params;

/* Checks parameters: cluster id 1..63 chars of [A-Za-z0-9._-]; chunk size a power of two in
 * 64 KiB .. 1 GiB; goal 1..16. 0 or -EINVAL. */
int meta_format_check(const meta_cluster_params *p);

/* Creates data_dir (and data_dir/raft) if needed and writes cluster.ini (temp file, fsync,
 * rename). -EEXIST if the directory is already formatted (nothing is changed), -EINVAL for
 * bad parameters, else -errno of the failing call. */
int meta_format_write(const char *data_dir, const meta_cluster_params *p);

/* Reads and checks data_dir/cluster.ini. -ENOENT when not formatted, -EINVAL when the file
 * is malformed (unknown keys, bad values), else -errno. */
int meta_format_read(const char *data_dir, meta_cluster_params *p);

/* A fresh random cluster id (16 hex digits) from getrandom(2). 0 or -errno. */
int meta_format_new_id(char *buf, size_t len);

/* Parses a size with an optional K/M/G suffix (powers of 1024): "64M" -> 67108864.
 * 0 or -EINVAL. */
int meta_parse_size(const char *s, uint64_t *out);

#endif
