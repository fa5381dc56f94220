#!/bin/bash
# api-gateway entrypoint: maps the documented environment variables to flags, then execs the
# gateway (PID 1, gets SIGTERM from `docker stop`). The gateway only reads DATA_DIR, so the
# collector's volume can (and should) be mounted read-only. Extra arguments are appended.
set -euo pipefail

args=()
add() {  # add FLAG VARIABLE: pass $VARIABLE as FLAG when it is set and not empty
  if [ -n "${!2:-}" ]; then args+=("$1" "${!2}"); fi
}
add --port PORT
add --host HOST
add --data-dir DATA_DIR
add --collector-host COLLECTOR_HOST
add --collector-port COLLECTOR_PORT
add --metrics-port METRICS_PORT
add --threads THREADS
add --max-entries MAX_ENTRIES

data_dir=${DATA_DIR:-/data}
if [ ! -d "$data_dir" ] || [ ! -r "$data_dir" ]; then
  echo "entrypoint: DATA_DIR=$data_dir is not a readable directory; mount the collector's" \
    "data volume there (read-only is enough: -v telemetry-data:$data_dir:ro)" >&2
  exit 1
fi

exec /usr/local/bin/api-gateway "${args[@]}" "$@"
