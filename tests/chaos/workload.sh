#!/bin/bash
# Workloads with recorded histories for the fault-injection tests, on a cluster started by
# tests/lib/netns.sh (source that first). Every workload runs in the background from a
# client namespace, writes its history under $CLUSTER_DIR/hist/NAME.hist, and is checked
# with the same checker (tests/chaos/chaos_workload.c; history format in chaos_history.h).
#
# DURATION_S bounds a workload; wl_stop_all ends them all earlier.
#
#   wl_start_lib NAME SEED DURATION_S [EXTRA chaos_workload run ARGS...]
#                            libchunkfs writer from client k1 into /NAME
#   wl_start_fuse NAME SEED DURATION_S MOUNTDIR [EXTRA ARGS...]
#                            POSIX writer (write + fsync + close) on a FUSE mount
#                            (mount it first: nn_mount 1 MOUNTDIR), into MOUNTDIR/NAME
#   wl_start_cli NAME SEED DURATION_S [MAX_SIZE]
#                            `chunkfs put -f` of generated files into /NAME, recorded the
#                            same way (ok = put exited 0)
#   wl_stop_all              asks every workload to stop (no new operation starts), then
#                            wl_wait_all
#   wl_wait_all              waits for every workload started; fails if a run reported a
#                            bad read or could not record its history
#   wl_check_all [WAIT_S]    checks every history through libchunkfs (and the CLI copies
#                            also with `chunkfs get` + cmp); prints per-history lines
#   WL_OPS, WL_LOST, WL_CORRUPT   totals after wl_check_all (operations from histories)
#
# Workload processes are recorded in NN_EXTRA_PIDS, so the harness kills them at exit.

WL_BIN="$CHUNKFS_BIN/chaos_workload"
declare -a WL_NAMES WL_PIDS WL_KINDS WL_MOUNTS
WL_OPS=0
WL_LOST=0
WL_CORRUPT=0

wl_require() {
    [ -x "$WL_BIN" ] || { echo "SKIP: $WL_BIN not built" >&2; exit 77; }
}

_wl_add() {
    mkdir -p "$CLUSTER_DIR/hist"
    WL_NAMES+=("$1")
    WL_PIDS+=("$2")
    WL_KINDS+=("$3")
    WL_MOUNTS+=("${4:-}")
    NN_EXTRA_PIDS+=("$2")
}

wl_start_lib() {
    local name=$1 seed=$2 dur=$3
    shift 3
    mkdir -p "$CLUSTER_DIR/hist"
    nn_client 1 "$WL_BIN" run --meta "$CHUNKFS_META" --dir "/$name" --seed "$seed" \
        --duration "$dur" --history "$CLUSTER_DIR/hist/$name.hist" \
        --stop-file "$CLUSTER_DIR/hist/stop" "$@" >"$CLUSTER_DIR/log/wl-$name.log" 2>&1 &
    _wl_add "$name" $! lib
}

wl_start_fuse() {
    local name=$1 seed=$2 dur=$3 mnt=$4
    shift 4
    mkdir -p "$CLUSTER_DIR/hist"
    # The writer itself needs no network: the mount daemon is in the client namespace.
    "$WL_BIN" run --mount "$mnt" --dir "/$name" --seed "$seed" --duration "$dur" \
        --history "$CLUSTER_DIR/hist/$name.hist" --stop-file "$CLUSTER_DIR/hist/stop" "$@" \
        >"$CLUSTER_DIR/log/wl-$name.log" 2>&1 &
    _wl_add "$name" $! fuse "$mnt"
}

# The CLI writer: file i, generation g is `chaos_workload gen` output, copied with put -f.
_wl_cli_loop() {
    local name=$1 seed=$2 dur=$3 max=$4 hist=$5 files=4 end i g rc
    local -a gens=(0 0 0 0)
    local tmp="$CLUSTER_DIR/cli-$name.src"
    echo "# chaos seed=$seed max_size=$max files=$files dir=/$name" >"$hist"
    nn_client 1 "$CFS_CLI_BIN" mkdir -p "/$name" || return 2
    end=$((SECONDS + dur))
    while [ $SECONDS -lt $end ] && [ ! -e "$CLUSTER_DIR/hist/stop" ]; do
        i=$((RANDOM % files))
        g=$((gens[i] + 1))
        gens[i]=$g
        "$WL_BIN" gen --seed "$seed" --file "$i" --gen "$g" --max-size "$max" >"$tmp" || return 2
        echo "$(date +%s%3N) invoke write $i $g" >>"$hist"
        CHUNKFS_LOG=error nn_client 1 "$CFS_CLI_BIN" put -f "$tmp" "/$name/f$i" >/dev/null 2>&1
        rc=$?
        if [ $rc = 0 ]; then
            echo "$(date +%s%3N) ok write $i $g" >>"$hist"
        else
            echo "$(date +%s%3N) fail write $i $g -$rc" >>"$hist"
        fi
    done
    rm -f "$tmp"
    return 0
}

wl_start_cli() {
    local name=$1 seed=$2 dur=$3 max=${4:-3000000}
    mkdir -p "$CLUSTER_DIR/hist"
    RANDOM=$seed
    _wl_cli_loop "$name" "$seed" "$dur" "$max" "$CLUSTER_DIR/hist/$name.hist" \
        >"$CLUSTER_DIR/log/wl-$name.log" 2>&1 &
    _wl_add "$name" $! cli
}

wl_stop_all() {
    touch "$CLUSTER_DIR/hist/stop"
    wl_wait_all
}

wl_wait_all() {
    local i rc bad=0
    for i in "${!WL_PIDS[@]}"; do
        [ -n "${WL_PIDS[$i]}" ] || continue
        wait "${WL_PIDS[$i]}"
        rc=$?
        WL_PIDS[$i]=""
        grep -h '^run:' "$CLUSTER_DIR/log/wl-${WL_NAMES[$i]}.log" 2>/dev/null |
            sed "s/^/${WL_NAMES[$i]} /" >&2
        if [ $rc != 0 ]; then
            nn_log "workload ${WL_NAMES[$i]} exited $rc"
            tail -n 20 "$CLUSTER_DIR/log/wl-${WL_NAMES[$i]}.log" >&2
            bad=1
        fi
    done
    return $bad
}

# Verifies each acknowledged CLI copy still in place with `chunkfs get` and cmp.
_wl_cli_verify() {
    local name=$1 hist=$2 seed max f g
    read -r seed max <<<"$(head -n 1 "$hist" | sed -E 's/.*seed=([0-9]+) max_size=([0-9]+).*/\1 \2/')"
    # The last acknowledged generation of each file with nothing attempted after it.
    awk '$3 == "write" { if ($2 == "ok") last[$4] = $5; else if ($2 == "invoke") pend[$4] = $5 }
         END { for (f in last) if (pend[f] == last[f]) print f, last[f] }' "$hist" |
        while read -r f g; do
            "$WL_BIN" gen --seed "$seed" --file "$f" --gen "$g" --max-size "$max" \
                >"$CLUSTER_DIR/cli-want" || return 1
            rm -f "$CLUSTER_DIR/cli-got"
            nn_client 1 "$CFS_CLI_BIN" get "/$name/f$f" "$CLUSTER_DIR/cli-got" >/dev/null 2>&1 ||
                { echo "check: LOST: chunkfs get /$name/f$f failed" >&2; return 1; }
            cmp -s "$CLUSTER_DIR/cli-want" "$CLUSTER_DIR/cli-got" ||
                { echo "check: CORRUPT: /$name/f$f differs from generation $g" >&2; return 1; }
        done
}

wl_check_all() {
    local wait_s=${1:-120} i name out rc status=0 ops lost corrupt
    WL_OPS=0
    WL_LOST=0
    WL_CORRUPT=0
    for i in "${!WL_NAMES[@]}"; do
        name=${WL_NAMES[$i]}
        out=$(nn_client 1 "$WL_BIN" check --meta "$CHUNKFS_META" --wait "$wait_s" \
            --history "$CLUSTER_DIR/hist/$name.hist" 2>"$CLUSTER_DIR/log/check-$name.log")
        rc=$?
        echo "$name $out" >&2
        [ $rc = 0 ] || { cat "$CLUSTER_DIR/log/check-$name.log" >&2; status=1; }
        ops=$(grep -o 'operations=[0-9]*' <<<"$out" | cut -d= -f2)
        lost=$(grep -o 'lost=[0-9]*' <<<"$out" | cut -d= -f2)
        corrupt=$(grep -o 'corrupt=[0-9]*' <<<"$out" | cut -d= -f2)
        [ -n "$lost" ] || { lost=1; status=1; }
        WL_OPS=$((WL_OPS + ${ops:-0}))
        WL_LOST=$((WL_LOST + lost))
        WL_CORRUPT=$((WL_CORRUPT + ${corrupt:-0}))
        if [ "${WL_KINDS[$i]}" = cli ] && ! _wl_cli_verify "$name" "$CLUSTER_DIR/hist/$name.hist"; then
            WL_CORRUPT=$((WL_CORRUPT + 1))
            status=1
        fi
    done
    return $status
}
