import Foundation
import Testing
import RouteprobeCore

/// The inputs scripts/fuzz.sh found crashing a decoder, each kept as a fixture (Fixtures/fuzz/HARNESS-crash-N)
/// and answered with a refusal now.
@Suite("What the fuzzer found")
struct FuzzFindingTests {
    static func fixtures(_ harness: String) throws -> [(name: String, data: Data)] {
        let directory = try #require(Bundle.module.url(forResource: "Fixtures/fuzz", withExtension: nil))
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasPrefix("\(harness)-crash-") }.sorted()
        return try names.map { ($0, try Data(contentsOf: directory.appendingPathComponent($0))) }
    }

    @Test("513 nested arrays ending a registration or report: refused, not a trap in JSONDecoder")
    func deepNesting() throws {
        let found = try Self.fixtures("registration")
        #expect(found.count == 2)
        for (name, data) in found {
            #expect(WireMessage.registration(from: data) == .failure(WireRefusal("nested deeper than 128 arrays or objects")), "\(name)")
            #expect(WireMessage.report(from: data) == .failure(WireRefusal("nested deeper than 128 arrays or objects")), "\(name)")
        }
    }

    @Test("The depth limit: 128 levels pass, 129 do not; brackets inside strings do not count")
    func depthLimit() throws {
        func nested(_ depth: Int) -> Data { Data((String(repeating: "[", count: depth) + String(repeating: "]", count: depth)).utf8) }
        #expect(JSONInput.depthProblem(nested(128)) == nil)
        #expect(JSONInput.depthProblem(nested(129)) != nil)
        #expect(try JSONInput.decode([[Int]].self, from: Data("[[1],[2]]".utf8)) == [[1], [2]])
        let quoted = Data(#"{"a":"\"[[[[\\[{{{","b":["]]]"]}"#.utf8)
        #expect(JSONInput.depthProblem(quoted) == nil)
        let strings = try JSONInput.decode([String: AnyDecodable].self, from: quoted)
        #expect(strings.count == 2)
        let deepInString = Data(("[\"" + String(repeating: "[", count: 600) + "\"]").utf8)
        #expect(try JSONInput.decode([String].self, from: deepInString).first?.count == 600)
    }

    /// Any JSON value, for decoding a document whose shape the test does not care about.
    struct AnyDecodable: Decodable {
        init(from decoder: any Decoder) throws {}
    }
}
