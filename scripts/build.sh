#!/usr/bin/env bash
# build.sh <dir> [cmake -D options...] [--target T]...: configure (once) and build with Ninja.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$1; shift
target=()
opts=()
while (($#)); do
  if [ "$1" = "--target" ]; then target+=("$2"); shift 2; else opts+=("$1"); shift; fi
done
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
cmake -S . -B "$dir" -G Ninja -DPython3_EXECUTABLE=/usr/bin/python3 "${launcher[@]}" "${opts[@]}" >/dev/null
targets=()
((${#target[@]})) && targets=(--target "${target[@]}")
cmake --build "$dir" -j "${JOBS:-$(nproc)}" "${targets[@]}"
