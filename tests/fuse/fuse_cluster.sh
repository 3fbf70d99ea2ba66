# Sourced by the FUSE integration tests: a chunkfs cluster from the shared harness
# (tests/lib/cluster.sh: free ports, PIDs, logs, cleanup), plus FUSE mounts of it that are
# unmounted and stopped (by PID) on exit, whatever happens. Every wait is bounded.
#
#   fc_require_fuse            exit 77 unless root, /dev/fuse and fusermount3
#   fc_init                    cluster_setup; $FC_DIR (world-traversable), cleanup trap
#   fc_start_cluster M C       M metaservers, C chunkservers (chunk size $FC_CHUNK_SIZE,
#                              goal $FC_GOAL), wait until healthy; sets $FC_META
#   fc_mount DIR [OPTS]        chunkfs-mount -f in the background, wait for the mount
#   fc_umount DIR              fusermount3 -u and wait for the daemon to exit with status 0
#   fc_kill_leader             kill -9 the leader metaserver; prints its index
set -u
: "${CHUNKFS_SRC:?CHUNKFS_SRC must point at the source tree}"
. "$CHUNKFS_SRC/tests/lib/cluster.sh"

FC_DIR=""
FC_META=""
FC_CHUNK_SIZE="${FC_CHUNK_SIZE:-1M}"
FC_GOAL="${FC_GOAL:-2}"
declare -a FC_MOUNT_PIDS=() FC_MOUNTS=()

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
    if [ ! -x "$CHUNKFS_BIN/chunkfs-mount" ]; then
        echo "skipped: chunkfs-mount not built" >&2
        exit 77
    fi
    cluster_require_bins
}

fc_cleanup() {
    local rc=$?
    set +e
    local m
    for m in "${FC_MOUNTS[@]}"; do
        grep -qs " $m fuse" /proc/mounts && fusermount3 -u -z "$m" 2>/dev/null
    done
    if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
        cluster_dump_logs
    fi
    stop_cluster # also stops the mount daemons: they are in EXTRA_PIDS
    exit $rc
}

fc_init() {
    cluster_setup
    FC_DIR=$CLUSTER_DIR
    chmod 755 "$FC_DIR" # the permission checks run as uid 1000 below it
    trap fc_cleanup EXIT
}

fc_start_cluster() {
    start_cluster -m "$1" -c "$2" -s "$FC_CHUNK_SIZE" -g "$FC_GOAL" || fc_fail "cluster start"
    wait_healthy 60 || fc_fail "cluster not healthy"
    FC_META=$CHUNKFS_META
    fc_log "cluster up: metaservers $FC_META, $2 chunkservers"
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

fc_mount() {
    local dir=$1
    shift
    local n=$((${#FC_MOUNTS[@]} + 1))
    local log="$FC_DIR/log/mount$n.log"
    mkdir -p "$dir"
    "${FC_MOUNT_BIN:-$CHUNKFS_BIN/chunkfs-mount}" -f -o "allow_other,log_file=$log${1:+,$1}" \
        "$FC_META" "$dir" >>"$log" 2>&1 &
    local pid=$!
    EXTRA_PIDS+=("$pid")
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

# Forgets a daemon that exited, so cleanup never signals a recycled PID.
fc_forget_pid() {
    local pid=$1 i
    for i in "${!EXTRA_PIDS[@]}"; do
        [ "${EXTRA_PIDS[$i]}" = "$pid" ] && EXTRA_PIDS[$i]=""
    done
    for i in "${!FC_MOUNT_PIDS[@]}"; do
        [ "${FC_MOUNT_PIDS[$i]}" = "$pid" ] && FC_MOUNT_PIDS[$i]=""
    done
}

# Waits (bounded) for a daemon to exit and checks its status is 0.
fc_wait_daemon() {
    local pid=$1
    fc_wait_until 60 bash -c "! kill -0 $pid" || fc_fail "daemon $pid did not exit"
    wait "$pid"
    local st=$?
    fc_forget_pid "$pid"
    [ $st = 0 ] || fc_fail "daemon $pid exited with status $st"
}

fc_umount() {
    local dir=$1 i
    fusermount3 -u "$dir" || fc_fail "fusermount3 -u $dir"
    for i in "${!FC_MOUNTS[@]}"; do
        if [ "${FC_MOUNTS[$i]}" = "$dir" ] && [ -n "${FC_MOUNT_PIDS[$i]}" ]; then
            fc_wait_daemon "${FC_MOUNT_PIDS[$i]}"
        fi
    done
}

fc_kill_leader() {
    local i
    i=$(meta_leader_index) || fc_fail "no leader found"
    kill_meta "$i"
    echo "$i"
}
