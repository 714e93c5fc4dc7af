import Testing
import RouteprobeAggregator
import RouteprobeCore
import RouteprobeKubernetes

/// The aggregator's in-memory state without HTTP: registration, plans, ingest, evaluation, expiry.
@Suite("Aggregator state")
struct AggregatorStateTests {
    static let second: UInt64 = 1_000_000_000

    func registration(_ index: Int) -> NodeRegistration {
        NodeRegistration(node: "node-\(index)", ip: IPAddress("192.168.0.\(10 + index)")!, podCIDRs: [IPPrefix("172.16.\(index).0/24")!],
                         podTargets: [IPAddress("172.16.\(index).12")!], instanceID: "i-\(index)")
    }

    /// A report from `source` that node-1's pod timed out for `failedRounds` rounds while its host answered.
    func failingReport(from source: Int, failedRounds: Int = 2) -> AgentReport {
        AgentReport(node: "node-\(source)", round: 3, results: [
            ReportedProbe(target: IPAddress("172.16.1.12")!, probeProtocol: .icmp, owner: "node-1", cidr: IPPrefix("172.16.1.0/24"),
                          routeClass: .vpc, outcome: .timeout, verdict: .vpcRouteMissing, controlOutcome: .reply, failedRounds: failedRounds),
        ])
    }

    @Test("a VPC route table at 90% of its limit opens one finding that stays one as its count changes; its fill is reported")
    func routeTableNearlyFull() throws {
        var configuration = AggregatorConfiguration(token: "t", sourcesPerCIDR: 2, window: .seconds(10))
        configuration.routeTableLimit = 5
        let state = AggregatorState(configuration: configuration, now: 0)
        for index in 0...3 { _ = state.register(registration(index), now: 0) }
        func table(_ count: Int) -> VPCRouteTable {
            VPCRouteTable(cloud: .aws, entries: (0..<count).map {
                VPCRouteEntry(destination: IPPrefix("172.16.\($0).0/24")!, nextHopID: "i-\($0)", nextHopType: "Instance", table: "rtb-1")
            })
        }
        state.setVPCRouteTable(table(4))
        // After the first window: until the agents had one, the table alone is not judged.
        _ = state.evaluate(now: 11 * Self.second, wallSeconds: 1000)
        #expect(state.vpcCapacity == VPCRouteDiff.Capacity(used: 4, limit: 5))
        #expect(!state.findings.contains { $0.kind == .vpcRouteTableNearlyFull }, "4 of 5 is 80%")
        state.setVPCRouteTable(VPCRouteTable(cloud: .aws, entries: table(4).entries + [
            VPCRouteEntry(destination: IPPrefix("10.0.0.0/16")!, nextHopID: nil, nextHopType: "local", table: "rtb-1")]))
        let (events, _) = state.evaluate(now: 12 * Self.second, wallSeconds: 1001)
        let full = try #require(state.findings.first { $0.kind == .vpcRouteTableNearlyFull })
        #expect(events.count == 1 && full.kind.severity == .warning)
        #expect(full.message.contains("the AWS route table holds 5 of 5 entries in the route table: a new node gets no route"))
        // One more entry changes the message, not the finding.
        state.setVPCRouteTable(VPCRouteTable(cloud: .aws, entries: table(4).entries + [
            VPCRouteEntry(destination: IPPrefix("10.0.0.0/16")!, nextHopID: nil, nextHopType: "local", table: "rtb-1"),
            VPCRouteEntry(destination: IPPrefix("0.0.0.0/0")!, nextHopID: nil, nextHopType: "igw-1", table: "rtb-1")]))
        let (again, _) = state.evaluate(now: 13 * Self.second, wallSeconds: 1002)
        #expect(again.isEmpty && state.findings.filter { $0.kind == .vpcRouteTableNearlyFull }.count == 1)
        #expect(state.vpcCapacity == VPCRouteDiff.Capacity(used: 6, limit: 5))
    }

    @Test("plans follow registrations; reports from unknown nodes are refused; findings open, gain the VPC table, expire")
    func lifecycle() throws {
        let state = AggregatorState(configuration: AggregatorConfiguration(token: "t", sourcesPerCIDR: 2, window: .seconds(10)), now: 0)
        let first = try state.register(registration(0), now: 0).get()
        #expect(first.probeNodes.isEmpty, "alone, node-0 has nothing to probe")
        for index in 1...3 { _ = state.register(registration(index), now: 0) }
        let plan = state.plan(for: "node-0")
        #expect(plan != nil && plan!.probeNodes.count <= 3 && plan!.probeNodes.count >= 1)
        #expect(plan!.generation != first.generation, "a new plan has a new generation")
        #expect(state.plan(for: "ghost") == nil)
        #expect(state.ingest(failingReport(from: 9), now: Self.second) == .unknownNode)

        // node-0 and node-2 fail towards node-1: a missing VPC route, 2/2.
        #expect(state.ingest(failingReport(from: 0), now: Self.second) == .accepted(planGeneration: plan!.generation))
        _ = state.ingest(failingReport(from: 2), now: Self.second)
        var (events, _) = state.evaluate(now: 2 * Self.second, wallSeconds: 1000)
        #expect(events.count == 1)
        var finding = state.findings.first
        #expect(finding?.kind == .vpcRouteMissing && finding?.evidence.agreeing == 2 && finding?.since == 1000)
        #expect(finding?.evidence.basis == .probes)

        // The VPC table has no entry for 172.16.1.0/24 either: both agree.
        state.setVPCRouteTable(VPCRouteTable(cloud: .aws, entries: [
            VPCRouteEntry(destination: IPPrefix("172.16.0.0/24")!, nextHopID: "i-0", nextHopType: "Instance"),
            VPCRouteEntry(destination: IPPrefix("172.16.2.0/24")!, nextHopID: "i-2", nextHopType: "Instance"),
            VPCRouteEntry(destination: IPPrefix("172.16.3.0/24")!, nextHopID: "i-3", nextHopType: "Instance")]))
        (events, _) = state.evaluate(now: 3 * Self.second, wallSeconds: 1001)
        #expect(events.isEmpty, "the same finding, not a new one")
        finding = state.findings.first
        #expect(finding?.evidence.basis == .probesAndVPCTable && finding?.since == 1000)

        // The matrix holds one cell per source and probed CIDR.
        let matrix = state.matrix(now: 3 * Self.second)
        #expect(matrix.sources == ["node-0", "node-2"])
        #expect(matrix.cells.allSatisfy { $0.outcome == .timeout && $0.cidr == IPPrefix("172.16.1.0/24") })

        // Nothing reports for longer than the window: the reports expire, and the finding now rests on the
        // table alone (the same id, still open); once the table is gone too it closes after two evaluations.
        // Every agent is now silent: one agentSilent finding each, besides.
        func routeFindings() -> [Finding] { state.findings.filter { $0.kind != .agentSilent } }
        (events, _) = state.evaluate(now: 12 * Self.second, wallSeconds: 1010)
        let openedKinds: [Finding.Kind] = events.compactMap { event in
            if case .opened(let opened) = event { return opened.kind } else { return nil }
        }
        #expect(openedKinds == Array(repeating: Finding.Kind.agentSilent, count: 4), "\(openedKinds)")
        finding = routeFindings().first
        #expect(finding?.evidence.basis == .vpcTable && finding?.sources == [] && finding?.since == 1000)
        #expect(Set(state.findings.filter { $0.kind == .agentSilent }.compactMap(\.expectedNextHop?.node)) == ["node-0", "node-1", "node-2", "node-3"])
        state.setVPCRouteTable(nil)
        _ = state.evaluate(now: 13 * Self.second, wallSeconds: 1011)
        (events, _) = state.evaluate(now: 14 * Self.second, wallSeconds: 1012)
        #expect(events.count == 1 && routeFindings().isEmpty)
        // Registrations not renewed for two windows expire too; their nodes must register again.
        _ = state.evaluate(now: 40 * Self.second, wallSeconds: 1040)
        #expect(state.counts.registered == 0)
        #expect(state.ingest(failingReport(from: 0), now: 41 * Self.second) == .unknownNode)
    }

    @Test("a registration without pod CIDRs takes them from the known node, and is refused when nobody knows them")
    func registrationFromKnownNode() throws {
        let state = AggregatorState(configuration: AggregatorConfiguration(token: "t"), now: 0)
        let bare = NodeRegistration(node: "node-1", ip: IPAddress("192.168.0.11")!, podCIDRs: [])
        #expect(state.register(bare, now: 0).failure?.status == 400)
        state.setKnownNodes([ClusterMap.Node(name: "node-1", ip: IPAddress("192.168.0.11")!, podCIDRs: [IPPrefix("172.16.1.0/24")!]),
                             ClusterMap.Node(name: "node-2", ip: IPAddress("192.168.0.12")!, podCIDRs: [IPPrefix("172.16.2.0/24")!])])
        let plan = try state.register(bare, now: 0).get()
        #expect(plan.probeNodes == ["node-2"])
        #expect(state.cluster.node(named: "node-1")?.podCIDRs == [IPPrefix("172.16.1.0/24")!])
    }

    @Test("a registration under a registered node's name with other addresses is refused (the hijack), the same one renews")
    func reRegistrationHijack() throws {
        let state = AggregatorState(configuration: AggregatorConfiguration(token: "t"), now: 0)
        for index in 0...2 { _ = try state.register(registration(index), now: 0).get() }
        var hijack = registration(1)
        hijack.podCIDRs = [IPPrefix("172.16.99.0/24")!]
        hijack.podTargets = []
        let refused = state.register(hijack, now: Self.second).failure
        #expect(refused?.status == 409)
        #expect(refused?.reason.contains("'node-1' is registered with 192.168.0.11 and 172.16.1.0/24") == true, "\(refused?.reason ?? "")")
        #expect(state.cluster.node(named: "node-1")?.podCIDRs == [IPPrefix("172.16.1.0/24")!], "the real CIDR stays monitored")
        #expect((try? state.register(registration(1), now: Self.second).get()) != nil, "the node's own renewal is accepted")
    }

    @Test("one pod CIDR has one owner: a second node claiming it, a wider or a narrower CIDR is 409 naming both")
    func doubleOwnedCIDR() throws {
        let state = AggregatorState(configuration: AggregatorConfiguration(token: "t"), now: 0)
        _ = try state.register(registration(1), now: 0).get()
        for claim in ["172.16.1.0/24", "172.16.0.0/16", "172.16.1.128/25"] {
            let other = NodeRegistration(node: "node-9", ip: IPAddress("192.168.0.99")!, podCIDRs: [IPPrefix(claim)!])
            let refused = state.register(other, now: 0).failure
            #expect(refused?.status == 409, "\(claim)")
            #expect(refused?.reason.contains("overlaps 172.16.1.0/24 of 'node-1'") == true || refused?.reason.contains("of 'node-1'") == true,
                    "\(refused?.reason ?? "")")
        }
        let elsewhere = NodeRegistration(node: "node-9", ip: IPAddress("192.168.0.99")!, podCIDRs: [IPPrefix("172.16.9.0/24")!])
        #expect((try? state.register(elsewhere, now: 0).get()) != nil)
        // An expired node's CIDR is free again.
        _ = state.evaluate(now: 100 * Self.second, wallSeconds: 2000)
        let heir = NodeRegistration(node: "node-8", ip: IPAddress("192.168.0.98")!, podCIDRs: [IPPrefix("172.16.1.0/24")!])
        #expect((try? state.register(heir, now: 100 * Self.second).get()) != nil)
    }

    @Test("with known nodes, a made-up name is 403 and the pod CIDRs are the known node's, whatever the agent claims")
    func knownNodesOnly() throws {
        let state = AggregatorState(configuration: AggregatorConfiguration(token: "t"), now: 0)
        state.setKnownNodes([ClusterMap.Node(name: "node-1", ip: IPAddress("192.168.0.11")!, podCIDRs: [IPPrefix("172.16.1.0/24")!])])
        let madeUp = NodeRegistration(node: "node-x", ip: IPAddress("192.168.0.77")!, podCIDRs: [IPPrefix("172.16.77.0/24")!])
        #expect(state.register(madeUp, now: 0).failure?.status == 403)
        let lying = NodeRegistration(node: "node-1", ip: IPAddress("192.168.0.66")!, podCIDRs: [IPPrefix("172.16.66.0/24")!])
        _ = try state.register(lying, now: 0).get()
        let node = try #require(state.cluster.node(named: "node-1"))
        #expect(node.podCIDRs == [IPPrefix("172.16.1.0/24")!] && node.ip == IPAddress("192.168.0.11"))
        #expect(state.cluster.node(named: "node-x") == nil)
    }

    @Test("without known nodes the registry is capped: beyond --max-nodes a new name is 429, a registered one still renews")
    func registryCap() throws {
        var configuration = AggregatorConfiguration(token: "t")
        configuration.maxNodes = 3
        let state = AggregatorState(configuration: configuration, now: 0)
        for index in 0...2 { _ = try state.register(registration(index), now: 0).get() }
        let refused = state.register(registration(3), now: 0).failure
        #expect(refused?.status == 429 && refused?.reason.contains("--max-nodes") == true)
        #expect((try? state.register(registration(2), now: Self.second).get()) != nil)
        #expect(state.counts.registered == 3)
    }

    @Test("an agent that stops reporting is agentSilent after a window, stays so past its registration's expiry, and closes when it reports again")
    func silentAgent() throws {
        let state = AggregatorState(configuration: AggregatorConfiguration(token: "t", window: .seconds(10)), now: 0)
        for index in 0...2 { _ = try state.register(registration(index), now: 0).get() }
        func report(_ index: Int, at second: UInt64) { _ = state.ingest(AgentReport(node: "node-\(index)", round: 1, results: []), now: second * Self.second) }
        for second: UInt64 in [1, 5, 9] { for index in 0...2 { report(index, at: second) } }
        _ = state.evaluate(now: 10 * Self.second, wallSeconds: 1_000)
        #expect(state.findings.isEmpty)
        // node-2 goes quiet after second 9; the others keep reporting.
        var opened: [FindingEvent] = []
        for second in stride(from: 13, through: 45, by: 4) {
            report(0, at: UInt64(second)); report(1, at: UInt64(second))
            opened += state.evaluate(now: UInt64(second) * Self.second, wallSeconds: 1_000 + Int64(second) - 10).events
        }
        let silent = try #require(state.findings.only)
        #expect(silent.kind == .agentSilent && silent.subject == "agent silent on node-2" && silent.kind.severity == .warning)
        #expect(silent.message.contains("The routeprobe agent on node-2 has not reported for 36 s (last at 1970-01-01T00:16:39.000000Z)"),
                "\(silent.message)")
        #expect(opened.count == 1, "one alert, not one per evaluation")
        #expect(state.counts.registered == 2, "its registration expired (two windows) and the finding stayed")
        // It comes back: register, report, and the finding closes.
        _ = try state.register(registration(2), now: 46 * Self.second).get()
        report(2, at: 46)
        _ = state.evaluate(now: 47 * Self.second, wallSeconds: 1_037)
        let (closing, _) = state.evaluate(now: 48 * Self.second, wallSeconds: 1_038)
        #expect(state.findings.isEmpty && closing.count == 1)
    }

    @Test("an agent that announced its interval is silent after three of them (under the window); an interval out of range is refused")
    func silentAfterThreeIntervals() throws {
        let state = AggregatorState(configuration: AggregatorConfiguration(token: "t", window: .seconds(30)), now: 0)
        var fast = registration(0)
        fast.intervalMilliseconds = 1_000
        _ = try state.register(fast, now: 0).get()
        _ = try state.register(registration(1), now: 0).get()
        for index in 0...1 { _ = state.ingest(AgentReport(node: "node-\(index)", round: 1, results: []), now: Self.second) }
        _ = state.evaluate(now: 3 * Self.second, wallSeconds: 1_000)
        #expect(state.findings.isEmpty, "2 s: within three intervals")
        _ = state.evaluate(now: 5 * Self.second, wallSeconds: 1_002)
        #expect(state.findings.map(\.subject) == ["agent silent on node-0"], "4 s: three 1 s intervals passed; node-1 announced none and has the 30 s window")
        var wrong = registration(2)
        wrong.intervalMilliseconds = 0
        #expect(wrong.problem == "intervalMilliseconds 0 is out of range (100 to 86400000)")
    }

    @Test("route-controller watchdog: a missing entry open past the grace with no word from the route controller is routeControllerSilent; its failure Event makes it routeControllerFailing, quoted; NetworkUnavailable True too; old Events do not count")
    func routeControllerWatchdog() throws {
        var configuration = AggregatorConfiguration(token: "t", window: .seconds(300))
        configuration.routeControllerGrace = .seconds(60)
        let state = AggregatorState(configuration: configuration, now: 0)
        for index in 0...2 { _ = try state.register(registration(index), now: 0).get() }
        func evaluate(at second: UInt64) -> [Finding] {
            for source in [0, 2] { _ = state.ingest(failingReport(from: source), now: second * Self.second) }
            _ = state.evaluate(now: second * Self.second, wallSeconds: 10_000 + Int64(second))
            return state.findings
        }
        #expect(evaluate(at: 1).map(\.kind) == [.vpcRouteMissing])
        #expect(evaluate(at: 40).map(\.kind) == [.vpcRouteMissing], "within the grace: nothing more")
        // An Event from a day before the finding: not about this.
        state.setRouteControllerSignals(events: ["node-1": .init(node: "node-1", reason: "FailedToCreateRoute", message: "old", count: 1, lastSeconds: 10_000 - 86_400)])
        var open = evaluate(at: 62)
        let silent = try #require(open.first { $0.kind == .routeControllerSilent }, "\(open.map(\.kind))")
        #expect(silent.message.hasPrefix("The VPC route entry 172.16.1.0/24 -> node-1 (192.168.0.11) has been missing for 1m and the route controller has not re-created it nor raised any Event"), "\(silent.message)")
        #expect(silent.remediation.contains("cloud-controller-manager's log") && silent.remediation.contains("list and describe the route tables"))
        #expect(open.first { $0.kind == .vpcRouteMissing }?.remediation.contains("The route controller is not repairing it and says nothing: see \(silent.id)") == true)

        // The route controller speaks: quota exceeded, 3 times, 20 s ago.
        state.setRouteControllerSignals(events: ["node-1": .init(node: "node-1", reason: "FailedToCreateRoute",
                                                                  message: "Could not create route for node node-1: RouteTableLimitExceeded", count: 3, lastSeconds: 10_000 + 70)])
        _ = evaluate(at: 90)
        open = evaluate(at: 91)
        let failing = try #require(open.first { $0.kind == .routeControllerFailing }, "\(open.map(\.kind))")
        #expect(failing.message.contains("the route controller fails to create it: FailedToCreateRoute 21 s ago (3 times): Could not create route for node node-1: RouteTableLimitExceeded"), "\(failing.message)")
        #expect(!open.contains { $0.kind == .routeControllerSilent }, "silent closed once it spoke")

        // NetworkUnavailable True (NoRouteCreated) without an Event is failing too.
        state.setRouteControllerSignals(events: [:], networkUnavailable: ["node-1": ("NoRouteCreated", "Node created without a route")])
        open = evaluate(at: 95)
        #expect(open.first { $0.kind == .routeControllerFailing }?.message.contains("node-1 is NetworkUnavailable (NoRouteCreated): Node created without a route") == true)
    }

    @Test("without the API server there is no watchdog: nobody can say the route controller was silent")
    func noWatchdogWithoutKubernetes() throws {
        let state = AggregatorState(configuration: AggregatorConfiguration(token: "t", window: .seconds(300)), now: 0)
        for index in 0...2 { _ = try state.register(registration(index), now: 0).get() }
        for second: UInt64 in [1, 100] {
            for source in [0, 2] { _ = state.ingest(failingReport(from: source), now: second * Self.second) }
            _ = state.evaluate(now: second * Self.second, wallSeconds: 10_000 + Int64(second))
        }
        #expect(state.findings.map(\.kind) == [.vpcRouteMissing])
    }

    @Test("symptoms link to the finding that explains them (APIService -> its pod in the CIDR; a stuck namespace through the APIService it names); a later symptom updates the open finding without a second alert; an unavailable APIService whose pod answers is not a route problem")
    func symptomsLinkToFindings() throws {
        let state = AggregatorState(configuration: AggregatorConfiguration(token: "t", window: .seconds(300)), now: 0)
        for index in 0...2 { _ = try state.register(registration(index), now: 0).get() }
        state.setCriticalTargets([CriticalTarget(kind: .apiService, name: "v1beta1.metrics.k8s.io", service: "kube-system/metrics-server",
                                                 address: IPAddress("172.16.1.12")!, port: 10250, node: "node-1", cidr: IPPrefix("172.16.1.0/24"),
                                                 consequence: "HPA stops scaling")])
        let apiService = ClusterSymptom(symptom: .init(kind: "APIService", name: "v1beta1.metrics.k8s.io", condition: "Available=False (FailedDiscoveryCheck)",
                                                       message: "no route to host", since: 900), apiServices: ["v1beta1.metrics.k8s.io"])
        let namespace = ClusterSymptom(symptom: .init(kind: "Namespace", name: "tobedeletedb", condition: "Terminating (NamespaceDeletionDiscoveryFailure)",
                                                      message: "metrics.k8s.io/v1beta1: stale GroupVersion discovery", since: 905),
                                       apiServices: ["v1beta1.metrics.k8s.io"])
        state.setSymptoms([apiService])
        for source in [0, 2] { _ = state.ingest(failingReport(from: source), now: Self.second) }
        let (opened, _) = state.evaluate(now: Self.second, wallSeconds: 1_000)
        #expect(opened.count == 1)
        var finding = try #require(state.findings.first)
        #expect(finding.kind == .vpcRouteMissing && finding.symptoms.map(\.name) == ["v1beta1.metrics.k8s.io"])
        #expect(finding.message.hasSuffix("The cluster shows it: APIService v1beta1.metrics.k8s.io is Available=False (FailedDiscoveryCheck)."), "\(finding.message)")
        // The namespace gets stuck later: the open finding carries it too, and nothing is alerted again.
        state.setSymptoms([apiService, namespace])
        for source in [0, 2] { _ = state.ingest(failingReport(from: source), now: 2 * Self.second) }
        let (again, _) = state.evaluate(now: 2 * Self.second, wallSeconds: 1_001)
        #expect(again.isEmpty, "no second alert")
        finding = try #require(state.findings.first)
        #expect(finding.symptoms.map(\.name) == ["v1beta1.metrics.k8s.io", "tobedeletedb"] && finding.since == 1_000)
        #expect(finding.message.contains("namespace tobedeletedb is Terminating (NamespaceDeletionDiscoveryFailure)"))

        // Repaired route, metrics-server itself broken: its pod answers every probe, so it is not a route problem.
        let healthy = ReportedProbe(target: IPAddress("172.16.1.12")!, probeProtocol: .tcp, owner: "node-1", cidr: IPPrefix("172.16.1.0/24"),
                                    routeClass: .vpc, outcome: .reply, verdict: .reachable, controlOutcome: .reply, failedRounds: 0)
        for source in [0, 2] { _ = state.ingest(AgentReport(node: "node-\(source)", round: 4, results: [healthy]), now: 3 * Self.second) }
        for second: UInt64 in [3, 4, 5] { _ = state.evaluate(now: second * Self.second, wallSeconds: 1_000 + Int64(second)) }
        let notRoute = try #require(state.findings.first { $0.kind == .apiServiceUnavailable }, "\(state.findings.map(\.kind))")
        #expect(!state.findings.contains { $0.kind == .vpcRouteMissing })
        #expect(notRoute.message == "APIService v1beta1.metrics.k8s.io is Available=False (FailedDiscoveryCheck): no route to host; but its pod 172.16.1.12 on node-1 answers probes from node-0, node-2: this is not a route problem.", "\(notRoute.message)")
    }

    @Test("a new node's pod CIDR: the time until every source reaches it is measured; one nobody reaches past the grace is routeNotPropagated; nodes of the first list are not new")
    func routePropagation() throws {
        let state = AggregatorState(configuration: AggregatorConfiguration(token: "t", window: .seconds(300)), now: 0)
        state.setKnownNodes((0...2).map { registration($0).clusterNode }, wallSeconds: 900)
        state.setKnownNodes((0...3).map { registration($0).clusterNode }, wallSeconds: 1_000)
        for index in 0...3 { _ = try state.register(registration(index), now: 0).get() }
        func probe(_ outcome: ProbeOutcome) -> ReportedProbe {
            ReportedProbe(target: IPAddress("172.16.3.12")!, probeProtocol: .tcp, owner: "node-3", cidr: IPPrefix("172.16.3.0/24"), routeClass: .vpc,
                          outcome: outcome, verdict: outcome == .reply ? .reachable : .vpcRouteMissing, controlOutcome: .reply, failedRounds: outcome == .reply ? 0 : 1)
        }
        func round(_ wall: Int64, _ outcome: ProbeOutcome) -> [Finding] {
            for source in 0...1 { _ = state.ingest(AgentReport(node: "node-\(source)", round: 1, results: [probe(outcome)]), now: UInt64(wall - 899) * Self.second) }
            _ = state.evaluate(now: UInt64(wall - 899) * Self.second, wallSeconds: wall)
            return state.findings
        }
        #expect(!round(1_030, .timeout).contains { $0.kind == .routeNotPropagated }, "within the grace (60 s)")
        let late = try #require(round(1_070, .timeout).first { $0.kind == .routeNotPropagated })
        #expect(late.message == "node-3 joined 1m ago with pod CIDR 172.16.3.0/24, and no source reaches it yet (node-0, node-1): its VPC route entry has not been created.", "\(late.message)")
        #expect(state.takePropagationTimes().isEmpty)
        _ = round(1_080, .reply)
        #expect(state.takePropagationTimes() == [80], "reached by every source 80 s after it appeared")
        _ = round(1_081, .reply)
        _ = round(1_082, .reply)
        #expect(!state.findings.contains { $0.kind == .routeNotPropagated })
        #expect(state.takePropagationTimes().isEmpty, "measured once")
    }

    @Test("control-plane agents probe the API server's dependencies; without one on the control plane, every agent does")
    func criticalTargets() throws {
        let state = AggregatorState(configuration: AggregatorConfiguration(token: "t"), now: 0)
        for index in 0...2 { _ = state.register(registration(index), now: 0) }
        let metrics = CriticalTarget(kind: .apiService, name: "v1beta1.metrics.k8s.io", service: "kube-system/metrics-server",
                                     address: IPAddress("172.16.2.12")!, port: 10250, node: "node-2", cidr: IPPrefix("172.16.2.0/24"),
                                     consequence: "HPA stops scaling")
        state.setCriticalTargets([metrics])
        #expect(state.plan(for: "node-1")?.criticalTargets.map(\.name) == ["v1beta1.metrics.k8s.io"], "no agent on the control plane: everybody")
        state.setControlPlaneNodes(["node-0"])
        let plan = try #require(state.plan(for: "node-0"))
        #expect(plan.criticalTargets == [PlannedTarget(address: IPAddress("172.16.2.12")!, port: 10250, name: "v1beta1.metrics.k8s.io")])
        #expect(plan.probeSpecs.contains(ProbeSpec(target: IPAddress("172.16.2.12")!, probeProtocol: .tcp, port: 10250)))
        #expect(plan.cluster.node(named: "node-2") != nil, "the owner is in the plan's map, for the control probe")
        #expect(state.plan(for: "node-1")?.criticalTargets.isEmpty == true)
    }

    @Test("K sources per CIDR: with 20 nodes and K = 3 every node probes a few, and all CIDRs are covered 3 times")
    func planLoad() {
        let state = AggregatorState(configuration: AggregatorConfiguration(token: "t", sourcesPerCIDR: 3), now: 0)
        for index in 0..<20 { _ = state.register(registration(index), now: 0) }
        var coverage: [String: Int] = [:]
        for index in 0..<20 {
            for node in state.plan(for: "node-\(index)")?.probeNodes ?? [] { coverage[node, default: 0] += 1 }
        }
        #expect(coverage.count == 20 && coverage.values.allSatisfy { $0 == 3 }, "\(coverage)")
    }
}

extension Result {
    /// The error, nil on success.
    var failure: Failure? { if case .failure(let error) = self { return error } else { return nil } }
}
