#!/usr/bin/env bash
# Runs every test: installs the Debian packages the build and the tests need, builds, and runs `swift test`,
# then the image test (scripts/test-image.sh: the image built with podman, every role run from it as the
# manifests say, about 2 minutes once the release build and the base image exist, 10 to 15 from nothing).
# The privileged tests (network namespaces, containers) run when this runs as root, as CI does; otherwise
# they are skipped with the reason printed.
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
set +e
swift test --no-parallel 2>&1 | grep --line-buffered -vE '^\[[0-9]+/[0-9]+\] (Compiling|Emitting|Linking|Write|Build|Applying)'
status=${PIPESTATUS[0]}
set -e
if [ "$(id -u)" -eq 0 ]; then
    scripts/test-image.sh || status=1
else
    echo "skipped the image test (scripts/test-image.sh): it needs root for podman and network namespaces"
fi
[ "$status" -eq 0 ] && echo "all tests passed" || echo "tests FAILED"
exit "$status"
