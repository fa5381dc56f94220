#!/usr/bin/env bash
# coverage.sh [build-dir]: line and branch coverage of the unit and integration tests.
# Builds with gcc --coverage (-O0, no sanitizers) into build-coverage, runs ctest -L
# 'unit|integration', prints line and branch coverage per module (the RM_MODULES folders) and
# writes an HTML report to <build-dir>/coverage/index.html. Branches that only exist for
# exception unwinding and ones gcc proves unreachable are left out (gcovr
# --exclude-throw-branches --exclude-unreachable-branches), so the branch number counts
# decisions in the code. Not part of CI; `make coverage` runs it.
# A quicker partial run: COVERAGE_TARGETS="telemetry_unit_tests ..." builds only those targets
# (tests not built then fail at once in ctest) and COVERAGE_MODULES="core telemetry" limits the
# report to those modules.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build-coverage}
command -v gcovr >/dev/null || { echo "coverage: gcovr is missing; run bash scripts/setup.sh" >&2; exit 1; }
flags="--coverage -O0 -g"
cfg=(-DCMAKE_BUILD_TYPE=Debug -DRM_BUILD_BENCH=OFF -DRM_SANITIZE=
  "-DCMAKE_CXX_FLAGS_DEBUG=$flags" "-DCMAKE_C_FLAGS_DEBUG=$flags"
  "-DCMAKE_EXE_LINKER_FLAGS=--coverage" "-DCMAKE_SHARED_LINKER_FLAGS=--coverage")
if [ -n "${COVERAGE_TARGETS:-}" ]; then
  for t in $COVERAGE_TARGETS; do bash scripts/build.sh "$B" "${cfg[@]}" --target "$t"; done
else
  bash scripts/build.sh "$B" "${cfg[@]}"
fi
echo "coverage: build took ${SECONDS} s"; t_build=$SECONDS
find "$B" -name '*.gcda' -delete
export RM_IPC_LIBRARY=$PWD/$B/ipc/libremotemedia_ipc.so
status=0
ctest --test-dir "$B" -L 'unit|integration' -j "${JOBS:-$(nproc)}" --timeout 600 --output-on-failure || status=$?
echo "coverage: tests took $((SECONDS - t_build)) s"
[ "$status" -eq 0 ] || echo "coverage: some tests failed (exit $status); the report covers what ran" >&2

mkdir -p "$B/coverage"
common=(--root . --object-directory "$B" --exclude-throw-branches --exclude-unreachable-branches
  --exclude 'tests/' --exclude 'bench/' --exclude 'fuzz/' --exclude "$B/" --exclude '.*/_deps/'
  --gcov-ignore-parse-errors)
for m in ${COVERAGE_MODULES:-}; do common+=(--filter "$m/"); done
gcovr "${common[@]}" --json-summary "$B/coverage/summary.json" --html-details "$B/coverage/index.html" \
  --html-title "remotemedia coverage (unit + integration)" >/dev/null
# Per module: each file counts towards the longest RM_MODULES folder containing it.
/usr/bin/python3 - "$B/coverage/summary.json" "${COVERAGE_MODULES:-}" <<'PY'
import json, sys
# (folder, name printed): the RM_MODULES folders of the top CMakeLists.txt.
modules = [("core", "core"), ("ipc", "ipc"), ("runtime", "runtime"), ("media", "media"),
           ("runtime/nodes", "nodes"), ("runtime/process", "process"), ("runtime/docker", "docker"),
           ("cli", "cli"), ("server", "server"), ("telemetry", "telemetry"),
           ("telemetry/promql", "promql"), ("apps", "apps")]
if sys.argv[2].split():
    modules = [m for m in modules if any(m[0] == w or m[0].startswith(w + "/") for w in sys.argv[2].split())]
names = dict(modules)
modules = [m for m, _ in modules]
files = json.load(open(sys.argv[1]))["files"]
acc = {}
for f in files:
    name = f["filename"]
    owner = max((m for m in modules if name.startswith(m + "/")), key=len, default=None)
    if owner is None:
        continue
    a = acc.setdefault(owner, [0, 0, 0, 0, 0])
    a[0] += f["line_covered"]; a[1] += f["line_total"]
    a[2] += f["branch_covered"]; a[3] += f["branch_total"]; a[4] += 1
pct = lambda c, t: f"{100.0 * c / t:5.1f} %" if t else "    –  "
print(f"{'module':18} {'files':>5}  {'lines':>22}  {'branches':>22}")
tot = [0, 0, 0, 0, 0]
missing = []
for m in modules:
    if m not in acc:
        missing.append(names[m])
        print(f"{names[m]:18} {0:5}  no instrumented file ran (module not built or no test reached it)")
        continue
    a = acc[m]
    tot = [x + y for x, y in zip(tot, a)]
    print(f"{names[m]:18} {a[4]:5}  {pct(a[0], a[1])} {a[0]:6}/{a[1]:<6}  {pct(a[2], a[3])} {a[2]:6}/{a[3]:<6}")
print(f"{'total':18} {tot[4]:5}  {pct(tot[0], tot[1])} {tot[0]:6}/{tot[1]:<6}  {pct(tot[2], tot[3])} {tot[2]:6}/{tot[3]:<6}")
if missing:
    print(f"coverage: no numbers for {', '.join(missing)}", file=sys.stderr)
PY
echo "coverage: HTML report $B/coverage/index.html (${SECONDS} s in all)"
exit "$status"
