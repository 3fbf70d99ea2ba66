#!/bin/bash
# Random pwrite/pread/truncate/reopen through libchunkfs across 1 MiB chunk boundaries,
# checked against an in-memory model (client_random_io), on a real 3+3 cluster.
set -u
source "$CHUNKFS_SRC/tests/lib/cluster.sh"
[ -x "$CHUNKFS_BIN/client_random_io" ] || { echo "SKIP: client_random_io not built"; exit 77; }
cluster_setup
start_cluster -s 1M -g 3 || exit 1
wait_healthy 60 || exit 1
for seed in 1 2; do
    "$CHUNKFS_BIN/client_random_io" "$CHUNKFS_META" "/random$seed.bin" "$seed" 150 || exit 1
done
echo "PASS"
