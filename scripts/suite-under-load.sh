#!/usr/bin/env bash
# The whole test suite, RUNS times in a row, while BURNERS CPU-bound processes keep the
# machine busy (issue 15: the suite must pass on a 2-core machine kept busy by two of them).
# Usage: scripts/suite-under-load.sh [RUNS] [BURNERS]    (defaults 3 and 2)
# Prints one line per run (exit status, minutes, pytest's summary) and exits non-zero if any
# run failed. Run it from a clone where `make install` has been done.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-3}"
burners="${2:-2}"
python="${PYTHON:-.venv/bin/python}"

pids=()
stop_burners() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap stop_burners EXIT
for _ in $(seq "$burners"); do
    "$python" -c 'while True: pass' &
    pids+=("$!")
done

failed=0
for run in $(seq "$runs"); do
    log="$(mktemp -t ballsy-suite-run-"$run".XXXXXX.log)"
    start=$(date +%s)
    status=0
    "$python" -m pytest -p no:cacheprovider >"$log" 2>&1 || status=$?
    minutes=$(( ($(date +%s) - start + 30) / 60 ))
    summary="$(grep -E '^=+ .*(passed|failed|error).* =+$' "$log" | tail -1 || true)"
    echo "run $run/$runs: exit $status, ${minutes} min, load $(cut -d' ' -f1-3 /proc/loadavg): ${summary:-no summary, see $log}"
    if [ "$status" -ne 0 ]; then
        failed=1
        echo "  log: $log"
    fi
done
exit "$failed"
