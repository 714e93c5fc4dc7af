/// Decoding errors in one line: the key path and what is wrong there.
public enum DecodingProblem {
    /// `nodes[1].ip: 'x' is not an IP address`, `items[0]: missing key 'metadata'`; a document that cannot
    /// be read at all (corrupt at its root, or not a DecodingError) is `not JSON` (or `not <format>`).
    public static func describe(_ error: any Error, format: String = "JSON") -> String {
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
