import Testing
@testable import RouteprobeNetlink
import RouteprobeCore
import RouteprobeTestSupport

/// Short, corrupt, out-of-order and interrupted answers: every one a typed error, never a crash and never a
/// partial table returned as a whole one.
@Suite struct MalformedInputTests {
    func socket(_ datagrams: [[UInt8]], portID: UInt32) -> RoutingSocket {
        RoutingSocket(transport: ReplayTransport(portID: portID, datagrams: datagrams), firstSequence: Recorded.dumpSequenceStart)
    }

    @Test func everyTruncationOfADumpIsATypedError() throws {
        let datagrams = try fixtureDatagrams("route-dump-ipv4-table100.hex")
        let routes = datagrams[0]
        let port = Recorded.portID(of: routes)
        for length in 0..<routes.count {
            // The truncated datagram is all the kernel sends: no NLMSG_DONE follows.
            let truncated = Array(routes[0..<length])
            #expect(throws: NetlinkError.self, "truncated at \(length)") {
                _ = try socket(length == 0 ? [] : [truncated], portID: port).routes()
            }
        }
    }

    @Test func garbageIsATypedError() throws {
        var generator = SplitMix64(seed: 42)
        for round in 0..<500 {
            let count = Int(generator.next() % 200) + 1
            let garbage = (0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            #expect(throws: NetlinkError.self, "garbage round \(round)") {
                _ = try socket([garbage], portID: 1).routes()
            }
        }
    }

    @Test func anAddressOfTheWrongSizeIsMalformed() throws {
        var datagrams = try fixtureDatagrams("route-dump-ipv4-table100.hex")
        // First message: RTA_DST is at offset 16 + 12 + 8; claim 7 bytes instead of 8 (a 3-byte address).
        datagrams[0][36] = 7
        let error = #expect(throws: NetlinkError.self) { _ = try socket(datagrams, portID: Recorded.portID(of: datagrams[0])).routes() }
        guard case .malformed(let detail)? = error else { Issue.record("expected .malformed, got \(String(describing: error))"); return }
        #expect(detail.contains("RTA_DST"))
    }

    @Test func aReplyWithAnotherSequenceIsRejected() throws {
        let datagrams = try fixtureDatagrams("route-dump-ipv4-table100.hex")
        let socket = RoutingSocket(transport: ReplayTransport(portID: Recorded.portID(of: datagrams[0]), datagrams: datagrams),
                                   firstSequence: 7)
        #expect(throws: NetlinkError.sequenceMismatch(expected: 8, received: 4242)) { _ = try socket.routes() }
    }

    @Test func aReplyForAnotherPortIsRejected() throws {
        let datagrams = try fixtureDatagrams("route-dump-ipv4-table100.hex")
        let port = Recorded.portID(of: datagrams[0])
        #expect(throws: NetlinkError.portMismatch(expected: port + 1, received: port)) {
            _ = try socket(datagrams, portID: port + 1).routes()
        }
    }

    @Test func aDumpWithoutDoneIsIncomplete() throws {
        let datagrams = try fixtureDatagrams("route-dump-ipv4-table100.hex")
        #expect(throws: NetlinkError.incompleteDump) {
            _ = try socket([datagrams[0]], portID: Recorded.portID(of: datagrams[0])).routes()
        }
    }

    @Test func anInterruptedDumpIsRepeatedAndOnlyTheCleanCopyReturned() throws {
        let clean = try fixtureDatagrams("route-dump-ipv4-table100.hex")
        let port = Recorded.portID(of: clean[0])
        // Attempt 1 (sequence 4242) is flagged NLM_F_DUMP_INTR on its messages; attempt 2 uses 4243.
        let interrupted = clean.map { rewritingMessages($0) { bytes, offset in bytes[offset + 6] |= 0x10 } }
        let retried = clean.map { rewritingMessages($0) { bytes, offset in bytes[offset + 8] = 0x93 } }
        let transport = ReplayTransport(portID: port, datagrams: interrupted + retried)
        let socket = RoutingSocket(transport: transport, firstSequence: Recorded.dumpSequenceStart)
        let routes = try socket.routes()
        #expect(routes.count == 4)
        #expect(socket.interruptedDumps == 1)
        #expect(transport.sent.count == 2)
    }

    @Test func aDumpInterruptedEveryTimeFails() throws {
        let clean = try fixtureDatagrams("route-dump-ipv4-table100.hex")
        var all: [[UInt8]] = []
        for attempt in 0..<5 {
            all += clean.map { rewritingMessages($0) { bytes, offset in bytes[offset + 6] |= 0x10; bytes[offset + 8] = UInt8(0x92 + attempt) } }
        }
        #expect(throws: NetlinkError.dumpInterrupted(attempts: 5)) { _ = try socket(all, portID: Recorded.portID(of: clean[0])).routes() }
    }

    @Test func anErrorInsideADumpIsTheKernelsError() throws {
        let clean = try fixtureDatagrams("route-dump-ipv4-table100.hex")
        let port = Recorded.portID(of: clean[0])
        var error: [UInt8] = [20, 0, 0, 0, 2, 0, 0, 0, 0x92, 0x10, 0, 0]
        withUnsafeBytes(of: port.littleEndian) { error += $0 }
        error += [0xf3, 0xff, 0xff, 0xff] // -13: EACCES
        let thrown = #expect(throws: NetlinkError.self) { _ = try socket([error], portID: port).routes() }
        #expect(thrown == .kernel(operation: "route dump", errno: 13, message: nil))
    }
}

