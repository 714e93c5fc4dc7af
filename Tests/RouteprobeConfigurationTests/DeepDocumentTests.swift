import Foundation
import Testing
import RouteprobeConfiguration

/// The loaders read JSON through JSONInput: a document that would make Foundation's JSONDecoder trap (513
/// nested arrays at its very end, found by scripts/fuzz.sh) is one line of refusal.
@Suite("Deeply nested documents are refused, not a crash")
struct DeepDocumentTests {
    static let deep = String(repeating: "[", count: 513)

    static func refusal(_ body: () throws(ConfigurationError) -> Void) -> String? {
        do { try body(); return nil } catch { return error.description }
    }

    @Test func clusterMapAndConfig() {
        #expect(Self.refusal { () throws(ConfigurationError) in _ = try ClusterMapFile.parse(Self.deep, source: "map.json") } == "cluster map map.json: nested deeper than 128 arrays or objects")
        #expect(Self.refusal { () throws(ConfigurationError) in _ = try AgentSettings.parse(Self.deep, source: "agent.json") } == "config agent.json: nested deeper than 128 arrays or objects")
    }
}
