#!/bin/bash
# The status page in headless Chromium: it lists every chunkserver of a live cluster as
# alive, then shows a killed one as dead. Saves a screenshot under the build dir
# (obs-status-page.png). Skipped (77) when chromium is not installed.
set -u
SECONDS=0
: "${CHUNKFS_SRC:?}" "${CHUNKFS_BIN:?}"
source "$CHUNKFS_SRC/tests/lib/cluster.sh"
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
[ -n "$CHROMIUM" ] || { echo "SKIP: chromium not installed"; exit 77; }
command -v curl >/dev/null || { echo "SKIP: curl missing"; exit 77; }

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

cluster_setup
export CFS_META_ARGS="--http-listen 127.0.0.1:0"
export CFS_DEAD_MS=3000
start_cluster -m 1 -c 3 -s 1M -g 2 || fail "cluster did not start"
wait_healthy 60 || fail "cluster not healthy"
port=""
for ((i = 0; i < 200; i++)); do
    port=$(grep -o 'http serving on port [0-9]*' "$CLUSTER_DIR/log/meta1.log" | tail -n 1 |
        awk '{print $5}')
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || fail "no http port"
URL="http://127.0.0.1:$port/"
head -c 2500000 /dev/urandom >"$CLUSTER_DIR/data" && cfs put "$CLUSTER_DIR/data" /f >/dev/null ||
    fail "put"

# Chromium renders the page (the virtual time budget covers the first status fetch).
browse() { # what(--dump-dom|--screenshot=F) [out]
    timeout 40 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
        --no-first-run --user-data-dir="$CLUSTER_DIR/chromium" --window-size=1200,900 \
        --virtual-time-budget=5000 "$1" "$URL" 2>>"$CLUSTER_DIR/log/chromium.log"
}

# Each chunkserver's row (data-address) with its state cell, as the browser built them.
rows_ok() { # dom_file want_state_for_chunk3
    local i
    for i in 1 2 3; do
        local want=alive
        [ "$i" = 3 ] && want=$2
        grep -q "data-address=\"${CHUNK_ADDR[$i]}\"><td>[0-9]*</td><td>${CHUNK_ADDR[$i]}</td><td class=\"[a-z]*\">$want</td>" "$1" ||
            return 1
    done
}

ok=0
for attempt in 1 2 3; do
    browse --dump-dom >"$CLUSTER_DIR/dom1.html" || true
    rows_ok "$CLUSTER_DIR/dom1.html" alive && { ok=1; break; }
done
[ $ok = 1 ] || { head -c 3000 "$CLUSTER_DIR/dom1.html" >&2; fail "page does not list every chunkserver alive"; }
SHOT="$CHUNKFS_BIN/../obs-status-page.png"
browse --screenshot="$SHOT" >/dev/null || fail "screenshot"
[ -s "$SHOT" ] || fail "no screenshot"

# Kill chunkserver 3: once the metaserver declares it dead, the page shows it.
kill_chunk 3
for ((i = 0; i < 120; i++)); do
    curl -fsS --max-time 30 "${URL}status.json" | grep -q "\"address\": \"${CHUNK_ADDR[3]}\", \"state\": \"dead\"" && break
    sleep 0.25
done
ok=0
for attempt in 1 2 3; do
    browse --dump-dom >"$CLUSTER_DIR/dom2.html" || true
    rows_ok "$CLUSTER_DIR/dom2.html" dead && { ok=1; break; }
done
[ $ok = 1 ] || { head -c 3000 "$CLUSTER_DIR/dom2.html" >&2; fail "page does not show the killed chunkserver dead"; }
echo "PASS in ${SECONDS}s (screenshot $SHOT)"
