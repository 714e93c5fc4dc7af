#!/usr/bin/env bash
# The healthy soak: a six-node lab (namespaces rpsoak-*), an aggregator (TLS, a token per node, the lab's VPC
# table) and an agent on every node at 1 s rounds, for MINUTES, while routes are added and deleted elsewhere
# in the tables all the time: in every node's main table and in table 100, and in the VPC router's table, for
# prefixes outside the pod CIDRs (10.250.0.0/16, 10.251.0.0/16). That churn must not alarm.
# Release build with --static-swift-stdlib, as the image ships it.
#
#   scripts/soak.sh [MINUTES] [CHANGES_PER_SECOND]     defaults 30 and 20 (per namespace: 7 namespaces churn)
#
# Every minute it samples the resident memory of every routeprobe process (the aggregator, six agents, six
# beacons). At the end it prints, per process, RSS after the first minute, at the end and the largest, and the
# aggregator's findings, the alerts in syslog and the route changes made. It exits 1 when a finding opened, an
# alert was sent, a process died, or a process's RSS grew by more than 2 MB from its first-minute sample to
# its last. Not in CI (it takes MINUTES). Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
MINUTES=${1:-30}
RATE=${2:-20}
[[ "$MINUTES" =~ ^[0-9]+$ ]] && [ "$MINUTES" -ge 2 ] || { echo "soak.sh: MINUTES must be a whole number, at least 2" >&2; exit 2; }
[[ "$RATE" =~ ^[0-9]+$ ]] && [ "$RATE" -ge 1 ] && [ "$RATE" -le 1000 ] || { echo "soak.sh: CHANGES_PER_SECOND must be 1 to 1000" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "soak.sh: needs root (it builds network namespaces)" >&2; exit 1; }
ensure_packages "${BUILD_PACKAGES[@]}" curl openssl python3

PREFIX=rpsoak-
WORK=$(mktemp -d /tmp/rpsoak.XXXXXX)
lab() { scripts/lab.sh "$@" --prefix $PREFIX; }
cleanup() { jobs -p | xargs -r kill 2>/dev/null || true; lab down > /dev/null 2>&1 || true; remove_namespaces $PREFIX; rm -rf "$WORK"; }
trap cleanup EXIT
lab down > /dev/null 2>&1 || true

build_release_routeprobe
NODES=(node-a node-b node-c node-d node-e node-f)
lab up --nodes 6 --routeprobe "$ROUTEPROBE"
lab map > "$WORK/cluster-map.yaml"
lab vpc-table > "$WORK/vpc-table.json"
scripts/lab-certificates.sh "$WORK/tls" 192.168.0.253
: > "$WORK/node-tokens.yaml"
for node in "${NODES[@]}"; do
    head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$WORK/token-$node"
    echo "$node: $(cat "$WORK/token-$node")" >> "$WORK/node-tokens.yaml"
done
head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$WORK/token"
: > "$WORK/syslog.txt"
start_syslog_collector "$WORK/syslog.sock" "$WORK/syslog.txt"
sleep 0.3

declare -A PIDS
ip netns exec ${PREFIX}vpc "$ROUTEPROBE" aggregator --listen 192.168.0.253:9800 --cluster-map "$WORK/cluster-map.yaml" \
    --vpc-route-table "$WORK/vpc-table.json" --node-tokens "$WORK/node-tokens.yaml" --token-file "$WORK/token" \
    --tls-cert "$WORK/tls/server.crt" --tls-key "$WORK/tls/server.key" --syslog "unix:$WORK/syslog.sock" \
    > "$WORK/aggregator.log" 2>&1 &
PIDS[aggregator]=$!
sleep 0.5
for node in "${NODES[@]}"; do
    ip netns exec ${PREFIX}$node "$ROUTEPROBE" agent --node-name $node --cluster-map "$WORK/cluster-map.yaml" \
        --interval 1s --timeout 400ms --syslog "unix:$WORK/syslog.sock" \
        --aggregator https://192.168.0.253:9800 --aggregator-ca "$WORK/tls/ca.crt" --token-file "$WORK/token-$node" \
        > "$WORK/agent-$node.log" 2>&1 &
    PIDS[agent-$node]=$!
done
for i in "${!NODES[@]}"; do
    PIDS[beacon-${NODES[$i]}]=$(cat /run/routeprobe-lab/$PREFIX/beacon-$i.pid)
done

# The churn: one `ip -batch` per namespace, fed add/delete pairs at RATE changes a second. Nodes: a route to
# a 10.250.N.0/24 in the main table and one in table 100; the VPC router: 10.251.N.0/24 via a node.
churn() {   # NAMESPACE KIND
    python3 -u -c '
import sys, time
kind, rate = sys.argv[1], int(sys.argv[2])
n = 0
while True:
    net = n % 250
    if kind == "vpc":
        hop = ["192.168.0.193", "192.168.0.50", "192.168.0.60"][n % 3]
        print("route replace 10.251.%d.0/24 via %s" % (net, hop)); print("route del 10.251.%d.0/24" % net)
    else:
        table = "" if n % 2 == 0 else " table 100"
        print("route replace 10.250.%d.0/24 via 192.168.0.253%s" % (net, table)); print("route del 10.250.%d.0/24%s" % (net, table))
    n += 1
    time.sleep(2.0 / rate)
' "$2" "$RATE" | ip -n "$1" -force -batch - > /dev/null 2>&1 &
}
churn ${PREFIX}vpc vpc
for node in "${NODES[@]}"; do churn ${PREFIX}$node node; done
sleep 2
# The churn as the kernel sees it (RTM_NEWROUTE and RTM_DELROUTE notifications, what the agents' monitors get).
seen_node=$(timeout 5 ip -n ${PREFIX}node-a monitor route 2>/dev/null | grep -c '^\(Deleted \)\?10\.250\.' || true)
seen_vpc=$(timeout 5 ip -n ${PREFIX}vpc monitor route 2>/dev/null | grep -c '^\(Deleted \)\?10\.251\.' || true)
echo "route changes the kernel announced in 5 s: node-a $seen_node (main table and table 100), VPC router $seen_vpc"
[ "$seen_node" -gt 0 ] && [ "$seen_vpc" -gt 0 ] || { echo "soak.sh: the churn does not reach the routing tables" >&2; exit 1; }
echo "soaking for $MINUTES minutes: 6 agents at 1 s, 7 namespaces churning $RATE route changes a second each ..."

rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
declare -A FIRST LAST MAX
names=(aggregator); for node in "${NODES[@]}"; do names+=(agent-$node); done; for node in "${NODES[@]}"; do names+=(beacon-$node); done
died=""
for minute in $(seq "$MINUTES"); do
    sleep 60
    for name in "${names[@]}"; do
        pid=${PIDS[$name]}
        if ! kill -0 "$pid" 2>/dev/null; then died+=" $name"; continue; fi
        value=$(rss "$pid")
        [ "$minute" -eq 1 ] && FIRST[$name]=$value
        LAST[$name]=$value
        [ "${MAX[$name]:-0}" -lt "$value" ] && MAX[$name]=$value
    done
    printf '  minute %2d: aggregator %s kB, agent-node-a %s kB, alerts %s\n' "$minute" "${LAST[aggregator]:-?}" \
        "${LAST[agent-node-a]:-?}" "$(grep -c . "$WORK/syslog.txt" || true)"
done
findings=$(ip netns exec ${PREFIX}vpc curl -s --cacert "$WORK/tls/ca.crt" -H "Authorization: Bearer $(cat "$WORK/token")" \
    https://192.168.0.253:9800/api/v1/findings | python3 -c 'import json, sys; print(len(json.load(sys.stdin)["findings"]))')
alerts=$(grep -c . "$WORK/syslog.txt" || true)
routes=$(ip -n ${PREFIX}node-a route show | wc -l)

printf '\n%-18s %12s %12s %12s %10s\n' process "RSS 1 min" "RSS end" "RSS max" "growth"
status=0
for name in "${names[@]}"; do
    growth=$(( ${LAST[$name]:-0} - ${FIRST[$name]:-0} ))
    printf '%-18s %9.1f MB %9.1f MB %9.1f MB %7.2f MB\n' "$name" "$(echo "${FIRST[$name]:-0} / 1024" | bc -l)" \
        "$(echo "${LAST[$name]:-0} / 1024" | bc -l)" "$(echo "${MAX[$name]:-0} / 1024" | bc -l)" "$(echo "$growth / 1024" | bc -l)"
    [ "$growth" -le 2048 ] || status=1
done
changes=$(( MINUTES * 60 * RATE * 7 ))
echo "route changes: about $changes in $MINUTES minutes (7 namespaces, $RATE a second each); node-a's main table at the end: $routes routes"
echo "open findings at the aggregator: $findings; syslog messages (alerts of either role): $alerts"
[ -z "$died" ] || { echo "soak.sh: processes died:$died" >&2; status=1; }
[ "$findings" -eq 0 ] && [ "$alerts" -eq 0 ] || { echo "soak.sh: the healthy lab alarmed:"; head -n 5 "$WORK/syslog.txt"; status=1; }
[ $status -eq 0 ] && echo "soak passed: no finding, no alert, every process's RSS flat (within 2 MB)" || echo "soak FAILED"
exit $status
