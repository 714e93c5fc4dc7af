/// An IPv4 or IPv6 address held by value, in network order.
///
/// Text output follows glibc's `inet_ntop`, so addresses print exactly as iproute2 prints them
/// (RFC 5952 compression of the longest zero run, dotted quads for IPv4-mapped and IPv4-compatible forms).
public enum IPAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// An IPv4 address; the integer holds the four bytes in network order, most significant first.
    case v4(UInt32)
    /// An IPv6 address as two 64-bit halves, most significant first.
    case v6(UInt64, UInt64)

    /// The address family of this address.
    public var family: AddressFamily {
        switch self {
        case .v4: return .inet
        case .v6: return .inet6
        }
    }

    /// The number of bits in an address of this family (32 or 128).
    public var bitWidth: Int { family.addressBitWidth }

    /// The address as bytes in network order (4 or 16 of them).
    public var bytes: [UInt8] {
        switch self {
        case .v4(let value):
            return [UInt8(value >> 24), UInt8((value >> 16) & 0xff), UInt8((value >> 8) & 0xff), UInt8(value & 0xff)]
        case .v6(let high, let low):
            var result = [UInt8]()
            result.reserveCapacity(16)
            for shift in stride(from: 56, through: 0, by: -8) { result.append(UInt8((high >> UInt64(shift)) & 0xff)) }
            for shift in stride(from: 56, through: 0, by: -8) { result.append(UInt8((low >> UInt64(shift)) & 0xff)) }
            return result
        }
    }

    /// Builds an address from 4 (IPv4) or 16 (IPv6) bytes in network order; nil for any other count.
    @inlinable
    public init?<Bytes: Collection>(bytes: Bytes) where Bytes.Element == UInt8 {
        switch bytes.count {
        case 4:
            var value: UInt32 = 0
            for byte in bytes { value = value << 8 | UInt32(byte) }
            self = .v4(value)
        case 16:
            var high: UInt64 = 0, low: UInt64 = 0
            for (index, byte) in bytes.enumerated() {
                if index < 8 { high = high << 8 | UInt64(byte) } else { low = low << 8 | UInt64(byte) }
            }
            self = .v6(high, low)
        default:
            return nil
        }
    }

    /// Builds an address from exactly 4 or 16 bytes of a slice, without the generic path's overhead (the
    /// packet dissector calls this for every frame); nil for any other count.
    @inlinable
    public init?(networkBytes bytes: ArraySlice<UInt8>) {
        let start = bytes.startIndex
        if bytes.count == 4 {
            self = .v4(UInt32(bytes[start]) << 24 | UInt32(bytes[start + 1]) << 16 | UInt32(bytes[start + 2]) << 8 | UInt32(bytes[start + 3]))
        } else if bytes.count == 16 {
            var high: UInt64 = 0, low: UInt64 = 0
            for index in 0..<8 { high = high << 8 | UInt64(bytes[start + index]) }
            for index in 8..<16 { low = low << 8 | UInt64(bytes[start + index]) }
            self = .v6(high, low)
        } else {
            return nil
        }
    }

    /// Parses dotted-quad IPv4 or RFC 4291 IPv6 text (with `::` and an optional trailing dotted quad).
    public init?(_ text: some StringProtocol) {
        let utf8 = Array(text.utf8)
        if utf8.contains(UInt8(ascii: ":")) {
            guard let parsed = IPAddress.parseIPv6(utf8) else { return nil }
            self = parsed
        } else {
            guard let parsed = IPAddress.parseIPv4(utf8[...]) else { return nil }
            self = .v4(parsed)
        }
    }

    /// The value of bit `index` (0 is the most significant bit of the address).
    public func bit(_ index: Int) -> Bool {
        switch self {
        case .v4(let value): return (value >> UInt32(31 - index)) & 1 == 1
        case .v6(let high, let low):
            return index < 64 ? (high >> UInt64(63 - index)) & 1 == 1 : (low >> UInt64(127 - index)) & 1 == 1
        }
    }

    /// This address with every bit after the first `length` bits cleared.
    public func masked(to length: Int) -> IPAddress {
        switch self {
        case .v4(let value):
            if length <= 0 { return .v4(0) }
            if length >= 32 { return self }
            return .v4(value & ~(UInt32.max >> UInt32(length)))
        case .v6(let high, let low):
            if length <= 0 { return .v6(0, 0) }
            if length >= 128 { return self }
            if length <= 64 {
                let maskedHigh = length == 64 ? high : high & ~(UInt64.max >> UInt64(length))
                return .v6(maskedHigh, 0)
            }
            return .v6(high, low & ~(UInt64.max >> UInt64(length - 64)))
        }
    }

    public static func < (lhs: IPAddress, rhs: IPAddress) -> Bool {
        switch (lhs, rhs) {
        case (.v4(let a), .v4(let b)): return a < b
        case (.v6(let a1, let a2), .v6(let b1, let b2)): return (a1, a2) < (b1, b2)
        case (.v4, .v6): return true
        case (.v6, .v4): return false
        }
    }

    public var description: String {
        var buffer = [UInt8]()
        buffer.reserveCapacity(39)
        appendText(to: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }

    /// Appends the textual form to a byte buffer without building an intermediate String.
    public func appendText(to buffer: inout [UInt8]) {
        switch self {
        case .v4(let value):
            IPAddress.appendDottedQuad(value, to: &buffer)
        case .v6(let high, let low):
            let words: [UInt16] = [
                UInt16(high >> 48), UInt16((high >> 32) & 0xffff), UInt16((high >> 16) & 0xffff), UInt16(high & 0xffff),
                UInt16(low >> 48), UInt16((low >> 32) & 0xffff), UInt16((low >> 16) & 0xffff), UInt16(low & 0xffff),
            ]
            // glibc inet_ntop6: the first longest run of at least two zero words becomes "::".
            var bestBase = -1, bestLength = 0, currentBase = -1, currentLength = 0
            for index in 0..<8 {
                if words[index] == 0 {
                    if currentBase == -1 { currentBase = index; currentLength = 1 } else { currentLength += 1 }
                } else if currentBase != -1 {
                    if bestBase == -1 || currentLength > bestLength { bestBase = currentBase; bestLength = currentLength }
                    currentBase = -1
                }
            }
            if currentBase != -1, bestBase == -1 || currentLength > bestLength {
                bestBase = currentBase; bestLength = currentLength
            }
            if bestBase != -1, bestLength < 2 { bestBase = -1 }
            var index = 0
            while index < 8 {
                if bestBase != -1, index >= bestBase, index < bestBase + bestLength {
                    if index == bestBase { buffer.append(UInt8(ascii: ":")) }
                    index += 1
                    continue
                }
                if index != 0 { buffer.append(UInt8(ascii: ":")) }
                if index == 6, bestBase == 0, bestLength == 6 || (bestLength == 5 && words[5] == 0xffff) {
                    IPAddress.appendDottedQuad(UInt32(low & 0xffff_ffff), to: &buffer)
                    return
                }
                IPAddress.appendHex(words[index], to: &buffer)
                index += 1
            }
            if bestBase != -1, bestBase + bestLength == 8 { buffer.append(UInt8(ascii: ":")) }
        }
    }

    @inline(__always)
    private static func appendDottedQuad(_ value: UInt32, to buffer: inout [UInt8]) {
        buffer.reserveCapacity(buffer.count + 15)
        appendDecimal(UInt8(value >> 24), to: &buffer)
        buffer.append(UInt8(ascii: "."))
        appendDecimal(UInt8((value >> 16) & 0xff), to: &buffer)
        buffer.append(UInt8(ascii: "."))
        appendDecimal(UInt8((value >> 8) & 0xff), to: &buffer)
        buffer.append(UInt8(ascii: "."))
        appendDecimal(UInt8(value & 0xff), to: &buffer)
    }

    @inline(__always)
    private static func appendDecimal(_ value: UInt8, to buffer: inout [UInt8]) {
        if value >= 100 {
            buffer.append(UInt8(ascii: "0") &+ value / 100)
            buffer.append(UInt8(ascii: "0") &+ (value / 10) % 10)
        } else if value >= 10 {
            buffer.append(UInt8(ascii: "0") &+ value / 10)
        }
        buffer.append(UInt8(ascii: "0") &+ value % 10)
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    private static func appendHex(_ value: UInt16, to buffer: inout [UInt8]) {
        let digits = hexDigits
        var started = false
        for shift in stride(from: 12, through: 0, by: -4) {
            let nibble = Int((value >> UInt16(shift)) & 0xf)
            if nibble != 0 || started || shift == 0 {
                started = true
                buffer.append(digits[nibble])
            }
        }
    }

    private static func parseIPv4(_ text: ArraySlice<UInt8>) -> UInt32? {
        var value: UInt32 = 0
        var octets = 0
        var current: UInt32 = 0
        var digits = 0
        for byte in text {
            if byte == UInt8(ascii: ".") {
                guard digits > 0, octets < 3 else { return nil }
                value = value << 8 | current
                octets += 1
                current = 0
                digits = 0
            } else if byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") {
                guard digits < 3 else { return nil }
                current = current * 10 + UInt32(byte - UInt8(ascii: "0"))
                digits += 1
                guard current <= 255 else { return nil }
            } else {
                return nil
            }
        }
        guard digits > 0, octets == 3 else { return nil }
        return value << 8 | current
    }

    private static func parseIPv6(_ text: [UInt8]) -> IPAddress? {
        var words = [UInt16]()
        var gapIndex: Int? = nil
        var index = 0
        if text.starts(with: [UInt8(ascii: ":"), UInt8(ascii: ":")]) {
            gapIndex = 0
            index = 2
            if index == text.count { return .v6(0, 0) }
        } else if text.first == UInt8(ascii: ":") {
            return nil
        }
        while index < text.count {
            // One group: hex digits, or a trailing dotted quad.
            var end = index
            while end < text.count, text[end] != UInt8(ascii: ":") { end += 1 }
            let group = text[index..<end]
            if group.isEmpty { return nil }
            if group.contains(UInt8(ascii: ".")) {
                guard end == text.count, let quad = parseIPv4(group) else { return nil }
                words.append(UInt16(quad >> 16))
                words.append(UInt16(quad & 0xffff))
            } else {
                guard group.count <= 4 else { return nil }
                var word: UInt16 = 0
                for byte in group {
                    guard let nibble = hexValue(byte) else { return nil }
                    word = word << 4 | UInt16(nibble)
                }
                words.append(word)
            }
            index = end
            if index < text.count {
                // A separator: ":" or the one allowed "::".
                index += 1
                if index < text.count, text[index] == UInt8(ascii: ":") {
                    guard gapIndex == nil else { return nil }
                    gapIndex = words.count
                    index += 1
                } else if index == text.count {
                    return nil
                }
            }
            if words.count > 8 { return nil }
        }
        if let gapIndex {
            guard words.count < 8 else { return nil }
            words.insert(contentsOf: [UInt16](repeating: 0, count: 8 - words.count), at: gapIndex)
        }
        guard words.count == 8 else { return nil }
        var high: UInt64 = 0, low: UInt64 = 0
        for (position, word) in words.enumerated() {
            if position < 4 { high = high << 16 | UInt64(word) } else { low = low << 16 | UInt64(word) }
        }
        return .v6(high, low)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

/// An address family as the kernel numbers it.
public enum AddressFamily: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// IPv4, `AF_INET`.
    case inet = 2
    /// IPv6, `AF_INET6`.
    case inet6 = 10

    /// 32 for IPv4, 128 for IPv6.
    public var addressBitWidth: Int { self == .inet ? 32 : 128 }

    /// 4 for IPv4, 16 for IPv6.
    public var addressByteCount: Int { self == .inet ? 4 : 16 }

    /// The name iproute2 uses: `inet` or `inet6`.
    public var description: String { self == .inet ? "inet" : "inet6" }
}

extension IPAddress {
    /// Parses `ADDR:PORT`, or `[ADDR]:PORT` for IPv6, as the listen options take it (port 0 included).
    public static func parseEndpoint(_ text: String) -> (address: IPAddress, port: UInt16)? {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else { return nil }
        var host = text[..<colon]
        if host.hasPrefix("[") && host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        guard let address = IPAddress(host) else { return nil }
        return (address, port)
    }
}

extension IPAddress {
    /// Why `text`, which looks like an address (digits and dots only, or a colon), is none; nil when it is an
    /// address or does not look like one (a host name). `300.1.1.1` is no host name either, so callers refuse
    /// it at once instead of asking DNS.
    public static func shapeProblem(_ text: String) -> String? {
        guard IPAddress(text) == nil, !text.isEmpty else { return nil }
        if text.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }) {
            return "'\(text)' is not an IPv4 address: four numbers from 0 to 255, separated by dots"
        }
        if text.contains(":") { return "'\(text)' is not an IPv6 address" }
        return nil
    }
}
