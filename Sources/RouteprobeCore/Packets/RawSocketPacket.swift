/// What raw sockets deliver: an IPv4 raw socket hands over the IP header too, an IPv6 one starts at the
/// transport header (RFC 3542). These read both shapes with the one parser of each layer.
public enum RawSocketPacket {
    /// The ICMP message in a packet from a raw ICMP (IPv4: with its IP header) or ICMPv6 socket.
    public static func icmp(_ bytes: ArraySlice<UInt8>, family: AddressFamily) throws(PacketError) -> ICMPMessage {
        try ICMPMessage.parse(try transport(bytes, family: family, expecting: .icmp(for: family)), family: family)
    }

    /// The TCP segment in a packet from a raw TCP socket (IPv4: with its IP header).
    public static func tcp(_ bytes: ArraySlice<UInt8>, family: AddressFamily) throws(PacketError) -> TCPSegment {
        try TCPSegment.parse(try transport(bytes, family: family, expecting: .tcp))
    }

    private static func transport(_ bytes: ArraySlice<UInt8>, family: AddressFamily,
                                  expecting number: IPProtocolNumber) throws(PacketError) -> ArraySlice<UInt8> {
        guard family == .inet else { return bytes }
        let (header, payload) = try IPHeader.parse(bytes, family: .inet)
        guard header.protocolNumber == number.rawValue else { throw PacketError.unsupported("protocol \(header.protocolNumber)") }
        guard !header.isLaterFragment else { throw PacketError.unsupported("a later fragment") }
        return payload
    }
}
