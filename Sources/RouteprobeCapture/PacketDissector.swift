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
/// Every read is bounds-checked: a malformed frame is a `PacketError`, never a crash.
public enum PacketDissector {
    /// Dissects one frame captured with `linkType`.
    public static func dissect(_ frame: [UInt8], linkType: Int32) throws(PacketError) -> DissectedPacket {
        var sourceMAC: HardwareAddress? = nil, destinationMAC: HardwareAddress? = nil
        let etherType: UInt16
        let network: ArraySlice<UInt8>
        switch linkType {
        case LinkType.ethernet:
            guard frame.count >= 14 else { throw PacketError.truncated("Ethernet header") }
            destinationMAC = HardwareAddress(frame: frame[0..<6])
            sourceMAC = HardwareAddress(frame: frame[6..<12])
            var type = UInt16(frame[12]) << 8 | UInt16(frame[13])
            var offset = 14
            while type == 0x8100 || type == 0x88a8 { // VLAN tags
                guard frame.count >= offset + 4 else { throw PacketError.truncated("VLAN tag") }
                type = UInt16(frame[offset + 2]) << 8 | UInt16(frame[offset + 3])
                offset += 4
            }
            etherType = type
            network = frame[offset...]
        case LinkType.linuxCooked:
            guard frame.count >= 16 else { throw PacketError.truncated("Linux cooked header") }
            let addressLength = Int(frame[4]) << 8 | Int(frame[5])
            if addressLength == 6 { sourceMAC = HardwareAddress(frame: frame[6..<12]) }
            etherType = UInt16(frame[14]) << 8 | UInt16(frame[15])
            network = frame[16...]
        case LinkType.linuxCooked2:
            guard frame.count >= 20 else { throw PacketError.truncated("Linux cooked v2 header") }
            etherType = UInt16(frame[0]) << 8 | UInt16(frame[1])
            if frame[11] == 6 { sourceMAC = HardwareAddress(frame: frame[12..<18]) }
            network = frame[20...]
        case let type where LinkType.raw.contains(type):
            guard let first = frame.first else { throw PacketError.truncated("IP header") }
            etherType = first >> 4 == 6 ? IPHeader.etherTypeIPv6 : IPHeader.etherTypeIPv4
            network = frame[...]
        default:
            throw PacketError.unsupported("link type \(linkType)")
        }
        var packet = try dissectNetwork(network, etherType: etherType)
        packet.sourceHardwareAddress = sourceMAC
        packet.destinationHardwareAddress = destinationMAC
        return packet
    }

    private static func dissectNetwork(_ bytes: ArraySlice<UInt8>, etherType: UInt16) throws(PacketError) -> DissectedPacket {
        let family: AddressFamily
        switch etherType {
        case IPHeader.etherTypeIPv4: family = .inet
        case IPHeader.etherTypeIPv6: family = .inet6
        default: throw PacketError.unsupported(format4("ethertype 0x", etherType))
        }
        let (header, payload) = try IPHeader.parse(bytes, family: family)
        let transport: DissectedPacket.Transport
        switch header.protocolNumber {
        case IPProtocolNumber.icmp.rawValue, IPProtocolNumber.icmpv6.rawValue:
            let icmpFamily: AddressFamily = header.protocolNumber == IPProtocolNumber.icmp.rawValue ? .inet : .inet6
            switch try ICMPMessage.parse(payload, family: icmpFamily) {
            case .echo(let isRequest, let identifier, let sequence):
                transport = .echo(isRequest: isRequest, identifier: identifier, sequence: sequence)
            case .error(let type, let code, let quoted):
                transport = .icmpError(type: type, code: code, quoted: quoted)
            case .other:
                transport = .other(header.protocolNumber)
            }
        case IPProtocolNumber.tcp.rawValue:
            let segment = try TCPSegment.parse(payload)
            transport = .tcp(sourcePort: segment.sourcePort, destinationPort: segment.destinationPort, flags: segment.flags,
                             sequence: segment.sequence)
        default:
            transport = .other(header.protocolNumber)
        }
        return DissectedPacket(source: header.source, destination: header.destination, transport: transport)
    }

    private static func format4(_ prefix: String, _ value: UInt16) -> String {
        let digits = Array("0123456789abcdef")
        return prefix + (0..<4).map { String(digits[Int((value >> UInt16(12 - 4 * $0)) & 0xf)]) }.joined()
    }
}
