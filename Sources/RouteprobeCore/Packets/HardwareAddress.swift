/// A 48-bit MAC address, kept as a number until someone prints it.
public struct HardwareAddress: Sendable, Hashable, CustomStringConvertible {
    /// The six bytes, most significant first, in the low 48 bits.
    public let value: UInt64

    /// An address from its 48-bit value.
    public init(value: UInt64) { self.value = value & 0xffff_ffff_ffff }

    /// An address from exactly 6 bytes; nil for any other count.
    public init?<Bytes: Collection>(bytes: Bytes) where Bytes.Element == UInt8 {
        guard bytes.count == 6 else { return nil }
        value = bytes.reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// Exactly six bytes of a frame whose length the caller has checked (the dissector's fast path).
    public init(frame bytes: ArraySlice<UInt8>) {
        value = bytes.reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// Parses `aa:bb:cc:dd:ee:ff` (either case); nil for anything else.
    public init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 6 else { return nil }
        var value: UInt64 = 0
        for part in parts {
            guard part.count == 2, let byte = UInt8(part, radix: 16) else { return nil }
            value = value << 8 | UInt64(byte)
        }
        self.value = value
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

extension HardwareAddress: TextCodable {
    public init?(codableText: String) { self.init(codableText) }
    public static var expectedText: String { "a MAC address such as 02:00:00:00:00:01" }
}
