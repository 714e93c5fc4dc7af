#!/usr/bin/env bash
# Benchmark: the aggregator's memory through a connection storm, as shipped (release, --static-swift-stdlib).
# In a namespace of its own (rpbench-storm, removed on exit): the aggregator idle, then CONNECTIONS clients
# (Python asyncio, one process) each open a connection, send GET /healthz and hold it open HOLD seconds, then
# all close. Prints the aggregator's RSS idle, at the peak, and 1, 5 and 15 s after the storm; over HTTPS as
# shipped and over plain HTTP, interleaved (tls, plain, tls, plain), each with a fresh aggregator.
# Target (issue 14): at most 60 MB once the storm is over (it stayed at 133 MB after 5,000 connections).
# Usage: scripts/bench/connection-storm.sh [CONNECTIONS] [HOLD]   (defaults 5000, 3)
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib.sh
ensure_packages "${BUILD_PACKAGES[@]}" python3 openssl curl bc
build_release_routeprobe
CONNECTIONS=${1:-5000}
HOLD=${2:-3}
NS=rpbench-storm
remove_namespaces $NS
WORK=$(mktemp -d)
cleanup() { remove_namespaces $NS; rm -rf "$WORK"; }
trap cleanup EXIT
ip netns add $NS
ip -n $NS link set lo up
echo "storm-token-0123456789" > "$WORK/token"
scripts/lab-certificates.sh "$WORK/tls" 127.0.0.1 > /dev/null
storm() {   # MODE: tls (HTTPS, as shipped) or plain (HTTP)
    local mode=$1 scheme=https tls_args=(--tls-cert "$WORK/tls/server.crt" --tls-key "$WORK/tls/server.key")
    [ "$mode" = tls ] || { scheme=http; tls_args=(--plain-http); }
    ip netns exec $NS "$ROUTEPROBE" aggregator --listen 127.0.0.1:9800 --token-file "$WORK/token" --allow-shared-token "${tls_args[@]}" \
        --syslog unix:/nonexistent/syslog.sock > "$WORK/aggregator-$mode.log" 2>&1 &
    local aggregator=$!
    for _ in $(seq 50); do ip netns exec $NS curl -sf --cacert "$WORK/tls/ca.crt" $scheme://127.0.0.1:9800/healthz > /dev/null && break; sleep 0.1; done
    local pid
    pid=$(ip netns pids $NS | head -n 1)
    rss() { awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$pid/status"; }
    sleep 2
    local idle
    idle=$(rss)
    ip netns exec $NS python3 - "$CONNECTIONS" "$HOLD" "$mode" "$WORK/tls/ca.crt" <<'PY' > "$WORK/storm-$mode.txt" &
import asyncio, ssl, sys
count, hold, mode, ca = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4]
context = ssl.create_default_context(cafile=ca) if mode == "tls" else None
async def one(i):
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", 9800, ssl=context)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: storm\r\n\r\n")
        await writer.drain()
        await reader.readuntil(b"}")
        await asyncio.sleep(hold)
        writer.close()
        return 1
    except Exception:
        return 0
async def main():
    results = await asyncio.gather(*[one(i) for i in range(count)])
    print("%d of %d" % (sum(results), count))
asyncio.run(main())
PY
    local storm=$! peak=$idle now
    while kill -0 $storm 2>/dev/null; do
        now=$(rss); peak=$(echo "if ($now > $peak) $now else $peak" | bc); sleep 0.2
    done
    wait $storm || true
    local after1 after5 after15
    after1=$(sleep 1; rss); after5=$(sleep 4; rss); after15=$(sleep 10; rss)
    printf '%-6s aggregator RSS (MB): idle %s, peak %s, after the storm +1 s %s, +5 s %s, +15 s %s (connections answered: %s)\n' \
        "$mode" "$idle" "$peak" "$after1" "$after5" "$after15" "$(cat "$WORK/storm-$mode.txt")"
    kill -TERM $aggregator; wait $aggregator 2>/dev/null || true
}
for mode in tls plain tls plain; do storm $mode; done
