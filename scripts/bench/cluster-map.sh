#!/usr/bin/env bash
# Benchmark: loading a large cluster map (YAML and JSON), valid and with one overlapping pod CIDR at its end,
# as shipped (release, --static-swift-stdlib). Prints the median wall time and peak RSS of 5 loads each
# (`routeprobe vpc-diff` with a one-route table: it loads and checks the map, then compares one entry).
# Target (issue 14): a 100,000-node map in under 2 s; validation O(N log N).
# Usage: scripts/bench/cluster-map.sh [NODE_COUNTS]   (default "47000 100000")
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib.sh
ensure_packages "${BUILD_PACKAGES[@]}" python3 time
build_release_routeprobe
COUNTS=${1:-"47000 100000"}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
echo '[{"name":"x","addressPrefix":"10.9.0.0/24","nextHopType":"None","provisioningState":"Succeeded"}]' > "$WORK/routes.json"
generate() {   # COUNT FORMAT [broken]
    python3 - "$@" <<'PY'
import json, sys
n, fmt, broken = int(sys.argv[1]), sys.argv[2], len(sys.argv) > 3
def cidr(i):
    return "%d.%d.%d.0/24" % (100 + i // 65536, (i // 256) % 256, i % 256)
nodes = [{"name": "node-%d" % i, "ip": "10.%d.%d.%d" % (i // 62500, (i // 250) % 250, i % 250 + 1), "podCIDRs": [cidr(i)]} for i in range(n)]
if broken:
    nodes[-1]["podCIDRs"] = [cidr(0)]
if fmt == "json":
    print(json.dumps({"nodes": nodes}))
else:
    print("nodes:")
    for node in nodes:
        print("  - name: %s\n    ip: %s\n    podCIDRs: [%s]" % (node["name"], node["ip"], node["podCIDRs"][0]))
PY
}
printf '%-8s %-6s %-8s %10s %12s %s\n' nodes format map seconds peak_rss_MB result
for count in $COUNTS; do
    for format in yaml json; do
        for kind in valid overlap; do
            file="$WORK/map-$count-$kind.$format"
            if [ "$kind" = overlap ]; then generate "$count" "$format" broken > "$file"; else generate "$count" "$format" > "$file"; fi
            times=(); rss=(); result=""
            for _ in 1 2 3 4 5; do
                /usr/bin/time -f "%e %M" -o "$WORK/time" "$ROUTEPROBE" vpc-diff --routes "$WORK/routes.json" --cluster-map "$file" > /dev/null 2> "$WORK/err" || true
                out=$(tail -n 1 "$WORK/time")
                times+=("${out% *}"); rss+=("${out#* }")
                result=$(head -n 1 "$WORK/err" | cut -c1-70)
            done
            median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 3p)
            peak=$(printf '%s\n' "${rss[@]}" | sort -n | sed -n 3p)
            printf '%-8s %-6s %-8s %10s %12.1f %s\n' "$count" "$format" "$kind" "$median" "$(echo "$peak / 1024" | bc -l)" "${result:-loaded}"
        done
    done
done
