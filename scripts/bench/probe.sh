#!/usr/bin/env bash
# Benchmark: probing 1,000 targets. Prints figures; asserts nothing.
# A namespace holds `local 10.200.0.0/16 dev lo`, so every address of the /16 answers ICMP, and a beacon on
# the wildcard address accepts TCP on all of them. In one run:
#   (a) fping -q -c1 -i0 -t500 over 1,000 targets vs routeprobe probe --icmp over the same 1,000
#   (b) routeprobe probe --tcp 9700 over 1,000 targets
#   (c) both with capture on
# Targets from the issue: the ICMP sweep within 2x fping's wall and CPU; 1,000 TCP probes in at most 1 s
# wall; capture adds at most 20% CPU. Usage: scripts/bench/probe.sh [RUNS] (mean of 15 by default). Root.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib.sh
RUNS=${1:-15}
[ "$(id -u)" -eq 0 ] || { echo "probe.sh: needs root (it builds a network namespace)" >&2; exit 1; }
ensure_packages "${BUILD_PACKAGES[@]}" fping time bc linux-perf

NS=rpbench-probe
WORK=$(mktemp -d)
trap 'remove_namespaces rpbench-probe; rm -rf "$WORK"' EXIT
remove_namespaces rpbench-probe

build_release_routeprobe

ip netns add $NS
ip -n $NS link set lo up
ip -n $NS route add local 10.200.0.0/16 dev lo
ip netns exec $NS sysctl -qw net.ipv4.icmp_ratelimit=0 net.ipv4.icmp_echo_ignore_broadcasts=0
start_daemon /dev/null ip netns exec $NS "$ROUTEPROBE" beacon --listen 9700
sleep 0.5
mapfile -t TARGETS < <(for i in $(seq 1 1000); do echo "10.200.$((i / 250)).$((i % 250 + 1))"; done)

# Mean wall seconds and CPU seconds (task-clock: user + system of every thread) over $RUNS runs, from
# perf stat's software counters (a single getrusage sample is too coarse and noisy at tens of
# milliseconds), and the peak RSS of one more run.
measure() {
    perf stat -r "$RUNS" -x, -e task-clock,duration_time -o "$WORK/perf" -- ip netns exec $NS "$@" > /dev/null 2>&1 || true
    local task wall
    task=$(awk -F, '/task-clock/ {print $1}' "$WORK/perf")
    wall=$(awk -F, '/duration_time/ {print $1}' "$WORK/perf")
    /usr/bin/time -f "%M" -o "$WORK/rss" ip netns exec $NS "$@" > /dev/null 2>&1 || true
    echo "$(echo "$wall / 1000000000" | bc -l) $(echo "$task / 1000" | bc -l) $(tail -n 1 "$WORK/rss")"
}

echo "checking the answers ..."
ip netns exec $NS "$ROUTEPROBE" probe --icmp --tcp 9700 --no-capture --json "${TARGETS[@]}" > "$WORK/check.json" || true
python3 - "$WORK/check.json" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))
by = {}
for r in results: by.setdefault(r["protocol"], []).append(r["outcome"])
for proto, outcomes in sorted(by.items()):
    print(f"  {proto}: {outcomes.count('reply')}/{len(outcomes)} replied")
PY

echo "timing (mean of $RUNS) ..."
read -r f_wall f_cpu f_rss <<< "$(measure fping -q -c1 -i0 -t500 "${TARGETS[@]}")"
read -r i_wall i_cpu i_rss <<< "$(measure "$ROUTEPROBE" probe --icmp --no-capture "${TARGETS[@]}")"
read -r t_wall t_cpu t_rss <<< "$(measure "$ROUTEPROBE" probe --tcp 9700 --no-capture "${TARGETS[@]}")"
read -r ic_wall ic_cpu ic_rss <<< "$(measure "$ROUTEPROBE" probe --icmp "${TARGETS[@]}")"
read -r tc_wall tc_cpu tc_rss <<< "$(measure "$ROUTEPROBE" probe --tcp 9700 "${TARGETS[@]}")"

printf "\n%-52s %8s %8s %10s\n" "command (1,000 targets)" "wall s" "CPU s" "RSS MB"
row() { printf "%-52s %8.3f %8.3f %10.1f\n" "$1" "$2" "$3" "$(echo "$4 / 1024" | bc -l)"; }
row "fping -q -c1 -i0 -t500" "$f_wall" "$f_cpu" "$f_rss"
row "(a) routeprobe probe --icmp --no-capture" "$i_wall" "$i_cpu" "$i_rss"
row "(b) routeprobe probe --tcp 9700 --no-capture" "$t_wall" "$t_cpu" "$t_rss"
row "(c) routeprobe probe --icmp (capture on)" "$ic_wall" "$ic_cpu" "$ic_rss"
row "(c) routeprobe probe --tcp 9700 (capture on)" "$tc_wall" "$tc_cpu" "$tc_rss"
echo
printf "ICMP sweep vs fping: wall %.2fx, CPU %.2fx   (target: at most 2x each)\n" \
    "$(echo "$i_wall / $f_wall" | bc -l)" "$(echo "$i_cpu / ($f_cpu + 0.001)" | bc -l)"
printf "1,000 TCP probes: %.3f s wall   (target: at most 1 s)\n" "$t_wall"
printf "capture CPU overhead: ICMP %+.0f%%, TCP %+.0f%%   (target: at most +20%%)\n" \
    "$(echo "($ic_cpu / $i_cpu - 1) * 100" | bc -l)" "$(echo "($tc_cpu / $t_cpu - 1) * 100" | bc -l)"
