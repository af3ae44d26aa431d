#!/usr/bin/env bash
# Serving-thread scaling: spoor with 1 and 2 serving threads (server.threads), HBase pointed at a closed port so
# only the front door and the LMDB buffer run, wrk -t1 -c64 -d10s on the same 2 cores, 3 interleaved rounds.
# Usage (from the repository root, after npm run build): bash bench/threads.sh
cd "$(dirname "$0")/.."
URL_Q='p.gif?uid=5f0c6a1e9b2d4c7f8a3e1b0d9c6f2a47&sid=7f3a9c21&p=web&a=page&url=https%3A%2F%2Fshop.example.com%2Fshoes%2Frunning%3Fsize%3D42&ref=https%3A%2F%2Fwww.google.com%2F&it=sku-48213&ch=shoes&ct=1764149400123&d=%7B%22w%22%3A1280%2C%22h%22%3A720%7D'
for round in 1 2 3; do
  for T in 1 2; do
    D=$(mktemp -d /tmp/spoor-scale-XXXX)
    printf 'data_dir = "%s"\n[server]\nport = 18900\nthreads = %s\n[hbase]\nport = 1\n[admin]\nenabled = false\n[log]\nlevel = "error"\n[shutdown]\ndrain_seconds = 0\n' "$D" "$T" > "$D/c.toml"
    node dist/daemon/cli.js serve --config "$D/c.toml" > "$D/log" 2>&1 &
    PID=$!
    sleep 1.5
    wrk -t1 -c64 -d2s "http://127.0.0.1:18900/$URL_Q" > /dev/null
    R=$(wrk -t1 -c64 -d10s --latency -H 'User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0.0.0 Safari/537.36' -H 'Referer: https://shop.example.com/shoes/running?size=42' "http://127.0.0.1:18900/$URL_Q")
    echo "round $round threads $T $(echo "$R" | grep -E 'Requests/sec' | awk '{print $2}') req/s p99 $(echo "$R" | grep -E '^ +99%' | awk '{print $2}') load $(cut -d' ' -f1 /proc/loadavg)"
    kill -TERM $PID; wait $PID 2>/dev/null
    rm -rf "$D"
  done
done
