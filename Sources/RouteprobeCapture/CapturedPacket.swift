/// One frame copied out of libpcap: its time, link type, interface and bytes.
public struct CapturedPacket: Sendable, Hashable {
    /// Seconds since the epoch.
    public var seconds: Int
    /// Microseconds within the second.
    public var microseconds: Int
    /// The frame's link-layer type (DLT_*).
    public var linkType: Int32
    /// The interface it was captured on ("" for a file).
    public var interface: String
    /// The length on the wire (the captured bytes may be fewer).
    public var originalLength: Int
    /// The captured bytes.
    public var bytes: [UInt8]

    /// Builds a packet.
    public init(seconds: Int, microseconds: Int, linkType: Int32, interface: String, originalLength: Int, bytes: [UInt8]) {
        self.seconds = seconds
        self.microseconds = microseconds
        self.linkType = linkType
        self.interface = interface
        self.originalLength = originalLength
        self.bytes = bytes
    }
}

/// Why capturing failed.
public enum CaptureError: Error, CustomStringConvertible, Sendable, Equatable {
    /// libpcap refused (the message is libpcap's).
    case pcap(String)
    /// The capture needs CAP_NET_RAW.
    case permission(String)

    public var description: String {
        switch self {
        case .pcap(let message): return message
        case .permission(let message): return message
        }
    }
}

/// Something that made a capture see less than was sent: the evidence of the flows concerned undercounts.
public enum CaptureProblem: Sendable, Hashable, CustomStringConvertible {
    /// An interface could not be captured on (libpcap's reason).
    case interfaceUnavailable(interface: String, reason: String)
    /// The kernel dropped frames on an interface because its ring was full (pcap_stats).
    case kernelDrops(interface: String, frames: Int)
    /// Reading captured frames failed (libpcap's reason).
    case readFailed(interface: String, reason: String)
    /// The capture thread stopped before it was asked to (the system call that failed).
    case stoppedEarly(reason: String)
    /// No capture ran: it needs a capability the process lacks; the probes ran without it.
    case skipped(reason: String)

    public var description: String {
        switch self {
        case .interfaceUnavailable(let interface, let reason): return "cannot capture on \(interface): \(reason)"
        case .kernelDrops(let interface, let frames):
            return "capture on \(interface): the kernel dropped \(frames) frames (ring full); the evidence undercounts"
        case .readFailed(let interface, let reason): return "capture on \(interface) failed: \(reason)"
        case .stoppedEarly(let reason): return "capture stopped early: \(reason)"
        case .skipped(let reason): return "the capture was skipped (\(reason)); the probes ran without it"
        }
    }
}
