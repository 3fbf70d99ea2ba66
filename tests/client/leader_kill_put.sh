#!/bin/bash
# The metaserver leader is killed (SIGKILL) in the middle of a `put`: the put pauses, finds
# the new leader and completes; the file reads back with the same bytes.
set -u
source "$CHUNKFS_SRC/tests/lib/cluster.sh"
cluster_setup
start_cluster -s 4M -g 3 || exit 1
wait_healthy 60 || exit 1
W=$CLUSTER_DIR/work
mkdir -p "$W"
head -c $((96 << 20)) /dev/urandom >"$W/src" || exit 1
HALF=$((48 << 20))

# Feed the put through a pipe so the kill lands while it is certainly still running.
mkfifo "$W/pipe"
CHUNKFS_LOG=warn cfs put - /big.bin <"$W/pipe" >"$W/put.out" 2>&1 &
PUT=$!
EXTRA_PIDS+=("$PUT")
exec 3>"$W/pipe"
head -c "$HALF" "$W/src" >&3
# Wait (bounded) until part of the file is committed, so writes are mid-flight.
for ((i = 0; i < 600; i++)); do
    size=$(cfs stat --json /.big.bin._COPYING_ 2>/dev/null | grep -o '"size": [0-9]*' | grep -o '[0-9]*$')
    [ -n "$size" ] && [ "$size" -gt 0 ] && break
    sleep 0.1
done
[ -n "$size" ] && [ "$size" -gt 0 ] || { echo "FAIL: nothing committed"; exit 1; }
leader=$(meta_leader_index) || { echo "FAIL: no leader"; exit 1; }
echo "killing leader metaserver $leader (${META_ADDR[$leader]}) at committed size $size"
kill_meta "$leader"
tail -c +$((HALF + 1)) "$W/src" >&3
exec 3>&-
wait "$PUT"
rc=$?
cat "$W/put.out"
[ $rc = 0 ] || { echo "FAIL: put exited $rc"; exit 1; }
new=$(meta_leader_index) || { echo "FAIL: no new leader"; exit 1; }
[ "$new" != "$leader" ] || { echo "FAIL: leader did not change"; exit 1; }
cfs get /big.bin "$W/back" || { echo "FAIL: get"; exit 1; }
cmp "$W/src" "$W/back" || { echo "FAIL: bytes differ"; exit 1; }
# The killed metaserver comes back and catches up.
restart_meta "$leader"
cfs ls -l / | grep -q "big.bin" || { echo "FAIL: ls"; exit 1; }
echo "PASS"
