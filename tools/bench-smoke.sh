#!/usr/bin/env bash
# Runs every Google Benchmark binary of a build briefly, so benchmarks keep compiling and
# running. Speed is not judged here; see docs/performance.md for real runs.
set -euo pipefail
build="${1:-build/release}"
found=0
for b in "$build"/bench/*_bench; do
  [ -x "$b" ] || continue
  found=1
  echo "-- $(basename "$b")"
  log=$(mktemp)
  if ! "$b" --benchmark_min_time=0.01 >"$log" 2>&1; then cat "$log" >&2; rm -f "$log"; exit 1; fi
  rm -f "$log"
done
[ "$found" = 1 ] || { echo "no benchmarks found under $build/bench" >&2; exit 1; }
echo "benchmark smoke run ok"
