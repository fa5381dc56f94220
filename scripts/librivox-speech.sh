#!/usr/bin/env bash
# librivox-speech.sh OUT.wav: the demo's and the transcription test's audio, made once: the five
# LibriVox clips of Debian's pocketsphinx-testdata (16 kHz mono read speech, public domain) in
# order, each followed by 0.8 s of silence. Their reference transcripts are in
# /usr/share/pocketsphinx/test/data/librivox/transcription.
set -euo pipefail
out=$1
[ -f "$out" ] && exit 0
dir=/usr/share/pocketsphinx/test/data/librivox
[ -d "$dir" ] || { echo "librivox-speech: $dir missing (apt-get install pocketsphinx-testdata)" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sox -n -r 16000 -c 1 -b 16 "$tmp/pause.wav" trim 0 0.8
parts=()
for c in "$dir"/*.wav; do parts+=("$c" "$tmp/pause.wav"); done
sox "${parts[@]}" "$tmp/speech.wav"
mv "$tmp/speech.wav" "$out"
