# Shared by the scripts: installing what they need from Debian, and building.
# shellcheck shell=bash

# Installs the Debian packages named, unless every one is installed already.
ensure_packages() {
    local missing=()
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "routeprobe: these Debian packages are missing: ${missing[*]}; run as root or install them with apt-get" >&2
        return 1
    fi
    echo "Installing ${missing[*]} ..." >&2
    export DEBIAN_FRONTEND=noninteractive
    # Packages such as rsyslog and prometheus start their daemons on install; the tests run their own in
    # their own namespaces, and nothing may run in the machine's own namespace, so starting is refused.
    local policy=/usr/sbin/policy-rc.d created=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && created=1
    fi
    apt-get update -qq >/dev/null
    apt-get install -y -qq "${missing[@]}" >/dev/null
    if [ "$created" -eq 1 ]; then rm -f "$policy"; fi
}

# Installs the PyPI packages named (pip, for the root user), unless each is importable as a command already.
ensure_pip_commands() {
    local missing=()
    for package in "$@"; do command -v "$package" > /dev/null || missing+=("$package"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "Installing ${missing[*]} from PyPI ..." >&2
    python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore --break-system-packages "${missing[@]}" >/dev/null
}

# The packages every build needs.
BUILD_PACKAGES=(pkg-config libmnl-dev libpcap-dev iproute2)
# What the tests use besides: tcpdump reads the pcap files routeprobe writes; rsyslog receives the alerts;
# promtool (in prometheus) checks the metrics and unit-tests the alert rules; chromium screenshots the
# aggregator's page; python3-pip brings kubernetes-validate (PyPI), which checks deploy/ against the schemas;
# openssl makes the labs' throw-away certificates; socat relays a replay API server's socket into a namespace.
TEST_PACKAGES=(tcpdump rsyslog prometheus chromium python3-pip openssl socat)
TEST_PIP_COMMANDS=(kubernetes-validate)

# Removes network namespaces whose names start with the given prefix.
remove_namespaces() {
    local prefix=$1
    for namespace in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^${prefix}" || true); do
        # Processes may have inherited a mask that blocks SIGTERM: SIGKILL whatever is left after it.
        ip netns pids "$namespace" 2>/dev/null | xargs -r kill 2>/dev/null || true
        sleep 0.2
        ip netns pids "$namespace" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
        ip netns del "$namespace" 2>/dev/null || true
    done
}

# A minimal syslog collector on a Unix datagram socket, in the background: one message, one line in FILE;
# with "stamped", each line starts with the Unix time it arrived (for detection-time benchmarks).
start_syslog_collector() {
    local socket=$1 file=$2 stamped=${3:-}
    python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as out:
    while True:
        data = s.recv(65536).decode(errors="replace")
        out.write(("%.3f " % time.time() if sys.argv[3] else "") + data + "\n")
' "$socket" "$file" "$stamped" &
}

# Starts a command in the background with stdin from /dev/null, output to a log, every other descriptor
# closed (a caller waiting for our output must not wait for the daemon too); sets DAEMON_PID.
start_daemon() {
    local log=$1; shift
    (
        for fd in /proc/$BASHPID/fd/*; do
            fd=${fd##*/}
            [ "$fd" -gt 2 ] && eval "exec $fd>&-"
        done
        exec "$@" < /dev/null > "$log" 2>&1
    ) &
    DAEMON_PID=$!
}

# Builds routeprobe for benchmarks (release, Swift runtime linked in, as a DaemonSet image would ship it)
# and sets ROUTEPROBE to the binary.
# Two namespaces joined by a veth pair, for benchmarks whose targets must not sit on loopback: PROBER gets
# 10.199.0.1/30 and a route for TARGETS_PREFIX (and the default route) via 10.199.0.2 in TARGET, where a
# `local` route answers for every address of TARGETS_PREFIX and ICMP is not rate-limited.
make_veth_targets() {   # PROBER TARGET TARGETS_PREFIX
    local prober=$1 target=$2 prefix=$3
    ip netns add "$prober"
    ip netns add "$target"
    ip -n "$prober" link set lo up
    ip -n "$target" link set lo up
    ip -n "$prober" link add veth0 type veth peer name veth1 netns "$target"
    ip -n "$prober" addr add 10.199.0.1/30 dev veth0
    ip -n "$target" addr add 10.199.0.2/30 dev veth1
    ip -n "$prober" link set veth0 up
    ip -n "$target" link set veth1 up
    ip -n "$prober" route add "$prefix" via 10.199.0.2
    ip -n "$prober" route add default via 10.199.0.2
    ip -n "$target" route add local "$prefix" dev lo
    ip netns exec "$target" sysctl -qw net.ipv4.icmp_ratelimit=0 net.ipv4.icmp_echo_ignore_broadcasts=0
}

# The agent benchmark's cluster map (also the workload of scripts/link-order.sh): the agent's own node "self",
# and ten nodes of 100 pod targets each in 10.200.0.0/16, behind make_veth_targets' pair.
write_thousand_target_map() {   # FILE
    {
        echo "probePort: 9700"
        echo "nodes:"
        echo "  - name: self"
        echo "    ip: 10.201.1.1"
        echo "    podCIDRs: [10.201.2.0/24]"
        local n t
        for n in $(seq 0 9); do
            echo "  - name: node-$n"
            echo "    ip: 10.201.0.$((n + 1))"
            echo "    podCIDRs: [10.200.$n.0/24]"
            printf "    podTargets: ["; for t in $(seq 1 100); do printf "10.200.$n.$t"; [ "$t" -lt 100 ] && printf ", "; done; echo "]"
        done
    } > "$1"
}

# The linker flags that link libstdc++ statically, as the image does: a directory holding only libstdc++.a,
# searched before the system's, so the toolchain's own -lstdc++ finds the archive. Every routeprobe process
# then starts without loading and relocating libstdc++.so (0.25 ms) and keeps 1.4 MB less of it resident.
static_libstdcxx_flags() {
    local archive dir=.build/static-libstdc++
    archive=$(gcc -print-file-name=libstdc++.a)
    [ -f "$archive" ] || { echo "static_libstdcxx_flags: no libstdc++.a (install libstdc++-12-dev)" >&2; return 1; }
    mkdir -p "$dir"
    ln -sf "$archive" "$dir/libstdc++.a"
    echo "-Xlinker -L$PWD/$dir"
}

build_release_routeprobe() {   # builds the three executables as the image ships them; sets ROUTEPROBE
    echo "building routeprobe (release) ..."
    local flags
    flags=$(static_libstdcxx_flags)
    # shellcheck disable=SC2086
    swift build -c release --static-swift-stdlib $flags 2>&1 | tail -n 1
    # shellcheck disable=SC2086
    ROUTEPROBE=$(swift build -c release --static-swift-stdlib $flags --show-bin-path)/routeprobe
}
