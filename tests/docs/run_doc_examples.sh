#!/usr/bin/env bash
# Runs the shell examples of the docs against a real server, so they cannot rot.
#
#   tests/docs/run_doc_examples.sh RICOCHET_BINARY [DOC.md ...]
#
# Without DOC arguments it runs, in this order: getting-started.md, api.md, conversions.md,
# integration.md, operations.md (all in docs/ next to this script's tests/ directory).
#
# Marker convention (in the Markdown):
#   A shell fence (```sh or ```bash) is run only when the line right before it is a
#   `doc-test` HTML comment, which renders as nothing:
#
#     <!-- doc-test -->
#     ```sh
#     curl -fsS http://127.0.0.1:8081/healthz
#     ```
#
#   The comment may span lines and list what the block's output (stdout and stderr together)
#   must contain, one check per line:
#
#     <!-- doc-test
#     expect: "result":"created"
#     expect-re: "conversion_id":"cv_[^"]+"
#     -->
#
#   `expect:` is a fixed string, `expect-re:` an extended regular expression (grep -E); every
#   check must match somewhere in the output. A marker that is not followed by a sh/bash fence
#   is an error, so a typo cannot silently turn a test off.
#
# How the blocks run:
#   - One server is started on a fresh temporary data directory, on free 127.0.0.1 ports (port 0,
#     read back from its "ricochet started" log line), with RICOCHET_ADMIN_TOKEN exported.
#   - Every marked block of every file runs, in order, in ONE bash session with
#     `set -euo pipefail`: variables set by a block (a click id, a conversion id) are there for
#     the next blocks, in the same and in later files. The working directory is a scratch
#     directory, so cookie jars and other files a block writes go away.
#   - The documented addresses 127.0.0.1:8080 / localhost:8080 (public) and 127.0.0.1:8081 /
#     localhost:8081 (admin) are rewritten to the real ports before a block runs.
#   - `curl` is a shell function adding --max-time, so a hung request fails instead of hanging.
#   - Any failing command, or a missing expected output, stops the run with the file, the line
#     of the block, its text and its output; the exit status is then non-zero. Blocks must check
#     their own outcome: `curl -fsS` where success is expected, plus `expect:` lines (or
#     `grep`) where the docs show the answer. Avoid `curl ... | grep -q` (an early grep exit
#     can fail curl with SIGPIPE under pipefail): use `expect:` instead.
#   - At the end the server is stopped with SIGTERM and must exit with status 0. The trap kills
#     it on every exit path.
#
# Environment: DOC_TEST_KEEP=1 keeps the temporary directory (server log, generated script).
set -euo pipefail

if [ $# -lt 1 ]; then
  echo "usage: $0 RICOCHET_BINARY [DOC.md ...]" >&2
  exit 2
fi
binary="$1"
shift
here="$(cd "$(dirname "$0")" && pwd)"
docs_dir="$(cd "$here/../../docs" && pwd)"
if [ $# -gt 0 ]; then
  docs=("$@")
else
  docs=(getting-started.md api.md conversions.md integration.md operations.md)
  docs=("${docs[@]/#/$docs_dir/}")
fi
[ -x "$binary" ] || { echo "doc-test: not an executable: $binary" >&2; exit 2; }
command -v curl >/dev/null || { echo "doc-test: curl is required" >&2; exit 2; }

tmp="$(mktemp -d "${TMPDIR:-/tmp}/ricochet-doc-test.XXXXXX")"
server_pid=""
session_pid=""
stop_server() {
  [ -n "$server_pid" ] || return 0
  kill -TERM "$server_pid" 2>/dev/null || true
  for _ in $(seq 1 150); do
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}
cleanup() {
  local rc=$?
  if [ -n "$session_pid" ]; then  # interrupted mid-run: stop the blocks' shell and its children
    pkill -TERM -P "$session_pid" 2>/dev/null || true
    kill -TERM "$session_pid" 2>/dev/null || true
  fi
  stop_server
  if [ "$rc" -ne 0 ] && [ -s "$tmp/server.log" ]; then
    echo "---- server log (last 30 lines) ----" >&2
    tail -n 30 "$tmp/server.log" >&2
  fi
  if [ "${DOC_TEST_KEEP:-0}" = 1 ] || [ "$rc" -ne 0 ]; then
    echo "doc-test: files kept in $tmp" >&2
  else
    rm -rf "$tmp"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- 1. Extract the marked blocks. ------------------------------------------------------------
# For block N: $tmp/blocks/N.sh (the code), N.where ("file:line"), N.expect (checks, one a line).
mkdir -p "$tmp/blocks" "$tmp/work"
nblocks=0
re_marker='^[[:space:]]*<!--[[:space:]]*doc-test([[:space:]]|-->|$)'
re_open='^```(sh|bash)[[:space:]]*$'
re_close='^```[[:space:]]*$'
for doc in "${docs[@]}"; do
  [ -f "$doc" ] || { echo "doc-test: no such file: $doc" >&2; exit 2; }
  name="${doc#"$docs_dir"/}"
  lineno=0
  state=text       # text | marker | wantfence | code
  checks=()
  while IFS= read -r line || [ -n "$line" ]; do
    lineno=$((lineno + 1))
    case "$state" in
      text)
        if [[ "$line" =~ $re_marker ]]; then
          checks=()
          rest="${line#*doc-test}"
          if [[ "$rest" == *"-->"* ]]; then
            rest="${rest%%-->*}"
            rest="${rest#"${rest%%[![:space:]]*}"}"
            rest="${rest%"${rest##*[![:space:]]}"}"
            [ -n "$rest" ] && checks+=("$rest")
            state=wantfence
          else
            state=marker
          fi
          marker_line=$lineno
        fi
        ;;
      marker)
        if [[ "$line" == *"-->"* ]]; then
          rest="${line%%-->*}"
          state=wantfence
        else
          rest="$line"
        fi
        rest="${rest#"${rest%%[![:space:]]*}"}"
        rest="${rest%"${rest##*[![:space:]]}"}"
        [ -n "$rest" ] && checks+=("$rest")
        ;;
      wantfence)
        if [[ "$line" =~ $re_open ]]; then
          nblocks=$((nblocks + 1))
          : >"$tmp/blocks/$nblocks.sh"
          echo "$name:$((lineno + 1))" >"$tmp/blocks/$nblocks.where"
          : >"$tmp/blocks/$nblocks.expect"
          for c in "${checks[@]+"${checks[@]}"}"; do
            case "$c" in
              expect:*|expect-re:*) printf '%s\n' "$c" >>"$tmp/blocks/$nblocks.expect" ;;
              *) echo "doc-test: $name:$marker_line: unknown marker line: $c" >&2; exit 2 ;;
            esac
          done
          state=code
        else
          echo "doc-test: $name:$marker_line: doc-test marker not followed by a \`\`\`sh fence" >&2
          exit 2
        fi
        ;;
      code)
        if [[ "$line" =~ $re_close ]]; then
          state=text
        else
          printf '%s\n' "$line" >>"$tmp/blocks/$nblocks.sh"
        fi
        ;;
    esac
  done <"$doc"
  if [ "$state" != text ]; then
    echo "doc-test: $name: unterminated doc-test marker or fence (from line $marker_line)" >&2
    exit 2
  fi
done
if [ "$nblocks" -eq 0 ]; then
  echo "doc-test: no <!-- doc-test --> blocks found" >&2
  exit 1
fi

# ---- 2. Start the server. ---------------------------------------------------------------------
export RICOCHET_ADMIN_TOKEN="doc-test-admin-token"
unset RICOCHET_CLICK_SECRET
"$binary" --data "$tmp/data" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 --threads 2 \
  2>"$tmp/server.log" &
server_pid=$!
public_port="" admin_port=""
for _ in $(seq 1 200); do
  if started="$(grep -m1 '"msg":"ricochet started"' "$tmp/server.log" 2>/dev/null)"; then
    public_port="$(sed -n 's/.*"listen":"127\.0\.0\.1:\([0-9]*\)".*/\1/p' <<<"$started")"
    admin_port="$(sed -n 's/.*"admin_listen":"127\.0\.0\.1:\([0-9]*\)".*/\1/p' <<<"$started")"
    break
  fi
  kill -0 "$server_pid" 2>/dev/null || { echo "doc-test: ricochet failed to start" >&2; exit 1; }
  sleep 0.05
done
if [ -z "$public_port" ] || [ -z "$admin_port" ]; then
  echo "doc-test: could not read the listener ports from the server log" >&2
  exit 1
fi
up=0
for _ in $(seq 1 100); do
  if curl -fsS --max-time 2 "http://127.0.0.1:$admin_port/healthz" >/dev/null 2>&1 &&
    curl -fsS --max-time 2 "http://127.0.0.1:$public_port/healthz" >/dev/null 2>&1; then
    up=1
    break
  fi
  sleep 0.1
done
[ "$up" = 1 ] || { echo "doc-test: /healthz did not answer" >&2; exit 1; }
echo "doc-test: ricochet on public 127.0.0.1:$public_port, admin 127.0.0.1:$admin_port;" \
  "$nblocks blocks from ${#docs[@]} files"

# ---- 3. Generate one script with every block, and run it in one bash session. --------------
script="$tmp/session.sh"
{
  cat <<'PRELUDE'
set -euo pipefail
exec 3>&2  # the runner's stderr: a failure inside a block's redirection still reports here
curl() { command curl --max-time 30 "$@"; }
__doc_where="" __doc_n=0
__doc_fail() {
  local rc=$?
  [ -n "$__doc_where" ] || exit "$rc"
  trap - EXIT
  {
    echo
    echo "FAILED: block $__doc_n at $__doc_where${1:+ ($1)}"
    echo "---- block ----"
    sed 's/^/  | /' "$__doc_dir/$__doc_n.sh"
    echo "---- output ----"
    awk '{ print "  > " $0 }' "$__doc_out"
  } >&3
  exit $(( rc == 0 ? 1 : rc ))
}
trap __doc_fail EXIT
__doc_check() {  # runs after a block: print its output, then the expect/expect-re checks
  awk '{ print "  > " $0 }' "$__doc_out"
  local kind pattern
  while IFS= read -r line; do
    kind="${line%%:*}"
    pattern="${line#*:}"
    pattern="${pattern# }"
    if [ "$kind" = expect ]; then
      grep -qF -- "$pattern" "$__doc_out" || __doc_fail "expected: $pattern"
    else
      grep -qE -- "$pattern" "$__doc_out" || __doc_fail "expected /$pattern/"
    fi
  done <"$__doc_dir/$__doc_n.expect"
}
PRELUDE
  printf '__doc_dir=%q\n' "$tmp/blocks"
  printf '__doc_out=%q\n' "$tmp/block.out"
  printf 'cd %q\n' "$tmp/work"
  for n in $(seq 1 "$nblocks"); do
    where="$(cat "$tmp/blocks/$n.where")"
    printf '__doc_n=%d; __doc_where=%q\n' "$n" "$where"
    printf 'echo "== block %d: %s"\n' "$n" "$where"
    echo '{'
    # 8080/8081 -> placeholders -> real ports, so a real port equal to 8081 is not rewritten twice.
    sed -E -e 's/(127\.0\.0\.1|localhost):8080/@@DOC_PUBLIC@@/g' \
      -e 's/(127\.0\.0\.1|localhost):8081/@@DOC_ADMIN@@/g' \
      -e "s/@@DOC_PUBLIC@@/127.0.0.1:$public_port/g" \
      -e "s/@@DOC_ADMIN@@/127.0.0.1:$admin_port/g" "$tmp/blocks/$n.sh"
    echo "} >\"\$__doc_out\" 2>&1 </dev/null"
    echo '__doc_check'
  done
  echo '__doc_where=""'
  echo 'trap - EXIT'
} >"$script"

# In the background, so that a signal to the runner is handled at once (trap above).
bash "$script" &
session_pid=$!
session_status=0
wait "$session_pid" || session_status=$?
session_pid=""
if [ "$session_status" -ne 0 ]; then
  echo "doc-test: FAILED (generated script: $script)" >&2
  exit 1
fi

# ---- 4. The server must stop cleanly. ---------------------------------------------------------
kill -TERM "$server_pid"
status=0
wait "$server_pid" || status=$?
server_pid=""
if [ "$status" -ne 0 ]; then
  echo "doc-test: ricochet exited with status $status after SIGTERM" >&2
  exit 1
fi
echo "doc-test: all $nblocks blocks passed"
