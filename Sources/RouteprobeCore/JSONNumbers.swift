/// Finds, in a JSON document, the first number a decoder of whole numbers cannot take: beyond the range of
/// Int64, with a fraction or an exponent. It scans the text itself (no Foundation): strings are skipped,
/// keys and indices are tracked for the path. A document that is not JSON yields nil.
enum JSONNumbers {
    struct Found {
        let path: String
        let text: String
        /// Where the number's text is in the document.
        let range: Range<Int>
    }

    /// The number that makes the document undecodable: the first whose replacement by 0 lets `decodes`
    /// accept it, when `decodes` is given; else numbers too large for any whole-number field first (`1e400`,
    /// `2^64`), then numbers with a fraction (which a count cannot take, but a duration such as `rttMs` can).
    static func firstUnrepresentable(in bytes: [UInt8], decodes: (([UInt8]) -> Bool)? = nil) -> Found? {
        var scanner = Scanner(bytes: bytes)
        _ = scanner.value(path: "")
        scanner.skipSpace()
        guard !scanner.broken, scanner.index == bytes.count, !scanner.found.isEmpty else { return nil }
        func huge(_ text: String) -> Bool {
            guard let value = Double(text) else { return true }
            return !value.isFinite || abs(value) >= 9.223372036854775807e18
        }
        if let decodes {
            // At most 8 tries: a body full of odd numbers must not buy many decodes.
            for candidate in scanner.found.prefix(8) {
                var patched = bytes
                patched.replaceSubrange(candidate.range, with: [UInt8(ascii: "0")])
                if decodes(patched) { return candidate }
            }
        }
        return scanner.found.first { huge($0.text) } ?? scanner.found.first
    }

    private struct Scanner {
        let bytes: [UInt8]
        var index = 0
        var depth = 0
        /// Numbers that are no Int64, in document order (at most 64).
        var found: [Found] = []
        /// Set when the text is no JSON at all.
        var broken = false

        mutating func skipSpace() {
            while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
        }

        /// Scans one value, collecting the numbers that are no Int64 in `found`; a non-nil answer means it gave up.
        /// Marks the document as no JSON.
        mutating func fail() -> Found? {
            broken = true
            return nil
        }

        mutating func value(path: String) -> Found? {
            skipSpace()
            guard index < bytes.count, depth < 512 else { return fail() }
            switch bytes[index] {
            case UInt8(ascii: "{"):
                depth += 1
                index += 1
                skipSpace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; depth -= 1; return nil }
                while index < bytes.count {
                    skipSpace()
                    guard let key = string() else { return fail() }
                    skipSpace()
                    guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { return fail() }
                    index += 1
                    if let found = value(path: path.isEmpty ? key : path + "." + key) { return found }
                    skipSpace()
                    guard index < bytes.count else { return fail() }
                    if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                    if bytes[index] == UInt8(ascii: "}") { index += 1; depth -= 1; return nil }
                    return fail()
                }
                return fail()
            case UInt8(ascii: "["):
                depth += 1
                index += 1
                skipSpace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; depth -= 1; return nil }
                var position = 0
                while index < bytes.count {
                    if let found = value(path: path + "[\(position)]") { return found }
                    position += 1
                    skipSpace()
                    guard index < bytes.count else { return fail() }
                    if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                    if bytes[index] == UInt8(ascii: "]") { index += 1; depth -= 1; return nil }
                    return fail()
                }
                return fail()
            case UInt8(ascii: "\""):
                return string() == nil ? fail() : nil
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                let start = index
                while index < bytes.count, "+-.eE0123456789".utf8.contains(bytes[index]) { index += 1 }
                let text = String(decoding: bytes[start..<index], as: UTF8.self)
                if Int64(text) == nil, found.count < 64 { found.append(Found(path: path, text: text, range: start..<index)) }
                return nil
            default:
                for word in ["true", "false", "null"] where bytes[index...].starts(with: word.utf8) {
                    index += word.utf8.count
                    return nil
                }
                return fail()
            }
        }

        /// A string at `index` (its raw text, escapes kept), or nil when there is none.
        mutating func string() -> String? {
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return nil }
            index += 1
            let start = index
            while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
                if bytes[index] == UInt8(ascii: "\\") { index += 1 }
                index += 1
            }
            guard index < bytes.count else { return nil }
            let text = String(decoding: bytes[start..<index], as: UTF8.self)
            index += 1
            return text
        }
    }
}
