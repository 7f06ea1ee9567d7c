# shellcheck shell=bash disable=SC2034  # (variables here are read by the sourcing scripts)
# Shared by bench/load.sh, bench/postback.sh and bench/datascale.sh: the build, a temp dir,
# starting and stopping Ricochet and nginx, running wrk and reading its results. Sourced, not
# run. Every process started here is stopped by the EXIT trap, whatever way the script ends.
#
# Environment:
#   BUILD_DIR   the Release build directory (default build/release)
#   JOBS        parallel build jobs (default 2)
#   BUILD_LOCK  if set, a file that every cmake call holds with flock(1), for machines where
#               several people build at once
#   RICOCHET_BIN the ricochet binary to run (default: the Release build's), e.g. a saved copy of
#               an older build for an A/B run
#   KEEP_WORK=1 keep the temp dir and data directories, for inspection (after a failure only
#               the logs and configs are kept)

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build/release}
[[ "$BUILD" = /* ]] || BUILD="$ROOT/$BUILD"
BENCH_NAME=$(basename "$0" .sh)
WORK=""
PIDS=()
CLEANUP_DIRS=() # removed on every exit, e.g. data directories outside $WORK
RICOCHET_PID=""
NGINX_PID=""

# Prints the comment block at the top of the running script.
usage() { awk 'NR > 1 { if (!/^#/) exit; sub(/^# ?/, ""); print }' "$0"; }

die() {
  echo "$BENCH_NAME: $*" >&2
  exit 1
}

# Stops one process we started: SIGTERM, then SIGKILL after `grace` seconds.
stop_pid() {
  local pid=$1 grace=${2:-15}
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  local i
  for ((i = 0; i < grace * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "$BENCH_NAME: pid $pid did not stop in ${grace}s; killing it" >&2
    pkill -KILL -P "$pid" 2>/dev/null || true
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

# stop_started PID [GRACE]: stops a process of PIDS and forgets it, so the exit trap never
# signals a recycled pid.
stop_started() {
  stop_pid "$1" "${2:-15}"
  local keep=() pid
  for pid in "${PIDS[@]}"; do [ "$pid" = "$1" ] || keep+=("$pid"); done
  PIDS=("${keep[@]}")
}

bench_cleanup() {
  local rc=$?
  trap - EXIT INT TERM ERR
  local pid dir
  for pid in "${PIDS[@]}"; do stop_pid "$pid" 15; done
  if [ "${KEEP_WORK:-0}" = 1 ]; then
    echo "$BENCH_NAME: kept $WORK ${CLEANUP_DIRS[*]}" >&2
    exit "$rc"
  fi
  for dir in "${CLEANUP_DIRS[@]}"; do rm -rf "$dir"; done
  if [ -n "$WORK" ] && [ -d "$WORK" ]; then
    if [ "$rc" = 0 ]; then
      rm -rf "$WORK"
    else
      # Logs and configs are what help; data directories are large.
      rm -rf "$WORK"/data "$WORK"/baseline
      if [ "$rc" = 130 ] || [ "$rc" = 143 ]; then
        echo "$BENCH_NAME: interrupted; logs kept in $WORK" >&2
      else
        echo "$BENCH_NAME: failed; logs kept in $WORK" >&2
      fi
    fi
  fi
  exit "$rc"
}

# Creates the temp dir and installs the traps. Call first.
bench_init() {
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/ricochet-$BENCH_NAME.XXXXXX")
  trap bench_cleanup EXIT
  # set -e stops silently; name the command that failed.
  set -E
  trap 'echo "$BENCH_NAME: failed: $BASH_COMMAND (${BASH_SOURCE[0]##*/} line $LINENO)" >&2' ERR
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# Builds Release targets, then installs nginx and wrk if missing.
bench_build() {
  local lock=()
  [ -n "${BUILD_LOCK:-}" ] && lock=(flock "$BUILD_LOCK")
  echo "building $* (Release, $BUILD)"
  if ! "${lock[@]}" cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >"$WORK/build.log" 2>&1 ||
    ! "${lock[@]}" cmake --build "$BUILD" -j"${JOBS:-2}" --target "$@" >>"$WORK/build.log" 2>&1; then
    tail -n 40 "$WORK/build.log" >&2
    die "the build failed (the end of its log is above)"
  fi
  bash "$ROOT/tools/setup.sh" --bench
  command -v wrk >/dev/null || die "wrk is not installed (tools/setup.sh --bench installs it)"
}

# A whole number from `min` up, for flag values.
check_count() {
  local name=$1 value=$2 min=${3:-1}
  if ! [[ "$value" =~ ^[0-9]+$ ]] || ((value < min)); then
    die "$name: expected a whole number of at least $min, got '$value'"
  fi
}

# Prints a TCP port on 127.0.0.1 that nothing listens on, below the ephemeral range so that
# wrk's own connections cannot take it meanwhile.
free_port() {
  local i p
  for ((i = 0; i < 200; i++)); do
    p=$((20000 + RANDOM % 12000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  die "found no free port on 127.0.0.1"
}

# --- Ricochet

RICOCHET_URL=""
ADMIN_URL=""
RICOCHET_ADMIN_TOKEN="bench-$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')"
export RICOCHET_ADMIN_TOKEN

# start_ricochet DATA_DIR THREADS [FLAG...]: starts build/release/engine/ricochet on free ports
# and sets RICOCHET_PID, RICOCHET_URL and ADMIN_URL.
start_ricochet() {
  local data=$1 threads=$2
  shift 2
  local log
  log="$WORK/ricochet-$(date +%s%N).log"
  "${RICOCHET_BIN:-$BUILD/engine/ricochet}" --data "$data" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
    --threads "$threads" --trusted-proxy 127.0.0.1 --drain-timeout-s 2 "$@" 2>"$log" &
  RICOCHET_PID=$!
  PIDS+=("$RICOCHET_PID")
  local i line=""
  for ((i = 0; i < 1200; i++)); do
    line=$(grep -m1 '"ricochet started"' "$log" || true)
    [ -n "$line" ] && break
    kill -0 "$RICOCHET_PID" 2>/dev/null || { cat "$log" >&2; die "ricochet exited at start-up (log above)"; }
    sleep 0.1
  done
  [ -n "$line" ] || { cat "$log" >&2; die "ricochet did not start within 120 s (log above)"; }
  RICOCHET_URL="http://$(sed 's/.*"listen":"\([^"]*\)".*/\1/' <<<"$line")"
  ADMIN_URL="http://$(sed 's/.*"admin_listen":"\([^"]*\)".*/\1/' <<<"$line")"
}

stop_ricochet() {
  stop_started "$RICOCHET_PID" 60
  RICOCHET_PID=""
}

# admin METHOD PATH [CURL ARG...]: one admin API call; fails the script on a non-2xx answer.
admin() {
  local method=$1 path=$2
  shift 2
  curl -fsS --max-time 60 -X "$method" -H "Authorization: Bearer $RICOCHET_ADMIN_TOKEN" \
    "$ADMIN_URL$path" "$@" || die "admin API: $method $path failed"
}

# The demo offer and affiliate of tools/run-demo.sh: offer "demo", affiliate "demo-aff".
create_demo_offer() {
  admin PUT /api/offers/demo -d '{
    "name": "Demo offer",
    "url": "https://example.com/landing?click_id={click_id}&aff={aff_id}&sub1={sub1}",
    "fallback_url": "https://example.com/",
    "currency": "USD",
    "plan": {"events": {"sale": {"cpa": "2.50", "cps_percent": "10"}}}
  }' >/dev/null
  admin PUT /api/affiliates/demo-aff -d '{"name": "Demo affiliate"}' >/dev/null
}

# The value of one unlabelled series of /metrics.
metric() {
  curl -fsS --max-time 10 "$ADMIN_URL/metrics" | awk -v n="$1" '$1 == n { print $2; f = 1 } END { if (!f) print 0 }'
}

# Waits until the click writer has written every queued click; sets QUEUE_WAIT_S to how long
# the queue took to empty (seconds, one decimal). A writer slower than the redirects shows here
# first.
QUEUE_WAIT_S=0
wait_click_queue() {
  local i
  for ((i = 0; i < 6000; i++)); do
    if [ "$(metric ricochet_click_queue_depth)" = 0 ]; then
      QUEUE_WAIT_S=$(awk -v i="$i" 'BEGIN { printf "%.1f", i / 10 }')
      # An empty queue can still leave the writer's last batch unwritten; a report read waits
      # for every click queued before it.
      admin GET /api/report >/dev/null
      return 0
    fi
    sleep 0.1
  done
  die "the click queue did not drain within 600 s"
}

# report_sum FIELD: the sum of FIELD over the offer rows of GET /api/report, yesterday and today
# (UTC), so a run across midnight still counts whole.
report_sum() {
  admin GET "/api/report?group_by=offer&from=$(date -u -d yesterday +%F)&to=$(date -u +%F)" |
    { grep -o "\"$1\":[0-9]*" || true; } | awk -F: '{ s += $2 } END { print s + 0 }'
}

# Peak resident set of a process, in MiB (VmHWM).
peak_rss_mib() {
  awk '/^VmHWM:/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"
}

# --- nginx

NGINX_URL=""

# start_nginx WORKERS LOCATION COOKIE...: nginx on a free port, from bench/nginx.conf, answering
# every request with `return 302 LOCATION` and the given Set-Cookie values. Sets NGINX_PID and
# NGINX_URL.
start_nginx() {
  local workers=$1 location=$2
  shift 2
  local nginx
  nginx=$(command -v nginx || echo /usr/sbin/nginx)
  [ -x "$nginx" ] || die "nginx is not installed (tools/setup.sh --bench installs it)"
  local dir="$WORK/nginx"
  mkdir -p "$dir"
  local cookies="" c
  for c in "$@"; do cookies+="      add_header Set-Cookie \"$c\" always;"$'\n'; done
  local attempt port conf i
  for ((attempt = 0; attempt < 10; attempt++)); do
    port=$(free_port)
    conf=$(<"$BENCH_DIR/nginx.conf")
    conf=${conf//@DIR@/"$dir"}
    conf=${conf//@WORKERS@/"$workers"}
    conf=${conf//@PORT@/"$port"}
    conf=${conf//@LOCATION@/"$location"}
    conf=${conf//"      @COOKIES@"/"${cookies%$'\n'}"}
    printf '%s\n' "$conf" >"$dir/nginx.conf"
    : >"$dir/error.log"
    "$nginx" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" 2>"$dir/stderr.log" &
    NGINX_PID=$!
    PIDS+=("$NGINX_PID")
    for ((i = 0; i < 100; i++)); do
      if curl -fs -o /dev/null --max-time 1 "http://127.0.0.1:$port/c/probe"; then
        NGINX_URL="http://127.0.0.1:$port"
        return 0
      fi
      kill -0 "$NGINX_PID" 2>/dev/null || break
      sleep 0.1
    done
    stop_started "$NGINX_PID" 5
    grep -q 'Address already in use' "$dir/error.log" "$dir/stderr.log" ||
      { cat "$dir/error.log" "$dir/stderr.log" >&2; die "nginx did not start (its log is above)"; }
  done
  die "nginx found no free port in 10 tries"
}

# --- wrk

WRK_RESULT=""

# run_wrk URL SCRIPT SECONDS CONNECTIONS [SCRIPT ARG...]: one wrk run with one thread; sets
# WRK_RESULT to the RESULT line of bench/wrk/common.lua. Fails on answers >= 400: those mean a
# broken set-up, not a slow server.
run_wrk() {
  local url=$1 script=$2 seconds=$3 connections=$4
  shift 4
  run_load "wrk $script" "$url" wrk -t1 -c"$connections" -d"${seconds}s" --timeout 5s \
    -s "$BENCH_DIR/wrk/$script" "$url" -- "$@"
}

# run_paced URL SECONDS CONNECTIONS RATE PRIORITY: one fixed-rate run of bench/paced_load (the
# requests of bench/wrk/click.lua, offer demo, affiliate demo-aff; PRIORITY normal or realtime,
# its --priority); sets WRK_RESULT to its RESULT line, which has wrk's fields and more. Fails as
# run_wrk does.
run_paced() {
  local url=$1 seconds=$2 connections=$3 rate=$4 priority=$5
  run_load paced_load "$url" "$BUILD/bench/paced_load" --url "$url" --rate "$rate" \
    --seconds "$seconds" --connections "$connections" --offer demo --aff demo-aff \
    --priority "$priority"
}

# run_load NAME URL COMMAND...: runs a load generator that prints a RESULT line, sets
# WRK_RESULT to it, and fails on answers >= 400 or when no request completed.
run_load() {
  local name=$1 url=$2
  shift 2
  local out="$WORK/load.out"
  if ! "$@" >"$out" 2>&1; then
    cat "$out" >&2
    die "$name failed against $url"
  fi
  WRK_RESULT=$(grep '^RESULT ' "$out" | tail -n 1) || { cat "$out" >&2; die "$name printed no result"; }
  local status
  status=$(field "$WRK_RESULT" errors_status)
  [ "$status" = 0 ] || { cat "$out" >&2; die "$status answers >= 400 from $url ($name)"; }
  [ "$(field "$WRK_RESULT" requests)" -gt 0 ] || { cat "$out" >&2; die "no request completed against $url ($name)"; }
}

# field LINE NAME: the value of NAME=value in a RESULT line.
field() {
  sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<" $1"
}

# The socket errors of a RESULT line, as "" or " (socket errors: connect 1, read 2)".
wrk_errors() {
  local out="" k v
  for k in connect read write timeout; do
    v=$(field "$1" "errors_$k")
    [ "$v" = 0 ] || out+="${out:+, }$k $v"
  done
  [ -z "$out" ] || echo " (socket errors: $out)"
}

# median NUMBER...
median() {
  printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# Formats microseconds as milliseconds.
ms() { awk -v us="$1" 'BEGIN { printf "%.2f", us / 1000 }'; }
# Formats a rate without decimals.
int() { awk -v x="$1" 'BEGIN { printf "%.0f", x }'; }
# ratio A B: A/B with two decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

# Machine facts for the report header.
machine() {
  local cpu
  cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
  echo "machine: $(nproc) cores, ${cpu:-unknown CPU}, $(uname -r)"
}

# Parses the options every load benchmark takes into duration, rounds, threads, connections,
# smoke (and clicks, client_priority when the caller sets them first, i.e. takes --clicks,
# --client-priority); checks them.
# Defaults come from DURATION, ROUNDS, THREADS, CONNECTIONS. Usage text: the caller's header.
parse_bench_args() {
  duration=${DURATION:-10}
  rounds=${ROUNDS:-3}
  threads=${THREADS:-2}
  connections=${CONNECTIONS:-64}
  smoke=0
  while [ $# -gt 0 ]; do
    case $1 in
      --smoke) smoke=1 ;;
      --duration) duration=${2:?--duration needs a value}; shift ;;
      --rounds) rounds=${2:?--rounds needs a value}; shift ;;
      --threads) threads=${2:?--threads needs a value}; shift ;;
      --connections) connections=${2:?--connections needs a value}; shift ;;
      --clicks)
        [ -n "${clicks+set}" ] || die "unknown argument '$1' (see --help)"
        clicks=${2:?--clicks needs a value}; shift ;;
      --client-priority)
        [ -n "${client_priority+set}" ] || die "unknown argument '$1' (see --help)"
        client_priority=${2:?--client-priority needs a value}; shift ;;
      -h | --help) usage; exit 0 ;;
      *) die "unknown argument '$1' (see --help)" ;;
    esac
    shift
  done
  if [ "$smoke" = 1 ]; then duration=2 rounds=1; fi
  check_count --duration "$duration"
  check_count --rounds "$rounds"
  check_count --threads "$threads"
  check_count --connections "$connections"
}
