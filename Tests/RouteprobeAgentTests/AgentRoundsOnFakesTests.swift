import Synchronization
import Testing
import RouteprobeAgent
import RouteprobeAlerting
import RouteprobeConfiguration
import RouteprobeCore
import RouteprobeProbing
import RouteprobeTestSupport

/// Whole agent rounds on fakes (no root, no kernel): the hysteresis, the alerts handed over, the report the
/// aggregator gets, and the rows of DESIGN.md's evidence table that need several sources.
@Suite("Agent rounds on fakes")
struct AgentRoundsOnFakesTests {
    final class RecordingAlerts: AlertSink {
        private let events = Mutex<[FindingEvent]>([])
        func send(_ new: [FindingEvent]) { events.withLock { $0 += new } }
        var all: [FindingEvent] { events.withLock { $0 } }
    }

    final class RecordingAggregator: AggregatorConnection {
        private let reports = Mutex<[AgentReport]>([])
        var currentPlan: ProbePlan? { nil }
        func submit(_ report: AgentReport) { reports.withLock { $0.append(report) } }
        var last: AgentReport? { reports.withLock { $0.last } }
    }

    struct FixedStray: StrayTrafficSource {
        var traffic: [StrayTraffic]
        func collect(watching cidrs: [IPPrefix], peers: [IPAddress]) -> [StrayTraffic] { traffic.filter { cidrs.contains($0.cidr) } }
    }

    let pod = IPAddress("172.16.1.12")!
    let cidr = IPPrefix("172.16.1.0/24")!

    func agent(_ node: FakeNode, failuresToOpen: Int = 2, stray: [StrayTraffic] = [])
        -> (rounds: AgentRounds, alerts: RecordingAlerts, aggregator: RecordingAggregator) {
        let configuration = AgentConfiguration(nodeName: node.name, clusterMap: FakeNode.cluster, interval: .seconds(5),
                                               timeout: .milliseconds(100), failuresToOpen: failuresToOpen)
        let alerts = RecordingAlerts(), aggregator = RecordingAggregator()
        let rounds = AgentRounds(configuration: configuration, environment: node.environment, aggregator: aggregator,
                                 strayTraffic: FixedStray(traffic: stray), alerts: alerts, log: { _ in })
        return (rounds, alerts, aggregator)
    }

    @Test("a failure opens after failuresToOpen rounds, confirmed a timeout later, alerted once, resolved once")
    func hysteresisAndAlerts() throws {
        let node = FakeNode("node-a")
        node.set(pod, .init(route: .success(FakeNode.viaVPC(pod)), outcome: .timeout))
        let (rounds, alerts, aggregator) = agent(node, failuresToOpen: 2)
        try rounds.round()
        #expect(alerts.all.isEmpty)
        #expect(rounds.nextRoundAfter == 100_000_000, "an unconfirmed failure is probed again one timeout later")
        try rounds.round()
        let opened = try #require(alerts.all.only)
        guard case .opened(let finding) = opened else { Issue.record("expected an opening"); return }
        #expect(finding.kind == .vpcRouteMissing && finding.scope == .node && finding.sources == ["node-a"])
        #expect(finding.entry == "172.16.1.0/24 -> node-b (192.168.0.50)")
        #expect(finding.evidence.sent == 1 && finding.evidence.received == 0, "the capture of the confirming round saw it leave")
        #expect(rounds.nextRoundAfter == 5_000_000_000)
        try rounds.round()
        #expect(alerts.all.count == 1, "open once")
        // What the aggregator got from the last round.
        let report = try #require(aggregator.last)
        #expect(report.schema == WireSchema.version && report.openAfter == 2 && report.round == 2)
        let probe = try #require(report.results.first { $0.target == pod && $0.probeProtocol == .tcp })
        #expect(probe.verdict == .vpcRouteMissing && probe.failedRounds == 3 && probe.controlOutcome == .reply && probe.cidr == cidr)
        #expect(report.problem == nil, "the agent's own report passes the aggregator's checks")
        // The route comes back.
        node.set(pod, .init(route: .success(FakeNode.viaVPC(pod)), outcome: .reply))
        try rounds.round()
        #expect(alerts.all.count == 2 && alerts.all.last?.isResolution == true)
        #expect(rounds.openFindings.isEmpty)
        #expect(aggregator.last?.results.allSatisfy { $0.failedRounds == 0 } == true)
    }

    @Test("a host-gw node's own table is checked without probes, and its finding replaces the probe's")
    func kernelRouteCheck() throws {
        let node = FakeNode("node-a")
        // host-gw: node-c's and node-d's CIDRs via their hosts; node-b's is missing.
        node.setTable([Route(family: .inet, destinationAddress: IPAddress("172.16.2.0"), destinationLength: 24, gateway: IPAddress("192.168.0.60")),
                       Route(family: .inet, destinationAddress: IPAddress("172.16.3.0"), destinationLength: 24, gateway: IPAddress("192.168.0.61"))])
        node.set(pod, .init(route: .failure(RouteLookupFailure(errno: 101, text: "no route")), outcome: .localError))
        let (rounds, alerts, aggregator) = agent(node, failuresToOpen: 1)
        try rounds.round()
        let kinds = alerts.all.map(\.finding.kind)
        #expect(kinds == [.kernelRouteMissing], "one finding for the CIDR, from the table: \(kinds)")
        #expect(alerts.all.first?.finding.message.contains("has no route for 172.16.1.0/24") == true)
        #expect(aggregator.last?.localFindings.map(\.kind) == [.kernelRouteMissing])
        #expect(aggregator.last?.problem == nil)
    }

    /// Rounds of several sources, their reports to the inference, as the aggregator runs it.
    func cluster(sources: [FakeNode], rounds count: Int, stray: [String: [StrayTraffic]] = [:]) throws -> [Finding] {
        let agents = sources.map { agent($0, stray: stray[$0.name] ?? []) }
        for _ in 0..<count { for agent in agents { try agent.rounds.round() } }
        return ClusterInference(cluster: FakeNode.cluster).findings(reports: agents.compactMap(\.aggregator.last))
    }

    @Test("the same timeout from every source, the owner's host answering: the VPC entry is missing, n/n agree")
    func everySourceAgrees() throws {
        let sources = ["node-a", "node-c", "node-d"].map(FakeNode.init)
        for source in sources { source.set(pod, .init(route: .success(FakeNode.viaVPC(pod)), outcome: .timeout)) }
        let finding = try #require(try cluster(sources: sources, rounds: 2).only)
        #expect(finding.kind == .vpcRouteMissing && finding.evidence.agreeing == 3 && finding.sources == ["node-a", "node-c", "node-d"])
        #expect(finding.remediation.contains("Add the VPC route entry 172.16.1.0/24 with next hop node-b (192.168.0.50)"))
    }

    @Test("as above, and another node's capture sees the packets arrive: the VPC entry points to that node")
    func wrongNextHop() throws {
        let sources = ["node-a", "node-c", "node-d"].map(FakeNode.init)
        for source in sources { source.set(pod, .init(route: .success(FakeNode.viaVPC(pod)), outcome: .timeout)) }
        let stray = ["node-c": [StrayTraffic(cidr: cidr, packets: 12, interface: "eth0", sampleSource: IPAddress("192.168.0.193"))]]
        let finding = try #require(try cluster(sources: sources, rounds: 2, stray: stray).only)
        #expect(finding.kind == .vpcRouteWrongNextHop)
        #expect(finding.actualNextHop == .init(node: "node-c", ip: IPAddress("192.168.0.60")) && finding.evidence.strayPackets == 12)
    }

    @Test("only some sources fail: a source-side problem on those nodes, not the VPC")
    func onlySomeSourcesFail() throws {
        let sources = ["node-a", "node-c", "node-d"].map(FakeNode.init)
        sources[0].set(pod, .init(route: .success(FakeNode.viaVPC(pod)), outcome: .timeout))
        // A failure must outlast two more rounds than the agent needs before it is blamed on the source.
        #expect(try cluster(sources: sources, rounds: 3).isEmpty)
        let finding = try #require(try cluster(sources: sources, rounds: 4).only)
        #expect(finding.kind == .sourceLocal && finding.sources == ["node-a"])
    }

    @Test("the owner's host silent from every source: the node is down, not a route")
    func nodeDown() throws {
        let sources = ["node-a", "node-c"].map(FakeNode.init)
        for source in sources {
            source.set(pod, .init(route: .success(FakeNode.viaVPC(pod)), outcome: .timeout))
            source.set(IPAddress("192.168.0.50")!, .init(route: .success(FakeNode.viaVPC(IPAddress("192.168.0.50")!)), outcome: .timeout))
        }
        let finding = try #require(try cluster(sources: sources, rounds: 2).only)
        #expect(finding.kind == .nodeUnreachable && finding.expectedNextHop?.node == "node-b")
    }
}
