# POSIX behaviour suite through a real mount (1 metaserver, 2 chunkservers, 1 MiB chunks).
# The 10,000-entry readdir check runs in test_readdir.sh.
. "$(dirname "$0")/fuse_cluster.sh"
fc_require_fuse
fc_init
fc_start_cluster 1 2
fc_mount "$FC_DIR/mnt"
"$CHUNKFS_BIN/posix_suite" -s names,rename,links,symlinks,io,truncate,sparse,big,mmap,xattr,times,attrs,misc,perms,locks \
    "$FC_DIR/mnt" || fc_fail "posix_suite found failures"
fc_umount "$FC_DIR/mnt"
fc_log "PASS"
