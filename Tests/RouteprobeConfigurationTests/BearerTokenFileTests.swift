import Foundation
import Testing
import RouteprobeConfiguration

@Suite("the bearer token file both roles read")
struct BearerTokenFileTests {
    private func file(_ contents: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("rpt-token-\(UInt32.random(in: 0...UInt32.max))").path
        try contents.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("the token is the file's one word, without the newline a Secret may carry")
    func theTokenIsTrimmed() throws {
        let path = try file("s3cret-token\n")
        defer { unlink(path) }
        #expect(try BearerTokenFile.read(path) == "s3cret-token")
    }

    @Test("a missing file, an empty one and a token of two words are refused, naming the file")
    func badFilesAreRefused() throws {
        let empty = try file(" \n")
        let twoWords = try file("one two\n")
        defer { unlink(empty); unlink(twoWords) }
        for (path, reason) in [("/nonexistent/token", "cannot read --token-file /nonexistent/token"),
                               (empty, "--token-file \(empty) is empty"),
                               (twoWords, "--token-file \(twoWords): the token must be one word")] {
            let error = #expect(throws: ConfigurationError.self) { _ = try BearerTokenFile.read(path) }
            #expect(error?.description.hasPrefix(reason) == true, "\(error?.description ?? "no error")")
        }
    }
}
