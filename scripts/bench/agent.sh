#!/usr/bin/env bash
# Benchmark: the agent. Prints figures; asserts nothing.
#   (1) An agent with 1,000 targets (10 nodes x 100 pod targets) at a 5 s interval for 60 s: peak RSS and CPU
#       share. The targets sit behind a veth pair, in a namespace whose `local` route answers for 10.200.0.0/15;
#       a beacon there accepts TCP on all of them. Release build with --static-swift-stdlib, as the image.
#   (2) On the lab: from `lab.sh break-vpc-route node-b` to the agent's syslog line, 10 trials: median and max.
# Targets from the issues: peak RSS at most 14 MB, CPU at most 0.7% of one core, detection within 2 intervals.
# Usage: scripts/bench/agent.sh [SECONDS] [LAB_INTERVAL]   (defaults 60 and 5s). Needs root.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib.sh
DURATION=${1:-60}
LAB_INTERVAL=${2:-5s}
[ "$(id -u)" -eq 0 ] || { echo "agent.sh: needs root (it builds network namespaces)" >&2; exit 1; }
ensure_packages "${BUILD_PACKAGES[@]}" bc python3

NS=rpbench-agent
WORK=$(mktemp -d)
cleanup() { jobs -p | xargs -r kill 2>/dev/null || true; remove_namespaces rpbench-agent; scripts/lab.sh down --prefix rpbench-lab- >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT
cleanup 2>/dev/null || true
WORK=$(mktemp -d)

build_release_routeprobe

# (1) 1,000 targets, behind a veth pair.
TARGET_NS=rpbench-agent-targets
make_veth_targets $NS $TARGET_NS 10.200.0.0/15
write_thousand_target_map "$WORK/map.yaml"
start_daemon /dev/null ip netns exec $TARGET_NS "$ROUTEPROBE" beacon --listen 9700
start_syslog_collector "$WORK/syslog.sock" /dev/null
sleep 0.5
ip netns exec $NS "$ROUTEPROBE" agent --node-name self --cluster-map "$WORK/map.yaml" --interval 5s --timeout 1s \
    --syslog "unix:$WORK/syslog.sock" > "$WORK/agent.log" 2>&1 &
# `routeprobe agent` hands over to routeprobe-agent with exec: the same process, so $! is the agent.
AGENT=$!
sleep 2
ticks() { awk '{print $14 + $15}' "/proc/$AGENT/stat"; }
start_ticks=$(ticks); start_time=$(date +%s.%N); peak=0
for _ in $(seq "$DURATION"); do
    rss=$(awk '/VmHWM/ {print $2}' "/proc/$AGENT/status"); [ "$rss" -gt "$peak" ] && peak=$rss
    sleep 1
done
end_ticks=$(ticks); end_time=$(date +%s.%N)
hz=$(getconf CLK_TCK)
cpu=$(echo "($end_ticks - $start_ticks) / $hz / ($end_time - $start_time) * 100" | bc -l)
kill -TERM $AGENT; wait $AGENT 2>/dev/null || true
findings=$(grep -c "opened" "$WORK/agent.log" || true)
printf "\n(1) agent, 1,000 targets (2,000 probes + 10 controls) every 5 s for %s s\n" "$DURATION"
printf "    peak RSS %.1f MB (target at most 14 MB), CPU %.2f%% of one core (target at most 0.7%%), findings opened: %s\n" \
    "$(echo "$peak / 1024" | bc -l)" "$cpu" "$findings"

# (2) Detection time on the lab.
scripts/lab.sh up --prefix rpbench-lab- --routeprobe "$ROUTEPROBE" > /dev/null
scripts/lab.sh map --prefix rpbench-lab- > "$WORK/lab-map.yaml"
: > "$WORK/lab-syslog.txt"
start_syslog_collector "$WORK/lab-syslog.sock" "$WORK/lab-syslog.txt" stamped
ip netns exec rpbench-lab-node-a "$ROUTEPROBE" agent --node-name node-a --cluster-map "$WORK/lab-map.yaml" \
    --interval "$LAB_INTERVAL" --timeout 1s --syslog "unix:$WORK/lab-syslog.sock" > "$WORK/lab-agent.log" 2>&1 &
sleep 3
delays=()
for trial in $(seq 10); do
    before=$(grep -c 'state="open"' "$WORK/lab-syslog.txt" || true)
    broke=$(date +%s.%N)
    scripts/lab.sh break-vpc-route node-b --prefix rpbench-lab-
    until [ "$(grep -c 'state="open"' "$WORK/lab-syslog.txt" || true)" -gt "$before" ]; do sleep 0.05; done
    seen=$(grep 'state="open"' "$WORK/lab-syslog.txt" | tail -n 1 | awk '{print $1}')
    delays+=("$(echo "$seen - $broke" | bc -l)")
    before=$(grep -c 'state="resolved"' "$WORK/lab-syslog.txt" || true)
    scripts/lab.sh restore-vpc-route node-b --prefix rpbench-lab-
    until [ "$(grep -c 'state="resolved"' "$WORK/lab-syslog.txt" || true)" -gt "$before" ]; do sleep 0.05; done
done
sorted=$(printf '%s\n' "${delays[@]}" | sort -n)
median=$(echo "$sorted" | sed -n '5p;6p' | awk '{s += $1} END {print s / 2}')
max=$(echo "$sorted" | tail -n 1)
printf "\n(2) from break-vpc-route to the syslog line, 10 trials, interval %s, failures to open 2:\n" "$LAB_INTERVAL"
printf "    median %.2f s, max %.2f s (target: within 2 intervals)\n" "$median" "$max"
printf "    all: %s\n" "$(printf '%.2f ' "${delays[@]}")"
