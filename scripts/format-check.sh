#!/usr/bin/env bash
# format-check.sh: clang-format --dry-run -Werror over every tracked C++ file (.clang-format at
# the top). Prints each file that differs from its formatted form and exits 1; `make format`
# rewrites them.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.cpp' '*.hpp' '*.h' | while read -r f; do [ -f "$f" ] && echo "$f"; done)
if ((${#files[@]} == 0)); then exit 0; fi
# One clang-format run for all files; each difference is reported as "<file>:<line>:<col>: error:".
out=$(clang-format --dry-run -Werror "${files[@]}" 2>&1) && rc=0 || rc=$?
if ((rc != 0)); then
  mapfile -t bad < <(grep -oE '^[^:[:space:]]+:[0-9]+:[0-9]+: error' <<<"$out" | cut -d: -f1 | sort -u)
  if ((${#bad[@]} == 0)); then
    echo "$out" >&2
    echo "format-check: clang-format failed (exit $rc)" >&2
    exit 1
  fi
  printf 'not clang-formatted (%d of %d files; `make format` fixes them):\n' "${#bad[@]}" "${#files[@]}"
  printf '  %s\n' "${bad[@]}"
  exit 1
fi
echo "format-check: ${#files[@]} files clang-formatted"
