#!/usr/bin/env bash
# Benchmark: the agent's memory through a netlink route flood, as shipped (release, --static-swift-stdlib).
# A lab of 3 nodes (namespaces rpbflood-*, removed on exit); node-a's agent (1 s rounds) is idle, then
# ROUTES routes are added to node-a's main table in one `ip -batch` and deleted again. Prints the agent's RSS
# before, at the peak, and 5 and 40 s after (the agent hands freed memory back every 30 s).
# Target (issue 14): back to where it was (it stayed 5 MB higher after 50,000 routes).
# Usage: scripts/bench/route-flood.sh [ROUTES]   (default 50000)
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib.sh
ensure_packages "${BUILD_PACKAGES[@]}" bc
build_release_routeprobe
ROUTES=${1:-50000}
LAB=rpbflood-
WORK=$(mktemp -d)
lab() { scripts/lab.sh "$@" --prefix $LAB; }
cleanup() { lab down > /dev/null 2>&1 || true; remove_namespaces $LAB; rm -rf "$WORK"; }
trap cleanup EXIT
remove_namespaces $LAB
lab up --nodes 3 --routeprobe "$ROUTEPROBE" > /dev/null
lab map > "$WORK/map.yaml"
ip netns exec ${LAB}node-a "$ROUTEPROBE" agent --node-name node-a --cluster-map "$WORK/map.yaml" --interval 1s --timeout 400ms \
    --syslog unix:/nonexistent/syslog.sock > "$WORK/agent.log" 2>&1 &
sleep 5
pid=$(pgrep -f "agent --node-name node-a --cluster-map" | head -n 1)
rss() { awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$pid/status"; }
before=$(rss)
for i in $(seq 0 $((ROUTES - 1))); do echo "route add 10.$((i / 65536 % 256)).$((i / 256 % 256)).$((i % 256))/32 via 192.168.0.253"; done > "$WORK/add"
sed 's/^route add/route del/' "$WORK/add" > "$WORK/del"
ip -n ${LAB}node-a -batch "$WORK/add"
peak=$(rss)
ip -n ${LAB}node-a -batch "$WORK/del"
sleep 1; now=$(rss); [ "$(echo "$now > $peak" | bc)" = 1 ] && peak=$now
sleep 4; after5=$(rss)
sleep 35; after40=$(rss)
printf 'agent RSS (MB): before %s, peak %s, after the flood +5 s %s, +40 s %s\n' "$before" "$peak" "$after5" "$after40"
grep -c "" "$WORK/agent.log" > /dev/null
