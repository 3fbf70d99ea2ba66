#!/bin/bash
# Replacing a metaserver while a copy runs: 3 metaservers, a 48 MiB put in the background;
# a fourth metaserver starts empty with --join, is added, a follower is removed; the put
# finishes without error, the data reads back equal, and status lists the new member.
set -u
source "$CHUNKFS_SRC/tests/lib/cluster.sh"
cluster_setup
start_cluster -m 3 -c 3 -s 1M -g 2 || exit 1
wait_healthy 60 || exit 1

fail() {
    echo "FAIL: $*" >&2
    cfs status >&2
    exit 1
}

W=$CLUSTER_DIR/work
mkdir -p "$W"
head -c $((48 * 1024 * 1024)) /dev/urandom >"$W/data" || exit 1
cfs put "$W/data" /data >"$W/put.log" 2>&1 &
PUT=$!
EXTRA_PIDS+=("$PUT")

# The new metaserver: same cluster id, empty, waiting to be added.
"$CFS_META_BIN" format --data-dir "$CLUSTER_DIR/meta4" --cluster-id "$CLUSTER_ID" \
    --chunk-size 1M --goal 2 >>"$CLUSTER_DIR/log/format.log" 2>&1 || fail "format meta4"
"$CFS_META_BIN" --id 4 --listen 127.0.0.1:0 --join --data-dir "$CLUSTER_DIR/meta4" \
    --port-file "$CLUSTER_DIR/run/meta4.port" >>"$CLUSTER_DIR/log/meta4.log" 2>&1 &
META4=$!
EXTRA_PIDS+=("$META4")
_wait_file "$CLUSTER_DIR/run/meta4.port" 30 "$META4" || fail "meta4 did not start"
ADDR4="127.0.0.1:$(cat "$CLUSTER_DIR/run/meta4.port")"

cfs admin meta add "4=$ADDR4" || fail "meta add"
LEADER=$(meta_leader_index) || fail "no leader"
VICTIM=1
[ "$LEADER" = 1 ] && VICTIM=2
cfs admin meta remove "$VICTIM" || fail "meta remove $VICTIM"
kill_meta "$VICTIM"
kill -0 "$PUT" 2>/dev/null && echo "the copy was still running after the change"

wait "$PUT"
rc=$?
EXTRA_PIDS=("$META4") # the put has ended: never signal its (reusable) PID
[ $rc = 0 ] || fail "put failed during the membership change (rc $rc): $(cat "$W/put.log")"
cfs get /data "$W/back" || fail "get"
cmp "$W/data" "$W/back" || fail "data differs"
cfs status --json | grep -q "\"address\": \"$ADDR4\"" || fail "new metaserver not listed"
if cfs status --json | grep -q "\"address\": \"${META_ADDR[$VICTIM]}\""; then
    fail "removed metaserver still listed"
fi
echo "PASS"
