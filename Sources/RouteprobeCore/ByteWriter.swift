/// An append-only byte buffer for fast text and JSON output, with iproute2's JSON conventions.
public struct ByteWriter: Sendable {
    /// The bytes written so far.
    public var bytes: [UInt8]

    /// Starts an empty buffer with room for `capacity` bytes.
    public init(capacity: Int = 4096) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// The number of bytes written.
    public var count: Int { bytes.count }

    /// Empties the buffer, keeping its capacity.
    public mutating func removeAll() { bytes.removeAll(keepingCapacity: true) }

    /// Appends literal text.
    @inlinable
    public mutating func write(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// Appends a String's UTF-8 bytes unescaped.
    public mutating func write(string text: String) { bytes.append(contentsOf: text.utf8) }

    /// Appends one byte.
    @inlinable
    public mutating func write(byte: UInt8) { bytes.append(byte) }

    /// Appends bytes.
    @inlinable
    public mutating func write(bytes more: [UInt8]) { bytes.append(contentsOf: more) }

    /// Appends an unsigned decimal number, most significant digit first.
    public mutating func write(decimal value: UInt64) {
        if value < 10 {
            bytes.append(UInt8(ascii: "0") + UInt8(value))
            return
        }
        var divisor: UInt64 = 10
        while divisor <= value / 10 { divisor *= 10 }
        var remaining = value
        while divisor > 0 {
            bytes.append(UInt8(ascii: "0") + UInt8(remaining / divisor))
            remaining %= divisor
            divisor /= 10
        }
    }

    /// Appends a signed decimal number.
    public mutating func write(signed value: Int64) {
        if value < 0 {
            bytes.append(UInt8(ascii: "-"))
            write(decimal: value.magnitude)
        } else {
            write(decimal: UInt64(value))
        }
    }

    /// Appends an address's text form.
    public mutating func write(address: IPAddress) { address.appendText(to: &bytes) }

    /// Appends a JSON string, escaped as iproute2's json_writer escapes (`\t \n \r \f \b \\ \"`), with other
    /// control characters as `\u00XX` so the output always parses.
    public mutating func writeJSONString(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\t"): write("\\t")
            case UInt8(ascii: "\n"): write("\\n")
            case UInt8(ascii: "\r"): write("\\r")
            case 0x0c: write("\\f")
            case 0x08: write("\\b")
            case UInt8(ascii: "\\"): write("\\\\")
            case UInt8(ascii: "\""): write("\\\"")
            case 0..<0x20:
                write("\\u00")
                bytes.append(contentsOf: hex2(byte).utf8)
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// Appends `"key":` for a JSON object member.
    @inlinable
    public mutating func writeKey(_ key: StaticString) {
        bytes.append(UInt8(ascii: "\""))
        key.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
    }
}
