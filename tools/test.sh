#!/usr/bin/env bash
# Builds and runs every test: a Release build and an ASan+UBSan build, each with the whole
# Catch2 suite (unit + integration against the real server on 127.0.0.1), then a short smoke run
# of every benchmark (Google Benchmarks and bench/*.sh against nginx and RocksDB) so they cannot
# rot, then a short run of every fuzz target (tools/fuzz.sh). Installs missing Debian packages
# first.
#   tools/test.sh            everything
#   tools/test.sh --quick    Release build and tests only
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
[ "${1:-}" = "--quick" ] && quick=1

bash tools/setup.sh
jobs="${JOBS:-2}"
# As root the disk-full tests can mount their tmpfs: there a skip would hide a broken test.
if [ "$(id -u)" -eq 0 ]; then export RICOCHET_REQUIRE_DISKFULL=1; fi

echo "== Release build"
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j"$jobs"
echo "== Release tests"
(cd build/release && ctest --output-on-failure --timeout 900)

echo "== Benchmark smoke run"
bash tools/bench-smoke.sh build/release
# The load benchmarks (docs/performance.md) in smoke mode: a few seconds each, speed not judged;
# they fail only when a script, a server or a check of recorded clicks breaks.
bash tools/setup.sh --bench
echo "== Load benchmark smoke runs"
bash bench/load.sh --smoke
bash bench/postback.sh --smoke
bash bench/datascale.sh --smoke

if [ "$quick" = 1 ]; then exit 0; fi

echo "== ASan+UBSan build"
cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRICOCHET_SANITIZE=ON \
  -DRICOCHET_BUILD_BENCH=OFF >/dev/null
cmake --build build/asan -j"$jobs"
echo "== ASan+UBSan tests"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
(cd build/asan && ctest --output-on-failure --timeout 1800)

# libFuzzer targets of every parser (docs/reliability.md): a clang build, 15 s per target.
echo "== Fuzzing"
bash tools/fuzz.sh
