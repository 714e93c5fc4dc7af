/// The IPv4 or IPv6 header of a packet: the addresses, the transport protocol and what follows.
public struct IPHeader: Sendable, Hashable {
    /// The sender.
    public var source: IPAddress
    /// The destination.
    public var destination: IPAddress
    /// The transport protocol number (IPv4 protocol, IPv6 next header).
    public var protocolNumber: UInt8
    /// True when this is a later fragment of an IPv4 packet (its payload has no transport header).
    public var isLaterFragment: Bool

    /// The ethertypes of IPv4 and IPv6.
    public static let etherTypeIPv4: UInt16 = 0x0800
    public static let etherTypeIPv6: UInt16 = 0x86dd

    /// Reads the header of `family` (nil: whichever the version nibble says) at the start of `bytes`, and
    /// returns it with the payload that follows. `layer` names the packet in errors (`IP`, `quoted IP`).
    public static func parse(_ bytes: ArraySlice<UInt8>, family: AddressFamily?, layer: String = "IP")
        throws(PacketError) -> (header: IPHeader, payload: ArraySlice<UInt8>) {
        let expected: AddressFamily
        if let family {
            expected = family
        } else {
            guard let first = bytes.first else { throw PacketError.truncated("\(layer) header") }
            expected = first >> 4 == 6 ? .inet6 : .inet
        }
        switch expected {
        case .inet:
            guard bytes.count >= 20 else { throw PacketError.truncated("\(layer)v4 header") }
            let version = bytes.byte(at: 0) >> 4
            guard version == 4 else { throw PacketError.unsupported("IP version \(version) in an IPv4 frame") }
            let headerLength = Int(bytes.byte(at: 0) & 0x0f) * 4
            guard headerLength >= 20, bytes.count >= headerLength else { throw PacketError.truncated("\(layer)v4 options") }
            let start = bytes.startIndex
            let header = IPHeader(source: IPAddress(networkBytes: bytes[(start + 12)..<(start + 16)])!,
                                  destination: IPAddress(networkBytes: bytes[(start + 16)..<(start + 20)])!,
                                  protocolNumber: bytes.byte(at: 9), isLaterFragment: bytes.uint16(at: 6) & 0x1fff != 0)
            return (header, bytes[(start + headerLength)...])
        case .inet6:
            guard bytes.count >= 40 else { throw PacketError.truncated("\(layer)v6 header") }
            let version = bytes.byte(at: 0) >> 4
            guard version == 6 else { throw PacketError.unsupported("IP version \(version) in an IPv6 frame") }
            let start = bytes.startIndex
            let header = IPHeader(source: IPAddress(networkBytes: bytes[(start + 8)..<(start + 24)])!,
                                  destination: IPAddress(networkBytes: bytes[(start + 24)..<(start + 40)])!,
                                  protocolNumber: bytes.byte(at: 6), isLaterFragment: false)
            return (header, bytes[(start + 40)...])
        }
    }
}
