#!/usr/bin/env bash
# Regenerates Sources/routeprobe-agent/link-order.txt: the functions the agent runs, which the release link of
# routeprobe-agent puts next to each other (lld --symbol-ordering-file).
#
# Why: the kernel maps a binary's code 64 kB around each page the program touches (fault-around). The
# agent runs about 4,000 of the binary's functions; scattered over 27 MB of code they kept 10 MB of it
# resident. Packed together they fill a few hundred kB, and the agent's RSS drops by the difference.
#
# How: the agent runs under valgrind's callgrind in a namespace of its own (a `local` /16 with a beacon,
# as in the benchmarks), with metrics served and scraped and alerts sent, for a few rounds; every function
# of the routeprobe binary that executed goes into the list. A stale list costs memory, not correctness:
# names that no longer exist are ignored. Run it after changes to the agent's code paths. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
[ "$(id -u)" -eq 0 ] || { echo "link-order.sh: needs root (it builds a network namespace)" >&2; exit 1; }
ensure_packages "${BUILD_PACKAGES[@]}" valgrind curl python3

NS=rplink-order
WORK=$(mktemp -d)
cleanup() { jobs -p | xargs -r kill 2>/dev/null || true; remove_namespaces $NS; rm -rf "$WORK"; }
trap cleanup EXIT
remove_namespaces $NS

build_release_routeprobe
# valgrind 3.19 cannot read the toolchain's DWARF 5; the symbol table is all it needs.
# The agent's own executable runs under valgrind: `routeprobe agent` would exec it, and valgrind does not follow.
strip --strip-debug -o "$WORK/routeprobe-agent" "$(dirname "$ROUTEPROBE")/routeprobe-agent"

ip netns add $NS
ip -n $NS link set lo up
ip -n $NS route add local 10.200.0.0/16 dev lo
cat > "$WORK/map.yaml" <<MAP
probePort: 9700
nodes:
  - name: self
    ip: 10.201.1.1
    podCIDRs: [10.201.2.0/24]
  - name: node-0
    ip: 10.200.0.1
    podCIDRs: [10.200.1.0/24]
    podTargets: [10.200.1.1, 10.200.1.2]
  - name: node-1
    ip: 10.200.0.2
    podCIDRs: [10.200.2.0/24]
MAP
start_daemon /dev/null ip netns exec $NS "$ROUTEPROBE" beacon --listen 9700
start_syslog_collector "$WORK/syslog.sock" /dev/null
sleep 0.5
echo "running the agent under callgrind (about 30 s) ..."
ip netns exec $NS timeout -s INT 30 valgrind --tool=callgrind --callgrind-out-file="$WORK/callgrind.out" --dump-instr=no \
    --compress-strings=no --compress-pos=no --demangle=no \
    "$WORK/routeprobe-agent" agent --node-name self --cluster-map "$WORK/map.yaml" --interval 2s --timeout 500ms \
    --syslog "unix:$WORK/syslog.sock" --metrics-listen 127.0.0.1:9900 > "$WORK/agent.log" 2>&1 &
AGENT=$!
for _ in 1 2 3; do
    sleep 6
    # The second node's host answers nothing at first: a route appears and goes (the monitor), probes fail.
    ip -n $NS route replace local 10.200.2.0/24 dev lo 2>/dev/null || true
    ip netns exec $NS curl -s -o /dev/null --max-time 5 http://127.0.0.1:9900/metrics || true
    sleep 2
    ip -n $NS route del local 10.200.2.0/24 dev lo 2>/dev/null || true
done
wait $AGENT || true
grep -q "stopped after" "$WORK/agent.log" || { echo "link-order.sh: the agent did not run to the end:" >&2; cat "$WORK/agent.log" >&2; exit 1; }

python3 - "$WORK/callgrind.out" "$WORK/routeprobe-agent" Sources/routeprobe-agent/link-order.txt <<'PY'
import sys
out, binary, target = sys.argv[1:]
names, current = set(), None
for line in open(out, errors="replace"):
    if line.startswith("ob="):
        current = line[3:].strip()
    elif line.startswith("fn=") and current == binary:
        name = line[3:].strip().split("'")[0]   # callgrind marks recursion levels as name'2
        if name and not name.startswith("0x") and name != "(below main)":
            names.add(name)
with open(target, "w") as f:
    f.write("".join(name + "\n" for name in sorted(names)))
print(f"{len(names)} functions written to {target}")
PY
