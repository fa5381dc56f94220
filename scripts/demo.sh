#!/usr/bin/env bash
# The main job (`make demo`): sets up what is missing, builds, and streams real recorded speech
# through examples/demo/speech-segments.yaml at real time:
#   AudioResample (C++) -> SileroVAD (C++) -> SegmentStats (Python node in a host process)
# printing one JSON line per detected speech segment as it arrives.
#
# Audio: by default five LibriVox recordings (public domain, read speech) shipped by Debian's
# pocketsphinx-testdata package, joined with 0.8 s pauses (~27 s). Pass your own WAV/FLAC file
# (any rate, mono or stereo) with AUDIO=path, e.g. `make demo AUDIO=~/speech.wav`.
# FAST=1 streams as fast as possible instead of at real time.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BUILD:-build}

bash scripts/setup.sh >/dev/null
echo "demo: building (first run takes a few minutes)" >&2
bash scripts/build.sh "$BUILD" --target remotemedia --target remotemedia_ipc >/dev/null
bash scripts/fetch-silero-model.sh >&2

audio=${AUDIO:-}
if [ -z "$audio" ]; then
  audio=$BUILD/demo/librivox-speech.wav
  if [ ! -f "$audio" ]; then
    mkdir -p "$BUILD/demo"
    clips=(/usr/share/pocketsphinx/test/data/librivox/*.wav)
    parts=()
    sox -n -r 16000 -c 1 -b 16 "$BUILD/demo/pause.wav" trim 0 0.8
    for c in "${clips[@]}"; do parts+=("$c" "$BUILD/demo/pause.wav"); done
    sox "${parts[@]}" "$audio"
  fi
  echo "demo: audio = LibriVox read speech from pocketsphinx-testdata ($(soxi -d "$audio"))" >&2
fi
[ -f "$audio" ] || { echo "demo: audio file '$audio' not found" >&2; exit 1; }

realtime=(--realtime)
[ "${FAST:-}" = "1" ] && realtime=()
echo "demo: streaming $audio through examples/demo/speech-segments.yaml" >&2
REMOTEMEDIA_NODE_PATH="$ROOT/examples/demo/nodes" \
RM_IPC_LIBRARY="$ROOT/$BUILD/ipc/libremotemedia_ipc.so" \
RM_PYTHON_SDK_DIR="$ROOT/python" \
REMOTEMEDIA_PYTHON=${REMOTEMEDIA_PYTHON:-/usr/bin/python3} \
  "$BUILD/apps/remotemedia/remotemedia" run examples/demo/speech-segments.yaml \
    --input audio_source="$audio" "${realtime[@]}"
