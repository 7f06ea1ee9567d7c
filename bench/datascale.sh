#!/usr/bin/env bash
# The data-scale benchmark: the keep-alive click run of bench/load.sh on an empty database,
# then on one preloaded with N clicks (bench/click_loader.cc), with the ratio and the server's
# peak RSS.
#
#   bench/datascale.sh [--smoke] [--clicks N] [--duration S] [--rounds N] [--threads N]
#                      [--connections N]
#
#   --clicks N        clicks to preload (default 50000000; env CLICKS)
#   --duration S      seconds per wrk run (default 10; env DURATION)
#   --rounds N        wrk runs on each database; the median counts (default 3; env ROUNDS)
#   --threads N       Ricochet --threads (default 2; env THREADS)
#   --connections N   wrk connections (default 64; env CONNECTIONS)
#   --smoke           200000 clicks, 1 run of 2 s each: checks that everything works (CI)
#   env DATA_ROOT     where the data directories go (default $TMPDIR or /tmp); it needs about
#                     400 bytes per click free (20 GB for 50M), which is checked first
#
# After the preload, Ricochet starts on the loaded directory and the runs wait until RocksDB
# has no compaction left to do, so they measure a settled database, not the loader's backlog.
# Peak RSS is VmHWM of /proc/PID/status after the runs.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

clicks=${CLICKS:-50000000}
parse_bench_args "$@"
if [ "$smoke" = 1 ]; then clicks=200000; fi
check_count --clicks "$clicks"

data_root=${DATA_ROOT:-${TMPDIR:-/tmp}}
[ -d "$data_root" ] || die "DATA_ROOT $data_root is not a directory"
# About 400 bytes per click: ~250 B of click row and ~100 B of dedupe, visitor and counter
# entries before compression, plus the WAL and compaction's temporary copies.
need_gb=$(((clicks * 400 + 999999999) / 1000000000))
((need_gb >= 1)) || need_gb=1
free_gb=$(df -Pk "$data_root" | awk 'NR == 2 { printf "%d", $4 / 1000000 }')
if ((free_gb < need_gb)); then
  die "only $free_gb GB free in $data_root; $clicks clicks need about $need_gb GB. Free some space, point DATA_ROOT at a bigger disk, or lower --clicks."
fi

bench_init
bench_build ricochet click_loader

empty_dir=$(mktemp -d "$data_root/ricochet-datascale-empty.XXXXXX")
loaded_dir=$(mktemp -d "$data_root/ricochet-datascale-loaded.XXXXXX")
CLEANUP_DIRS+=("$empty_dir" "$loaded_dir")

machine
echo "$free_gb GB free in $data_root; wrk -t1 -c$connections -d${duration}s, $rounds run(s) per database, --threads $threads"

# runs LABEL: `rounds` keep-alive click runs against the running server; sets MEDIAN_RPS,
# MEDIAN_P99, RSS_MIB (after the click queue drained) and DROPPED.
runs() {
  local label=$1 r rates=() p99s=() requests=0 before
  if [ "$smoke" = 0 ]; then # warm-up, not counted
    run_wrk "$RICOCHET_URL" click.lua 2 "$connections" offer=demo aff=demo-aff
    wait_click_queue
  fi
  before=$(report_sum clicks)
  for ((r = 1; r <= rounds; r++)); do
    run_wrk "$RICOCHET_URL" click.lua "$duration" "$connections" offer=demo aff=demo-aff
    rates+=("$(field "$WRK_RESULT" rps)") p99s+=("$(field "$WRK_RESULT" p99_us)")
    requests=$((requests + $(field "$WRK_RESULT" requests)))
    printf '%-7s run %d  %9s req/s  p50 %6s ms  p99 %6s ms%s\n' "$label" "$r" \
      "$(int "${rates[-1]}")" "$(ms "$(field "$WRK_RESULT" p50_us)")" "$(ms "${p99s[-1]}")" \
      "$(wrk_errors "$WRK_RESULT")"
  done
  wait_click_queue
  MEDIAN_RPS=$(median "${rates[@]}")
  MEDIAN_P99=$(median "${p99s[@]}")
  RSS_MIB=$(peak_rss_mib "$RICOCHET_PID")
  local recorded dropped slack=$((rounds * connections))
  recorded=$(($(report_sum clicks) - before))
  dropped=$(metric ricochet_clicks_dropped_total)
  DROPPED=$dropped
  echo "$label: recorded $recorded clicks, dropped $dropped; wrk completed $requests (up to" \
    "$slack more in flight at the ends of runs); click queue drained ${QUEUE_WAIT_S}s after" \
    "the last run; peak RSS $RSS_MIB MiB"
  ((recorded + dropped >= requests && recorded + dropped <= requests + slack)) ||
    die "$label: recorded clicks ($recorded) + dropped ($dropped) do not match the completed requests ($requests, +$slack)"
}

echo
echo "== Empty database"
start_ricochet "$empty_dir" "$threads"
create_demo_offer
runs empty
empty_rps=$MEDIAN_RPS empty_p99=$MEDIAN_P99 empty_rss=$RSS_MIB empty_dropped=$DROPPED
stop_ricochet
rm -rf "$empty_dir"

echo
echo "== Preloading $clicks clicks (bench/click_loader.cc)"
# The server creates the database (and its click secret) and the demo offer first.
start_ricochet "$loaded_dir" "$threads"
create_demo_offer
stop_ricochet
out=$("$BUILD/bench/click_loader" --data "$loaded_dir" --clicks "$clicks" --offer demo \
  --affiliate demo-aff 2>"$WORK/click_loader.log") || { cat "$WORK/click_loader.log" >&2; die "click_loader failed"; }
load=$(grep '^RESULT ' <<<"$out")
echo "loaded $(field "$load" clicks) clicks in $(field "$load" seconds) s: $(int "$(field "$load" clicks_per_s)") clicks/s;" \
  "$(du -sh "$loaded_dir" | cut -f1) on disk"

echo
echo "== Preloaded database"
start_ricochet "$loaded_dir" "$threads"
settle_start=$SECONDS
while :; do
  pending=$(metric ricochet_rocksdb_pending_compaction_bytes)
  [ "$pending" = 0 ] && break
  ((SECONDS - settle_start < 3600)) || die "compaction did not settle within an hour"
  sleep 2
done
echo "compactions settled after $((SECONDS - settle_start)) s; the server estimates $(metric ricochet_rocksdb_estimated_clicks) stored clicks"
runs loaded
loaded_rps=$MEDIAN_RPS loaded_p99=$MEDIAN_P99 loaded_rss=$RSS_MIB loaded_dropped=$DROPPED
stop_ricochet

echo
echo "== Summary: medians of $rounds run(s), ${duration}s keep-alive, $connections connections, --threads $threads"
printf '%-28s %9s %8s %13s %14s\n' "" "req/s" "p99 ms" "peak RSS MiB" "clicks dropped"
printf '%-28s %9s %8s %13s %14s\n' "empty database" "$(int "$empty_rps")" "$(ms "$empty_p99")" \
  "$empty_rss" "$empty_dropped"
printf '%-28s %9s %8s %13s %14s\n' "$clicks clicks preloaded" "$(int "$loaded_rps")" \
  "$(ms "$loaded_p99")" "$loaded_rss" "$loaded_dropped"
echo "ratio preloaded / empty: $(ratio "$loaded_rps" "$empty_rps")"
echo "loader: $(int "$(field "$load" clicks_per_s)") clicks/s"
