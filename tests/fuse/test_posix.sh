# POSIX behaviour suite through a real mount (1 metaserver, 2 chunkservers, 1 MiB chunks).
# The 10,000-entry readdir check runs in test_readdir.sh.
. "$(dirname "$0")/fuse_cluster.sh"
fc_require_fuse
fc_init
fc_start_cluster 1 2
fc_mount "$FC_DIR/mnt"
"$CHUNKFS_BIN/posix_suite" -s names,rename,links,symlinks,io,truncate,sparse,big,mmap,xattr,times,attrs,misc,perms,locks,dircache \
    "$FC_DIR/mnt" || fc_fail "posix_suite found failures"
# Another client's changes (the CLI) reach the mount within the entry timeout (1 s), also
# where the mount's directory cache holds the listing (a listing and two lookups fill it).
mkdir "$FC_DIR/mnt/cli" || fc_fail "mkdir cli"
ls "$FC_DIR/mnt/cli" >/dev/null || fc_fail "ls cli"
for n in a b; do
    stat "$FC_DIR/mnt/cli/$n" >/dev/null 2>&1 && fc_fail "cli/$n exists before it was made"
done
cfs mkdir /cli/a || fc_fail "cfs mkdir"
fc_wait_until 10 stat "$FC_DIR/mnt/cli/a" || fc_fail "CLI mkdir not visible through the mount"
[ "$(ls "$FC_DIR/mnt/cli")" = a ] || fc_fail "listing after CLI mkdir: $(ls "$FC_DIR/mnt/cli")"
cfs rm -r /cli/a || fc_fail "cfs rm"
fc_wait_until 10 test ! -e "$FC_DIR/mnt/cli/a" || fc_fail "CLI rm not visible through the mount"
rmdir "$FC_DIR/mnt/cli" || fc_fail "rmdir cli after the CLI emptied it"
fc_umount "$FC_DIR/mnt"
fc_log "PASS"
