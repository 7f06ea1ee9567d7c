#!/usr/bin/env bash
# Builds ricochet, starts it on ./data with a demo offer and affiliate, and prints a tracking
# link. Ctrl-C stops the server gracefully.
#   LISTEN=0.0.0.0:8080 ADMIN_LISTEN=127.0.0.1:8081 RICOCHET_ADMIN_TOKEN=... tools/run-demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j"${JOBS:-2}" --target ricochet ricochetctl

LISTEN="${LISTEN:-0.0.0.0:8080}"
ADMIN_LISTEN="${ADMIN_LISTEN:-127.0.0.1:8081}"
export RICOCHET_ADMIN_TOKEN="${RICOCHET_ADMIN_TOKEN:-demo-admin-token}"
public_port="${LISTEN##*:}"
admin="http://127.0.0.1:${ADMIN_LISTEN##*:}"

build/release/engine/ricochet --data ./data --listen "$LISTEN" --admin-listen "$ADMIN_LISTEN" &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null; wait "$pid"; exit 0' INT TERM

for _ in $(seq 1 100); do
  curl -fs "$admin/healthz" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { echo "ricochet failed to start" >&2; exit 1; }
  sleep 0.1
done

auth=(-H "Authorization: Bearer $RICOCHET_ADMIN_TOKEN")
curl -fsS "${auth[@]}" -X PUT "$admin/api/offers/demo" -d '{
  "name": "Demo offer",
  "url": "https://example.com/landing?click_id={click_id}&aff={aff_id}&sub1={sub1}",
  "fallback_url": "https://example.com/",
  "currency": "USD",
  "plan": {"events": {"sale": {"cpa": "2.50", "cps_percent": "10"}}}
}' >/dev/null
curl -fsS "${auth[@]}" -X PUT "$admin/api/affiliates/demo-aff" -d '{"name": "Demo affiliate"}' >/dev/null

link="http://127.0.0.1:${public_port}/c/demo?aff=demo-aff&sub1=hello"
cat <<MSG

ricochet is running (pid $pid) on ./data.
  Tracking link:  $link
  Try it:         curl -i '$link'
  Report:         curl -H 'Authorization: Bearer $RICOCHET_ADMIN_TOKEN' '$admin/api/report?group_by=offer,affiliate'
  Metrics:        curl $admin/metrics
  Admin CLI:      build/release/tools/ricochetctl/ricochetctl --server $admin report
                  (uses RICOCHET_ADMIN_TOKEN=$RICOCHET_ADMIN_TOKEN from the environment)
Press Ctrl-C to stop.

MSG
wait "$pid"
