#!/bin/bash
# Every chunkfs CLI command against a real 3+3 cluster: results, error messages, exit codes.
set -u
source "$CHUNKFS_SRC/tests/lib/cluster.sh"
cluster_setup
start_cluster -s 1M -g 3 || exit 1
wait_healthy 60 || exit 1
W=$CLUSTER_DIR/work
mkdir -p "$W"
export CHUNKFS_TIMEOUT_MS=20000

fail() { echo "FAIL: $*" >&2; exit 1; }
# expect CODE CMD... : runs cfs, checks the exit status, keeps stdout/stderr in $OUT/$ERR.
expect() {
    local want=$1
    shift
    cfs "$@" >"$W/out" 2>"$W/err"
    local got=$?
    OUT=$(cat "$W/out")
    ERR=$(cat "$W/err")
    [ "$got" = "$want" ] || fail "chunkfs $* exited $got, want $want (stderr: $ERR)"
}
expect_err() { # expect_err CODE MESSAGE CMD...
    local msg=$2 code=$1
    shift 2
    expect "$code" "$@"
    [ "$ERR" = "$msg" ] || fail "chunkfs $*: stderr '$ERR', want '$msg'"
}

# --- usage and help
expect 2
expect 2 nosuchcommand
expect 0 --help
grep -q "put" <<<"$OUT" || fail "--help lists no commands"
for c in put get cat cp ls stat mkdir rm mv ln chmod chown setrep fileinfo df status fsck; do
    expect 0 "$c" --help
    grep -q "^usage: chunkfs $c" <<<"$OUT" || fail "$c --help: $OUT"
done
expect 2 put onlyone
expect 2 ls --bogus
expect 2 chmod u+x /x
expect 2 setrep zero /

# --- cluster lookup: --meta, CHUNKFS_META, config file
expect 0 --meta "$CHUNKFS_META" status
mkdir -p "$W/home/.config/chunkfs"
echo "meta = $CHUNKFS_META  # the test cluster" >"$W/home/.config/chunkfs/client.conf"
env -u CHUNKFS_META HOME="$W/home" "$CFS_CLI_BIN" ls / >/dev/null || fail "config file not used"
env -u CHUNKFS_META HOME="$W/nohome" "$CFS_CLI_BIN" ls / 2>/dev/null
[ $? = 1 ] || fail "no cluster configured must exit 1"

# --- status / df / fsck
expect 0 status
grep -q "leader" <<<"$OUT" || fail "status shows no leader"
expect 0 status --json
[ "$(grep -o '"role": "leader"' <<<"$OUT" | wc -l)" = 1 ] || fail "status --json: $OUT"
[ "$(grep -o '"state": "alive"' <<<"$OUT" | wc -l)" = 3 ] || fail "status --json chunkservers"
grep -q '"commit_index": ' <<<"$OUT" || fail "status --json lacks commit_index"
expect 0 df
grep -q "^total" <<<"$OUT" || fail "df: $OUT"
expect 0 df -h --json
grep -q '"capacity": ' <<<"$OUT" || fail "df --json: $OUT"
expect 0 fsck
grep -q "HEALTHY" <<<"$OUT" || fail "fsck: $OUT"
expect 0 fsck --json
grep -q '"missing": 0' <<<"$OUT" || fail "fsck --json: $OUT"

# --- mkdir
expect 0 mkdir /d1
expect_err 1 "chunkfs: mkdir: /d1: File exists" mkdir /d1
expect_err 1 "chunkfs: mkdir: /no/such: No such file or directory" mkdir /no/such
expect 0 mkdir -p /d1/a/b/c
expect 0 mkdir -p /d1/a/b/c
expect 0 mkdir -m 700 /d1/private
expect 0 stat --json /d1/private
grep -q '"mode": "0700"' <<<"$OUT" || fail "mkdir -m: $OUT"

# --- put / get / cat
head -c 3500000 /dev/urandom >"$W/f1"
printf 'hello chunkfs\n' >"$W/small"
expect 0 put "$W/f1" /d1/f1
expect_err 1 "chunkfs: put: /d1/f1: File exists" put "$W/f1" /d1/f1
expect 0 put -f "$W/f1" /d1/f1
expect 0 put "$W/small" "$W/f1" /d1/a
expect 0 ls /d1/a
[ "$(echo $OUT)" = "b f1 small" ] || fail "put into dir: $OUT"
expect_err 1 "chunkfs: put: $W/missing: No such file or directory" put "$W/missing" /d1/
expect_err 1 "chunkfs: put: /d1/f1: Not a directory" put "$W/small" "$W/f1" /d1/f1
expect 0 cat /d1/a/small
[ "$OUT" = "hello chunkfs" ] || fail "cat: $OUT"
printf 'from stdin\n' | cfs put - /d1/stdin.txt || fail "put - failed"
expect 0 cat /d1/stdin.txt
[ "$OUT" = "from stdin" ] || fail "put -: $OUT"
expect 0 get /d1/f1 "$W/f1.back"
cmp "$W/f1" "$W/f1.back" || fail "get: bytes differ"
expect_err 1 "chunkfs: get: $W/f1.back: File exists" get /d1/f1 "$W/f1.back"
expect 0 get -f /d1/f1 "$W/f1.back"
expect_err 1 "chunkfs: get: /d1/nope: No such file or directory" get /d1/nope "$W/x"
expect_err 1 "chunkfs: cat: /d1: Is a directory" cat /d1
# put -r / get -r of a tree
mkdir -p "$W/tree/sub/deeper"
echo one >"$W/tree/one"; echo two >"$W/tree/sub/two"; head -c 1200000 /dev/urandom >"$W/tree/sub/deeper/bin"
expect 1 put "$W/tree" /d1/
grep -q "Is a directory" <<<"$ERR" || fail "put of a dir without -r: $ERR"
expect 0 put -r "$W/tree" /d1/
expect 0 get -r /d1/tree "$W/tree.back"
diff -r "$W/tree" "$W/tree.back" || fail "get -r tree differs"
# the recorded checksum is checked by get
expect 0 stat --json /d1/f1
grep -q '"size": 3500000' <<<"$OUT" || fail "stat size: $OUT"

# --- ls
expect 0 ls /d1
grep -qx "f1" <<<"$OUT" || fail "ls: $OUT"
expect 0 ls -l /d1
grep -q "^-rw.* 3500000 .* f1$" <<<"$OUT" || fail "ls -l: $OUT"
expect 0 ls -lh /d1
grep -q " 3.3M .* f1$" <<<"$OUT" || fail "ls -lh: $OUT"
expect 0 ls -R /d1/tree
grep -q "^/d1/tree/sub/deeper:" <<<"$OUT" || fail "ls -R: $OUT"
expect 0 ls -l --json /d1
grep -q '"name": "f1", "type": "file"' <<<"$OUT" || fail "ls --json: $OUT"
expect_err 1 "chunkfs: ls: /nope: No such file or directory" ls /nope

# --- stat
expect 0 stat /d1/f1
grep -q "Size: 3500000" <<<"$OUT" || fail "stat: $OUT"
expect_err 1 "chunkfs: stat: /zz: No such file or directory" stat /zz

# --- cp inside the cluster
expect 0 cp /d1/f1 /d1/f1.copy
expect 0 get /d1/f1.copy "$W/f1.copy"
cmp "$W/f1" "$W/f1.copy" || fail "cp: bytes differ"
expect_err 1 "chunkfs: cp: /d1/f1.copy: File exists" cp /d1/f1 /d1/f1.copy
expect_err 1 "chunkfs: cp: /d1: Is a directory" cp /d1 /d2

# --- mv
expect 0 mv /d1/f1.copy /d1/moved
expect_err 1 "chunkfs: mv: /d1/f1.copy: No such file or directory" mv /d1/f1.copy /d1/x
expect 0 mv /d1/moved /d1/a
expect 0 stat /d1/a/moved

# --- ln
expect 0 ln -s /d1/f1 /d1/link
expect 0 ls -l /d1
grep -q "link -> /d1/f1" <<<"$OUT" || fail "ln -s: $OUT"
cfs cat /d1/link >"$W/via-link" || fail "cat through a symlink"
cmp "$W/f1" "$W/via-link" || fail "cat through a symlink: bytes differ"
expect 0 ln /d1/f1 /d1/hard
expect 0 stat --json /d1/f1
grep -q '"nlink": 2' <<<"$OUT" || fail "hard link count: $OUT"
expect_err 1 "chunkfs: ln: /d1/hard: File exists" ln /d1/f1 /d1/hard

# --- chmod / chown
expect 0 chmod 640 /d1/f1
expect 0 stat --json /d1/f1
grep -q '"mode": "0640"' <<<"$OUT" || fail "chmod: $OUT"
expect 0 chmod -R 750 /d1/tree
expect 0 stat --json /d1/tree/sub/two
grep -q '"mode": "0750"' <<<"$OUT" || fail "chmod -R: $OUT"
expect 0 chown 1234:4321 /d1/f1
expect 0 stat --json /d1/f1
grep -q '"uid": 1234, "gid": 4321' <<<"$OUT" || fail "chown: $OUT"
expect_err 1 "chunkfs: chmod: /nope: No such file or directory" chmod 600 /nope

# --- setrep / fileinfo
expect 0 setrep 2 /d1/f1
expect 0 stat --json /d1/f1
grep -q '"goal": 2' <<<"$OUT" || fail "setrep: $OUT"
expect 0 setrep -R 2 /d1/tree
expect 0 fileinfo /d1/f1
grep -q "4 chunks" <<<"$OUT" || fail "fileinfo: $OUT"
expect 0 fileinfo --json /d1/f1
[ "$(grep -o '"id": ' <<<"$OUT" | wc -l)" = 4 ] || fail "fileinfo --json chunks: $OUT"
grep -q '"replicas": \["127.0.0.1:' <<<"$OUT" || fail "fileinfo --json replicas: $OUT"
expect_err 1 "chunkfs: fileinfo: /d1: Is a directory" fileinfo /d1

# --- rm
expect_err 1 "chunkfs: rm: /d1/tree: Is a directory" rm /d1/tree
expect 0 rm /d1/hard
expect 0 rm -r /d1/tree
expect_err 1 "chunkfs: rm: /d1/tree: No such file or directory" rm /d1/tree
expect 0 rm -f /d1/tree
expect 0 rm -r /d1
expect 0 ls /
[ -z "$OUT" ] || fail "root not empty after rm -r: $OUT"
echo "PASS"
