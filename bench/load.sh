#!/usr/bin/env bash
# The click load benchmark: Ricochet against nginx's bare `return 302`, same requests,
# alternating, several rounds (docs/performance.md explains the method).
#
#   bench/load.sh [--smoke] [--duration S] [--rounds N] [--threads N] [--connections N]
#                 [--client-priority MODE]
#
#   --duration S      seconds per wrk or paced_load run (default 10; env DURATION)
#   --rounds N        rounds; each runs every test on both servers (default 3; env ROUNDS)
#   --threads N       Ricochet --threads and nginx worker_processes (default 2; env THREADS)
#   --connections N   wrk and paced_load connections (default 64; env CONNECTIONS)
#   --client-priority MODE
#                     paced_load's priority: realtime (SCHED_FIFO 1, as a client on another
#                     machine: never kept off its core by the server's threads) or normal
#                     (default realtime; env CLIENT_PRIORITY)
#   --smoke           1 round of 2 s runs, no warm-up: checks that everything works (CI)
#
# Builds Release, installs nginx and wrk if missing (tools/setup.sh --bench), starts both
# servers on free ports of 127.0.0.1 with everything in a temp dir, then per round:
#   keep-alive  wrk -t1 -cC -dS, bench/wrk/click.lua (varied sub1 and X-Forwarded-For)
#   close       the same with "Connection: close": a new connection per request
# then, paced at half of Ricochet's median keep-alive rate, the same clicks on both servers from
# bench/paced_load (a fixed-rate client, as wrk2) for p50 and p99 at that rate. Ends by checking
# that Ricochet recorded every click the clients saw answered, and a summary table.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

client_priority=${CLIENT_PRIORITY:-realtime}
refused_runs=0 # paced runs whose client was refused real-time priority
parse_bench_args "$@"
case $client_priority in
  normal | realtime) ;;
  *) die "--client-priority: expected normal or realtime, not '$client_priority'" ;;
esac

bench_init
bench_build ricochet paced_load

start_ricochet "$WORK/data" "$threads"
create_demo_offer

# One click by hand: its Location and cookies are what nginx will answer with.
user_agent="Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
curl -fsS -o /dev/null -D "$WORK/sample.headers" -A "$user_agent" -H 'X-Forwarded-For: 192.0.2.1' \
  "$RICOCHET_URL/c/demo?aff=demo-aff&sub1=s1000" || die "the sample click failed"
location=$(awk 'tolower($1) == "location:" { print $2 }' "$WORK/sample.headers" | tr -d '\r')
[ -n "$location" ] || die "the sample click had no Location: $(cat "$WORK/sample.headers")"
mapfile -t cookies < <(awk 'tolower($1) == "set-cookie:" { $1 = ""; print substr($0, 2) }' \
  "$WORK/sample.headers" | tr -d '\r')
start_nginx "$threads" "$location" "${cookies[@]}"

nginx_location=$(curl -fsS -o /dev/null -w '%{redirect_url}' "$NGINX_URL/c/demo?aff=demo-aff&sub1=s1000")
[ "${#nginx_location}" = "${#location}" ] ||
  die "nginx's Location has ${#nginx_location} bytes, Ricochet's ${#location}"

machine
echo "ricochet $RICOCHET_URL (--threads $threads), nginx $NGINX_URL (worker_processes $threads)"
echo "wrk -t1 -c$connections -d${duration}s; $rounds round(s); Location: ${#location} bytes"
echo

ricochet_requests=1 # the sample click
ricochet_runs=0
declare -A result # [test:server:round] = "rps p50_us p99_us [svc_p99_us wake_p99_us]"

# The URL of nginx or ricochet.
url_of() { if [ "$1" = ricochet ]; then echo "$RICOCHET_URL"; else echo "$NGINX_URL"; fi; }

# record TEST SERVER ROUND: files the run that just set WRK_RESULT and prints its line. A
# paced_load result also has the p99 from the write and the client's late wake-ups.
record() {
  local test=$1 server=$2 round=$3
  local rps p50 p99 svc wake extra=""
  rps=$(field "$WRK_RESULT" rps)
  p50=$(field "$WRK_RESULT" p50_us)
  p99=$(field "$WRK_RESULT" p99_us)
  svc=$(field "$WRK_RESULT" svc_p99_us)
  wake=$(field "$WRK_RESULT" wake_p99_us)
  result[$test:$server:$round]="$rps $p50 $p99 $svc $wake"
  [ -z "$svc" ] || extra="  (from the write: p99 $(ms "$svc") ms; client woke late: p99 $(ms "$wake") ms)"
  if [ "$server" = ricochet ]; then
    ricochet_requests=$((ricochet_requests + $(field "$WRK_RESULT" requests)))
    ricochet_runs=$((ricochet_runs + 1))
  fi
  printf 'round %d  %-10s %-8s %9s req/s  p50 %6s ms  p99 %6s ms%s%s\n' "$round" "$test" "$server" \
    "$(int "$rps")" "$(ms "$p50")" "$(ms "$p99")" "$extra" "$(wrk_errors "$WRK_RESULT")"
}

# run TEST SERVER ROUND SCRIPT [SCRIPT ARG...]: one wrk run, recorded.
run() {
  run_wrk "$(url_of "$2")" "$4" "${RUN_SECONDS:-$duration}" "$connections" offer=demo aff=demo-aff "${@:5}"
  record "$1" "$2" "$3"
}

# paced SERVER ROUND RATE: one bench/paced_load run, recorded as test "paced".
paced() {
  run_paced "$(url_of "$1")" "$duration" "$connections" "$3" "$client_priority"
  if [ "$client_priority" = realtime ] && [ "$(field "$WRK_RESULT" realtime)" != 1 ]; then
    refused_runs=$((refused_runs + 1))
    echo "WARNING: this run's client ran at normal priority: $(grep -m1 'priority realtime refused' "$WORK/load.out")"
  fi
  record paced "$1" "$2"
}

# Servers alternate: nginx first in odd rounds, Ricochet first in even ones.
order() { if (($1 % 2)); then echo nginx ricochet; else echo ricochet nginx; fi; }

if [ "$smoke" = 0 ]; then
  echo "warm-up: 2 s keep-alive on each server (not counted)"
  for server in nginx ricochet; do RUN_SECONDS=2 run warmup "$server" 0 click.lua >/dev/null; done
fi

for ((r = 1; r <= rounds; r++)); do
  for server in $(order "$r"); do run keep-alive "$server" "$r" click.lua; done
  for server in $(order "$r"); do run close "$server" "$r" click.lua close=1; done
done

peaks=()
for ((r = 1; r <= rounds; r++)); do peaks+=("$(cut -d' ' -f1 <<<"${result[keep-alive:ricochet:$r]}")"); done
rate=$(int "$(awk -v p="$(median "${peaks[@]}")" 'BEGIN { print p / 2 }')")
echo
echo "paced at $rate req/s: half of Ricochet's median keep-alive rate (bench/paced_load;" \
  "latency from the moment each request was due; client priority: $client_priority)"
for ((r = 1; r <= rounds; r++)); do
  for server in $(order "$r"); do paced "$server" "$r" "$rate"; done
done

# Every click the clients saw answered must be recorded; a wrk run can also leave up to one
# request per connection answered but not counted when it stops.
wait_click_queue
clicks=$(report_sum clicks)
dropped=$(metric ricochet_clicks_dropped_total)
slack=$((ricochet_runs * connections))
echo
echo "ricochet recorded $clicks clicks; wrk and paced_load completed $ricochet_requests against it" \
  "(up to $slack more in flight at the ends of runs); clicks dropped (queue full or storage failure): $dropped;" \
  "the click queue drained ${QUEUE_WAIT_S}s after the last run"
if ((clicks + dropped < ricochet_requests || clicks + dropped > ricochet_requests + slack)); then
  die "recorded clicks ($clicks) + dropped ($dropped) do not match the completed requests ($ricochet_requests, +$slack)"
fi
((dropped == 0)) || echo "WARNING: $dropped clicks were dropped: the click writer fell behind"

# Summary: medians over rounds; the ratio is the median of the per-round ratios.
summary_row() {
  local test=$1 label=$2 show_ratio=${3:-1} r a b c d e f n=() rc=() ratios=() np50=() np99=() rp50=() rp99=()
  for ((r = 1; r <= rounds; r++)); do
    read -r a b c _ <<<"${result[$test:nginx:$r]}"
    n+=("$a") np50+=("$b") np99+=("$c")
    read -r d e f _ <<<"${result[$test:ricochet:$r]}"
    rc+=("$d") rp50+=("$e") rp99+=("$f")
    ratios+=("$(ratio "$d" "$a")")
  done
  printf '%-30s %9s %7s %7s   %9s %7s %7s   %5s\n' "$label" \
    "$(int "$(median "${n[@]}")")" "$(ms "$(median "${np50[@]}")")" "$(ms "$(median "${np99[@]}")")" \
    "$(int "$(median "${rc[@]}")")" "$(ms "$(median "${rp50[@]}")")" "$(ms "$(median "${rp99[@]}")")" \
    "$( ((show_ratio)) && ratio "$(median "${ratios[@]}")" 1 || echo -)"
}
echo
echo "== Summary: medians of $rounds round(s), ${duration}s runs, $connections connections, --threads $threads"
printf '%-30s %9s %7s %7s   %9s %7s %7s   %5s\n' "" "nginx" "p50 ms" "p99 ms" "ricochet" "p50 ms" "p99 ms" "ratio"
summary_row keep-alive "keep-alive (req/s)"
summary_row close "Connection: close (req/s)"
summary_row paced "paced at $rate/s (achieved)" 0
# paced_medians SERVER: medians over rounds of the p99 from the write and of the client's late
# wake-ups, in ms.
paced_medians() {
  local r svc wake w=() k=()
  for ((r = 1; r <= rounds; r++)); do
    read -r _ _ _ svc wake <<<"${result[paced:$1:$r]}"
    w+=("$svc") k+=("$wake")
  done
  echo "p99 from the write $(ms "$(median "${w[@]}")") ms, client woke late p99 $(ms "$(median "${k[@]}")") ms"
}
refused=""
((refused_runs == 0)) || refused=", refused in $refused_runs run(s): normal there"
echo "paced (client priority $client_priority$refused), nginx: $(paced_medians nginx); ricochet: $(paced_medians ricochet)"
echo "clicks recorded $clicks, dropped $dropped; click queue drained ${QUEUE_WAIT_S}s after the last run"
