#!/usr/bin/env bash
# Runs every test: installs the Debian packages the build and the tests need, builds, and runs `swift test`.
# The privileged tests (network namespaces) run when this runs as root, as CI does; otherwise they are
# skipped with the reason printed. The last line is Swift Testing's summary.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_packages "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
ensure_pip_commands "${TEST_PIP_COMMANDS[@]}"
# Test namespaces are named rpt-*; remove any a killed earlier run left behind, and whatever this run leaves.
cleanup() { remove_namespaces rpt-; rm -rf /run/routeprobe-lab/rpt-* /tmp/rpt-*-syslog; }
trap cleanup EXIT
cleanup

swift build
# Build progress lines are dropped; everything else, ending with the summary line, is shown.
# One test at a time: the lab tests time real rounds (detection within N intervals) and block threads while
# processes run; run side by side on two cores they starve each other and the in-process replay servers.
swift test --no-parallel 2>&1 | grep --line-buffered -vE '^\[[0-9]+/[0-9]+\] (Compiling|Emitting|Linking|Write|Build|Applying)'
exit "${PIPESTATUS[0]}"
