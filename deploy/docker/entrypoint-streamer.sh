#!/bin/bash
# telemetry-streamer entrypoint: maps the documented environment variables to flags, checks
# that the CSV is mounted, then execs the streamer (PID 1, gets SIGTERM from `docker stop`).
# Extra arguments are appended.
set -euo pipefail

args=()
add() {  # add FLAG VARIABLE: pass $VARIABLE as FLAG when it is set and not empty
  if [ -n "${!2:-}" ]; then args+=("$1" "${!2}"); fi
}
add --csv-file CSV_FILE
add --broker-host BROKER_HOST
add --broker-port BROKER_PORT
add --rate RATE
add --workers WORKERS
add --loops LOOPS
add --batch-size BATCH_SIZE
add --host-filter HOST_FILTER
add --instance-index INSTANCE_INDEX
add --instance-count INSTANCE_COUNT
add --producer-id PRODUCER_ID

csv=${CSV_FILE:-/data/telemetry.csv}
if [ ! -r "$csv" ]; then
  echo "entrypoint: CSV_FILE=$csv is not readable; mount a telemetry CSV there," \
    "e.g. -v \$PWD/telemetry.csv:$csv:ro" >&2
  exit 1
fi

exec /usr/local/bin/telemetry-streamer "${args[@]}" "$@"
