#!/bin/bash
# Chaos scenarios 7 and 5 on one cluster (3 chunkservers whose data dirs are 40 MiB tmpfs,
# goal 2, write leases shortened to 3 s), each part under a libchunkfs workload whose
# history is checked at the end:
#   7. clients killed -9 mid-write, at the same moment: a CLI put (fed through a pipe, so it
#      dies mid-file) and a FUSE mount daemon while a process writes through it (its first
#      part fsync'ed). For each file the metaserver recovers the lapsed lease; the length is
#      consistent (at least what was acknowledged and committed, never more than was sent)
#      and those bytes equal what was sent; another client can then write the file.
#   5. full disks. One disk full: puts succeed (right after the fill, before the metaserver
#      heard of it, and after) and new chunks avoid the full server. Every disk full: a CLI
#      put fails with exit status 1 and "No space left on device", a write + fsync through
#      FUSE fails with ENOSPC; nothing written earlier is harmed. Space freed: writes work.
set -u
source "$CHUNKFS_SRC/tests/chaos/replica_lib.sh"
rl_setup fuse
export CFS_LEASE_MS=3000 CFS_DEAD_MS=3000
# Nothing may free space behind the test's back: no rebalancing off the filled disk, and
# removed files' chunks go at once (the workload unlinks), not a grace period later.
export CFS_META_ARGS="--rebalance-spread 0 --delete-grace-ms 0"
nn_start_cluster -m 3 -c 3 -k 1 -s 1M -g 2 -d 40M || exit 1
nn_wait_healthy 60 || exit 1
W=$CLUSTER_DIR/work
MNT=$CLUSTER_DIR/mnt
mkdir -p "$W"
DUR=${CHAOS_SCENARIO_SECONDS:-6}

size_of() {
    ncfs stat --json "$1" 2>/dev/null | grep -o '"size": [0-9]*' | grep -o '[0-9]*$'
}
ino_of() {
    ncfs stat --json "$1" 2>/dev/null | grep -o '"ino": [0-9]*' | grep -o '[0-9]*$'
}
# The leader logs each lease it recovers (meta_gc.c: "expired write lease recovered ... ino=N").
lease_recovered() {
    grep -qs "expired write lease recovered.* ino=$1 " "$CLUSTER_DIR"/log/m*.log
}
# Bytes [0, size) of $1 in the cluster equal the first size bytes of local file $2.
prefix_equal() {
    local size=$3
    rm -f "$W/back"
    ncfs get "$1" "$W/back" >/dev/null || return 1
    [ "$(stat -c %s "$W/back")" = "$size" ] || return 1
    cmp -s -n "$size" "$W/back" "$2"
}
# Waits for the recovery of $1's lease, checks its length against [$3, $4] and its bytes
# against local file $2; prints the length.
check_recovered() {
    local path=$1 src=$2 lo=$3 hi=$4 ino size
    ino=$(ino_of "$path") || rl_fail "$path is gone"
    rl_poll 30 lease_recovered "$ino" || rl_fail "lease of $path (inode $ino) not recovered"
    size=$(size_of "$path")
    [ "$size" -ge "$lo" ] && [ "$size" -le "$hi" ] ||
        rl_fail "$path: length $size after recovery, outside [$lo, $hi]"
    prefix_equal "$path" "$src" "$size" || rl_fail "$path: bytes differ from what was sent"
    nn_log "$path: lease recovered; length $size, bytes equal"
    echo "$size"
}

# ---- 7: clients killed -9 mid-write
wl_start_lib wl7 "$SEED" "$DUR" --threads 1 --files 4 --max-size 1000000
nn_mount 1 "$MNT" || exit 1
nn_mount 1 "$CLUSTER_DIR/mnt2" || exit 1
MOUNT2=${NN_EXTRA_PIDS[-1]}
head -c $((12 << 20)) /dev/urandom >"$W/src" || exit 1
head -c $((3 << 20)) /dev/urandom >"$W/fsrc" || exit 1
mkfifo "$W/pipe"
# Not through the ncfs function: $! must be the CLI itself (ip netns exec execs it).
ip netns exec "$(nn_ns k1)" "$CFS_CLI_BIN" put - /c <"$W/pipe" >/dev/null 2>&1 &
PUT=$!
NN_EXTRA_PIDS+=("$PUT")
exec 3>"$W/pipe"
head -c $((8 << 20)) "$W/src" >&3 # the CLI commits in 8 MiB blocks
# Writes 2 MiB and fsyncs them (acknowledged), then 1 MiB more, and waits to be killed.
python3 - "$W/fsrc" "$CLUSTER_DIR/mnt2/f" "$W/writer.state" <<'PY' &
import os, sys, time
src, dst, state = sys.argv[1:4]
data = open(src, "rb").read()
fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, data[: 2 << 20])
os.fsync(fd)
os.write(fd, data[2 << 20 :])
open(state, "w").write("acked\n")
time.sleep(600)
PY
WRITER=$!
NN_EXTRA_PIDS+=("$WRITER")
committed() {
    local s
    s=$(size_of /.c._COPYING_)
    [ -n "$s" ] && [ "$s" -gt 0 ]
}
rl_poll 60 committed || rl_fail "the put committed nothing"
rl_poll 60 test -s "$W/writer.state" || rl_fail "the FUSE writer did not get its fsync through"
seen=$(size_of /.c._COPYING_)
nn_log "fault: kill -9 the CLI put (committed: $seen) and the FUSE mount daemon mid-write"
kill -9 "$PUT" "$MOUNT2" "$WRITER"
wait "$PUT" "$MOUNT2" "$WRITER" 2>/dev/null
exec 3>&-
nn_umount "$CLUSTER_DIR/mnt2"
size=$(check_recovered /.c._COPYING_ "$W/src" "$seen" $((8 << 20))) || exit 1
fsize=$(check_recovered /f "$W/fsrc" $((2 << 20)) $((3 << 20))) || exit 1
# Writable by another client: the first mount completes both files.
dd if="$W/src" of="$MNT/.c._COPYING_" bs=1M skip="$size" seek="$size" \
    iflag=skip_bytes oflag=seek_bytes conv=notrunc,fsync status=none ||
    rl_fail "another client cannot write the file of the dead put"
prefix_equal /.c._COPYING_ "$W/src" $((12 << 20)) || rl_fail "completed /.c._COPYING_ differs"
dd if="$W/fsrc" of="$MNT/f" bs=1M skip="$fsize" seek="$fsize" \
    iflag=skip_bytes oflag=seek_bytes conv=notrunc,fsync status=none ||
    rl_fail "another client cannot write the file of the dead mount"
prefix_equal /f "$W/fsrc" $((3 << 20)) || rl_fail "completed /f differs"
nn_log "another client completed both files"

# ---- 5: full disks
wl_start_lib wl5 "$SEED" "$DUR" --threads 1 --files 2 --max-size 400000
# Free bytes of chunkserver $1 as the metaserver sees them.
free_of() {
    ncfs df --json 2>/dev/null | grep "\"address\": \"${CHUNK_ADDR[$1]}\"" |
        grep -o '"free": [0-9]*' | grep -o '[0-9]*$'
}
seen_full() { local f; f=$(free_of "$1") && [ -n "$f" ] && [ "$f" -lt 1048576 ]; }
seen_free() { local f; f=$(free_of "$1") && [ -n "$f" ] && [ "$f" -ge $((4 << 20)) ]; }
put_new() { # NAME SIZE: a new file of random bytes, kept in $W/NAME
    head -c "$2" /dev/urandom >"$W/$1" && ncfs put "$W/$1" "/$1"
}
check_equal() {
    local f
    for f in "$@"; do
        rm -f "$W/back"
        ncfs get "/$f" "$W/back" >/dev/null || rl_fail "get /$f"
        cmp -s "$W/$f" "$W/back" || rl_fail "/$f differs"
    done
}
put_new before $(((2 << 20) + 5000)) || rl_fail "put /before"
nn_log "fault: chunkserver 1's disk full"
nn_fill_disk 1 || exit 1
put_new during1 $((3 << 20)) || rl_fail "put right after chunkserver 1 filled up"
rl_poll 30 seen_full 1 || rl_fail "the metaserver never saw chunkserver 1 full"
put_new during2 $((3 << 20)) || rl_fail "put with chunkserver 1 known full"
for i in 0 1 2; do
    rl_replicas /during2 $i | grep -qx "${CHUNK_ADDR[1]}" && rl_fail "chunk $i of /during2 on the full server"
done
check_equal before during1 during2
nn_log "writes went to the other servers"

wl_wait_all || exit 1
nn_log "fault: every disk full"
for i in 1 2 3; do nn_fill_disk $i || exit 1; done
head -c $((2 << 20)) /dev/urandom >"$W/full" || exit 1
ncfs put "$W/full" /full >"$W/put.out" 2>&1
rc=$?
[ $rc = 1 ] || rl_fail "put on full disks exited $rc: $(cat "$W/put.out")"
grep -q "No space left on device" "$W/put.out" || rl_fail "put on full disks said: $(cat "$W/put.out")"
ncfs stat /full >/dev/null 2>&1 && rl_fail "the failed put left /full"
dd if="$W/full" of="$MNT/full" bs=1M conv=fsync status=none 2>"$W/dd.err" &&
    rl_fail "write + fsync through FUSE on full disks succeeded"
grep -q "No space left on device" "$W/dd.err" || rl_fail "FUSE write on full disks: $(cat "$W/dd.err")"
rm -f "$MNT/full"
nn_umount "$MNT"
check_equal before during1 during2
prefix_equal /f "$W/fsrc" $((3 << 20)) || rl_fail "/f changed on full disks"
nn_log "ENOSPC from the CLI and through FUSE; earlier files intact"

nn_log "space freed"
for i in 1 2 3; do nn_unfill_disk $i; done
for i in 1 2 3; do rl_poll 30 seen_free $i || rl_fail "chunkserver $i still seen full"; done
put_new after $((3 << 20)) || rl_fail "put after space was freed"
check_equal before during1 during2 after

wl_check_all 60 || rl_fail "workload: lost=$WL_LOST corrupt=$WL_CORRUPT"
nn_log "PASS: operations=$WL_OPS lost=0 corrupt=0"
