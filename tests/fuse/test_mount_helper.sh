# mount.chunkfs as mount(8) calls it: fstab-only options dropped, the daemon detaches and
# the exit status is the mount's; a bad cluster address fails the mount with an error.
. "$(dirname "$0")/fuse_cluster.sh"
fc_require_fuse
fc_init
fc_start_cluster 1 1
MNT="$FC_DIR/mnt"
mkdir -p "$MNT"
daemon_pid() { # our own daemon, found by its unique mount point argument
    local p
    for p in /proc/[0-9]*; do
        if tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q "chunkfs-mount .*$MNT"; then
            echo "${p#/proc/}"
            return 0
        fi
    done
    return 1
}
"$CHUNKFS_BIN/mount.chunkfs" "$FC_META" "$MNT" -f -o allow_other,_netdev,noauto 2>"$FC_DIR/fake.out" ||
    fc_fail "fake mount failed"
grep -q -- "-o allow_other $FC_META $MNT" "$FC_DIR/fake.out" || fc_fail "fake mount printed $(cat "$FC_DIR/fake.out")"
grep -qs " $MNT fuse" /proc/mounts && fc_fail "fake mount mounted"
"$CHUNKFS_BIN/mount.chunkfs" "$FC_META" "$MNT" -o allow_other,_netdev,noauto,defaults,log_file="$FC_DIR/log/helper.log",http_listen=127.0.0.1:0 ||
    fc_fail "mount.chunkfs failed"
grep -qs " $MNT fuse.chunkfs" /proc/mounts || fc_fail "not mounted as fuse.chunkfs"
pid=$(daemon_pid) || fc_fail "daemon not found"
EXTRA_PIDS+=("$pid")
echo "through the helper" >"$MNT/hello" || fc_fail "write"
[ "$(cat "$MNT/hello")" = "through the helper" ] || fc_fail "read back"
# http_listen passes through the helper: the background daemon serves /metrics.
hport=$(grep -o 'http serving on port [0-9]*' "$FC_DIR/log/helper.log" | tail -n 1 | awk '{print $5}')
[ -n "$hport" ] || fc_fail "the daemon logged no http port"
if command -v curl >/dev/null; then
    curl -sf "http://127.0.0.1:$hport/metrics" | grep -q '^cfs_fuse_ops_total{op="write"} [1-9]' ||
        fc_fail "/metrics of the helper-mounted daemon has no write count"
fi
fusermount3 -u "$MNT" || fc_fail "fusermount3 -u"
fc_wait_until 30 bash -c "! kill -0 $pid" || fc_fail "daemon did not exit after unmount"
fc_forget_pid "$pid"
# A cluster that does not answer: the mount command fails (after op_timeout_ms), nothing mounted.
port=$(free_ports 1)
if "$CHUNKFS_BIN/mount.chunkfs" "127.0.0.1:$port" "$MNT" -o op_timeout_ms=1500 2>"$FC_DIR/bad.out"; then
    fc_fail "mount of a dead cluster succeeded"
fi
grep -qs " $MNT fuse" /proc/mounts && fc_fail "dead cluster got mounted"
grep -q "does not answer" "$FC_DIR/bad.out" || fc_fail "no clear error: $(cat "$FC_DIR/bad.out")"
fc_log "PASS"
