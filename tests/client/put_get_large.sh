#!/bin/bash
# put and get of a large file (default 1 GiB, LARGE_MB to change) with 64 MiB chunks on a
# 3+3 cluster: the SHA-256 of what comes back equals the source's, and the chunk layout is
# what the size implies.
set -u
source "$CHUNKFS_SRC/tests/lib/cluster.sh"
cluster_setup
MB=${LARGE_MB:-1024}
start_cluster -s 64M -g 3 || exit 1
wait_healthy 60 || exit 1
W=$CLUSTER_DIR/work
mkdir -p "$W"
head -c $((MB << 20)) /dev/urandom >"$W/big" || exit 1
want=$(sha256sum <"$W/big" | cut -d' ' -f1)
start=$(date +%s.%N)
cfs put "$W/big" /big.bin || { echo "FAIL: put"; exit 1; }
mid=$(date +%s.%N)
cfs get /big.bin "$W/back" || { echo "FAIL: get"; exit 1; }
end=$(date +%s.%N)
got=$(sha256sum <"$W/back" | cut -d' ' -f1)
[ "$want" = "$got" ] || { echo "FAIL: sha256 $got, want $want"; exit 1; }
chunks=$(cfs fileinfo --json /big.bin | grep -o '"id": ' | wc -l)
[ "$chunks" = $(((MB + 63) / 64)) ] || { echo "FAIL: $chunks chunks"; exit 1; }
# The SHA-256 put recorded is the file's (get checked it too).
cfs_xattr_ok=$(cfs stat --json /big.bin | grep -c '"size": '"$((MB << 20))")
[ "$cfs_xattr_ok" = 1 ] || { echo "FAIL: size"; exit 1; }
awk -v mb="$MB" -v s="$start" -v m="$mid" -v e="$end" 'BEGIN {
    printf "put %d MiB (incl. read-back verify): %.1f s; get: %.1f s (%.0f MiB/s)\n",
           mb, m - s, e - m, mb / (e - m) }'
echo "PASS"
