#!/bin/bash
# /metrics of chunkfs-mount (-o http_listen=127.0.0.1:0): the scrape passes the strict
# text-format check; per-op counters, bytes read and written, the open-files and
# write-handle gauges and the per-errno error counter follow the file operations done here.
. "$(dirname "$0")/fuse_cluster.sh"
fc_require_fuse
command -v curl >/dev/null || { echo "skipped: curl missing" >&2; exit 77; }
command -v python3 >/dev/null || { echo "skipped: python3 missing" >&2; exit 77; }
CHECK="python3 $CHUNKFS_SRC/tests/obs/check_prom.py"
FC_GOAL=1
fc_init
fc_start_cluster 1 1
MNT="$FC_DIR/mnt"
fc_mount "$MNT" "http_listen=127.0.0.1:0"

port=""
for ((i = 0; i < 200; i++)); do
    port=$(grep -o 'http serving on port [0-9]*' "$FC_DIR/log/mount1.log" | tail -n 1 |
        awk '{print $5}')
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || fc_fail "chunkfs-mount logged no http port"
URL="http://127.0.0.1:$port/metrics"
# q EXPR...: one strictly checked scrape, the value of each EXPR (see check_prom.py).
q() { $CHECK scrape "$URL" "$@" || fc_fail "scrape of $URL"; }
# expect EXPR OP N: the value of EXPR compares (-eq, -ge) with N.
expect() {
    local v
    v=$(q "$1")
    [ "$v" != none ] && [ "$v" "$2" "$3" ] || fc_fail "$1 is $v, expected $2 $3"
}

# Written through the mount: 3 MiB in write requests of at most 1 MiB, held open meanwhile.
head -c 3145728 /dev/urandom >"$FC_DIR/data"
exec 7>"$MNT/f"
cat "$FC_DIR/data" >&7 || fc_fail "write through the mount"
expect cfs_fuse_open_files -ge 1
expect cfs_fuse_write_handles -ge 1
exec 7>&-
expect cfs_fuse_written_bytes_total -eq 3145728
expect 'cfs_fuse_ops_total{op=create}' -ge 1
expect 'cfs_fuse_ops_total{op=write}' -ge 3
expect 'cfs_fuse_ops_total{op=flush}' -ge 1

# Put by the CLI, so the kernel has none of it cached: reading it goes through the daemon.
cfs put "$FC_DIR/data" /g >/dev/null || fc_fail "cfs put"
cmp "$FC_DIR/data" "$MNT/g" || fc_fail "data read through the mount differs"
expect cfs_fuse_read_bytes_total -ge 3145728
expect 'cfs_fuse_ops_total{op=read}' -ge 1
expect 'cfs_fuse_ops_total{op=open}' -ge 1
# Closed everywhere: the daemon's release runs after close(2) returns, so poll.
fc_wait_until 30 bash -c "[ \"\$($CHECK scrape $URL cfs_fuse_open_files)\" = 0 ]" ||
    fc_fail "cfs_fuse_open_files did not return to 0"
expect cfs_fuse_write_handles -eq 0

# A failing operation: the lookup of a missing name answers ENOENT.
before=$(q 'cfs_fuse_op_errors_total{op=lookup,errno=ENOENT}')
[ "$before" = none ] && before=0
cat "$MNT/missing-$$" 2>/dev/null && fc_fail "open of a missing file succeeded"
expect 'cfs_fuse_op_errors_total{op=lookup,errno=ENOENT}' -ge $((before + 1))
# rmdir of a non-empty directory: ENOTEMPTY from the metaserver, counted per op and errno.
mkdir "$MNT/d" && mkdir "$MNT/d/e" || fc_fail "mkdir"
rmdir "$MNT/d" 2>/dev/null && fc_fail "rmdir of a non-empty directory succeeded"
expect 'cfs_fuse_op_errors_total{op=rmdir,errno=ENOTEMPTY}' -eq 1
expect 'cfs_fuse_ops_total{op=mkdir}' -eq 2
# Latency histogram: one observation per request.
[ "$(q 'cfs_fuse_op_seconds_count{op=mkdir}')" = 2 ] || fc_fail "mkdir latency count"

# /log-level is served too.
curl -sf "http://127.0.0.1:$port/log-level?level=debug" >/dev/null || fc_fail "/log-level"
curl -sf "http://127.0.0.1:$port/log-level?level=info" >/dev/null || fc_fail "/log-level"

fc_umount "$MNT"
fc_log "PASS"
