/// How a probe reaches its target.
public enum ProbeProtocol: String, Sendable, Hashable, Codable, CaseIterable {
    /// ICMP or ICMPv6 echo.
    case icmp
    /// A TCP handshake to a port.
    case tcp
}

/// One probe to run: a target, a protocol and, for TCP, a port.
public struct ProbeSpec: Sendable, Hashable {
    /// The address to probe.
    public var target: IPAddress
    /// The protocol.
    public var probeProtocol: ProbeProtocol
    /// The TCP port; nil for ICMP.
    public var port: UInt16?

    /// Builds a probe specification.
    public init(target: IPAddress, probeProtocol: ProbeProtocol, port: UInt16? = nil) {
        self.target = target
        self.probeProtocol = probeProtocol
        self.port = port
    }

    /// `icmp 172.16.1.12` or `tcp 172.16.1.12:9700`.
    public var label: String {
        switch probeProtocol {
        case .icmp: return "icmp \(target)"
        case .tcp: return target.family == .inet6 ? "tcp [\(target)]:\(port ?? 0)" : "tcp \(target):\(port ?? 0)"
        }
    }
}

/// What came back from a probe. Outcomes are ordered from worst to best (`timeout < localError < icmpError <
/// refused < reply`): the best of several attempts is a probe's outcome, and the best of several probes is
/// what a source reaches.
public enum ProbeOutcome: String, Sendable, Hashable, Codable, Comparable {
    /// An ICMP echo reply or a TCP SYN-ACK.
    case reply
    /// A TCP RST: the path works, the port is closed.
    case refused
    /// An ICMP error (destination unreachable, time exceeded) from a router or the target.
    case icmpError
    /// Nothing came back in time.
    case timeout
    /// The local kernel refused to send (ENETUNREACH, EHOSTUNREACH, EACCES, EINVAL ...).
    case localError

    /// True when the path to the target works.
    public var pathWorks: Bool { self == .reply || self == .refused }

    /// The position in the ranking: nothing back, the local kernel refused, a router refused, the target
    /// refused, the target answered.
    private var rank: Int {
        switch self {
        case .timeout: return 0
        case .localError: return 1
        case .icmpError: return 2
        case .refused: return 3
        case .reply: return 4
        }
    }

    public static func < (lhs: ProbeOutcome, rhs: ProbeOutcome) -> Bool { lhs.rank < rhs.rank }
}

/// An ICMP error message that answered a probe.
public struct ICMPErrorReport: Sendable, Hashable, Codable {
    /// The router or host that sent it.
    public var from: IPAddress
    /// The ICMP (or ICMPv6) type.
    public var type: UInt8
    /// The ICMP code.
    public var code: UInt8
    /// True for ICMPv6.
    public var isICMPv6: Bool

    /// Builds a report.
    public init(from: IPAddress, type: UInt8, code: UInt8, isICMPv6: Bool = false) {
        self.from = from
        self.type = type
        self.code = code
        self.isICMPv6 = isICMPv6
    }

    /// A short phrase for the error, such as `host unreachable`.
    public var meaning: String {
        if isICMPv6 {
            switch (type, code) {
            case (1, 0): return "no route to destination"
            case (1, 1): return "communication administratively prohibited"
            case (1, 3): return "address unreachable"
            case (1, 4): return "port unreachable"
            case (1, 6): return "reject route to destination"
            case (1, _): return "destination unreachable (code \(code))"
            case (3, _): return "time exceeded"
            default: return "ICMPv6 type \(type) code \(code)"
            }
        }
        switch (type, code) {
        case (3, 0): return "network unreachable"
        case (3, 1): return "host unreachable"
        case (3, 3): return "port unreachable"
        case (3, 9), (3, 10), (3, 13): return "communication administratively prohibited"
        case (3, _): return "destination unreachable (code \(code))"
        case (11, _): return "time exceeded"
        default: return "ICMP type \(type) code \(code)"
        }
    }
}

/// The result of probing one target with one protocol (`count` attempts).
public struct ProbeResult: Sendable, Hashable {
    /// What was probed.
    public var spec: ProbeSpec
    /// The outcome: the best of the attempts (reply or refused win over errors, errors over timeouts).
    public var outcome: ProbeOutcome
    /// The fastest round-trip time of the attempts that got an answer, in nanoseconds.
    public var rttNanoseconds: UInt64?
    /// Attempts sent.
    public var sent: Int
    /// Attempts answered (reply, refused or ICMP error).
    public var received: Int
    /// The ICMP error, when the outcome is `icmpError`.
    public var icmpError: ICMPErrorReport?
    /// The errno the local kernel gave, when the outcome is `localError`.
    public var localErrno: Int32?

    /// Builds a result.
    public init(spec: ProbeSpec, outcome: ProbeOutcome, rttNanoseconds: UInt64? = nil, sent: Int = 1, received: Int = 0,
                icmpError: ICMPErrorReport? = nil, localErrno: Int32? = nil) {
        self.spec = spec
        self.outcome = outcome
        self.rttNanoseconds = rttNanoseconds
        self.sent = sent
        self.received = received
        self.icmpError = icmpError
        self.localErrno = localErrno
    }

    /// The round-trip time in milliseconds.
    public var rttMilliseconds: Double? { rttNanoseconds.map { Double($0) / 1_000_000 } }

    /// The round-trip time as text with three decimals (`0.481 ms`), without Foundation's formatter.
    public var rttText: String? {
        guard let nanoseconds = rttNanoseconds else { return nil }
        let microseconds = (nanoseconds + 500) / 1000
        let fraction = String(microseconds % 1000)
        return "\(microseconds / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction) ms"
    }
}

/// What a packet capture saw of one probe flow.
public struct CaptureEvidence: Sendable, Hashable {
    /// Requests seen leaving (echo requests, SYNs).
    public var requestsSeen: Int = 0
    /// The interfaces they left on.
    public var interfaces: [String] = []
    /// The destination MAC of the requests: the next hop they were handed to.
    public var nextHopMAC: HardwareAddress?
    /// Requests sent again (TCP SYN retransmissions).
    public var retransmissions: Int = 0
    /// Replies seen (echo replies, SYN-ACKs, RSTs).
    public var repliesSeen: Int = 0
    /// ICMP errors seen for the flow.
    public var icmpErrors: [ICMPErrorReport] = []
    /// The pcap file the flow's packets were written to, if any.
    public var pcapPath: String?

    /// Empty evidence.
    public init() {}
}
