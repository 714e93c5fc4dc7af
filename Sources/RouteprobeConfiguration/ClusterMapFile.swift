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
            map = try YAMLText.decode(ClusterMap.self, from: text)
        } catch let error as DecodingError {
            throw ConfigurationError("cluster map \(source): \(DecodingProblem.describe(error, format: "YAML or JSON"))")
        } catch {
            throw ConfigurationError("cluster map \(source): \(String(describing: error).split(separator: "\n").first ?? "not YAML or JSON")")
        }
        if map.nodes.isEmpty { throw ConfigurationError("cluster map \(source): no nodes") }
        if let problem = map.problems().first { throw ConfigurationError("cluster map \(source): \(problem)") }
        return map
    }

}

/// A configuration file that cannot be used, with the reason in one line.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
