# readdir of 10,000 entries through a real mount: every entry exactly once, seekdir, removal.
. "$(dirname "$0")/fuse_cluster.sh"
fc_require_fuse
FC_GOAL=1
fc_init
fc_start_cluster 1 1
fc_mount "$FC_DIR/mnt"
"$CHUNKFS_BIN/posix_suite" -s readdir -n 10000 "$FC_DIR/mnt" || fc_fail "readdir checks failed"
fc_umount "$FC_DIR/mnt"
fc_log "PASS"
