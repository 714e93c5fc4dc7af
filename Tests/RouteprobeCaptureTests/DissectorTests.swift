import Foundation
import Testing
import RouteprobeCapture
import RouteprobeCore

func fixturePath(_ name: String) throws -> String {
    guard let url = Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil) else {
        throw CaptureTestError("fixture \(name) is missing")
    }
    return url.path
}

struct CaptureTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The dissector on frames captured in the lab and on synthetic ones.
@Suite struct DissectorTests {
    @Test func dissectsACapturedTCPHandshakeAndEcho() throws {
        let packets = try PcapFile.read(path: try fixturePath("probe-exchange-reachable.pcap"))
        #expect(packets.count == 9)
        let syn = try PacketDissector.dissect(packets[0].bytes, linkType: packets[0].linkType)
        #expect(syn.source == IPAddress("192.168.0.193"))
        #expect(syn.destination == IPAddress("172.16.1.12"))
        #expect(syn.destinationMAC?.count == 17)
        guard case .tcp(_, let destinationPort, let flags, _) = syn.transport else { Issue.record("not TCP: \(syn)"); return }
        #expect(destinationPort == 9700)
        #expect(flags == 0x02)
        let reply = try PacketDissector.dissect(packets[8].bytes, linkType: packets[8].linkType)
        #expect(reply.transport == .echo(isRequest: false, identifier: 30672, sequence: 0))
    }

    @Test func readsTheQuotedPacketOfARoutersError() throws {
        let packets = try PcapFile.read(path: try fixturePath("probe-rejected-by-router.pcap"))
        let error = try PacketDissector.dissect(packets[1].bytes, linkType: packets[1].linkType)
        #expect(error.source == IPAddress("192.168.0.253"))
        guard case .icmpError(let type, let code, let quoted) = error.transport else { Issue.record("not an ICMP error"); return }
        #expect(type == 3 && code == 1)
        #expect(quoted.destination == IPAddress("172.16.1.12"))
        #expect(quoted.protocolNumber == 6)
        #expect(quoted.destinationPort == 9700)
    }

    @Test func dissectsIPv6EchoAndICMPv6Errors() throws {
        let packets = try PcapFile.read(path: try fixturePath("ipv6-echo-and-unreachable.pcap"))
        let request = try PacketDissector.dissect(packets[0].bytes, linkType: packets[0].linkType)
        #expect(request.transport == .echo(isRequest: true, identifier: 0x1234, sequence: 1))
        let error = try PacketDissector.dissect(packets[2].bytes, linkType: packets[2].linkType)
        guard case .icmpError(1, 0, let quoted) = error.transport else { Issue.record("not an ICMPv6 error: \(error)"); return }
        #expect(quoted.destination == IPAddress("fd00:1::12"))
        #expect(quoted.echoIdentifier == 0x1234)
    }

    @Test func dissectsLinuxCookedV2() throws {
        let packets = try PcapFile.read(path: try fixturePath("linux-cooked-v2-syn.pcap"))
        #expect(packets.first?.linkType == LinkType.linuxCooked2)
        let syn = try PacketDissector.dissect(packets[0].bytes, linkType: packets[0].linkType)
        #expect(syn.sourceMAC == "02:00:00:00:00:01")
        guard case .tcp(40000, 9700, 0x02, 7) = syn.transport else { Issue.record("wrong TCP fields: \(syn)"); return }
    }

    @Test func malformedFramesAreTypedErrors() throws {
        let packets = try PcapFile.read(path: try fixturePath("malformed-frames.pcap"))
        let expected: [PacketError] = [
            .truncated("Ethernet header"), .truncated("IPv4 header"), .truncated("IPv4 options"),
            .truncated("quoted IPv4 header"), .truncated("TCP header"), .unsupported("ethertype 0x0806"),
            .unsupported("IP version 6 in an IPv4 frame"), .truncated("ICMP header"), .truncated("VLAN tag"),
            .truncated("IPv6 header"),
        ]
        #expect(packets.count == expected.count)
        for (index, packet) in packets.enumerated() {
            #expect(throws: expected[index], "frame \(index)") { _ = try PacketDissector.dissect(packet.bytes, linkType: packet.linkType) }
        }
    }

    @Test func everyTruncationOfEveryCapturedFrameIsSafe() throws {
        var checked = 0
        for name in ["probe-exchange-reachable.pcap", "probe-rejected-by-router.pcap", "ipv6-echo-and-unreachable.pcap"] {
            for packet in try PcapFile.read(path: try fixturePath(name)) {
                // Whole frames dissect.
                let whole = try PacketDissector.dissect(packet.bytes, linkType: packet.linkType)
                for length in 0..<packet.bytes.count {
                    let cut = try? PacketDissector.dissect(Array(packet.bytes.prefix(length)), linkType: packet.linkType)
                    // No link header (at least 14 bytes) and IPv4 header (20) fit in 34 bytes: refused.
                    if length < 34 { #expect(cut == nil, "\(name): \(length) bytes dissected") }
                    // What a shorter frame still yields is what the whole frame says.
                    if let cut { #expect(cut.source == whole.source && cut.destination == whole.destination, "\(name): \(length) bytes") }
                    checked += 1
                }
            }
        }
        #expect(checked > 1000)
    }

    @Test func anUnknownLinkTypeIsRefused() {
        #expect(throws: PacketError.unsupported("link type 147")) { _ = try PacketDissector.dissect([1, 2, 3], linkType: 147) }
    }

    @Test func aFileThatIsNotPcapIsAClearError() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("not-a-pcap-\(UUID().uuidString)").path
        try Data("hello".utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let error = #expect(throws: CaptureError.self) { _ = try PcapFile.read(path: path) }
        #expect(error?.description.contains("cannot read pcap file") == true)
    }

    @Test func writtenPcapFilesReadBackIdentically() throws {
        let packets = try PcapFile.read(path: try fixturePath("probe-rejected-by-router.pcap"))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("roundtrip-\(UUID().uuidString).pcap").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try PcapFile.write(packets, linkType: packets[0].linkType, to: path)
        let again = try PcapFile.read(path: path)
        #expect(again.map(\.bytes) == packets.map(\.bytes))
        #expect(again.map(\.seconds) == packets.map(\.seconds))
    }
}

/// Turning captured packets into per-flow evidence.
@Suite struct ProbeFlowTests {
    @Test func aReachableExchangeShowsRequestsAndReplies() throws {
        let packets = try PcapFile.read(path: try fixturePath("probe-exchange-reachable.pcap"))
        let specs = [ProbeSpec(target: IPAddress("172.16.1.12")!, probeProtocol: .tcp, port: 9700),
                     ProbeSpec(target: IPAddress("192.168.0.60")!, probeProtocol: .tcp, port: 9700),
                     ProbeSpec(target: IPAddress("172.16.1.12")!, probeProtocol: .icmp)]
        let (evidence, flowOfPacket) = ProbeFlows(specs: specs, echoIdentifier: 30672).evidence(from: packets)
        #expect(evidence[0].requestsSeen == 1 && evidence[0].repliesSeen == 1 && evidence[0].retransmissions == 0)
        #expect(evidence[1].requestsSeen == 1 && evidence[1].repliesSeen == 1) // the RST
        #expect(evidence[2].requestsSeen == 1 && evidence[2].repliesSeen == 1)
        #expect(evidence[0].nextHopMAC != nil)
        #expect(flowOfPacket.filter { $0 == 0 }.count == 2)
        #expect(evidence[0].nextHopMAC?.description.count == 17)
    }

    @Test func aRequestFloodedBackByTheSwitchDidNotLeaveAgain() throws {
        let packets = try PcapFile.read(path: try fixturePath("probe-exchange-reachable.pcap"))
        let spec = ProbeSpec(target: IPAddress("172.16.1.12")!, probeProtocol: .icmp)
        let request = try PacketDissector.dissect(packets[7].bytes, linkType: packets[7].linkType)
        let ours = try #require(request.sourceHardwareAddress)
        let fromUs = ProbeFlows(specs: [spec], echoIdentifier: 30672, localHardwareAddresses: [ours]).evidence(from: packets)
        #expect(fromUs.evidence[0].requestsSeen == 1)
        let fromElsewhere = ProbeFlows(specs: [spec], echoIdentifier: 30672, localHardwareAddresses: [HardwareAddress(bytes: [2, 0, 0, 0, 0, 9])!]).evidence(from: packets)
        #expect(fromElsewhere.evidence[0].requestsSeen == 0)
        #expect(fromElsewhere.evidence[0].repliesSeen == 1)
    }

    @Test func anotherProbersEchoesAreNotOurs() throws {
        let packets = try PcapFile.read(path: try fixturePath("probe-exchange-reachable.pcap"))
        let spec = ProbeSpec(target: IPAddress("172.16.1.12")!, probeProtocol: .icmp)
        let (evidence, _) = ProbeFlows(specs: [spec], echoIdentifier: 1).evidence(from: packets)
        #expect(evidence[0].requestsSeen == 0 && evidence[0].repliesSeen == 0)
    }

    @Test func routerErrorsAreTiedToTheirFlows() throws {
        let packets = try PcapFile.read(path: try fixturePath("probe-rejected-by-router.pcap"))
        let specs = [ProbeSpec(target: IPAddress("172.16.1.12")!, probeProtocol: .tcp, port: 9700),
                     ProbeSpec(target: IPAddress("172.16.1.12")!, probeProtocol: .icmp)]
        let (evidence, _) = ProbeFlows(specs: specs, echoIdentifier: 24258).evidence(from: packets)
        for flow in evidence {
            #expect(flow.icmpErrors == [ICMPErrorReport(from: IPAddress("192.168.0.253")!, type: 3, code: 1)])
            #expect(flow.requestsSeen == 1 && flow.repliesSeen == 0)
        }
    }

    @Test func theFilterSelectsOnlyProbeTraffic() {
        let flows = ProbeFlows(specs: [ProbeSpec(target: IPAddress("10.0.0.1")!, probeProtocol: .icmp),
                                       ProbeSpec(target: IPAddress("10.0.0.1")!, probeProtocol: .tcp, port: 9700)],
                               echoIdentifier: 77)
        #expect(flows.filter.hasPrefix("(icmp and (icmp[0] = 8 or icmp[0] = 0) and icmp[4:2] = 77) or (icmp and (icmp[0] = 3 or icmp[0] = 11)) or (tcp and ((dst port 9700"))
    }

    @Test func malformedFramesNeverBreakTheEvidence() throws {
        let packets = try PcapFile.read(path: try fixturePath("malformed-frames.pcap"))
        let spec = ProbeSpec(target: IPAddress("10.0.0.2")!, probeProtocol: .tcp, port: 9700)
        let (evidence, _) = ProbeFlows(specs: [spec], echoIdentifier: 0x1234).evidence(from: packets)
        #expect(evidence[0] == CaptureEvidence())
    }
}
