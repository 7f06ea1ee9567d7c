#!/usr/bin/env bash
# The postback benchmark: Ricochet's synced, group-committed conversions against raw RocksDB
# doing synced writes of the same batch shape from as many threads (bench/rocksdb_baseline.cc).
#
#   bench/postback.sh [--smoke] [--duration S] [--rounds N] [--threads N] [--connections N]
#                     [--clicks N]
#
#   --duration S      seconds per run (default 10; env DURATION)
#   --rounds N        rounds of baseline then Ricochet (default 3; env ROUNDS)
#   --threads N       Ricochet --threads (default 2; env THREADS)
#   --connections N   wrk connections and baseline threads (default 64; env CONNECTIONS)
#   --clicks N        click ids issued before the postbacks (default 20000; env CLICKS)
#   --smoke           1 round of 2 s runs over 2000 click ids: checks that everything works (CI)
#
# Ricochet runs with --pause-postbacks; the offer pays two tiers and the affiliate has a
# postback_url, so each conversion commits what the baseline writes: the conversion, its key,
# two ledger entries, two balance changes, four counter changes and one outbox entry. Every
# postback carries a new order id (bench/wrk/postback.lua), so every answer is a new conversion,
# fsynced before it is sent. Both write to the same file system (the temp dir).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

clicks=${CLICKS:-20000}
parse_bench_args "$@"
if [ "$smoke" = 1 ]; then clicks=2000; fi
check_count --clicks "$clicks"

bench_init
bench_build ricochet rocksdb_baseline

start_ricochet "$WORK/data" "$threads" --pause-postbacks
admin PUT /api/offers/demo -d '{
  "name": "Demo offer",
  "url": "https://example.com/landing?click_id={click_id}&aff={aff_id}&sub1={sub1}",
  "fallback_url": "https://example.com/",
  "currency": "USD",
  "plan": {"events": {"sale": {"cpa": "2.50", "cps_percent": "10"}}, "tiers": [{"cpa": "0.50"}]}
}' >/dev/null
admin PUT /api/affiliates/demo-parent -d '{"name": "Demo parent"}' >/dev/null
admin PUT /api/affiliates/demo-aff -d '{
  "name": "Demo affiliate",
  "parent": "demo-parent",
  "postback_url": "https://postback.affiliate-network.example/track/conversion?clickid={click_id}&payout={payout}&amount={amount}&currency={currency}&event={event}&status={status}&order={order_id}&event_id={event_id}"
}' >/dev/null

machine
echo "ricochet $RICOCHET_URL (--threads $threads, --pause-postbacks)"
echo "issuing $clicks click ids"
# wrk sleeps for its whole -d even when the script stops early: stop it once the ids are in.
wrk -t1 -c"$connections" -d120s -s "$BENCH_DIR/wrk/issue.lua" "$RICOCHET_URL" -- offer=demo \
  aff=demo-aff "out=$WORK/issued" "count=$clicks" >"$WORK/issue.out" 2>&1 &
issue_pid=$!
PIDS+=("$issue_pid")
issued=0
while kill -0 "$issue_pid" 2>/dev/null; do
  [ -f "$WORK/issued" ] && issued=$(wc -l <"$WORK/issued")
  ((issued < clicks)) || break
  sleep 0.1
done
stop_started "$issue_pid" 5
((issued >= clicks)) || { cat "$WORK/issue.out" >&2; die "issued only $issued of $clicks click ids"; }
ids="$WORK/click_ids"
head -n "$clicks" "$WORK/issued" >"$ids" # the first `count` lines were flushed whole
wait_click_queue

echo "wrk -t1 -c$connections -d${duration}s bench/wrk/postback.lua; rocksdb_baseline --threads $connections --seconds $duration; $rounds round(s)"
echo
completed=0
ratios=() base_rates=() post_rates=() p50s=() p99s=()
for ((r = 1; r <= rounds; r++)); do
  out=$("$BUILD/bench/rocksdb_baseline" --db "$WORK/baseline" --threads "$connections" \
    --seconds "$duration") || die "rocksdb_baseline failed"
  base=$(field "$(grep '^RESULT ' <<<"$out")" writes_per_s)
  [ -n "$base" ] || die "rocksdb_baseline printed no result: $out"
  printf 'round %d  rocksdb_baseline  %8s writes/s\n' "$r" "$(int "$base")"

  run_wrk "$RICOCHET_URL" postback.lua "$duration" "$connections" "ids=$ids"
  rps=$(field "$WRK_RESULT" rps)
  completed=$((completed + $(field "$WRK_RESULT" requests)))
  printf 'round %d  ricochet postbacks %7s req/s  p50 %6s ms  p99 %6s ms  ratio %s%s\n' "$r" \
    "$(int "$rps")" "$(ms "$(field "$WRK_RESULT" p50_us)")" "$(ms "$(field "$WRK_RESULT" p99_us)")" \
    "$(ratio "$rps" "$base")" "$(wrk_errors "$WRK_RESULT")"
  base_rates+=("$base") post_rates+=("$rps") ratios+=("$(ratio "$rps" "$base")")
  p50s+=("$(field "$WRK_RESULT" p50_us)") p99s+=("$(field "$WRK_RESULT" p99_us)")
done

# Every answered postback was a new conversion; a run can leave up to one per connection
# committed but not counted by wrk when it stops.
conversions=$(report_sum conversions)
slack=$((rounds * connections))
echo
echo "ricochet recorded $conversions conversions; wrk completed $completed postbacks (up to $slack more in flight at the ends of runs)"
((conversions >= completed && conversions <= completed + slack)) ||
  die "recorded conversions ($conversions) do not match the completed postbacks ($completed, +$slack)"
rejected=$(report_sum rejected)
((rejected == 0)) || die "$rejected conversions were rejected: the set-up is wrong"
pending=$(metric ricochet_outbox_pending)
echo "outgoing postbacks queued (paused): $pending"

echo
echo "== Summary: medians of $rounds round(s), ${duration}s runs, $connections connections / threads"
printf '%-32s %10s %8s %8s\n' "" "per second" "p50 ms" "p99 ms"
printf '%-32s %10s %8s %8s\n' "rocksdb_baseline (synced writes)" "$(int "$(median "${base_rates[@]}")")" - -
printf '%-32s %10s %8s %8s\n' "ricochet postbacks" "$(int "$(median "${post_rates[@]}")")" \
  "$(ms "$(median "${p50s[@]}")")" "$(ms "$(median "${p99s[@]}")")"
echo "ratio postbacks / baseline: $(median "${ratios[@]}")"
