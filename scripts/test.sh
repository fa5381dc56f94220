#!/usr/bin/env bash
# Sets up everything the tests need on a fresh Debian 12 machine and runs all of them:
#   packages -> build (warnings as errors) -> unit + integration tests -> Python SDK tests ->
#   Docker tests (starts dockerd, builds local base images) -> ASan+UBSan unit tests ->
#   TSan tests (ring buffer, broker) -> bounded libFuzzer runs.
# Stages can be skipped for local iteration: RM_SKIP="asan tsan fuzz docker".
# Under CI=true a Docker test that would skip fails instead (RM_REQUIRE_DOCKER=1).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
JOBS=${JOBS:-$(nproc)}
export PYTHON=${PYTHON:-/usr/bin/python3}
if [ "${CI:-}" = "true" ]; then export RM_REQUIRE_DOCKER=1; fi

skip() { [[ " ${RM_SKIP:-} " == *" $1 "* ]]; }
stage() { printf '\n===== %s =====\n' "$*"; }
t0=$SECONDS
elapsed() { echo "(+$((SECONDS - t0)) s)"; }

stage "setup" && bash scripts/setup.sh

stage "build $(elapsed)"
bash scripts/build.sh build -DRM_WERROR=ON

stage "unit + integration tests $(elapsed)"
ctest --test-dir build --output-on-failure -j "$JOBS" -L 'unit|integration' --timeout 300

if [ -d python/tests ]; then
  stage "python SDK tests $(elapsed)"
  RM_IPC_LIBRARY="$ROOT/build/ipc/libremotemedia_ipc.so" PYTHONPATH="$ROOT/python" \
    "$PYTHON" -m pytest -q python/tests
fi

if ! skip docker && [ -x scripts/docker-up.sh ]; then
  stage "docker tests $(elapsed)"
  bash scripts/docker-up.sh
  ctest --test-dir build --output-on-failure -j 1 -L docker --timeout 900
fi

if ! skip asan; then
  stage "ASan+UBSan unit tests $(elapsed)"
  bash scripts/build.sh build-asan -DRM_SANITIZE=address -DRM_BUILD_BENCH=OFF --target rm_unit_tests
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-asan --output-on-failure -j "$JOBS" -L unit --timeout 600
fi

if ! skip tsan && grep -rqs 'LABELS.*tsan' tests; then
  stage "TSan tests $(elapsed)"
  bash scripts/build.sh build-tsan -DRM_SANITIZE=thread -DRM_BUILD_BENCH=OFF --target rm_tsan_tests
  TSAN_OPTIONS=halt_on_error=1 ctest --test-dir build-tsan --output-on-failure -j "$JOBS" -L tsan --timeout 600
fi

if ! skip fuzz && [ -f fuzz/CMakeLists.txt ]; then
  stage "fuzzing (bounded) $(elapsed)"
  CC=clang CXX=clang++ bash scripts/build.sh build-fuzz -DRM_BUILD_FUZZ=ON -DRM_BUILD_TESTS=OFF \
    -DRM_BUILD_BENCH=OFF --target rm_fuzzers
  bash scripts/run-fuzzers.sh build-fuzz "${FUZZ_SECONDS:-20}"
fi

stage "all tests passed $(elapsed)"
