#!/usr/bin/env bash
# Benchmark: dumping a namespace that holds 1,000,000 IPv4 routes. Prints figures; asserts nothing.
#   (a) a minimal C libmnl dump loop (the floor)
#   (b) routeprobe routes --table all --family inet --json >/dev/null
#   (c) ip -j -4 route show table all >/dev/null
#   (d) routeprobe routes --table all --summary
# Targets from the issue: (d) within 1.3x of (a); (b) at least 2x faster than (c); (d) peak RSS <= 150 MB.
# Usage: scripts/bench/routes.sh [ROUTES] [RUNS]   (default 1000000 routes, best of 3 runs). Needs root.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib.sh
ROUTES=${1:-1000000}
RUNS=${2:-3}
[ "$(id -u)" -eq 0 ] || { echo "routes.sh: needs root (it builds a network namespace)" >&2; exit 1; }
ensure_packages "${BUILD_PACKAGES[@]}" gcc time

NS=rpbench-routes
WORK=$(mktemp -d)
trap 'remove_namespaces rpbench-; rm -rf "$WORK"' EXIT
remove_namespaces rpbench-

build_release_routeprobe
echo "building the C floor ..."
gcc -O2 -o "$WORK/mnl_dump_floor" scripts/bench/mnl_dump_floor.c $(pkg-config --cflags --libs libmnl)

echo "filling namespace $NS with $ROUTES IPv4 routes ..."
ip netns add $NS
ip -n $NS link set lo up
ip -n $NS link add v0 type veth peer name p0
ip -n $NS link set v0 up
ip -n $NS link set p0 up
ip -n $NS addr add 10.0.0.1/24 dev v0
awk -v n="$ROUTES" 'BEGIN { for (i = 0; i < n; i++) printf "route add 11.%d.%d.%d/32 via 10.0.0.2\n", int(i / 65536) % 256, int(i / 256) % 256, i % 256 }' > "$WORK/batch"
start=$(date +%s.%N)
ip -n $NS -batch "$WORK/batch"
printf "  installed in %.1f s\n" "$(echo "$(date +%s.%N) - $start" | bc)"

# Best wall time and the peak RSS of that run, over $RUNS runs.
measure() {
    local best_time="" best_rss=""
    for _ in $(seq "$RUNS"); do
        /usr/bin/time -f "%e %M" -o "$WORK/time" ip netns exec $NS "$@" > /dev/null
        read -r seconds kilobytes < "$WORK/time"
        if [ -z "$best_time" ] || [ "$(echo "$seconds < $best_time" | bc)" -eq 1 ]; then
            best_time=$seconds best_rss=$kilobytes
        fi
    done
    echo "$best_time $best_rss"
}

echo "checking that the outputs agree ..."
count_floor=$(ip netns exec $NS "$WORK/mnl_dump_floor" | awk '{print $1}')
count_summary=$(ip netns exec $NS "$ROUTEPROBE" routes --table all --family inet --summary | awk '/^total/ {print $2}')
if ip netns exec $NS "$ROUTEPROBE" routes --table all --family inet --json | cmp -s - <(ip -n $NS -j -4 route show table all); then
    json_check="byte-identical to ip -j"
else
    json_check="DIFFERS from ip -j"
fi
echo "  floor counted $count_floor routes, routeprobe --summary $count_summary; --json output is $json_check"

echo "timing (best of $RUNS) ..."
read -r a_time a_rss <<< "$(measure "$WORK/mnl_dump_floor")"
read -r b_time b_rss <<< "$(measure "$ROUTEPROBE" routes --table all --family inet --json)"
read -r c_time c_rss <<< "$(measure ip -j -4 route show table all)"
read -r d_time d_rss <<< "$(measure "$ROUTEPROBE" routes --table all --family inet --summary)"

printf "\n%-58s %9s %12s\n" "command ($ROUTES IPv4 routes)" "seconds" "peak RSS MB"
printf "%-58s %9.2f %12.1f\n" "(a) C libmnl dump loop (floor)" "$a_time" "$(echo "$a_rss / 1024" | bc -l)"
printf "%-58s %9.2f %12.1f\n" "(b) routeprobe routes --table all --family inet --json" "$b_time" "$(echo "$b_rss / 1024" | bc -l)"
printf "%-58s %9.2f %12.1f\n" "(c) ip -j -4 route show table all" "$c_time" "$(echo "$c_rss / 1024" | bc -l)"
printf "%-58s %9.2f %12.1f\n" "(d) routeprobe routes --table all --summary" "$d_time" "$(echo "$d_rss / 1024" | bc -l)"
echo
printf "(d)/(a) = %.2fx   (target: at most 1.3x)\n" "$(echo "$d_time / $a_time" | bc -l)"
printf "(c)/(b) = %.2fx   (target: (b) at least 2x faster than (c))\n" "$(echo "$c_time / $b_time" | bc -l)"
printf "(d) peak RSS = %.1f MB   (target: at most 150 MB)\n" "$(echo "$d_rss / 1024" | bc -l)"
