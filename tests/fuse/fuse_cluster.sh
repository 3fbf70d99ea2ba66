# Sourced by the FUSE integration tests: starts a small chunkfs cluster on 127.0.0.1 (free
# ports), mounts it, and cleans everything up on exit (trap; processes killed by PID only).
# Needs CHUNKFS_BIN (build/bin). Every wait is bounded.
#
#   fc_require_fuse            exit 77 unless root, /dev/fuse and fusermount3
#   fc_init                    temp dir $FC_DIR, cleanup trap
#   fc_start_meta N            format and start N metaservers; sets $FC_META (addresses)
#   fc_start_chunk N           start N chunkservers, wait until all registered
#   fc_mount DIR [OPTS]        chunkfs-mount -f in the background, wait for the mount
#   fc_umount DIR              fusermount3 -u and wait for the daemon to exit
#   fc_kill_leader             kill -9 the metaserver that is leader; prints its index
set -u

FC_DIR=""
FC_META=""
FC_CLUSTER_ID="fusetest"
FC_CHUNK_SIZE="${FC_CHUNK_SIZE:-1M}"
FC_GOAL="${FC_GOAL:-2}"
declare -a FC_META_PIDS=() FC_META_ADDRS=() FC_CHUNK_PIDS=() FC_MOUNT_PIDS=() FC_MOUNTS=()

fc_log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
fc_fail() {
    fc_log "FAIL: $*"
    exit 1
}

fc_require_fuse() {
    if [ "$(id -u)" != 0 ]; then
        echo "skipped: FUSE tests need root (mounts with allow_other, uid switching)" >&2
        exit 77
    fi
    if [ ! -c /dev/fuse ] || ! command -v fusermount3 >/dev/null 2>&1; then
        echo "skipped: /dev/fuse or fusermount3 missing" >&2
        exit 77
    fi
    : "${CHUNKFS_BIN:?CHUNKFS_BIN must point at build/bin}"
}

fc_cleanup() {
    local rc=$?
    set +e
    local i
    for i in "${!FC_MOUNTS[@]}"; do
        if grep -qs " ${FC_MOUNTS[$i]} fuse" /proc/mounts; then
            fusermount3 -u -z "${FC_MOUNTS[$i]}" 2>/dev/null
        fi
    done
    for pid in "${FC_MOUNT_PIDS[@]}" "${FC_CHUNK_PIDS[@]}" "${FC_META_PIDS[@]}"; do
        [ -n "$pid" ] && kill "$pid" 2>/dev/null
    done
    for pid in "${FC_MOUNT_PIDS[@]}" "${FC_CHUNK_PIDS[@]}" "${FC_META_PIDS[@]}"; do
        [ -z "$pid" ] && continue
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    if [ $rc -ne 0 ] && [ $rc -ne 77 ] && [ -n "$FC_DIR" ]; then
        for f in "$FC_DIR"/*.log; do
            [ -f "$f" ] || continue
            echo "----- tail of $f" >&2
            tail -n 30 "$f" >&2
        done
    fi
    [ -n "$FC_DIR" ] && rm -rf "$FC_DIR"
    exit $rc
}

fc_init() {
    FC_DIR=$(mktemp -d "${TMPDIR:-/tmp}/cfs-fuse.XXXXXX") || fc_fail "mktemp"
    chmod 755 "$FC_DIR"
    trap fc_cleanup EXIT
    trap 'exit 1' INT TERM
}

# A port that was free a moment ago (the metaservers must know each other's ports up front).
fc_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_until SECONDS CMD...: polls CMD every 0.1 s.
fc_wait_until() {
    local limit=$1
    shift
    local end=$((SECONDS + limit))
    while [ $SECONDS -lt $end ]; do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

fc_cli() { "$CHUNKFS_BIN/chunkfs" --meta "$FC_META" "$@"; }

fc_start_meta() {
    local n=$1 i peers="" port
    for i in $(seq 1 "$n"); do
        port=$(fc_free_port)
        FC_META_ADDRS[$i]="127.0.0.1:$port"
        peers="${peers:+$peers,}$i=127.0.0.1:$port"
    done
    FC_META=""
    for i in $(seq 1 "$n"); do
        "$CHUNKFS_BIN/chunkfs-metaserver" format --data-dir "$FC_DIR/meta$i" \
            --cluster-id "$FC_CLUSTER_ID" --chunk-size "$FC_CHUNK_SIZE" --goal "$FC_GOAL" \
            >"$FC_DIR/format$i.log" 2>&1 || fc_fail "format meta$i"
        fc_run_meta "$i" "$peers"
        FC_META="${FC_META:+$FC_META,}${FC_META_ADDRS[$i]}"
    done
    for i in $(seq 1 "$n"); do
        fc_wait_until 30 test -s "$FC_DIR/meta$i.port" || fc_fail "metaserver $i did not start"
    done
    FC_PEERS="$peers"
    fc_log "metaservers: $FC_META"
}

fc_run_meta() {
    local i=$1 peers=$2
    rm -f "$FC_DIR/meta$i.port"
    "$CHUNKFS_BIN/chunkfs-metaserver" --id "$i" --listen "${FC_META_ADDRS[$i]}" \
        --peers "$peers" --data-dir "$FC_DIR/meta$i" --port-file "$FC_DIR/meta$i.port" \
        --lease-ms 10000 >>"$FC_DIR/meta$i.log" 2>&1 &
    FC_META_PIDS[$i]=$!
}

fc_start_chunk() {
    local n=$1 i
    for i in $(seq 1 "$n"); do
        mkdir -p "$FC_DIR/cs$i"
        "$CHUNKFS_BIN/chunkfs-chunkserver" --listen 127.0.0.1:0 --meta "$FC_META" \
            --data-dir "$FC_DIR/cs$i" --cluster-id "$FC_CLUSTER_ID" \
            --port-file "$FC_DIR/cs$i.port" >"$FC_DIR/cs$i.log" 2>&1 &
        FC_CHUNK_PIDS[$i]=$!
    done
    for i in $(seq 1 "$n"); do
        fc_wait_until 30 test -s "$FC_DIR/cs$i.port" || fc_fail "chunkserver $i did not start"
    done
    # Registered and heartbeating: the cluster's capacity shows every server.
    local want=$n
    fc_chunkservers_up() {
        [ "$(fc_cli status 2>/dev/null | grep -ci 'alive\|live\|up')" -ge "$want" ]
    }
    fc_wait_until 60 fc_chunkservers_up || {
        fc_cli status >&2
        fc_fail "chunkservers did not register"
    }
    fc_log "chunkservers: $n up"
}

fc_mount() {
    local dir=$1
    shift
    local opts="allow_other,log_file=$FC_DIR/mount$((${#FC_MOUNTS[@]} + 1)).log${1:+,$1}"
    mkdir -p "$dir"
    "${FC_MOUNT_BIN:-$CHUNKFS_BIN/chunkfs-mount}" -f -o "$opts" "$FC_META" "$dir" \
        >>"$FC_DIR/mount$((${#FC_MOUNTS[@]} + 1)).log" 2>&1 &
    local pid=$!
    FC_MOUNT_PIDS+=("$pid")
    FC_MOUNTS+=("$dir")
    local end=$((SECONDS + 60))
    until grep -qs " $dir fuse" /proc/mounts; do
        kill -0 "$pid" 2>/dev/null || fc_fail "chunkfs-mount exited before mounting $dir"
        [ $SECONDS -lt $end ] || fc_fail "mount of $dir did not appear"
        sleep 0.1
    done
    fc_log "mounted $dir (pid $pid)"
}

fc_umount() {
    local dir=$1 i
    fusermount3 -u "$dir" || fc_fail "fusermount3 -u $dir"
    for i in "${!FC_MOUNTS[@]}"; do
        if [ "${FC_MOUNTS[$i]}" = "$dir" ] && [ -n "${FC_MOUNT_PIDS[$i]}" ]; then
            local pid=${FC_MOUNT_PIDS[$i]}
            fc_wait_until 30 bash -c "! kill -0 $pid" || fc_fail "daemon of $dir did not exit"
            wait "$pid" || fc_fail "daemon of $dir exited with status $?"
            FC_MOUNT_PIDS[$i]=""
        fi
    done
}

# Prints the index of the current leader (from `chunkfs status`), or nothing.
fc_leader_index() {
    local i st
    st=$(fc_cli status 2>/dev/null) || return 1
    for i in "${!FC_META_ADDRS[@]}"; do
        if echo "$st" | grep -i "leader" | grep -q "${FC_META_ADDRS[$i]}"; then
            echo "$i"
            return 0
        fi
    done
    return 1
}

fc_kill_leader() {
    local i
    i=$(fc_leader_index) || fc_fail "no leader found"
    kill -9 "${FC_META_PIDS[$i]}"
    wait "${FC_META_PIDS[$i]}" 2>/dev/null
    FC_META_PIDS[$i]=""
    echo "$i"
}
