#!/usr/bin/env bash
# The routeprobe demo: builds routeprobe and shows the node's routing view inside a throwaway lab.
# Everything lives in network namespaces named rpdemo-*, removed at the end on every path; the machine's own
# namespace is never touched. Needs root (it creates namespaces).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

if [ "$(id -u)" -ne 0 ]; then
    echo "routeprobe demo: needs root to create network namespaces (try: sudo scripts/demo.sh)" >&2
    exit 1
fi
ensure_packages "${BUILD_PACKAGES[@]}"
swift build --product routeprobe 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\]' || true
routeprobe=$(swift build --show-bin-path)/routeprobe

VPC=rpdemo-vpc NODE=rpdemo-node-a
trap 'remove_namespaces rpdemo-' EXIT
remove_namespaces rpdemo-

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

# The lab: a VPC router on 192.168.0.0/24 (gateway .253) and node-a (192.168.0.193) with pod CIDR 172.16.0.0/24.
ip netns add $VPC
ip netns add $NODE
ip -n $VPC link set lo up
ip -n $NODE link set lo up
ip -n $VPC link add vpc0 type veth peer name eth0 netns $NODE
ip -n $VPC addr add 192.168.0.253/24 dev vpc0
ip -n $VPC link set vpc0 up
ip -n $NODE addr add 192.168.0.193/24 dev eth0
ip -n $NODE link set eth0 up
ip -n $NODE route add default via 192.168.0.253
ip -n $NODE link add cni0 type bridge
ip -n $NODE addr add 172.16.0.1/24 dev cni0
ip -n $NODE link set cni0 up
# The VPC route table: one entry per node's pod CIDR; what it has no entry for, it drops (as a VPC does).
ip -n $VPC route add blackhole 172.16.0.0/12
ip -n $VPC route add 172.16.0.0/24 via 192.168.0.193
ip -n $VPC route add 172.16.2.0/24 via 192.168.0.60 dev vpc0

say "node-a's routing table, as routeprobe reads it over netlink"
run "$routeprobe" routes --netns $NODE

say "every table, counted"
run "$routeprobe" routes --netns $NODE --table all --summary

say "scripts get iproute2's JSON, byte for byte"
printf '$ routeprobe routes --table all --family inet --json | cmp - <(ip -j -4 route show table all)\n'
if cmp <("$routeprobe" routes --netns $NODE --table all --family inet --json) <(ip -n $NODE -j -4 route show table all); then
    echo "identical"
fi

say "how node-a reaches metrics-server (172.16.1.12 on node-b): only the default route covers it"
run "$routeprobe" route get 172.16.1.12 --netns $NODE
echo "(the kernel hands the packet to the VPC gateway; whether it arrives depends on the VPC route table)"

say "a local pod is reached directly over the bridge"
run "$routeprobe" route get 172.16.0.12 --netns $NODE --json

say "in the VPC router, node-b's pod CIDR has no entry: the blackhole covers it"
run "$routeprobe" route get 172.16.1.12 --netns $VPC || echo "(exit $?: the entry 172.16.1.0/24 -> node-b is missing)"

say "routes change: the monitor sees them (adding and deleting 172.16.1.0/24 -> node-b in the VPC)"
"$routeprobe" monitor --netns $VPC > /tmp/rpdemo-monitor.$$ &
monitor=$!
sleep 0.5
ip -n $VPC route add 172.16.1.0/24 via 192.168.0.50 dev vpc0
ip -n $VPC route del 172.16.1.0/24 via 192.168.0.50 dev vpc0
sleep 0.5
kill $monitor; wait $monitor 2>/dev/null || true
cat /tmp/rpdemo-monitor.$$; rm -f /tmp/rpdemo-monitor.$$

say "bad input gets one line and a non-zero exit"
run "$routeprobe" route get 172.16.1 --netns $NODE || echo "(exit $?)"
run "$routeprobe" routes --table nosuch --netns $NODE || echo "(exit $?)"
