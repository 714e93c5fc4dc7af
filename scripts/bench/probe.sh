#!/usr/bin/env bash
# Benchmark: probing 1,000 targets, and the start of the command people type. Prints figures; asserts nothing.
# The targets sit behind a veth pair, not on loopback: the prober's namespace routes 10.200.0.0/16 to the
# target namespace, which holds `local 10.200.0.0/16 dev lo`, so every address of the /16 answers ICMP, and
# a beacon on the wildcard address accepts TCP on all of them. In one run, interleaved:
#   (a) fping -q -c1 -i0 -t500 over 1,000 targets vs routeprobe probe --icmp over the same 1,000
#   (b) routeprobe probe --tcp 9700 over 1,000 targets
#   (c) both with capture on
#   (d) routeprobe --help, and routeprobe routes on the prober's three-route table
# Targets from the issues: the ICMP sweep within 1.5x fping's wall and CPU; 1,000 TCP probes in at most 1 s
# wall; capture adds at most 20% CPU; --help and routes under 3 ms. Release build with --static-swift-stdlib.
# Usage: scripts/bench/probe.sh [RUNS] (30 passes by default). Root.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib.sh
RUNS=${1:-30}
[ "$(id -u)" -eq 0 ] || { echo "probe.sh: needs root (it builds a network namespace)" >&2; exit 1; }
ensure_packages "${BUILD_PACKAGES[@]}" fping time bc linux-perf

NS=rpbench-probe
TARGET_NS=rpbench-probe-targets
WORK=$(mktemp -d)
trap 'remove_namespaces rpbench-probe; rm -rf "$WORK"' EXIT
remove_namespaces rpbench-probe

build_release_routeprobe

make_veth_targets $NS $TARGET_NS 10.200.0.0/16
start_daemon /dev/null ip netns exec $TARGET_NS "$ROUTEPROBE" beacon --listen 9700
sleep 0.5
mapfile -t TARGETS < <(for i in $(seq 1 1000); do echo "10.200.$((i / 250)).$((i % 250 + 1))"; done)

# Wall seconds and CPU seconds (task-clock: user + system of every thread) of single runs from perf stat's
# software counters (getrusage is too coarse at tens of milliseconds). The seven commands run interleaved,
# one run of each per pass, $RUNS passes, and each figure is the median: on this VM a stretch of slow runs
# lands on every command alike instead of on one, and a lone outlier does not move a median.
run_once() {   # NAME COMMAND...: appends "wall cpu" (seconds) to $WORK/NAME
    local name=$1; shift
    # perf runs inside the namespace, so that it counts the command alone, not `ip netns exec` setting it up.
    ip netns exec $NS perf stat -x, -e task-clock,duration_time -o "$WORK/perf" -- "$@" > /dev/null 2>&1 || true
    awk -F, '/task-clock/ {cpu = $1 / 1000} /duration_time/ {wall = $1 / 1e9} END {print wall, cpu}' "$WORK/perf" >> "$WORK/$name"
}
peak_rss() {   # COMMAND...: peak RSS in kB of one run
    ip netns exec $NS /usr/bin/time -f "%M" -o "$WORK/rss" "$@" > /dev/null 2>&1 || true
    tail -n 1 "$WORK/rss"
}
median_of() {  # NAME: "wall cpu" medians, then the CPU interquartile range
    python3 - "$WORK/$1" <<'PY'
import statistics, sys
rows = [tuple(map(float, line.split())) for line in open(sys.argv[1]) if line.strip()]
walls, cpus = sorted(r[0] for r in rows), sorted(r[1] for r in rows)
q = statistics.quantiles(cpus, n=4)
print(statistics.median(walls), statistics.median(cpus), q[0], q[2])
PY
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

echo "timing ($RUNS interleaved passes, medians) ..."
for _ in $(seq "$RUNS"); do
    run_once fping fping -q -c1 -i0 -t500 "${TARGETS[@]}"
    run_once icmp "$ROUTEPROBE" probe --icmp --no-capture "${TARGETS[@]}"
    run_once tcp "$ROUTEPROBE" probe --tcp 9700 --no-capture "${TARGETS[@]}"
    run_once icmp_capture "$ROUTEPROBE" probe --icmp "${TARGETS[@]}"
    run_once tcp_capture "$ROUTEPROBE" probe --tcp 9700 "${TARGETS[@]}"
    run_once help "$ROUTEPROBE" --help
    run_once routes "$ROUTEPROBE" routes
done
read -r f_wall f_cpu _ _ <<< "$(median_of fping)"; f_rss=$(peak_rss fping -q -c1 -i0 -t500 "${TARGETS[@]}")
read -r i_wall i_cpu i_q1 i_q3 <<< "$(median_of icmp)"; i_rss=$(peak_rss "$ROUTEPROBE" probe --icmp --no-capture "${TARGETS[@]}")
read -r t_wall t_cpu t_q1 t_q3 <<< "$(median_of tcp)"; t_rss=$(peak_rss "$ROUTEPROBE" probe --tcp 9700 --no-capture "${TARGETS[@]}")
read -r ic_wall ic_cpu ic_q1 ic_q3 <<< "$(median_of icmp_capture)"; ic_rss=$(peak_rss "$ROUTEPROBE" probe --icmp "${TARGETS[@]}")
read -r tc_wall tc_cpu tc_q1 tc_q3 <<< "$(median_of tcp_capture)"; tc_rss=$(peak_rss "$ROUTEPROBE" probe --tcp 9700 "${TARGETS[@]}")
read -r h_wall h_cpu _ _ <<< "$(median_of help)"; h_rss=$(peak_rss "$ROUTEPROBE" --help)
read -r r_wall r_cpu _ _ <<< "$(median_of routes)"; r_rss=$(peak_rss "$ROUTEPROBE" routes)

printf "\n%-52s %8s %8s %10s\n" "command (1,000 targets)" "wall s" "CPU s" "RSS MB"
row() { printf "%-52s %8.3f %8.3f %10.1f\n" "$1" "$2" "$3" "$(echo "$4 / 1024" | bc -l)"; }
row "fping -q -c1 -i0 -t500" "$f_wall" "$f_cpu" "$f_rss"
row "(a) routeprobe probe --icmp --no-capture" "$i_wall" "$i_cpu" "$i_rss"
row "(b) routeprobe probe --tcp 9700 --no-capture" "$t_wall" "$t_cpu" "$t_rss"
row "(c) routeprobe probe --icmp (capture on)" "$ic_wall" "$ic_cpu" "$ic_rss"
row "(c) routeprobe probe --tcp 9700 (capture on)" "$tc_wall" "$tc_cpu" "$tc_rss"
row "(d) routeprobe --help" "$h_wall" "$h_cpu" "$h_rss"
row "(d) routeprobe routes (three routes)" "$r_wall" "$r_cpu" "$r_rss"
echo
printf "ICMP sweep vs fping: wall %.2fx, CPU %.2fx   (target: at most 1.5x each)\n" \
    "$(echo "$i_wall / $f_wall" | bc -l)" "$(echo "$i_cpu / ($f_cpu + 0.001)" | bc -l)"
printf "1,000 TCP probes: %.3f s wall   (target: at most 1 s)\n" "$t_wall"
printf "capture CPU overhead: ICMP %+.0f%%, TCP %+.0f%%   (target: at most +20%%)\n" \
    "$(echo "($ic_cpu / $i_cpu - 1) * 100" | bc -l)" "$(echo "($tc_cpu / $t_cpu - 1) * 100" | bc -l)"
printf "start: --help %.1f ms, routes %.1f ms wall   (target: under 3 ms each)\n" \
    "$(echo "$h_wall * 1000" | bc -l)" "$(echo "$r_wall * 1000" | bc -l)"
printf "CPU interquartile ranges (s): icmp %.4f-%.4f, tcp %.4f-%.4f, icmp+capture %.4f-%.4f, tcp+capture %.4f-%.4f\n" \
    "$i_q1" "$i_q3" "$t_q1" "$t_q3" "$ic_q1" "$ic_q3" "$tc_q1" "$tc_q3"
