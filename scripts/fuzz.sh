#!/usr/bin/env bash
# Fuzzes every reader of outside input with libFuzzer (Swift's own toolchain: -sanitize=fuzzer, with
# AddressSanitizer for the decoders that read through unsafe pointers): the netlink decoder, the packet
# dissector, the report and registration decoders, and the cluster-map, agent-config and VPC-table loaders.
#
#   scripts/fuzz.sh [SECONDS] [HARNESS...]     SECONDS per harness (default 60); all harnesses by default
#
# Seeds come from the project's fixtures (scripts/fuzz-seeds.py); the corpus grows in .build-fuzz/corpus and is
# kept between runs. An input that crashes, hangs (10 s) or runs out of memory is kept as
# .build-fuzz/findings/HARNESS-crash-... and the script exits 1 after all harnesses ran: replay it with
# `swift run routeprobe-fuzz HARNESS FILE` and make it a fixture of a unit test. Prints, per harness, the
# executions, their rate, the corpus size and the findings. Not in CI (it takes SECONDS x 7).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
SECONDS_EACH=${1:-60}
shift || true
[[ "$SECONDS_EACH" =~ ^[0-9]+$ ]] && [ "$SECONDS_EACH" -ge 1 ] || { echo "fuzz.sh: SECONDS must be a whole number of seconds, at least 1" >&2; exit 2; }
HARNESSES=(netlink packet report registration cluster-map agent-config vpc-table)
[ $# -gt 0 ] && HARNESSES=("$@")
ensure_packages "${BUILD_PACKAGES[@]}"

SCRATCH=.build-fuzz
echo "building the harnesses (-sanitize=fuzzer,address) ..."
swift build -c release --scratch-path $SCRATCH --product routeprobe-fuzz --sanitize=fuzzer --sanitize=address \
    -Xswiftc -DROUTEPROBE_FUZZING -Xswiftc -parse-as-library 2>&1 | grep -E "error|warning: .*routeprobe|Compiling routeprobe|Build" | tail -n 3
FUZZER=$(swift build -c release --scratch-path $SCRATCH --show-bin-path)/routeprobe-fuzz
SEEDS=$SCRATCH/seeds
rm -rf "$SEEDS"
python3 scripts/fuzz-seeds.py "$SEEDS"
mkdir -p $SCRATCH/findings $SCRATCH/logs

printf '%-14s %12s %10s %8s %9s\n' harness executions "per s" corpus findings
status=0
for harness in "${HARNESSES[@]}"; do
    [ -d "$SEEDS/$harness" ] || { echo "fuzz.sh: no harness '$harness' (harnesses: ${HARNESSES[*]})" >&2; exit 2; }
    corpus=$SCRATCH/corpus/$harness
    mkdir -p "$corpus"
    before=$(ls $SCRATCH/findings | grep -c "^$harness-" || true)
    log=$SCRATCH/logs/$harness.log
    # -fork=1 with -ignore_crashes/-ignore_timeouts/-ignore_ooms: a finding is kept and fuzzing goes on for
    # the whole time, so one run finds more than the first problem.
    ROUTEPROBE_FUZZ_HARNESS=$harness "$FUZZER" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
        -max_len=65536 -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
        -artifact_prefix="$SCRATCH/findings/$harness-" "$corpus" "$SEEDS/$harness" > "$log" 2>&1 || true
    runs=$(grep -oE 'exec/s: [0-9]+|execs: [0-9]+' "$log" | tail -n 1 || true)
    executions=$(grep -oE '#[0-9]+' "$log" | tail -n 1 | tr -d '#' || echo 0)
    found=$(( $(ls $SCRATCH/findings | grep -c "^$harness-" || true) - before ))
    printf '%-14s %12s %10s %8s %9s\n' "$harness" "${executions:-0}" "$(( ${executions:-0} / SECONDS_EACH ))" \
        "$(ls "$corpus" | wc -l)" "$found"
    [ "$found" -eq 0 ] || status=1
done
[ $status -eq 0 ] || echo "findings are in $SCRATCH/findings (logs in $SCRATCH/logs)"
exit $status
