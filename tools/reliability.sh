#!/usr/bin/env bash
# The reliability and security suite of issue #6, against the real server (Release build):
# [reliability] is tests/integration/reliability_test.cc (SIGKILL crash loop with retried
# postbacks, a 10,000-order duplicate storm, conflicting replays) and
# tests/integration/disk_full_test.cc ([diskfull]: a full tmpfs; needs root, else skipped with a
# warning) and tests/integration/exhaustion_test.cc (descriptor exhaustion), [security] is
# tests/integration/security_test.cc, [audit] is tests/integration/audit_test.cc (the audit
# trail of admin calls).
#   tools/reliability.sh            bounded crash loop (3 kills); well under a minute
#   tools/reliability.sh --long     crash loop with 20 kills (RICOCHET_RELIABILITY_LONG=1)
# Other arguments go to the Catch2 runner, e.g. `--durations yes` or `-s`.
# RICOCHET_RELIABILITY_SEED=<n> repeats a crash loop's request mix (not its kill timing).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh  # the Debian packages of the build, if missing

args=()
for a in "$@"; do
  case "$a" in
    --long) export RICOCHET_RELIABILITY_LONG=1 ;;
    *) args+=("$a") ;;
  esac
done

cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j"${JOBS:-2}" --target integration_tests ricochet
exec build/release/tests/integration_tests "[reliability],[security],[audit]" --durations yes \
  ${args[@]+"${args[@]}"}
