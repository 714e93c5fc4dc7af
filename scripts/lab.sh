#!/usr/bin/env bash
# The routeprobe test lab: a VPC and its nodes in network namespaces, with the incident's addresses.
#
#   scripts/lab.sh up [--nodes N] [--mode vpc|hostgw] [--dual-stack] [--prefix P] [--routeprobe PATH] [--no-beacons]
#                      --no-beacons: the pods get no beacon (the caller runs its own, e.g. in containers)
#                      --dual-stack: every node and pod also gets an IPv6 (ULA) address and pod CIDR, the VPC
#                      router an IPv6 table (fd00:172:16:N::/64 via the node, a blackhole for fd00:172:16::/48)
#   scripts/lab.sh down | status                       [--prefix P]
#   scripts/lab.sh break-vpc-route NODE | restore-vpc-route NODE   [--family 4|6, default 4]
#   scripts/lab.sh misroute NODE OTHER | reject NODE
#   scripts/lab.sh node-down NODE | node-up NODE | break-kernel-route ON_NODE NODE   [--prefix P]
#   scripts/lab.sh block-source NODE | unblock-source NODE   the VPC drops NODE's host traffic to pod CIDRs
#                                                     (as a security group or network ACL on one node would)
#   scripts/lab.sh map [--prefix P]                     prints the cluster map of the lab (YAML)
#   scripts/lab.sh vpc-table [--format aws|azure|gcp] [--prefix P]
#                                                      prints the VPC router's table as that cloud's CLI would
#
# Topology: namespace ${P}vpc is the VPC router (192.168.0.253 on the bridge vpcbr). Node i is namespace
# ${P}node-X (node-a 192.168.0.193, node-b 192.168.0.50, node-c 192.168.0.60, then .61 ...), with pod CIDR
# 172.16.i.0/24 on its bridge cni0 (172.16.i.1) and one pod namespace ${P}pod-X at 172.16.i.12 running a
# beacon on TCP 9700. In vpc mode the nodes' default route points at the VPC router, which holds one route
# per pod CIDR and a blackhole for the rest of 172.16.0.0/16 (it drops silently, as a VPC does). In hostgw
# mode each node also holds direct routes to the other nodes' pod CIDRs.
# Nothing is added to the machine's own namespace. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

PREFIX=rplab-
NODES=3
MODE=vpc
ROUTEPROBE=""
command=${1:-}
[ -n "$command" ] && shift
arguments=()
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) PREFIX=$2; shift 2 ;;
        --nodes) NODES=$2; shift 2 ;;
        --mode) MODE=$2; shift 2 ;;
        --routeprobe) ROUTEPROBE=$2; shift 2 ;;
        --format) FORMAT=$2; shift 2 ;;
        --dual-stack) DUAL_STACK=1; shift ;;
        --no-beacons) NO_BEACONS=1; shift ;;
        --family) FAMILY=$2; shift 2 ;;
        *) arguments+=("$1"); shift ;;
    esac
done
set -- "${arguments[@]+"${arguments[@]}"}"

fail() { echo "lab.sh: $*" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || fail "needs root (it creates network namespaces)"
[[ "$PREFIX" =~ ^[a-z0-9-]{1,12}$ ]] || fail "prefix must be 1-12 lower-case letters, digits or dashes"
STATE=/run/routeprobe-lab/$PREFIX

letters=(a b c d e f g h i j k l m n o p q r s t u v w x y z)
node_name() { local i=$1; if [ "$i" -lt 26 ]; then echo "node-${letters[$i]}"; else echo "node-$i"; fi; }
node_ip() { case $1 in 0) echo 192.168.0.193 ;; 1) echo 192.168.0.50 ;; *) echo "192.168.0.$((58 + $1))" ;; esac; }
# On a dual-stack lab: the node's IPv6 address ends in its IPv4 address's last number, as hex digits.
node_ip6() { local v4; v4=$(node_ip "$1"); echo "fd00:192:168::${v4##*.}"; }
dual_stack() { [ -e "$STATE/dual-stack" ]; }
# The index of a node given by name (node-b) or number.
node_index() {
    local name=$1 i
    for ((i = 0; i < $(cat "$STATE/nodes" 2>/dev/null || echo 0); i++)); do
        [ "$(node_name $i)" = "$name" ] && { echo $i; return; }
    done
    fail "no node named '$name' in lab $PREFIX (see: scripts/lab.sh status --prefix $PREFIX)"
}
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

up() {
    [[ "$NODES" =~ ^[0-9]+$ ]] && [ "$NODES" -ge 2 ] && [ "$NODES" -le 50 ] || fail "--nodes must be 2 to 50"
    [ "$MODE" = vpc ] || [ "$MODE" = hostgw ] || fail "--mode must be vpc or hostgw"
    [ -e "$STATE" ] && fail "lab $PREFIX is already up (scripts/lab.sh down --prefix $PREFIX)"
    if [ -z "$ROUTEPROBE" ] && [ -z "${NO_BEACONS:-}" ]; then
        swift build >/dev/null   # all three executables: `routeprobe beacon` runs in routeprobe-agent
        ROUTEPROBE=$(swift build --show-bin-path)/routeprobe
    fi
    [ -z "${DUAL_STACK:-}" ] || [ "$MODE" = vpc ] || fail "--dual-stack needs --mode vpc"
    mkdir -p "$STATE"
    echo "$NODES" > "$STATE/nodes"
    echo "$MODE" > "$STATE/mode"
    [ -n "${DUAL_STACK:-}" ] && touch "$STATE/dual-stack"
    local vpc=${PREFIX}vpc
    ip netns add "$vpc"
    ip -n "$vpc" link set lo up
    # A VPC router forwards and drops; it never tells nodes to talk to each other directly (no redirects,
    # set before any interface exists so every interface inherits it), and it does not rate-limit the ICMP
    # errors of rejected routes (so every probe of a test sees its own).
    in_ns "$vpc" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
        net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.default.send_redirects=0 net.ipv4.icmp_ratelimit=0
    ip -n "$vpc" link add vpcbr type bridge
    ip -n "$vpc" addr add 192.168.0.253/24 dev vpcbr
    ip -n "$vpc" link set vpcbr up
    ip -n "$vpc" route add blackhole 172.16.0.0/16
    if dual_stack; then
        # Addresses without duplicate address detection (nodad): usable at once, not seconds later.
        in_ns "$vpc" sysctl -qw net.ipv6.conf.all.forwarding=1 net.ipv6.icmp.ratelimit=0
        ip -n "$vpc" addr add fd00:192:168::253/64 dev vpcbr nodad
        ip -n "$vpc" route add blackhole fd00:172:16::/48
    fi
    local i j
    for ((i = 0; i < NODES; i++)); do
        local name; name=$(node_name $i)
        local node=${PREFIX}$name pod=${PREFIX}pod-${name#node-} ip; ip=$(node_ip $i)
        ip netns add "$node"
        ip netns add "$pod"
        ip -n "$node" link set lo up
        ip -n "$pod" link set lo up
        in_ns "$node" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
            net.ipv4.conf.all.accept_redirects=0 net.ipv4.conf.default.accept_redirects=0 \
            net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.default.send_redirects=0
        # The node's uplink: eth0 in the node, vpc-N on the VPC bridge.
        ip -n "$vpc" link add "vpc-$i" type veth peer name eth0 netns "$node"
        ip -n "$vpc" link set "vpc-$i" master vpcbr up
        ip -n "$node" addr add "$ip/24" dev eth0
        ip -n "$node" link set eth0 up
        ip -n "$node" route add default via 192.168.0.253
        # The pod network: bridge cni0 and one pod behind it.
        ip -n "$node" link add cni0 type bridge
        ip -n "$node" addr add "172.16.$i.1/24" dev cni0
        ip -n "$node" link set cni0 up
        ip -n "$node" link add "veth-pod" type veth peer name eth0 netns "$pod"
        ip -n "$node" link set veth-pod master cni0 up
        ip -n "$pod" addr add "172.16.$i.12/24" dev eth0
        ip -n "$pod" link set eth0 up
        ip -n "$pod" route add default via "172.16.$i.1"
        [ "$MODE" = vpc ] && ip -n "$vpc" route add "172.16.$i.0/24" via "$ip"
        if dual_stack; then
            in_ns "$node" sysctl -qw net.ipv6.conf.all.forwarding=1 net.ipv6.conf.all.accept_redirects=0 net.ipv6.icmp.ratelimit=0
            ip -n "$node" addr add "$(node_ip6 $i)/64" dev eth0 nodad
            ip -n "$node" route add default via fd00:192:168::253
            ip -n "$node" addr add "fd00:172:16:$i::1/64" dev cni0 nodad
            ip -n "$pod" addr add "fd00:172:16:$i::12/64" dev eth0 nodad
            ip -n "$pod" route add default via "fd00:172:16:$i::1"
            ip -n "$vpc" route add "fd00:172:16:$i::/64" via "$(node_ip6 $i)"
        fi
        # The beacon in the pod, holding none of this script's descriptors (a caller waiting for this
        # script's output must not wait for the beacon too).
        if [ -z "${NO_BEACONS:-}" ]; then
            start_daemon "$STATE/beacon-$i.log" ip netns exec "$pod" "$ROUTEPROBE" beacon --listen 9700
            echo "$DAEMON_PID" > "$STATE/beacon-$i.pid"
        fi
    done
    if [ "$MODE" = hostgw ]; then
        for ((i = 0; i < NODES; i++)); do
            for ((j = 0; j < NODES; j++)); do
                [ $i -eq $j ] && continue
                ip -n "${PREFIX}$(node_name $i)" route add "172.16.$j.0/24" via "$(node_ip $j)"
            done
        done
    fi
    # Wait until every beacon listens.
    for ((i = 0; i < NODES; i++)); do
        [ -n "${NO_BEACONS:-}" ] && break
        local pod=${PREFIX}pod-$(node_name $i | sed 's/node-//') tries=0
        until in_ns "$pod" bash -c 'exec 3<>/dev/tcp/127.0.0.1/9700' 2>/dev/null; do
            tries=$((tries + 1)); [ $tries -gt 100 ] && fail "the beacon in $pod did not start: $(cat "$STATE/beacon-$i.log")"
            sleep 0.05
        done
    done
    echo "lab $PREFIX is up: $NODES nodes, $MODE mode$(dual_stack && echo ", dual stack")"
}

down() {
    if [ -d "$STATE" ]; then
        for pidfile in "$STATE"/beacon-*.pid; do
            [ -e "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
        done
        rm -rf "$STATE"
    fi
    for namespace in $(ip netns list | awk '{print $1}' | grep "^${PREFIX}" || true); do
        ip netns pids "$namespace" 2>/dev/null | xargs -r kill 2>/dev/null || true
        ip netns del "$namespace"
    done
}

status() {
    [ -d "$STATE" ] || { echo "lab $PREFIX is down"; return; }
    echo "lab $PREFIX: $(cat "$STATE/nodes") nodes, $(cat "$STATE/mode") mode"
    echo "VPC route table:"
    ip -n "${PREFIX}vpc" route show | sed 's/^/  /'
}

cluster_map() {
    local i
    echo "probePort: 9700"
    echo "nodes:"
    for ((i = 0; i < $(cat "$STATE/nodes"); i++)); do
        echo "  - name: $(node_name $i)"
        if dual_stack; then
            echo "    ips: [$(node_ip $i), $(node_ip6 $i)]"
            echo "    podCIDRs: [172.16.$i.0/24, \"fd00:172:16:$i::/64\"]"
            echo "    podTargets: [172.16.$i.12, \"fd00:172:16:$i::12\"]"
        else
            echo "    ip: $(node_ip $i)"
            echo "    podCIDRs: [172.16.$i.0/24]"
            echo "    podTargets: [172.16.$i.12]"
        fi
        echo "    instanceID: i-lab-$(node_name $i)"
    done
}

# The VPC router's table as `aws ec2 describe-route-tables` prints it: each route via a node becomes an
# entry with that node's instance id, blackholes keep AWS's "blackhole" state, the subnet is "local".
vpc_table() {   # the VPC router's table in the JSON shape of $FORMAT's CLI (aws, azure or gcp)
    local i ids=""
    case "${FORMAT:-aws}" in aws|azure|gcp) ;; *) fail "--format must be aws, azure or gcp" ;; esac
    for ((i = 0; i < $(cat "$STATE/nodes"); i++)); do
        ids+="$(node_ip $i)=$(node_name $i) "
        dual_stack && ids+="$(node_ip6 $i)=$(node_name $i) "
    done
    { ip -n "$vpc" -j route show; if dual_stack; then ip -n "$vpc" -j -6 route show; else echo "[]"; fi; } | python3 -c '
import json, sys
names = dict(pair.split("=") for pair in sys.argv[1].split())
cloud = sys.argv[2]
entries = []
decoder, text, routes = json.JSONDecoder(), sys.stdin.read(), []
position = 0
while position < len(text.rstrip()):   # one JSON list per family
    while text[position].isspace(): position += 1
    value, position = decoder.raw_decode(text, position)
    routes += value
for route in routes:
    destination = route["dst"] if "/" in route["dst"] else route["dst"] + ("/128" if ":" in route["dst"] else "/32")
    if route.get("type") in ("blackhole", "unreachable", "prohibit") or destination.startswith(("fe80:", "ff")):
        continue
    entries.append((destination, route.get("gateway")))
if cloud == "aws":
    routes = []
    for destination, gateway in entries:
        key = "DestinationIpv6CidrBlock" if ":" in destination else "DestinationCidrBlock"
        if gateway:
            routes.append({key: destination, "InstanceId": "i-lab-" + names[gateway] if gateway in names else "i-unknown-" + gateway,
                           "Origin": "CreateRoute", "State": "active"})
        else:
            routes.append({key: destination, "GatewayId": "local", "Origin": "CreateRouteTable", "State": "active"})
    print(json.dumps({"RouteTables": [{"RouteTableId": "rtb-lab", "VpcId": "vpc-lab", "Routes": routes}]}, indent=2))
elif cloud == "azure":   # az network route-table route list: kubenet routes named after their nodes
    table = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/lab/providers/Microsoft.Network/routeTables/lab-routetable"
    routes = []
    for destination, gateway in entries:
        name = names.get(gateway, "route-" + destination.replace(".", "-").replace("/", "-").replace(":", "-")) if gateway else "vnet-local"
        if gateway in names and ":" in destination:   # the cloud provider names a dual-stack route NODE____CIDR
            name += "____" + destination.replace(":", "").replace(".", "").replace("/", "")
        route = {"addressPrefix": destination, "id": table + "/routes/" + name, "name": name, "provisioningState": "Succeeded",
                 "resourceGroup": "lab", "type": "Microsoft.Network/routeTables/routes"}
        route.update({"nextHopType": "VirtualAppliance", "nextHopIpAddress": gateway} if gateway else {"nextHopType": "VnetLocal"})
        routes.append(route)
    print(json.dumps(routes, indent=2))
else:                    # gcloud compute routes list --format=json: one k8s-node-route per node, to its instance
    base = "https://www.googleapis.com/compute/v1/projects/lab"
    routes = []
    for destination, gateway in entries:
        name = "kubernetes-" + destination.replace(".", "-").replace("/", "-").replace(":", "-")
        route = {"kind": "compute#route", "name": name, "destRange": destination, "network": base + "/global/networks/lab", "priority": 1000}
        if gateway in names:
            route.update({"description": "k8s-node-route", "nextHopInstance": base + "/zones/lab-a/instances/" + names[gateway]})
        elif gateway:
            route.update({"description": "", "nextHopIp": gateway})
        else:
            route.update({"description": "Default local route to the subnetwork " + destination + ".", "nextHopNetwork": base + "/global/networks/lab"})
        routes.append(route)
    print(json.dumps(routes, indent=2))
' "$ids" "${FORMAT:-aws}"
}

need() { [ $# -ge "$1" ] || fail "$command needs $2"; }
vpc=${PREFIX}vpc
case "$command" in
    up) up ;;
    down) down ;;
    status) status ;;
    map) [ -d "$STATE" ] || fail "lab $PREFIX is down"; cluster_map ;;
    vpc-table) [ -d "$STATE" ] || fail "lab $PREFIX is down"; vpc_table ;;
    break-vpc-route) need 1 NODE; i=$(node_index "$1")
        case "${FAMILY:-4}" in
            4) ip -n "$vpc" route del "172.16.$i.0/24" ;;
            6) dual_stack || fail "--family 6 needs a dual-stack lab"; ip -n "$vpc" route del "fd00:172:16:$i::/64" ;;
            *) fail "--family must be 4 or 6" ;;
        esac ;;
    restore-vpc-route) need 1 NODE; i=$(node_index "$1")
        case "${FAMILY:-4}" in
            4) ip -n "$vpc" route replace "172.16.$i.0/24" via "$(node_ip "$i")" ;;
            6) dual_stack || fail "--family 6 needs a dual-stack lab"; ip -n "$vpc" route replace "fd00:172:16:$i::/64" via "$(node_ip6 "$i")" ;;
            *) fail "--family must be 4 or 6" ;;
        esac ;;
    misroute) need 2 "NODE OTHER"; i=$(node_index "$1"); j=$(node_index "$2"); ip -n "$vpc" route replace "172.16.$i.0/24" via "$(node_ip "$j")" ;;
    reject) need 1 NODE; i=$(node_index "$1"); ip -n "$vpc" route replace unreachable "172.16.$i.0/24" ;;
    node-down) need 1 NODE; i=$(node_index "$1"); ip -n "$vpc" link set "vpc-$i" down ;;
    node-up) need 1 NODE; i=$(node_index "$1"); ip -n "$vpc" link set "vpc-$i" up ;;
    block-source) need 1 NODE; i=$(node_index "$1"); ip -n "$vpc" rule add from "$(node_ip "$i")" to 172.16.0.0/16 blackhole pref 100 ;;
    unblock-source) need 1 NODE; i=$(node_index "$1"); ip -n "$vpc" rule del from "$(node_ip "$i")" to 172.16.0.0/16 blackhole pref 100 ;;
    break-kernel-route)
        need 2 "ON_NODE NODE"; i=$(node_index "$1"); j=$(node_index "$2")
        ip -n "${PREFIX}$(node_name "$i")" route replace blackhole "172.16.$j.0/24" ;;
    ""|-h|--help|help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' ;;
    *) fail "unknown command '$command' (see: scripts/lab.sh help)" ;;
esac
