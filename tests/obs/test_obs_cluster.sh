#!/bin/bash
# Observability on a live cluster (3 metaservers, 3 chunkservers, --http-listen on all):
# /metrics of a metaserver and a chunkserver pass a strict text-format check and their
# counters move as CLI operations run; /status.json (leader and follower) lists every
# server, with the schema of `chunkfs status --json` and each server's http address;
# / serves the page; /log-level and SIGUSR1 change the log level at run time.
set -u
SECONDS=0
: "${CHUNKFS_SRC:?}" "${CHUNKFS_BIN:?}"
source "$CHUNKFS_SRC/tests/lib/cluster.sh"
command -v curl >/dev/null || { echo "SKIP: curl missing"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 missing"; exit 77; }
CHECK="python3 $CHUNKFS_SRC/tests/obs/check_prom.py"

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

cluster_setup
export CFS_META_ARGS="--http-listen 127.0.0.1:0"
export CFS_CHUNK_ARGS="--http-listen 127.0.0.1:0"
start_cluster -m 3 -c 3 -s 1M -g 2 || fail "cluster did not start"
wait_healthy 60 || fail "cluster not healthy"
echo "cluster up after ${SECONDS}s"

# The HTTP port a server logged (its log is appended to; the last start counts).
http_port() {
    local log=$1 i p
    for ((i = 0; i < 200; i++)); do
        p=$(grep -o 'http serving on port [0-9]*' "$log" | tail -n 1 | awk '{print $5}')
        [ -n "$p" ] && { echo "$p"; return 0; }
        sleep 0.1
    done
    return 1
}

declare -a META_HTTP CHUNK_HTTP
for i in 1 2 3; do
    META_HTTP[$i]=$(http_port "$CLUSTER_DIR/log/meta$i.log") || fail "meta$i has no http port"
    CHUNK_HTTP[$i]=$(http_port "$CLUSTER_DIR/log/chunk$i.log") || fail "chunk$i has no http port"
done
T="$CLUSTER_DIR/obs"
mkdir -p "$T"

$CHECK selftest >/dev/null || fail "the format checker accepts bad input"

# q URL EXPR...: scrape with the strict check, print the values (see check_prom.py).
q() { $CHECK scrape "$@" || fail "scrape $1"; }
# The leader's gauges follow the registry, which fills in as heartbeats arrive: poll.
poll() { # url expr want_min
    local i v
    for ((i = 0; i < 120; i++)); do
        v=$(q "$1" "$2")
        [ "$v" != none ] && [ "$v" -ge "$3" ] && return 0
        sleep 0.5
    done
    fail "$2 stayed below $3 (last: $v)"
}
# Leadership may move on a loaded machine: find the node whose metrics say leader (L) and
# another one (F), afresh before each leader-only check; per-node counters are summed.
METAS="http://127.0.0.1:${META_HTTP[1]}/metrics,http://127.0.0.1:${META_HTTP[2]}/metrics"
METAS="$METAS,http://127.0.0.1:${META_HTTP[3]}/metrics"
CHUNKS="http://127.0.0.1:${CHUNK_HTTP[1]}/metrics,http://127.0.0.1:${CHUNK_HTTP[2]}/metrics"
CHUNKS="$CHUNKS,http://127.0.0.1:${CHUNK_HTTP[3]}/metrics"
find_leader() {
    local j i flags
    for ((j = 0; j < 120; j++)); do
        read -r -a flags <<<"$(q "$METAS" each:cfs_raft_is_leader)"
        for i in 1 2 3; do
            if [ "${flags[$((i - 1))]}" = 1 ]; then
                L=$i F=$((i % 3 + 1))
                LURL="http://127.0.0.1:${META_HTTP[$L]}" FURL="http://127.0.0.1:${META_HTTP[$F]}"
                return 0
            fi
        done
        sleep 0.25
    done
    fail "no metaserver reports itself leader"
}
find_leader
poll "$LURL/metrics" "#cfs_chunkserver_capacity_bytes" 3
mapfile -t v < <(q "$LURL/metrics" cfs_raft_is_leader "cfs_raft_role{role=leader}" \
    "cfs_meta_chunkservers{state=alive}" cfs_chunkserver_capacity_bytes cfs_raft_role)
[ "${v[0]}" = 1 ] && [ "${v[1]}" = 1 ] && [ "${v[4]}" = 1 ] || fail "leader gauges: ${v[*]}"
[ "${v[2]}" = 3 ] || fail "alive chunkservers ${v[2]}"
[ "${v[3]}" -gt 0 ] || fail "capacity ${v[3]}"
mapfile -t v < <(q "$FURL/metrics" cfs_raft_role "cfs_raft_role{role=leader}")
[ "${v[0]}" = 1 ] && [ "${v[1]}" = 0 ] || fail "non-leader role gauges: ${v[*]}"
mapfile -t v < <(q "$METAS" "cfs_meta_requests_total{op=mkdir}" max:cfs_raft_commit_index)
mk0=${v[0]} c0=${v[1]}

chunk_sums() { # prints written, read, fsync count summed over the chunkservers
    q "$CHUNKS" cfs_chunk_written_bytes_total cfs_chunk_read_bytes_total \
        cfs_chunk_fsync_seconds_count | tr '\n' ' '
}
read -r w0 r0 s0 <<<"$(chunk_sums)"

# Operations: a directory, a 3 MiB file (3 chunks, 2 replicas each), a read back, an error.
head -c $((3 * 1024 * 1024)) /dev/urandom >"$T/data" || fail "no test data"
cfs mkdir /obs >/dev/null || fail "mkdir"
cfs put "$T/data" /obs/data >/dev/null || fail "put"
cfs get /obs/data "$T/back" >/dev/null || fail "get"
cmp -s "$T/data" "$T/back" || fail "data read back differs"
cfs stat /nonexistent >/dev/null 2>&1 && fail "stat of a missing file succeeded"

mapfile -t v < <(q "$METAS" "cfs_meta_requests_total{op=mkdir}" \
    "cfs_meta_requests_total{op=alloc_chunk}" "cfs_meta_request_seconds_count{op=alloc_chunk}" \
    cfs_meta_request_errors_total max:cfs_raft_commit_index)
[ "${v[0]}" -ge $((mk0 + 1)) ] || fail "mkdir counter did not move ($mk0 -> ${v[0]})"
# 3 chunks: chunk 0 is allocated by the create, chunks 1 and 2 by alloc_chunk.
[ "${v[1]}" -ge 2 ] || fail "alloc_chunk counter ${v[1]} < 2"
[ "${v[2]}" = "${v[1]}" ] || fail "latency histogram count ${v[2]} != requests ${v[1]}"
[ "${v[3]}" -ge 1 ] || fail "error counter did not count the failed lookup"
[ "${v[4]}" -gt "$c0" ] || fail "commit index did not move ($c0 -> ${v[4]})"
read -r w1 r1 s1 <<<"$(chunk_sums)"
[ $((w1 - w0)) -ge $((2 * 3 * 1024 * 1024)) ] || fail "written bytes moved $((w1 - w0)) < 6 MiB"
[ $((r1 - r0)) -ge $((3 * 1024 * 1024)) ] || fail "read bytes moved $((r1 - r0)) < 3 MiB"
[ "$s1" -gt "$s0" ] || fail "fsync histogram did not move"
# Per-disk figures: one series per data dir on every chunkserver, with a capacity.
mapfile -t v < <(q "$CHUNKS" "#cfs_chunk_disk_capacity_bytes" "#cfs_chunk_disk_used_bytes" \
    "max:cfs_chunk_disk_capacity_bytes")
[ "${v[0]}" = 3 ] && [ "${v[1]}" = 3 ] && [ "${v[2]}" -gt 0 ] || fail "per-disk gauges: ${v[*]}"
[ "$(q "$METAS" "#cfs_raft_snapshot_bytes")" = 3 ] || fail "no snapshot size gauge"
find_leader
poll "$LURL/metrics" "cfs_meta_chunks{state=healthy}" 3
[ "$(q "$LURL/metrics" cfs_meta_repair_queued)" != none ] || fail "no repair gauges"
mapfile -t v < <(q "$METAS" "max:cfs_meta_inodes{type=file}" "max:cfs_meta_inodes{type=dir}" \
    max:cfs_meta_open_write_leases)
[ "${v[0]}" -ge 1 ] && [ "${v[1]}" -ge 2 ] || fail "inode gauges: ${v[*]}"
[ "${v[2]}" != none ] || fail "no lease gauge"
echo "metrics checked after ${SECONDS}s"

# status.json on the leader and through a follower: every server listed.
for url in "$LURL" "$FURL"; do
    curl -fsS --max-time 30 "$url/status.json" >"$T/status.json" || fail "$url/status.json"
    python3 - "$T/status.json" "${META_ADDR[1]}" "${META_ADDR[2]}" "${META_ADDR[3]}" \
        "${CHUNK_ADDR[1]}" "${CHUNK_ADDR[2]}" "${CHUNK_ADDR[3]}" <<'PY' || fail "$url/status.json content"
import json, sys
s = json.load(open(sys.argv[1]))
metas = {m["address"] for m in s["metaservers"]}
chunks = {c["address"]: c for c in s["chunkservers"]}
assert metas == set(sys.argv[2:5]), metas
assert set(chunks) == set(sys.argv[5:8]), chunks
assert all(c["state"] == "alive" and c["capacity"] > 0 for c in chunks.values())
assert sum(1 for m in s["metaservers"] if m["role"] == "leader") == 1
assert s["files"] >= 1 and s["chunks"] >= 3
assert all(k in s for k in ("repair_queued", "repair_inflight", "draining_replicas",
                            "rebalance_done", "balanced", "gc_waiting")), sorted(s)
PY
done
find_leader
grep -q '"via": "self"' <(curl -fsS --max-time 30 "$LURL/status.json") || fail "leader not self"
via=$(curl -fsS --max-time 30 "$FURL/status.json" | grep -o '"via": "[^"]*"')
case "$via" in
*"${META_ADDR[1]}"* | *"${META_ADDR[2]}"* | *"${META_ADDR[3]}"*) ;;
*) fail "follower did not fetch from the leader ($via)" ;;
esac

# One schema: `chunkfs status --json` has the keys of status.json (minus served_by, via);
# every server gives its http address; a follower's own commit index is shown (asked from
# it); `chunkfs status` prints the http column and the healing progress section.
want_http="$T/want_http"
: >"$want_http"
for i in 1 2 3; do
    echo "${META_ADDR[$i]} http://127.0.0.1:${META_HTTP[$i]}" >>"$want_http"
    echo "${CHUNK_ADDR[$i]} http://127.0.0.1:${CHUNK_HTTP[$i]}" >>"$want_http"
done
ok=0
for ((j = 0; j < 60; j++)); do
    curl -fsS --max-time 30 "$FURL/status.json" >"$T/status.json" &&
        cfs status --json >"$T/cli_status.json" &&
        python3 - "$T/status.json" "$T/cli_status.json" "$want_http" <<'PY' && { ok=1; break; }
import json, sys
page, cli = (json.load(open(p)) for p in sys.argv[1:3])
want = dict(l.split() for l in open(sys.argv[3]))
def keys(s):
    return (set(s) - {"served_by", "via"}, {k for m in s["metaservers"] for k in m},
            {k for c in s["chunkservers"] for k in c})
assert keys(page) == keys(cli), (keys(page), keys(cli))
for s in (page, cli):
    got = {x["address"]: x["http"] for x in s["metaservers"] + s["chunkservers"]}
    assert got == want, (got, want)
    followers = [m for m in s["metaservers"] if m["role"] == "follower" and m["reachable"]]
    assert followers and all(m["commit_index"] > 0 and m["applied_index"] > 0
                             for m in followers), s["metaservers"]
PY
    sleep 0.5
done
[ $ok = 1 ] || fail "status http addresses / follower figures / one schema (see above)"
cfs status >"$T/status.txt" || fail "chunkfs status"
grep -q "^HEALING" "$T/status.txt" && grep -q "^repair: " "$T/status.txt" &&
    grep -q "^rebalance: " "$T/status.txt" && grep -q "^drain: " "$T/status.txt" ||
    fail "no healing progress in chunkfs status: $(cat "$T/status.txt")"
grep -q "http://127.0.0.1:${CHUNK_HTTP[1]}" "$T/status.txt" || fail "no http column in status"
echo "status checked after ${SECONDS}s"

# The page: embedded, no external resources.
curl -fsS --max-time 30 "$FURL/" >"$T/page.html" || fail "GET /"
grep -q 'fetch("status.json"' "$T/page.html" || fail "page does not fetch status.json"
grep -Eq 'src="http|href="http' "$T/page.html" && fail "page loads external resources"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 "$LURL/nope")
[ "$code" = 404 ] || fail "unknown path gave $code"

# Log level at run time: HTTP and SIGUSR1.
[ "$(curl -fsS --max-time 30 "$LURL/log-level?level=debug")" = debug ] || fail "set debug"
[ "$(curl -fsS --max-time 30 "$LURL/log-level")" = debug ] || fail "level not kept"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 "$LURL/log-level?level=shout")
[ "$code" = 400 ] || fail "bad level gave $code"
[ "$(curl -fsS --max-time 30 "$LURL/log-level?level=info")" = info ] || fail "set info"
cport=${CHUNK_HTTP[2]}
[ "$(curl -fsS --max-time 30 "http://127.0.0.1:$cport/log-level")" = info ] || fail "chunk level"
kill -USR1 "${CHUNK_PID[2]}" || fail "SIGUSR1"
ok=0
for ((i = 0; i < 100; i++)); do
    [ "$(curl -fsS --max-time 30 "http://127.0.0.1:$cport/log-level")" = debug ] && { ok=1; break; }
    sleep 0.1
done
[ $ok = 1 ] || fail "SIGUSR1 did not switch to debug"
kill -USR1 "${CHUNK_PID[2]}" || fail "SIGUSR1"
ok=0
for ((i = 0; i < 100; i++)); do
    [ "$(curl -fsS --max-time 30 "http://127.0.0.1:$cport/log-level")" = info ] && { ok=1; break; }
    sleep 0.1
done
[ $ok = 1 ] || fail "second SIGUSR1 did not switch back to info"
echo "PASS in ${SECONDS}s"
