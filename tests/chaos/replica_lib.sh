#!/bin/bash
# Replica-level helpers for the data-path chaos scenarios (chunkservers, corruption, full
# disk, dead clients), on a cluster started by tests/lib/netns.sh. Sourcing this file
# sources tests/lib/netns.sh and tests/chaos/workload.sh too.
#
#   rl_setup [fuse]           nn_setup + wl_require (+ skip, 77, without FUSE); SEED from
#                             CHAOS_SEED (else the clock) seeds RANDOM and is logged
#   rl_chunks PATH            one line per chunk of PATH: "INDEX ID VERSION LENGTH NREPLICAS"
#   rl_replicas PATH INDEX    the replica addresses of chunk INDEX, one a line
#   rl_wait_replicas PATH N T until every chunk of PATH lists N live replicas (T seconds)
#   rl_chunk_file I ID        path of chunk ID's replica file on chunkserver I
#   rl_quarantined I ID       true when chunkserver I moved a replica of ID to quarantine
#   rl_flip FILE OFFSET N     XORs N bytes of FILE at OFFSET with 0xff
#   rl_header_slot FILE       offset (0 or 512) of the current header slot of a replica
#   rl_get_cut "NODES" PATH OUT   `chunkfs get PATH OUT` from client k1 while k1 cannot reach
#                             NODES (e.g. "c1 c2"): the read must come from the others;
#                             CHUNKFS_TIMEOUT_MS bounds it (default here 4000)
#   rl_poll T CMD...          runs CMD every 0.25 s until it succeeds, at most T seconds
#   rl_fail MSG               logs "FAIL: MSG" and exits 1 (the harness cleans up); with
#                             CHAOS_KEEP_LOGS=DIR set, the cluster's logs are copied there

source "$CHUNKFS_SRC/tests/lib/netns.sh"
source "$CHUNKFS_SRC/tests/chaos/workload.sh"

rl_setup() {
    nn_setup
    wl_require
    if [ "${1:-}" = fuse ] && ! { [ -c /dev/fuse ] && command -v fusermount3 >/dev/null 2>&1; }; then
        echo "SKIP: no FUSE here" >&2
        exit 77
    fi
    SEED=${CHAOS_SEED:-$(date +%s)}
    RANDOM=$SEED
    nn_log "seed $SEED"
}

rl_fail() {
    nn_log "FAIL: $*"
    if [ -n "${CHAOS_KEEP_LOGS:-}" ]; then
        mkdir -p "$CHAOS_KEEP_LOGS" && cp -r "$CLUSTER_DIR/log" "$CHAOS_KEEP_LOGS/" &&
            nn_log "logs kept in $CHAOS_KEEP_LOGS/log"
    fi
    exit 1
}

rl_poll() {
    local t=$1 end
    shift
    end=$((SECONDS + t))
    while :; do
        "$@" && return 0
        [ $SECONDS -lt $end ] || return 1
        sleep 0.25
    done
}

# fileinfo --json prints one chunk a line: {"index": I, "id": C, "version": V, "length": L,
# "replicas": ["A", ...]} (awk, not python: process start-up is slow on a loaded machine).
_rl_fileinfo() {
    CHUNKFS_TIMEOUT_MS=5000 ncfs fileinfo --json "$1" 2>/dev/null |
        sed -nE 's/.*"index": ([0-9]+), "id": ([0-9]+), "version": ([0-9]+), "length": ([0-9]+), "replicas": \[(.*)\].*/\1 \2 \3 \4 \5/p'
}

rl_get_cut() {
    local rc
    nn_partition "k1" "$1" || return 2
    rm -f "$3"
    CHUNKFS_TIMEOUT_MS=${CHUNKFS_TIMEOUT_MS:-4000} ncfs get "$2" "$3" >/dev/null 2>&1
    rc=$?
    nn_heal
    return $rc
}

rl_chunks() {
    _rl_fileinfo "$1" | awk '{ n = 0; for (i = 5; i <= NF; i++) if ($i ~ /"/) n++; print $1, $2, $3, $4, n }'
}

rl_replicas() {
    _rl_fileinfo "$1" | awk -v want="$2" '$1 == want { for (i = 5; i <= NF; i++) { gsub(/[",]/, "", $i); print $i } }'
}

_rl_all_have() {
    local path=$1 n=$2 out
    out=$(rl_chunks "$path") && [ -n "$out" ] || return 1
    awk -v n="$n" '$5 != n { bad = 1 } END { exit bad }' <<<"$out"
}

rl_wait_replicas() {
    rl_poll "$3" _rl_all_have "$1" "$2"
}

rl_chunk_file() {
    local hex
    hex=$(printf '%016x' "$2")
    echo "$CLUSTER_DIR/chunk$1/chunks/${hex:14:2}/$hex.chk"
}

rl_quarantined() {
    local hex
    hex=$(printf '%016x' "$2")
    compgen -G "$CLUSTER_DIR/chunk$1/quarantine/$hex.chk.*" >/dev/null
}

rl_flip() {
    local f=$1 off=$2 n=$3 hex out="" b
    hex=$(od -An -v -tx1 -j "$off" -N "$n" "$f" | tr -d ' \n')
    [ ${#hex} = $((2 * n)) ] || return 1
    for ((b = 0; b < n; b++)); do
        out="$out$(printf '\\x%02x' $((0x${hex:$((2 * b)):2} ^ 0xff)))"
    done
    printf "$out" | dd of="$f" bs=1 seek="$off" conv=notrunc status=none
}

# The valid slot with the higher seq (docs/formats.md): magic at 0, seq (LE u64) at 8.
rl_header_slot() {
    local slot best=-1 bseq=-1 magic seq
    for slot in 0 1; do
        magic=$(od -An -tx4 -j $((slot * 512)) -N 4 "$1" | tr -d ' ')
        seq=$(od -An -tu8 -j $((slot * 512 + 8)) -N 8 "$1" | tr -d ' ')
        [ "$magic" = 43534643 ] && [ "$seq" -gt "$bseq" ] && { best=$slot; bseq=$seq; }
    done
    [ $best -ge 0 ] || return 1
    echo $((best * 512))
}
