#!/usr/bin/env bash
# Installs every Debian 12 package Ricochet needs to build, test and benchmark.
# Idempotent and quiet when everything is already there. Run as root (or with sudo).
set -euo pipefail

BUILD_PKGS=(g++ cmake make git pkg-config ca-certificates
  libboost1.81-dev libboost-json1.81-dev
  librocksdb-dev libxxhash-dev libabsl-dev catch2 libbenchmark-dev libssl-dev
  curl)
EXTRA_PKGS=()
case "${1:-}" in
  --bench) EXTRA_PKGS=(wrk nginx) ;;
  # clang is clang-14 on Debian 12; libclang_rt.fuzzer (and FuzzedDataProvider.h) are in
  # libclang-rt-14-dev, which clang only recommends; llvm-14 has llvm-symbolizer for traces.
  --fuzz) EXTRA_PKGS=(clang libclang-rt-14-dev llvm-14) ;;
esac

missing=()
for p in "${BUILD_PKGS[@]}" "${EXTRA_PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
