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
