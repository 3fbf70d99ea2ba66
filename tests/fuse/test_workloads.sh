# Workloads through a real mount: random pwrite/pread/truncate/fsync/reopen checked against a
# local model file, and a source tree through tar compared with diff -r; both checked again
# after a remount (the bytes then come from the chunkservers).
. "$(dirname "$0")/fuse_cluster.sh"
fc_require_fuse
fc_init
fc_start_cluster 1 2
MNT="$FC_DIR/mnt"
fc_mount "$MNT"
OPS=${FUSE_RANDIO_OPS:-250}

fc_log "random I/O against a model file"
for seed in 11 12; do
    "$CHUNKFS_BIN/randio" -s $seed -n "$OPS" -m $((6 * 1024 * 1024)) "$MNT/rand$seed" \
        "$FC_DIR/model$seed" || fc_fail "randio seed $seed"
done

fc_log "tar of the source tree"
tar -C "$CHUNKFS_SRC" --exclude='./build*' --exclude=./.git --exclude=./var -cf "$FC_DIR/src.tar" . ||
    fc_fail "tar create"
mkdir -p "$FC_DIR/src.local" "$MNT/src"
tar -C "$FC_DIR/src.local" -xf "$FC_DIR/src.tar" || fc_fail "local extract"
tar -C "$MNT/src" -xf "$FC_DIR/src.tar" || fc_fail "extract into the mount"
diff -r "$FC_DIR/src.local" "$MNT/src" || fc_fail "source tree differs"

fc_log "remount and verify"
fc_umount "$MNT"
fc_mount "$MNT"
for seed in 11 12; do
    cmp "$MNT/rand$seed" "$FC_DIR/model$seed" || fc_fail "randio file $seed differs after remount"
done
diff -r "$FC_DIR/src.local" "$MNT/src" || fc_fail "source tree differs after remount"
fc_umount "$MNT"
fc_log "PASS"
