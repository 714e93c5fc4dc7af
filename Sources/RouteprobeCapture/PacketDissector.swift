import RouteprobeCore

/// What a captured frame holds, layer by layer, as far as routeprobe needs it.
public struct DissectedPacket: Sendable, Hashable {
    /// The frame's source MAC (Ethernet and cooked captures).
    public var sourceHardwareAddress: HardwareAddress?
    /// The frame's destination MAC (Ethernet only): the next hop a request was handed to.
    public var destinationHardwareAddress: HardwareAddress?
    /// The source MAC as `aa:bb:cc:dd:ee:ff`.
    public var sourceMAC: String? { sourceHardwareAddress?.description }
    /// The destination MAC as `aa:bb:cc:dd:ee:ff`.
    public var destinationMAC: String? { destinationHardwareAddress?.description }
    /// The IP source.
    public var source: IPAddress
    /// The IP destination.
    public var destination: IPAddress
    /// The transport: ICMP, ICMPv6 or TCP (other protocols are `other`).
    public var transport: Transport

    /// The transport layer.
    public enum Transport: Sendable, Hashable {
        /// An ICMP or ICMPv6 echo request or reply.
        case echo(isRequest: Bool, identifier: UInt16, sequence: UInt16)
        /// An ICMP error and the packet it quotes.
        case icmpError(type: UInt8, code: UInt8, quoted: QuotedPacket)
        /// A TCP segment.
        case tcp(sourcePort: UInt16, destinationPort: UInt16, flags: UInt8, sequence: UInt32)
        /// Anything else (protocol number).
        case other(UInt8)
    }

    /// The original packet an ICMP error quotes.
    public struct QuotedPacket: Sendable, Hashable {
        /// The quoted packet's source and destination.
        public var source: IPAddress
        public var destination: IPAddress
        /// Its protocol (1 ICMP, 6 TCP, 58 ICMPv6).
        public var protocolNumber: UInt8
        /// TCP ports, or for quoted echo requests the identifier (as source port) and sequence.
        public var sourcePort: UInt16?
        public var destinationPort: UInt16?
        /// For quoted echo requests: the identifier.
        public var echoIdentifier: UInt16?
    }
}

/// A 48-bit MAC address, kept as a number until someone prints it.
public struct HardwareAddress: Sendable, Hashable, CustomStringConvertible {
    /// The six bytes, most significant first, in the low 48 bits.
    public let value: UInt64

    init(_ bytes: ArraySlice<UInt8>) {
        value = bytes.reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// `aa:bb:cc:dd:ee:ff`, built in one 17-byte buffer (one string per probed flow, thousands a round).
    public var description: String {
        String(unsafeUninitializedCapacity: 17) { buffer in
            let digits: StaticString = "0123456789abcdef"
            var index = 0
            for shift in stride(from: 40, through: 0, by: -8) {
                let byte = Int((value >> UInt64(shift)) & 0xff)
                if index > 0 { buffer[index] = UInt8(ascii: ":"); index += 1 }
                buffer[index] = digits.utf8Start[byte >> 4]
                buffer[index + 1] = digits.utf8Start[byte & 0xf]
                index += 2
            }
            return index
        }
    }
}

/// Why a frame could not be dissected.
public enum DissectError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A layer is shorter than its header.
    case truncated(String)
    /// A link type, ethertype or IP version routeprobe does not read.
    case unsupported(String)

    public var description: String {
        switch self {
        case .truncated(let layer): return "truncated \(layer)"
        case .unsupported(let what): return "unsupported \(what)"
        }
    }
}

/// Link-layer header types (pcap's DLT_* / LINKTYPE_*).
public enum LinkType {
    /// DLT_EN10MB: Ethernet.
    public static let ethernet: Int32 = 1
    /// DLT_RAW (LINKTYPE_RAW is 101; some platforms report 12 or 14).
    public static let raw: Set<Int32> = [12, 14, 101]
    /// DLT_LINUX_SLL: Linux cooked capture v1.
    public static let linuxCooked: Int32 = 113
    /// DLT_LINUX_SLL2: Linux cooked capture v2.
    public static let linuxCooked2: Int32 = 276
}

/// Dissects Ethernet, Linux cooked (v1, v2) and raw IP frames into IPv4/IPv6 with ICMP, ICMPv6 and TCP.
/// Every read is bounds-checked: a malformed frame is a `DissectError`, never a crash.
public enum PacketDissector {
    /// Dissects one frame captured with `linkType`.
    public static func dissect(_ frame: [UInt8], linkType: Int32) throws(DissectError) -> DissectedPacket {
        var sourceMAC: HardwareAddress? = nil, destinationMAC: HardwareAddress? = nil
        let etherType: UInt16
        let network: ArraySlice<UInt8>
        switch linkType {
        case LinkType.ethernet:
            guard frame.count >= 14 else { throw DissectError.truncated("Ethernet header") }
            destinationMAC = HardwareAddress(frame[0..<6])
            sourceMAC = HardwareAddress(frame[6..<12])
            var type = UInt16(frame[12]) << 8 | UInt16(frame[13])
            var offset = 14
            while type == 0x8100 || type == 0x88a8 { // VLAN tags
                guard frame.count >= offset + 4 else { throw DissectError.truncated("VLAN tag") }
                type = UInt16(frame[offset + 2]) << 8 | UInt16(frame[offset + 3])
                offset += 4
            }
            etherType = type
            network = frame[offset...]
        case LinkType.linuxCooked:
            guard frame.count >= 16 else { throw DissectError.truncated("Linux cooked header") }
            let addressLength = Int(frame[4]) << 8 | Int(frame[5])
            if addressLength == 6 { sourceMAC = HardwareAddress(frame[6..<12]) }
            etherType = UInt16(frame[14]) << 8 | UInt16(frame[15])
            network = frame[16...]
        case LinkType.linuxCooked2:
            guard frame.count >= 20 else { throw DissectError.truncated("Linux cooked v2 header") }
            etherType = UInt16(frame[0]) << 8 | UInt16(frame[1])
            if frame[11] == 6 { sourceMAC = HardwareAddress(frame[12..<18]) }
            network = frame[20...]
        case let type where LinkType.raw.contains(type):
            guard let first = frame.first else { throw DissectError.truncated("IP header") }
            etherType = first >> 4 == 6 ? 0x86dd : 0x0800
            network = frame[...]
        default:
            throw DissectError.unsupported("link type \(linkType)")
        }
        var packet = try dissectNetwork(network, etherType: etherType)
        packet.sourceHardwareAddress = sourceMAC
        packet.destinationHardwareAddress = destinationMAC
        return packet
    }

    private static func dissectNetwork(_ bytes: ArraySlice<UInt8>, etherType: UInt16) throws(DissectError) -> DissectedPacket {
        let (source, destination, protocolNumber, payload) = try ipHeader(bytes, etherType: etherType, layer: "IP")
        let transport: DissectedPacket.Transport
        switch protocolNumber {
        case 1, 58:
            guard payload.count >= 8 else { throw DissectError.truncated(protocolNumber == 1 ? "ICMP header" : "ICMPv6 header") }
            let type = payload[payload.startIndex], code = payload[payload.startIndex + 1]
            let echoRequest: UInt8 = protocolNumber == 1 ? 8 : 128, echoReply: UInt8 = protocolNumber == 1 ? 0 : 129
            if type == echoRequest || type == echoReply {
                transport = .echo(isRequest: type == echoRequest, identifier: u16(payload, 4), sequence: u16(payload, 6))
            } else if (protocolNumber == 1 && (type == 3 || type == 11 || type == 12)) || (protocolNumber == 58 && type < 128) {
                transport = .icmpError(type: type, code: code, quoted: try quoted(payload.dropFirst(8), isIPv6: protocolNumber == 58))
            } else {
                transport = .other(protocolNumber)
            }
        case 6:
            guard payload.count >= 20 else { throw DissectError.truncated("TCP header") }
            transport = .tcp(sourcePort: u16(payload, 0), destinationPort: u16(payload, 2), flags: payload[payload.startIndex + 13],
                             sequence: UInt32(u16(payload, 4)) << 16 | UInt32(u16(payload, 6)))
        default:
            transport = .other(protocolNumber)
        }
        return DissectedPacket(source: source, destination: destination, transport: transport)
    }

    /// The IP header: addresses, protocol and the payload after it.
    private static func ipHeader(_ bytes: ArraySlice<UInt8>, etherType: UInt16, layer: String) throws(DissectError)
        -> (IPAddress, IPAddress, UInt8, ArraySlice<UInt8>) {
        let start = bytes.startIndex
        switch etherType {
        case 0x0800:
            guard bytes.count >= 20 else { throw DissectError.truncated("\(layer)v4 header") }
            guard bytes[start] >> 4 == 4 else { throw DissectError.unsupported("IP version \(bytes[start] >> 4) in an IPv4 frame") }
            let headerLength = Int(bytes[start] & 0x0f) * 4
            guard headerLength >= 20, bytes.count >= headerLength else { throw DissectError.truncated("\(layer)v4 options") }
            return (IPAddress(networkBytes: bytes[(start + 12)..<(start + 16)])!, IPAddress(networkBytes: bytes[(start + 16)..<(start + 20)])!,
                    bytes[start + 9], bytes[(start + headerLength)...])
        case 0x86dd:
            guard bytes.count >= 40 else { throw DissectError.truncated("\(layer)v6 header") }
            guard bytes[start] >> 4 == 6 else { throw DissectError.unsupported("IP version \(bytes[start] >> 4) in an IPv6 frame") }
            return (IPAddress(networkBytes: bytes[(start + 8)..<(start + 24)])!, IPAddress(networkBytes: bytes[(start + 24)..<(start + 40)])!,
                    bytes[start + 6], bytes[(start + 40)...])
        default:
            throw DissectError.unsupported(String(format4("ethertype 0x", etherType)))
        }
    }

    private static func quoted(_ bytes: ArraySlice<UInt8>, isIPv6: Bool) throws(DissectError) -> DissectedPacket.QuotedPacket {
        let (source, destination, protocolNumber, payload) = try ipHeader(bytes, etherType: isIPv6 ? 0x86dd : 0x0800, layer: "quoted IP")
        var quoted = DissectedPacket.QuotedPacket(source: source, destination: destination, protocolNumber: protocolNumber)
        if payload.count >= 8 {
            if protocolNumber == 6 {
                quoted.sourcePort = u16(payload, 0)
                quoted.destinationPort = u16(payload, 2)
            } else if protocolNumber == 1 || protocolNumber == 58 {
                quoted.echoIdentifier = u16(payload, 4)
            }
        }
        return quoted
    }

    @inline(__always)
    private static func u16(_ bytes: ArraySlice<UInt8>, _ offset: Int) -> UInt16 {
        UInt16(bytes[bytes.startIndex + offset]) << 8 | UInt16(bytes[bytes.startIndex + offset + 1])
    }

    private static func format4(_ prefix: String, _ value: UInt16) -> String {
        let digits = Array("0123456789abcdef")
        return prefix + (0..<4).map { String(digits[Int((value >> UInt16(12 - 4 * $0)) & 0xf)]) }.joined()
    }
}
