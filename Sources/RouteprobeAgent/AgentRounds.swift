// One agent round, and the state that carries from round to round: the findings' hysteresis, the failure
// streaks the aggregator needs, whether to capture. Everything it talks to is a seam (the check's
// environment, the stray-traffic source, the aggregator, the alert sink), so a whole round runs on fakes.
import RouteprobeAlerting
import RouteprobeCapture
import RouteprobeConfiguration
import RouteprobeCore
import RouteprobeProbing
import RouteprobeSystem

/// The aggregator as a round sees it: the latest plan, and where reports go.
public protocol AggregatorConnection: Sendable {
    /// The latest probe plan, nil until the first registration succeeds.
    var currentPlan: ProbePlan? { get }
    /// Hands over a round's report; returns at once.
    func submit(_ report: AgentReport)
}

/// Packets for other nodes' pod CIDRs arriving on this node.
public protocol StrayTrafficSource: Sendable {
    /// The packets since the last call, per CIDR; `cidrs` are the other nodes' pod CIDRs to watch.
    func collect(watching cidrs: [IPPrefix], peers: [IPAddress]) -> [StrayTraffic]
}

/// What one round did.
public struct RoundSummary: Sendable {
    /// A report per probe, in the round's order (empty when there was nothing to probe yet).
    public var reports: [TargetReport]
    /// The findings that opened and resolved.
    public var events: [FindingEvent]
    /// The report handed to the aggregator, when there is one.
    public var agentReport: AgentReport?
}

/// The agent's rounds. Not thread-safe: one thread runs them (RoundService's).
public final class AgentRounds: @unchecked Sendable {
    // @unchecked Sendable: every mutable field is used by the round thread alone.
    private let configuration: AgentConfiguration
    private let environment: CheckEnvironment
    private let aggregator: (any AggregatorConnection)?
    private let strayTraffic: (any StrayTrafficSource)?
    private let alerts: any AlertSink
    private let metrics: AgentMetrics?
    private let log: @Sendable (String) -> Void
    private var tracker: FindingTracker
    /// Consecutive failed rounds per probe, for the aggregator's inference.
    private var failedRounds: [ProbeSpec: Int] = [:]
    /// Whether the last round had failures: then this round captures, so the round that confirms a finding
    /// carries its packet evidence without a second pass.
    private var captureNextRound = false
    /// The capture problems the last capturing round reported (each logged once while it lasts).
    private var lastCaptureProblems: Set<CaptureProblem> = []
    /// Rounds completed.
    public private(set) var completed = 0

    /// Builds the rounds of an agent.
    public init(configuration: AgentConfiguration, environment: CheckEnvironment, aggregator: (any AggregatorConnection)?,
                strayTraffic: (any StrayTrafficSource)?, alerts: any AlertSink, metrics: AgentMetrics? = nil,
                log: @escaping @Sendable (String) -> Void) {
        self.configuration = configuration
        self.environment = environment
        self.aggregator = aggregator
        self.strayTraffic = strayTraffic
        self.alerts = alerts
        self.metrics = metrics
        self.log = log
        tracker = FindingTracker(openAfter: configuration.failuresToOpen, closeAfter: 1)
    }

    /// What the agent does, said once at start.
    public var startLine: String {
        let every = DurationText.format(configuration.interval)
        if configuration.clusterMap.nodes.isEmpty {
            return "agent on \(configuration.nodeName): waiting for a probe plan from \(configuration.aggregator?.url ?? "the aggregator"); rounds every \(every), alerts to \(configuration.syslog)"
        }
        return "agent on \(configuration.nodeName): \(configuration.probeSpecs.count) probes per round every \(every), alerts to \(configuration.syslog)\(configuration.aggregator.map { "; reports to \($0.url), which plans the probes" } ?? "")"
    }

    /// Said once when the rounds have stopped.
    public var stopLine: String { "agent on \(configuration.nodeName) stopped after \(completed) rounds" }

    /// Findings open now.
    public var openFindings: [Finding] { tracker.sortedOpen }

    /// Nanoseconds from the start of this round to the next: one probe timeout while a failure waits to be
    /// confirmed (the finding opens within failuresToOpen x timeout instead of failuresToOpen intervals),
    /// else the interval.
    public var nextRoundAfter: UInt64 {
        tracker.hasPending ? configuration.timeout.wholeNanoseconds : configuration.interval.wholeNanoseconds
    }

    /// What this round probes and the map its owners come from: the aggregator's plan when there is one,
    /// else every other node of the cluster map; nil when neither is there yet.
    private func work() -> (map: ClusterMap, specs: [ProbeSpec], generation: UInt64?)? {
        let file = configuration.clusterMap
        if let plan = aggregator?.currentPlan {
            // The file's map (when given) knows every owner; the plan's knows the planned ones.
            return (file.nodes.isEmpty ? plan.cluster : file, plan.probeSpecs, plan.generation)
        }
        if file.nodes.isEmpty { return nil }
        return (file, configuration.probeSpecs, nil)
    }

    /// Runs one round: probes, opens and resolves findings (handing the events to the alert sink), records
    /// metrics and hands the report to the aggregator.
    @discardableResult
    public func round() throws(ProbeError) -> RoundSummary {
        defer { completed += 1 }
        guard let (map, specs, generation) = work() else { return RoundSummary(reports: [], events: []) }
        let started = MonotonicClock.nanoseconds()
        let options = ProbeOptions(count: 1, timeout: configuration.timeout, namespace: configuration.namespace)
        var check = ReachabilityCheck(options: options, clusterMap: map, capture: captureNextRound, environment: environment)
        check.describesRoutes = false
        let outcome = try check.run(specs)
        let reports = outcome.reports
        // Said once while it lasts: a problem already reported by the last capturing round is not repeated.
        for problem in outcome.captureProblems where !lastCaptureProblems.contains(problem) { log("\(problem); probing goes on") }
        if captureNextRound { lastCaptureProblems = Set(outcome.captureProblems) }
        captureNextRound = reports.contains { $0.diagnosis.verdict != .reachable }

        let node = configuration.nodeName
        let probed = reports.compactMap { report in
            Finding.from(verdict: report.diagnosis.verdict, source: node, target: report.spec.target, owner: report.owner,
                         evidence: Finding.Evidence(sent: report.sent, received: report.received, router: report.icmpError?.from,
                                                    icmpType: report.icmpError?.type, icmpCode: report.icmpError?.code),
                         message: report.diagnosis.message)
        }
        // The node's own table, checked against the map (host-gw clusters): authoritative for its CIDRs, so
        // a probe that fell through to the VPC is not also blamed on the VPC.
        let (kernel, routeCount) = kernelRouteFindings(map: map)
        let kernelCIDRs = Set(kernel.compactMap(\.cidr))
        let findings = kernel + probed.filter { finding in finding.cidr.map { !kernelCIDRs.contains($0) } ?? true }
        let events = tracker.evaluate(findings, now: Int64(WallClock.now().seconds))
        alerts.send(events)
        metrics?.record(reports: reports, roundNanoseconds: MonotonicClock.nanoseconds() - started, routes: routeCount,
                        open: tracker.open)

        var streaks: [ProbeSpec: Int] = [:]
        for report in reports where !report.result.outcome.pathWorks { streaks[report.spec] = (failedRounds[report.spec] ?? 0) + 1 }
        failedRounds = streaks
        var agentReport: AgentReport? = nil
        if let aggregator {
            let others = map.nodes.filter { $0.name != node }
            let stray = strayTraffic?.collect(watching: others.flatMap(\.podCIDRs), peers: others.flatMap(\.addresses)) ?? []
            let report = AgentReport(node: node, round: completed, planGeneration: generation, openAfter: configuration.failuresToOpen,
                                     results: reports.map { reported($0, failedRounds: streaks[$0.spec] ?? 0) },
                                     localFindings: kernel, strayTraffic: stray)
            aggregator.submit(report)
            agentReport = report
        }
        return RoundSummary(reports: reports, events: events, agentReport: agentReport)
    }

    private func reported(_ report: TargetReport, failedRounds: Int) -> ReportedProbe {
        let icmp = report.icmpError
        return ReportedProbe(
            target: report.spec.target, probeProtocol: report.spec.probeProtocol, port: report.spec.port, owner: report.owner?.name,
            cidr: report.cidr, routeClass: report.route.routeClass, device: report.route.device, gateway: report.route.gateway,
            outcome: report.result.outcome, verdict: report.diagnosis.verdict, rttMs: report.result.rttMilliseconds,
            sent: report.sent, received: report.received, icmpFrom: icmp?.from, icmpType: icmp?.type, icmpCode: icmp?.code,
            controlOutcome: report.control?.outcome, failedRounds: failedRounds)
    }

    /// The kernel-route check's findings, and the size of the main table (for the metric).
    private func kernelRouteFindings(map: ClusterMap) -> ([Finding], Int?) {
        do throws(ProbeError) {
            let routes = try environment.openRoutes().routes()
            return (KernelRouteCheck.findings(routes: routes, map: map, localNode: configuration.nodeName),
                    routes.filter { $0.table == .main }.count)
        } catch {
            log("cannot read the route table for the kernel-route check: \(error)")
            return ([], nil)
        }
    }
}
