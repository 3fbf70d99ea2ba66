#!/usr/bin/env bash
# `make fuzz`: builds the fuzz targets with clang + libFuzzer + ASan/UBSan in BUILD_DIR and runs
# each for SECONDS, PARALLEL at a time (niced), then prints one summary line per target.
#   run-libfuzzer.sh [BUILD_DIR] [SECONDS] [PARALLEL] [TARGET...]
# Each target grows its own corpus in BUILD_DIR/fuzz-corpus/NAME (seeded from
# tests/fuzz/corpus/NAME, which stays unchanged); a crashing input is written to
# BUILD_DIR/fuzz-artifacts/ (add it to tests/fuzz/corpus/NAME/ with the fix).
# Exit status 1 if any target crashed, leaked or timed out.
set -euo pipefail

SRC="$(cd "$(dirname "$0")/../.." && pwd)"
BUILD="${1:-build-fuzz}"
SECONDS_EACH="${2:-600}"
PARALLEL="${3:-$(nproc)}"
shift $(($# < 3 ? $# : 3))
case "$BUILD" in /*) ;; *) BUILD="$SRC/$BUILD" ;; esac

if ! command -v clang >/dev/null 2>&1; then
  echo "fuzz: clang is missing; run scripts/install-deps.sh --fuzz" >&2
  exit 2
fi
cmake -S "$SRC" -B "$BUILD" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCFS_FUZZ=ON >/dev/null
make -C "$BUILD" -j"$(nproc)" --no-print-directory >/dev/null

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for b in "$BUILD"/bin/fuzz_*; do targets+=("$(basename "$b" | sed 's/^fuzz_//')"); done
fi

mkdir -p "$BUILD/fuzz-corpus" "$BUILD/fuzz-artifacts" "$BUILD/fuzz-logs"
touch "$BUILD/fuzz-logs/.start" # artifacts newer than this are this run's
TMP_BASE="${TMPDIR:-/tmp}"
[ -d /dev/shm ] && [ -w /dev/shm ] && TMP_BASE=/dev/shm # fsync-heavy targets: memory
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT INT TERM

run_one() {
  local name="$1" work="$BUILD/fuzz-corpus/$1" log="$BUILD/fuzz-logs/$1.log"
  mkdir -p "$work"
  TMPDIR="$TMP_BASE" nice -n 10 "$BUILD/bin/fuzz_$name" -max_total_time="$SECONDS_EACH" \
    -print_final_stats=1 -max_len=65536 -timeout=30 -rss_limit_mb=2048 \
    -artifact_prefix="$BUILD/fuzz-artifacts/$name-" "$work" "$SRC/tests/fuzz/corpus/$name" \
    >"$log" 2>&1 || true
}

for name in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$PARALLEL" ]; do wait -n || true; done
  echo "fuzz: running fuzz_$name for ${SECONDS_EACH}s (log $BUILD/fuzz-logs/$name.log)"
  run_one "$name" &
  pids+=($!)
done
wait || true
pids=()

failed=0
for name in "${targets[@]}"; do
  log="$BUILD/fuzz-logs/$name.log"
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  secs=$(sed -n 's/.*Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -1 || true)
  # slow-unit-* files are only slow (a loaded machine), not failures.
  crashes=$(find "$BUILD/fuzz-artifacts" -name "$name-*" ! -name "$name-slow-unit-*" \
    -newer "$BUILD/fuzz-logs/.start" -type f 2>/dev/null | wc -l)
  if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|invariant broken' \
    "$log"; then
    crashes=$((crashes > 0 ? crashes : 1))
  fi
  [ "$crashes" -gt 0 ] && failed=1
  printf 'fuzz_%-14s runs %-10s %-34s crashes %s  (%ss)\n' "$name" "${runs:-?}" "${cov:-cov: ?}" \
    "$crashes" "${secs:-$SECONDS_EACH}"
done
exit $failed
