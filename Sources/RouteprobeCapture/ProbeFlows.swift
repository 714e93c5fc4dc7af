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
    public var localHardwareAddresses: [HardwareAddress]

    /// Builds a matcher.
    public init(specs: [ProbeSpec], echoIdentifier: UInt16, localHardwareAddresses: [HardwareAddress] = []) {
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
                if families.contains(.inet) {
                    clauses.append("(tcp and ((dst port \(port) and tcp[tcpflags] & (tcp-syn|tcp-ack) = tcp-syn) or (src port \(port) and tcp[tcpflags] & (tcp-syn|tcp-rst) != 0)))")
                }
                // libpcap's tcp[...] reads IPv4 only: over IPv6 the TCP header follows the fixed header (our SYNs
                // and their answers carry no extension headers), ports at 40 and 42, flags at 53.
                if families.contains(.inet6) {
                    clauses.append("(ip6 and ip6[6] = 6 and ((ip6[42:2] = \(port) and ip6[53] & 0x12 = 0x02) or (ip6[40:2] = \(port) and ip6[53] & 0x06 != 0)))")
                }
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
        // Flows by target address, then protocol and port: a target has one or two flows. Keyed by IPAddress,
        // whose hashing the check has set up already: a first Dictionary<ProbeSpec, _> in a process costs the
        // Swift runtime a scan of the binary's every protocol conformance (about 0.1 ms), per run.
        var flowsOfTarget: [IPAddress: [(probeProtocol: ProbeProtocol, port: UInt16?, position: Int)]] = [:]
        flowsOfTarget.reserveCapacity(specs.count)
        for (position, spec) in specs.enumerated() {
            let known = flowsOfTarget[spec.target, default: []]
            if !known.contains(where: { $0.probeProtocol == spec.probeProtocol && $0.port == spec.port }) {
                flowsOfTarget[spec.target, default: []].append((spec.probeProtocol, spec.port, position))
            }
        }
        func flow(_ target: IPAddress, _ probeProtocol: ProbeProtocol, port: UInt16? = nil) -> Int? {
            flowsOfTarget[target]?.first { $0.probeProtocol == probeProtocol && $0.port == port }?.position
        }
        // The SYNs seen per flow (source port and sequence), to tell a retransmission from a new attempt.
        var synsOfFlow = [[UInt64]](repeating: [], count: specs.count)
        func leftThisNode(_ packet: DissectedPacket) -> Bool {
            guard !localHardwareAddresses.isEmpty, let source = packet.sourceHardwareAddress else { return true }
            return localHardwareAddresses.contains(source)
        }
        var lastInterfaces: [String] = []
        for (packetIndex, packet) in packets.enumerated() {
            guard let dissected = try? PacketDissector.dissect(packet.bytes, linkType: packet.linkType) else { continue }
            var matched: (Int, Role)? = nil
            switch dissected.transport {
            case .echo(let isRequest, let identifier, _):
                guard identifier == echoIdentifier else { continue }
                let target = isRequest ? dissected.destination : dissected.source
                if isRequest, !leftThisNode(dissected) { continue }
                if let position = flow(target, .icmp) { matched = (position, isRequest ? .request : .reply) }
            case .tcp(let sourcePort, let destinationPort, let flags, let sequence):
                let isSYN = flags & 0x02 != 0 && flags & 0x10 == 0
                if isSYN, !leftThisNode(dissected) { continue }
                if isSYN, let position = flow(dissected.destination, .tcp, port: destinationPort) {
                    let key = UInt64(sourcePort) << 32 | UInt64(sequence)
                    let seen = synsOfFlow[position].contains(key)
                    if !seen { synsOfFlow[position].append(key) }
                    matched = (position, seen ? .retransmission : .request)
                } else if flags & 0x12 == 0x12 || flags & 0x04 != 0,
                          let position = flow(dissected.source, .tcp, port: sourcePort) {
                    matched = (position, .reply)
                }
            case .icmpError(let type, let code, let quoted):
                let report = ICMPErrorReport(from: dissected.source, type: type, code: code, isICMPv6: quoted.destination.family == .inet6)
                if quoted.protocolNumber == 6, let port = quoted.destinationPort,
                   let position = flow(quoted.destination, .tcp, port: port) {
                    matched = (position, .icmpError(report))
                } else if quoted.protocolNumber == 1 || quoted.protocolNumber == 58, quoted.echoIdentifier == echoIdentifier,
                          let position = flow(quoted.destination, .icmp) {
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
                    if evidence[position].interfaces.isEmpty {
                        // Most flows leave by the same interface and next hop: share one array and one
                        // string among them instead of allocating both per flow.
                        if lastInterfaces.first != packet.interface { lastInterfaces = [packet.interface] }
                        evidence[position].interfaces = lastInterfaces
                    } else {
                        evidence[position].interfaces.append(packet.interface)
                    }
                }
                if evidence[position].nextHopMAC == nil { evidence[position].nextHopMAC = dissected.destinationHardwareAddress }
            case .reply:
                evidence[position].repliesSeen += 1
            case .icmpError(let report):
                evidence[position].icmpErrors.append(report)
            }
        }
        return (evidence, flowOfPacket)
    }
}
