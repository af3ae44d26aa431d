#!/usr/bin/env bash
# Side-by-side A/B of two spoor builds on the request path: CPU per request, req/s, p99 and RSS.
#
# Usage: bench/ab.sh DIR_A DIR_B [ROUNDS] [pixel|post1|post100]
# DIR_A and DIR_B are built checkouts (npm run build). Each round runs A then B: `spoor serve` with one serving thread
# pinned to core 0, HBase at HB_PORT (default 1: the flush is off and the buffer only grows, high-water mark 8 GiB),
# `wrk -t1 -c64` pinned to core 1, 2 s of warm-up then 5 s measured; CPU from /proc/PID/stat (utime + stime).
# NODE_FLAGS_A and NODE_FLAGS_B, when set, are node's own options for that side (the same build with different V8
# flags, for example): `NODE_FLAGS_B=--max-semi-space-size=2 bench/ab.sh main main 3 pixel`.
set -euo pipefail
A=$1; B=$2; N=${3:-3}; KIND=${4:-pixel}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
node -e "
const r = require('$B/dist/bench/request.js'); const fs = require('fs')
fs.writeFileSync('$work/post1.json', r.postBody(1)); fs.writeFileSync('$work/post100.json', r.postBody(100))
fs.writeFileSync('$work/path', r.PATH); fs.writeFileSync('$work/ua', r.USER_AGENT); fs.writeFileSync('$work/cookie', r.COOKIE)"
case $KIND in
  pixel) TARGET=$(cat "$work/path"); BODY= ;;
  post1) TARGET=/e; BODY=$work/post1.json ;;
  post100) TARGET=/e; BODY=$work/post100.json ;;
  *) echo "unknown kind $KIND" >&2; exit 2 ;;
esac
CLK=$(getconf CLK_TCK)
port=18900
load () {
  SPOOR_BENCH_BODY=$BODY taskset -c 1 wrk -t1 -c64 -d"$1" -s "$here/wrk.lua" -H "User-Agent: $(cat "$work/ua")" \
    -H "Cookie: $(cat "$work/cookie")" -H 'Content-Type: application/json' "http://127.0.0.1:$port$TARGET"
}
for _ in $(seq 1 "$N"); do
  for v in A B; do
    d=$([ $v = A ] && echo "$A" || echo "$B")
    data=$(mktemp -d)
    printf 'data_dir = "%s"\n[server]\nport = %s\nthreads = 1\n[hbase]\nport = %s\n[shutdown]\ndrain_seconds = 0\n[buffer]\nhigh_water_bytes = 8589934592\nmax_bytes = 17179869184\n[admin]\nenabled = false\n[log]\nlevel = "error"\n' \
      "$data" "$port" "${HB_PORT:-1}" > "$data/spoor.toml"
    flags=$([ $v = A ] && echo "${NODE_FLAGS_A:-}" || echo "${NODE_FLAGS_B:-}")
    # shellcheck disable=SC2086 # the flags are words
    (cd "$d" && exec taskset -c 0 node $flags dist/daemon/cli.js serve --config "$data/spoor.toml" > "$data/log" 2>&1) &
    pid=$!
    for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.1; done
    load 2s > /dev/null
    t0=$(awk '{print $14+$15}' /proc/$pid/stat)
    out=$(load 5s)
    t1=$(awk '{print $14+$15}' /proc/$pid/stat)
    rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
    echo "$out" | sed -n 's/^WRK_JSON //p' | python3 -c "
import json, sys
j = json.load(sys.stdin); n = j['requests']
print('$v', 'rps=%.0f' % (n / j['durationUs'] * 1e6), 'cpu_us=%.2f' % (($t1 - $t0) / $CLK * 1e6 / n), 'p99_us=%d' % j['latencyUs']['p99'], 'rss_mb=%d' % ($rss / 1024), 'status_errors=%d' % j['errors']['status'])"
    kill -TERM $pid; wait $pid 2>/dev/null || true
    rm -rf "$data"
  done
done
