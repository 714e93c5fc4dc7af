#!/usr/bin/env python3
"""Writes the seed inputs of scripts/fuzz.sh: one directory per harness under OUT, from the project's own
fixtures (kernel netlink dumps, captured pcaps, cloud route tables, cluster maps, configs) and from messages
in the shape agents send. Usage: fuzz-seeds.py OUT"""
import glob, json, os, struct, sys

out = sys.argv[1]
def write(harness, name, data):
    os.makedirs(os.path.join(out, harness), exist_ok=True)
    with open(os.path.join(out, harness, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())

# netlink: the kernel's answers in the fixtures (hex, "----" between datagrams)
for path in glob.glob("Tests/RouteprobeNetlinkTests/Fixtures/*.hex"):
    datagrams, current = [], None
    for line in open(path):
        if line.startswith("----"):
            if current is not None: datagrams.append(current)
            current = b""
            continue
        tokens = line.split("#", 1)[0].split()
        if tokens:
            current = (current or b"") + bytes(int(t, 16) for t in tokens)
    if current: datagrams.append(current)
    # One datagram holding the whole answer (messages delimit themselves; the kernel may send a dump and its
    # NLMSG_DONE in one datagram).
    write("netlink", os.path.basename(path), b"".join(datagrams))

# packet: every frame of the capture fixtures, behind the byte that picks its link type (PacketHarness)
link_index = {1: 0, 113: 1, 276: 2, 12: 3, 14: 4, 101: 5}
for path in glob.glob("Tests/RouteprobeCaptureTests/Fixtures/*.pcap"):
    data = open(path, "rb").read()
    endian = "<" if data[:4] == b"\xd4\xc3\xb2\xa1" or data[:4] == b"\x4d\x3c\xb2\xa1" else ">"
    link = struct.unpack(endian + "I", data[20:24])[0]
    offset, i = 24, 0
    while offset + 16 <= len(data):
        captured = struct.unpack(endian + "I", data[offset + 8:offset + 12])[0]
        frame = data[offset + 16:offset + 16 + captured]
        write("packet", "%s-%d" % (os.path.basename(path), i), bytes([link_index.get(link, 0)]) + frame)
        offset += 16 + captured; i += 1

# report and registration: what agents send
probe = {"target": "172.16.1.12", "protocol": "tcp", "port": 9700, "owner": "node-b", "cidr": "172.16.1.0/24",
         "routeClass": "vpc", "device": "eth0", "gateway": "192.168.0.253", "outcome": "timeout", "verdict": "vpcRouteMissing",
         "sent": 1, "received": 0, "controlOutcome": "reply", "failedRounds": 3}
reply = dict(probe, outcome="reply", verdict="reachable", rttMs=0.21, received=1, failedRounds=0)
report = {"schema": 2, "node": "node-a", "round": 5, "planGeneration": 3, "openAfter": 2, "results": [probe, reply],
          "localFindings": [], "strayTraffic": [{"cidr": "172.16.2.0/24", "packets": 4, "interface": "eth0", "sampleSource": "192.168.0.50"}]}
write("report", "report.json", json.dumps(report))
write("report", "healthy.json", json.dumps(dict(report, results=[reply])))
registration = {"schema": 2, "node": "node-a", "ip": "192.168.0.193", "otherIP": "fd00:192:168::c1",
                "podCIDRs": ["172.16.0.0/24", "fd00:172:16::/64"], "podTargets": ["172.16.0.12"],
                "instanceID": "i-0abc", "intervalMilliseconds": 5000}
write("registration", "registration.json", json.dumps(registration))
write("registration", "minimal.json", json.dumps({"schema": 2, "node": "node-b", "ip": "192.168.0.50"}))

# the loaders: the fixtures and examples people start from
for path in glob.glob("Tests/RouteprobeConfigurationTests/Fixtures/*-cluster-map.yaml") + ["deploy/cluster-map.example.yaml"]:
    write("cluster-map", os.path.basename(path), open(path, "rb").read())
write("cluster-map", "json-map.json", json.dumps({"probePort": 9700, "nodes": [
    {"name": "node-a", "ip": "192.168.0.193", "podCIDRs": ["172.16.0.0/24"], "podTargets": ["172.16.0.12"]}]}))
write("agent-config", "agent.example.yaml", open("deploy/agent.example.yaml", "rb").read())
for path in glob.glob("Tests/RouteprobeConfigurationTests/Fixtures/*.json"):
    write("vpc-table", os.path.basename(path), open(path, "rb").read())
