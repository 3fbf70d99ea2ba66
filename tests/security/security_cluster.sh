#!/bin/bash
# Mutual TLS and cluster authentication on a real 3 metaserver + 2 chunkserver cluster
# (certificates from scripts/make-certs.sh): put/get byte-equal over TLS (Raft, heartbeats,
# chunk chains included); a client without the secret, or with a wrong one, is refused with
# the exact message and exit status 1; a badly protected secret file is refused before any
# call; a client without a certificate is refused by the TLS handshake; chunkservers without
# the secret or of another cluster id never register.
set -u
source "$CHUNKFS_SRC/tests/lib/cluster.sh"
cluster_setup
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
command -v openssl >/dev/null || { echo "SKIP: openssl not installed"; exit 77; }

CERTS=$CLUSTER_DIR/certs
bash "$CHUNKFS_SRC/scripts/make-certs.sh" "$CERTS" >/dev/null || fail "make-certs.sh"
export CFS_SECURITY_ARGS="--tls-ca $CERTS/ca.crt --tls-cert $CERTS/server.crt
    --tls-key $CERTS/server.key --tls-client-auth require"
export CHUNKFS_TLS_CA=$CERTS/ca.crt CHUNKFS_TLS_CERT=$CERTS/client.crt
export CHUNKFS_TLS_KEY=$CERTS/client.key

start_cluster -m 3 -c 2 -s 1M -g 2 || fail "cluster start"
wait_healthy 60 || fail "cluster not healthy"
[ -n "$CLUSTER_SECRET" ] || fail "cluster.sh made no secret"
grep -q "TLS on with client certificates required" "$CLUSTER_DIR/log/meta1.log" ||
    fail "metaserver 1 does not report TLS"

# An authenticated client: bytes equal.
head -c 2500000 /dev/urandom >"$CLUSTER_DIR/in.bin"
cfs put "$CLUSTER_DIR/in.bin" /in.bin || fail "put"
cfs get /in.bin "$CLUSTER_DIR/out.bin" || fail "get"
cmp "$CLUSTER_DIR/in.bin" "$CLUSTER_DIR/out.bin" || fail "bytes differ"

# expect_refused LABEL WANT_REGEX CLI-ARGS...: exit status 1 and the message on stderr.
expect_refused() {
    local label=$1 want=$2 rc
    shift 2
    CHUNKFS_TIMEOUT_MS=${CHUNKFS_TIMEOUT_MS:-10000} "$CFS_CLI_BIN" "$@" >"$CLUSTER_DIR/out.txt" 2>"$CLUSTER_DIR/err.txt"
    rc=$?
    [ $rc = 1 ] || fail "$label: exit status $rc, want 1 ($(cat "$CLUSTER_DIR/err.txt"))"
    grep -qE -- "$want" "$CLUSTER_DIR/err.txt" ||
        fail "$label: stderr lacks '$want': $(cat "$CLUSTER_DIR/err.txt")"
}
# wait_log TEXT FILE...: polls (up to 30 s) until one of the files has a line with TEXT.
wait_log() {
    local text=$1 i
    shift
    for ((i = 0; i < 300; i++)); do
        grep -qF -- "$text" "$@" 2>/dev/null && return 0
        sleep 0.1
    done
    fail "no line with '$text' in $* after 30 s"
}
AUTH_MSG="chunkfs: put: /refused.bin: Authentication failed: no or wrong cluster secret"

# No secret at all.
(unset CHUNKFS_SECRET_FILE && expect_refused "no secret" "$AUTH_MSG" put "$CLUSTER_DIR/in.bin" /refused.bin) ||
    exit 1
# A wrong secret (well protected, right length).
(umask 077 && echo "not-the-cluster-secret-at-all" >"$CLUSTER_DIR/wrong")
expect_refused "wrong secret" "$AUTH_MSG" --secret-file "$CLUSTER_DIR/wrong" put "$CLUSTER_DIR/in.bin" /refused.bin
(CHUNKFS_SECRET_FILE="$CLUSTER_DIR/wrong" && export CHUNKFS_SECRET_FILE &&
    expect_refused "wrong secret (env)" "$AUTH_MSG" put "$CLUSTER_DIR/in.bin" /refused.bin) || exit 1
# A secret file readable by others is refused before any call.
cp "$CLUSTER_SECRET" "$CLUSTER_DIR/open" && chmod 644 "$CLUSTER_DIR/open"
expect_refused "open secret" "permissions 0644 are too open" --secret-file "$CLUSTER_DIR/open" ls /
expect_refused "missing secret" "does not exist" --secret-file "$CLUSTER_DIR/nope" ls /
# The refusals were logged by the metaserver, and nothing was created.
wait_log "authentication failed: /chunkfs.MetaService/Call from" "$CLUSTER_DIR"/log/meta*.log
cfs stat /refused.bin >/dev/null 2>&1 && fail "a refused client created a file"

UNREACHABLE="chunkfs: [a-z]+: [^:]+: (Connection timed out|Transport endpoint is not connected)"
# Mutual TLS: a client with the secret and the CA but no certificate fails the handshake (the
# servers look unreachable to it: its calls time out) and the server logs why.
(unset CHUNKFS_TLS_CERT CHUNKFS_TLS_KEY && CHUNKFS_TIMEOUT_MS=1500 &&
    expect_refused "no client certificate" "$UNREACHABLE" put "$CLUSTER_DIR/in.bin" /refused.bin) ||
    exit 1
wait_log "peer did not return a certificate" "$CLUSTER_DIR"/log/meta*.log
# A plaintext client is refused too.
(unset CHUNKFS_TLS_CA CHUNKFS_TLS_CERT CHUNKFS_TLS_KEY && CHUNKFS_TIMEOUT_MS=1500 &&
    expect_refused "plaintext client" "$UNREACHABLE" ls /) || exit 1
cfs stat /refused.bin >/dev/null 2>&1 && fail "a refused client created a file"

# Chunkservers: one without the secret, one of another cluster. Neither registers.
start_rogue() { # NAME ARGS...
    local name=$1
    shift
    "$CFS_CHUNK_BIN" --listen 127.0.0.1:0 --meta "$CHUNKFS_META" --data-dir "$CLUSTER_DIR/$name" \
        --domain "$name" --heartbeat-ms 200 "$@" ${CFS_SECURITY_ARGS:-} \
        >>"$CLUSTER_DIR/log/$name.log" 2>&1 &
    EXTRA_PIDS+=("$!")
}
start_rogue nosecret --cluster-id "$CLUSTER_ID"
start_rogue othercluster --cluster-id "other-$CLUSTER_ID" --secret-file "$CLUSTER_SECRET"
wait_log "registration refused by the metaservers: Authentication failed: no or wrong cluster secret" \
    "$CLUSTER_DIR/log/nosecret.log"
wait_log "registration refused: Wrong cluster id" "$CLUSTER_DIR/log/othercluster.log"
n=$(cfs status --json | grep -o '"state": "alive"' | wc -l)
[ "$n" = 2 ] || fail "want 2 live chunkservers, got $n: $(cfs status)"
echo "PASS"
