#!/bin/bash
# Randomized fault injection (`make chaos SEED=S DURATION=SECONDS`): a cluster in network
# namespaces (tests/lib/netns.sh) under libchunkfs, FUSE and CLI workloads for DURATION
# seconds while faults drawn from SEED hit it one after another; then every fault is undone
# and every history checked. The same seed gives the same schedule of faults (kinds, targets
# by role, hold times); which server is the leader at a given moment is up to the cluster.
#
#   bash tests/chaos/chaos.sh SEED DURATION      (needs root; CHUNKFS_BIN, CHUNKFS_SRC set)
#
# Exit 0 if nothing acknowledged was lost or corrupted; 1 otherwise (or if the cluster did
# not recover); the last line is always the summary:
#   chaos: seed=S duration=Ns operations=N faults=N lost=N corrupt=N
# Environment: CHAOS_LOG_DIR=DIR keeps logs + histories there; CHAOS_FAULTS="kinds..." limits
# the kinds drawn (names below).
set -u
SEED=${1:?usage: chaos.sh SEED DURATION}
DURATION=${2:?usage: chaos.sh SEED DURATION}
source "$CHUNKFS_SRC/tests/lib/netns.sh"
source "$CHUNKFS_SRC/tests/chaos/workload.sh"

FAULTS=0
SUMMARY_DONE=0
LOST=0
CORRUPT=0
OPS=0
summary() {
    [ $SUMMARY_DONE = 1 ] && return
    SUMMARY_DONE=1
    echo "chaos: seed=$SEED duration=${DURATION}s operations=$OPS faults=$FAULTS lost=$LOST corrupt=$CORRUPT"
}

nn_setup
NN_KEEP=${CHAOS_LOG_DIR:-}
nn_after_exit() { summary; } # the summary line comes last, after the harness's cleanup
wl_require
RANDOM=$SEED
nn_log "chaos: seed $SEED, duration ${DURATION}s"

nn_start_cluster -m 3 -c 4 -k 2 -s 1M -g 3 -d "${CHAOS_TMPFS:-512M}" || exit 1
nn_wait_healthy 60 || exit 1

ALL_KINDS="kill_leader kill_meta freeze_leader isolate_leader split_meta kill_all_meta tear_wal
kill_chunk freeze_chunk isolate_chunk partition_chunk corrupt_replica full_disk netem"
KINDS=(${CHAOS_FAULTS:-$ALL_KINDS})

wl_start_lib lib "$SEED" "$DURATION" --threads 3 --files 12 --timeout-ms 20000 --max-size 2600000
wl_start_cli cli "$SEED" "$DURATION" 3000000
HAVE_FUSE=0
if [ -c /dev/fuse ] && command -v fusermount3 >/dev/null 2>&1 && [ -x "$CHUNKFS_BIN/chunkfs-mount" ]; then
    nn_mount 2 "$CLUSTER_DIR/mnt" || exit 1
    HAVE_FUSE=1
    wl_start_fuse fuse "$SEED" "$DURATION" "$CLUSTER_DIR/mnt" --threads 2 --files 6 --max-size 2000000
else
    nn_log "no FUSE here: the FUSE writer is left out"
fi

# The leader now, or metaserver $1 (drawn by the caller) if there is none.
leader_or() {
    local l
    l=$(nn_leader_index) || l=$1
    echo "$l"
}

# Restarts whatever is down, thaws, heals: the cluster back to whole.
undo_all() {
    local i
    nn_heal
    for i in $(seq 1 "$N_META"); do
        nn_thaw "m$i" 2>/dev/null
        nn_rejoin "m$i"
        nn_netem_clear "m$i"
    done
    for i in $(seq 1 "$N_CHUNK"); do
        nn_thaw "c$i" 2>/dev/null
        nn_rejoin "c$i"
        nn_netem_clear "c$i"
        nn_unfill_disk "$i"
    done
    for i in $(seq 1 "$N_META"); do [ -n "${META_PID[$i]}" ] || nn_start_meta "$i"; done
    for i in $(seq 1 "$N_CHUNK"); do [ -n "${CHUNK_PID[$i]}" ] || nn_start_chunk "$i"; done
}

# One fault: inject, hold, undo. Draws its random numbers in a fixed order whatever the
# cluster does, so the schedule depends on the seed only.
inject() {
    local kind=$1 hold=$2 m=$3 c=$4 l out
    case $kind in
    kill_leader)
        l=$(leader_or "$m")
        nn_log "fault $FAULTS: kill -9 leader m$l for ${hold}s"
        nn_kill_meta "$l"
        sleep "$hold"
        nn_start_meta "$l"
        ;;
    kill_meta)
        nn_log "fault $FAULTS: kill -9 metaserver m$m for ${hold}s"
        nn_kill_meta "$m"
        sleep "$hold"
        nn_start_meta "$m"
        ;;
    freeze_leader)
        l=$(leader_or "$m")
        nn_log "fault $FAULTS: SIGSTOP leader m$l for ${hold}s"
        nn_freeze "m$l"
        sleep "$hold"
        nn_thaw "m$l"
        ;;
    isolate_leader)
        l=$(leader_or "$m")
        nn_log "fault $FAULTS: leader m$l's link down for ${hold}s"
        nn_isolate "m$l"
        sleep "$hold"
        nn_rejoin "m$l"
        ;;
    split_meta)
        nn_log "fault $FAULTS: metaserver m$m partitioned from the majority for ${hold}s"
        nn_split_meta "m$m"
        sleep "$hold"
        nn_heal
        ;;
    kill_all_meta)
        nn_log "fault $FAULTS: kill -9 every metaserver, restart after ${hold}s"
        nn_kill_all_meta
        sleep "$hold"
        nn_start_all_meta
        ;;
    tear_wal)
        nn_log "fault $FAULTS: kill -9 metaserver m$m, tear its WAL tail, restart"
        nn_kill_meta "$m"
        nn_tear_wal "$m"
        nn_start_meta "$m"
        ;;
    kill_chunk)
        nn_log "fault $FAULTS: kill -9 chunkserver c$c for ${hold}s"
        nn_kill_chunk "$c"
        sleep "$hold"
        nn_start_chunk "$c"
        ;;
    freeze_chunk)
        nn_log "fault $FAULTS: SIGSTOP chunkserver c$c for ${hold}s"
        nn_freeze "c$c"
        sleep "$hold"
        nn_thaw "c$c"
        ;;
    isolate_chunk)
        nn_log "fault $FAULTS: chunkserver c$c's link down for ${hold}s"
        nn_isolate "c$c"
        sleep "$hold"
        nn_rejoin "c$c"
        ;;
    partition_chunk)
        local metas="" i
        for i in $(seq 1 "$N_META"); do metas="$metas m$i"; done
        nn_log "fault $FAULTS: chunkserver c$c cut from the metaservers for ${hold}s"
        nn_partition "c$c" "$metas"
        sleep "$hold"
        nn_heal
        ;;
    corrupt_replica)
        out=$(nn_corrupt_replica "$c" 2 | tr '\n' ' ')
        nn_log "fault $FAULTS: flipped bytes on chunkserver c$c: ${out:-no replica yet}"
        ;;
    full_disk)
        nn_log "fault $FAULTS: chunkserver c$c's disk full for ${hold}s"
        nn_fill_disk "$c"
        sleep "$hold"
        nn_unfill_disk "$c"
        ;;
    netem)
        if nn_netem "c$c" "delay 40ms 20ms loss 2%"; then
            nn_log "fault $FAULTS: chunkserver c$c: 40 ms delay, 2% loss for ${hold}s"
            sleep "$hold"
            nn_netem_clear "c$c"
        else
            return 1 # not counted: the kernel has no sch_netem
        fi
        ;;
    esac
    return 0
}

END=$((SECONDS + DURATION - 10))
sleep 2
while [ $SECONDS -lt $END ]; do
    # Drawn in the main shell (a $(...) subshell reseeds RANDOM), in a fixed order.
    kind=${KINDS[$((RANDOM % ${#KINDS[@]}))]}
    hold=$((2 + RANDOM % 5))
    m=$((1 + RANDOM % N_META))
    c=$((1 + RANDOM % N_CHUNK))
    pause=$((1 + RANDOM % 3))
    inject "$kind" "$hold" "$m" "$c" && FAULTS=$((FAULTS + 1))
    undo_all
    # Recovered before the next fault: a leader and every chunkserver alive (bounded).
    nn_wait_healthy 90 >/dev/null 2>&1 || nn_log "cluster not healthy 90 s after fault $FAULTS ($kind)"
    sleep "$pause"
done
nn_log "faults done ($FAULTS); waiting for the workloads"
undo_all
wl_stop_all
WL_RC=$?
nn_wait_healthy 120 || { nn_log "FAIL: the cluster did not recover"; exit 1; }
wl_check_all 180
CHECK_RC=$?
OPS=$WL_OPS
LOST=$WL_LOST
CORRUPT=$WL_CORRUPT
if [ $HAVE_FUSE = 1 ]; then nn_umount "$CLUSTER_DIR/mnt"; fi
[ $WL_RC = 0 ] && [ $CHECK_RC = 0 ] && [ "$LOST" = 0 ] && [ "$CORRUPT" = 0 ] || exit 1
exit 0
