import Testing
@testable import RouteprobeCore

/// The lab's cluster: node-a, node-b and node-c with DESIGN.md's addresses, plus node-d for four-node cases.
private let cluster = ClusterMap(nodes: [
    .init(name: "node-a", ip: IPAddress("192.168.0.193")!, podCIDRs: [IPPrefix("172.16.0.0/24")!], instanceID: "i-aaa"),
    .init(name: "node-b", ip: IPAddress("192.168.0.50")!, podCIDRs: [IPPrefix("172.16.1.0/24")!], podTargets: [IPAddress("172.16.1.12")!], instanceID: "i-bbb"),
    .init(name: "node-c", ip: IPAddress("192.168.0.60")!, podCIDRs: [IPPrefix("172.16.2.0/24")!], instanceID: "i-ccc"),
    .init(name: "node-d", ip: IPAddress("192.168.0.61")!, podCIDRs: [IPPrefix("172.16.3.0/24")!], instanceID: "i-ddd"),
])

/// A probe of node-b's pod from a source, as an agent reports it.
private func podProbe(_ outcome: ProbeOutcome, verdict: Verdict, control: ProbeOutcome = .reply, failedRounds: Int = 2,
                      routeClass: RouteClass = .vpc, icmpFrom: String? = nil) -> ReportedProbe {
    ReportedProbe(target: IPAddress("172.16.1.12")!, probeProtocol: .tcp, port: 9700, owner: "node-b", cidr: IPPrefix("172.16.1.0/24")!,
                  routeClass: routeClass, device: "eth0", gateway: IPAddress("192.168.0.253"), outcome: outcome, verdict: verdict,
                  sent: 1, received: outcome == .timeout ? 0 : 1, icmpFrom: icmpFrom.flatMap(IPAddress.init),
                  icmpType: icmpFrom == nil ? nil : 3, icmpCode: icmpFrom == nil ? nil : 1, controlOutcome: control,
                  failedRounds: outcome.pathWorks ? 0 : failedRounds)
}

private func report(_ node: String, _ results: [ReportedProbe], stray: [StrayTraffic] = [], local: [Finding] = [],
                    openAfter: Int = 2) -> AgentReport {
    AgentReport(node: node, round: 7, openAfter: openAfter, results: results, localFindings: local, strayTraffic: stray)
}

@Suite("Cross-node inference")
struct ClusterInferenceTests {
    let inference = ClusterInference(cluster: cluster)

    @Test("every source times out via the VPC and node-b's host answers: the VPC entry is missing, n/n agree")
    func missingRoute() throws {
        let findings = inference.findings(reports: ["node-a", "node-c", "node-d"].map {
            report($0, [podProbe(.timeout, verdict: .vpcRouteMissing)])
        })
        let finding = try #require(findings.only)
        #expect(finding.kind == .vpcRouteMissing)
        #expect(finding.cidr == IPPrefix("172.16.1.0/24"))
        #expect(finding.expectedNextHop == .init(node: "node-b", ip: IPAddress("192.168.0.50")))
        #expect(finding.sources == ["node-a", "node-c", "node-d"])
        #expect(finding.evidence.agreeing == 3 && finding.evidence.probing == 3)
        #expect(finding.message.contains("172.16.1.0/24 -> node-b (192.168.0.50) is missing, 3/3 sources agree"))
        #expect(finding.remediation.contains("Add the VPC route entry 172.16.1.0/24 with next hop node-b (192.168.0.50)"))
    }

    @Test("a source that failed only one round is undecided: nothing opens yet")
    func oneRoundIsNotEnough() {
        let findings = inference.findings(reports: ["node-a", "node-c"].map {
            report($0, [podProbe(.timeout, verdict: .vpcRouteMissing, failedRounds: 1)])
        })
        #expect(findings.isEmpty)
    }

    @Test("one source confirmed and another only one round in: wait for it instead of opening 1/1")
    func waitForTheSlowerSource() throws {
        let early = inference.findings(reports: [
            report("node-a", [podProbe(.timeout, verdict: .vpcRouteMissing)]),
            report("node-c", [podProbe(.timeout, verdict: .vpcRouteMissing, failedRounds: 1)]),
        ])
        #expect(early.isEmpty)
        let later = inference.findings(reports: ["node-a", "node-c"].map { report($0, [podProbe(.timeout, verdict: .vpcRouteMissing)]) })
        #expect(try #require(later.only).evidence.agreeing == 2)
    }

    @Test("node-c sees node-b's packets arrive: the entry points at node-c")
    func wrongNextHop() throws {
        let stray = StrayTraffic(cidr: IPPrefix("172.16.1.0/24")!, packets: 12, interface: "eth0", sampleSource: IPAddress("192.168.0.193"))
        let findings = inference.findings(reports: [
            report("node-a", [podProbe(.timeout, verdict: .vpcRouteMissing)]),
            report("node-c", [podProbe(.icmpError, verdict: .rejectedByRouter, icmpFrom: "192.168.0.60")], stray: [stray]),
            report("node-d", [podProbe(.timeout, verdict: .vpcRouteMissing)]),
        ])
        let finding = try #require(findings.only)
        #expect(finding.kind == .vpcRouteWrongNextHop)
        #expect(finding.actualNextHop == .init(node: "node-c", ip: IPAddress("192.168.0.60")))
        #expect(finding.expectedNextHop?.node == "node-b")
        #expect(finding.evidence.strayPackets == 12)
        #expect(finding.message.contains("points to node-c (192.168.0.60) instead of node-b (192.168.0.50)"))
    }

    @Test("a router answers with ICMP unreachable from every source: rejectedByRouter names it")
    func rejected() throws {
        let findings = inference.findings(reports: ["node-a", "node-c"].map {
            report($0, [podProbe(.icmpError, verdict: .rejectedByRouter, icmpFrom: "192.168.0.253")])
        })
        let finding = try #require(findings.only)
        #expect(finding.kind == .rejectedByRouter)
        #expect(finding.evidence.router == IPAddress("192.168.0.253"))
        #expect(finding.evidence.icmpType == 3 && finding.evidence.icmpCode == 1)
    }

    @Test("node-b's host is silent too: the node is down, not the route")
    func nodeDown() throws {
        let findings = inference.findings(reports: ["node-a", "node-c"].map {
            report($0, [podProbe(.timeout, verdict: .nodeUnreachable, control: .timeout)])
        })
        let finding = try #require(findings.only)
        #expect(finding.kind == .nodeUnreachable)
        #expect(finding.cidr == nil)
        #expect(finding.expectedNextHop?.node == "node-b")
    }

    @Test("only node-a fails while node-c and node-d reach node-b's pods: a source-local problem on node-a")
    func sourceLocal() throws {
        // Just after the failure began the others may not have reported since: not yet blamed on node-a.
        let early = inference.findings(reports: [
            report("node-a", [podProbe(.timeout, verdict: .vpcRouteMissing, failedRounds: 3)]),
            report("node-c", [podProbe(.reply, verdict: .reachable)]),
        ])
        #expect(early.isEmpty)
        let findings = inference.findings(reports: [
            report("node-a", [podProbe(.timeout, verdict: .vpcRouteMissing, failedRounds: 4)]),
            report("node-c", [podProbe(.reply, verdict: .reachable)]),
            report("node-d", [podProbe(.refused, verdict: .reachable)]),
        ])
        let finding = try #require(findings.only)
        #expect(finding.kind == .sourceLocal)
        #expect(finding.sources == ["node-a"])
        #expect(finding.evidence.probing == 3)
        #expect(finding.message.contains("node-a cannot reach 172.16.1.0/24 (node-b), which 2 other sources reach"))
    }

    @Test("a source whose own kernel blackholes the CIDR gets kernelRouteMissing, not sourceLocal")
    func kernelRouteOnOneSource() throws {
        let local = Finding(kind: .kernelRouteMissing, scope: .node, subject: "node-a|172.16.1.0/24", cidr: IPPrefix("172.16.1.0/24"),
                            expectedNextHop: .init(node: "node-b", ip: IPAddress("192.168.0.50")), sources: ["node-a"],
                            evidence: .init(), message: "blackhole route", remediation: "restore it")
        let findings = inference.findings(reports: [
            report("node-a", [podProbe(.localError, verdict: .kernelRouteMissing, routeClass: .unreachable)], local: [local]),
            report("node-c", [podProbe(.reply, verdict: .reachable)]),
        ])
        let finding = try #require(findings.only)
        #expect(finding.kind == .kernelRouteMissing)
        #expect(finding.sources == ["node-a"])
        #expect(finding.cidr == IPPrefix("172.16.1.0/24"))
    }

    @Test("a healthy cluster has no finding")
    func healthy() {
        let findings = inference.findings(reports: ["node-a", "node-c", "node-d"].map { report($0, [podProbe(.reply, verdict: .reachable)]) })
        #expect(findings.isEmpty)
    }

    @Test("the imported VPC table agreeing with the probes raises the basis to probes+vpcTable")
    func tableAgrees() throws {
        let entries = [VPCRouteEntry(destination: IPPrefix("172.16.0.0/24")!, nextHopID: "i-aaa", nextHopType: "Instance"),
                       VPCRouteEntry(destination: IPPrefix("172.16.2.0/24")!, nextHopID: "i-ccc", nextHopType: "Instance"),
                       VPCRouteEntry(destination: IPPrefix("172.16.3.0/24")!, nextHopID: "i-ddd", nextHopType: "Instance")]
        let withTable = ClusterInference(cluster: cluster, vpcTable: VPCRouteDiff(table: VPCRouteTable(cloud: .aws, entries: entries), cluster: cluster))
        let findings = withTable.findings(reports: ["node-a", "node-c"].map { report($0, [podProbe(.timeout, verdict: .vpcRouteMissing)]) })
        let finding = try #require(findings.only)
        #expect(finding.evidence.basis == .probesAndVPCTable)
        #expect(finding.evidence.vpcTable == "no entry")
    }
}

@Suite("Finding hysteresis, the one both roles use")
struct FindingTrackerTests {
    private func missing(_ cidr: String = "172.16.1.0/24", scope: Finding.Scope = .cluster) -> Finding {
        Finding(kind: .vpcRouteMissing, scope: scope, subject: cidr, cidr: IPPrefix(cidr), expectedNextHop: nil,
                sources: ["node-a"], evidence: .init(), message: "m", remediation: "r")
    }

    @Test("the aggregator's: opens at once, survives one evaluation without it, closes after two, with since kept")
    func aggregatorHysteresis() {
        var tracker = FindingTracker(openAfter: 1, closeAfter: 2)
        #expect(tracker.evaluate([missing()], now: 100) == [.opened({ var f = missing(); f.since = 100; return f }())])
        #expect(tracker.evaluate([missing()], now: 101).isEmpty)
        #expect(tracker.evaluate([], now: 102).isEmpty)
        #expect(tracker.open.count == 1)
        #expect(tracker.evaluate([missing()], now: 103).isEmpty)
        #expect(tracker.open.values.first?.since == 100)
        #expect(tracker.evaluate([], now: 104).isEmpty)
        let events = tracker.evaluate([], now: 105)
        #expect(events.count == 1)
        if case .resolved(let finding)? = events.first { #expect(finding.since == 100) } else { Issue.record("expected a resolve") }
        #expect(tracker.open.isEmpty)
    }

    @Test("an agent's: opens after failuresToOpen consecutive rounds, a gap starts the count again, closes at once")
    func agentHysteresis() {
        var tracker = FindingTracker(openAfter: 3, closeAfter: 1)
        #expect(tracker.evaluate([missing()], now: 1).isEmpty)
        #expect(tracker.hasPending)
        #expect(tracker.evaluate([], now: 2).isEmpty, "a round without it")
        #expect(!tracker.hasPending)
        #expect(tracker.evaluate([missing()], now: 3).isEmpty)
        #expect(tracker.evaluate([missing()], now: 4).isEmpty)
        let opened = tracker.evaluate([missing()], now: 5)
        #expect(opened.count == 1 && opened.first?.finding.since == 5 && opened.first?.isResolution == false)
        #expect(!tracker.hasPending)
        #expect(tracker.evaluate([missing()], now: 6).isEmpty, "open once")
        let resolved = tracker.evaluate([], now: 7)
        #expect(resolved.count == 1 && resolved.first?.isResolution == true)
    }

    @Test("open findings are listed most severe kind first")
    func order() {
        var tracker = FindingTracker(openAfter: 1, closeAfter: 1)
        let stale = Finding(kind: .vpcRouteStale, scope: .cluster, subject: "x", cidr: nil, expectedNextHop: nil, sources: [],
                            evidence: .init(), message: "", remediation: "")
        _ = tracker.evaluate([stale, missing()], now: 1)
        #expect(tracker.sortedOpen.map(\.kind) == [.vpcRouteMissing, .vpcRouteStale])
    }

    @Test("ids are stable, differ by subject and by scope, and start with the kind")
    func ids() {
        #expect(missing().id == missing().id)
        #expect(missing("172.16.2.0/24").id != missing().id)
        #expect(missing(scope: .node).id != missing().id)
        #expect(missing().id.hasPrefix("vpcRouteMissing-"))
        // The same bytes give the same id in every process: FNV-1a of "cluster", "vpcRouteMissing" and the subject.
        #expect(missing().id == Finding.id(kind: .vpcRouteMissing, scope: .cluster, subject: "172.16.1.0/24"))
    }

    @Test("one severity per kind, whichever role raises it")
    func severities() {
        #expect(Finding.Kind.vpcRouteMissing.severity == .error)
        #expect(Finding.Kind.nodeUnreachable.severity == .warning)
        #expect(Finding.Kind.sourceLocal.severity == .warning)
    }

    @Test("probe outcomes rank from nothing back to an answer")
    func outcomeRanking() {
        let ranked: [ProbeOutcome] = [.timeout, .localError, .icmpError, .refused, .reply]
        #expect(ranked.shuffled().sorted() == ranked)
        #expect(ProbeOutcome.reply > .refused && ProbeOutcome.refused > .icmpError && ProbeOutcome.icmpError > .timeout)
    }

    @Test("a verdict is reachable, unknown or a finding kind, and reads back from its name")
    func verdicts() throws {
        #expect(Verdict.vpcRouteMissing == .problem(.vpcRouteMissing))
        for verdict in [Verdict.reachable, .unknown] + Finding.Kind.allCases.map(Verdict.problem) {
            #expect(Verdict(rawValue: verdict.rawValue) == verdict)
        }
        #expect(Verdict(rawValue: "fine") == nil)
    }
}

@Suite("Reports: schema 2")
struct AgentReportTests {
    @Test("an agent speaks only for its own node's kernel routes, and openAfter has a range")
    func localFindingsAndOpenAfter() {
        let own = Finding(kind: .kernelRouteMissing, scope: .node, subject: "node-a|172.16.1.0/24", cidr: IPPrefix("172.16.1.0/24"),
                          expectedNextHop: nil, sources: ["node-a"], evidence: .init(), message: "m", remediation: "r")
        #expect(report("node-a", [], local: [own]).problem == nil)
        var other = own
        other.sources = ["node-c"]
        #expect(report("node-a", [], local: [other]).problem?.contains("another node") == true)
        var cluster = own
        cluster.kind = .vpcRouteMissing
        #expect(report("node-a", [], local: [cluster]).problem?.contains("not a local kernel-route finding") == true)
        #expect(report("node-a", [], openAfter: 0).problem?.contains("openAfter 0 is out of range") == true)
        #expect(report("node-a", [], openAfter: 101).problem != nil)
    }

    @Test("the aggregator counts a source as failing after its own agent's openAfter")
    func openAfterFromTheReport() {
        let inference = ClusterInference(cluster: cluster)
        // Failed twice: enough for agents that open after 2, not for agents that open after 3.
        let twoRounds = ["node-a", "node-c"].map { report($0, [podProbe(.timeout, verdict: .vpcRouteMissing, failedRounds: 2)], openAfter: 3) }
        #expect(inference.findings(reports: twoRounds).isEmpty)
        let opened = ["node-a", "node-c"].map { report($0, [podProbe(.timeout, verdict: .vpcRouteMissing, failedRounds: 2)], openAfter: 2) }
        #expect(inference.findings(reports: opened).map(\.kind) == [.vpcRouteMissing])
    }
}

@Suite("Probe plans by rendezvous hashing")
struct ProbePlannerTests {
    private func bigCluster(_ count: Int) -> ClusterMap {
        ClusterMap(nodes: (0..<count).map { index in
            ClusterMap.Node(name: "node-\(index)", ip: .v4(UInt32(0x0a00_0000) + UInt32(index)),
                            podCIDRs: [IPPrefix(address: .v4(UInt32(0xac10_0000) + UInt32(index) << 8), length: 24)!])
        })
    }

    @Test("each CIDR gets K sources, never its owner, and load is spread (O(N·K))")
    func kSources() {
        let map = bigCluster(200)
        let names = map.nodes.map(\.name)
        let sources = ProbePlanner(sourcesPerCIDR: 3).sources(for: map, among: names)
        #expect(sources.count == 200)
        for owner in map.nodes {
            let chosen = sources[owner.podCIDRs[0]] ?? []
            #expect(chosen.count == 3)
            #expect(!chosen.contains(owner.name))
        }
        let plans = ProbePlanner(sourcesPerCIDR: 3).plans(for: map, among: names)
        let load = plans.values.map(\.probeNodes.count)
        #expect(load.reduce(0, +) == 600)
        #expect(load.max()! <= 12, "rendezvous hashing should spread 600 assignments over 200 nodes")
    }

    @Test("a node leaving moves only the CIDRs it was a source for")
    func stability() {
        let map = bigCluster(100)
        let names = map.nodes.map(\.name)
        let before = ProbePlanner(sourcesPerCIDR: 3).sources(for: map, among: names)
        let after = ProbePlanner(sourcesPerCIDR: 3).sources(for: map, among: names.filter { $0 != "node-42" })
        for (cidr, chosen) in before where cidr != map.nodes[42].podCIDRs[0] {
            if chosen.contains("node-42") {
                #expect(Set(after[cidr]!).intersection(chosen).count == 2)
            } else {
                #expect(after[cidr] == chosen)
            }
        }
    }

    @Test("full mesh: every node probes every other node; the plan generation follows the content")
    func fullMesh() {
        let map = bigCluster(5)
        let plans = ProbePlanner(fullMesh: true).plans(for: map, among: map.nodes.map(\.name))
        #expect(plans["node-0"]?.probeNodes == ["node-1", "node-2", "node-3", "node-4"])
        #expect(plans["node-0"]?.probeSpecs.count == 8)
        let again = ProbePlanner(fullMesh: true).plans(for: map, among: map.nodes.map(\.name))
        #expect(plans["node-0"]?.generation == again["node-0"]?.generation)
        var changed = map
        changed.probePort = 9800
        #expect(ProbePlanner(fullMesh: true).plans(for: changed, among: map.nodes.map(\.name))["node-0"]?.generation != plans["node-0"]?.generation)
    }
}

@Suite("VPC route table comparison")
struct VPCRouteDiffTests {
    @Test("missing, wrong next hop, blackhole, stale and overlapping entries")
    func problems() {
        let entries = [
            VPCRouteEntry(destination: IPPrefix("192.168.0.0/16")!, nextHopID: nil, nextHopType: "local"),
            VPCRouteEntry(destination: IPPrefix("172.16.0.0/24")!, nextHopID: "i-aaa", nextHopType: "Instance"),
            VPCRouteEntry(destination: IPPrefix("172.16.1.0/24")!, nextHopID: "i-ccc", nextHopType: "Instance"),
            VPCRouteEntry(destination: IPPrefix("172.16.3.0/24")!, nextHopID: "i-ddd", nextHopType: "Instance", active: false),
            VPCRouteEntry(destination: IPPrefix("172.16.9.0/24")!, nextHopID: "i-gone", nextHopType: "Instance"),
            VPCRouteEntry(destination: IPPrefix("172.16.0.0/23")!, nextHopID: "i-aaa", nextHopType: "Instance"),
        ]
        let diff = VPCRouteDiff(table: VPCRouteTable(cloud: .aws, entries: entries), cluster: cluster)
        let byKind = Dictionary(grouping: diff.problems, by: \.kind)
        #expect(byKind[.wrongNextHop]?.map(\.cidr) == [IPPrefix("172.16.1.0/24")!])
        #expect(byKind[.wrongNextHop]?.first?.actualNextHop == .init(node: "node-c", ip: IPAddress("192.168.0.60")))
        #expect(Set(byKind[.missing]?.map(\.cidr) ?? []) == [IPPrefix("172.16.2.0/24")!, IPPrefix("172.16.3.0/24")!])
        #expect(byKind[.stale]?.map(\.cidr) == [IPPrefix("172.16.9.0/24")!])
        #expect(byKind[.overlap]?.count == 2, "172.16.0.0/23 overlaps both 172.16.0.0/24 and 172.16.1.0/24")
        #expect(diff.status(of: IPPrefix("172.16.0.0/24")!)?.isMissing == false)
        #expect(diff.status(of: IPPrefix("172.16.0.0/24")!)?.isWrongNextHop == false)
    }

    private func entry(_ cidr: String, _ hop: String?, name: String? = nil, table: String? = nil, uid: String? = nil,
                       managed: Bool = true) -> VPCRouteEntry {
        VPCRouteEntry(destination: IPPrefix(cidr)!, nextHopID: hop, nextHopType: hop == nil ? "gateway" : "instance", table: table,
                      name: name, namedNodeUID: uid, clusterManaged: managed)
    }

    @Test("capacity: at 90% the problem says how many more nodes fit, counting a node's pod CIDRs; the fullest table counts")
    func capacity() {
        let nodes = (0..<4).map { index in
            ClusterMap.Node(name: "n\(index)", ip: IPAddress("10.0.0.\(index + 1)")!,
                            podCIDRs: [IPPrefix("10.4.\(index).0/24")!, IPPrefix("fd00:4:\(index)::/64")!])
        }
        let map = ClusterMap(nodes: nodes)
        let own = nodes.flatMap { node in node.podCIDRs.map { entry($0.description, node.name, table: "rt-1") } }
        let filler = (0..<10).map { entry("192.168.\($0).0/24", nil, table: "rt-1") }
        let other = (0..<30).map { entry("172.20.\($0).0/24", nil, table: "rt-2") }
        let diff = VPCRouteDiff(table: VPCRouteTable(cloud: .azure, entries: own + filler + other), cluster: map, limit: 33)
        #expect(diff.capacity == .init(used: 30, limit: 33), "the fullest table, not the sum")
        let problem = diff.problems.first { $0.kind == .nearlyFull }
        #expect(problem?.message == "the Azure route table holds 30 of 33 entries in the route table: room for 1 more node")
        #expect(problem?.cidr == nil)
        #expect(!VPCRouteDiff(table: VPCRouteTable(cloud: .azure, entries: own), cluster: map).problems.contains { $0.kind == .nearlyFull })
        let gcp = VPCRouteDiff(table: VPCRouteTable(cloud: .gcp, entries: own + filler + other), cluster: map)
        #expect(gcp.capacity == .init(used: 48, limit: 250), "GCP counts the project's routes")
    }

    @Test("a conflict is reported once and the owner's entry decides the CIDR's status")
    func conflict() {
        let map = ClusterMap(nodes: [ClusterMap.Node(name: "a", ip: IPAddress("10.0.0.1")!, podCIDRs: [IPPrefix("10.4.0.0/24")!]),
                                     ClusterMap.Node(name: "b", ip: IPAddress("10.0.0.2")!, podCIDRs: [IPPrefix("10.4.1.0/24")!])])
        let entries = [entry("10.4.0.0/24", "b"), entry("10.4.0.0/24", "a"), entry("10.4.0.0/24", "a"), entry("10.4.1.0/24", "b")]
        let diff = VPCRouteDiff(table: VPCRouteTable(cloud: .aws, entries: entries), cluster: map)
        #expect(diff.problems.map(\.kind) == [.conflict])
        #expect(diff.problems.first?.message == "two VPC route entries for 10.4.0.0/24: 10.4.0.0/24 -> b and 10.4.0.0/24 -> a")
        #expect(diff.status(of: IPPrefix("10.4.0.0/24")!)?.isWrongNextHop == false)
        let same = VPCRouteDiff(table: VPCRouteTable(cloud: .aws, entries: [entry("10.4.0.0/24", "a"), entry("10.4.0.0/24", "a"),
                                                                           entry("10.4.1.0/24", "b")]), cluster: map)
        #expect(same.problems.isEmpty, "the same CIDR twice with the same next hop (two subnets' tables) is no conflict")
    }

    @Test("GCP: a route's UID names its node when the instance name does not; another network's routes do not count")
    func gcpMatching() {
        let map = ClusterMap(nodes: [ClusterMap.Node(name: "a", ip: IPAddress("10.0.0.1")!, podCIDRs: [IPPrefix("10.4.0.0/24")!], uid: "u-a"),
                                     ClusterMap.Node(name: "b", ip: IPAddress("10.0.0.2")!, podCIDRs: [IPPrefix("10.4.1.0/24")!], uid: "u-b")])
        let entries = [entry("10.4.0.0/24", "a", table: "net-1"), entry("10.4.1.0/24", "vm-17", table: "net-1", uid: "u-b"),
                       entry("10.9.0.0/24", "x", table: "net-2"), entry("10.4.1.0/24", "y", table: "net-2")]
        let diff = VPCRouteDiff(table: VPCRouteTable(cloud: .gcp, entries: entries), cluster: map)
        #expect(diff.problems.isEmpty, "\(diff.problems.map(\.message))")
        #expect(diff.status(of: IPPrefix("10.4.1.0/24")!)?.isWrongNextHop == false)
        // On another cloud the same entries are all this cluster's: net-2's are stale, and 10.4.1.0/24 conflicts.
        let aws = VPCRouteDiff(table: VPCRouteTable(cloud: .aws, entries: entries), cluster: map)
        #expect(Set(aws.problems.map(\.kind)) == [.stale, .conflict])
    }

    @Test("dual stack: a node's IPv6 CIDR expects its IPv6 address, and an entry to that address is the node's")
    func dualStackNextHops() {
        let node = ClusterMap.Node(name: "a", ip: IPAddress("10.0.0.1")!, otherIP: IPAddress("fd00::1"),
                                   podCIDRs: [IPPrefix("10.4.0.0/24")!, IPPrefix("fd00:4::/64")!])
        let map = ClusterMap(nodes: [node])
        let good = VPCRouteDiff(table: VPCRouteTable(cloud: .azure, entries: [entry("10.4.0.0/24", "10.0.0.1"), entry("fd00:4::/64", "fd00::1")]),
                                cluster: map)
        #expect(good.problems.isEmpty, "\(good.problems.map(\.message))")
        let missing = VPCRouteDiff(table: VPCRouteTable(cloud: .azure, entries: [entry("10.4.0.0/24", "10.0.0.1")]), cluster: map)
        #expect(missing.problems.map(\.message) == ["no VPC route entry for fd00:4::/64; it should point to a (fd00::1)"])
        #expect(Finding.remediation(kind: .vpcRouteMissing, source: "", cidr: IPPrefix("fd00:4::/64"), owner: node)
                    == "Add the VPC route entry fd00:4::/64 with next hop a (fd00::1), or let the cloud controller manager recreate it.")
    }

    @Test("Azure: a route named after a node of the map is not stale even when its next hop is no node; it is that node's wrong next hop")
    func azureNamedRoute() {
        let map = ClusterMap(nodes: [ClusterMap.Node(name: "a", ip: IPAddress("10.0.0.1")!, podCIDRs: [IPPrefix("10.4.0.0/24")!])])
        var route = entry("10.4.0.0/24", "10.0.0.9", name: "a")
        route.namedNode = "a"
        let diff = VPCRouteDiff(table: VPCRouteTable(cloud: .azure, entries: [route]), cluster: map)
        #expect(diff.problems.map(\.kind) == [.wrongNextHop])
        #expect(diff.problems.first?.message == "the VPC route entry a (10.4.0.0/24 -> 10.0.0.9) points to 10.0.0.9 instead of a (10.0.0.1)")
    }
}

@Suite("Wire schema validation")
struct WireSchemaTests {
    @Test("reports with a foreign schema, bad names or bad numbers are refused with a reason")
    func reportProblems() {
        var good = report("node-a", [podProbe(.reply, verdict: .reachable)])
        #expect(good.problem == nil)
        good.schema = 1
        #expect(good.problem?.contains("schema 1 is not supported") == true)
        var badName = report("node a\n", [])
        #expect(badName.problem?.contains("spaces, control") == true)
        badName.node = ""
        #expect(badName.problem == "node name is empty")
        var badProbe = podProbe(.reply, verdict: .reachable)
        badProbe.rttMs = -1
        #expect(report("node-a", [badProbe]).problem?.hasPrefix("results[0]: rttMs") == true)
        badProbe = podProbe(.reply, verdict: .reachable)
        badProbe.cidr = IPPrefix("10.0.0.0/8")
        #expect(report("node-a", [badProbe]).problem?.contains("outside cidr") == true)
    }

    @Test("registrations: pod targets must lie in the pod CIDRs")
    func registrationProblems() {
        #expect(NodeRegistration(node: "node-b", ip: IPAddress("192.168.0.50")!, podCIDRs: [IPPrefix("172.16.1.0/24")!],
                                 podTargets: [IPAddress("172.16.1.12")!]).problem == nil)
        #expect(NodeRegistration(node: "node-b", ip: IPAddress("192.168.0.50")!, podCIDRs: [IPPrefix("172.16.1.0/24")!],
                                 podTargets: [IPAddress("172.16.2.12")!]).problem?.contains("outside") == true)
    }
}

@Suite("Incremental plan book")
struct PlanBookTests {
    @Test("joins and leaves in any order give the same choices as planning from scratch")
    func matchesBatchPlanner() {
        let nodes = (0..<120).map { index in
            ClusterMap.Node(name: "n\(index)", ip: .v4(0x0a00_0000 + UInt32(index)),
                            podCIDRs: [IPPrefix(address: .v4(0xac10_0000 + UInt32(index) << 8), length: 24)!])
        }
        let planner = ProbePlanner(sourcesPerCIDR: 3)
        var book = PlanBook(planner: planner)
        var generator = SystemRandomNumberGenerator()
        for node in nodes.shuffled(using: &generator) {
            book.setCIDRs(node.podCIDRs, of: node.name)
            book.addSource(node.name)
        }
        let leaving = Set(nodes.shuffled(using: &generator).prefix(30).map(\.name))
        for name in leaving { book.removeSource(name) }
        let remaining = nodes.map(\.name).filter { !leaving.contains($0) }
        let expected = planner.sources(for: ClusterMap(nodes: nodes), among: remaining)
        for node in nodes { #expect(book.sources(of: node.podCIDRs[0]) == expected[node.podCIDRs[0]]) }
        let plans = planner.plans(for: ClusterMap(nodes: nodes), among: remaining)
        for name in remaining { #expect(book.probeNodes(of: name) == plans[name]?.probeNodes) }
    }
}
