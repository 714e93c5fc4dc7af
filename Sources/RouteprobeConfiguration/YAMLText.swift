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

    /// Decodes `type` from YAML or JSON text.
    static func decode<T: Decodable>(_ type: T.Type, from text: String) throws -> T {
        let parser = try Parser(yaml: text, resolver: .basic)
        // The parser owns the anchors the nodes refer to: keep it alive while decoding.
        return try withExtendedLifetime(parser) {
            try YAMLDecoder().decode(type, from: try parser.singleRoot() ?? "")
        }
    }
}
