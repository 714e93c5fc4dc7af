/// A TCP segment's header fields, as far as probes need them.
public struct TCPSegment: Sendable, Hashable {
    /// The ports.
    public var sourcePort: UInt16
    public var destinationPort: UInt16
    /// The sequence and acknowledgment numbers.
    public var sequence: UInt32
    public var acknowledgment: UInt32
    /// The flag byte (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10).
    public var flags: UInt8

    /// Flag bits.
    public static let syn: UInt8 = 0x02
    public static let reset: UInt8 = 0x04
    public static let ack: UInt8 = 0x10

    /// True for a RST.
    public var isReset: Bool { flags & TCPSegment.reset != 0 }
    /// True for a SYN-ACK.
    public var isSynAck: Bool { flags & (TCPSegment.syn | TCPSegment.ack) == TCPSegment.syn | TCPSegment.ack }
    /// True for a SYN without ACK: a connection attempt.
    public var isSyn: Bool { flags & (TCPSegment.syn | TCPSegment.ack) == TCPSegment.syn }

    /// Builds a segment header.
    public init(sourcePort: UInt16, destinationPort: UInt16, sequence: UInt32, acknowledgment: UInt32 = 0, flags: UInt8) {
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
        self.sequence = sequence
        self.acknowledgment = acknowledgment
        self.flags = flags
    }

    /// Reads the fixed 20-byte header at the start of `bytes`.
    public static func parse(_ bytes: ArraySlice<UInt8>) throws(PacketError) -> TCPSegment {
        guard bytes.count >= 20 else { throw PacketError.truncated("TCP header") }
        return TCPSegment(sourcePort: bytes.uint16(at: 0), destinationPort: bytes.uint16(at: 2), sequence: bytes.uint32(at: 4),
                          acknowledgment: bytes.uint32(at: 8), flags: bytes.byte(at: 13))
    }

    /// A SYN with an MSS option (1,460), its checksum over the pseudo-header of `source` and `destination`.
    public static func synBytes(from source: IPAddress, port sourcePort: UInt16, to destination: IPAddress,
                                port destinationPort: UInt16, sequence: UInt32) -> [UInt8] {
        var segment: [UInt8] = [
            UInt8(sourcePort >> 8), UInt8(sourcePort & 0xff), UInt8(destinationPort >> 8), UInt8(destinationPort & 0xff),
            UInt8(sequence >> 24), UInt8((sequence >> 16) & 0xff), UInt8((sequence >> 8) & 0xff), UInt8(sequence & 0xff),
            0, 0, 0, 0,                 // acknowledgment
            6 << 4, syn,                // 24-byte header; SYN
            0xfa, 0xf0,                 // window 64,240
            0, 0, 0, 0,                 // checksum, urgent pointer
            2, 4, 0x05, 0xb4,           // MSS 1,460
        ]
        let checksum = InternetChecksum.compute(segment: segment, protocol: .tcp, source: source, destination: destination)
        segment[16] = UInt8(checksum >> 8)
        segment[17] = UInt8(checksum & 0xff)
        return segment
    }
}
