# A large file copied in and out through a real mount (checksums equal after a remount, so
# the bytes come from the chunkservers), and SIGTERM of the daemon while a file is still
# open for writing: its buffered data must be committed before the daemon exits.
. "$(dirname "$0")/fuse_cluster.sh"
fc_require_fuse
fc_init
fc_start_cluster 1 2
MNT="$FC_DIR/mnt"
fc_mount "$MNT"
BIG_MB=${FUSE_BIG_MB:-1024}

fc_log "cp of $BIG_MB MiB in"
head -c $((BIG_MB * 1024 * 1024)) /dev/urandom >"$FC_DIR/big.local"
want=$(sha256sum <"$FC_DIR/big.local" | cut -d' ' -f1)
cp "$FC_DIR/big.local" "$MNT/big" || fc_fail "cp in"
rm -f "$FC_DIR/big.local"

fc_log "file left open across SIGTERM"
head -c $((3 * 1024 * 1024 + 17)) /dev/urandom >"$FC_DIR/open.local"
exec 3>"$MNT/open-at-exit"
cat "$FC_DIR/open.local" >&3
kill -TERM "${FC_MOUNT_PIDS[0]}"
fc_wait_daemon "${FC_MOUNT_PIDS[0]}"
exec 3>&-
fc_wait_until 30 bash -c "! grep -qs ' $MNT fuse' /proc/mounts" || fc_fail "still mounted"

fc_log "remount and verify"
fc_mount "$MNT"
cmp "$FC_DIR/open.local" "$MNT/open-at-exit" || fc_fail "file open at SIGTERM lost data"
cp "$MNT/big" "$FC_DIR/big.out" || fc_fail "cp out"
got=$(sha256sum <"$FC_DIR/big.out" | cut -d' ' -f1)
[ "$got" = "$want" ] || fc_fail "copied-out checksum $got, wanted $want"
rm -f "$FC_DIR/big.out"
fc_umount "$MNT"
fc_log "PASS"
