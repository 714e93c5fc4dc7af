#!/usr/bin/env bash
# The real image in a real container runtime: builds deploy/Dockerfile's runtime stage with podman and runs
# every role of routeprobe from it in a lab (scripts/lab.sh, namespaces rpimg-*), each container exactly as its
# manifest in deploy/ says: user, capabilities, no privilege escalation, read-only root filesystem, mounts,
# environment and arguments are read from the YAML (scripts/manifest-podman.py), so the two cannot drift.
#
#   - the beacon in every pod namespace (beacon-daemonset.yaml, uid 65534, no capabilities);
#   - the aggregator in the VPC namespace (aggregator.yaml: --kubernetes, TokenReview, leader election on a
#     Lease, TLS), against the replay API server (scripts/replay-apiserver.py) behind TLS, with the service
#     account files the kubelet mounts;
#   - the agent on every node (agent-daemonset.yaml, the ConfigMap's agent.yaml verbatim, a projected-token
#     file, the CA, the host's /dev/log), node-a and node-b as the manifest says (uid 0, NET_RAW and NET_ADMIN
#     only), node-c as uid 65534 with only those two capabilities (ambient, as podman gives them);
#   - an agent with no capabilities, which must stop at start with exit 1 naming CAP_NET_RAW.
# Then node-b's VPC route entry is deleted: the alert must arrive through the containers' /dev/log mount
# and the aggregator must name the missing entry; restored, it must resolve.
#
# The image: the base image cannot be pulled here, so the runtime stage's base (debian:bookworm-slim) is made
# with debootstrap (Debian 12 minbase) and `podman import`ed under that name once (kept for later runs). The
# build stage (the Swift image) cannot be pulled either: the release binaries are built here as that stage
# builds them (scripts/lib.sh build_release_routeprobe) and handed to the runtime stage, whose lines are
# taken from deploy/Dockerfile unchanged. podman runs with runc and cgroupfs and rlimits this sandbox allows.
# Needs root and Debian's package mirror (debootstrap, and the runtime stage's apt-get).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
[ "$(id -u)" -eq 0 ] || { echo "test-image.sh: needs root (podman, network namespaces)" >&2; exit 1; }
ensure_packages "${BUILD_PACKAGES[@]}" podman buildah runc debootstrap python3-yaml socat openssl curl

PREFIX=rpimg-
IMAGE=localhost/routeprobe:test
LABEL=routeprobe-test=image
PODMAN=(podman --runtime runc --cgroup-manager cgroupfs)
LIMITS=(--ulimit nproc=4096:4096 --ulimit nofile=20000:20000)
WORK=$(mktemp -d /tmp/rpimg.XXXXXX)
started=$(date +%s)
lab() { scripts/lab.sh "$@" --prefix $PREFIX; }
teardown() {
    "${PODMAN[@]}" ps -aq --filter label=$LABEL | xargs -r "${PODMAN[@]}" rm -f -t 1 > /dev/null 2>&1 || true
    lab down > /dev/null 2>&1 || true
    remove_namespaces $PREFIX
    [ ${#HELPERS[@]} -eq 0 ] || kill -KILL "${HELPERS[@]}" 2>/dev/null || true
}
# Background helpers (syslog collector, replay API server, socat), disowned so that their end is not reported.
HELPERS=()
helper_started() { HELPERS+=("$!"); disown "$!"; }
trap 'status=$?; [ $status -eq 0 ] || show_logs; teardown; rm -rf "$WORK"; exit $status' EXIT
show_logs() {
    for name in $("${PODMAN[@]}" ps -a --filter label=$LABEL --format '{{.Names}}' 2>/dev/null); do
        echo "-- $name:"; "${PODMAN[@]}" logs "$name" 2>&1 | tail -n 15 | sed 's/^/  /'
    done
    [ -f "$WORK/syslog.txt" ] && { echo "-- syslog:"; tail -n 20 "$WORK/syslog.txt" | sed 's/^/  /'; }
}
fail() { echo "test-image.sh: FAILED: $*" >&2; exit 1; }
teardown

# 1. The image.
build_release_routeprobe
mkdir -p "$WORK/context/out"
for program in routeprobe routeprobe-agent routeprobe-aggregator; do
    install "$(dirname "$ROUTEPROBE")/$program" "$WORK/context/out/$program"
    strip "$WORK/context/out/$program"
done
base=$(awk 'toupper($1) == "FROM" { image = $2 } END { print image }' deploy/Dockerfile)
[[ $base == */* ]] || base=docker.io/library/$base
if ! "${PODMAN[@]}" image exists "$base"; then
    echo "making $base with debootstrap (Debian 12 minbase) ..."
    debootstrap --variant=minbase bookworm "$WORK/rootfs" http://deb.debian.org/debian > "$WORK/debootstrap.log" 2>&1 \
        || { tail -n 5 "$WORK/debootstrap.log"; fail "debootstrap failed"; }
    # What makes debian:bookworm-slim slim (debuerreotype's settings): no documentation, manuals or
    # locales, and apt keeps no caches or lists in the image's layers.
    cat > "$WORK/rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'EXCLUDES'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
EXCLUDES
    printf '%s\n' 'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };' \
        'APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };' \
        'Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";' > "$WORK/rootfs/etc/apt/apt.conf.d/docker-clean"
    echo 'Acquire::Languages "none";' > "$WORK/rootfs/etc/apt/apt.conf.d/docker-no-languages"
    find "$WORK/rootfs/usr/share/doc" -type f ! -name copyright -delete
    rm -rf "$WORK/rootfs/usr/share/man"/* "$WORK/rootfs/usr/share/info"/* "$WORK/rootfs/usr/share/locale"/* \
        "$WORK/rootfs/var/cache/apt"/*.bin "$WORK/rootfs/var/cache/apt/archives"/*.deb "$WORK/rootfs/var/lib/apt/lists"/*
    tar -C "$WORK/rootfs" -c . | "${PODMAN[@]}" import --message "debootstrap --variant=minbase bookworm" - "$base" > /dev/null
    rm -rf "$WORK/rootfs"
fi
# The build stage's output, then the runtime stage of deploy/Dockerfile line for line.
{
    echo "FROM scratch AS build"
    echo "COPY out /out"
    awk 'toupper($1) == "FROM" { lines = "" } { lines = lines $0 "\n" } END { printf "%s", lines }' deploy/Dockerfile
} > "$WORK/Containerfile"
grep -q "COPY --from=build /out/routeprobe" "$WORK/Containerfile" || fail "the runtime stage of deploy/Dockerfile no longer copies /out/routeprobe from the build stage"
echo "building $IMAGE from deploy/Dockerfile's runtime stage ..."
# The runtime stage's apt-get reaches Debian's mirror through the machine's network, as apt does here.
"${PODMAN[@]}" build --network host --pull=never "${LIMITS[@]}" -f "$WORK/Containerfile" -t $IMAGE "$WORK/context" > "$WORK/build.log" 2>&1 \
    || { tail -n 20 "$WORK/build.log"; fail "podman build failed"; }
"${PODMAN[@]}" image prune -f > /dev/null   # the build stage's layer
echo "image $IMAGE: $("${PODMAN[@]}" image inspect --format '{{.Size}}' $IMAGE | awk '{ printf "%.1f MB", $1 / 1e6 }'), built in $(( $(date +%s) - started )) s"
"${PODMAN[@]}" run --rm "${LIMITS[@]}" $IMAGE --help | head -n 1

# 2. The lab, the cluster's files, the replay API server.
lab up --nodes 3 --no-beacons
NODES=(node-a node-b node-c)
declare -A NODE_IP=([node-a]=192.168.0.193 [node-b]=192.168.0.50 [node-c]=192.168.0.60)
AGGREGATOR_HOST=$(python3 -c 'import sys, yaml
for d in yaml.safe_load_all(open("deploy/configmap.yaml")):
    print(yaml.safe_load(d["data"]["agent.yaml"])["aggregator"].split("//")[1].split(":")[0])')
# The host's /dev/log, as the hostPath volume gives it: a syslog socket every container may write to.
start_syslog_collector "$WORK/devlog" "$WORK/syslog.txt"; helper_started
for _ in $(seq 50); do [ -S "$WORK/devlog" ] && break; sleep 0.1; done
chmod 666 "$WORK/devlog"
# Secret routeprobe-aggregator-tls: the aggregator's certificate for its Service name and its address.
scripts/lab-certificates.sh "$WORK/tls" "$AGGREGATOR_HOST" 192.168.0.253
mkdir -p "$WORK/secret-tls" "$WORK/secret-ca" "$WORK/reader" "$WORK/serviceaccount" "$WORK/config/tls"
cp "$WORK/tls/server.crt" "$WORK/secret-tls/tls.crt"; cp "$WORK/tls/server.key" "$WORK/secret-tls/tls.key"
cp "$WORK/tls/ca.crt" "$WORK/secret-tls/ca.crt"; cp "$WORK/tls/ca.crt" "$WORK/secret-ca/ca.crt"
head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$WORK/reader/token"
# ConfigMap routeprobe: agent.yaml exactly as deploy/configmap.yaml has it (the config volume also holds the
# mount point of the nested CA volume, as the kubelet's would).
python3 -c 'import sys, yaml
for d in yaml.safe_load_all(open("deploy/configmap.yaml")):
    open(sys.argv[1], "w").write(d["data"]["agent.yaml"])' "$WORK/config/agent.yaml"
# Each agent's projected ServiceAccount token (JWT-shaped, audience routeprobe), which the replay API
# server's TokenReview binds to that node; the aggregator's own service account files.
jwt() { printf '%s.%s.%s' "$(printf '{"alg":"RS256"}' | base64 -w0 | tr '+/' '-_' | tr -d '=')" \
    "$(printf '{"aud":["routeprobe"],"exp":%d,"sub":"system:serviceaccount:routeprobe:routeprobe-agent"}' $(( $(date +%s) + 3600 )) \
       | base64 -w0 | tr '+/' '-_' | tr -d '=')" "$(head -c 32 /dev/urandom | base64 -w0 | tr '+/' '-_' | tr -d '=')"; }
echo "{" > "$WORK/agent-tokens.json"
for node in "${NODES[@]}"; do
    mkdir -p "$WORK/token-$node"; jwt > "$WORK/token-$node/token"
    echo "\"$(cat "$WORK/token-$node/token")\": \"$node\"," >> "$WORK/agent-tokens.json"
done
echo '"": ""}' >> "$WORK/agent-tokens.json"
scripts/lab-certificates.sh "$WORK/api-tls" 192.168.0.253
cp "$WORK/api-tls/ca.crt" "$WORK/serviceaccount/ca.crt"
echo routeprobe > "$WORK/serviceaccount/namespace"
jwt > "$WORK/serviceaccount/token"
chmod -R a+rX "$WORK/secret-tls" "$WORK/secret-ca" "$WORK/reader" "$WORK/serviceaccount" "$WORK/config" "$WORK"/token-*
python3 scripts/replay-apiserver.py "$WORK/api.sock" Tests/RouteprobeKubernetesTests/Fixtures "$WORK" & helper_started
for _ in $(seq 50); do [ -S "$WORK/api.sock" ] && break; sleep 0.1; done
# The API server at https://192.168.0.253:6443 in the VPC namespace (KUBERNETES_SERVICE_HOST/PORT).
ip netns exec ${PREFIX}vpc socat OPENSSL-LISTEN:6443,bind=192.168.0.253,reuseaddr,fork,verify=0,cert="$WORK/api-tls/server.crt",key="$WORK/api-tls/server.key" \
    UNIX-CONNECT:"$WORK/api.sock" 2> "$WORK/socat.log" & helper_started

# 3. The containers, as the manifests say.
run_container() {   # NAME NETNS MANIFEST CONTAINER [manifest-podman options...] [-- extra podman options...]
    local name=$1 netns=$2 manifest=$3 container=$4; shift 4
    local helper=() extra=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do helper+=("$1"); shift; done
    [ $# -gt 0 ] && { shift; extra=("$@"); }
    local spec options=() arguments=() seen=0
    mapfile -d '' spec < <(python3 scripts/manifest-podman.py "$manifest" "$container" "${helper[@]}") || fail "reading $manifest"
    [ ${#spec[@]} -gt 0 ] || fail "reading $manifest gave nothing"
    for item in "${spec[@]}"; do
        if [ "$item" = --image-- ]; then seen=1; elif [ $seen -eq 0 ]; then options+=("$item"); else arguments+=("$item"); fi
    done
    "${PODMAN[@]}" run -d --name "$name" --label $LABEL "${LIMITS[@]}" --network "ns:/run/netns/$netns" \
        "${options[@]}" "${extra[@]}" $IMAGE "${arguments[@]}" > /dev/null || fail "podman run $name"
}
for node in "${NODES[@]}"; do
    run_container ${PREFIX}beacon-${node#node-} ${PREFIX}pod-${node#node-} deploy/beacon-daemonset.yaml beacon
done
run_container ${PREFIX}aggregator ${PREFIX}vpc deploy/aggregator.yaml aggregator \
    --volume reader-token="$WORK/reader" --volume tls="$WORK/secret-tls" --volume devlog="$WORK/devlog" \
    --env POD_NAME=routeprobe-aggregator-7d9f8-x2k4q \
    -- --env KUBERNETES_SERVICE_HOST=192.168.0.253 --env KUBERNETES_SERVICE_PORT=6443 \
    --volume "$WORK/serviceaccount:/var/run/secrets/kubernetes.io/serviceaccount:ro"
start_agent() {   # NODE [--user UID:GID] [--no-capabilities]
    local node=$1 user=() extra=(); shift
    while [ $# -gt 0 ]; do
        case $1 in --user) user=(--user "$2"); shift 2 ;; --no-capabilities) extra=(--without-added-capabilities); shift ;; esac
    done
    run_container "${PREFIX}agent-$node${extra:+-nocaps}" ${PREFIX}$node deploy/agent-daemonset.yaml agent "${user[@]}" "${extra[@]}" \
        --volume config="$WORK/config" --volume token="$WORK/token-$node" --volume aggregator-ca="$WORK/secret-ca" \
        --volume devlog="$WORK/devlog" --env NODE_NAME=$node --env NODE_IP=${NODE_IP[$node]} \
        -- --add-host "$AGGREGATOR_HOST:192.168.0.253"
}
api() {
    ip netns exec ${PREFIX}vpc curl -sf --cacert "$WORK/tls/ca.crt" -H "Authorization: Bearer $(cat "$WORK/reader/token")" \
        "https://192.168.0.253:9800/api/v1/$1"
}
for _ in $(seq 100); do ip netns exec ${PREFIX}vpc curl -sf --cacert "$WORK/tls/ca.crt" https://192.168.0.253:9800/readyz > /dev/null 2>&1 && break; sleep 0.2; done
ip netns exec ${PREFIX}vpc curl -sf --cacert "$WORK/tls/ca.crt" https://192.168.0.253:9800/readyz > /dev/null \
    || fail "the aggregator container is not ready (leader) within 20 s"
echo "the aggregator container leads (Lease taken on the replay API server)"
start_agent node-a
start_agent node-b
start_agent node-c --user 65534:65534

# An agent without its capabilities stops at start, saying which and how to fix it.
nocaps=${PREFIX}agent-node-a-nocaps
start_agent node-a --no-capabilities
code=$("${PODMAN[@]}" wait $nocaps)
message=$("${PODMAN[@]}" logs $nocaps 2>&1)
[ "$code" = 1 ] && [[ $message == *CAP_NET_RAW* ]] && [ "$(printf '%s\n' "$message" | wc -l)" = 1 ] \
    || fail "an agent without capabilities: exit $code and one line expected, got '$message'"
echo "an agent container without NET_RAW stops at start (exit 1): $message"

# 4. Healthy, then the incident.
matrix_sources() { api matrix | python3 -c 'import json, sys
m = json.load(sys.stdin)
print(" ".join(sorted({c["source"] for c in m["cells"] if c["outcome"] == "reply"})))'; }
for _ in $(seq 60); do [ "$(matrix_sources 2>/dev/null)" = "node-a node-b node-c" ] && break; sleep 0.5; done
[ "$(matrix_sources)" = "node-a node-b node-c" ] || fail "not every agent container reaches the pods: sources answering: '$(matrix_sources)'"
echo "healthy: every agent container (node-c's as uid 65534) reaches the beacon containers"
! api findings | grep -q vpcRouteMissing || fail "a vpcRouteMissing finding while healthy"
lab break-vpc-route node-b
broke=$(date +%s)
opened='vpcRouteMissing .*state="open" scope="cluster"'
for _ in $(seq 120); do grep -q "$opened" "$WORK/syslog.txt" 2>/dev/null && break; sleep 0.5; done
grep -q "$opened" "$WORK/syslog.txt" || fail "no alert from the aggregator container within 60 s of the deletion"
echo "the aggregator container alerted through /dev/log $(( $(date +%s) - broke )) s after the route was deleted:"
grep "$opened" "$WORK/syslog.txt" | head -n 1 | cut -c1-300 | sed 's/^/  /'
agent_alert='vpcRouteMissing .*state="open" scope="node"'
for _ in $(seq 40); do grep -q "$agent_alert" "$WORK/syslog.txt" && break; sleep 0.5; done
grep -q "$agent_alert" "$WORK/syslog.txt" || fail "no alert from an agent container through /dev/log"
echo "and the agent containers alerted too: $(grep -c "$agent_alert" "$WORK/syslog.txt") messages"
api findings | python3 -c 'import json, sys
fs = [f for f in json.load(sys.stdin)["findings"] if f["kind"] == "vpcRouteMissing"]
assert fs and fs[0]["cidr"] == "172.16.1.0/24" and fs[0]["expectedNextHop"]["node"] == "node-b", fs
print("the aggregator names it: " + fs[0]["message"][:200])' || fail "the aggregator's finding does not name 172.16.1.0/24 via node-b"
lab restore-vpc-route node-b
resolved='vpcRouteMissing .*state="resolved" scope="cluster"'
for _ in $(seq 120); do grep -q "$resolved" "$WORK/syslog.txt" 2>/dev/null && break; sleep 0.5; done
grep -q "$resolved" "$WORK/syslog.txt" || fail "the finding did not resolve within 60 s of the restore"
echo "restored: the finding resolved"
# The node's syslog carries routeprobe's RFC 5424 messages and nothing else (libdispatch, refused
# CAP_SYS_NICE in a container, used to log there).
others=$(grep -v '^<[0-9]*>1 ' "$WORK/syslog.txt" | grep -c . || true)
[ "$others" -eq 0 ] || fail "syslog got $others messages that are not routeprobe's: $(grep -v '^<[0-9]*>1 ' "$WORK/syslog.txt" | head -n 1)"
for name in $("${PODMAN[@]}" ps -a --filter label=$LABEL --format '{{.Names}}'); do
    [ "$name" = "$nocaps" ] && continue
    [ "$("${PODMAN[@]}" inspect --format '{{.State.Running}}' "$name")" = true ] || fail "container $name stopped"
done
echo "image test passed in $(( $(date +%s) - started )) s"
