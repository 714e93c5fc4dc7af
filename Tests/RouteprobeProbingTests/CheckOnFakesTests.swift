import Testing
import RouteprobeCore
import RouteprobeProbing
import RouteprobeTestSupport

/// DESIGN.md's evidence table, row by row, through a whole ReachabilityCheck on fakes (no root, no kernel):
/// routes, probe outcomes and captured frames go in, the verdict comes out. Each row is checked against a
/// neighbour that differs in one observation, so a wrong rule fails here.
@Suite("The evidence table on fakes")
struct CheckOnFakesTests {
    let pod = IPAddress("172.16.1.12")!
    let ownerHost = IPAddress("192.168.0.50")!

    func check(_ node: FakeNode, _ specs: [ProbeSpec], capture: Bool = true) throws -> [TargetReport] {
        let options = ProbeOptions(count: 1, timeout: .milliseconds(100))
        return try ReachabilityCheck(options: options, clusterMap: FakeNode.cluster, capture: capture, environment: node.environment)
            .run(specs).reports
    }

    func icmp(_ target: IPAddress) -> ProbeSpec { ProbeSpec(target: target, probeProtocol: .icmp) }

    @Test("route vpc, timeout with the request seen leaving, the owner's host answers: the VPC entry is missing")
    func vpcRouteMissing() throws {
        let node = FakeNode("node-a")
        node.set(pod, .init(route: .success(FakeNode.viaVPC(pod)), outcome: .timeout))
        let report = try #require(try check(node, [icmp(pod)]).first)
        #expect(report.route.routeClass == .vpc)
        #expect(report.control?.outcome == .reply, "the control probe of node-b's host ran")
        #expect(report.evidence?.requestsSeen == 1 && report.evidence?.nextHopMAC == FakeNode.routerMAC)
        #expect(report.diagnosis.verdict == .vpcRouteMissing)
        #expect(report.diagnosis.message.contains("The VPC route entry 172.16.1.0/24 -> node-b (192.168.0.50) is probably missing."))
        // The same, but the capture never saw the request leave: not enough to blame the VPC.
        node.set(pod, .init(route: .success(FakeNode.viaVPC(pod)), outcome: .timeout, requestsLeave: false))
        #expect(try check(node, [icmp(pod)]).first?.diagnosis.verdict == .unknown)
        // Without a capture the request is taken to have left.
        #expect(try check(node, [icmp(pod)], capture: false).first?.diagnosis.verdict == .vpcRouteMissing)
    }

    @Test("route unreachable on the source: the node's own kernel route is missing or blackholed")
    func kernelRouteMissing() throws {
        let node = FakeNode("node-a")
        node.set(pod, .init(route: .failure(RouteLookupFailure(errno: 113, text: "no route")), outcome: .localError))
        var report = try #require(try check(node, [icmp(pod)]).first)
        #expect(report.route.routeClass == .unreachable && report.route.lookupErrno == 113)
        #expect(report.diagnosis.verdict == .kernelRouteMissing)
        // A blackhole route found by the lookup is the same verdict.
        node.set(pod, .init(route: .success(Route(family: .inet, type: .blackhole, destinationAddress: IPAddress("172.16.1.0"),
                                                  destinationLength: 24)), outcome: .localError))
        report = try #require(try check(node, [icmp(pod)]).first)
        #expect(report.route.routeClass == .unreachable)
        #expect(report.diagnosis.verdict == .kernelRouteMissing)
        #expect(report.diagnosis.message.contains("172.16.1.0/24 -> node-b (192.168.0.50) is missing or blackholed"))
    }

    @Test("route direct via a next hop that is not the owner: the node's own kernel route is wrong")
    func kernelRouteWrong() throws {
        let node = FakeNode("node-a")
        node.set(pod, .init(route: .success(FakeNode.direct(pod, via: IPAddress("192.168.0.60")!)), outcome: .timeout))
        let report = try #require(try check(node, [icmp(pod)]).first)
        #expect(report.route.routeClass == .direct)
        #expect(report.diagnosis.verdict == .kernelRouteWrong)
        #expect(report.diagnosis.message.contains("belongs to node-b (192.168.0.50)"))
        // Via the owner itself: host-gw done right, the pod answers.
        node.set(pod, .init(route: .success(FakeNode.direct(pod, via: ownerHost)), outcome: .reply))
        #expect(try check(node, [icmp(pod)]).first?.diagnosis.verdict == .reachable)
    }

    @Test("an ICMP error from a router: rejected by that router, named with its code")
    func rejectedByRouter() throws {
        let node = FakeNode("node-a")
        let error = ICMPErrorReport(from: FakeNode.vpcRouter, type: 3, code: 1)
        node.set(pod, .init(route: .success(FakeNode.viaVPC(pod)), outcome: .icmpError, icmpError: error))
        let report = try #require(try check(node, [icmp(pod)]).first)
        #expect(report.diagnosis.verdict == .rejectedByRouter)
        #expect(report.diagnosis.message.contains("192.168.0.253 answered host unreachable (type 3 code 1)"))
        // The same error from the target itself is not a router's rejection.
        node.set(pod, .init(route: .success(FakeNode.viaVPC(pod)), outcome: .icmpError, icmpError: ICMPErrorReport(from: pod, type: 3, code: 3)))
        #expect(try check(node, [icmp(pod)]).first?.diagnosis.verdict == .unknown)
    }

    @Test("the owner's host IP silent too: the node is down or partitioned, not a route problem")
    func nodeUnreachable() throws {
        let node = FakeNode("node-a")
        node.set(pod, .init(route: .success(FakeNode.viaVPC(pod)), outcome: .timeout))
        node.set(ownerHost, .init(route: .success(FakeNode.viaVPC(ownerHost)), outcome: .timeout))
        let report = try #require(try check(node, [icmp(pod)]).first)
        #expect(report.control?.outcome == .timeout)
        #expect(report.diagnosis.verdict == .nodeUnreachable)
        #expect(report.diagnosis.message.contains("this is not a route problem"))
    }

    @Test("refused (a RST): reachable, the path is fine")
    func refusedIsReachable() throws {
        let node = FakeNode("node-a")
        node.set(pod, .init(route: .success(FakeNode.viaVPC(pod)), outcome: .refused))
        let reports = try check(node, [ProbeSpec(target: pod, probeProtocol: .tcp, port: 9700)])
        #expect(reports.first?.diagnosis.verdict == .reachable)
        #expect(reports.first?.diagnosis.message.contains("the port is closed (RST), but the path works") == true)
    }

    @Test("probes of both protocols go to their own prober, and results come back in the order asked")
    func proberRegistry() throws {
        let node = FakeNode("node-a")
        let other = IPAddress("172.16.2.12")!
        node.set(other, .init(route: .success(FakeNode.viaVPC(other)), outcome: .refused))
        let specs = [ProbeSpec(target: pod, probeProtocol: .tcp, port: 9700), icmp(other), icmp(pod),
                     ProbeSpec(target: other, probeProtocol: .tcp, port: 9700)]
        let reports = try check(node, specs, capture: false)
        #expect(reports.map(\.spec) == specs)
        #expect(reports.map(\.result.outcome) == [.reply, .refused, .reply, .refused])
        // Two control probes (node-b's and node-c's hosts) besides the four asked.
        #expect(Set(node.probed.map(\.target)).isSuperset(of: [ownerHost, IPAddress("192.168.0.60")!]))
    }

    @Test("a missing prober is a clear error, not a crash")
    func missingProber() {
        let scheduler = ProbeScheduler(options: ProbeOptions(), probers: ProberRegistry())
        #expect(throws: ProbeError.invalid("no prober for icmp probes")) { try scheduler.run([icmp(pod)]) }
    }

    @Test("a prober that answers fewer probes than it was given is a clear error, not a crash or a shifted result")
    func shortProber() {
        struct Forgetful: Prober {
            let probeProtocol = ProbeProtocol.tcp
            func probe(_ specs: [ProbeSpec], options: ProbeOptions) throws(ProbeError) -> [ProbeResult] {
                specs.dropLast().map { ProbeResult(spec: $0, outcome: .reply, rttNanoseconds: 1, sent: 1, received: 1) }
            }
        }
        var registry = ProberRegistry()
        registry.register(Forgetful())
        registry.register(FakeNode("node-a").environment.probers(1)[.icmp]!)
        let scheduler = ProbeScheduler(options: ProbeOptions(), probers: registry)
        let specs = [icmp(pod), ProbeSpec(target: pod, probeProtocol: .tcp, port: 9700), ProbeSpec(target: pod, probeProtocol: .tcp, port: 9701)]
        #expect(throws: ProbeError.invalid("the tcp prober answered 1 of 2 probes")) { try scheduler.run(specs) }
    }
}
