/// An ICMP or ICMPv6 message: an echo request or reply, an error with the packet it quotes, or another type.
public enum ICMPMessage: Sendable, Hashable {
    /// An echo request (`isRequest`) or reply.
    case echo(isRequest: Bool, identifier: UInt16, sequence: UInt16)
    /// Destination unreachable, time exceeded, parameter problem (and ICMPv6 packet too big): the router's
    /// type and code and the start of the packet that caused it.
    case error(type: UInt8, code: UInt8, quoted: QuotedPacket)
    /// Any other message type.
    case other(type: UInt8, code: UInt8)

    /// ICMP echo request and reply types (ICMPv6: 128 and 129).
    public static func echoRequestType(_ family: AddressFamily) -> UInt8 { family == .inet ? 8 : 128 }
    public static func echoReplyType(_ family: AddressFamily) -> UInt8 { family == .inet ? 0 : 129 }

    /// The error types routeprobe reads: ICMP 3 (unreachable), 11 (time exceeded), 12 (parameter problem);
    /// ICMPv6 1 to 4 (unreachable, packet too big, time exceeded, parameter problem).
    public static func isErrorType(_ type: UInt8, family: AddressFamily) -> Bool {
        family == .inet ? (type == 3 || type == 11 || type == 12) : (type >= 1 && type <= 4)
    }

    /// Reads an ICMP (`family` .inet) or ICMPv6 message that starts at the first byte of `bytes`.
    public static func parse(_ bytes: ArraySlice<UInt8>, family: AddressFamily) throws(PacketError) -> ICMPMessage {
        guard bytes.count >= 8 else { throw PacketError.truncated(family == .inet ? "ICMP header" : "ICMPv6 header") }
        let type = bytes.byte(at: 0), code = bytes.byte(at: 1)
        if type == echoRequestType(family) || type == echoReplyType(family) {
            return .echo(isRequest: type == echoRequestType(family), identifier: bytes.uint16(at: 4), sequence: bytes.uint16(at: 6))
        }
        if isErrorType(type, family: family) {
            return .error(type: type, code: code, quoted: try QuotedPacket.parse(bytes.dropFirst(8), family: family))
        }
        return .other(type: type, code: code)
    }

    /// An echo request of `family` with a 16-byte payload that marks it as routeprobe's; the ICMP checksum
    /// is filled in for IPv4 (the kernel computes ICMPv6's, which covers the pseudo-header).
    public static func echoRequest(family: AddressFamily, identifier: UInt16, sequence: UInt16) -> [UInt8] {
        var packet: [UInt8] = [echoRequestType(family), 0, 0, 0,
                               UInt8(identifier >> 8), UInt8(identifier & 0xff), UInt8(sequence >> 8), UInt8(sequence & 0xff)]
        packet += Array("routeprobe".utf8) + [0, 0, 0, 0, 0, 0]
        if family == .inet {
            let checksum = InternetChecksum.compute(packet)
            packet[2] = UInt8(checksum >> 8)
            packet[3] = UInt8(checksum & 0xff)
        }
        return packet
    }
}

/// The start of the packet an ICMP error quotes: its addresses and, as far as quoted, its transport.
public struct QuotedPacket: Sendable, Hashable {
    /// The quoted packet's source and destination.
    public var source: IPAddress
    public var destination: IPAddress
    /// Its protocol (1 ICMP, 6 TCP, 58 ICMPv6, ...).
    public var protocolNumber: UInt8
    /// TCP: the ports and the sequence number (the first 8 bytes of the segment, which every error quotes).
    public var sourcePort: UInt16?
    public var destinationPort: UInt16?
    public var tcpSequence: UInt32?
    /// An echo request: its identifier and sequence.
    public var echoIdentifier: UInt16?
    public var echoSequence: UInt16?

    /// Builds a quoted packet.
    public init(source: IPAddress, destination: IPAddress, protocolNumber: UInt8, sourcePort: UInt16? = nil,
                destinationPort: UInt16? = nil, tcpSequence: UInt32? = nil, echoIdentifier: UInt16? = nil,
                echoSequence: UInt16? = nil) {
        self.source = source
        self.destination = destination
        self.protocolNumber = protocolNumber
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
        self.tcpSequence = tcpSequence
        self.echoIdentifier = echoIdentifier
        self.echoSequence = echoSequence
    }

    /// Reads the quoted IP header and the first 8 bytes of its transport, when they are there.
    public static func parse(_ bytes: ArraySlice<UInt8>, family: AddressFamily) throws(PacketError) -> QuotedPacket {
        let (header, payload) = try IPHeader.parse(bytes, family: family, layer: "quoted IP")
        var quoted = QuotedPacket(source: header.source, destination: header.destination, protocolNumber: header.protocolNumber)
        guard payload.count >= 8 else { return quoted }
        switch header.protocolNumber {
        case IPProtocolNumber.tcp.rawValue:
            quoted.sourcePort = payload.uint16(at: 0)
            quoted.destinationPort = payload.uint16(at: 2)
            quoted.tcpSequence = payload.uint32(at: 4)
        case IPProtocolNumber.icmp.rawValue, IPProtocolNumber.icmpv6.rawValue:
            if payload.byte(at: 0) == ICMPMessage.echoRequestType(family) {
                quoted.echoIdentifier = payload.uint16(at: 4)
                quoted.echoSequence = payload.uint16(at: 6)
            }
        default:
            break
        }
        return quoted
    }
}
