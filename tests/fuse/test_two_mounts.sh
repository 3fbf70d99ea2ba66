# Two mounts of one cluster: fcntl and flock locks taken through one block the other,
# close-to-open consistency, namespace changes seen across mounts.
. "$(dirname "$0")/fuse_cluster.sh"
fc_require_fuse
fc_init
fc_start_cluster 1 2
fc_mount "$FC_DIR/m1"
fc_mount "$FC_DIR/m2"
"$CHUNKFS_BIN/posix_suite" -s locks,peer -p "$FC_DIR/m2" "$FC_DIR/m1" ||
    fc_fail "cross-mount checks failed"
fc_umount "$FC_DIR/m2"
fc_umount "$FC_DIR/m1"
fc_log "PASS"
