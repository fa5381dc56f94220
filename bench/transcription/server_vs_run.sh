#!/usr/bin/env bash
# server_vs_run.sh BUILD_DIR [RUNS]: end of phrase -> transcript for
# examples/transcription/pipeline.yaml (Docker ASR node included) two ways in one run, on the
# same LibriVox speech (5 phrases) sent in 20 ms chunks at real time:
#   run:     `remotemedia run --realtime --timing` (the pipeline in the CLI's process)
#   server:  `remotemedia serve` on 127.0.0.1 and `remotemedia stream --realtime --timing`
# The two alternate RUNS times each, so load changes hit both alike. For every phrase the
# latency is the wall time from its end in the audio to its transcript line (wall_ms minus
# end_s; both clocks start when the session is ready and the first chunk goes out). Prints
# p50/p95 of each way and of the per-phrase difference server - run. Needs dockerd
# (scripts/docker-up.sh); a benchmark, not a test: not run by CI.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
B=${1:-build}
RUNS=${2:-3}
CLI=$ROOT/$B/apps/remotemedia/remotemedia
tmp=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill -TERM "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

export REMOTEMEDIA_NODE_PATH=$ROOT/examples/transcription/nodes
export RM_IPC_LIBRARY=${RM_IPC_LIBRARY:-$ROOT/$B/ipc/libremotemedia_ipc.so}
export RM_PYTHON_SDK_DIR=$ROOT/python
export REMOTEMEDIA_PYTHON=${REMOTEMEDIA_PYTHON:-/usr/bin/python3}
export RM_LOG_LEVEL=warn
MANIFEST=examples/transcription/pipeline.yaml

speech=$tmp/speech.wav
bash scripts/librivox-speech.sh "$speech"
sox -n -r 16000 -c 1 -b 16 "$tmp/silence.wav" trim 0 1

# The ASR node's image built or reused before anything is timed.
"$CLI" run "$MANIFEST" --input audio_source="$tmp/silence.wav" >/dev/null

port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$CLI" serve --listen "127.0.0.1:$port" --pipelines "transcription=$MANIFEST" 2>"$tmp/serve.log" &
server_pid=$!
for _ in $(seq 300); do
  curl -sf "http://127.0.0.1:$port/health" >/dev/null && break
  sleep 0.1
done
curl -sf "http://127.0.0.1:$port/health" >/dev/null || { echo "server did not start" >&2; cat "$tmp/serve.log" >&2; exit 1; }

for i in $(seq "$RUNS"); do
  "$CLI" run "$MANIFEST" --input audio_source="$speech" --realtime --timing >"$tmp/run$i.jsonl"
  "$CLI" stream "http://127.0.0.1:$port" transcription --input "$speech" --realtime --timing \
    --output "$tmp/server$i.jsonl"
done

/usr/bin/python3 - "$tmp" "$RUNS" <<'EOF'
import json, sys

tmp, runs = sys.argv[1], int(sys.argv[2])


def phrases(path):
    """end_s of each phrase -> latency (s) from its end to its transcript line."""
    out = {}
    for line in open(path):
        rec = json.loads(line)
        obj = rec.get("json") if isinstance(rec.get("json"), dict) else None
        if obj and "transcript" in obj and "wall_ms" in rec:
            out[round(obj["end_s"], 2)] = rec["wall_ms"] / 1000 - obj["end_s"]
    return out


def pct(v, p):
    s = sorted(v)
    return s[max(0, min(len(s) - 1, int(round(p / 100 * (len(s) - 1)))))] if s else float("nan")


way = {"run": [], "server": []}
diff = []
for i in range(1, runs + 1):
    a, b = phrases(f"{tmp}/run{i}.jsonl"), phrases(f"{tmp}/server{i}.jsonl")
    way["run"] += a.values()
    way["server"] += b.values()
    diff += [b[k] - a[k] for k in a if k in b]
for name, v in way.items():
    print(f"{name:>7}: {len(v)} phrases; end of phrase -> transcript p50 {pct(v, 50) * 1000:.0f} ms, "
          f"p95 {pct(v, 95) * 1000:.0f} ms")
print(f"server - run, same phrase: {len(diff)} pairs; p50 {pct(diff, 50) * 1000:+.0f} ms, "
      f"p95 {pct(diff, 95) * 1000:+.0f} ms")
if not diff:
    sys.exit("no phrase was transcribed both ways")
EOF
