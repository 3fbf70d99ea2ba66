#!/usr/bin/env bash
# Installs the Debian 12 packages chunkfs needs to build, test and run the demo.
# Idempotent: when every package is present it does nothing (no network access).
# With --bench it also installs MooseFS for bench/run.sh; with --fuzz, clang and its libFuzzer
# runtime for `make fuzz` (`make test` needs neither).
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config git
  libgrpc-dev protobuf-c-compiler libprotobuf-c-dev
  libfuse3-dev fuse3
  zlib1g-dev libssl-dev check libinih-dev libmicrohttpd-dev
  openssl python3 iproute2 procps util-linux curl chromium
)
# --bench: also MooseFS, the peer `make bench` compares against (never in the default set).
if [ "${1:-}" = "--bench" ]; then
  PKGS+=(moosefs-master moosefs-chunkserver moosefs-client moosefs-cli)
elif [ "${1:-}" = "--fuzz" ]; then
  PKGS+=(clang libclang-rt-14-dev)
elif [ $# -gt 0 ]; then
  echo "usage: $0 [--bench|--fuzz]" >&2
  exit 2
fi

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    echo "install-deps: missing packages (${missing[*]}) and not root; install them or run as root" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
