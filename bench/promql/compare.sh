#!/usr/bin/env bash
# compare.sh [build-dir] [rate] [seconds]: query_range over 1 h at a 15 s step of one metric of
# all 247 GPUs (247 series x 241 points), at a fixed request rate, against the gateway's PromQL
# API and against Debian's prometheus (2.42) fed the same samples by `promtool tsdb
# create-blocks-from openmetrics`, in one run. Both answers are compared for equality first;
# then bench/promql/open_loop drives each server in turn with the same 100 different 1 h
# windows (open loop: requests due at a fixed rate, latency from the due time, up to 32 in
# flight). Prints the load average and one line per server.
set -euo pipefail
build=${1:-build}; rate=${2:-100}; seconds=${3:-20}
load="$build/bench/gateway/gateway_load"
client="$build/bench/promql/promql_open_loop"
for b in "$load" "$client"; do
  [ -x "$b" ] || { echo "compare.sh: $b is missing; bash scripts/build.sh $build --target gateway_load promql_open_loop" >&2; exit 2; }
done
command -v prometheus >/dev/null && command -v promtool >/dev/null || { echo "compare.sh: prometheus/promtool missing (apt-get install prometheus)" >&2; exit 2; }
work=$(mktemp -d /tmp/rm-promql-bench.XXXXXX)
prom_pid=; gw_pid=
trap 'kill $prom_pid $gw_pid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
"$load" --gpus 247 --openmetrics "$work/om.txt" 2>/dev/null
promtool tsdb create-blocks-from openmetrics "$work/om.txt" "$work/data" >/dev/null
printf 'global:\n  scrape_interval: 15s\n' > "$work/prom.yml"
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
prometheus --config.file="$work/prom.yml" --storage.tsdb.path="$work/data" \
  --storage.tsdb.retention.time=100y --web.listen-address="127.0.0.1:$port" >"$work/prom.log" 2>&1 &
prom_pid=$!
"$load" --gpus 247 --promql --serve >"$work/serve.txt" 2>/dev/null &
gw_pid=$!
for _ in $(seq 300); do
  curl -sf "http://127.0.0.1:$port/-/ready" >/dev/null 2>&1 && [ -s "$work/serve.txt" ] && break
  sleep 0.1
done
curl -sf "http://127.0.0.1:$port/-/ready" >/dev/null || { echo "compare.sh: prometheus did not get ready:" >&2; tail -5 "$work/prom.log" >&2; exit 1; }
gw_url=$(grep -o "http://[^']*" "$work/serve.txt")
path=/${gw_url#http://*/}
gw_hostport=${gw_url#http://}; gw_hostport=${gw_hostport%%/*}
gw_port=${gw_hostport##*:}
sorted='import json,sys; d=json.load(sys.stdin)["data"]["result"]; print(json.dumps(sorted(d,key=lambda s:json.dumps(s["metric"],sort_keys=True)),sort_keys=True))'
curl -s "$gw_url" | /usr/bin/python3 -c "$sorted" > "$work/gw.json"
curl -s "http://127.0.0.1:$port$path" | /usr/bin/python3 -c "$sorted" > "$work/prom.json"
if cmp -s "$work/gw.json" "$work/prom.json"; then echo "answers: identical ($(wc -c <"$work/gw.json") bytes sorted)"; else echo "answers: DIFFER"; fi
# 100 windows one minute apart, the served one first.
start=$(sed -E 's/.*[?&]start=([0-9]+).*/\1/' <<<"$path")
for k in $(seq 0 99); do
  s=$((start - 30 * 60 + k * 60))
  sed -E "s/([?&]start=)[0-9]+/\1$s/; s/([?&]end=)[0-9]+/\1$((s + 3600))/" <<<"$path"
done > "$work/paths.txt"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) (before); rate ${rate}/s for ${seconds} s each"
echo "gateway:    $("$client" --port "$gw_port" --paths "$work/paths.txt" --rate "$rate" --seconds "$seconds" --warmup 100)"
echo "prometheus: $("$client" --port "$port" --paths "$work/paths.txt" --rate "$rate" --seconds "$seconds" --warmup 100)"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) (after)"
