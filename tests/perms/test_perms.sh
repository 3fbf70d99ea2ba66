#!/bin/bash
# Issue 11: permissions through the mount and the CLI for a non-root user, root_squash,
# refused names and messages with their exact errors, the per-client caps (open files for
# writing at the metaserver: EMFILE; streams at a chunkserver: EBUSY, and a real client
# still copies correctly under a tight cap). Needs root (uid switching, FUSE mounts).
set -u
: "${CHUNKFS_SRC:?}" "${CHUNKFS_BIN:?}"
if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null 2>&1; then
    echo "skipped: needs root and setpriv (acts as uid 1000)" >&2
    exit 77
fi
. "$CHUNKFS_SRC/tests/fuse/fuse_cluster.sh"
fc_require_fuse
PROBE="$CHUNKFS_BIN/security_probe"
[ -x "$PROBE" ] || { echo "skipped: security_probe not built" >&2; exit 77; }

fc_init
export CFS_META_ARGS="--max-open-per-client 3"
export CFS_CHUNK_ARGS="--max-streams-per-client 2"
fc_start_cluster 1 2

as_user() { setpriv --reuid=1000 --regid=1000 --clear-groups "$@"; }
# uid 1000 is a user of a trusted client host: it gets its own copy of the cluster secret.
USER_SECRET=""
if [ -n "${CHUNKFS_SECRET_FILE:-}" ]; then
    USER_SECRET=$FC_DIR/user-secret
    install -m 600 -o 1000 -g 1000 "$CHUNKFS_SECRET_FILE" "$USER_SECRET" || fc_fail "user secret"
fi
cli_user() {
    as_user env ${USER_SECRET:+CHUNKFS_SECRET_FILE=$USER_SECRET} \
        "$CFS_CLI_BIN" --meta "$FC_META" "$@"
}
# expect_fail WHAT TEXT CMD...: CMD exits with status 1 and says TEXT on stderr.
expect_fail() {
    local what=$1 text=$2 err st
    shift 2
    err=$("$@" 2>&1 >/dev/null)
    st=$?
    [ $st = 1 ] || fc_fail "$what: exit status $st, wanted 1 ($err)"
    grep -q "$text" <<<"$err" || fc_fail "$what: wanted '$text', got: $err"
    fc_log "ok: $what ($err)"
}

W=$FC_DIR/work
mkdir -p "$W" && chmod 777 "$W"
fc_mount "$FC_DIR/m1"
M1=$FC_DIR/m1
(umask 077 && printf 'top secret\n' >"$M1/secret") || fc_fail "create /secret"
printf 'public words\n' >"$M1/pub" && chmod 644 "$M1/pub" || fc_fail "create /pub"
mkdir -m 777 "$M1/open" || fc_fail "mkdir /open"

# --- a non-root user through the CLI (exit status 1 and the reason) and the mount
expect_fail "uid 1000 cannot cat a 0600 root file (CLI)" "Permission denied" cli_user cat /secret
[ "$(cli_user cat /pub)" = "public words" ] || fc_fail "uid 1000 cannot read a 0644 file (CLI)"
expect_fail "uid 1000 cannot read a 0600 root file (mount)" "Permission denied" \
    as_user cat "$M1/secret"
[ "$(as_user cat "$M1/pub")" = "public words" ] || fc_fail "uid 1000 reads 0644 (mount)"
as_user sh -c "echo mine > '$M1/open/user-file'" || fc_fail "uid 1000 creates in 0777"
[ "$(stat -c %u:%g "$M1/open/user-file")" = "1000:1000" ] || fc_fail "owner of user-file"

# --- root_squash: root on the mount is nobody
fc_mount "$FC_DIR/m2" "root_squash"
expect_fail "squashed root cannot read a 0600 root file" "Permission denied" \
    cat "$FC_DIR/m2/secret"
[ "$(cat "$FC_DIR/m2/pub")" = "public words" ] || fc_fail "squashed root reads 0644"
expect_fail "squashed root cannot create in the 0755 root dir" "Permission denied" \
    mkdir "$FC_DIR/m2/rootdir"
echo squashed >"$FC_DIR/m2/open/by-root" || fc_fail "squashed root creates in 0777"
[ "$(stat -c %u:%g "$FC_DIR/m2/open/by-root")" = "65534:65534" ] ||
    fc_fail "file of squashed root owned by $(stat -c %u:%g "$FC_DIR/m2/open/by-root")"

# --- names: too long through the mount and the CLI; the rest as raw requests
LONG=$(printf 'n%.0s' $(seq 256))
expect_fail "256-byte name (mount)" "File name too long" mkdir "$M1/$LONG"
expect_fail "256-byte name (CLI)" "File name too long" cfs mkdir "/$LONG"
expect_fail "'..' as a new name (mount)" "File exists" mkdir "$M1/open/.."
"$PROBE" names "$FC_META" || fc_fail "names"

# --- an oversized message is refused, the server keeps serving
"$PROBE" oversize "$FC_META" || fc_fail "oversize"

# --- per-client caps
"$PROBE" emfile "$FC_META" 3 || fc_fail "emfile"
# (as the leader would: with chunk access tokens from the servers' token secret)
CHUNKFS_TOKEN_SECRET_FILE="$TOKEN_SECRET" "$PROBE" busy "${CHUNK_ADDR[1]}" 2 || fc_fail "busy"
CHUNKFS_TOKEN_SECRET_FILE="$TOKEN_SECRET" "$PROBE" piece "${CHUNK_ADDR[1]}" || fc_fail "piece"
# A real client under the tight stream cap backs off on EBUSY and copies correctly.
head -c $((4 << 20)) /dev/urandom >"$W/big.src"
cfs put "$W/big.src" /big >/dev/null || fc_fail "put under the stream cap"
cfs get /big "$W/big.out" >/dev/null || fc_fail "get under the stream cap"
cmp "$W/big.src" "$W/big.out" || fc_fail "bytes differ under the stream cap"
cmp "$W/big.src" "$M1/big" || fc_fail "bytes differ through the mount"

fc_umount "$FC_DIR/m2"
fc_umount "$FC_DIR/m1"
fc_log "PASS"
