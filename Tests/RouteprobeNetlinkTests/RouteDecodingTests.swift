import Testing
@testable import RouteprobeNetlink
import RouteprobeCore

/// Decoding recorded kernel answers (no root needed).
@Suite struct RouteDecodingTests {
    func dumpTable100() throws -> [Route] {
        let datagrams = try fixtureDatagrams("route-dump-ipv4-table100.hex")
        let transport = ReplayTransport(portID: Recorded.portID(of: datagrams[0]), datagrams: datagrams)
        let socket = RoutingSocket(transport: transport, firstSequence: Recorded.dumpSequenceStart)
        return try socket.routes(family: .inet)
    }

    @Test func decodesAGatewayRouteFieldByField() throws {
        let route = try #require(try dumpTable100().first)
        #expect(route.family == .inet)
        #expect(route.destination == IPPrefix("172.16.0.0/24"))
        #expect(route.gateway == IPAddress("10.0.0.2"))
        #expect(route.outputInterface == 3)
        #expect(route.metric == 10)
        #expect(route.table == RouteTableID(rawValue: 100))
        #expect(route.routeProtocol == .boot)
        #expect(route.type == .unicast)
    }

    @Test func decodesMultipathWeightsBlackholesAndMetrics() throws {
        let routes = try dumpTable100()
        #expect(routes.count == 4)
        let multipath = routes[1].multipath
        #expect(multipath.map(\.gateway) == [IPAddress("10.0.0.2"), IPAddress("10.0.0.3")])
        #expect(multipath.map(\.weight) == [2, 1])
        #expect(routes[2].type == .blackhole)
        let metrics = try #require(routes[3].metrics)
        #expect(metrics.value(of: RouteMetrics.mtu) == 1400)
        #expect(metrics.value(of: RouteMetrics.advertisedMSS) == 1300)
        #expect(metrics.lockMask == 1 << 2)
    }

    @Test func rendersTheDumpExactlyAsIPRoute2() throws {
        // What `ip -j route show table 100` printed for the recorded namespace.
        let expected = #"[{"dst":"172.16.0.0/24","gateway":"10.0.0.2","dev":"d0","table":"100","metric":10,"flags":[]},"#
            + #"{"dst":"172.16.1.0/24","table":"100","flags":[],"nexthops":[{"gateway":"10.0.0.2","dev":"d0","weight":2,"flags":[]},{"gateway":"10.0.0.3","dev":"d0","weight":1,"flags":[]}]},"#
            + #"{"type":"blackhole","dst":"172.16.2.0/24","table":"100","flags":[]},"#
            + #"{"dst":"172.16.7.0/24","gateway":"10.0.0.9","dev":"d0","table":"100","flags":[],"metrics":[{"mtu":1400,"advmss":1300}]}]"#
            + "\n"
        #expect(render(try dumpTable100()) == expected)
    }

    @Test func decodesIPv6PreferenceAndCacheInfo() throws {
        let datagrams = try fixtureDatagrams("route-dump-ipv6-pref-high.hex")
        let socket = RoutingSocket(transport: ReplayTransport(portID: Recorded.portID(of: datagrams[0]), datagrams: datagrams),
                                   firstSequence: Recorded.dumpSequenceStart)
        let routes = try socket.routes(family: .inet6)
        #expect(routes.count == 1)
        #expect(routes[0].destination == IPPrefix("2001:db8:5::/64"))
        #expect(routes[0].preference == 1)
        #expect(routes[0].cacheInfo == RouteCacheInfo())
        #expect(render(routes) == #"[{"dst":"2001:db8:5::/64","gateway":"2001:db8::2","dev":"d0","table":"100","metric":100,"flags":[],"pref":"high"}]"# + "\n")
    }

    @Test func decodesALookupAnswerAsIPRouteGetPrintsIt() throws {
        let datagrams = try fixtureDatagrams("route-get-10.0.0.5-reply.hex")
        let socket = RoutingSocket(transport: ReplayTransport(portID: Recorded.portID(of: datagrams[0]), datagrams: datagrams),
                                   firstSequence: Recorded.lookupSequenceStart)
        let route = try socket.lookup(IPAddress("10.0.0.5")!)
        #expect(route.flags.contains(.cloned))
        #expect(render([route], lookup: true) == #"[{"dst":"10.0.0.5","dev":"d0","prefsrc":"10.0.0.1","flags":[],"uid":0,"cache":[]}]"# + "\n")
    }

    @Test func aLookupWithoutRouteIsATypedErrorNamingTheErrno() throws {
        let datagrams = try fixtureDatagrams("route-get-8.8.8.8-enetunreach.hex")
        let socket = RoutingSocket(transport: ReplayTransport(portID: Recorded.portID(of: datagrams[0]), datagrams: datagrams),
                                   firstSequence: Recorded.lookupSequenceStart)
        let error = #expect(throws: NetlinkError.self) { try socket.lookup(IPAddress("8.8.8.8")!) }
        #expect(error?.errno == 101)
        #expect(error?.description.contains("ENETUNREACH") == true)
    }

    /// The recorded lookup answers renumbered (both were recorded with sequence 4243, on different sockets):
    /// the given sequences, and port 4242.
    func answers(sequences: (reply: UInt32, error: UInt32)) throws -> [[UInt8]] {
        func renumbered(_ datagram: [UInt8], _ sequence: UInt32) -> [UInt8] {
            rewritingMessages(datagram) { bytes, offset in
                for index in 0..<4 {
                    bytes[offset + 8 + index] = UInt8((sequence >> (8 * UInt32(index))) & 0xff)
                    bytes[offset + 12 + index] = UInt8((UInt32(4242) >> (8 * UInt32(index))) & 0xff)
                }
            }
        }
        let reply = try #require(try fixtureDatagrams("route-get-10.0.0.5-reply.hex").first)
        let error = try #require(try fixtureDatagrams("route-get-8.8.8.8-enetunreach.hex").first)
        return [renumbered(reply, sequences.reply), renumbered(error, sequences.error)]
    }

    @Test func batchedLookupsSendOneDatagramAndMatchAnswersBySequence() throws {
        let first = Recorded.lookupSequenceStart + 1
        for inOrder in [true, false] {
            var datagrams = try answers(sequences: (first, first + 1))
            if !inOrder { datagrams.reverse() }
            let transport = ReplayTransport(portID: Recorded.portID(of: datagrams[0]), datagrams: datagrams)
            let socket = RoutingSocket(transport: transport, firstSequence: Recorded.lookupSequenceStart)
            let results = try socket.lookups([IPAddress("10.0.0.5")!, IPAddress("8.8.8.8")!])
            #expect(transport.sent.count == 1, "two requests in one datagram")
            #expect(transport.sent.first?.count == 2 * RoutingSocket.lookupRequest(IPAddress("10.0.0.5")!, from: nil, inputInterface: nil,
                                                                                    outputInterface: nil, mark: nil, sequence: 0).count)
            #expect(try results[0].get().destination == IPPrefix("10.0.0.5/32"), "in order: \(inOrder)")
            guard case .failure(let error) = results[1] else { Issue.record("8.8.8.8 has no route"); continue }
            #expect(error.errno == 101 && error.description.contains("route get 8.8.8.8"))
        }
    }

    @Test func aBatchedAnswerToAnotherRequestIsAnError() throws {
        let first = Recorded.lookupSequenceStart + 1
        let datagrams = try answers(sequences: (first, first + 7))
        let socket = RoutingSocket(transport: ReplayTransport(portID: Recorded.portID(of: datagrams[0]), datagrams: datagrams),
                                   firstSequence: Recorded.lookupSequenceStart)
        let error = #expect(throws: NetlinkError.self) { _ = try socket.lookups([IPAddress("10.0.0.5")!, IPAddress("8.8.8.8")!]) }
        guard case .sequenceMismatch(_, let received)? = error else { Issue.record("expected a sequence mismatch, got \(String(describing: error))"); return }
        #expect(received == first + 7)
        // Too few answers: the batch never completes, and the end of the answers is an error, not a hang.
        let short = try answers(sequences: (first, first + 1)).prefix(1)
        let starved = RoutingSocket(transport: ReplayTransport(portID: Recorded.portID(of: short[0]), datagrams: Array(short)),
                                    firstSequence: Recorded.lookupSequenceStart)
        #expect(throws: NetlinkError.incompleteDump) { _ = try starved.lookups([IPAddress("10.0.0.5")!, IPAddress("8.8.8.8")!]) }
    }

    @Test func decodesAMonitorDeletion() throws {
        let datagram = try #require(try fixtureDatagrams("monitor-delroute-172.16.0.0-24.hex").first)
        let events = try RouteMonitor.decodeEvents(datagram)
        guard case .deleted(let route) = try #require(events.first) else {
            Issue.record("expected a deletion, got \(events)")
            return
        }
        #expect(events.count == 1)
        #expect(route.destination == IPPrefix("172.16.0.0/24"))
        #expect(route.table == RouteTableID(rawValue: 100))
        #expect(try RouteMonitor.decodeEvents(datagram, families: [.inet6]).isEmpty)
    }
}
