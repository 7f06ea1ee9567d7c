#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ with clang (ASan+UBSan, build/fuzz) and runs each for a
# bounded time on a scratch copy of its seed corpus, so the repository stays clean. Fails on any
# crash, sanitizer report, leak, timeout or broken invariant, keeping the input that did it in
# build/fuzz/artifacts/. Installs clang and its fuzzer runtime if they are missing.
#   tools/fuzz.sh                        every target, 15 s each
#   tools/fuzz.sh --seconds 300 url      one target (fuzz/<name>_fuzzer.cc), 5 minutes
#   FUZZ_SECONDS=60 tools/fuzz.sh        the same as --seconds 60
# docs/reliability.md ("Fuzzing") shows how to reproduce a crash.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-15}"
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="${2:?--seconds needs a value}"; shift 2 ;;
    --seconds=*) seconds="${1#*=}"; shift ;;
    -h | --help) sed -n '2,9p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
  echo "fuzz.sh: --seconds wants a positive whole number, not '$seconds'" >&2
  exit 2
fi
if [ ${#targets[@]} -eq 0 ]; then
  for f in fuzz/*_fuzzer.cc; do
    f="${f#fuzz/}"
    targets+=("${f%_fuzzer.cc}")
  done
fi

bash tools/setup.sh --fuzz  # the build packages, clang and the libFuzzer runtime

build=build/fuzz
echo "== Fuzz build (clang, ASan+UBSan, libFuzzer)"
CC=clang CXX=clang++ cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRICOCHET_FUZZ=ON \
  -DRICOCHET_BUILD_TESTS=OFF -DRICOCHET_BUILD_BENCH=OFF >/dev/null
# Only the fuzz targets and the sources they need; other builds share the machine.
flock /tmp/ricochet-build.lock cmake --build "$build" -j"${JOBS:-2}" --target fuzzers

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
artifacts="$build/artifacts"
mkdir -p "$artifacts" "$build/logs"
export ASAN_OPTIONS="detect_leaks=1:strict_string_checks=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
failed=()
echo "== Fuzzing, ${seconds} s per target"
for t in "${targets[@]}"; do
  bin="$build/fuzz/${t}_fuzzer"
  corpus="fuzz/corpus/$t"
  if [ ! -x "$bin" ] || [ ! -d "$corpus" ]; then
    echo "fuzz: no target '$t' (want $bin and $corpus/)" >&2
    failed+=("$t")
    continue
  fi
  cp -R "$corpus" "$scratch/$t"
  extra=()
  # Room for a head past the server's 8 KiB header limit.
  [ "$t" = http_request ] && extra=(-max_len=12288)
  log="$build/logs/$t.log"
  if "$bin" "$scratch/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$artifacts/$t-" "${extra[@]}" >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    echo "fuzz: $t ok: ${runs:-?} runs, ${rate:-?}/s, corpus $(ls "$scratch/$t" | wc -l) inputs"
  else
    echo "fuzz: $t FAILED (full log: $log)" >&2
    tail -n 60 "$log" >&2
    failed+=("$t")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: failures in ${failed[*]}; crashing inputs in $artifacts/" >&2
  echo "fuzz: reproduce with $build/fuzz/<target>_fuzzer $artifacts/<file>" >&2
  exit 1
fi
