#!/bin/bash
# Helpers shared by the test harnesses (tests/lib/cluster.sh on loopback, tests/lib/netns.sh
# in network namespaces): waiting for a server, stopping processes by PID, reading
# `chunkfs status --json`, dumping logs. Sourced by them; no state of its own.
#
#   cfs_wait_file FILE TIMEOUT_S PID      0 once FILE is non-empty; 1 if PID died or timeout
#   cfs_stop_pids WAIT_S PID...           SIGTERM, up to WAIT_S seconds, SIGKILL, reap
#   cfs_status_alive JSON                 prints how many chunkservers the status calls alive
#   cfs_status_leader JSON ADDR...        prints the 1-based index of the ADDR whose role is
#                                         leader in JSON; 1 if none
#   cfs_dump_logs DIR                     last 40 lines of every DIR/*.log on stderr
#   cfs_make_secret FILE                  a cluster secret (mode 0600, 32 random bytes as hex)

cfs_wait_file() {
    local f=$1 t=$2 pid=$3 i
    for ((i = 0; i < t * 20; i++)); do
        [ -s "$f" ] && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

cfs_stop_pids() {
    local wait_s=$1 p i any
    shift
    for p in "$@"; do kill -TERM "$p" 2>/dev/null; done
    for ((i = 0; i < wait_s * 10; i++)); do
        any=0
        for p in "$@"; do kill -0 "$p" 2>/dev/null && any=1; done
        [ $any = 0 ] && break
        sleep 0.1
    done
    for p in "$@"; do
        kill -9 "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    return 0
}

cfs_status_alive() {
    grep -o '"state": "alive"' <<<"$1" | wc -l
}

cfs_status_leader() {
    local json=$1 i=0 a
    shift
    for a in "$@"; do
        i=$((i + 1))
        if grep -q "\"address\": \"$a\", \"role\": \"leader\"" <<<"$json"; then
            echo "$i"
            return 0
        fi
    done
    return 1
}

cfs_dump_logs() {
    local dir=$1 f
    [ -n "$dir" ] && [ -d "$dir" ] || return 0
    for f in "$dir"/*.log; do
        [ -f "$f" ] || continue
        echo "===== $(basename "$f") (last 40 lines)" >&2
        tail -n 40 "$f" >&2
    done
}

cfs_make_secret() {
    (umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$1") ||
        { echo "cannot make the cluster secret $1" >&2; return 1; }
}
