#!/bin/bash
# Chunk access tokens end to end: metaservers signing tokens that live 1.5 s; a reader and a
# writer whose cached tokens expired keep working (libchunkfs fetches fresh ones when a
# chunkserver answers "token expired"), and the chunkservers did refuse the expired ones.
set -u
source "$CHUNKFS_SRC/tests/lib/cluster.sh"
[ -x "$CHUNKFS_BIN/client_token_refresh" ] || { echo "SKIP: client_token_refresh not built"; exit 77; }
LIFETIME_MS=1500
cluster_setup
CFS_META_ARGS="${CFS_META_ARGS:-} --token-lifetime-ms $LIFETIME_MS"
start_cluster -m 1 -c 2 -s 1M -g 2 || exit 1
wait_healthy 60 || exit 1
"$CHUNKFS_BIN/client_token_refresh" "$CHUNKFS_META" "$LIFETIME_MS" || exit 1
# Not vacuous: tokens were on and the chunkservers refused the expired ones (a read and a write).
for what in read write; do
    grep -q "$what .*token expired" "$CLUSTER_DIR"/log/chunk*.log ||
        { echo "FAIL: no chunkserver refused an expired $what token"; exit 1; }
done
echo "PASS"
