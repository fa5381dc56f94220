#!/usr/bin/env bash
# transcription_bench.sh BUILD_DIR [RUNS]: the numbers of docs/transcription.md for
# examples/transcription/pipeline.yaml (needs dockerd: scripts/docker-up.sh).
#   start-up, first run:  the ASR node's image removed, then a 1 s clip; "session ready in"
#                         (build of remotemedia/node:<hash> + container + model load)
#   start-up, cached run: the same clip again (image reused)
#   latency:              RUNS real-time runs of the LibriVox speech (5 phrases each): wall time
#                         from the end of each phrase in the audio to its transcript line
#   real-time factor:     ASR decode time / speech duration (decode_ms of each transcript), and
#                         the whole pipeline's wall time / audio duration without pacing
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
B=${1:-build}
RUNS=${2:-3}
CLI=$ROOT/$B/apps/remotemedia/remotemedia
SOCK=${RM_DOCKER_SOCKET:-/var/run/docker.sock}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

export REMOTEMEDIA_NODE_PATH=$ROOT/examples/transcription/nodes
export RM_IPC_LIBRARY=${RM_IPC_LIBRARY:-$ROOT/$B/ipc/libremotemedia_ipc.so}
export RM_PYTHON_SDK_DIR=$ROOT/python
export REMOTEMEDIA_PYTHON=${REMOTEMEDIA_PYTHON:-/usr/bin/python3}
export RM_LOG_LEVEL=info
MANIFEST=examples/transcription/pipeline.yaml

speech=$tmp/speech.wav
bash scripts/librivox-speech.sh "$speech"
sox -n -r 16000 -c 1 -b 16 "$tmp/silence.wav" trim 0 1

run() {  # run LOG AUDIO [cli flags...] -> stdout JSON lines into $tmp/out.jsonl
  local log=$1 audio=$2
  shift 2
  "$CLI" run "$MANIFEST" --input audio_source="$audio" "$@" >"$tmp/out.jsonl" 2>"$log"
}
started_ms() { grep -o 'session ready in [0-9]* ms' "$1" | grep -o '[0-9]*' | tail -1; }

# Which image the manifest uses: whatever the log names.
run "$tmp/probe.log" "$tmp/silence.wav"
tag=$(grep -o 'remotemedia/node:[0-9a-f]*' "$tmp/probe.log" | head -1)
[ -n "$tag" ] || { echo "no image tag in the log" >&2; tail "$tmp/probe.log" >&2; exit 1; }

curl -sf --unix-socket "$SOCK" -X DELETE "http://localhost/images/$tag?force=1" >/dev/null
t=$SECONDS
run "$tmp/cold.log" "$tmp/silence.wav"
echo "start-up, first run (image $tag built): $(started_ms "$tmp/cold.log") ms (whole run $((SECONDS - t)) s)"
for i in 1 2 3; do
  run "$tmp/warm$i.log" "$tmp/silence.wav"
  echo "start-up, cached run $i (image reused): $(started_ms "$tmp/warm$i.log") ms"
done

t0=$(date +%s.%N)
run "$tmp/fast.log" "$speech"
t1=$(date +%s.%N)
dur=$(soxi -D "$speech")
echo "whole pipeline without pacing: $(echo "$t1 - $t0" | bc -l | xargs printf '%.1f') s for ${dur} s of audio" \
     "(RTF $(echo "($t1 - $t0) / $dur" | bc -l | xargs printf '%.2f'), start-up included)"

: >"$tmp/all.jsonl"
for i in $(seq "$RUNS"); do
  run "$tmp/rt$i.log" "$speech" --realtime --timing
  cat "$tmp/out.jsonl" >>"$tmp/all.jsonl"
done
echo "real-time runs: $RUNS x $(grep -c transcript "$tmp/out.jsonl") phrases"
/usr/bin/python3 scripts/transcript-lines.py --summary <"$tmp/all.jsonl" 2>&1 >/dev/null
