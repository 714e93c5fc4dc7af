/// The Internet checksum (RFC 1071): the ones' complement of the ones' complement sum of 16-bit words.
public enum InternetChecksum {
    /// The checksum of `bytes` (an odd last byte is padded with zero).
    public static func compute(_ bytes: [UInt8]) -> UInt16 {
        var sum: UInt32 = 0
        var index = 0
        while index + 1 < bytes.count {
            sum += UInt32(bytes[index]) << 8 | UInt32(bytes[index + 1])
            index += 2
        }
        if index < bytes.count { sum += UInt32(bytes[index]) << 8 }
        while sum >> 16 != 0 { sum = (sum & 0xffff) + (sum >> 16) }
        return ~UInt16(sum)
    }

    /// The checksum of a transport segment with the pseudo-header of `source` and `destination` in front
    /// (RFC 793 for IPv4, RFC 8200 section 8.1 for IPv6).
    public static func compute(segment: [UInt8], protocol number: IPProtocolNumber, source: IPAddress,
                               destination: IPAddress) -> UInt16 {
        var pseudo = source.bytes + destination.bytes
        let length = UInt32(segment.count)
        if source.family == .inet {
            pseudo += [0, number.rawValue, UInt8(length >> 8 & 0xff), UInt8(length & 0xff)]
        } else {
            pseudo += [UInt8(length >> 24), UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff),
                       0, 0, 0, number.rawValue]
        }
        return compute(pseudo + segment)
    }
}
