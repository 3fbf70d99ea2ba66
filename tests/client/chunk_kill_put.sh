#!/bin/bash
# A chunkserver is killed (SIGKILL) in the middle of a `put` with replication 3: the client
# drops the failed replica, continues on the survivors and the put completes with equal bytes.
set -u
source "$CHUNKFS_SRC/tests/lib/cluster.sh"
cluster_setup
start_cluster -s 4M -g 3 || exit 1
wait_healthy 60 || exit 1
W=$CLUSTER_DIR/work
mkdir -p "$W"
head -c $((96 << 20)) /dev/urandom >"$W/src" || exit 1
HALF=$((40 << 20))

mkfifo "$W/pipe"
CHUNKFS_LOG=warn cfs put - /big.bin <"$W/pipe" >"$W/put.out" 2>&1 &
PUT=$!
EXTRA_PIDS+=("$PUT")
exec 3>"$W/pipe"
head -c "$HALF" "$W/src" >&3
for ((i = 0; i < 600; i++)); do
    size=$(cfs stat --json /.big.bin._COPYING_ 2>/dev/null | grep -o '"size": [0-9]*' | grep -o '[0-9]*$')
    [ -n "$size" ] && [ "$size" -gt 0 ] && break
    sleep 0.1
done
[ -n "$size" ] && [ "$size" -gt 0 ] || { echo "FAIL: nothing committed"; exit 1; }
echo "killing chunkserver 2 (${CHUNK_ADDR[2]}) at committed size $size"
kill_chunk 2
tail -c +$((HALF + 1)) "$W/src" >&3
exec 3>&-
wait "$PUT"
rc=$?
cat "$W/put.out"
[ $rc = 0 ] || { echo "FAIL: put exited $rc"; exit 1; }
cfs get /big.bin "$W/back" || { echo "FAIL: get"; exit 1; }
cmp "$W/src" "$W/back" || { echo "FAIL: bytes differ"; exit 1; }
# Small files right after the kill, while the metaserver still places replicas on the dead
# server (goal 3 on 3 chunkservers, dead timeout 10 s): small writes go to every replica at
# once, and the failed one is dropped exactly as along a chain.
for n in 1 2; do
    head -c $((4096 * n + 17)) /dev/urandom >"$W/small$n" || exit 1
    CHUNKFS_LOG=warn cfs put "$W/small$n" "/small$n" || { echo "FAIL: small put $n"; exit 1; }
done
for n in 1 2; do
    cfs get "/small$n" "$W/small$n.back" || { echo "FAIL: small get $n"; exit 1; }
    cmp "$W/small$n" "$W/small$n.back" || { echo "FAIL: small file $n differs"; exit 1; }
done
# Chunks written after the kill live on the two survivors only (replicas show up in
# fileinfo once the chunkservers report the new version: poll, bounded).
for ((i = 0; i < 120; i++)); do
    last=$(cfs fileinfo --json /big.bin | grep '"index": 23')
    grep -q "${CHUNK_ADDR[2]}" <<<"$last" && { echo "FAIL: last chunk on the dead server: $last"; exit 1; }
    [ "$(grep -o '127.0.0.1:' <<<"$last" | wc -l)" = 2 ] && break
    sleep 0.25
done
[ "$(grep -o '127.0.0.1:' <<<"$last" | wc -l)" = 2 ] || { echo "FAIL: last chunk: $last"; exit 1; }
echo "PASS"
