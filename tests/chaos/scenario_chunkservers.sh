#!/bin/bash
# Chaos scenarios 3 and 4 on one cluster (3 chunkservers, goal 3), each part under a
# libchunkfs read/write workload whose history is checked at the end:
#   4. flipped bytes on disk. Data area: one chunk damaged on two of its three servers;
#      every read returns the original bytes, each bad replica is quarantined when a read
#      hits it, reported, and copied back (the copies alone then serve equal bytes). Header:
#      the current header slot of a replica damaged on chunkserver 3 (its scrubber runs
#      every second); the scrubber quarantines and reports it; it is copied back.
#   3. kill -9 of a chunkserver in the middle of a CLI put (fed through a pipe, so the kill
#      lands mid-file) and of the workload's writes and reads: all complete from the other
#      replicas, no operation fails, the bytes are equal. Then a chunkserver cut off the
#      network while a file it holds is rewritten in place (through FUSE, fsync'ed) comes
#      back with stale replicas: with the up-to-date servers out of the client's reach a
#      read never returns the old bytes; the metaserver replaces the stale replicas, after
#      which that server alone serves the new bytes.
set -u
source "$CHUNKFS_SRC/tests/chaos/replica_lib.sh"
rl_setup fuse
export CFS_DEAD_MS=4000
export CFS_META_ARGS="--gc-grace-ms 1000"
nn_start_cluster -m 3 -c 3 -k 1 -s 1M -g 3 || exit 1
# Only chunkserver 3 scrubs (every second): on 1 and 2 the damage must be found by reads.
nn_kill_chunk 3
CFS_CHUNK_ARGS="--scrub-interval 1" nn_start_chunk 3 || exit 1
nn_wait_healthy 60 || exit 1
W=$CLUSTER_DIR/work
MNT=$CLUSTER_DIR/mnt
mkdir -p "$W"
DUR=${CHAOS_SCENARIO_SECONDS:-6}
head -c $((3 * 1048576 + 300000)) /dev/urandom >"$W/fixed" || exit 1
head -c $((3 * 1048576 - 4096)) /dev/urandom >"$W/old" || exit 1
head -c $((3 * 1048576 - 4096)) /dev/urandom >"$W/new" || exit 1
ncfs put "$W/fixed" /fixed || rl_fail "put /fixed"
ncfs put "$W/old" /p || rl_fail "put /p"
rl_wait_replicas /fixed 3 30 || rl_fail "/fixed never had 3 replicas per chunk: $(rl_chunks /fixed)"

# ---- 4: flipped bytes
wl_start_lib wl4 "$SEED" "$DUR" --threads 1 --files 4 --max-size 1500000
read -r _ XID _ <<<"$(rl_chunks /fixed | awk '$1 == 1')"
read -r _ HID _ <<<"$(rl_chunks /fixed | awk '$1 == 0')"
nn_log "fault: the data of chunk $XID damaged on chunkservers 1 and 2, the header of chunk $HID on 3"
rl_flip "$(rl_chunk_file 1 "$XID")" $((8192 + 100000)) 16 || rl_fail "flip c1"
rl_flip "$(rl_chunk_file 2 "$XID")" $((8192 + 700000)) 16 || rl_fail "flip c2"
hfile=$(rl_chunk_file 3 "$HID")
slot=$(rl_header_slot "$hfile") || rl_fail "no header in $hfile"
rl_flip "$hfile" $((slot + 24)) 1 || rl_fail "flip header" # the version field

# Every read returns the original bytes; reads go on until both bad replicas were hit.
both_found() { rl_quarantined 1 "$XID" && rl_quarantined 2 "$XID"; }
reads=0
end=$((SECONDS + 60))
while ! both_found && [ $reads -lt 60 ] && [ $SECONDS -lt $end ]; do
    rm -f "$W/back"
    CHUNKFS_LOG=error ncfs get /fixed "$W/back" >/dev/null 2>"$W/get.err" ||
        rl_fail "get /fixed with a damaged replica: $(cat "$W/get.err")"
    cmp -s "$W/fixed" "$W/back" || rl_fail "read $reads returned other bytes than written"
    reads=$((reads + 1))
done
both_found || rl_fail "bad replicas not quarantined after $reads reads"
nn_log "$reads reads, all equal; both damaged replicas quarantined"
rl_poll 30 rl_quarantined 3 "$HID" || rl_fail "the scrubber did not find the damaged header"
nn_log "damaged header found by the scrubber"
rl_wait_replicas /fixed 3 60 || rl_fail "replicas not restored: $(rl_chunks /fixed)"
for f in "$(rl_chunk_file 1 "$XID")" "$(rl_chunk_file 2 "$XID")" "$hfile"; do
    [ -f "$f" ] || rl_fail "no repaired replica $f"
done
# Chunk $XID's only original good copy is on chunkserver 3: read without it.
rl_get_cut "c3" /fixed "$W/back" || rl_fail "get /fixed from the repaired replicas"
cmp -s "$W/fixed" "$W/back" || rl_fail "repaired replicas hold other bytes"
nn_log "goal restored; the repaired copies serve equal bytes"

# ---- 3: kill -9 during writes and reads
wl_start_lib wl3 "$SEED" "$DUR" --threads 2 --files 4 --max-size 1500000
head -c $((12 << 20)) /dev/urandom >"$W/big" || exit 1
mkfifo "$W/pipe"
# Not through the ncfs function: $! must be the CLI itself (ip netns exec execs it).
CHUNKFS_LOG=warn ip netns exec "$(nn_ns k1)" "$CFS_CLI_BIN" put - /big <"$W/pipe" >"$W/put.out" 2>&1 &
PUT=$!
NN_EXTRA_PIDS+=("$PUT")
exec 3>"$W/pipe"
head -c $((8 << 20)) "$W/big" >&3 # the CLI commits in 8 MiB blocks
committed() {
    local s
    s=$(ncfs stat --json /.big._COPYING_ 2>/dev/null | grep -o '"size": [0-9]*' | grep -o '[0-9]*$')
    [ -n "$s" ] && [ "$s" -gt 0 ]
}
rl_poll 60 committed || rl_fail "the put committed nothing"
nn_log "fault: kill -9 chunkserver 2 during a put and the workload"
nn_kill_chunk 2
tail -c +$(((8 << 20) + 1)) "$W/big" >&3
exec 3>&-
wait "$PUT"
rc=$?
[ $rc = 0 ] || rl_fail "put exited $rc: $(cat "$W/put.out")"
ncfs get /big "$W/big.back" >/dev/null || rl_fail "get /big"
cmp -s "$W/big" "$W/big.back" || rl_fail "/big differs"
wl_wait_all || exit 1
failed=$(grep -h '^run:' "$CLUSTER_DIR/log/wl-wl3.log" | grep -o 'failed=[0-9]*' | cut -d= -f2)
[ "$failed" = 0 ] || rl_fail "the workload saw $failed failed operations with one server dead"
nn_log "put and workload complete without chunkserver 2"
nn_start_chunk 2 || exit 1
nn_wait_healthy 60 || exit 1

# ---- 3: partition; stale replicas are never served
nn_mount 1 "$MNT" || exit 1
nn_log "fault: chunkserver 3 cut off the network"
nn_isolate c3
c3_dead() { ncfs status --json 2>/dev/null | grep -q "\"address\": \"${CHUNK_ADDR[3]}\", \"state\": \"dead\""; }
rl_poll 60 c3_dead || rl_fail "chunkserver 3 not declared dead"
dd if="$W/new" of="$MNT/p" bs=1M conv=notrunc,fsync status=none || rl_fail "rewrite of /p"
nn_rejoin c3
nn_wait_healthy 60 || exit 1
nn_log "chunkserver 3 is back with stale replicas of /p"
if CHUNKFS_TIMEOUT_MS=2000 rl_get_cut "c1 c2" /p "$W/p.back"; then
    cmp -s "$W/new" "$W/p.back" || rl_fail "chunkserver 3 served a stale replica"
    nn_log "chunkserver 3 already repaired"
else
    nn_log "a read from chunkserver 3 alone fails while its replicas are stale (expected)"
fi
rl_wait_replicas /p 3 60 || rl_fail "/p not repaired: $(rl_chunks /p)"
rl_get_cut "c1 c2" /p "$W/p.back" || rl_fail "read from the repaired chunkserver 3 failed"
cmp -s "$W/new" "$W/p.back" || rl_fail "repaired chunkserver 3 serves other bytes"
nn_log "stale replicas replaced; chunkserver 3 alone serves the new bytes"
nn_umount "$MNT"

wl_check_all 60 || rl_fail "workload: lost=$WL_LOST corrupt=$WL_CORRUPT"
nn_log "PASS: reads=$reads operations=$WL_OPS lost=0 corrupt=0"
