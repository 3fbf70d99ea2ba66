# With every metaserver gone, an operation fails with EIO after op_timeout_ms instead of
# hanging, and the mount still unmounts cleanly.
. "$(dirname "$0")/fuse_cluster.sh"
fc_require_fuse
FC_GOAL=1
fc_init
fc_start_cluster 1 1
MNT="$FC_DIR/mnt"
fc_mount "$MNT" "op_timeout_ms=3000,entry_timeout=0,attr_timeout=0"
echo before >"$MNT/f" || fc_fail "write before the outage"
kill_meta 1
start=$SECONDS
if timeout 60 stat "$MNT/new-name" 2>"$FC_DIR/stat.err"; then
    fc_fail "stat succeeded with no metaserver"
fi
took=$((SECONDS - start))
grep -q "Input/output error" "$FC_DIR/stat.err" || fc_fail "wanted EIO, got: $(cat "$FC_DIR/stat.err")"
[ $took -lt 50 ] || fc_fail "took ${took}s (op timeout 3 s)"
if timeout 60 cat "$MNT/f" >/dev/null 2>"$FC_DIR/cat.err"; then
    fc_fail "open succeeded with no metaserver"
fi
grep -q "Input/output error" "$FC_DIR/cat.err" || fc_fail "wanted EIO, got: $(cat "$FC_DIR/cat.err")"
fc_log "EIO after ${took}s"
fc_umount "$MNT"
fc_log "PASS"
