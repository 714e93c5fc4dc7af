import Foundation
import RouteprobeCore
import Yams

/// Decoding YAML (and JSON, its subset) with Yams' parser but without its tag resolver.
///
/// `YAMLDecoder().decode(_:from: String)` resolves tags with a rule that is an `NSRegularExpression`, and the
/// first regular expression in a process initialises ICU's regex engine: about 2 MB of the agent's resident
/// memory, for a rule (`<<` merge keys) that routeprobe's files never use. Decoding does not need resolved
/// tags: numbers, booleans and nulls are read from the scalar's text when a field asks for them.
enum YAMLText {
    /// The document's root node, or nil for an empty document.
    static func compose(_ text: String) throws -> Node? {
        try Parser(yaml: text, resolver: .basic).singleRoot()
    }

    /// Decodes `type` from YAML or JSON text. A document that is JSON goes through JSONDecoder, several times
    /// faster than the YAML parser on large maps (JSON is YAML, so flow-style YAML that is not JSON falls back).
    static func decode<T: Decodable>(_ type: T.Type, from text: String) throws -> T {
        if let first = text.utf8.first(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }), first == UInt8(ascii: "{") || first == UInt8(ascii: "[") {
            do {
                return try JSONInput.decode(type, from: Data(text.utf8))
            } catch DecodingError.dataCorrupted(let context) where context.codingPath.isEmpty {
                // Not JSON: read it as YAML below.
            }
        }
        let parser = try Parser(yaml: text, resolver: .basic)
        // The parser owns the anchors the nodes refer to: keep it alive while decoding.
        return try withExtendedLifetime(parser) {
            try YAMLDecoder().decode(type, from: try parser.singleRoot() ?? "")
        }
    }
}
