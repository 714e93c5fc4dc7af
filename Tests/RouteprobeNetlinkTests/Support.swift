import Foundation
@testable import RouteprobeNetlink
import RouteprobeCore

/// Reads an annotated hex fixture: `#` starts a comment, `----` starts a new datagram, the rest is hex bytes.
func fixtureDatagrams(_ name: String) throws -> [[UInt8]] {
    guard let url = Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil) else {
        throw FixtureError("fixture \(name) is missing")
    }
    let text = try String(contentsOf: url, encoding: .utf8)
    var datagrams: [[UInt8]] = []
    var current: [UInt8]? = nil
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
        if line.hasPrefix("----") {
            if let current { datagrams.append(current) }
            current = []
            continue
        }
        let data = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        for token in data.split(separator: " ") {
            guard let byte = UInt8(token, radix: 16) else { throw FixtureError("bad hex '\(token)' in \(name)") }
            if current == nil { current = [] }
            current!.append(byte)
        }
    }
    if let current, !current.isEmpty { datagrams.append(current) }
    return datagrams
}

struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Plays recorded kernel datagrams back and records what was sent; returns 0 bytes when it runs out.
final class ReplayTransport: NetlinkTransport {
    let portID: UInt32
    var datagrams: [[UInt8]]
    var sent: [[UInt8]] = []

    init(portID: UInt32, datagrams: [[UInt8]]) {
        self.portID = portID
        self.datagrams = datagrams
    }

    func send(_ message: [UInt8]) throws(NetlinkError) { sent.append(message) }

    func receive(into buffer: inout [UInt8]) throws(NetlinkError) -> Int {
        guard !datagrams.isEmpty else { return 0 }
        let next = datagrams.removeFirst()
        buffer.replaceSubrange(0..<next.count, with: next)
        return next.count
    }
}

/// Sets a 16-bit header field of every message in a datagram (for building variants of fixtures).
func rewritingMessages(_ datagram: [UInt8], _ change: (inout [UInt8], Int) -> Void) -> [UInt8] {
    var bytes = datagram
    var offset = 0
    while offset + 16 <= bytes.count {
        let length = Int(UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24)
        change(&bytes, offset)
        offset += (length + 3) & ~3
        if length == 0 { break }
    }
    return bytes
}

/// The port id and sequence the fixtures were recorded with.
enum Recorded {
    static func portID(of datagram: [UInt8]) -> UInt32 {
        UInt32(datagram[12]) | UInt32(datagram[13]) << 8 | UInt32(datagram[14]) << 16 | UInt32(datagram[15]) << 24
    }
    /// Dumps were recorded with sequence 4242; RoutingSocket uses firstSequence + 1.
    static let dumpSequenceStart: UInt32 = 4241
    /// Lookups were recorded with sequence 4243.
    static let lookupSequenceStart: UInt32 = 4242
}

func render(_ routes: [Route], names: [UInt32: String] = [1: "lo", 3: "d0"], lookup: Bool = false) -> String {
    var writer = ByteWriter()
    IPRoute2RouteJSON(names: .builtIn, interfaceNames: names, context: .init(isLookup: lookup)).appendDocument(routes, to: &writer)
    return String(decoding: writer.bytes, as: UTF8.self)
}
