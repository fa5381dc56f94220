#!/usr/bin/env bash
# bench.sh [build-dir]: builds the benchmarks (plain -O2 build, never a sanitizer build) and runs
# each with the arguments docs/benchmarks.md quotes. Run on an otherwise idle machine and copy
# the numbers into docs/benchmarks.md. BENCH="ipc executor" runs a subset.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}
bash scripts/build.sh "$B" -DRM_BUILD_BENCH=ON
want() { [ -z "${BENCH:-}" ] || [[ " $BENCH " == *" $1 "* ]]; }
run() { echo; echo "===== $1: ${*:2}"; "${@:2}"; }
export RM_LOG_LEVEL=${RM_LOG_LEVEL:-warn}
export RM_IPC_LIBRARY=$PWD/$B/ipc/libremotemedia_ipc.so

want executor && run executor "$B/bench/runtime/bench_runtime_executor"
want nodes && run nodes "$B/bench/nodes/nodes_bench" --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
want ipc && run ipc "$B/bench/ipc/ipc_bench" 20000 1000
want python && run python "$B/bench/process/bench_python_echo" 20000
if want silero; then
  bash scripts/fetch-silero-model.sh --references "$B/silero-ref"
  run silero "$B/bench/silero/silero_bench" "$B/silero-ref" 20
fi
want ingest && run ingest "$B/bench/telemetry/telemetry_ingest_bench" --seconds 10 --producers 2 --batch 1000
want dashboard && run dashboard env RM_BINARY_DIR="$PWD/$B" node bench/dashboard/dashboard_bench.mjs 10
want gateway && run gateway "$B/bench/gateway/gateway_load" --rate 1000 --seconds 20 --metric DCGM_FI_DEV_GPU_UTIL
if want docker && curl -sf --unix-socket /var/run/docker.sock http://localhost/_ping >/dev/null 2>&1; then
  run docker-start "$B/bench/docker/docker_container_start_bench" 20
  run docker-node "$B/bench/docker_node/bench_docker_node" 5000 10
fi
if want transcription && curl -sf --unix-socket /var/run/docker.sock http://localhost/_ping >/dev/null 2>&1; then
  run transcription bash bench/transcription/transcription_bench.sh "$B" 3
fi
