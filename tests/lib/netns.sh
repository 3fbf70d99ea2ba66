#!/bin/bash
# Fault-injection harness: a chunkfs cluster where every server and every client has its own
# network namespace, so kills, freezes, partitions and lost links are real. Needs root and
# `ip netns`; everything it makes is removed by its EXIT trap, also on failure.
#
#   source "$CHUNKFS_SRC/tests/lib/netns.sh"
#   nn_setup                      # skip (77) unless root + ip netns; temp dir, EXIT trap
#   nn_start_cluster [-m 3] [-c 3] [-k 1] [-s 1M] [-g 3] [-d TMPFS_SIZE]
#                                 # metaservers, chunkservers, clients, chunk size, goal,
#                                 # -d: each chunkserver data dir is a tmpfs of that size
#   nn_wait_healthy [timeout_s]   # leader known and every chunkserver alive
#   ncfs ARGS...                  # the CLI, run from client namespace k1
#   nn_client K CMD...            # any command in client namespace kK (ip netns exec)
#   nn_mount K DIR [OPTS]         # FUSE mount from client kK, visible to the whole host
#   nn_umount DIR
#   nn_leader_index               # 1-based index of the leader metaserver (polls 30 s)
#   nn_wait_caught_up [timeout_s] # every metaserver has applied the leader's commit index
#   nn_meta_addr_of I / nn_ip NODE   # addresses; NODE is m<I>, c<I> or k<I>
#
# Fault primitives (each with its undo):
#   nn_kill_meta I      / nn_start_meta I       kill -9 / (re)start metaserver I
#   nn_kill_chunk I     / nn_start_chunk I      kill -9 / (re)start chunkserver I
#   nn_kill_all_meta    / nn_start_all_meta     every metaserver at once
#   nn_freeze NODE      / nn_thaw NODE          SIGSTOP / SIGCONT a server (m<I> or c<I>)
#   nn_isolate NODE     / nn_rejoin NODE        its link to the bridge down / up
#   nn_partition "A.." "B.."  / nn_heal         prohibit routes between two groups of
#                                               nodes (both directions) / remove them all
#   nn_split_meta "m1 .."                       cut those metaservers from the other
#                                               metaservers and all chunkservers (clients
#                                               still reach both sides); undo: nn_heal
#   nn_netem NODE "delay 50ms loss 1%" / nn_netem_clear NODE
#                                               returns 2 (and logs) if sch_netem is absent
#   nn_fill_disk I      / nn_unfill_disk I      fill chunkserver I's tmpfs (needs -d)
#   nn_corrupt_replica I [N]                    flip bytes in N (1) replica files of
#                                               chunkserver I; prints the files
#   nn_tear_wal I                               append a torn record to metaserver I's
#                                               newest WAL segment (I must be stopped)
#   nn_dump_logs                                last lines of every log (automatic on failure)
#
# Authenticated like tests/lib/cluster.sh: a cluster secret ($CLUSTER_DIR/secret) for every
# server, CHUNKFS_SECRET_FILE exported for clients; CFS_AUTH=0 turns that off.
# After nn_start_cluster: CHUNKFS_META (exported, comma-separated), CLUSTER_DIR,
# N_META, N_CHUNK, N_CLIENT, arrays META_ADDR[i], META_PID[i], CHUNK_ADDR[i], CHUNK_PID[i]
# (i from 1), NN_EXTRA_PIDS+=(pid) for more processes to kill at exit (by PID).
# Logs: $CLUSTER_DIR/log/{m,c}I.log. RANDOM drives every random choice (seed it to replay).

: "${CHUNKFS_BIN:?CHUNKFS_BIN must point at build/bin}"
source "$(dirname "${BASH_SOURCE[0]}")/procs.sh"
CFS_META_BIN="$CHUNKFS_BIN/chunkfs-metaserver"
CFS_CHUNK_BIN="$CHUNKFS_BIN/chunkfs-chunkserver"
CFS_CLI_BIN="$CHUNKFS_BIN/chunkfs"

NN_META_PORT=7000
NN_CHUNK_PORT=7100
declare -a META_ADDR META_PID CHUNK_ADDR CHUNK_PID NN_EXTRA_PIDS NN_MOUNTS NN_TMPFS
declare -a NN_NAMESPACES
declare -A NN_ROUTES # "NODE ADDR" -> 1 for every prohibit route in place
CLUSTER_DIR=""
CLUSTER_ID=""
N_META=0
N_CHUNK=0
N_CLIENT=0
NN_PREFIX=""
NN_NET=""
NN_HUB=""
NN_NETEM="" # "", "yes" or "no" once probed
NN_SECRET=""

nn_log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

# Skips (exit 77) unless root, `ip netns` works and the binaries are built.
nn_require() {
    if [ "$(id -u)" != 0 ]; then
        echo "SKIP: the fault-injection harness needs root (network namespaces)" >&2
        exit 77
    fi
    if ! command -v ip >/dev/null 2>&1 || ! command -v nsenter >/dev/null 2>&1; then
        echo "SKIP: ip (iproute2) or nsenter missing" >&2
        exit 77
    fi
    local b
    for b in "$CFS_META_BIN" "$CFS_CHUNK_BIN" "$CFS_CLI_BIN"; do
        if [ ! -x "$b" ]; then
            echo "SKIP: $b not built" >&2
            exit 77
        fi
    done
    local probe="cfsprobe$$"
    if ! ip netns add "$probe" 2>/dev/null; then
        echo "SKIP: ip netns is unavailable here" >&2
        exit 77
    fi
    ip netns del "$probe"
}

nn_setup() {
    nn_require
    CLUSTER_DIR=$(mktemp -d "${TMPDIR:-/tmp}/chunkfs-nn.XXXXXX") || exit 1
    chmod 755 "$CLUSTER_DIR"
    mkdir -p "$CLUSTER_DIR/log" "$CLUSTER_DIR/run"
    export CLUSTER_DIR
    # Unique per run: namespace names carry the PID and a random tag; the private /24 is
    # derived from the PID (it only exists inside our namespaces, so runs never share it).
    NN_PREFIX="cfs$$$(printf '%04x' $((RANDOM % 65536)))"
    NN_NET="10.$((100 + ($$ / 256) % 150)).$(($$ % 256))"
    NN_HUB="${NN_PREFIX}hub"
    trap 'nn_on_exit' EXIT
    trap 'exit 130' INT TERM
}

nn_on_exit() {
    local rc=$?
    set +e
    # NN_KEEP=DIR keeps the logs and histories of the run (for a post-mortem).
    if [ -n "${NN_KEEP:-}" ] && [ -n "$CLUSTER_DIR" ]; then
        mkdir -p "$NN_KEEP" && cp -r "$CLUSTER_DIR/log" "$CLUSTER_DIR/hist" "$NN_KEEP"/ 2>/dev/null
    fi
    if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
        nn_dump_logs
    fi
    nn_teardown
    # A script may define nn_after_exit to print last words (a summary) after cleanup.
    if declare -F nn_after_exit >/dev/null; then nn_after_exit "$rc"; fi
    exit $rc
}

nn_ns() { echo "${NN_PREFIX}$1"; }

# Host part of a node's address: m<I> -> 10+I, c<I> -> 60+I, k<I> -> 120+I.
nn_ip() {
    local node=$1 n=${1:1}
    case $node in
    m*) echo "$NN_NET.$((10 + n))" ;;
    c*) echo "$NN_NET.$((60 + n))" ;;
    k*) echo "$NN_NET.$((120 + n))" ;;
    *) return 1 ;;
    esac
}

nn_meta_addr_of() { echo "$(nn_ip "m$1"):$NN_META_PORT"; }

_nn_add_ns() {
    local ns=$1
    ip netns add "$ns" || return 1
    NN_NAMESPACES+=("$ns")
    ip -n "$ns" link set lo up
}

# Namespaces for nodes, their veths to the hub's bridge and their addresses; batched (one
# `ip` process per namespace instead of one per command: this runs on loaded machines).
_nn_add_nodes() {
    local node ns hub_cmds="" add_cmds=""
    for node in "$@"; do
        ns=$(nn_ns "$node")
        add_cmds+="netns add $ns"$'\n'
        hub_cmds+="link add v$node type veth peer name eth0 netns $ns"$'\n'
        hub_cmds+="link set v$node master br0 up"$'\n'
    done
    ip -batch - <<<"$add_cmds" || return 1
    for node in "$@"; do NN_NAMESPACES+=("$(nn_ns "$node")"); done
    ip -n "$NN_HUB" -batch - <<<"$hub_cmds" || return 1
    for node in "$@"; do
        ip -n "$(nn_ns "$node")" -batch - <<EOC || return 1
link set lo up
addr add $(nn_ip "$node")/24 dev eth0
link set eth0 up
EOC
    done
}

nn_start_meta() {
    _nn_spawn_meta "$1"
    _nn_wait_meta "$1"
}

_nn_spawn_meta() {
    local i=$1
    rm -f "$CLUSTER_DIR/run/m$i.port"
    ip netns exec "$(nn_ns "m$i")" "$CFS_META_BIN" --id "$i" --listen "${META_ADDR[$i]}" \
        --peers "$NN_PEERS" --data-dir "$CLUSTER_DIR/meta$i" \
        --port-file "$CLUSTER_DIR/run/m$i.port" \
        --dead-timeout-ms "${CFS_DEAD_MS:-10000}" --lease-ms "${CFS_LEASE_MS:-30000}" \
        ${NN_SECRET:+--secret-file "$NN_SECRET"} ${CFS_META_ARGS:-} \
        >>"$CLUSTER_DIR/log/m$i.log" 2>&1 &
    META_PID[$i]=$!
}

_nn_wait_meta() {
    cfs_wait_file "$CLUSTER_DIR/run/m$1.port" 30 "${META_PID[$1]}" ||
        { nn_log "metaserver $1 did not start"; return 1; }
}

nn_start_chunk() {
    _nn_spawn_chunk "$1"
    _nn_wait_chunk "$1"
}

_nn_spawn_chunk() {
    local i=$1
    rm -f "$CLUSTER_DIR/run/c$i.port"
    ip netns exec "$(nn_ns "c$i")" "$CFS_CHUNK_BIN" --listen "${CHUNK_ADDR[$i]}" \
        --meta "$CHUNKFS_META" --data-dir "$CLUSTER_DIR/chunk$i" --cluster-id "$CLUSTER_ID" \
        --domain "d$i" --port-file "$CLUSTER_DIR/run/c$i.port" \
        ${NN_SECRET:+--secret-file "$NN_SECRET"} ${CFS_CHUNK_ARGS:-} \
        >>"$CLUSTER_DIR/log/c$i.log" 2>&1 &
    CHUNK_PID[$i]=$!
}

_nn_wait_chunk() {
    cfs_wait_file "$CLUSTER_DIR/run/c$1.port" 30 "${CHUNK_PID[$1]}" ||
        { nn_log "chunkserver $1 did not start"; return 1; }
}

nn_start_cluster() {
    local chunk_size=1M goal=3 tmpfs_size="" opt OPTIND=1 i
    N_META=3
    N_CHUNK=3
    N_CLIENT=1
    while getopts "m:c:k:s:g:d:" opt; do
        case $opt in
        m) N_META=$OPTARG ;;
        c) N_CHUNK=$OPTARG ;;
        k) N_CLIENT=$OPTARG ;;
        s) chunk_size=$OPTARG ;;
        g) goal=$OPTARG ;;
        d) tmpfs_size=$OPTARG ;;
        *) return 2 ;;
        esac
    done
    CLUSTER_ID="nn$$"
    if [ "${CFS_AUTH:-1}" != 0 ]; then
        NN_SECRET="$CLUSTER_DIR/secret"
        cfs_make_secret "$NN_SECRET" || return 1
        export CHUNKFS_SECRET_FILE=$NN_SECRET
    fi
    _nn_add_ns "$NN_HUB" || return 1
    ip -n "$NN_HUB" link add br0 type bridge || return 1
    ip -n "$NN_HUB" link set br0 up || return 1
    local nodes=()
    for i in $(seq 1 "$N_META"); do nodes+=("m$i"); done
    for i in $(seq 1 "$N_CHUNK"); do nodes+=("c$i"); done
    for i in $(seq 1 "$N_CLIENT"); do nodes+=("k$i"); done
    _nn_add_nodes "${nodes[@]}" || return 1
    nn_log "namespaces ${NN_PREFIX}*: metaservers ${NN_NET}.11.., chunkservers ${NN_NET}.61.., clients ${NN_NET}.121.."

    NN_PEERS=""
    local addrs=""
    for i in $(seq 1 "$N_META"); do
        META_ADDR[$i]=$(nn_meta_addr_of "$i")
        NN_PEERS="$NN_PEERS${NN_PEERS:+,}$i=${META_ADDR[$i]}"
        addrs="$addrs${addrs:+,}${META_ADDR[$i]}"
        "$CFS_META_BIN" format --data-dir "$CLUSTER_DIR/meta$i" --cluster-id "$CLUSTER_ID" \
            --chunk-size "$chunk_size" --goal "$goal" >>"$CLUSTER_DIR/log/format.log" 2>&1 ||
            { nn_log "format failed"; cat "$CLUSTER_DIR/log/format.log" >&2; return 1; }
    done
    export CHUNKFS_META=$addrs
    # Started together (each waits for the others to elect), then each must be serving.
    for i in $(seq 1 "$N_META"); do _nn_spawn_meta "$i"; done
    for i in $(seq 1 "$N_META"); do _nn_wait_meta "$i" || return 1; done
    for i in $(seq 1 "$N_CHUNK"); do
        mkdir -p "$CLUSTER_DIR/chunk$i"
        if [ -n "$tmpfs_size" ]; then
            mount -t tmpfs -o "size=$tmpfs_size" tmpfs "$CLUSTER_DIR/chunk$i" || return 1
            NN_TMPFS[$i]="$CLUSTER_DIR/chunk$i"
        fi
        CHUNK_ADDR[$i]="$(nn_ip "c$i"):$NN_CHUNK_PORT"
        _nn_spawn_chunk "$i"
    done
    for i in $(seq 1 "$N_CHUNK"); do _nn_wait_chunk "$i" || return 1; done
    return 0
}

nn_client() {
    local k=$1
    shift
    ip netns exec "$(nn_ns "k$k")" "$@"
}

ncfs() {
    nn_client 1 "$CFS_CLI_BIN" "$@"
}

nn_wait_healthy() {
    local t=${1:-60} end json alive
    end=$((SECONDS + t))
    while [ $SECONDS -lt $end ]; do
        json=$(CHUNKFS_TIMEOUT_MS=2000 ncfs status --json 2>/dev/null)
        if [ -n "$json" ]; then
            alive=$(cfs_status_alive "$json")
            [ "$alive" -ge "$N_CHUNK" ] && return 0
        fi
        sleep 0.25
    done
    nn_log "cluster not healthy after ${t}s"
    ncfs status >&2
    return 1
}

# The leader as every reachable metaserver reports it: the index whose own status says
# "leader". Polls up to 30 s.
nn_leader_index() {
    local end json
    end=$((SECONDS + 30))
    while [ $SECONDS -lt $end ]; do
        json=$(CHUNKFS_TIMEOUT_MS=2000 ncfs status --json 2>/dev/null)
        cfs_status_leader "$json" "${META_ADDR[@]:1:$N_META}" && return 0
        sleep 0.25
    done
    return 1
}

# Waits (bounded, default 60 s) until the leader reports every metaserver reachable with
# the leader's commit index matched and applied: all replicas hold the same state.
nn_wait_caught_up() {
    local t=${1:-60} end json commit
    end=$((SECONDS + t))
    while [ $SECONDS -lt $end ]; do
        json=$(CHUNKFS_TIMEOUT_MS=2000 ncfs status --json 2>/dev/null)
        commit=$(grep -o '"role": "leader", "term": [0-9]*, "commit_index": [0-9]*' <<<"$json" |
            grep -o '[0-9]*$')
        if [ -n "$commit" ] &&
            [ "$(grep -c "\"applied_index\": $commit, \"match_index\": $commit, \"reachable\": true" \
                <<<"${json//\{/$'\n'\{}")" -eq "$N_META" ]; then
            return 0
        fi
        sleep 0.25
    done
    nn_log "metaservers not caught up after ${t}s"
    ncfs status --json >&2
    return 1
}

nn_mount() {
    local k=$1 dir=$2 opts=${3:-}
    local log="$CLUSTER_DIR/log/mount-$(basename "$dir").log"
    mkdir -p "$dir"
    # nsenter --net changes only the network namespace: the mount stays visible to the host.
    nsenter --net="/run/netns/$(nn_ns "k$k")" "$CHUNKFS_BIN/chunkfs-mount" -f \
        -o "allow_other,log_file=$log${opts:+,$opts}" "$CHUNKFS_META" "$dir" >>"$log" 2>&1 &
    local pid=$!
    NN_EXTRA_PIDS+=("$pid")
    NN_MOUNTS+=("$dir")
    local end=$((SECONDS + 60))
    until grep -qs " $dir fuse" /proc/mounts; do
        kill -0 "$pid" 2>/dev/null || { nn_log "chunkfs-mount exited before mounting $dir"; return 1; }
        [ $SECONDS -lt $end ] || { nn_log "mount of $dir did not appear"; return 1; }
        sleep 0.1
    done
}

nn_umount() {
    local dir=$1
    fusermount3 -u "$dir" 2>/dev/null || umount -l "$dir"
}

# ---------------------------------------------------------------- fault primitives

nn_kill_meta() {
    local i=$1
    [ -n "${META_PID[$i]}" ] || return 0
    kill -9 "${META_PID[$i]}" 2>/dev/null
    wait "${META_PID[$i]}" 2>/dev/null
    META_PID[$i]=""
}

# Every metaserver at once (kill -9), and all of them back.
nn_kill_all_meta() {
    local i
    for i in $(seq 1 "$N_META"); do
        [ -n "${META_PID[$i]}" ] && kill -9 "${META_PID[$i]}" 2>/dev/null
    done
    for i in $(seq 1 "$N_META"); do nn_kill_meta "$i"; done
}

nn_start_all_meta() {
    local i
    for i in $(seq 1 "$N_META"); do [ -n "${META_PID[$i]}" ] || _nn_spawn_meta "$i"; done
    for i in $(seq 1 "$N_META"); do _nn_wait_meta "$i" || return 1; done
}

nn_kill_chunk() {
    local i=$1
    [ -n "${CHUNK_PID[$i]}" ] || return 0
    kill -9 "${CHUNK_PID[$i]}" 2>/dev/null
    wait "${CHUNK_PID[$i]}" 2>/dev/null
    CHUNK_PID[$i]=""
}

_nn_pid_of() {
    local n=${1:1}
    case $1 in
    m*) echo "${META_PID[$n]}" ;;
    c*) echo "${CHUNK_PID[$n]}" ;;
    *) return 1 ;;
    esac
}

nn_freeze() {
    local pid
    pid=$(_nn_pid_of "$1") && [ -n "$pid" ] && kill -STOP "$pid"
}

nn_thaw() {
    local pid
    pid=$(_nn_pid_of "$1") && [ -n "$pid" ] && kill -CONT "$pid"
}

nn_isolate() { ip -n "$NN_HUB" link set "v$1" down; }
nn_rejoin() { ip -n "$NN_HUB" link set "v$1" up; }

_nn_prohibit() {
    local node=$1 addr=$2
    [ -n "${NN_ROUTES["$node $addr"]:-}" ] && return 0
    ip -n "$(nn_ns "$node")" route add prohibit "$addr/32" || return 1
    NN_ROUTES["$node $addr"]=1
}

# nn_partition "m1 c1" "m2 m3 c2": no packet from a node of one group reaches the other.
nn_partition() {
    local a b
    for a in $1; do
        for b in $2; do
            _nn_prohibit "$a" "$(nn_ip "$b")" || return 1
            _nn_prohibit "$b" "$(nn_ip "$a")" || return 1
        done
    done
}

# Removes every partition route.
nn_heal() {
    local key node addr
    for key in "${!NN_ROUTES[@]}"; do
        node=${key% *}
        addr=${key#* }
        ip -n "$(nn_ns "$node")" route del prohibit "$addr/32" 2>/dev/null
        unset "NN_ROUTES[$key]"
    done
}

nn_split_meta() {
    local minority=$1 other="" i
    for i in $(seq 1 "$N_META"); do
        case " $minority " in *" m$i "*) ;; *) other="$other m$i" ;; esac
    done
    for i in $(seq 1 "$N_CHUNK"); do other="$other c$i"; done
    nn_partition "$minority" "$other"
}

_nn_probe_netem() {
    [ -n "$NN_NETEM" ] && return 0
    command -v modprobe >/dev/null 2>&1 && modprobe sch_netem 2>/dev/null
    if tc -n "$NN_HUB" qdisc add dev br0 root netem delay 1ms 2>/dev/null; then
        tc -n "$NN_HUB" qdisc del dev br0 root 2>/dev/null
        NN_NETEM=yes
    else
        NN_NETEM=no
    fi
}

# nn_netem NODE "delay 50ms 10ms loss 1%": on the node's outgoing traffic.
nn_netem() {
    _nn_probe_netem
    if [ "$NN_NETEM" != yes ]; then
        nn_log "netem: sch_netem is not available in this kernel; latency/loss fault skipped"
        return 2
    fi
    # shellcheck disable=SC2086
    tc -n "$(nn_ns "$1")" qdisc replace dev eth0 root netem $2
}

nn_netem_clear() {
    [ "$NN_NETEM" = yes ] || return 0
    tc -n "$(nn_ns "$1")" qdisc del dev eth0 root 2>/dev/null
    return 0
}

nn_fill_disk() {
    local i=$1 dir=${NN_TMPFS[$1]:-}
    [ -n "$dir" ] || { nn_log "nn_fill_disk: chunkserver $i has no tmpfs (start with -d)"; return 1; }
    # Fills until ENOSPC (the error is expected).
    dd if=/dev/zero of="$dir/filler" bs=1M status=none 2>/dev/null
    return 0
}

nn_unfill_disk() {
    local dir=${NN_TMPFS[$1]:-}
    [ -n "$dir" ] && rm -f "$dir/filler"
    return 0
}

# Flips 16 bytes at a random offset of the data area of N random replica files.
nn_corrupt_replica() {
    local i=$1 n=${2:-1} files f size off k
    mapfile -t files < <(find "$CLUSTER_DIR/chunk$i/chunks" -name '*.chk' -size +8k 2>/dev/null | sort)
    [ ${#files[@]} -gt 0 ] || return 1
    for ((k = 0; k < n; k++)); do
        f=${files[$((RANDOM % ${#files[@]}))]}
        size=$(stat -c %s "$f") || continue
        [ "$size" -gt 8208 ] || continue
        off=$((8192 + (RANDOM * 32768 + RANDOM) % (size - 8208)))
        # XOR with 0xff: the bytes certainly change.
        python3 - "$f" "$off" <<'PY' || return 1
import sys
path, off = sys.argv[1], int(sys.argv[2])
with open(path, "r+b") as fh:
    fh.seek(off)
    b = fh.read(16)
    fh.seek(off)
    fh.write(bytes(x ^ 0xFF for x in b))
PY
        echo "$f@$off"
    done
}

# A record cut short at the end of the newest WAL segment, as a crash mid-write leaves it.
nn_tear_wal() {
    local i=$1 seg
    [ -z "${META_PID[$i]}" ] || { nn_log "nn_tear_wal: metaserver $i is running"; return 1; }
    seg=$(ls "$CLUSTER_DIR/meta$i/wal/"*.wal 2>/dev/null | sort | tail -n 1)
    [ -n "$seg" ] || return 1
    # Header says 4000 payload bytes; only a few follow.
    printf '\xa0\x0f\x00\x00\x12\x34\x56\x78\x01\x00\x00\x00abc' >>"$seg"
}

# ---------------------------------------------------------------- logs and cleanup

nn_dump_logs() {
    [ -n "$CLUSTER_DIR" ] || return 0
    cfs_dump_logs "$CLUSTER_DIR/log"
}

nn_teardown() {
    local p d ns pids=()
    for d in "${NN_MOUNTS[@]}"; do
        grep -qs " $d fuse" /proc/mounts && { fusermount3 -u -z "$d" 2>/dev/null || umount -l "$d"; }
    done
    for p in "${NN_EXTRA_PIDS[@]}" "${CHUNK_PID[@]}" "${META_PID[@]}"; do
        [ -n "$p" ] || continue
        kill -CONT "$p" 2>/dev/null # a frozen process cannot act on SIGTERM
        pids+=("$p")
    done
    # Servers keep nothing worth a graceful stop here: 2 s, then SIGKILL.
    cfs_stop_pids 2 "${pids[@]}"
    META_PID=()
    CHUNK_PID=()
    NN_EXTRA_PIDS=()
    # Whatever still runs inside our namespaces (a client started through a subshell whose
    # PID was never recorded) is killed by PID before the namespaces go.
    for ns in "${NN_NAMESPACES[@]}"; do
        for p in $(ip netns pids "$ns" 2>/dev/null); do
            kill -9 "$p" 2>/dev/null
        done
    done
    for d in "${NN_TMPFS[@]}"; do
        [ -n "$d" ] && umount -l "$d" 2>/dev/null
    done
    NN_TMPFS=()
    for ns in "${NN_NAMESPACES[@]}"; do
        ip netns del "$ns" 2>/dev/null
    done
    NN_NAMESPACES=()
    if [ -n "$CLUSTER_DIR" ] && [ -d "$CLUSTER_DIR" ]; then
        rm -rf "$CLUSTER_DIR"
    fi
    CLUSTER_DIR=""
}
