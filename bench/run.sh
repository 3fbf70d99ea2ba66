#!/bin/bash
# `make bench`: the same workloads on chunkfs, MooseFS and a plain local directory, one after
# the other, then one table (metric, chunkfs, MooseFS, local, chunkfs/MooseFS, chunkfs/local)
# on stdout and as JSON. Needs root (drop_caches, FUSE, network namespace for MooseFS).
#
# chunkfs: 3 metaservers + 3 chunkservers on 127.0.0.1 (tests/lib/cluster.sh, free ports),
# 64 MiB chunks, goal 3, mounted with chunkfs-mount. MooseFS (if installed: make deps with
# scripts/install-deps.sh --bench): 1 master + 3 chunkservers + mfsmount inside a network
# namespace made here (its chunkservers refuse a master on 127.0.0.0/8), addresses 10.99.0.x
# on that namespace's lo, goal 3, trash time 0, HDD_FSYNC_BEFORE_CLOSE=1 (so its chunkservers
# fsync like chunkfs's do). Everything started here is stopped by PID at the end, also on
# failure, and the namespace is deleted.
#
# Environment (defaults as in issue 10):
#   BENCH_MIB=1024        size of the sequential file, MiB
#   BENCH_FILES=5000      small files (4 KiB each) for create/stat/ls -l/rm
#   BENCH_DIRS=2000       mkdirs
#   BENCH_RUNS=3          runs per system; every figure is the median
#   BENCH_META_OPS=2000   metadata ops per phase for 1 caller (32 callers: /32 each, >= 20)
#   BENCH_MEM_FILES=1000000  files for meta_memory (chunkfs metaserver state machine)
#   BENCH_SYSTEMS="local chunkfs moosefs"   which systems to run
#   BENCH_OUT=bench/results/latest.json
#   CHUNKFS_BIN=build/bin
set -u

SRC_DIR=$(cd "$(dirname "$0")/.." && pwd)
export CHUNKFS_SRC=$SRC_DIR
export CHUNKFS_BIN=${CHUNKFS_BIN:-$SRC_DIR/build/bin}
MIB=${BENCH_MIB:-1024}
FILES=${BENCH_FILES:-5000}
DIRS=${BENCH_DIRS:-2000}
RUNS=${BENCH_RUNS:-3}
META_OPS=${BENCH_META_OPS:-2000}
MEM_FILES=${BENCH_MEM_FILES:-1000000}
SYSTEMS=${BENCH_SYSTEMS:-local chunkfs moosefs}
OUT=${BENCH_OUT:-$SRC_DIR/bench/results/latest.json}
FSOPS="python3 $SRC_DIR/bench/fsops.py"

die() {
    echo "bench: $*" >&2
    exit 1
}

[ "$(id -u)" = 0 ] || die "run as root (drop_caches, FUSE mounts, network namespace)"
for b in chunkfs chunkfs-metaserver chunkfs-chunkserver chunkfs-mount bench_meta_ops meta_memory; do
    [ -x "$CHUNKFS_BIN/$b" ] || die "$CHUNKFS_BIN/$b is not built (make build)"
done
command -v python3 >/dev/null || die "python3 is needed"

# shellcheck source=../tests/lib/cluster.sh
source "$SRC_DIR/tests/lib/cluster.sh"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/chunkfs-bench.XXXXXX") || die "mktemp failed"
# The source file lives in tmpfs so drop_caches does not evict it and reading it costs the
# same for every system.
SHM=$(mktemp -d /dev/shm/chunkfs-bench.XXXXXX) || die "mktemp in /dev/shm failed"
RAW=$WORK/raw.tsv
NOTES=$WORK/notes.tsv
: >"$RAW"
: >"$NOTES"

CFS_MNT=""
MFS_NS=""
MFS_DIR=""
MFS_MNT=""
MFS_PIDS=()

is_mounted() {
    grep -q " $1 fuse" /proc/mounts 2>/dev/null
}

unmount() {
    local m=$1 i
    [ -n "$m" ] || return 0
    for ((i = 0; i < 50; i++)); do
        is_mounted "$m" || return 0
        fusermount3 -u "$m" 2>/dev/null || umount "$m" 2>/dev/null
        sleep 0.2
    done
    umount -l "$m" 2>/dev/null
}

# stop_pids PID...: TERM, a bounded wait, then KILL.
stop_pids() {
    local p i any
    for p in "$@"; do kill -TERM "$p" 2>/dev/null; done
    for ((i = 0; i < 150; i++)); do
        any=0
        for p in "$@"; do kill -0 "$p" 2>/dev/null && any=1; done
        [ $any = 0 ] && break
        sleep 0.1
    done
    for p in "$@"; do
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
}

stop_chunkfs() {
    unmount "$CFS_MNT"
    CFS_MNT=""
    stop_cluster
}

stop_moosefs() {
    unmount "$MFS_MNT"
    MFS_MNT=""
    # The mount first, then chunkservers, the master last (it saves its metadata on TERM).
    local n=${#MFS_PIDS[@]} i
    for ((i = n - 1; i >= 0; i--)); do stop_pids "${MFS_PIDS[$i]}"; done
    MFS_PIDS=()
    if [ -n "$MFS_NS" ]; then
        ip netns del "$MFS_NS" 2>/dev/null
        MFS_NS=""
    fi
    [ -n "$MFS_DIR" ] && rm -rf "$MFS_DIR"
    MFS_DIR=""
}

cleanup() {
    stop_chunkfs
    stop_moosefs
    rm -rf "$WORK" "$SHM"
}
trap 'rc=$?; cleanup; exit $rc' EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
# rate AMOUNT T0 T1: AMOUNT per second between the two timestamps.
rate() { python3 -c "import sys; a,t0,t1=map(float,sys.argv[1:]); print('%.3f' % (a/(t1-t0)))" "$@"; }
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$RAW"; }
note() { printf '%s\t%s\n' "$1" "$2" >>"$NOTES"; }
drop_caches() {
    sync
    echo 3 >/proc/sys/vm/drop_caches
}
# fsops_secs ARGS...: runs fsops.py and prints its seconds= figure.
fsops_secs() {
    local out
    out=$($FSOPS "$@") || return 1
    sed -n 's/^seconds=//p' <<<"$out"
}
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

echo "bench: generating a $MIB MiB random file"
head -c $((MIB << 20)) /dev/urandom >"$SHM/src.bin" || die "cannot write $SHM/src.bin"
SRC_SUM=$(sha256sum <"$SHM/src.bin" | cut -d' ' -f1)

check_sum() { # FILE WHAT
    local got
    got=$(sha256sum <"$1" | cut -d' ' -f1)
    [ "$got" = "$SRC_SUM" ] || die "$2: checksum mismatch ($got, want $SRC_SUM)"
}

# fs_workloads SYSTEM DIR [SERVER_PID]: the workloads every system runs through a directory
# (a mount or local). SERVER_PID: the metadata server whose RSS growth per small file is
# recorded (the chunkfs leader, the MooseFS master).
fs_workloads() {
    local sys=$1 dir=$2 spid=${3:-} t0 t1 s r0 r1
    echo "bench: $sys: dd write $MIB MiB"
    t0=$(now)
    dd if="$SHM/src.bin" of="$dir/dd.bin" bs=1M conv=fsync status=none || die "$sys: dd write failed"
    t1=$(now)
    record "$sys" "seq write, mount (dd bs=1M conv=fsync)" "MiB/s" "$(rate "$MIB" "$t0" "$t1")"

    echo "bench: $sys: cold read through the mount"
    drop_caches
    t0=$(now)
    dd if="$dir/dd.bin" of=/dev/null bs=1M status=none || die "$sys: dd read failed"
    t1=$(now)
    record "$sys" "cold seq read, mount (dd bs=1M)" "MiB/s" "$(rate "$MIB" "$t0" "$t1")"
    drop_caches
    check_sum "$dir/dd.bin" "$sys mount read"
    rm -f "$dir/dd.bin"

    echo "bench: $sys: $FILES x 4 KiB files"
    local d=$dir/small
    [ -n "$spid" ] && r0=$(rss_kib "$spid")
    s=$(fsops_secs create "$d" "$FILES" 4096) || die "$sys: create failed"
    record "$sys" "small files create+write (4 KiB)" "files/s" "$(rate "$FILES" 0 "$s")"
    if [ -n "$spid" ]; then
        r1=$(rss_kib "$spid")
        record "$sys" "metadata server RSS growth per small file" "B/file" \
            "$(python3 -c "import sys; print('%.1f' % ((int(sys.argv[2]) - int(sys.argv[1])) * 1024 / int(sys.argv[3])))" "$r0" "$r1" "$FILES")"
    fi
    drop_caches
    s=$(fsops_secs stat "$d" "$FILES") || die "$sys: stat failed"
    record "$sys" "stat all small files (cold)" "files/s" "$(rate "$FILES" 0 "$s")"
    drop_caches
    t0=$(now)
    ls -l "$d" >/dev/null || die "$sys: ls -l failed"
    t1=$(now)
    record "$sys" "ls -l of the small-file dir (cold)" "files/s" "$(rate "$FILES" "$t0" "$t1")"
    s=$(fsops_secs rm "$d" "$FILES") || die "$sys: rm failed"
    record "$sys" "rm small files" "files/s" "$(rate "$FILES" 0 "$s")"

    echo "bench: $sys: $DIRS mkdirs"
    s=$(fsops_secs mkdirs "$dir/dirs" "$DIRS") || die "$sys: mkdirs failed"
    record "$sys" "mkdir" "dirs/s" "$(rate "$DIRS" 0 "$s")"
}

# meta_ops_mount SYSTEM DIR: create/stat/rename/unlink through the mount with 1 and 32
# threads (MooseFS and local have no libchunkfs; this is their counterpart).
meta_ops_via() { # SYSTEM KIND(lib|mount) ARGS...
    local sys=$1 kind=$2 threads per out
    shift 2
    for threads in 1 32; do
        per=$META_OPS
        [ "$threads" = 32 ] && per=$((META_OPS / 32 < 20 ? 20 : META_OPS / 32))
        if [ "$kind" = lib ]; then
            out=$("$CHUNKFS_BIN/bench_meta_ops" "$CHUNKFS_META" --threads "$threads" --ops "$per" \
                --root "metaops$threads") || die "$sys: bench_meta_ops failed"
        else
            out=$($FSOPS metaops "$1/metaops$threads" "$threads" "$per") || die "$sys: metaops failed"
        fi
        while read -r line; do
            case $line in
            phase=*)
                local ph val
                ph=$(sed 's/^phase=\([a-z]*\) .*/\1/' <<<"$line")
                val=$(sed 's/.*ops_per_s=//' <<<"$line")
                record "$sys" "meta $ph, $threads caller(s)" "ops/s" "$val"
                ;;
            esac
        done <<<"$out"
    done
}

# ------------------------------------------------------------------------------- local
run_local() {
    local run dir
    for ((run = 1; run <= RUNS; run++)); do
        echo "bench: local: run $run/$RUNS"
        dir=$WORK/local
        mkdir -p "$dir"
        fs_workloads local "$dir"
        t0=$(now)
        cp "$SHM/src.bin" "$dir/put.bin" && sync "$dir/put.bin" || die "local: cp failed"
        t1=$(now)
        record local "seq write, CLI put (MooseFS, local: cp + fsync)" "MiB/s" "$(rate "$MIB" "$t0" "$t1")"
        drop_caches
        t0=$(now)
        cp "$dir/put.bin" "$WORK/get.bin" || die "local: cp back failed"
        t1=$(now)
        record local "cold seq read, CLI get (MooseFS, local: cp)" "MiB/s" "$(rate "$MIB" "$t0" "$t1")"
        check_sum "$WORK/get.bin" "local get"
        rm -f "$dir/put.bin" "$WORK/get.bin"
        meta_ops_via local mount "$dir"
        # What durability costs on this disk, for reading the metadata rows: chunkfs
        # answers a mkdir/create/rm only after a Raft majority fsynced it.
        s=$(fsops_secs syncs "$dir/syncs" "$DIRS") || die "local: syncs failed"
        record local "reference: 64 B append + fdatasync, 1 thread" "ops/s" "$(rate "$DIRS" 0 "$s")"
        s=$(fsops_secs mkdirs_durable "$dir/ddirs" "$DIRS") || die "local: durable mkdirs failed"
        record local "reference: mkdir + fsync(parent), 1 thread" "dirs/s" "$(rate "$DIRS" 0 "$s")"
        rm -rf "$dir"
    done
}

# ------------------------------------------------------------------------------- chunkfs
leader_pid() {
    local i
    i=$(meta_leader_index) || return 1
    echo "${META_PID[$i]}"
}

run_chunkfs() {
    local run t0 t1 lpid
    cluster_setup
    # cluster_setup installed its own EXIT trap; ours also stops MooseFS and removes WORK.
    trap 'rc=$?; [ $rc -ne 0 ] && cluster_dump_logs; cleanup; exit $rc' EXIT
    start_cluster -m 3 -c 3 -s 64M -g 3 || die "chunkfs: cluster did not start"
    wait_healthy 120 || die "chunkfs: cluster not healthy"
    CFS_MNT=$WORK/cfs-mnt
    mkdir -p "$CFS_MNT"
    "$CHUNKFS_BIN/chunkfs-mount" -f -o "log_file=$CLUSTER_DIR/log/mount.log" "$CHUNKFS_META" \
        "$CFS_MNT" >>"$CLUSTER_DIR/log/mount.log" 2>&1 &
    EXTRA_PIDS+=("$!")
    local i
    for ((i = 0; i < 300; i++)); do
        is_mounted "$CFS_MNT" && break
        kill -0 "${EXTRA_PIDS[0]}" 2>/dev/null || die "chunkfs: mount exited (see its log)"
        sleep 0.1
    done
    is_mounted "$CFS_MNT" || die "chunkfs: mount did not come up"
    lpid=$(leader_pid) || die "chunkfs: no leader"
    for ((run = 1; run <= RUNS; run++)); do
        echo "bench: chunkfs: run $run/$RUNS"
        mkdir -p "$CFS_MNT/r$run" || die "chunkfs: mkdir failed"
        fs_workloads chunkfs "$CFS_MNT/r$run" "$lpid"
        # The CLI copy: --no-verify, because the other systems' copies do not read back.
        t0=$(now)
        "$CHUNKFS_BIN/chunkfs" put --no-verify "$SHM/src.bin" "/r$run/put.bin" ||
            die "chunkfs: put failed"
        t1=$(now)
        record chunkfs "seq write, CLI put (MooseFS, local: cp + fsync)" "MiB/s" "$(rate "$MIB" "$t0" "$t1")"
        drop_caches
        t0=$(now)
        "$CHUNKFS_BIN/chunkfs" get "/r$run/put.bin" "$WORK/get.bin" || die "chunkfs: get failed"
        t1=$(now)
        record chunkfs "cold seq read, CLI get (MooseFS, local: cp)" "MiB/s" "$(rate "$MIB" "$t0" "$t1")"
        check_sum "$WORK/get.bin" "chunkfs get"
        rm -f "$WORK/get.bin"
        "$CHUNKFS_BIN/chunkfs" rm "/r$run/put.bin" || die "chunkfs: rm failed"
        meta_ops_via chunkfs lib
        rmdir "$CFS_MNT/r$run" || die "chunkfs: rmdir failed"
    done
    note chunkfs "meta rows: libchunkfs (bench_meta_ops, one cfs_fs shared by the callers); MooseFS and local: the same calls through the mount (fsops.py metaops)"
    note chunkfs "CLI put uses --no-verify (the default put reads the file back to compare its SHA-256); get checks the stored SHA-256"
    stop_chunkfs
}

# ------------------------------------------------------------------------------- MooseFS
MFS_IP=10.99.0.1
# nsx CMD...: runs CMD in the MooseFS namespace (the mfs* tools too: they reach the master
# through the mount's .masterinfo address, which only exists there). Daemons are started with
# nsenter directly, not through this function, so that $! is the daemon's own PID.
nsx() { nsenter --net="/run/netns/$MFS_NS" "$@"; }

# wait_until SECONDS CMD...: polls CMD every 0.2 s.
wait_until() {
    local t=$1 i
    shift
    for ((i = 0; i < t * 5; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    return 1
}

mfs_listening() { nsx ss -ltnH "sport = :$1" | grep -q .; }
mfs_ready() { # all 3 chunkservers registered: space known to the master
    local n
    n=$(nsx mfscli -H "$MFS_IP" -SCS -p 2>/dev/null | grep -c "10\.99\.0\.1[123]")
    [ "$n" -ge 3 ]
}

moosefs_unavailable() {
    local b
    for b in mfsmaster mfschunkserver mfsmount mfscli mfssetgoal mfssettrashtime nsenter; do
        command -v "$b" >/dev/null 2>&1 || {
            echo "$b not installed (scripts/install-deps.sh --bench installs MooseFS)"
            return 0
        }
    done
    [ -f /var/lib/mfs/metadata.mfs.empty ] || {
        echo "/var/lib/mfs/metadata.mfs.empty missing"
        return 0
    }
    id mfs >/dev/null 2>&1 || {
        echo "user mfs missing"
        return 0
    }
    [ -e /dev/fuse ] || {
        echo "/dev/fuse missing"
        return 0
    }
    return 1
}

# start_moosefs: on failure returns 1 with the reason in MFS_WHY (not run in a subshell: it
# records the namespace, directories and PIDs for stop_moosefs).
MFS_WHY=""
start_moosefs() {
    MFS_WHY="setting up the network namespace or config failed"
    MFS_NS=cfsbench$$
    ip netns add "$MFS_NS" || return 1
    nsx ip link set lo up || return 1
    nsx ip addr add "$MFS_IP/24" dev lo || return 1
    local i
    for i in 1 2 3; do nsx ip addr add "10.99.0.1$i/32" dev lo || return 1; done
    MFS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/moosefs-bench.XXXXXX") || return 1
    chmod 755 "$MFS_DIR"
    mkdir -p "$MFS_DIR/master" "$MFS_DIR/log"
    cp /var/lib/mfs/metadata.mfs.empty "$MFS_DIR/master/metadata.mfs"
    printf '*\t/\trw,alldirs,admin,maproot=0:0\n' >"$MFS_DIR/mfsexports.cfg"
    : >"$MFS_DIR/mfstopology.cfg"
    cat >"$MFS_DIR/mfsmaster.cfg" <<EOF
WORKING_USER = mfs
WORKING_GROUP = mfs
NICE_LEVEL = 0
DATA_PATH = $MFS_DIR/master
EXPORTS_FILENAME = $MFS_DIR/mfsexports.cfg
TOPOLOGY_FILENAME = $MFS_DIR/mfstopology.cfg
MATOML_LISTEN_HOST = $MFS_IP
MATOCS_LISTEN_HOST = $MFS_IP
MATOCL_LISTEN_HOST = $MFS_IP
EOF
    for i in 1 2 3; do
        mkdir -p "$MFS_DIR/cs$i/hdd"
        echo "$MFS_DIR/cs$i/hdd" >"$MFS_DIR/cs$i/mfshdd.cfg"
        cat >"$MFS_DIR/cs$i/mfschunkserver.cfg" <<EOF
WORKING_USER = mfs
WORKING_GROUP = mfs
NICE_LEVEL = 0
DATA_PATH = $MFS_DIR/cs$i
HDD_CONF_FILENAME = $MFS_DIR/cs$i/mfshdd.cfg
HDD_LEAVE_SPACE_DEFAULT = 256MiB
HDD_FSYNC_BEFORE_CLOSE = 1
MASTER_HOST = $MFS_IP
BIND_HOST = 10.99.0.1$i
CSSERV_LISTEN_HOST = 10.99.0.1$i
EOF
    done
    chown -R mfs:mfs "$MFS_DIR"
    # nsenter --net (not `ip netns exec`): only the network namespace changes, so the FUSE
    # mount made inside is visible to this script's mount namespace.
    nsenter --net="/run/netns/$MFS_NS" mfsmaster -f -c "$MFS_DIR/mfsmaster.cfg" start >>"$MFS_DIR/log/master.log" 2>&1 &
    MFS_PIDS+=("$!")
    wait_until 60 mfs_listening 9421 || {
        MFS_WHY="master did not start: $(tail -3 "$MFS_DIR/log/master.log")"
        return 1
    }
    for i in 1 2 3; do
        nsenter --net="/run/netns/$MFS_NS" mfschunkserver -f -c "$MFS_DIR/cs$i/mfschunkserver.cfg" start \
            >>"$MFS_DIR/log/cs$i.log" 2>&1 &
        MFS_PIDS+=("$!")
    done
    wait_until 90 mfs_ready || {
        MFS_WHY="chunkservers did not register: $(tail -3 "$MFS_DIR/log/cs1.log")"
        return 1
    }
    MFS_MNT=$WORK/mfs-mnt
    mkdir -p "$MFS_MNT"
    nsenter --net="/run/netns/$MFS_NS" mfsmount -f -H "$MFS_IP" "$MFS_MNT" >>"$MFS_DIR/log/mount.log" 2>&1 &
    MFS_PIDS+=("$!")
    wait_until 60 is_mounted "$MFS_MNT" || {
        MFS_WHY="mfsmount did not come up: $(tail -3 "$MFS_DIR/log/mount.log")"
        return 1
    }
    nsx mfssetgoal -r 3 "$MFS_MNT" >/dev/null || return 1
    nsx mfssettrashtime -r 0 "$MFS_MNT" >/dev/null || return 1
    return 0
}

run_moosefs() {
    local why run t0 t1
    if why=$(moosefs_unavailable); then
        echo "bench: MooseFS skipped: $why"
        note moosefs "column empty: $why"
        return 0
    fi
    if ! start_moosefs; then
        echo "bench: MooseFS could not start: $MFS_WHY" >&2
        note moosefs "column empty: MooseFS could not start: $MFS_WHY"
        stop_moosefs
        return 0
    fi
    local mpid=${MFS_PIDS[0]}
    for ((run = 1; run <= RUNS; run++)); do
        echo "bench: MooseFS: run $run/$RUNS"
        mkdir -p "$MFS_MNT/r$run" || die "MooseFS: mkdir failed"
        fs_workloads moosefs "$MFS_MNT/r$run" "$mpid"
        t0=$(now)
        cp "$SHM/src.bin" "$MFS_MNT/r$run/put.bin" && sync "$MFS_MNT/r$run/put.bin" ||
            die "MooseFS: cp failed"
        t1=$(now)
        record moosefs "seq write, CLI put (MooseFS, local: cp + fsync)" "MiB/s" "$(rate "$MIB" "$t0" "$t1")"
        drop_caches
        t0=$(now)
        cp "$MFS_MNT/r$run/put.bin" "$WORK/get.bin" || die "MooseFS: cp back failed"
        t1=$(now)
        record moosefs "cold seq read, CLI get (MooseFS, local: cp)" "MiB/s" "$(rate "$MIB" "$t0" "$t1")"
        check_sum "$WORK/get.bin" "MooseFS cp back"
        rm -f "$WORK/get.bin" "$MFS_MNT/r$run/put.bin"
        meta_ops_via moosefs mount "$MFS_MNT/r$run"
        rmdir "$MFS_MNT/r$run" || die "MooseFS: rmdir failed"
    done
    note moosefs "$(mfsmaster -v 2>/dev/null | head -1); 1 master + 3 chunkservers + mfsmount in network namespace, goal 3, trash time 0, HDD_FSYNC_BEFORE_CLOSE=1"
    note moosefs "memory: master RSS growth while creating $FILES small files (measured); MooseFS documents 300-350 MiB per million objects (315-367 B)"
    stop_moosefs
}

# ------------------------------------------------------------------------------- memory
run_meta_memory() {
    local out v
    echo "bench: chunkfs: meta_memory --files $MEM_FILES"
    out=$("$CHUNKFS_BIN/meta_memory" --files "$MEM_FILES") || die "meta_memory failed"
    v=$(grep -o 'RSS per file[^0-9]*[0-9.]*' <<<"$out" | grep -o '[0-9.]*$' | head -1)
    [ -n "$v" ] || die "meta_memory: no 'RSS per file' in its output: $out"
    record chunkfs "metaserver state per file at $MEM_FILES files (meta_memory)" "B/file" "$v"
}

echo "bench: $RUNS run(s); $MIB MiB sequential, $FILES small files, $DIRS mkdirs;" \
    "load average $(cut -d' ' -f1-3 /proc/loadavg)"
for s in $SYSTEMS; do
    case $s in
    local) run_local ;;
    chunkfs)
        run_chunkfs
        run_meta_memory
        ;;
    moosefs) run_moosefs ;;
    *) die "unknown system $s in BENCH_SYSTEMS" ;;
    esac
done
case " $SYSTEMS " in *" moosefs "*) ;; *) note moosefs "column empty: not in BENCH_SYSTEMS" ;; esac

mkdir -p "$(dirname "$OUT")" || die "cannot create $(dirname "$OUT")"
echo
echo "bench: load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
python3 "$SRC_DIR/bench/report.py" "$RAW" "$NOTES" "$OUT" "$RUNS" || die "report failed"
echo "bench: JSON written to $OUT"
