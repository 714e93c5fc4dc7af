#!/usr/bin/env bash
# The routeprobe demo: the incident of DESIGN.md in a throwaway lab (scripts/lab.sh). node-a cannot reach the
# metrics-server pod 172.16.1.12 on node-b because the VPC route entry 172.16.1.0/24 -> node-b is missing;
# routeprobe names that entry, on demand and then from agents that detect it, alert to syslog and resolve it. Everything lives in network namespaces named rpdemo-*, removed at the end on
# every path; the machine's own namespace is never touched. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

if [ "$(id -u)" -ne 0 ]; then
    echo "routeprobe demo: needs root to create network namespaces (try: sudo scripts/demo.sh)" >&2
    exit 1
fi
ensure_packages "${BUILD_PACKAGES[@]}" tcpdump
echo "building routeprobe ..."
swift build --product routeprobe 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\]' | tail -n 1
routeprobe=$(swift build --show-bin-path)/routeprobe

PREFIX=rpdemo-
WORK=$(mktemp -d)
lab() { scripts/lab.sh "$@" --prefix $PREFIX; }
teardown() { lab down >/dev/null 2>&1 || true; remove_namespaces $PREFIX; jobs -p | xargs -r kill 2>/dev/null || true; }
trap 'teardown; rm -rf "$WORK"' EXIT
teardown

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
short() { sed "s|$routeprobe|routeprobe|g; s|$WORK|\$WORK|g"; }

say "the lab: a VPC router (192.168.0.253), node-a 192.168.0.193, node-b 192.168.0.50, node-c 192.168.0.60"
lab up --nodes 3 --routeprobe "$routeprobe"
lab map > "$WORK/cluster-map.yaml"
cat "$WORK/cluster-map.yaml"
NODE=${PREFIX}node-a

say "node-a's routing table, read over netlink"
run "$routeprobe" routes --netns $NODE | short

say "scripts get iproute2's JSON, byte for byte"
printf '$ routeprobe routes --table all --family inet --json | cmp - <(ip -j -4 route show table all)\n'
cmp <("$routeprobe" routes --netns $NODE --table all --family inet --json) <(ip -n $NODE -j -4 route show table all) && echo identical

say "all is well: node-a probes every node's pods (ICMP and TCP to the beacons)"
run "$routeprobe" probe --netns $NODE --cluster-map "$WORK/cluster-map.yaml" node-b node-c --timeout 1s 2>&1 | short | grep -E "^[0-9]|verdict" || true

say "the incident: the VPC route entry for node-b's pod CIDR disappears"
lab break-vpc-route node-b
lab status

say "routeprobe on node-a names the missing entry"
run "$routeprobe" probe --netns $NODE --cluster-map "$WORK/cluster-map.yaml" 172.16.1.12 --timeout 1s \
    --capture-dir "$WORK" 2>&1 | short || echo "(exit $?: not every target is reachable)"

say "the captured SYNs, as tcpdump reads them"
tcpdump -nr "$WORK/172.16.1.12-tcp-9700.pcap" 2>/dev/null | sed 's/^/  /'

say "other faults, other verdicts"
lab restore-vpc-route node-b
lab reject node-c
printf 'VPC router rejects node-c:  '
"$routeprobe" probe --netns $NODE --cluster-map "$WORK/cluster-map.yaml" 172.16.2.12 --icmp --timeout 1s --json \
    | python3 -c 'import json,sys; r=json.load(sys.stdin)[0]; print(r["verdict"], "-", r["message"])' || true
lab restore-vpc-route node-c
lab node-down node-c
printf 'node-c is down:             '
"$routeprobe" probe --netns $NODE --cluster-map "$WORK/cluster-map.yaml" 172.16.2.12 --icmp --timeout 1s --json \
    | python3 -c 'import json,sys; r=json.load(sys.stdin)[0]; print(r["verdict"], "-", r["message"])' || true
lab node-up node-c

say "the entry is back: everything is reachable again"
lab restore-vpc-route node-b
run "$routeprobe" probe --netns $NODE --cluster-map "$WORK/cluster-map.yaml" node-b --timeout 1s 2>&1 | short | grep -E "verdict" || true

say "agents on node-a and node-c watch continuously (1 s rounds) and alert to syslog (RFC 5424)"
# A minimal syslog collector on a Unix socket: one datagram, one line.
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as out:
    while True:
        out.write(s.recv(65536).decode(errors="replace") + "\n")
' "$WORK/syslog.sock" "$WORK/syslog.txt" &
collector=$!
for node in node-a node-c; do
    ip netns exec ${PREFIX}$node "$routeprobe" agent --node-name $node --cluster-map "$WORK/cluster-map.yaml" \
        --interval 1s --timeout 400ms --syslog "unix:$WORK/syslog.sock" > "$WORK/agent-$node.log" 2>&1 &
    echo $! > "$WORK/agent-$node.pid"
done
sleep 2.5
echo "breaking the VPC route entry for node-b at $(date +%T.%3N)"
lab break-vpc-route node-b
sleep 3.5
echo "restoring it at $(date +%T.%3N)"
lab restore-vpc-route node-b
sleep 2.5
for node in node-a node-c; do
    pid=$(cat "$WORK/agent-$node.pid")
    kill "$pid"
    wait "$pid" 2>/dev/null || true
done
kill $collector 2>/dev/null || true
wait $collector 2>/dev/null || true
for node in node-a node-c; do echo "-- agent on $node:"; sed 's/^/  /' "$WORK/agent-$node.log"; done
echo "-- what the syslog collector received:"
sed 's/^/  /' "$WORK/syslog.txt"

say "bad input gets one line and a non-zero exit"
run "$routeprobe" route get 172.16.1 --netns $NODE || echo "(exit $?)"
run "$routeprobe" probe no-such-host.invalid || echo "(exit $?)"
