#!/usr/bin/env bash
# Three chunkfs-metaserver processes on 127.0.0.1: a metadata workload runs while the leader
# is killed -9 (twice, each restarted); afterwards every acknowledged change is present, all
# three nodes hold identical state (snapshot image hash), and a restart of all three keeps
# everything. Also checks that bad input gets clean errors. Exit 77 = skipped.
set -euo pipefail

BIN=${CHUNKFS_BIN:?CHUNKFS_BIN not set}
META=$BIN/chunkfs-metaserver
DRV=$BIN/meta_workload
[[ -x $META && -x $DRV ]] || { echo "binaries missing"; exit 77; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/cfs-metatest.XXXXXX")
declare -a PIDS=("" "" "" "" "")
cleanup() {
    local rc=$?
    for i in 1 2 3 4; do
        if [[ -n ${PIDS[$i]:-} ]]; then kill -9 "${PIDS[$i]}" 2>/dev/null || true; fi
    done
    [[ -n ${WL_PID:-} ]] && kill -9 "$WL_PID" 2>/dev/null || true
    wait 2>/dev/null || true
    if [[ $rc -ne 0 ]]; then
        for i in 1 2 3 4; do
            [[ -f $WORK/m$i.log ]] && { echo "---- node $i log (tail)"; tail -n 30 "$WORK/m$i.log"; }
        done
        echo "---- workload log"; cat "$WORK/wl.log" 2>/dev/null || true
    fi
    rm -rf "$WORK"
    exit $rc
}
trap cleanup EXIT

die() { echo "FAIL: $*" >&2; exit 1; }

declare -a PORTS=("")
for i in 1 2 3; do PORTS+=("$($DRV freeport)"); done
PEERS="1=127.0.0.1:${PORTS[1]},2=127.0.0.1:${PORTS[2]},3=127.0.0.1:${PORTS[3]}"
ADDRS="127.0.0.1:${PORTS[1]},127.0.0.1:${PORTS[2]},127.0.0.1:${PORTS[3]}"

for i in 1 2 3; do
    $META format --data-dir "$WORK/m$i" --cluster-id metatest --goal 2 >/dev/null
done
# A second format of the same dir is refused.
if $META format --data-dir "$WORK/m1" --cluster-id other 2>/dev/null; then die "reformat accepted"; fi

start() { # start node i
    local i=$1
    rm -f "$WORK/port$i"
    $META --id "$i" --listen "127.0.0.1:${PORTS[$i]}" --peers "$PEERS" --data-dir "$WORK/m$i" \
        --port-file "$WORK/port$i" --tick-ms 20 --election-ticks 25 >>"$WORK/m$i.log" 2>&1 &
    PIDS[$i]=$!
}
stop() { # SIGTERM node i and wait for it
    local i=$1
    kill -TERM "${PIDS[$i]}"
    local t=0
    while kill -0 "${PIDS[$i]}" 2>/dev/null; do
        t=$((t + 1)); [[ $t -le 200 ]] || { kill -9 "${PIDS[$i]}"; die "node $i ignored SIGTERM"; }
        sleep 0.1
    done
    wait "${PIDS[$i]}" || die "node $i exited with an error after SIGTERM"
    PIDS[$i]=""
}
crash() { # kill -9 node i
    local i=$1
    kill -9 "${PIDS[$i]}"
    wait "${PIDS[$i]}" 2>/dev/null || true
    PIDS[$i]=""
}
wait_ports() {
    for i in 1 2 3; do
        local t=0
        until [[ -s $WORK/port$i ]]; do
            t=$((t + 1)); [[ $t -le 300 ]] || die "node $i did not start"
            kill -0 "${PIDS[$i]}" 2>/dev/null || die "node $i exited"
            sleep 0.1
        done
    done
}
leader() { # prints the leader id (waits for one)
    local t=0 id=""
    until id=$($DRV leader "$ADDRS" 2>/dev/null) && [[ -n $id && $id != 0 ]]; do
        t=$((t + 1)); [[ $t -le 60 ]] || die "no leader"
        sleep 0.5
    done
    echo "$id"
}
progress() { cat "$WORK/progress" 2>/dev/null || echo 0; }
wait_progress() { # wait until the workload acknowledged >= n ops (or finished)
    local n=$1 t=0
    while [[ $(progress) -lt $n ]]; do
        kill -0 "$WL_PID" 2>/dev/null || return 0
        t=$((t + 1)); [[ $t -le 600 ]] || die "workload stalled at $(progress)"
        sleep 0.1
    done
}
same_dumps() { # all three nodes report the same state hash
    local t=0
    while :; do
        local d1 d2 d3
        d1=$($DRV dump "127.0.0.1:${PORTS[1]}" 2>/dev/null | sed 's/applied=[0-9]* //') || d1=x1
        d2=$($DRV dump "127.0.0.1:${PORTS[2]}" 2>/dev/null | sed 's/applied=[0-9]* //') || d2=x2
        d3=$($DRV dump "127.0.0.1:${PORTS[3]}" 2>/dev/null | sed 's/applied=[0-9]* //') || d3=x3
        if [[ $d1 == "$d2" && $d2 == "$d3" ]]; then echo "state on all nodes: $d1"; return 0; fi
        t=$((t + 1)); [[ $t -le 120 ]] || die "nodes differ: [$d1] [$d2] [$d3]"
        sleep 0.25
    done
}

for i in 1 2 3; do start "$i"; done
wait_ports
L=$(leader)
echo "leader is node $L"
$DRV badinput "$ADDRS"

N=800
$DRV run "$ADDRS" $N "$WORK/model" "$WORK/progress" >"$WORK/wl.log" 2>&1 &
WL_PID=$!

wait_progress 150
L=$(leader); echo "kill -9 leader $L at op $(progress)"; crash "$L"
wait_progress 300
start "$L"; echo "restarted node $L at op $(progress)"
wait_progress 450
L2=$(leader); echo "kill -9 leader $L2 at op $(progress)"; crash "$L2"
wait_progress 600
start "$L2"; echo "restarted node $L2 at op $(progress)"

wait "$WL_PID" || { WL_PID=""; die "workload failed"; }
WL_PID=""
cat "$WORK/wl.log"
[[ $(progress) -eq $N ]] || die "workload finished at $(progress) of $N"

$DRV verify "$ADDRS" "$WORK/model"
same_dumps

# Membership: a fourth node joins empty, is added (caught up through the log or a snapshot),
# holds the same state, and is removed again.
PORTS+=("$($DRV freeport)")
$META format --data-dir "$WORK/m4" --cluster-id metatest --goal 2 >/dev/null
$META --id 4 --listen "127.0.0.1:${PORTS[4]}" --join --data-dir "$WORK/m4" \
    --port-file "$WORK/port4" --tick-ms 20 --election-ticks 25 >>"$WORK/m4.log" 2>&1 &
PIDS[4]=$!
t=0
until [[ -s $WORK/port4 ]]; do
    t=$((t + 1)); [[ $t -le 300 ]] || die "node 4 did not start"
    sleep 0.1
done
$DRV admin "$ADDRS" add-member "4=127.0.0.1:${PORTS[4]}"
t=0
while :; do
    d4=$($DRV dump "127.0.0.1:${PORTS[4]}" 2>/dev/null | sed 's/applied=[0-9]* //') || d4=x
    dl=$($DRV dump "127.0.0.1:${PORTS[1]}" 2>/dev/null | sed 's/applied=[0-9]* //') || dl=y
    [[ $d4 == "$dl" ]] && break
    t=$((t + 1)); [[ $t -le 120 ]] || die "joined node differs: [$d4] [$dl]"
    sleep 0.25
done
echo "node 4 joined with state $d4"
$DRV admin "$ADDRS" remove-member 4
stop 4
$DRV verify "$ADDRS" "$WORK/model"

echo "restarting all three"
for i in 1 2 3; do stop "$i"; done
for i in 1 2 3; do start "$i"; done
wait_ports
L=$(leader)
echo "leader after full restart: node $L"
$DRV verify "$ADDRS" "$WORK/model"
same_dumps
for i in 1 2 3; do stop "$i"; done
echo "PASS"
