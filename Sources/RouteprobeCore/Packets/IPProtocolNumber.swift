/// The IP protocol numbers routeprobe sends and reads (IANA "Assigned Internet Protocol Numbers").
public enum IPProtocolNumber: UInt8, Sendable, Hashable {
    /// IPPROTO_ICMP.
    case icmp = 1
    /// IPPROTO_TCP.
    case tcp = 6
    /// IPPROTO_UDP.
    case udp = 17
    /// IPPROTO_ICMPV6.
    case icmpv6 = 58

    /// The C name, as error messages print it.
    public var name: String {
        switch self {
        case .icmp: return "IPPROTO_ICMP"
        case .tcp: return "IPPROTO_TCP"
        case .udp: return "IPPROTO_UDP"
        case .icmpv6: return "IPPROTO_ICMPV6"
        }
    }

    /// The ICMP protocol of an address family: ICMP for IPv4, ICMPv6 for IPv6.
    public static func icmp(for family: AddressFamily) -> IPProtocolNumber { family == .inet ? .icmp : .icmpv6 }
}
