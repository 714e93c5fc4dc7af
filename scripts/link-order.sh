#!/usr/bin/env bash
# Regenerates Sources/routeprobe-agent/link-order.txt: the functions the agent runs, which the release link of
# routeprobe-agent puts next to each other (lld --symbol-ordering-file).
#
# Why: the kernel maps a binary's code 64 kB around each page the program touches (fault-around). The
# agent runs about 4,000 of the binary's functions; scattered over 27 MB of code they kept 10 MB of it
# resident. Packed together they fill a few hundred kB, and the agent's RSS drops by the difference.
#
# How: the agent runs under valgrind's callgrind in a namespace of its own (1,000 targets behind a veth
# pair with a beacon, as in scripts/bench/agent.sh), with metrics served and scraped, routes changing and
# alerts sent, for a few rounds; every function of the binary that executed goes into the list: first those
# that ran in rounds, then those that ran only at start-up (the agent drops start-up code from its resident
# set once started, so rounds' code must not share pages with it). A stale list costs memory, not
# correctness: names that no longer exist are ignored. Run it after changes to the agent's code paths.
# Needs root. Code the linker cannot move (the Swift standard library's one big text section, the C and
# C++ runtimes) stays where it is.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
[ "$(id -u)" -eq 0 ] || { echo "link-order.sh: needs root (it builds a network namespace)" >&2; exit 1; }
ensure_packages "${BUILD_PACKAGES[@]}" valgrind curl python3

NS=rplink-order
WORK=$(mktemp -d)
cleanup() { jobs -p | xargs -r kill 2>/dev/null || true; remove_namespaces rplink-order; rm -rf "$WORK"; }
trap cleanup EXIT
remove_namespaces rplink-order

build_release_routeprobe
# valgrind 3.19 cannot read the toolchain's DWARF 5; the symbol table is all it needs.
# The agent's own executable runs under valgrind: `routeprobe agent` would exec it, and valgrind does not follow.
strip --strip-debug -o "$WORK/routeprobe-agent" "$(dirname "$ROUTEPROBE")/routeprobe-agent"

# The benchmark's workload (scripts/bench/agent.sh): 1,000 pod targets behind a veth pair, a beacon answering
# TCP on all of them. Functions the agent runs only at that scale (batched sends, the larger plan) are then in
# the list; with two targets on loopback a third of the agent's resident code was left out of order.
TARGET_NS=rplink-order-targets
make_veth_targets $NS $TARGET_NS 10.200.0.0/15
write_thousand_target_map "$WORK/map.yaml"
start_daemon /dev/null ip netns exec $TARGET_NS "$ROUTEPROBE" beacon --listen 9700
start_syslog_collector "$WORK/syslog.sock" /dev/null
sleep 0.5
echo "running the agent under callgrind (about 40 s) ..."
ip netns exec $NS timeout -s INT 40 valgrind --tool=callgrind --callgrind-out-file="$WORK/callgrind.out" --dump-instr=no \
    --compress-strings=no --compress-pos=no --demangle=no \
    "$WORK/routeprobe-agent" agent --node-name self --cluster-map "$WORK/map.yaml" --interval 2s --timeout 500ms \
    --syslog "unix:$WORK/syslog.sock" --metrics-listen 127.0.0.1:9900 > "$WORK/agent.log" 2>&1 &
AGENT=$!
# Start-up (configuration, the YAML parser, Foundation, the services) is over after a few rounds: dump it
# apart, so that what runs in every round is listed first and start-up code, which the agent drops from its
# resident set once started (Memory.releaseProgramCode), does not sit between the pages rounds use.
sleep 12
callgrind_control --dump=start-up "$(pgrep -f "^valgrind .*callgrind-out-file=$WORK/callgrind.out")" > /dev/null
for _ in 1 2 3; do
    sleep 6
    # A blackhole route comes and goes: the route monitor sees it, node-2's probes fail, findings open.
    ip -n $NS route replace blackhole 10.200.2.0/24 2>/dev/null || true
    ip netns exec $NS curl -s -o /dev/null --max-time 5 http://127.0.0.1:9900/metrics || true
    sleep 2
    ip -n $NS route del blackhole 10.200.2.0/24 2>/dev/null || true
done
wait $AGENT || true
grep -q "stopped after" "$WORK/agent.log" || { echo "link-order.sh: the agent did not run to the end:" >&2; cat "$WORK/agent.log" >&2; exit 1; }
ls "$WORK"/callgrind.out.* > /dev/null 2>&1 || { echo "link-order.sh: callgrind_control did not dump the start-up part" >&2; exit 1; }

python3 - "$WORK" "$WORK/routeprobe-agent" Sources/routeprobe-agent/link-order.txt <<'PY'
import glob, os, sys
work, binary, target = sys.argv[1:]

def functions(path):
    names, current = set(), None
    for line in open(path, errors="replace"):
        if line.startswith("ob="):
            current = line[3:].strip()
        elif line.startswith("fn=") and current == binary:
            name = line[3:].strip().split("'")[0]   # callgrind marks recursion levels as name'2
            if name and not name.startswith("0x") and name != "(below main)":
                names.add(name)
    return names

start_up = set().union(*(functions(p) for p in glob.glob(os.path.join(work, "callgrind.out.*"))))
rounds = functions(os.path.join(work, "callgrind.out"))
ordered = sorted(rounds) + sorted(start_up - rounds)
with open(target, "w") as f:
    f.write("".join(name + "\n" for name in ordered))
print(f"{len(rounds)} functions of rounds, then {len(start_up - rounds)} of start-up, written to {target}")
PY
# SwiftPM does not know the list is an input of the link: touch a source of the executable so that the next
# build links it again with the new order (a clean build, as CI's, always does).
touch Sources/routeprobe-agent/AgentMain.swift
