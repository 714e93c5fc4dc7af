import Dispatch
import Synchronization
import RouteprobeAlerting
import RouteprobeCore
import RouteprobeNetlink
import RouteprobeProbing
#if canImport(Glibc)
import Glibc
#endif

/// The node agent: probes every other node's pod CIDR each round, opens and resolves findings, alerts to
/// syslog, and re-runs a round at once when a route changes. One round never overlaps the next.
public final class Agent: @unchecked Sendable {
    // @unchecked Sendable: `stopping` is a Mutex; everything else is used only by the thread in run().
    private let configuration: AgentConfiguration
    private let log: @Sendable (String) -> Void
    private let wake = DispatchSemaphore(value: 0)
    private let stopping = Mutex(false)
    private var tracker: FindingTracker
    private let sender: SyslogSender
    private let metrics = AgentMetrics()
    private var lastRouteCount: Int?
    /// Rounds completed.
    public private(set) var rounds = 0

    /// Builds an agent; `log` receives one line per notable event (findings, delivery problems).
    public init(configuration: AgentConfiguration, log: @escaping @Sendable (String) -> Void) {
        self.configuration = configuration
        self.log = log
        tracker = FindingTracker(failuresToOpen: configuration.failuresToOpen)
        sender = SyslogSender(destination: configuration.syslog)
        sender.onDeliveryChange = { problem in
            log(problem.map { "alerts are not delivered: \($0); probing goes on" } ?? "alerts are delivered again")
        }
    }

    /// Asks the agent to stop; `run` returns within one probe timeout.
    public func stop() {
        stopping.withLock { $0 = true }
        wake.signal()
    }

    private var shouldStop: Bool { stopping.withLock { $0 } }

    /// Runs rounds until `stop()`. Probing problems of one round are logged and the next round goes on.
    public func run() {
        if configuration.clusterMap.nodes.isEmpty {
            log("agent on \(configuration.nodeName): waiting for a probe plan from \(configuration.aggregator?.baseURL ?? "the aggregator"); rounds every \(DurationText.format(configuration.interval)), alerts to \(configuration.syslog)")
        } else {
            log("agent on \(configuration.nodeName): \(configuration.probeSpecs.count) probes per round every \(DurationText.format(configuration.interval)), alerts to \(configuration.syslog)\(configuration.aggregator.map { "; reports to \($0.baseURL), which plans the probes" } ?? "")")
        }
        let monitor = startRouteWatch()
        defer { monitor?.stop() }
        var server: MetricsServer? = nil
        if let listen = configuration.metricsListen {
            do throws(SystemCallError) {
                server = try MetricsServer(address: listen.address, port: listen.port, namespace: configuration.namespace,
                                           registry: metrics.registry)
                server?.start()
                log("metrics on http://\(listen.address.family == .inet6 ? "[\(listen.address)]" : listen.address.description):\(listen.port)/metrics")
            } catch {
                log("cannot serve metrics on \(listen.address) port \(listen.port): \(error); probing goes on without them")
            }
        }
        defer { server?.stop() }
        var lastProblem: String? = nil
        while !shouldStop {
            let started = monotonicNanoseconds()
            do throws(ProbeError) {
                try round()
                if lastProblem != nil { log("probing works again") }
                lastProblem = nil
            } catch {
                if lastProblem != error.description { log("round failed: \(error); retrying next round") }
                lastProblem = error.description
            }
            rounds += 1
            let elapsed = monotonicNanoseconds() - started
            // A failure not yet confirmed is probed again after one probe timeout, not a whole interval: the
            // finding opens (or clears) within failuresToOpen x timeout instead of failuresToOpen intervals.
            let interval = tracker.hasPending ? nanoseconds(configuration.timeout) : nanoseconds(configuration.interval)
            if elapsed < interval, !shouldStop {
                _ = wake.wait(timeout: .now() + .nanoseconds(Int(interval - elapsed)))
            }
        }
        strayWatch?.stop()
        log("agent on \(configuration.nodeName) stopped after \(rounds) rounds")
    }

    /// The capture problems the last capturing round reported (logged once while they last).
    private var lastCaptureProblems: Set<String> = []

    /// Whether the last round had failures: then this round captures, so the round that confirms a
    /// finding carries its packet evidence without a second pass.
    private var captureNextRound = false

    /// The watch for other nodes' pod traffic arriving here (with an aggregator only), and its last problem.
    private var strayWatch: StrayTrafficWatch?
    private var strayProblem: String?

    /// Keeps the stray-traffic watch on the other nodes' pod CIDRs of `map`; rebuilt when they change.
    private func strayTraffic(map: ClusterMap) -> [StrayTraffic] {
        let others = map.nodes.filter { $0.name != configuration.nodeName }
        let cidrs = others.flatMap(\.podCIDRs).filter { $0.address.family == .inet }
        if strayWatch?.cidrs != cidrs {
            strayWatch?.stop()
            strayWatch = nil
            guard !cidrs.isEmpty else { return [] }
            do throws(ProbeError) {
                strayWatch = try StrayTrafficWatch(cidrs: cidrs, peers: others.map(\.ip), namespace: configuration.namespace)
                if strayProblem != nil { log("watching for stray pod traffic again") }
                strayProblem = nil
            } catch {
                if strayProblem != error.description {
                    log("cannot watch for other nodes' pod traffic arriving here (\(error)); wrong VPC next hops are not detected from this node")
                }
                strayProblem = error.description
                return []
            }
        }
        return strayWatch?.collect() ?? []
    }

    /// Consecutive failed rounds per probe, for the aggregator's hysteresis.
    private var failedRounds: [ProbeSpec: Int] = [:]

    /// What this round probes and the map its owners come from: the aggregator's plan when there is one,
    /// else every other node of the cluster map; nil when neither is there yet.
    private func work() -> (map: ClusterMap, specs: [ProbeSpec], generation: UInt64?)? {
        let file = configuration.clusterMap
        if let plan = configuration.aggregator?.currentPlan {
            // The file's map (when given) knows every owner; the plan's knows the planned ones.
            return (file.nodes.isEmpty ? plan.cluster : file, plan.probeSpecs, plan.generation)
        }
        if file.nodes.isEmpty { return nil }
        return (file, configuration.probeSpecs, nil)
    }

    private func round() throws(ProbeError) {
        guard let (map, specs, generation) = work() else { return }
        let roundStarted = monotonicNanoseconds()
        let options = ProbeOptions(count: 1, timeout: configuration.timeout, namespace: configuration.namespace)
        var problems: [String] = []
        let reports = try ReachabilityCheck(options: options, clusterMap: map, capture: captureNextRound,
                                            captureDirectory: captureNextRound ? configuration.captureDirectory : nil)
            .run(specs, captureProblems: &problems)
        // Said once while it lasts: a problem already reported by the last capturing round is not repeated.
        for problem in problems where !lastCaptureProblems.contains(problem) { log("\(problem); probing goes on") }
        if captureNextRound { lastCaptureProblems = Set(problems) }
        captureNextRound = reports.contains { $0.diagnosis.verdict != .reachable }
        let probed = reports.compactMap { report in
            Finding.from(verdict: report.diagnosis.verdict, sourceNode: configuration.nodeName, target: report.spec.target,
                         owner: report.owner, router: report.result.icmpError?.from ?? report.evidence?.icmpErrors.first?.from,
                         sent: report.evidence?.requestsSeen ?? report.result.sent,
                         received: report.evidence?.repliesSeen ?? report.result.received,
                         message: report.diagnosis.message)
        }
        // The node's own table, checked against the map (host-gw clusters): authoritative for its CIDRs, so
        // a probe that fell through to the VPC is not also blamed on the VPC.
        let kernel = kernelRouteFindings(map: map)
        let kernelCIDRs = Set(kernel.compactMap(\.cidr))
        let findings = kernel + probed.filter { finding in finding.cidr.map { !kernelCIDRs.contains($0) } ?? true }
        for event in tracker.round(findings) { report(event) }
        metrics.record(reports: reports, roundNanoseconds: monotonicNanoseconds() - roundStarted, routes: lastRouteCount,
                       open: tracker.open)
        var streaks: [ProbeSpec: Int] = [:]
        for report in reports where !report.result.outcome.pathWorks { streaks[report.spec] = (failedRounds[report.spec] ?? 0) + 1 }
        failedRounds = streaks
        if let link = configuration.aggregator {
            link.submit(AgentReport(node: configuration.nodeName, round: rounds, planGeneration: generation,
                                    results: reports.map { reported($0, failedRounds: streaks[$0.spec] ?? 0) },
                                    localFindings: kernel.map(ReportedFinding.init), strayTraffic: strayTraffic(map: map)))
        }
    }

    private func reported(_ report: TargetReport, failedRounds: Int) -> ReportedProbe {
        let icmp = report.result.icmpError ?? report.evidence?.icmpErrors.first
        return ReportedProbe(
            target: report.spec.target, probeProtocol: report.spec.probeProtocol, port: report.spec.port, owner: report.owner?.name,
            cidr: report.owner?.podCIDRs.first { $0.contains(report.spec.target) }, routeClass: report.route.routeClass,
            device: report.route.device, gateway: report.route.gateway, outcome: report.result.outcome, verdict: report.diagnosis.verdict,
            rttMs: report.result.rttMilliseconds, sent: report.evidence?.requestsSeen ?? report.result.sent,
            received: report.evidence?.repliesSeen ?? report.result.received, icmpFrom: icmp?.from, icmpType: icmp?.type,
            icmpCode: icmp?.code, controlOutcome: report.control?.outcome, failedRounds: failedRounds)
    }

    private func kernelRouteFindings(map: ClusterMap) -> [Finding] {
        do throws(NetlinkError) {
            let routes = try RoutingSocket(namespace: configuration.namespace).routes()
            lastRouteCount = routes.filter { $0.table == .main }.count
            return KernelRouteCheck.findings(routes: routes, map: map, localNode: configuration.nodeName)
        } catch {
            log("cannot read the route table for the kernel-route check: \(error)")
            return []
        }
    }

    private func report(_ event: FindingTracker.Event) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let (finding, resolved): (Finding, Bool)
        switch event {
        case .opened(let opened): (finding, resolved) = (opened, false)
        case .resolved(let closed): (finding, resolved) = (closed, true)
        }
        let message = SyslogMessage.alert(for: finding, resolved: resolved, hostname: configuration.nodeName,
                                          processID: String(getpid()), seconds: now.tv_sec, microseconds: now.tv_nsec / 1000)
        log("\(resolved ? "resolved" : "opened") \(finding.id): \(message.message)")
        sender.send(message)
    }

    /// Watches the route table: a change to a route that covers a pod CIDR or the default route starts the
    /// next round at once.
    private func startRouteWatch() -> RouteMonitor? {
        let monitor: RouteMonitor
        do throws(NetlinkError) {
            monitor = try RouteMonitor(families: [.inet, .inet6], namespace: configuration.namespace)
        } catch {
            log("cannot watch the route table (\(error)); rounds run on the interval only")
            return nil
        }
        let cidrs = configuration.clusterMap.nodes.flatMap(\.podCIDRs)
        let events = monitor.events()
        let wake = self.wake
        Task.detached {
            do {
                for try await event in events {
                    let routes: [Route]
                    switch event {
                    case .added(let route), .deleted(let route): routes = [route]
                    case .resync: routes = []
                    }
                    let relevant = routes.isEmpty || cidrs.isEmpty || routes.contains { route in
                        route.isDefault || cidrs.contains { $0.contains(route.destination) || route.destination.contains($0) }
                    }
                    if relevant { wake.signal() }
                }
            } catch {}
        }
        return monitor
    }
}

func nanoseconds(_ duration: Duration) -> UInt64 {
    let (seconds, attoseconds) = duration.components
    return UInt64(max(0, seconds)) * 1_000_000_000 + UInt64(max(0, attoseconds) / 1_000_000_000)
}
