/// An address prefix such as `172.16.1.0/24`: a network address and a length in bits.
public struct IPPrefix: Hashable, Sendable, CustomStringConvertible, Comparable {
    /// The network address, with the host bits cleared.
    public let address: IPAddress
    /// The prefix length in bits, 0 through 32 or 128.
    public let length: Int

    /// Builds a prefix, clearing the host bits of `address`; nil when `length` does not fit the family.
    public init?(address: IPAddress, length: Int) {
        guard length >= 0, length <= address.bitWidth else { return nil }
        self.address = address.masked(to: length)
        self.length = length
    }

    /// Parses `ADDRESS/LENGTH`, or a bare address as a host prefix (/32 or /128).
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2, let address = IPAddress(parts[0]) else { return nil }
        var length = address.bitWidth
        if parts.count == 2 {
            guard !parts[1].isEmpty, parts[1].allSatisfy(\.isASCII), parts[1].allSatisfy(\.isNumber),
                  parts[1].count <= 3, let parsed = Int(parts[1]) else { return nil }
            length = parsed
        }
        self.init(address: address, length: length)
    }

    /// The family of the prefix's address.
    public var family: AddressFamily { address.family }

    /// True when `other` lies inside this prefix.
    public func contains(_ other: IPAddress) -> Bool {
        other.family == address.family && other.masked(to: length) == address
    }

    /// True when every address of `other` lies inside this prefix.
    public func contains(_ other: IPPrefix) -> Bool {
        other.length >= length && contains(other.address)
    }

    public var description: String { "\(address)/\(length)" }

    public static func < (lhs: IPPrefix, rhs: IPPrefix) -> Bool {
        (lhs.address, lhs.length) < (rhs.address, rhs.length)
    }
}

extension IPPrefix {
    /// Why `text` is not a CIDR as routeprobe takes it from people and peers (`ADDRESS/LENGTH` with the host
    /// bits clear), nil when it is one. `172.16.1.7/24` is refused with its canonical form, never masked
    /// silently: whoever wrote it meant something else, or made a typo.
    public static func problem(_ text: String) -> String? {
        guard text.contains("/"), let prefix = IPPrefix(text) else { return "'\(text)' is not a CIDR such as 172.16.1.0/24" }
        if let written = text.split(separator: "/").first.flatMap({ IPAddress($0) }), written != prefix.address {
            return "'\(text)' has host bits set: the CIDR is \(prefix)"
        }
        return nil
    }
}
