import RouteprobeCore

/// Matches captured packets to probe flows: the BPF filter that selects them in the kernel, and the
/// evidence each flow leaves.
public struct ProbeFlows: Sendable {
    /// The probes.
    public var specs: [ProbeSpec]
    /// The ICMP echo identifier the probes used.
    public var echoIdentifier: UInt16
    /// The MAC addresses of this node's interfaces (6 bytes each): an Ethernet frame counts as a request
    /// leaving only when it comes from one of them, not when a switch floods it back to us. Empty: any.
    public var localHardwareAddresses: Set<[UInt8]>

    /// Builds a matcher.
    public init(specs: [ProbeSpec], echoIdentifier: UInt16, localHardwareAddresses: Set<[UInt8]> = []) {
        self.specs = specs
        self.echoIdentifier = echoIdentifier
        self.localHardwareAddresses = localHardwareAddresses
    }

    /// A filter for exactly the probe traffic: our echo requests and replies (by identifier), ICMP errors,
    /// and the TCP segments that carry evidence (SYN, SYN-ACK, RST) to or from the probed ports. Small
    /// whatever the number of targets; everything else stays in the kernel.
    public var filter: String {
        var clauses: [String] = []
        let families = Set(specs.map(\.target.family))
        if specs.contains(where: { $0.probeProtocol == .icmp }) {
            if families.contains(.inet) {
                clauses.append("(icmp and (icmp[0] = 8 or icmp[0] = 0) and icmp[4:2] = \(echoIdentifier))")
            }
            if families.contains(.inet6) {
                clauses.append("(ip6 and ip6[6] = 58 and (ip6[40] = 128 or ip6[40] = 129) and ip6[44:2] = \(echoIdentifier))")
            }
        }
        if families.contains(.inet) { clauses.append("(icmp and (icmp[0] = 3 or icmp[0] = 11))") }
        if families.contains(.inet6) { clauses.append("(ip6 and ip6[6] = 58 and ip6[40] < 128)") }
        let ports = Set(specs.compactMap(\.port)).sorted()
        if !ports.isEmpty {
            // SYNs towards a probed port, SYN-ACKs and RSTs coming back from it; not our own closing RSTs.
            for port in ports {
                clauses.append("(tcp and ((dst port \(port) and tcp[tcpflags] & (tcp-syn|tcp-ack) = tcp-syn) or (src port \(port) and tcp[tcpflags] & (tcp-syn|tcp-rst) != 0)))")
            }
        }
        return clauses.joined(separator: " or ")
    }

    /// Which spec a packet belongs to, and whether it is a request (leaving), a reply, or an ICMP error.
    enum Role { case request, retransmission, reply, icmpError(ICMPErrorReport) }

    /// The evidence for every spec, in order, and which flow each packet belongs to (`flowOfPacket[i]` is
    /// the spec position of `packets[i]`, or nil).
    public func evidence(from packets: [CapturedPacket]) -> (evidence: [CaptureEvidence], flowOfPacket: [Int?]) {
        var evidence = [CaptureEvidence](repeating: CaptureEvidence(), count: specs.count)
        var flowOfPacket = [Int?](repeating: nil, count: packets.count)
        var index: [ProbeSpec: Int] = [:]
        index.reserveCapacity(specs.count)
        for (position, spec) in specs.enumerated() where index[spec] == nil { index[spec] = position }
        struct SYNKey: Hashable { let sourcePort: UInt16; let sequence: UInt32; let flow: Int }
        var seenSYNs = Set<SYNKey>()
        let localSources = Set(localHardwareAddresses.filter { $0.count == 6 }.map { $0.reduce(UInt64(0)) { $0 << 8 | UInt64($1) } })
        func leftThisNode(_ packet: DissectedPacket) -> Bool {
            guard !localSources.isEmpty, let source = packet.sourceHardwareAddress else { return true }
            return localSources.contains(source.value)
        }
        for (packetIndex, packet) in packets.enumerated() {
            guard let dissected = try? PacketDissector.dissect(packet.bytes, linkType: packet.linkType) else { continue }
            var matched: (Int, Role)? = nil
            switch dissected.transport {
            case .echo(let isRequest, let identifier, _):
                guard identifier == echoIdentifier else { continue }
                let target = isRequest ? dissected.destination : dissected.source
                if isRequest, !leftThisNode(dissected) { continue }
                if let position = index[ProbeSpec(target: target, probeProtocol: .icmp)] { matched = (position, isRequest ? .request : .reply) }
            case .tcp(let sourcePort, let destinationPort, let flags, let sequence):
                let isSYN = flags & 0x02 != 0 && flags & 0x10 == 0
                if isSYN, !leftThisNode(dissected) { continue }
                if isSYN, let position = index[ProbeSpec(target: dissected.destination, probeProtocol: .tcp, port: destinationPort)] {
                    let key = SYNKey(sourcePort: sourcePort, sequence: sequence, flow: position)
                    matched = (position, seenSYNs.insert(key).inserted ? .request : .retransmission)
                } else if flags & 0x12 == 0x12 || flags & 0x04 != 0,
                          let position = index[ProbeSpec(target: dissected.source, probeProtocol: .tcp, port: sourcePort)] {
                    matched = (position, .reply)
                }
            case .icmpError(let type, let code, let quoted):
                let report = ICMPErrorReport(from: dissected.source, type: type, code: code, isICMPv6: quoted.destination.family == .inet6)
                if quoted.protocolNumber == 6, let port = quoted.destinationPort,
                   let position = index[ProbeSpec(target: quoted.destination, probeProtocol: .tcp, port: port)] {
                    matched = (position, .icmpError(report))
                } else if quoted.protocolNumber == 1 || quoted.protocolNumber == 58, quoted.echoIdentifier == echoIdentifier,
                          let position = index[ProbeSpec(target: quoted.destination, probeProtocol: .icmp)] {
                    matched = (position, .icmpError(report))
                }
            case .other:
                continue
            }
            guard let (position, role) = matched else { continue }
            flowOfPacket[packetIndex] = position
            switch role {
            case .request, .retransmission:
                evidence[position].requestsSeen += 1
                if case .retransmission = role { evidence[position].retransmissions += 1 }
                if !packet.interface.isEmpty, !evidence[position].interfaces.contains(packet.interface) {
                    evidence[position].interfaces.append(packet.interface)
                }
                if evidence[position].nextHopMAC == nil, let next = dissected.destinationHardwareAddress {
                    evidence[position].nextHopMAC = next.description
                }
            case .reply:
                evidence[position].repliesSeen += 1
            case .icmpError(let report):
                evidence[position].icmpErrors.append(report)
            }
        }
        return (evidence, flowOfPacket)
    }
}
