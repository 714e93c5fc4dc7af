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
        let specs = configuration.probeSpecs
        log("agent on \(configuration.nodeName): \(specs.count) probes per round every \(DurationText.format(configuration.interval)), alerts to \(configuration.syslog)")
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
                try round(specs)
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
        log("agent on \(configuration.nodeName) stopped after \(rounds) rounds")
    }

    /// Whether the last round had failures: then this round captures, so the round that confirms a
    /// finding carries its packet evidence without a second pass.
    private var captureNextRound = false

    private func round(_ specs: [ProbeSpec]) throws(ProbeError) {
        let roundStarted = monotonicNanoseconds()
        let options = ProbeOptions(count: 1, timeout: configuration.timeout, namespace: configuration.namespace)
        let reports = try ReachabilityCheck(options: options, clusterMap: configuration.clusterMap, capture: captureNextRound,
                                            captureDirectory: captureNextRound ? configuration.captureDirectory : nil).run(specs)
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
        let kernel = kernelRouteFindings()
        let kernelCIDRs = Set(kernel.compactMap(\.cidr))
        let findings = kernel + probed.filter { finding in finding.cidr.map { !kernelCIDRs.contains($0) } ?? true }
        for event in tracker.round(findings) { report(event) }
        metrics.record(reports: reports, roundNanoseconds: monotonicNanoseconds() - roundStarted, routes: lastRouteCount,
                       open: tracker.open)
    }

    private func kernelRouteFindings() -> [Finding] {
        do throws(NetlinkError) {
            let routes = try RoutingSocket(namespace: configuration.namespace).routes()
            lastRouteCount = routes.filter { $0.table == .main }.count
            return KernelRouteCheck.findings(routes: routes, map: configuration.clusterMap, localNode: configuration.nodeName)
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
                    let relevant = routes.isEmpty || routes.contains { route in
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
