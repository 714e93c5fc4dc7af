/// Decoding errors in one line: the key path and what is wrong there.
public enum DecodingProblem {
    /// `nodes[1].ip: 'x' is not an IP address`, `items[0]: missing key 'metadata'`; a document that cannot
    /// be read at all (corrupt at its root, or not a DecodingError) is `not JSON` (or `not <format>`).
    public static func describe(_ error: any Error, format: String = "JSON") -> String {
        describe(error, format: format, document: nil)
    }

    /// As `describe(_:format:)`; with the `document` at hand, a number the decoder could not take (`1e400`,
    /// `2^64`, `1.5` for a count), which Foundation reports as "not valid JSON", is named with its place
    /// instead: `results[0].sent: 18446744073709551616 is not a whole number from -2^63 to 2^63-1`.
    /// `decodes` tells whether a document decodes, so that the culprit among several numbers is found exactly.
    public static func describe(_ error: any Error, format: String = "JSON", document: [UInt8]?, decodes: (([UInt8]) -> Bool)? = nil) -> String {
        if let document, format == "JSON", case .dataCorrupted(let context)? = error as? DecodingError, context.codingPath.isEmpty,
           let number = JSONNumbers.firstUnrepresentable(in: document, decodes: decodes) {
            return "\(number.path.isEmpty ? "" : number.path + ": ")\(number.text) is not a whole number from -2^63 to 2^63-1"
        }
        return plain(error, format: format)
    }

    private static func plain(_ error: any Error, format: String) -> String {
        if let deep = error as? JSONTooDeep { return deep.description }
        guard let decoding = error as? DecodingError else { return "not \(format)" }
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return keys.isEmpty ? "" : "\(keys.hasPrefix(".") ? String(keys.dropFirst()) : keys): "
        }
        switch decoding {
        case .keyNotFound(let key, let context): return "\(path(context))missing key '\(key.stringValue)'"
        case .typeMismatch(_, let context), .valueNotFound(_, let context): return "\(path(context))\(context.debugDescription)"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "not \(format)" : "\(path(context))\(context.debugDescription)"
        @unknown default: return "\(decoding)"
        }
    }
}
