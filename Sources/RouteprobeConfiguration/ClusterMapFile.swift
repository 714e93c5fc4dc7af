import Foundation
import RouteprobeCore
import Yams

/// Reading configuration files: the cluster map (YAML, or JSON with the same keys).
public enum ClusterMapFile {
    /// Loads and checks a cluster map; the error is one line naming the file and what is wrong.
    public static func load(path: String) throws(ConfigurationError) -> ClusterMap {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigurationError("cannot read cluster map \(path): \((error as NSError).localizedDescription)")
        }
        return try parse(text, source: path)
    }

    /// Parses cluster map text; `source` names it in errors.
    public static func parse(_ text: String, source: String) throws(ConfigurationError) -> ClusterMap {
        let map: ClusterMap
        do {
            map = try YAMLDecoder().decode(ClusterMap.self, from: text)
        } catch let error as DecodingError {
            throw ConfigurationError("cluster map \(source): \(DecodingProblem.describe(error))")
        } catch {
            throw ConfigurationError("cluster map \(source): \(String(describing: error).split(separator: "\n").first ?? "not YAML or JSON")")
        }
        if map.nodes.isEmpty { throw ConfigurationError("cluster map \(source): no nodes") }
        if let problem = map.problems().first { throw ConfigurationError("cluster map \(source): \(problem)") }
        return map
    }

}

/// Decoding errors in one line: the key path and what is wrong there.
public enum DecodingProblem {
    /// `nodes[1].ip: 'x' is not an IP address`.
    public static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return keys.isEmpty ? "" : "\(keys.hasPrefix(".") ? String(keys.dropFirst()) : keys): "
        }
        switch error {
        case .keyNotFound(let key, let context): return "\(path(context))missing key '\(key.stringValue)'"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return "\(path(context))\(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}

/// A configuration file that cannot be used, with the reason in one line.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
