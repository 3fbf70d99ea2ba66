#!/bin/bash
# Self-healing and scale-out on a real cluster (1 metaserver, RF 3, 1 MiB chunks):
#   1. 4 chunkservers, write 24 MiB + a 4 MiB file; kill one chunkserver: every chunk gets
#      back to 3 live replicas (none on the dead server) and the data reads back equal;
#   2. start a fifth, empty chunkserver: the rebalancer fills it until the cluster reports
#      balanced and the new server holds at least 70% of the mean replica count;
#   3. decommission one: drain-status reports it drained (no replica left, nothing
#      under-replicated), fsck is clean, data still equal;
#   4. setrep 2 then 3 on the 4 MiB file: surplus replicas are trimmed, then restored;
#   5. remove the 4 MiB file: its chunk files disappear from every chunkserver's data dir.
# Every wait is a bounded poll; progress figures come from `chunkfs admin progress`.
set -u
source "$CHUNKFS_SRC/tests/lib/cluster.sh"
cluster_setup

export CFS_DEAD_MS=3000
export CFS_META_ARGS="--gc-grace-ms 2000 --delete-grace-ms 8000 --repair-max-per-server 8 --rebalance-max-inflight 8"
start_cluster -m 1 -c 4 -s 1M -g 3 || exit 1
wait_healthy 60 || exit 1

fail() {
    echo "FAIL: $*" >&2
    cfs status >&2
    cfs admin progress >&2
    exit 1
}

# poll SECONDS CMD...: runs CMD every 0.5 s until it succeeds; 1 once SECONDS have passed.
poll() {
    local end=$((SECONDS + $1)) i
    shift
    for ((i = 0; i < 10000 && SECONDS < end; i++)); do
        "$@" && return 0
        sleep 0.5
    done
    return 1
}

W=$CLUSTER_DIR/work
mkdir -p "$W"
head -c $((24 * 1024 * 1024)) /dev/urandom >"$W/data" || exit 1
head -c $((4 * 1024 * 1024)) /dev/urandom >"$W/victim" || exit 1
cfs put "$W/data" /data || fail "put data"
cfs put "$W/victim" /victim || fail "put victim"

# goal_met PATH DEAD_ADDR...: every chunk has exactly $WANT (default 3) replicas, none on
# the given servers.
goal_met() {
    local path=$1
    shift
    cfs fileinfo --json "$path" 2>/dev/null | python3 -c '
import json, sys
info = json.load(sys.stdin)
want = int(sys.argv[1])
bad = set(sys.argv[2:])
ok = len(info["chunks"]) > 0 and all(
    len(c["replicas"]) == want and not (set(c["replicas"]) & bad) for c in info["chunks"])
sys.exit(0 if ok else 1)' "${WANT:-3}" "$@"
}

check_data() {
    rm -f "$W/back"
    cfs get /data "$W/back" || fail "get data"
    cmp "$W/data" "$W/back" || fail "data differs"
}

# ---- 1. kill a chunkserver: the goal is restored on the others
poll 60 goal_met /data || fail "initial replication"
DEAD=${CHUNK_ADDR[4]}
kill_chunk 4
echo "[${SECONDS}s] killed chunkserver 4 ($DEAD)"
poll 90 goal_met /data "$DEAD" || fail "goal not restored after a chunkserver died"
poll 30 goal_met /victim "$DEAD" || fail "victim goal not restored"
check_data
echo "[${SECONDS}s] repair done: $(cfs admin progress | head -1)"
# The copies just confirmed show as a rate over the last minute.
cfs admin progress --json | python3 -c '
import json, sys
p = json.load(sys.stdin)
sys.exit(0 if p["repair_done"] > 0 and p["repair_per_min"] > 0 else 1)' ||
    fail "no repair rate after repairs: $(cfs admin progress --json)"

# ---- 2. a fifth, empty chunkserver: the rebalancer fills it
N_CHUNK=5
_start_chunk 5 || fail "chunkserver 5 did not start"
NEW=${CHUNK_ADDR[5]}
balanced() {
    local st pr
    st=$(cfs status --json 2>/dev/null) || return 1
    pr=$(cfs admin progress --json 2>/dev/null) || return 1
    python3 -c '
import json, sys
st, pr, new = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
alive = [c for c in st["chunkservers"] if c["state"] == "alive"]
mean = sum(c["chunks"] for c in alive) / max(len(alive), 1)
mine = [c["chunks"] for c in alive if c["address"] == new]
ok = pr["balanced"] and pr["rebalance_inflight"] == 0 and mine and mine[0] >= 0.7 * mean
sys.exit(0 if ok else 1)' "$st" "$pr" "$NEW"
}
poll 90 balanced || fail "rebalancer did not fill the new chunkserver"
poll 60 goal_met /data "$DEAD" || fail "goal broken by rebalancing"
check_data
echo "[${SECONDS}s] rebalanced: $(cfs status --json | python3 -c '
import json, sys
print({c["address"]: c["chunks"] for c in json.load(sys.stdin)["chunkservers"] if c["state"] == "alive"})')"

# ---- 3. decommission one: it drains, nothing under-replicated
OUT=${CHUNK_ADDR[1]}
cfs admin decommission "$OUT" || fail "decommission"
poll 90 cfs admin drain-status "$OUT" >/dev/null || fail "chunkserver 1 did not drain"
cfs admin drain-status "$OUT"
echo "[${SECONDS}s] drained"
poll 30 goal_met /data "$DEAD" "$OUT" || fail "data still on the drained server"
cfs fsck --json >"$W/fsck.json" || fail "fsck reports problems"
python3 -c '
import json, sys
f = json.load(open(sys.argv[1]))
sys.exit(0 if f["under_replicated"] == 0 and f["missing"] == 0 else 1)' "$W/fsck.json" ||
    fail "fsck: $(cat "$W/fsck.json")"
check_data

# ---- 4. setrep down trims surplus replicas, setrep up copies them back
cfs setrep 2 /victim || fail "setrep 2"
WANT=2 poll 60 goal_met /victim "$DEAD" || fail "setrep 2: surplus replicas not trimmed"
echo "[${SECONDS}s] setrep 2: trimmed"
cfs setrep 3 /victim || fail "setrep 3"
poll 60 goal_met /victim "$DEAD" "$OUT" || fail "setrep 3: replicas not restored"
echo "[${SECONDS}s] setrep 3: restored"

# ---- 5. a removed file's chunks disappear from every data dir
IDS=$(cfs fileinfo --json /victim | python3 -c '
import json, sys
print(" ".join("%016x" % c["id"] for c in json.load(sys.stdin)["chunks"]))')
[ -n "$IDS" ] || fail "no chunk ids for /victim"
rm_ms=$(date +%s%3N)
cfs rm /victim || fail "rm victim"
all_present() {
    local id
    for id in $IDS; do
        find "$CLUSTER_DIR"/chunk[1235]/chunks -name "$id.chk*" 2>/dev/null | grep -q . || return 1
    done
}
gone() {
    local id
    for id in $IDS; do
        if find "$CLUSTER_DIR"/chunk[1235]/chunks -name "$id.chk*" 2>/dev/null | grep -q .; then
            return 1
        fi
    done
    return 0
}
# Inside the delete grace period (8 s) the replicas are still there; checked only while
# surely inside it (a loaded machine may take seconds to get here).
sleep 2
if [ $(($(date +%s%3N) - rm_ms)) -lt 5000 ]; then
    all_present || fail "chunks of a removed file were deleted inside the grace period"
    echo "[${SECONDS}s] removed file's chunks still on disk inside the grace period"
else
    echo "[${SECONDS}s] (machine too slow to check the grace period from inside it)"
fi
poll 60 gone || fail "chunks of a removed file are still on disk"
[ $(($(date +%s%3N) - rm_ms)) -ge 8000 ] || fail "chunks of a removed file deleted before the grace period"
echo "[${SECONDS}s] PASS"
