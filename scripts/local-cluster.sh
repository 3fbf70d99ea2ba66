#!/bin/bash
# A local chunkfs cluster for trying things out: 3 metaservers and 3 chunkservers on
# 127.0.0.1, data under ./var/, logs in ./var/log, PIDs in ./var/run.
#
#   scripts/local-cluster.sh start    format (once) and start; wait until healthy
#   scripts/local-cluster.sh stop     unmount ./mnt and stop the recorded PIDs
#   scripts/local-cluster.sh status   which processes run, and `chunkfs status`
#   scripts/local-cluster.sh env      prints `export CHUNKFS_META=...`
#   scripts/local-cluster.sh demo     start, mount at ./mnt (if chunkfs-mount is built), put a
#                                     DEMO_MB MiB file (default 512), read it back, compare
#                                     SHA-256, print status and fileinfo; leaves it running
#
# Environment: CHUNKFS_BIN (default build/bin next to this script), CHUNKFS_BASE_PORT
# (default 19400: metaservers use BASE..BASE+2, chunkservers BASE+10..BASE+12),
# CHUNKFS_VAR (default ./var), CHUNK_SIZE (default 64M, used at format time), DEMO_MB.
# Running `start` twice is harmless: running servers are left alone.
# Security: `start` makes a cluster secret once ($CHUNKFS_VAR/secret, mode 0600) and gives it to
# every server, the CLI and the mount (CHUNKFS_SECRET_FILE; `env` prints it too), and a chunk
# token secret ($CHUNKFS_VAR/token_secret) that only the servers get (--token-secret-file).
# CHUNKFS_TLS=1: TLS on every connection, with a test CA and certificates made once by
# scripts/make-certs.sh in $CHUNKFS_VAR/certs (clients get CHUNKFS_TLS_CA); CHUNKFS_TLS=mutual:
# servers also require client certificates (clients get CHUNKFS_TLS_CERT/KEY). The mode of the
# last `start` is remembered in $CHUNKFS_VAR/tls_mode for the other commands.
set -u

HERE=$(cd "$(dirname "$0")/.." && pwd)
BIN=${CHUNKFS_BIN:-$HERE/build/bin}
VAR=${CHUNKFS_VAR:-$PWD/var}
BASE=${CHUNKFS_BASE_PORT:-19400}
MNT=${CHUNKFS_MNT:-$PWD/mnt}
CHUNK_SIZE=${CHUNK_SIZE:-64M}
N=3

META_ADDRS=""
PEERS=""
for i in 1 2 3; do
    META_ADDRS="$META_ADDRS${META_ADDRS:+,}127.0.0.1:$((BASE + i - 1))"
    PEERS="$PEERS${PEERS:+,}$i=127.0.0.1:$((BASE + i - 1))"
done
export CHUNKFS_META=$META_ADDRS
SECRET="$VAR/secret"
TOKEN_SECRET="$VAR/token_secret"
export CHUNKFS_SECRET_FILE=$SECRET
CERTS="$VAR/certs"
TLS_ARGS=()
if [ -z "${CHUNKFS_TLS:-}" ] && [ -f "$VAR/tls_mode" ]; then CHUNKFS_TLS=$(cat "$VAR/tls_mode"); fi
CHUNKFS_TLS=${CHUNKFS_TLS:-0}
case "$CHUNKFS_TLS" in
0) ;;
1 | mutual)
    TLS_ARGS=(--tls-ca "$CERTS/ca.crt" --tls-cert "$CERTS/server.crt" --tls-key "$CERTS/server.key")
    export CHUNKFS_TLS_CA=$CERTS/ca.crt
    if [ "$CHUNKFS_TLS" = mutual ]; then
        TLS_ARGS+=(--tls-client-auth require)
        export CHUNKFS_TLS_CERT=$CERTS/client.crt CHUNKFS_TLS_KEY=$CERTS/client.key
    fi
    ;;
*)
    echo "local-cluster: CHUNKFS_TLS must be 0, 1 or mutual" >&2
    exit 2
    ;;
esac

die() {
    echo "local-cluster: $*" >&2
    exit 1
}

need_bins() {
    local b
    for b in chunkfs chunkfs-metaserver chunkfs-chunkserver; do
        [ -x "$BIN/$b" ] || die "$BIN/$b is not built (run make, or set CHUNKFS_BIN)"
    done
}

# alive NAME: true when var/run/NAME.pid names a running process of ours.
alive() {
    local f="$VAR/run/$1.pid" pid
    [ -f "$f" ] || return 1
    pid=$(cat "$f")
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

start_meta() {
    local i=$1
    alive "meta$i" && return 0
    "$BIN/chunkfs-metaserver" --id "$i" --listen "127.0.0.1:$((BASE + i - 1))" --peers "$PEERS" \
        --data-dir "$VAR/meta$i" --secret-file "$SECRET" --token-secret-file "$TOKEN_SECRET" \
        "${TLS_ARGS[@]}" >>"$VAR/log/meta$i.log" 2>&1 &
    echo $! >"$VAR/run/meta$i.pid"
}

start_chunk() {
    local i=$1
    alive "chunk$i" && return 0
    "$BIN/chunkfs-chunkserver" --listen "127.0.0.1:$((BASE + 9 + i))" --meta "$META_ADDRS" \
        --data-dir "$VAR/chunk$i" --cluster-id "$(cat "$VAR/cluster_id")" --domain "host$i" \
        --secret-file "$SECRET" --token-secret-file "$TOKEN_SECRET" "${TLS_ARGS[@]}" \
        >>"$VAR/log/chunk$i.log" 2>&1 &
    echo $! >"$VAR/run/chunk$i.pid"
}

wait_healthy() {
    local i json alive_n
    for ((i = 0; i < 240; i++)); do
        json=$(CHUNKFS_TIMEOUT_MS=2000 "$BIN/chunkfs" status --json 2>/dev/null)
        alive_n=$(grep -o '"state": "alive"' <<<"$json" | wc -l)
        if [ "$alive_n" -ge $N ]; then
            echo "local-cluster: healthy: 3 metaservers, $alive_n chunkservers alive ($META_ADDRS)"
            return 0
        fi
        sleep 0.25
    done
    "$BIN/chunkfs" status >&2
    die "not healthy after 60 s; logs in $VAR/log"
}

cmd_start() {
    need_bins
    mkdir -p "$VAR/log" "$VAR/run"
    if [ ! -f "$VAR/cluster_id" ]; then
        echo "local$(date +%s)" >"$VAR/cluster_id"
    fi
    local f
    for f in "$SECRET" "$TOKEN_SECRET"; do
        if [ ! -f "$f" ]; then
            (umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$f") ||
                die "cannot write $f"
        fi
    done
    if [ ${#TLS_ARGS[@]} -gt 0 ]; then
        "$HERE/scripts/make-certs.sh" "$CERTS" >/dev/null || die "make-certs.sh failed"
    fi
    echo "$CHUNKFS_TLS" >"$VAR/tls_mode"
    local id i
    id=$(cat "$VAR/cluster_id")
    for i in 1 2 3; do
        if [ ! -f "$VAR/meta$i/cluster.ini" ]; then
            "$BIN/chunkfs-metaserver" format --data-dir "$VAR/meta$i" --cluster-id "$id" \
                --chunk-size "$CHUNK_SIZE" --goal 3 >>"$VAR/log/format.log" 2>&1 ||
                die "format of $VAR/meta$i failed (see $VAR/log/format.log)"
        fi
    done
    for i in 1 2 3; do start_meta "$i"; done
    for i in 1 2 3; do start_chunk "$i"; done
    wait_healthy
}

is_mounted() {
    grep -q " $MNT fuse" /proc/mounts 2>/dev/null
}

cmd_stop() {
    if is_mounted; then
        fusermount3 -u "$MNT" 2>/dev/null || umount "$MNT" 2>/dev/null ||
            echo "local-cluster: could not unmount $MNT" >&2
    fi
    local name pid pids="" i
    for name in mount chunk1 chunk2 chunk3 meta1 meta2 meta3; do
        if alive "$name"; then
            pid=$(cat "$VAR/run/$name.pid")
            kill -TERM "$pid" 2>/dev/null
            pids="$pids $pid"
        fi
    done
    for ((i = 0; i < 100; i++)); do
        local any=0
        for pid in $pids; do kill -0 "$pid" 2>/dev/null && any=1; done
        [ $any = 0 ] && break
        sleep 0.1
    done
    for pid in $pids; do kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null; done
    rm -f "$VAR"/run/*.pid
    echo "local-cluster: stopped"
}

cmd_status() {
    local name
    for name in meta1 meta2 meta3 chunk1 chunk2 chunk3 mount; do
        if alive "$name"; then
            echo "$name: running (pid $(cat "$VAR/run/$name.pid"))"
        else
            echo "$name: not running"
        fi
    done
    [ -x "$BIN/chunkfs" ] && CHUNKFS_TIMEOUT_MS=3000 "$BIN/chunkfs" status
}

cmd_env() {
    echo "export CHUNKFS_META=$META_ADDRS CHUNKFS_SECRET_FILE=$SECRET" \
        "${CHUNKFS_TLS_CA:+CHUNKFS_TLS_CA=$CHUNKFS_TLS_CA}" \
        "${CHUNKFS_TLS_CERT:+CHUNKFS_TLS_CERT=$CHUNKFS_TLS_CERT CHUNKFS_TLS_KEY=$CHUNKFS_TLS_KEY}"
}

cmd_demo() {
    cmd_start
    local mb=${DEMO_MB:-512} mounted=0
    if [ -x "$BIN/chunkfs-mount" ] && [ -e /dev/fuse ]; then
        mkdir -p "$MNT"
        if ! is_mounted; then
            "$BIN/chunkfs-mount" -f -o "log_file=$VAR/log/mount.log" "$META_ADDRS" "$MNT" \
                >>"$VAR/log/mount.log" 2>&1 &
            echo $! >"$VAR/run/mount.pid"
            local i
            for ((i = 0; i < 100; i++)); do
                is_mounted && break
                sleep 0.1
            done
        fi
        if is_mounted; then
            mounted=1
            echo "local-cluster: mounted at $MNT"
        else
            echo "local-cluster: mount did not come up (see $VAR/log/mount.log); using chunkfs get"
        fi
    fi
    echo "local-cluster: generating $mb MiB of random data"
    head -c $((mb << 20)) /dev/urandom >"$VAR/demo.bin" || die "cannot write $VAR/demo.bin"
    local want got
    want=$(sha256sum <"$VAR/demo.bin" | cut -d' ' -f1)
    "$BIN/chunkfs" mkdir -p /demo || die "mkdir failed"
    CHUNKFS_PROGRESS=${CHUNKFS_PROGRESS:-} "$BIN/chunkfs" put -f "$VAR/demo.bin" /demo/demo.bin ||
        die "put failed"
    if [ $mounted = 1 ]; then
        echo "local-cluster: reading it back through the mount"
        got=$(sha256sum <"$MNT/demo/demo.bin" | cut -d' ' -f1)
    else
        echo "local-cluster: reading it back with chunkfs get"
        rm -f "$VAR/demo.back"
        "$BIN/chunkfs" get /demo/demo.bin "$VAR/demo.back" || die "get failed"
        got=$(sha256sum <"$VAR/demo.back" | cut -d' ' -f1)
        rm -f "$VAR/demo.back"
    fi
    echo "sha256 sent:     $want"
    echo "sha256 read back: $got"
    [ "$want" = "$got" ] || die "CHECKSUM MISMATCH"
    echo "local-cluster: checksums match"
    echo
    "$BIN/chunkfs" status
    echo
    "$BIN/chunkfs" fileinfo /demo/demo.bin
    echo
    echo "The cluster keeps running. Try:"
    echo "  $(cmd_env)"
    echo "  $BIN/chunkfs ls -l /demo"
    [ $mounted = 1 ] && echo "  ls -l $MNT/demo"
    echo "Stop it with: scripts/local-cluster.sh stop   (or make stop)"
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
env) cmd_env ;;
demo) cmd_demo ;;
*)
    echo "usage: $0 start|stop|status|env|demo" >&2
    exit 2
    ;;
esac
