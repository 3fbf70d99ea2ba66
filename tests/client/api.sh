#!/bin/bash
# libchunkfs namespace API (client_api) against a real 3+3 cluster.
set -u
source "$CHUNKFS_SRC/tests/lib/cluster.sh"
[ -x "$CHUNKFS_BIN/client_api" ] || { echo "SKIP: client_api not built"; exit 77; }
cluster_setup
start_cluster -s 1M -g 3 || exit 1
wait_healthy 60 || exit 1
"$CHUNKFS_BIN/client_api" "$CHUNKFS_META" || exit 1
echo "PASS"
