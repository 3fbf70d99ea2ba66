#!/bin/bash
# Chaos scenarios 1, 2 and 6 (issue 9) on one cluster in network namespaces, with libchunkfs,
# FUSE and CLI workloads recording histories throughout, checked at the end:
#   leader:   the metaserver leader killed -9, frozen (SIGSTOP longer than the election
#             timeout, then SIGCONT) and cut off the network; each time a new leader takes over.
#   minority: one metaserver (first the leader, then a follower) partitioned from the other
#             metaservers and the chunkservers (clients still reach it): the majority takes a
#             write; reads and writes sent straight to the minority fail, never return data;
#             after healing it catches up to the same applied index and its refused write
#             never appears.
#   all_meta: every metaserver killed -9 at once under load; restarted, the cluster
#             serves again (a new copy in and out).
# Promise checked at the end: nothing acknowledged lost or corrupted (chaos_workload check
# over every history, CLI copies also by `chunkfs get` + cmp).
# CHAOS_SECTIONS="leader minority all_meta" picks sections; CHAOS_SEED replays the workloads.
set -u
source "$CHUNKFS_SRC/tests/lib/netns.sh"
source "$CHUNKFS_SRC/tests/chaos/workload.sh"
nn_setup
wl_require
SEED=${CHAOS_SEED:-$(date +%s)}
RANDOM=$SEED
nn_log "seed $SEED"
nn_start_cluster -m 3 -c 3 -k 1 -s 1M -g 2 || exit 1
nn_wait_healthy 60 || exit 1
W=$CLUSTER_DIR/work
mkdir -p "$W"

wl_start_lib lib "$SEED" 300 --threads 2 --files 6 --timeout-ms 15000 --max-size 2200000
wl_start_cli cli "$SEED" 300 2000000
if [ -c /dev/fuse ] && command -v fusermount3 >/dev/null 2>&1 && [ -x "$CHUNKFS_BIN/chunkfs-mount" ]; then
    nn_mount 1 "$CLUSTER_DIR/mnt" || exit 1
    wl_start_fuse fuse "$SEED" 300 "$CLUSTER_DIR/mnt" --threads 1 --files 3 --max-size 1500000
else
    nn_log "no FUSE here: the FUSE writer is left out"
fi

fail() {
    nn_log "FAIL: $*"
    exit 1
}

# Waits (bounded) until a leader other than $1 is elected; prints it.
new_leader() {
    local old=$1 l end=$((SECONDS + 30))
    while [ $SECONDS -lt $end ]; do
        l=$(nn_leader_index) && [ "$l" != "$old" ] && { echo "$l"; return 0; }
        sleep 0.2
    done
    return 1
}

# probe I ARGS: one call straight to metaserver I, no redirect (exit 0 = it answered).
probe() {
    local i=$1
    shift
    nn_client 1 "$WL_BIN" probe --addr "${META_ADDR[$i]}" --timeout-ms 2000 "$@"
}

section_leader() {
    local kind l n
    for kind in kill freeze isolate; do
        sleep 1
        l=$(nn_leader_index) || fail "no leader"
        case $kind in
        kill)
            nn_log "leader: kill -9 leader m$l"
            nn_kill_meta "$l"
            n=$(new_leader "$l") || fail "no new leader after kill"
            nn_start_meta "$l" || exit 1
            ;;
        freeze)
            # /fz changes while the old leader is frozen; once thawed, that leader must not
            # answer a read with the old /fz (a leader lease must not outlive the pause).
            head -c 1000 /dev/urandom >"$W/fz1"
            ncfs put -f "$W/fz1" /fz >/dev/null || fail "put /fz"
            nn_log "leader: SIGSTOP leader m$l until another is elected"
            nn_freeze "m$l"
            n=$(new_leader "$l") || { nn_thaw "m$l"; fail "no new leader while frozen"; }
            head -c 2000 /dev/urandom >"$W/fz2"
            ncfs put -f "$W/fz2" /fz >/dev/null || { nn_thaw "m$l"; fail "put /fz during the freeze"; }
            nn_thaw "m$l"
            local k out
            for k in 1 2 3 4 5 6 7 8 9 10; do
                out=$(probe "$l" --path /fz --timeout-ms 1000)
                if grep -q "err=0 " <<<"$out" && ! grep -q "size=2000 " <<<"$out"; then
                    fail "stale read from thawed old leader m$l: $out"
                fi
            done
            nn_log "leader: thawed m$l served no stale read ($out)"
            ;;
        isolate)
            nn_log "leader: leader m$l's link down"
            nn_isolate "m$l"
            n=$(new_leader "$l") || { nn_rejoin "m$l"; fail "no new leader while isolated"; }
            nn_rejoin "m$l"
            ;;
        esac
        nn_log "leader: new leader m$n"
    done
}


# A refusal by a minority: not the leader, or no answer in time (a deposed leader waiting for
# a quorum). Anything else (say an authentication error) would make the check vacuous.
refused() {
    grep -Eq "err=(-1001|-110|-107|-111) " <<<"$1"
}

# A read answer that shows /state as it was before the cut: absent in the first round, the
# previous round's write (100000 + round bytes) after that.
pre_cut_state() {
    if [ "$version" = 1 ]; then
        grep -q "err=-2 " <<<"$1"
    else
        grep -q "err=0 .* size=$((100000 + version - 1)) " <<<"$1"
    fi
}

version=0
minority_round() {
    local m=$1 what=$2 out end
    version=$((version + 1))
    # The probe itself works: the leader answers it.
    out=$(probe "$(nn_leader_index)" --path /) || fail "the leader does not answer a probe: $out"
    nn_log "minority: metaserver m$m ($what) cut from the others"
    nn_split_meta "m$m"
    # At once and for a while. Until the majority changes /state, the cut-off node may still
    # answer a read with the state from before the cut (a leader inside its read lease: no
    # other leader can exist yet, so that answer is not stale); anything else is refused.
    end=$((SECONDS + 2))
    while [ $SECONDS -lt $end ]; do
        out=$(probe "$m" --path /state)
        refused "$out" || pre_cut_state "$out" ||
            fail "minority m$m: unexpected answer to a read: $out"
        out=$(probe "$m" --mkdir "minority$version") && fail "minority m$m accepted a write: $out"
        refused "$out" || fail "minority m$m: unexpected answer to a write: $out"
        sleep 0.3
    done
    nn_log "minority: m$m refused reads and writes ($out)"
    head -c $((100000 + version)) /dev/urandom >"$W/v$version"
    CHUNKFS_LOG=error ncfs put -f "$W/v$version" /state >/dev/null ||
        fail "the majority did not take a write"
    # Now any read answer from the cut-off node would be stale: it must refuse.
    out=$(probe "$m" --path /state) && fail "minority m$m served a stale read: $out"
    refused "$out" || fail "minority m$m: unexpected answer to a read after the majority's write: $out"
    nn_heal
    nn_wait_caught_up 60 || fail "m$m did not catch up"
    ncfs stat "/minority$version" >/dev/null 2>&1 && fail "a write sent to the minority took effect"
    rm -f "$W/back"
    ncfs get /state "$W/back" >/dev/null && cmp -s "$W/v$version" "$W/back" ||
        fail "/state is not the majority's write"
    nn_log "minority: m$m rejoined and caught up"
}

section_minority() {
    local l
    l=$(nn_leader_index) || fail "no leader"
    minority_round "$l" leader
    l=$(nn_leader_index) || fail "no leader"
    minority_round $(((l % N_META) + 1)) follower
}

section_all_meta() {
    local k
    for k in 1; do
        sleep 2
        nn_log "all_meta: kill -9 every metaserver"
        nn_kill_all_meta
        sleep 0.5
        nn_start_all_meta || exit 1
        nn_leader_index >/dev/null || fail "no leader after the restart"
        nn_log "all_meta: restarted; leader elected"
    done
}

for s in ${CHAOS_SECTIONS:-leader minority all_meta}; do
    "section_$s"
done
nn_log "faults done; stopping the workloads"
wl_stop_all || exit 1
nn_wait_healthy 60 || exit 1
# Serves: a fresh client copies a file in and out.
head -c 3000000 /dev/urandom >"$W/after"
ncfs put "$W/after" /after >/dev/null && ncfs get /after "$W/after.back" >/dev/null &&
    cmp -s "$W/after" "$W/after.back" || fail "the cluster does not serve after the faults"
wl_check_all 60 || fail "lost=$WL_LOST corrupt=$WL_CORRUPT"
nn_log "PASS: operations=$WL_OPS lost=0 corrupt=0"
