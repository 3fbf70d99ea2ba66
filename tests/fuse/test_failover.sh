# kill -9 of the metaserver leader while cp writes through the mount: the cp pauses and
# completes, and the bytes read back equal.
. "$(dirname "$0")/fuse_cluster.sh"
fc_require_fuse
FC_GOAL=3
fc_init
fc_start_cluster 3 3
MNT="$FC_DIR/mnt"
fc_mount "$MNT" "op_timeout_ms=60000"
MB=${FUSE_FAILOVER_MB:-96}
head -c $((MB * 1024 * 1024)) /dev/urandom >"$FC_DIR/src"
want=$(sha256sum <"$FC_DIR/src" | cut -d' ' -f1)
# A leader must be known before the copy starts.
meta_leader_index >/dev/null || fc_fail "no leader"
cp "$FC_DIR/src" "$MNT/file" &
cp_pid=$!
# Kill once the copy is under way (some data written), not by a timer.
fc_wait_until 60 bash -c "[ \$(stat -c %s '$MNT/file' 2>/dev/null || echo 0) -ge $((8 * 1024 * 1024)) ]" ||
    fc_log "copy made little progress before the kill"
killed=$(fc_kill_leader)
fc_log "killed leader metaserver $killed during the copy"
wait "$cp_pid" || fc_fail "cp failed across the leader change (status $?)"
fc_umount "$MNT"
fc_mount "$MNT"
got=$(sha256sum <"$MNT/file" | cut -d' ' -f1)
[ "$got" = "$want" ] || fc_fail "checksum $got, wanted $want"
fc_umount "$MNT"
fc_log "PASS"
