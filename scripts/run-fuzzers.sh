#!/usr/bin/env bash
# run-fuzzers.sh <build-dir> <seconds>: runs every libFuzzer binary in <build-dir>/fuzz for a
# bounded time, starting from fuzz/corpus/<name>/ (copied, so the repo's seeds stay small).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$1 secs=$2
found=0
while IFS= read -r bin; do
  name=$(basename "$bin")
  found=1
  work=$(mktemp -d)
  [ -d "fuzz/corpus/$name" ] && cp -r "fuzz/corpus/$name/." "$work/"
  echo "fuzz: $name for ${secs}s"
  "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "$work" 2>&1 | tail -n 4
  rm -rf "$work"
done < <(find "$dir/fuzz" -type f -executable -name '*_fuzzer' | sort)
[ "$found" = 1 ] || echo "fuzz: no fuzzers built"
