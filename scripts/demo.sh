#!/usr/bin/env bash
# make demo: start a consumer (the Procfile's worker command, bundled
# extractor), solve the sample image of tests/data and print its result.
# Uses the venv that scripts/install-deps.sh made (ASTRO_JOBS_BIN, default
# .venv/bin).
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${ASTRO_JOBS_BIN:-$PWD/.venv/bin}"
export ASTRO_JOBS_BIN="$bin"

export JOBS_DIR="${JOBS_DIR:-$PWD/demo-jobs}"
unset ASTRO_EXTRACT_BIN ASTRO_JOBS_QUEUE_URL   # the bundled defaults
mkdir -p "$JOBS_DIR"
log="$JOBS_DIR/consumer.log"
worker=$(sed -n 's/^worker: *//p' Procfile)
bash -c "exec $worker" >"$log" 2>&1 &
consumer=$!
trap 'kill -INT "$consumer" 2>/dev/null; wait "$consumer" 2>/dev/null || true' EXIT
# Until the consumer has registered itself in JOBS_DIR; stop at once if it died.
for _ in $(seq 150); do
    if ! kill -0 "$consumer" 2>/dev/null; then
        echo "the consumer exited; its log ($log):" >&2
        cat "$log" >&2
        exit 1
    fi
    "$bin/python" -c 'import sys, astro_jobs.api as a; sys.exit(not a.consumers_alive())' \
        && break
    sleep 0.2
done
echo "consumer started (log: $log); JOBS_DIR=$JOBS_DIR" >&2

image=tests/data/sample/apod4.jpg
job=$("$bin/astro-jobs" submit --image "$image" \
      | "$bin/python" -c 'import json,sys; print(json.load(sys.stdin)["job_id"])')
echo "submitted $image as job $job; solving..." >&2
if ! "$bin/astro-jobs" wait --job-id "$job" --timeout 600 >/dev/null; then
    "$bin/astro-jobs" status --job-id "$job" >&2 || true
    "$bin/astro-jobs" logs --job-id "$job" --tail 30 >&2 || true
    exit 1
fi
"$bin/astro-jobs" result --job-id "$job" | "$bin/python" -m json.tool
echo "job folder: $JOBS_DIR/$job" >&2
