#!/usr/bin/env bash
# Checks deploy/Dockerfile's runtime stage without a Docker engine: debootstrap a Debian 12 minbase root
# (what debian:bookworm-slim is), install the same packages the Dockerfile installs (libmnl0, libpcap0.8,
# ca-certificates), copy in the release binary as the build stage makes it, and run routeprobe there: its
# help, vpc-diff on the test fixtures, and `routes` inside a namespace this script creates and deletes.
# Needs root and Debian's package mirror. Usage: scripts/check-image-runtime.sh [ROOTFS_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
[ "$(id -u)" -eq 0 ] || { echo "check-image-runtime.sh: needs root (debootstrap, chroot, namespaces)" >&2; exit 1; }
ROOT=${1:-$(mktemp -d /tmp/rp-rootfs.XXXXXX)}
NS=rpt-image
cleanup() { ip netns del $NS 2>/dev/null || true; umount "$ROOT/proc" 2>/dev/null || true; }
trap cleanup EXIT
ensure_packages "${BUILD_PACKAGES[@]}" debootstrap
build_release_routeprobe
[ -x "$ROOT/bin/sh" ] || debootstrap --variant=minbase bookworm "$ROOT" http://deb.debian.org/debian > /dev/null
# A container always has /proc; Swift reads the command line from /proc/self/cmdline.
mount -t proc proc "$ROOT/proc"
# The runtime stage of deploy/Dockerfile, line for line.
chroot "$ROOT" sh -c 'apt-get update -qq && apt-get install -y -qq --no-install-recommends libmnl0 libpcap0.8 ca-certificates > /dev/null'
for program in routeprobe routeprobe-agent routeprobe-aggregator; do
    install -D "$(dirname "$ROUTEPROBE")/$program" "$ROOT/usr/local/bin/$program"
    strip "$ROOT/usr/local/bin/$program"
    missing=$(chroot "$ROOT" ldd "/usr/local/bin/$program" | grep 'not found' || true)
    [ -z "$missing" ] || { echo "missing libraries in the image for $program: $missing" >&2; exit 1; }
    echo "image size of $program: $(du -h "$ROOT/usr/local/bin/$program" | cut -f1)"
done
chroot "$ROOT" /usr/local/bin/routeprobe --help | head -n 3
chroot "$ROOT" /usr/local/bin/routeprobe agent --help | head -n 1
chroot "$ROOT" /usr/local/bin/routeprobe aggregator --help | head -n 1
mkdir -p "$ROOT/fixtures"
cp Tests/RouteprobeConfigurationTests/Fixtures/aws-* "$ROOT/fixtures/"
chroot "$ROOT" /usr/local/bin/routeprobe vpc-diff --routes /fixtures/aws-describe-route-tables.json \
    --cluster-map /fixtures/aws-cluster-map.yaml || [ $? -eq 1 ]
ip netns add $NS
ip -n $NS link set lo up
ip netns exec $NS chroot "$ROOT" /usr/local/bin/routeprobe routes --table all
echo "the runtime stage runs routeprobe"
