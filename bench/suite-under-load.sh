#!/usr/bin/env bash
# The whole test suite, as CI runs it, from clean clones while two CPU hogs keep both cores busy:
# the check that no test depends on an idle machine. Stops at the first failed run.
#   bench/suite-under-load.sh [RUNS]     (default 3; each run is a fresh clone of this checkout's HEAD)
set -uo pipefail

runs=${1:-3}
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
hogs=()
stop_hogs() { [ ${#hogs[@]} -eq 0 ] || kill "${hogs[@]}" 2>/dev/null; hogs=(); }
trap 'stop_hogs; rm -rf "$work"' EXIT

for n in $(seq 1 "$runs"); do
  clone=$work/run-$n
  git clone -q "$repo" "$clone"
  sha256sum /dev/zero >/dev/null &
  hogs+=($!)
  sha256sum /dev/zero >/dev/null &
  hogs+=($!)
  started=$(date +%s)
  (cd "$clone" && CI=true bash .ci/run) >"$work/run-$n.log" 2>&1
  status=$?
  stop_hogs
  echo "run $n of $runs, commit $(git -C "$clone" rev-parse --short HEAD): $(tail -1 "$work/run-$n.log") in $(($(date +%s) - started)) s"
  if [ "$status" -ne 0 ]; then
    grep '^(fail)' "$work/run-$n.log" | sort -u
    cp "$work/run-$n.log" "$repo/suite-under-load-failed.log"
    echo "the failed run's output: suite-under-load-failed.log"
    exit 1
  fi
  rm -rf "$clone"
done
