#!/bin/bash
# telemetry-collector entrypoint: maps the documented environment variables to flags, checks
# that DATA_DIR is writable (the usual volume-permission mistake), then execs the collector so
# it is PID 1 and receives SIGTERM from `docker stop` directly. Extra arguments are appended.
set -euo pipefail

args=()
add() {  # add FLAG VARIABLE: pass $VARIABLE as FLAG when it is set and not empty
  if [ -n "${!2:-}" ]; then args+=("$1" "${!2}"); fi
}
add --workers WORKERS
add --data-dir DATA_DIR
add --max-entries MAX_ENTRIES
add --health-port HEALTH_PORT
add --broker-port BROKER_PORT
add --metrics-port METRICS_PORT
add --checkpoint-enabled CHECKPOINT_ENABLED
add --collector-id COLLECTOR_ID
add --bind BIND

data_dir=${DATA_DIR:-/data}
if ! mkdir -p "$data_dir" 2>/dev/null || [ ! -w "$data_dir" ]; then
  echo "entrypoint: DATA_DIR=$data_dir is not writable by uid $(id -u); mount a volume there" \
    "owned by $(id -u):$(id -g) (named volumes get this from the image; for a bind mount:" \
    "chown $(id -u):$(id -g) <dir>)" >&2
  exit 1
fi

exec /usr/local/bin/telemetry-collector "${args[@]}" "$@"
