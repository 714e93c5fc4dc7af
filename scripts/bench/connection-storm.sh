#!/usr/bin/env bash
# Benchmark: the aggregator's memory through a connection storm, as shipped (release, --static-swift-stdlib).
# In a namespace of its own (rpbench-storm, removed on exit): the aggregator idle, then CONNECTIONS clients
# (Python asyncio, one process) each open a connection, send GET /healthz and hold it open HOLD seconds, then
# all close. Prints the aggregator's RSS idle, at the peak, and 1, 5 and 15 s after the storm.
# Target (issue 14): at most 60 MB once the storm is over (it stayed at 133 MB after 5,000 connections).
# Usage: scripts/bench/connection-storm.sh [CONNECTIONS] [HOLD]   (defaults 5000, 3)
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib.sh
ensure_packages "${BUILD_PACKAGES[@]}" python3
build_release_routeprobe
CONNECTIONS=${1:-5000}
HOLD=${2:-3}
NS=rpbench-storm
WORK=$(mktemp -d)
cleanup() { remove_namespaces $NS; rm -rf "$WORK"; }
trap cleanup EXIT
cleanup 2>/dev/null || true
WORK=$(mktemp -d)
ip netns add $NS
ip -n $NS link set lo up
echo "storm-token-0123456789" > "$WORK/token"
ip netns exec $NS "$ROUTEPROBE" aggregator --listen 127.0.0.1:9800 --token-file "$WORK/token" --allow-shared-token --plain-http \
    --syslog unix:/nonexistent/syslog.sock > "$WORK/aggregator.log" 2>&1 &
sleep 1
pid=$(ip netns pids $NS | head -n 1)
rss() { awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$pid/status"; }
sleep 2
idle=$(rss)
ip netns exec $NS python3 - "$CONNECTIONS" "$HOLD" <<'PY' &
import asyncio, sys
count, hold = int(sys.argv[1]), float(sys.argv[2])
async def one(i):
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", 9800)
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
    print("connections answered: %d of %d" % (sum(results), count))
asyncio.run(main())
PY
storm=$!
peak=$idle
while kill -0 $storm 2>/dev/null; do
    now=$(rss); peak=$(echo "if ($now > $peak) $now else $peak" | bc); sleep 0.2
done
wait $storm || true
after1=$(sleep 1; rss); after5=$(sleep 4; rss); after15=$(sleep 10; rss)
printf 'aggregator RSS (MB): idle %s, peak %s, after the storm +1 s %s, +5 s %s, +15 s %s\n' "$idle" "$peak" "$after1" "$after5" "$after15"
