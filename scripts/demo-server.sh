#!/usr/bin/env bash
# `make demo-server`: builds what is missing and starts `remotemedia serve` with the examples
# (examples/server/*.yaml and the transcription pipeline), then prints the URL to open.
# LISTEN=host:port overrides 127.0.0.1:8090; Ctrl-C (SIGTERM) drains the sessions and stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BUILD:-build}
LISTEN=${LISTEN:-127.0.0.1:8090}

bash scripts/setup.sh >/dev/null
echo "demo-server: building (the first run takes a few minutes)" >&2
bash scripts/build.sh "$BUILD" --target remotemedia --target remotemedia_ipc --target rm_web >/dev/null
bash scripts/fetch-silero-model.sh >&2
bash scripts/docker-up.sh >&2
echo "demo-server: open http://$LISTEN/ in a browser (pick a pipeline, press Start microphone)," >&2
echo "  or from Python: see README.md, section \"Streaming server\"" >&2
exec env REMOTEMEDIA_NODE_PATH="$ROOT/examples/transcription/nodes" \
  RM_IPC_LIBRARY="$ROOT/$BUILD/ipc/libremotemedia_ipc.so" \
  RM_PYTHON_SDK_DIR="$ROOT/python" \
  REMOTEMEDIA_PYTHON="${REMOTEMEDIA_PYTHON:-/usr/bin/python3}" \
  "$BUILD/apps/remotemedia/remotemedia" serve --listen "$LISTEN" \
    --pipelines examples/server \
    --pipelines transcription=examples/transcription/pipeline.yaml
