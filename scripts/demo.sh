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
ensure_packages "${BUILD_PACKAGES[@]}" tcpdump curl bc openssl
echo "building routeprobe ..."
swift build 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\]' | tail -n 1
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

say "the fleet: an aggregator (on the VPC network, https://192.168.0.253:9800) and an agent on every node (1 s rounds)"
start_syslog_collector "$WORK/syslog.sock" "$WORK/syslog.txt"
# Each node its own token (a token speaks for its node only), a reader token for people, and TLS with a
# throw-away CA, as in a cluster (where the tokens are projected ServiceAccount tokens).
"$(dirname "$0")/lab-certificates.sh" "$WORK/tls" 192.168.0.253
: > "$WORK/node-tokens.yaml"
for node in node-a node-b node-c; do
    head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$WORK/token-$node"
    echo "$node: $(cat "$WORK/token-$node")" >> "$WORK/node-tokens.yaml"
done
head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$WORK/token"
lab vpc-table > "$WORK/vpc-table.json"
# The aggregator on 192.168.0.253:9800 (HTTPS, a token per node) and an agent on every node, alerting to
# SYSLOG_SOCKET, logging to WORK/aggregatorNAME.log and WORK/agentNAME-NODE.log; more aggregator flags after.
start_fleet() {
    local name=$1 syslog=$2; shift 2
    ip netns exec ${PREFIX}vpc "$routeprobe" aggregator --listen 192.168.0.253:9800 --node-tokens "$WORK/node-tokens.yaml" \
        --token-file "$WORK/token" --tls-cert "$WORK/tls/server.crt" --tls-key "$WORK/tls/server.key" \
        --syslog "unix:$syslog" --evaluation-interval 500ms "$@" > "$WORK/aggregator$name.log" 2>&1 &
    sleep 0.5
    for node in node-a node-b node-c; do
        ip netns exec ${PREFIX}$node "$routeprobe" agent --node-name $node --cluster-map "$WORK/cluster-map.yaml" \
            --interval 1s --timeout 400ms --syslog "unix:$syslog" \
            --aggregator https://192.168.0.253:9800 --aggregator-ca "$WORK/tls/ca.crt" --token-file "$WORK/token-$node" \
            > "$WORK/agent$name-$node.log" 2>&1 &
    done
}
start_fleet "" "$WORK/syslog.sock" --vpc-route-table "$WORK/vpc-table.json"
api() { ip netns exec ${PREFIX}vpc curl -s --cacert "$WORK/tls/ca.crt" -H "Authorization: Bearer $(cat "$WORK/token")" "https://192.168.0.253:9800/api/v1/$1"; }
matrix() {
    api matrix | python3 -c '
import json, sys
m = json.load(sys.stdin); cells = {(c["source"], c["cidr"]): c for c in m["cells"]}
print("  %-8s" % "" + "".join("%-22s" % (c["cidr"] + " " + c["node"]) for c in m["cidrs"]))
for s in m["sources"]:
    row = []
    for c in m["cidrs"]:
        cell = cells.get((s, c["cidr"]))
        row.append("%-22s" % ("-" if cell is None else cell["outcome"] + (" %.2f ms" % cell["rttMs"] if cell.get("rttMs") else "")))
    print("  %-8s" % s + "".join(row))'
}
findings() {
    api findings | python3 -c '
import json, sys
fs = json.load(sys.stdin)["findings"]
if not fs: print("  (no open findings)")
for f in fs:
    e = f["evidence"]
    hop = f.get("expectedNextHop") or {}
    print("  %s  %s -> %s (%s)  %s/%s sources, basis %s" % (f["kind"], f.get("cidr"), hop.get("node"), hop.get("ip"), e["agreeing"], e["probing"], e["basis"]))
    print("    " + f["message"]); print("    fix: " + f["remediation"])'
}
sleep 3
echo "the healthy matrix (sources down, pod CIDRs across), from GET /api/v1/matrix:"
matrix
findings

say "the incident again: the VPC route entry for node-b's pod CIDR is deleted"
lab break-vpc-route node-b
broke=$(date +%s.%N)
opened='vpcRouteMissing .*state="open".*agreeing='
for _ in $(seq 100); do grep -q "$opened" "$WORK/syslog.txt" 2>/dev/null && break; sleep 0.1; done
printf 'the aggregator alerted %.1f s after the route was deleted (agents also alert on their own):\n' "$(echo "$(date +%s.%N) - $broke" | bc)"
grep "$opened" "$WORK/syslog.txt" | sed 's/^/  /'
echo "GET /api/v1/findings:"
findings
echo "the cloud's route table is exported again (as 'aws ec2 describe-route-tables' would) and agrees: basis probes+vpcTable"
lab vpc-table > "$WORK/vpc-table.json.new" && mv "$WORK/vpc-table.json.new" "$WORK/vpc-table.json"
sleep 1.5
findings
matrix
echo "the cloud's route table, compared with the cluster map:"
"$routeprobe" vpc-diff --routes "$WORK/vpc-table.json" --cluster-map "$WORK/cluster-map.yaml" | sed 's/^/  /' || true
echo "the same table as Azure prints it (az network route-table route list; kubenet routes are named after their nodes):"
lab vpc-table --format azure > "$WORK/vpc-table-azure.json"
"$routeprobe" vpc-diff --routes "$WORK/vpc-table-azure.json" --cluster-map "$WORK/cluster-map.yaml" | sed 's/^/  /' || true

say "the entry is restored: the finding resolves"
lab restore-vpc-route node-b
lab vpc-table > "$WORK/vpc-table.json.new" && mv "$WORK/vpc-table.json.new" "$WORK/vpc-table.json"
resolved='vpcRouteMissing .*state="resolved".*agreeing='
for _ in $(seq 100); do grep -q "$resolved" "$WORK/syslog.txt" 2>/dev/null && break; sleep 0.1; done
grep "$resolved" "$WORK/syslog.txt" | sed 's/^/  /'
findings
jobs -p | xargs -r kill 2>/dev/null || true
wait 2>/dev/null || true
echo "-- the aggregator's log:"; sed 's/^/  /' "$WORK/aggregator.log"
echo "-- node-a's agent log:"; sed 's/^/  /' "$WORK/agent-node-a.log"

say "the whole chain, from the cluster's own signals (a replay API server stands in for the cluster)"
# The replay server answers as an API server would: the lab's Nodes, metrics-server's APIService backed by
# node-b's pod 172.16.1.12, a namespace stuck Terminating because discovery of metrics.k8s.io/v1beta1 fails.
python3 scripts/replay-apiserver.py "$WORK/api.sock" Tests/RouteprobeKubernetesTests/Fixtures "$WORK" &
for _ in $(seq 50); do [ -S "$WORK/api.sock" ] && break; sleep 0.1; done
socket=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$WORK/api.sock")
cat > "$WORK/kubeconfig" <<YAML
apiVersion: v1
kind: Config
current-context: replay
clusters: [{name: replay, cluster: {server: "http+unix://$socket"}}]
users: [{name: demo, user: {token: demo}}]
contexts: [{name: replay, context: {cluster: replay, user: demo}}]
YAML
start_syslog_collector "$WORK/syslog2.sock" "$WORK/syslog2.txt"
start_fleet 2 "$WORK/syslog2.sock" --kubeconfig "$WORK/kubeconfig" --route-controller-grace 3s --node-conditions
explain() {
    printf '$ routeprobe explain %s --aggregator https://192.168.0.253:9800 ...\n' "$1"
    ip netns exec ${PREFIX}vpc "$routeprobe" explain "$1" --aggregator https://192.168.0.253:9800 \
        --aggregator-ca "$WORK/tls/ca.crt" --token-file "$WORK/token" | sed 's/^/  /' || true
}
sleep 4
echo "healthy routes; metrics-server itself is unavailable, and its pod answers: not a route problem"
findings
lab break-vpc-route node-b
for _ in $(seq 100); do api findings | grep -q '"Namespace"' && break; sleep 0.2; done
echo "node-b's VPC entry deleted: the finding carries the APIService and the stuck namespace"
findings
sleep 3.5
echo "three seconds later (--route-controller-grace 3s) the route controller has neither repaired it nor said a word:"
explain namespace/tobedeletedb
touch "$WORK/route-controller-speaks"
for _ in $(seq 50); do api findings | grep -q routeControllerFailing && break; sleep 0.2; done
echo "the route controller raises FailedToCreateRoute on node-b: the chain quotes it"
explain node/node-b
conditions() {
    python3 -c '
import json, sys
for line in open(sys.argv[1]):
    method, path, body = line.rstrip("\n").split(" ", 2)
    if method == "PATCH":
        c = json.loads(body)["status"]["conditions"][0]
        print("  PATCH %s  %s=%s (%s)" % (path, c["type"], c["status"], c["reason"]))' "$WORK/requests.log" 2>/dev/null || true
}
echo "node-b's PodCIDRUnreachable condition (--node-conditions), as PATCHed to the API server:"
conditions
lab restore-vpc-route node-b
for _ in $(seq 60); do grep -q PodCIDRReachable "$WORK/requests.log" 2>/dev/null && break; sleep 0.2; done
echo "the entry restored:"
conditions
explain namespace/tobedeletedb
jobs -p | xargs -r kill 2>/dev/null || true
wait 2>/dev/null || true

say "bad input gets one line and a non-zero exit"
run "$routeprobe" route get 172.16.1 --netns $NODE || echo "(exit $?)"
run "$routeprobe" probe no-such-host.invalid || echo "(exit $?)"
