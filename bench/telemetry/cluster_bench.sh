#!/usr/bin/env bash
# Cluster mode benchmark, one run on this machine (docs/benchmarks.md):
#   bench/telemetry/cluster_bench.sh [build-dir] [seconds]
# Starts a 3-node JetStream cluster (nats-server -js --cluster --routes on 127.0.0.1) and two
# collectors in NATS mode per stream, then measures
# measures (STEPS="windows paced idle r1 embedded kill" by default; pick any of them)
#   windows   JetStream R3 unpaced (saturated): durable samples/s, ack p50/p99, row -> queryable,
#             for each window of batches in flight per producer in WINDOWS (default "8 1")
#   paced     R3 paced at each rate of RATES (default "200000 1000000") samples/s: ack and
#             row -> queryable at an operating point (the goal is read at 1 M/s paced)
#   idle      R3 with the probe only: read-your-acks latency
#   r1        JetStream R1 unpaced
#   embedded  the embedded broker + store (telemetry_ingest_bench), same producers and batch
#   kill      R3 paced at KILL_RATE (1000000) with the work-queue stream leader killed (SIGKILL)
#             after 5 s of 15: time until ingest resumes
# Every NATS run prints the CPU seconds the three nats-server processes, the two collectors and
# the bench process (producers + feed) used. NATS_GOGC (400) / NATS_GOMEMLIMIT (512MiB) are
# passed to the servers as GOGC / GOMEMLIMIT, as the compose file and the Helm chart set them
# (NATS_GOGC= NATS_GOMEMLIMIT= for the Go defaults); NATS_GODEBUG=gctrace=1 traces each GC.
# Diagnosis: NATS_DEBUG=1 runs the servers with -D (debug log: Raft snapshots, leader changes),
# BENCH_ARGS=--timeline prints the ack latency max per 100 ms of the run, KEEP=<dir> keeps the
# servers' logs (n<i>.log) and stderr (n<i>.err, the GC traces) there.
set -euo pipefail
B=${1:-build}
SECONDS_RUN=${2:-10}
PRODUCERS=${PRODUCERS:-4}
BATCH=${BATCH:-10000}
work=$(mktemp -d /tmp/rm-cluster-bench.XXXXXX)
base=$((20000 + RANDOM % 10000))
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for p in "${nats_pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  if [[ -n ${KEEP:-} ]]; then mkdir -p "$KEEP" && cp "$work"/*.log "$work"/*.err "$KEEP"/ 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
routes="nats://127.0.0.1:$((base + 10)),nats://127.0.0.1:$((base + 11)),nats://127.0.0.1:$((base + 12))"
nats_pids=()
for i in 0 1 2; do
  GOMAXPROCS=${NATS_GOMAXPROCS:-} GODEBUG=${NATS_GODEBUG:-} GOGC=${NATS_GOGC-400} GOMEMLIMIT=${NATS_GOMEMLIMIT-512MiB} nats-server -js -sd "$work/n$i" -a 127.0.0.1 -p $((base + i)) -n "n$i" --cluster_name bench \
    --cluster "nats://127.0.0.1:$((base + 10 + i))" --routes "$routes" -l "$work/n$i.log" ${NATS_DEBUG:+-D} 2>"$work/n$i.err" &
  nats_pids+=($!)
  disown $!  # no "Killed" line when cleanup kills it
done
export NATS_URL="nats://127.0.0.1:$base,nats://127.0.0.1:$((base + 1)),nats://127.0.0.1:$((base + 2))"
export RM_LOG_LEVEL=warn
sleep 3
port=$((base + 100))
collectors() {  # collectors() <stream> <replicas>
  for c in 0 1; do
    NATS_STREAM=$1 NATS_SUBJECT="bench.$1" NATS_REPLICAS=$2 COLLECTOR_ID="$1-c$c" HEALTH_PORT=$port METRICS_PORT=$((port + 1)) BIND=127.0.0.1 \
      "$B/apps/telemetry-collector/telemetry-collector" 2>>"$work/collectors.log" &
    pids+=($!)
    port=$((port + 2))
  done
}
declare -A ticks0
cpu_mark() {  # cpu_mark <pid>...: remembers utime + stime of each process (clock ticks)
  local f
  for p in "$@"; do
    f=$(cut -d' ' -f14,15 "/proc/$p/stat" 2>/dev/null) || continue
    ticks0[$p]=$((${f% *} + ${f#* }))
  done
}
cpu_since() {  # cpu_since <pid>...: CPU seconds since cpu_mark of the processes still running
  local t=0 f
  for p in "$@"; do
    f=$(cut -d' ' -f14,15 "/proc/$p/stat" 2>/dev/null) || continue
    t=$((t + ${f% *} + ${f#* } - ${ticks0[$p]:-0}))
  done
  echo "scale=2; $t / $(getconf CLK_TCK)" | bc
}
run() {  # run <stream> <replicas> <seconds> [bench args]
  local stream=$1 reps=$2 secs=$3; shift 3
  collectors "$stream" "$reps"
  cpu_mark "${nats_pids[@]}" "${pids[@]}"
  NATS_STREAM=$stream NATS_SUBJECT="bench.$stream" NATS_REPLICAS=$reps "$B/bench/telemetry/telemetry_cluster_bench" \
    --seconds "$secs" --producers "$PRODUCERS" --batch "$BATCH" ${BENCH_ARGS:-} "$@"
  echo "cpu seconds during the run: nats-servers $(cpu_since "${nats_pids[@]}") (a killed one not counted)," \
    "collectors $(cpu_since "${pids[@]}") (bench process: its own line above); load $(cut -d' ' -f1-3 /proc/loadavg)"
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait "${pids[@]}" 2>/dev/null || true
  pids=()
}
# STEPS picks the parts (default: all, in this order).
steps=" ${STEPS:-windows paced idle r1 embedded kill} "
step() { [[ $steps == *" $1 "* ]]; }
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
if step windows; then
  for w in ${WINDOWS:-8 1}; do
    echo "== JetStream R3, window $w (batches in flight per producer)"
    NATS_PUBLISH_WINDOW=$w run "BENCHR3W$w" 3 "$SECONDS_RUN"
  done
fi
if step paced; then
  for r in ${RATES:-200000 1000000}; do
    echo "== JetStream R3, paced at $r samples/s: ack and row -> queryable at that rate"
    run "BENCHPACED$r" 3 "$SECONDS_RUN" --rate "$r"
  done
fi
if step idle; then
  echo "== JetStream R3, probe only (no load): read-your-acks latency"
  PRODUCERS=0 run BENCHIDLE 3 "$SECONDS_RUN"
fi
if step r1; then
  echo "== JetStream R1"
  run BENCHR1 1 "$SECONDS_RUN"
fi
if step embedded; then
  echo "== embedded broker + store"
  "$B/bench/telemetry/telemetry_ingest_bench" --seconds "$SECONDS_RUN" --producers "$PRODUCERS" --batch "$BATCH" --dir "$work"
fi
if step kill; then
  echo "== JetStream R3, stream leader killed after 5 s (paced at ${KILL_RATE:-1000000} samples/s)"
  run BENCHKILL 3 15 --rate "${KILL_RATE:-1000000}" --kill-after 5 --pids "$(IFS=,; echo "${nats_pids[*]}")"
fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
