#!/usr/bin/env python3
"""Writes the synthetic pcap fixtures the dissector tests read: IPv6 echo and error, a Linux cooked (SLL2)
capture, and malformed frames. The captured ones (probe-*.pcap) came from the lab with tcpdump."""
import ipaddress
import struct

def pcap(path, linktype, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype))
        for i, frame in enumerate(frames):
            f.write(struct.pack("<IIII", 1700000000 + i, 0, len(frame), len(frame)))
            f.write(frame)

def ip6(a): return ipaddress.IPv6Address(a).packed
def ip4(a): return ipaddress.IPv4Address(a).packed
def ether(payload, ethertype, dst=b"\x02\x00\x00\x00\x00\x02", src=b"\x02\x00\x00\x00\x00\x01"):
    return dst + src + struct.pack(">H", ethertype) + payload
def ipv6(src, dst, next_header, payload):
    return struct.pack(">IHBB", 6 << 28, len(payload), next_header, 64) + ip6(src) + ip6(dst) + payload
def ipv4(src, dst, proto, payload, ihl=5):
    header = struct.pack(">BBHHHBBH", 0x40 | ihl, 0, 20 + len(payload), 0, 0, 64, proto, 0) + ip4(src) + ip4(dst)
    return header + b"\x00" * (ihl * 4 - 20) + payload

request = struct.pack(">BBHHH", 128, 0, 0, 0x1234, 1) + b"routeprobe\x00\x00\x00\x00\x00\x00"
reply = struct.pack(">BBHHH", 129, 0, 0, 0x1234, 1) + b"routeprobe\x00\x00\x00\x00\x00\x00"
quoted = ipv6("fd00::1", "fd00:1::12", 58, request)
error = struct.pack(">BBHI", 1, 0, 0, 0) + quoted
pcap("ipv6-echo-and-unreachable.pcap", 1, [
    ether(ipv6("fd00::1", "fd00:1::12", 58, request), 0x86DD),
    ether(ipv6("fd00:1::12", "fd00::1", 58, reply), 0x86DD),
    ether(ipv6("fd00::fe", "fd00::1", 58, error), 0x86DD),
])

# Linux cooked v2: protocol, reserved, ifindex, hatype, pkttype, halen, address(8)
syn = struct.pack(">HHIIBBH", 40000, 9700, 7, 0, 0x50, 0x02, 64240) + b"\x00" * 4
sll2 = struct.pack(">HHIHBB", 0x0800, 0, 3, 1, 4, 6) + b"\x02\x00\x00\x00\x00\x01\x00\x00"
pcap("linux-cooked-v2-syn.pcap", 276, [sll2 + ipv4("192.168.0.193", "172.16.1.12", 6, syn)])

echo4 = struct.pack(">BBHHH", 8, 0, 0, 0x1234, 1)
pcap("malformed-frames.pcap", 1, [
    b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00",                                   # 0 truncated Ethernet header
    ether(b"\x45\x00\x00\x14\x00\x00\x00\x00\x40\x01", 0x0800),                    # 1 truncated IPv4 header
    ether(ipv4("10.0.0.1", "10.0.0.2", 1, b"")[:20].replace(b"\x45", b"\x4f", 1) + b"\x00" * 10, 0x0800),  # 2 IHL 60, 30 bytes
    ether(ipv4("10.0.0.254", "10.0.0.1", 1, struct.pack(">BBHI", 3, 1, 0, 0) + b"\x45\x00\x00\x1c"), 0x0800),  # 3 quote cut short
    ether(ipv4("10.0.0.1", "10.0.0.2", 6, syn[:10]), 0x0800),                        # 4 truncated TCP header
    ether(b"\x00\x01\x08\x00\x06\x04\x00\x01" + b"\x00" * 20, 0x0806),               # 5 ARP: unsupported ethertype
    ether(b"\x60" + b"\x00" * 39, 0x0800),                                           # 6 IPv6 bytes in an IPv4 frame
    ether(ipv4("10.0.0.1", "10.0.0.2", 1, echo4[:4]), 0x0800),                        # 7 truncated ICMP header
    ether(b"\x00\x01", 0x8100),                                                       # 8 truncated VLAN tag
    ether(ipv6("fd00::1", "fd00::2", 58, b"")[:30], 0x86DD),                         # 9 truncated IPv6 header
])
