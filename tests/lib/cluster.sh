#!/bin/bash
# Reusable harness for integration tests: a real chunkfs cluster (metaservers + chunkservers)
# on 127.0.0.1 with free ports, under a temp dir that is removed at the end.
#
#   source "$CHUNKFS_SRC/tests/lib/cluster.sh"
#   cluster_setup                 # temp dir + EXIT trap (stop_cluster); needs CHUNKFS_BIN
#   start_cluster [-m 3] [-c 3] [-s 1M] [-g 3]   # metaservers, chunkservers, chunk size, goal
#   wait_healthy [timeout_s]      # leader known and every chunkserver alive
#   cfs ARGS...                   # runs build/bin/chunkfs against this cluster
#   meta_leader_index             # prints the index (1-based) of the current leader
#   kill_meta I / kill_chunk I    # kill -9 one server by its recorded PID
#   stop_cluster                  # kills every process started here (by PID), removes the dir
#   EXTRA_PIDS+=("$pid")          # more processes (a mount, a background copy) for
#                                 # stop_cluster to kill by PID (unmount yourself first)
#
# Security: by default start_cluster makes a cluster secret ($CLUSTER_DIR/secret, mode 0600),
# passes it to every server (--secret-file) and exports CHUNKFS_SECRET_FILE for the CLI,
# mounts and test programs, so every test runs authenticated. With it comes a token secret
# ($CLUSTER_DIR/token_secret, servers only: --token-secret-file), so chunk access tokens are
# on and clients cannot mint them. CFS_AUTH=0 before start_cluster runs without either.
# CFS_SECURITY_ARGS (e.g. TLS flags) go to every server.
#
# Exported after start_cluster: CHUNKFS_META (comma-separated addresses), CLUSTER_DIR.
# Arrays: META_ADDR[i], META_PID[i], CHUNK_ADDR[i], CHUNK_PID[i] (i from 1).
# Logs: $CLUSTER_DIR/log/{meta,chunk}I.log (printed by cluster_dump_logs on failure).

: "${CHUNKFS_BIN:?CHUNKFS_BIN must point at build/bin}"
source "$(dirname "${BASH_SOURCE[0]}")/procs.sh"
CFS_META_BIN="$CHUNKFS_BIN/chunkfs-metaserver"
CFS_CHUNK_BIN="$CHUNKFS_BIN/chunkfs-chunkserver"
CFS_CLI_BIN="$CHUNKFS_BIN/chunkfs"

declare -a META_ADDR META_PID CHUNK_ADDR CHUNK_PID EXTRA_PIDS
CLUSTER_DIR=""
CLUSTER_ID=""
CLUSTER_SECRET="" # secret file path, empty without authentication
TOKEN_SECRET=""   # chunk token secret file (servers only), empty with CLUSTER_SECRET
N_META=0
N_CHUNK=0

# Skips the test (exit 77) unless the server binaries are built.
cluster_require_bins() {
    local b
    for b in "$CFS_META_BIN" "$CFS_CHUNK_BIN" "$CFS_CLI_BIN"; do
        if [ ! -x "$b" ]; then
            echo "SKIP: $b not built" >&2
            exit 77
        fi
    done
}

cluster_setup() {
    cluster_require_bins
    CLUSTER_DIR=$(mktemp -d "${TMPDIR:-/tmp}/chunkfs-test.XXXXXX") || exit 1
    mkdir -p "$CLUSTER_DIR/log" "$CLUSTER_DIR/run"
    export CLUSTER_DIR
    trap 'rc=$?; if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then cluster_dump_logs; fi; stop_cluster; exit $rc' EXIT
    trap 'exit 130' INT TERM
}

# Prints N free TCP ports on 127.0.0.1 (the kernel picks them; a race with other programs
# is possible and handled by start_cluster retrying).
free_ports() {
    local n=$1
    if command -v python3 >/dev/null 2>&1; then
        python3 - "$n" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
        return
    fi
    local out="" p tries=0
    while [ "$(echo $out | wc -w)" -lt "$n" ] && [ $tries -lt 1000 ]; do
        tries=$((tries + 1))
        p=$((20000 + RANDOM % 30000))
        if ! ss -ltnH "sport = :$p" 2>/dev/null | grep -q .; then
            case " $out " in *" $p "*) ;; *) out="$out $p" ;; esac
        fi
    done
    echo $out
}

# Waits until file $1 exists (poll, bounded by $2 seconds) or process $3 died.
_wait_file() { cfs_wait_file "$@"; }

_start_meta() {
    local i=$1 peers=$2
    "$CFS_META_BIN" --id "$i" --listen "${META_ADDR[$i]}" --peers "$peers" \
        --data-dir "$CLUSTER_DIR/meta$i" --port-file "$CLUSTER_DIR/run/meta$i.port" \
        --dead-timeout-ms "${CFS_DEAD_MS:-10000}" --lease-ms "${CFS_LEASE_MS:-30000}" \
        ${CLUSTER_SECRET:+--secret-file "$CLUSTER_SECRET"} \
        ${TOKEN_SECRET:+--token-secret-file "$TOKEN_SECRET"} ${CFS_SECURITY_ARGS:-} \
        ${CFS_META_ARGS:-} >>"$CLUSTER_DIR/log/meta$i.log" 2>&1 &
    META_PID[$i]=$!
}

_start_chunk() {
    local i=$1
    rm -f "$CLUSTER_DIR/run/chunk$i.port"
    "$CFS_CHUNK_BIN" --listen 127.0.0.1:0 --meta "$CHUNKFS_META" \
        --data-dir "$CLUSTER_DIR/chunk$i" --cluster-id "$CLUSTER_ID" --domain "d$i" \
        --port-file "$CLUSTER_DIR/run/chunk$i.port" \
        ${CLUSTER_SECRET:+--secret-file "$CLUSTER_SECRET"} \
        ${TOKEN_SECRET:+--token-secret-file "$TOKEN_SECRET"} ${CFS_SECURITY_ARGS:-} ${CFS_CHUNK_ARGS:-} \
        >>"$CLUSTER_DIR/log/chunk$i.log" 2>&1 &
    CHUNK_PID[$i]=$!
    if ! _wait_file "$CLUSTER_DIR/run/chunk$i.port" 30 "${CHUNK_PID[$i]}"; then
        echo "chunkserver $i did not start" >&2
        return 1
    fi
    CHUNK_ADDR[$i]="127.0.0.1:$(cat "$CLUSTER_DIR/run/chunk$i.port")"
}

start_cluster() {
    local chunk_size=1M goal=3 opt OPTIND=1
    N_META=3
    N_CHUNK=3
    while getopts "m:c:s:g:" opt; do
        case $opt in
        m) N_META=$OPTARG ;;
        c) N_CHUNK=$OPTARG ;;
        s) chunk_size=$OPTARG ;;
        g) goal=$OPTARG ;;
        *) return 2 ;;
        esac
    done
    CLUSTER_ID="test$$"
    cluster_make_secret || return 1
    local i attempt ok=0
    for i in $(seq 1 "$N_META"); do
        "$CFS_META_BIN" format --data-dir "$CLUSTER_DIR/meta$i" --cluster-id "$CLUSTER_ID" \
            --chunk-size "$chunk_size" --goal "$goal" >>"$CLUSTER_DIR/log/format.log" 2>&1 ||
            { echo "format failed" >&2; cat "$CLUSTER_DIR/log/format.log" >&2; return 1; }
    done
    # Raft peers must know each other's ports up front: pick free ones, retry on a lost race.
    for attempt in 1 2 3; do
        local ports peers="" addrs=""
        read -r -a ports <<<"$(free_ports "$N_META")"
        for i in $(seq 1 "$N_META"); do
            META_ADDR[$i]="127.0.0.1:${ports[$((i - 1))]}"
            peers="$peers${peers:+,}$i=${META_ADDR[$i]}"
            addrs="$addrs${addrs:+,}${META_ADDR[$i]}"
        done
        for i in $(seq 1 "$N_META"); do
            rm -f "$CLUSTER_DIR/run/meta$i.port"
            _start_meta "$i" "$peers"
        done
        ok=1
        for i in $(seq 1 "$N_META"); do
            _wait_file "$CLUSTER_DIR/run/meta$i.port" 30 "${META_PID[$i]}" || ok=0
        done
        if [ $ok = 1 ]; then
            META_PEERS=$peers
            break
        fi
        echo "metaservers did not all start (attempt $attempt); retrying with new ports" >&2
        for i in $(seq 1 "$N_META"); do
            kill -9 "${META_PID[$i]}" 2>/dev/null
            wait "${META_PID[$i]}" 2>/dev/null
        done
    done
    [ $ok = 1 ] || return 1
    export CHUNKFS_META=$addrs
    for i in $(seq 1 "$N_CHUNK"); do
        _start_chunk "$i" || return 1
    done
    return 0
}

# Makes $CLUSTER_DIR/secret and $CLUSTER_DIR/token_secret (0600, 32 random bytes as hex)
# unless CFS_AUTH=0, and exports CHUNKFS_SECRET_FILE for clients (the token secret is for
# servers only).
cluster_make_secret() {
    if [ "${CFS_AUTH:-1}" = 0 ]; then
        CLUSTER_SECRET=""
        TOKEN_SECRET=""
        unset CHUNKFS_SECRET_FILE
        return 0
    fi
    CLUSTER_SECRET="$CLUSTER_DIR/secret"
    TOKEN_SECRET="$CLUSTER_DIR/token_secret"
    cfs_make_secret "$CLUSTER_SECRET" && cfs_make_secret "$TOKEN_SECRET" || return 1
    export CHUNKFS_SECRET_FILE=$CLUSTER_SECRET
}

cfs() {
    "$CFS_CLI_BIN" "$@"
}

# Polls `chunkfs status --json` until a leader answers and all chunkservers are alive.
wait_healthy() {
    local t=${1:-60} i json alive
    for ((i = 0; i < t * 4; i++)); do
        json=$(CHUNKFS_TIMEOUT_MS=2000 "$CFS_CLI_BIN" status --json 2>/dev/null)
        if [ -n "$json" ]; then
            alive=$(cfs_status_alive "$json")
            [ "$alive" -ge "$N_CHUNK" ] && return 0
        fi
        sleep 0.25
    done
    echo "cluster not healthy after ${t}s" >&2
    "$CFS_CLI_BIN" status >&2
    return 1
}

# Index of the metaserver that is the leader now (polls up to 30 s).
meta_leader_index() {
    local j json
    for ((j = 0; j < 120; j++)); do
        json=$(CHUNKFS_TIMEOUT_MS=2000 "$CFS_CLI_BIN" status --json 2>/dev/null)
        cfs_status_leader "$json" "${META_ADDR[@]:1:$N_META}" && return 0
        sleep 0.25
    done
    return 1
}

kill_meta() {
    local i=$1
    kill -9 "${META_PID[$i]}" 2>/dev/null
    wait "${META_PID[$i]}" 2>/dev/null
    META_PID[$i]=""
}

restart_meta() {
    local i=$1
    _start_meta "$i" "$META_PEERS"
}

kill_chunk() {
    local i=$1
    kill -9 "${CHUNK_PID[$i]}" 2>/dev/null
    wait "${CHUNK_PID[$i]}" 2>/dev/null
    CHUNK_PID[$i]=""
}

cluster_dump_logs() {
    [ -n "$CLUSTER_DIR" ] || return 0
    cfs_dump_logs "$CLUSTER_DIR/log"
}

# Stops by recorded PID only: TERM, a bounded wait, then KILL.
stop_cluster() {
    local pids=() p
    for p in "${EXTRA_PIDS[@]}" "${CHUNK_PID[@]}" "${META_PID[@]}"; do
        [ -n "$p" ] && pids+=("$p")
    done
    cfs_stop_pids 10 "${pids[@]}"
    META_PID=()
    CHUNK_PID=()
    EXTRA_PIDS=()
    if [ -n "$CLUSTER_DIR" ] && [ -d "$CLUSTER_DIR" ]; then
        rm -rf "$CLUSTER_DIR"
    fi
    CLUSTER_DIR=""
}
