import Foundation
import RouteprobeTestSupport
import Testing
@testable import RouteprobeNetlink
import RouteprobeCore
import RouteprobeSystem

/// routeprobe against the real kernel, compared with iproute2, in namespaces each test creates and deletes.
@Suite(.enabled(if: runningAsRoot, Comment(rawValue: needsRootReason)))
struct KernelRoutingTests {
    /// Parses an `ip -j` document into its objects, as Foundation sees them.
    func jsonObjects(_ text: String) throws -> [NSDictionary] {
        let parsed = try JSONSerialization.jsonObject(with: Data(text.utf8))
        guard let array = parsed as? [NSDictionary] else { throw LabError("not a JSON array: \(text.prefix(200))") }
        return array
    }

    func ourJSON(_ routes: [Route], interfaceNames: [UInt32: String], lookup: Bool = false) -> String {
        var writer = ByteWriter()
        IPRoute2RouteJSON(names: .loadSystem(), interfaceNames: interfaceNames, context: .init(isLookup: lookup))
            .appendDocument(routes, to: &writer)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    @Test func aRandomTableOfHundredsOfRoutesMatchesIPRouteShowEntryByEntry() async throws {
        let seed = UInt64.random(in: 0...UInt64.max)
        try await withLabNamespace { namespace in
            try RandomRouteTable.setUp(in: namespace)
            var table = RandomRouteTable(seed: seed)
            let batch = table.batch(count: 700)
            _ = try runProgram("/usr/sbin/ip", ["-n", namespace, "-force", "-batch", "-"], input: batch)
            let socket = try RoutingSocket(namespace: NetworkNamespace(namespace))
            let interfaceNames = try socket.interfaceNames()
            var total = 0
            for (family, flag) in [(AddressFamily.inet, "-4"), (.inet6, "-6")] {
                let routes = try socket.routes(family: family).filter { !$0.flags.contains(.cloned) }
                let ours = ourJSON(routes, interfaceNames: interfaceNames)
                let theirs = try ip("-n", namespace, "-j", flag, "route", "show", "table", "all")
                let ourObjects = try jsonObjects(ours), theirObjects = try jsonObjects(theirs)
                #expect(ourObjects.count == theirObjects.count, "seed \(seed): \(family) route count")
                for (index, (mine, iproute2)) in zip(ourObjects, theirObjects).enumerated() where mine != iproute2 {
                    Issue.record("seed \(seed): \(family) entry \(index) differs:\n ours: \(mine)\n ip:   \(iproute2)")
                    break
                }
                #expect(ours == theirs, "seed \(seed): \(family) output is not byte-identical")
                total += routes.count
            }
            let multipath = try socket.routes().filter { $0.multipath.count > 1 }.count
            let rejecting = try socket.routes().filter { $0.type.rejectsTraffic }.count
            #expect(total >= 500, "seed \(seed): only \(total) routes were installed")
            #expect(multipath > 20 && rejecting > 20, "seed \(seed): the table lacks variety")
        }
    }

    @Test func lookupsMatchIPRouteGetUnderPolicyRouting() async throws {
        let seed = UInt64.random(in: 0...UInt64.max)
        try await withLabNamespace { namespace in
            try RandomRouteTable.setUp(in: namespace)
            var table = RandomRouteTable(seed: seed)
            _ = try runProgram("/usr/sbin/ip", ["-n", namespace, "-force", "-batch", "-"], input: table.batch(count: 400))
            try ip("-n", namespace, "rule", "add", "from", "10.1.0.1", "table", "100", "pref", "100")
            try ip("-n", namespace, "rule", "add", "to", "172.20.0.0/14", "table", "200", "pref", "200")
            try ip("-n", namespace, "rule", "add", "from", "10.2.0.1", "to", "10.0.0.0/8", "table", "300", "pref", "300")
            try ip("-n", namespace, "-6", "rule", "add", "from", "fd00:1::1", "table", "100", "pref", "100")
            try ip("-n", namespace, "route", "add", "default", "via", "10.0.0.254", "table", "200")
            // Variety whatever the random table: a default route answers what nothing else covers, and
            // 172.31.0.0/16 is always refused.
            try ip("-n", namespace, "route", "replace", "default", "via", "10.1.0.254")
            try ip("-n", namespace, "route", "replace", "unreachable", "172.31.0.0/16")
            let socket = try RoutingSocket(namespace: NetworkNamespace(namespace))
            let rules = try socket.rules(family: .inet)
            #expect(rules.contains { $0.priority == 300 && $0.table == RouteTableID(rawValue: 300) && $0.source == IPPrefix("10.2.0.1/32") })
            let interfaceNames = try socket.interfaceNames()
            var generator = SplitMix64(seed: seed ^ 0x5eed)
            var answered = 0, refused = 0
            var asked: [(destination: IPAddress, answer: Result<Route, NetlinkError>)] = []
            for iteration in 0..<220 {
                // Every fifth destination lies in 198.18.0.0/15, which no random route covers: the default
                // route answers it, so a table whose short unreachable routes swallow 10/8 and 172/8 still
                // leaves enough answers to compare.
                let outside = iteration % 5 == 0
                let inet6 = !outside && generator.next() % 4 == 0
                let destination: IPAddress = outside ? .v4(0xc612_0000 | UInt32(truncatingIfNeeded: generator.next() & 0x0001_ffff)) : inet6
                    ? .v6(0x2001_0db8_0000_0000 | (generator.next() & 0xffff_ffff), generator.next())
                    : .v4(UInt32(truncatingIfNeeded: [0xac10_0000, 0xac14_0000, 0x0a00_0000, 0x0a0a_0000, 0xac1f_0000][Int(generator.next() % 5)]
                                 | (generator.next() & 0x000f_ffff)))
                let sources: [IPAddress?] = inet6 ? [nil, IPAddress("fd00:1::1")] : [nil, IPAddress("10.1.0.1"), IPAddress("10.2.0.1")]
                let source = sources[Int(generator.next() % UInt64(sources.count))]
                var arguments = ["-n", namespace, "-j", "route", "get", destination.description]
                if let source { arguments += ["from", source.description] }
                let iproute2 = try runProgram("/usr/sbin/ip", arguments)
                let label = "seed \(seed): route get \(destination) from \(source?.description ?? "-")"
                if source == nil { asked.append((destination, Result { () throws(NetlinkError) in try socket.lookup(destination) })) }
                do {
                    let route = try socket.lookup(destination, from: source)
                    #expect(iproute2.status == 0, "\(label): ip failed (\(iproute2.standardError)) but routeprobe answered")
                    #expect(ourJSON([route], interfaceNames: interfaceNames, lookup: true) == iproute2.standardOutput, "\(label)")
                    answered += 1
                } catch {
                    #expect(iproute2.status != 0, "\(label): routeprobe failed (\(error)) but ip answered")
                    let expected = "RTNETLINK answers: \(ErrnoName.message((error as? NetlinkError)?.errno ?? 0))"
                    #expect(iproute2.standardError.contains(expected), "\(label): \(error) vs \(iproute2.standardError)")
                    refused += 1
                }
            }
            #expect(answered >= 44 && refused > 10, "seed \(seed): \(answered) answered, \(refused) refused: too little variety")
            // Batched lookups (a datagram of requests, answers matched by sequence) answer as one by one,
            // failures included, whatever the batch size.
            for batch in [1, 7, 64] {
                let batched = try socket.lookups(asked.map(\.destination), batch: batch)
                #expect(batched.count == asked.count)
                for (index, (destination, single)) in asked.enumerated() {
                    #expect(batched[index] == single, "seed \(seed): batch \(batch), \(destination)")
                }
            }
        }
    }

    @Test func linksAddressesAndNeighboursMatchTheKernel() async throws {
        try await withLabNamespace { namespace in
            try RandomRouteTable.setUp(in: namespace)
            try ip("-n", namespace, "neigh", "add", "10.0.0.9", "lladdr", "02:00:00:00:00:09", "dev", "v0", "nud", "permanent")
            let socket = try RoutingSocket(namespace: NetworkNamespace(namespace))
            let links = try socket.links()
            #expect(Set(links.map(\.name)) == ["lo", "v0", "p0", "v1", "p1", "v2", "p2"])
            #expect(links.first { $0.name == "v1" }?.kind == "veth")
            let addresses = try socket.addresses()
            #expect(addresses.contains { $0.prefix == IPPrefix("10.2.0.0/24") && $0.address == IPAddress("10.2.0.1") })
            #expect(addresses.contains { $0.address == IPAddress("fd00:1::1") && $0.prefix.length == 64 })
            let neighbour = try #require(try socket.neighbours(family: .inet).first { $0.address == IPAddress("10.0.0.9") })
            #expect(neighbour.hardwareAddress == [2, 0, 0, 0, 0, 9])
            #expect(neighbour.stateName == "PERMANENT")
        }
    }

    @Test func theMonitorSeesAddsAndDeletes() async throws {
        try await withLabNamespace { namespace in
            try RandomRouteTable.setUp(in: namespace)
            let monitor = try RouteMonitor(namespace: NetworkNamespace(namespace))
            let watchdog = Task { try await Task.sleep(for: .seconds(10)); monitor.stop() }
            defer { watchdog.cancel() }
            try ip("-n", namespace, "route", "add", "198.51.100.0/24", "via", "10.0.0.2")
            try ip("-n", namespace, "route", "add", "2001:db8:77::/64", "via", "fd00:0::2")
            try ip("-n", namespace, "route", "del", "198.51.100.0/24", "via", "10.0.0.2")
            var seen: [RouteEvent] = []
            for try await event in monitor.events() {
                seen.append(event)
                if case .deleted = event { break }
            }
            let added = seen.compactMap { if case .added(let route) = $0 { return route.destination } else { return nil } }
            let deleted = seen.compactMap { if case .deleted(let route) = $0 { return route.destination } else { return nil } }
            #expect(added.contains(IPPrefix("198.51.100.0/24")!))
            #expect(added.contains(IPPrefix("2001:db8:77::/64")!))
            #expect(deleted == [IPPrefix("198.51.100.0/24")!])
        }
    }

    @Test func anOverflowingMonitorResyncsWithTheWholeTable() async throws {
        try await withLabNamespace { namespace in
            try RandomRouteTable.setUp(in: namespace)
            // A tiny receive buffer and nobody reading yet: 3000 notifications cannot fit.
            let monitor = try RouteMonitor(namespace: NetworkNamespace(namespace), receiveBufferSize: 4096)
            let batch = (0..<3000).map { "route add 198.18.\($0 / 250).\($0 % 250)/32 via 10.0.0.2" }.joined(separator: "\n")
            _ = try runProgram("/usr/sbin/ip", ["-n", namespace, "-batch", "-"], input: batch + "\n")
            let watchdog = Task { try await Task.sleep(for: .seconds(20)); monitor.stop() }
            defer { watchdog.cancel() }
            var resynced: [Route]? = nil
            for try await event in monitor.events() {
                if case .resync(let routes) = event {
                    resynced = routes
                    break
                }
            }
            let routes = try #require(resynced, "no resync arrived after the socket overflowed")
            let added = routes.filter { IPPrefix("198.18.0.0/15")!.contains($0.destination) }
            #expect(added.count == 3000)
        }
    }

    @Test func theCommandLineMatchesIPAndFailsCleanly() async throws {
        let executable = try routeprobeExecutable()
        try await withLabNamespace { namespace in
            try RandomRouteTable.setUp(in: namespace)
            var table = RandomRouteTable(seed: 7)
            _ = try runProgram("/usr/sbin/ip", ["-n", namespace, "-force", "-batch", "-"], input: table.batch(count: 200))
            try ip("-n", namespace, "route", "add", "blackhole", "172.31.0.0/16")
            let ours = try runProgram("/usr/sbin/ip", ["netns", "exec", namespace, executable, "routes", "--table", "all", "--family", "inet", "--json"])
            #expect(ours.status == 0)
            #expect(ours.standardOutput == (try ip("-n", namespace, "-j", "-4", "route", "show", "table", "all")))
            let inet6 = try runProgram(executable, ["routes", "--netns", namespace, "--table", "all", "--family", "inet6", "--json"])
            #expect(inet6.standardOutput == (try ip("-n", namespace, "-j", "-6", "route", "show", "table", "all")))
            let summary = try runProgram(executable, ["routes", "--netns", namespace, "--table", "all", "--summary"])
            #expect(summary.status == 0)
            #expect(summary.standardOutput.contains("inet    main   blackhole"))
            let blackholed = try runProgram(executable, ["route", "get", "172.31.1.1", "--netns", namespace])
            #expect(blackholed.status == 1)
            #expect(blackholed.standardError.split(separator: "\n").count == 1)
            #expect(blackholed.standardError.contains("blackhole"))
            let badAddress = try runProgram(executable, ["route", "get", "172.31.1", "--netns", namespace])
            #expect(badAddress.status == 2)
            #expect(badAddress.standardError.contains("not an IPv4 or IPv6 address"))
            let badTable = try runProgram(executable, ["routes", "--table", "nosuch", "--netns", namespace])
            #expect(badTable.status == 2)
            let missing = try runProgram(executable, ["routes", "--netns", namespace + "-gone"])
            #expect(missing.status == 1)
            #expect(missing.standardError.contains("cannot enter network namespace"))
        }
    }
}
