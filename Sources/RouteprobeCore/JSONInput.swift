import Foundation

/// Decoding JSON that comes from outside (agents' messages, API server answers, files) with a limit on how
/// deeply it nests, checked before Foundation's JSONDecoder sees it: that decoder (swift-foundation, Swift
/// 6.3) traps instead of throwing on a document that ends exactly where it passes its own limit of 512 nested
/// arrays or objects, so 513 bytes of `[` would crash the aggregator (found by scripts/fuzz.sh). routeprobe's
/// documents and the Kubernetes objects it reads nest a few levels; `maximumDepth` is far above them.
public enum JSONInput {
    /// The deepest nesting of arrays and objects accepted.
    public static let maximumDepth = 128

    /// Decodes `type` from `data`; a document nested deeper than `maximumDepth` is `JSONTooDeep`.
    public static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        if let problem = depthProblem(data) { throw problem }
        return try JSONDecoder().decode(type, from: data)
    }

    /// The nesting problem of a document, or nil: one pass over the bytes, strings and their escapes skipped.
    public static func depthProblem(_ data: Data) -> JSONTooDeep? {
        var depth = 0, inString = false, escaped = false
        for byte in data {
            if inString {
                if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                if depth > maximumDepth { return JSONTooDeep() }
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth -= 1
            default: break
            }
        }
        return nil
    }
}

/// A document nested deeper than `JSONInput.maximumDepth`.
public struct JSONTooDeep: Error, CustomStringConvertible, Sendable {
    public var description: String { "nested deeper than \(JSONInput.maximumDepth) arrays or objects" }
}
