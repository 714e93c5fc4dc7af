import Foundation

/// The bearer token agents and the aggregator share, read from its file (a mounted Secret).
public enum BearerTokenFile {
    /// The token in `path`, without surrounding whitespace; an unreadable file, an empty one or a token of
    /// more than one word is an error that names the file.
    public static func read(_ path: String) throws(ConfigurationError) -> String {
        let token: String
        do {
            token = try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        } catch {
            throw ConfigurationError("cannot read --token-file \(path): \((error as NSError).localizedDescription)")
        }
        if token.isEmpty { throw ConfigurationError("--token-file \(path) is empty") }
        if token.contains(where: { $0.isWhitespace }) { throw ConfigurationError("--token-file \(path): the token must be one word") }
        return token
    }
}

/// Per-node tokens outside Kubernetes (`--node-tokens FILE`): YAML or JSON mapping each node's name to its
/// token, so that a token speaks for one node only.
///
/// ```yaml
/// node-a: 3f9c0b1e7d2a48c6b5e4f3a2c1d0e9f8
/// node-b: 7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d
/// ```
public enum NodeTokensFile {
    /// The shortest token accepted: 16 characters (a guessable token would make per-node identity moot).
    public static let minimumLength = 16

    /// Token -> node. Errors name the file and the node: unreadable, not a mapping, an empty or short token,
    /// a token of several words, one token for two nodes.
    public static func load(path: String) throws(ConfigurationError) -> [String: String] {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw ConfigurationError("cannot read --node-tokens \(path): \((error as NSError).localizedDescription)")
        }
        return try parse(text, source: path)
    }

    public static func parse(_ text: String, source: String) throws(ConfigurationError) -> [String: String] {
        let byNode: [String: String]
        do { byNode = try YAMLText.decode([String: String].self, from: text) } catch {
            throw ConfigurationError("--node-tokens \(source): expected a mapping of node names to tokens (node-a: TOKEN)")
        }
        if byNode.isEmpty { throw ConfigurationError("--node-tokens \(source): no node") }
        var byToken: [String: String] = [:]
        for (node, token) in byNode.sorted(by: { $0.key < $1.key }) {
            let token = token.trimmingCharacters(in: .whitespaces)
            if token.count < minimumLength {
                throw ConfigurationError("--node-tokens \(source): the token of \(node) is shorter than \(minimumLength) characters")
            }
            if token.contains(where: { $0.isWhitespace }) { throw ConfigurationError("--node-tokens \(source): the token of \(node) must be one word") }
            if let other = byToken[token] {
                throw ConfigurationError("--node-tokens \(source): \(other) and \(node) have the same token; each node needs its own")
            }
            byToken[token] = node
        }
        return byToken
    }
}
