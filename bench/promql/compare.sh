#!/usr/bin/env bash
# compare.sh [build-dir] [rate] [seconds]: query_range over 1 h at a 15 s step of one metric of
# all 247 GPUs, at a fixed request rate, against the gateway's PromQL API and against Debian's
# prometheus (2.42) fed the same samples by `promtool tsdb create-blocks-from openmetrics`.
# Both answers are compared for equality first. Prints one gateway_load line per server.
set -euo pipefail
build=${1:-build}; rate=${2:-100}; seconds=${3:-20}
load="$build/bench/gateway/gateway_load"
work=$(mktemp -d /tmp/rm-promql-bench.XXXXXX)
trap 'kill "$prom_pid" "$gw_pid" 2>/dev/null || true; rm -rf "$work"' EXIT
"$load" --gpus 247 --openmetrics "$work/om.txt" 2>/dev/null
promtool tsdb create-blocks-from openmetrics "$work/om.txt" "$work/data" >/dev/null
printf 'global:\n  scrape_interval: 15s\n' > "$work/prom.yml"
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
prometheus --config.file="$work/prom.yml" --storage.tsdb.path="$work/data" \
  --storage.tsdb.retention.time=100y --web.listen-address="127.0.0.1:$port" >"$work/prom.log" 2>&1 &
prom_pid=$!
"$load" --gpus 247 --promql --serve >"$work/serve.txt" 2>/dev/null &
gw_pid=$!
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$port/-/ready" >/dev/null 2>&1 && [ -s "$work/serve.txt" ] && break
  sleep 0.1
done
gw_url=$(grep -o "http://[^']*" "$work/serve.txt")
path=${gw_url#http://*/}
gw_hostport=${gw_url#http://}; gw_hostport=${gw_hostport%%/*}
curl -s "$gw_url" | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin)["data"]["result"]; print(json.dumps(sorted(d,key=lambda s:json.dumps(s["metric"],sort_keys=True)),sort_keys=True))' > "$work/gw.json"
curl -s "http://127.0.0.1:$port/$path" | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin)["data"]["result"]; print(json.dumps(sorted(d,key=lambda s:json.dumps(s["metric"],sort_keys=True)),sort_keys=True))' > "$work/prom.json"
if cmp -s "$work/gw.json" "$work/prom.json"; then echo "answers: identical ($(wc -c <"$work/gw.json") bytes sorted)"; else echo "answers: DIFFER"; fi
echo "gateway:    $("$load" --gpus 247 --promql --remote "$gw_hostport" --rate "$rate" --seconds "$seconds" 2>/dev/null)"
echo "prometheus: $("$load" --gpus 247 --promql --remote "127.0.0.1:$port" --rate "$rate" --seconds "$seconds" 2>/dev/null)"
