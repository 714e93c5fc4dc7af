import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import RouteprobeAlerting
import RouteprobeConfiguration
import RouteprobeCore
import RouteprobeKubernetes
import RouteprobeSystem
import ServiceLifecycle
import Synchronization

/// The aggregator: the HTTP API (Hummingbird) and the evaluation loop, as ServiceLifecycle services that
/// share one in-memory state.
public struct Aggregator: Sendable {
    /// The state both services share.
    public let state: AggregatorState
    /// Whether this replica leads.
    public let leadership: Leadership
    private let metrics = AggregatorMetrics()
    private let configuration: AggregatorConfiguration
    private let log: @Sendable (String) -> Void

    /// Builds an aggregator; `log` gets one line per notable event.
    public init(configuration: AggregatorConfiguration, log: @escaping @Sendable (String) -> Void) {
        self.configuration = configuration
        self.log = log
        state = AggregatorState(configuration: configuration)
        leadership = Leadership(elector: configuration.leaderElector, log: log)
    }

    /// The services to run in one ServiceGroup: the HTTP server and the evaluator.
    /// `onListening` is called with the bound port once the server accepts connections.
    public func services(logger: Logger, onListening: @escaping @Sendable (Int) -> Void = { _ in }) throws -> [any Service] {
        let router = AggregatorRoutes.router(state: state, metrics: metrics, configuration: configuration, leadership: leadership)
        let http1 = HTTPServerBuilder.http1(configuration: .init(idleTimeout: .seconds(30)))
        let server = if let tls = configuration.tls { try HTTPServerBuilder.tls(http1, tlsConfiguration: tls.serverConfiguration()) } else { http1 }
        let application = Application(
            router: router,
            server: server,
            configuration: .init(address: .hostname(configuration.listenAddress, port: configuration.listenPort), serverName: "routeprobe",
                                 availableConnectionsDelegate: ConnectionLimit(maximum: configuration.maxConnections, metrics: metrics, log: log)),
            onServerRunning: { channel in onListening(channel.localAddress?.port ?? 0) },
            logger: logger)
        let alerts = AlertService(destination: configuration.syslog, hostname: configuration.hostname,
                                  goesOn: "the aggregator goes on", log: log)
        var services: [any Service] = [application, alerts,
                                       AggregatorEvaluator(state: state, metrics: metrics, configuration: configuration, alerts: alerts,
                                                           leadership: leadership, log: log)]
        if let elector = configuration.leaderElector { services.append(LeaderElectionService(elector: elector, leadership: leadership)) }
        if let endpoint = configuration.kubernetes { services.append(NodeDiscoveryService(endpoint: endpoint, state: state, routeControllerGrace: configuration.routeControllerGrace, log: log)) }
        return services
    }
}

/// Runs inference every evaluation interval, re-reads the VPC route table when its file changes, and
/// hands every finding that opens or resolves to the alert path.
struct AggregatorEvaluator: Service {
    let state: AggregatorState
    let metrics: AggregatorMetrics
    let configuration: AggregatorConfiguration
    let alerts: AlertService
    let leadership: Leadership
    let log: @Sendable (String) -> Void

    func run() async throws {
        // Graceful shutdown cancels the loop's sleep, so the aggregator stops at once.
        await cancelWhenGracefulShutdown { await self.loop() }
    }

    private func loop() async {
        let log = self.log
        let worker: LowPriorityWorker?
        do throws(SystemError) { worker = try LowPriorityWorker() } catch {
            log("inference runs at normal priority: \(error)")
            worker = nil
        }
        var reporter: EventReporter? = nil
        var conditions: NodeConditionReporter? = nil
        if configuration.nodeConditions, let endpoint = configuration.kubernetes {
            do throws(KubernetesError) {
                conditions = NodeConditionReporter(client: try KubernetesClient(endpoint: endpoint), log: log)
            } catch {
                log("cannot set node conditions: \(error.description)")
            }
        }
        if configuration.events, let endpoint = configuration.kubernetes {
            do throws(KubernetesError) {
                reporter = EventReporter(client: try KubernetesClient(endpoint: endpoint), instance: configuration.hostname, log: log)
            } catch {
                log("cannot create Events: \(error.description)")
            }
        }
        // The Events and Node conditions are written by one task, in order, so that a slow API server neither
        // holds up the evaluations nor sees a finding's resolution before its opening.
        let writes = reporter == nil && conditions == nil ? nil : OrderedWrites<FindingEvent, [Finding]>()
        await withDiscardingTaskGroup { group in
            if let writes {
                group.addTask { [reporter, conditions] in
                    await writes.run { events, open in
                        await Self.write(events, open: open, reporter: reporter, conditions: conditions)
                    }
                }
            }
            await evaluations(worker: worker, writes: writes)
            writes?.finish()
        }
        await reporter?.client.shutdown()
        await conditions?.client.shutdown()
    }

    /// Writes the Events of the findings that opened (and rewrites those whose symptoms changed) and sets the
    /// Node conditions of every finding event, in the order the evaluations produced them.
    private static func write(_ events: [FindingEvent], open: [Finding], reporter: EventReporter?,
                              conditions: NodeConditionReporter?) async {
        for event in events {
            if let reporter, case .opened(let finding) = event { await reporter.report(finding) }
            await conditions?.record(event)
        }
        await reporter?.refresh(open)
    }

    /// Evaluates the reports every `evaluationInterval` until cancelled: alerts, metrics and, through
    /// `writes`, the API server.
    private func evaluations(worker: LowPriorityWorker?, writes: OrderedWrites<FindingEvent, [Finding]>?) async {
        let state = self.state
        var tableStamp: Date? = nil
        var tableProblem: String? = nil
        var lastTrim = ContinuousClock.now
        while !Task.isCancelled {
            // A connection storm's buffers, freed, stay resident until handed back: every 10 s, hand them back.
            if ContinuousClock.now - lastTrim >= .seconds(10) {
                lastTrim = .now
                Memory.returnFreeMemory()
            }
            if let path = configuration.vpcRouteTablePath {
                reloadTable(path: path, stamp: &tableStamp, problem: &tableProblem)
            }
            configuration.tls?.refresh()
            let wall = Int64(WallClock.now().seconds)
            let evaluate: @Sendable () -> ([FindingEvent], UInt64) = {
                state.evaluate(now: MonotonicClock.nanoseconds(), wallSeconds: wall)
            }
            let (evaluated, nanoseconds) = if let worker { await worker.run(evaluate) } else { evaluate() }
            // Only the leader alerts and writes Events (a standby has no reports to evaluate anyway).
            let events = leadership.isLeader ? await leadership.toAlert(evaluated, window: configuration.window) : []
            alerts.send(events)
            if let writes, leadership.isLeader { writes.submit(events, snapshot: state.findings) }
            for seconds in state.takePropagationTimes() { metrics.recordPropagation(seconds: seconds) }
            let counts = state.counts
            metrics.recordEvaluation(nanoseconds: nanoseconds, open: state.findings, registered: counts.registered, reporting: counts.reporting,
                                     capacity: state.vpcCapacity)
            try? await Task.sleep(for: configuration.evaluationInterval)
        }
    }

    /// Reads the table again when the file's modification time changed; a broken file keeps the last good
    /// table and is reported once.
    private func reloadTable(path: String, stamp: inout Date?, problem: inout String?) {
        let modified = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
        guard modified != stamp || (modified == nil && problem == nil) else { return }
        stamp = modified
        do throws(ConfigurationError) {
            let table = try VPCRouteTableFile.load(path: path)
            state.setVPCRouteTable(table)
            log("VPC route table \(path): \(table.entries.count) entries (\(table.cloud.displayName))")
            problem = nil
        } catch {
            if problem != error.description { log("\(error.description); keeping the last table") }
            problem = error.description
        }
    }
}

/// Campaigns for the Lease and tells the leadership when this replica starts or stops leading.
struct LeaderElectionService: Service {
    let elector: LeaderElector
    let leadership: Leadership

    func run() async throws {
        let leadership = self.leadership
        await cancelWhenGracefulShutdown {
            await elector.run(onStartedLeading: { leadership.startedLeading($0) }, onStoppedLeading: {})
        }
    }
}

/// Keeps the aggregator's node list equal to the API server's Node objects (list, then watch).
struct NodeDiscoveryService: Service {
    let endpoint: KubernetesEndpoint
    let state: AggregatorState
    let routeControllerGrace: Duration?
    let log: @Sendable (String) -> Void

    func run() async throws {
        let client: KubernetesClient
        do { client = try KubernetesClient(endpoint: endpoint) } catch {
            // A service that returns ends the whole group: the aggregator goes on without discovery.
            log("node discovery is off: \(error.description)")
            try? await gracefulShutdown()
            return
        }
        let state = self.state, log = self.log
        let skippedBefore = Mutex<[String]>([])
        let problems = KubernetesProblemLog(log: log)
        let impacts = ImpactWatch(client: client, state: state, log: log, problems: problems)
        let reflector = ResourceReflector(client: client, resource: .nodes, onChange: { nodes in
            let (known, skipped) = NodeDiscovery.clusterNodes(from: nodes)
            state.setKnownNodes(known)
            state.setControlPlaneNodes(NodeDiscovery.controlPlane(nodes))
            state.setRouteControllerSignals(networkUnavailable: RouteControllerSignals.networkUnavailable(nodes))
            for node in nodes where (node.status?.skippedConditions ?? 0) > 0 {
                problems.skipped("node \(node.metadata.name): \(node.status!.skippedConditions) malformed condition(s)")
            }
            // "What it breaks" maps pod IPs to nodes: with the nodes changed, map again (the APIServices may
            // have been listed before the nodes).
            impacts.refresh()
            let changed = skippedBefore.withLock { before -> Bool in
                defer { before = skipped }
                return before != skipped
            }
            if changed, !skipped.isEmpty { log("nodes without an InternalIP or pod CIDR are not probed: \(skipped.joined(separator: "; "))") }
        }, log: log, problems: problems)
        log("discovering nodes from \(endpoint.server)")
        // The route controller's failure Events on Nodes, for the watchdog; an Event that cannot be read is
        // said once and skipped.
        let routeEvents = ResourceReflector(client: client, resource: .nodeWarningEvents, onChange: { events in
            let (byNode, skipped) = RouteControllerSignals.newestFailures(events)
            state.setRouteControllerSignals(events: byNode)
            for name in skipped { problems.skipped("route controller watch: Event \(name) names no node or time;") }
        }, log: log, problems: problems)
        let watchesRouteController = routeControllerGrace != nil
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await reflector.run() }
                group.addTask { await impacts.run() }
                if watchesRouteController { group.addTask { await routeEvents.run() } }
            }
        }
        await client.shutdown()
    }
}

/// Follows APIServices, EndpointSlices and webhook configurations and keeps the state's critical targets
/// (their backends' pod IPs) up to date, so that findings say what they break.
final class ImpactWatch: Sendable {
    private let client: KubernetesClient
    private let state: AggregatorState
    private let log: @Sendable (String) -> Void
    private let problems: KubernetesProblemLog
    private let lists = Mutex<(apiServices: [Kubernetes.APIService], slices: [Kubernetes.EndpointSlice],
                               validating: [Kubernetes.WebhookConfiguration], mutating: [Kubernetes.WebhookConfiguration])>(([], [], [], []))
    private let namespaces = Mutex<[Kubernetes.Namespace]>([])

    init(client: KubernetesClient, state: AggregatorState, log: @escaping @Sendable (String) -> Void, problems: KubernetesProblemLog) {
        self.client = client
        self.state = state
        self.log = log
        self.problems = problems
    }

    private func update(_ change: (inout (apiServices: [Kubernetes.APIService], slices: [Kubernetes.EndpointSlice],
                                           validating: [Kubernetes.WebhookConfiguration], mutating: [Kubernetes.WebhookConfiguration])) -> Void) {
        let current = lists.withLock { lists in change(&lists); return lists }
        state.setCriticalTargets(ImpactAnalysis.criticalTargets(apiServices: current.apiServices, validating: current.validating,
                                                                mutating: current.mutating, slices: current.slices, cluster: state.cluster))
        state.setSymptoms(SymptomAnalysis.symptoms(apiServices: current.apiServices, namespaces: namespaces.withLock { $0 }))
    }

    /// Maps the APIServices' and webhooks' backends to nodes again (the nodes changed).
    func refresh() { update { _ in } }

    func run() async {
        let log = self.log, problems = self.problems
        let apiServices = ResourceReflector(client: client, resource: .apiServices, onChange: { [self] items in
            for item in items where (item.status?.skippedConditions ?? 0) > 0 {
                problems.skipped("APIService \(item.metadata.name): \(item.status!.skippedConditions) malformed condition(s)")
            }
            update { $0.apiServices = items }
        }, log: log, problems: problems)
        let slices = ResourceReflector(client: client, resource: .endpointSlices,
                                            onChange: { [self] items in update { $0.slices = items } }, log: log, problems: problems)
        let validating = ResourceReflector(client: client, resource: .validatingWebhooks,
                                            onChange: { [self] items in update { $0.validating = items } }, log: log, problems: problems)
        let namespaceList = ResourceReflector(client: client, resource: .namespaces, onChange: { [self] items in
            // Only stuck namespaces matter; the rest is not kept.
            namespaces.withLock { $0 = items.filter { $0.status?.phase == "Terminating" } }
            for namespace in items where (namespace.status?.skippedConditions ?? 0) > 0 {
                problems.skipped("namespace \(namespace.metadata.name): \(namespace.status!.skippedConditions) malformed condition(s)")
            }
            update { _ in }
        }, log: log, problems: problems)
        let mutating = ResourceReflector(client: client, resource: .mutatingWebhooks,
                                            onChange: { [self] items in update { $0.mutating = items } }, log: log, problems: problems)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await apiServices.run() }
            group.addTask { await slices.run() }
            group.addTask { await validating.run() }
            group.addTask { await mutating.run() }
            group.addTask { await namespaceList.run() }
        }
    }
}

/// A writer's current problem, said once while it lasts and once when it is over.
final class SaidOnce: Sendable {
    private let log: @Sendable (String) -> Void
    private let current = Mutex<String?>(nil)

    init(log: @escaping @Sendable (String) -> Void) { self.log = log }

    /// Says `line` unless it is the problem said last.
    func failed(_ line: String) {
        if current.withLock({ previous in defer { previous = line }; return previous != line }) { log(line) }
    }

    /// Says `line` when a problem was said before.
    func succeeded(_ line: String) {
        if current.withLock({ previous in defer { previous = nil }; return previous != nil }) { log(line) }
    }
}

/// Sets `PodCIDRUnreachable` on the Node of each pod-CIDR finding that opens (True) or resolves (False); a
/// failure (such as a 403 without the optional role) is said once and never stops the aggregator.
final class NodeConditionReporter: Sendable {
    let client: KubernetesClient
    private let conditions: NodeConditions
    private let log: @Sendable (String) -> Void
    private let problem: SaidOnce
    /// Open pod-CIDR findings per node: the condition turns False only when the last one resolves.
    private let open = Mutex<[String: Set<String>]>([:])

    init(client: KubernetesClient, log: @escaping @Sendable (String) -> Void) {
        self.client = client
        conditions = NodeConditions(client: client)
        self.log = log
        problem = SaidOnce(log: log)
    }

    func record(_ event: FindingEvent) async {
        let finding = event.finding
        guard NodeConditions.reason(for: finding.kind) != nil, let node = finding.expectedNextHop?.node else { return }
        let stillOpen = open.withLock { open -> Bool in
            if event.isResolution { open[node, default: []].remove(finding.id) } else { open[node, default: []].insert(finding.id) }
            return !(open[node]?.isEmpty ?? true)
        }
        if event.isResolution && stillOpen { return }
        do throws(KubernetesError) {
            try await conditions.record(finding, resolved: event.isResolution)
            problem.succeeded("node conditions are set again")
        } catch {
            problem.failed("cannot set the PodCIDRUnreachable condition: \(error.description); alerts go on")
        }
    }
}

/// Creates an Event on the Node of each finding that opens; a failure (such as a 403 without the optional
/// Events role) is said once and never stops the aggregator.
final class EventReporter: Sendable {
    let client: KubernetesClient
    private let events: NodeEvents
    private let log: @Sendable (String) -> Void
    private let problem: SaidOnce
    /// The Event of each open finding, and the symptoms it was last written with.
    private let written = Mutex<[String: (name: String, symptoms: [Finding.Symptom])]>([:])

    init(client: KubernetesClient, instance: String, log: @escaping @Sendable (String) -> Void) {
        self.client = client
        events = NodeEvents(client: client, instance: instance)
        self.log = log
        problem = SaidOnce(log: log)
    }

    /// Rewrites the Events of open findings whose symptoms changed since they were written; forgets those of
    /// findings no longer open.
    func refresh(_ open: [Finding]) async {
        let ids = Set(open.map(\.id))
        let changed: [(String, Finding)] = written.withLock { written in
            for id in written.keys where !ids.contains(id) { written[id] = nil }
            return open.compactMap { finding in
                guard let entry = written[finding.id], entry.symptoms != finding.symptoms else { return nil }
                written[finding.id] = (entry.name, finding.symptoms)
                return (entry.name, finding)
            }
        }
        for (name, finding) in changed {
            do throws(KubernetesError) { try await events.update(name, with: finding) } catch {
                log("cannot update the Event \(name): \(error.description)")
            }
        }
    }

    func report(_ finding: Finding) async {
        do throws(KubernetesError) {
            if let name = try await events.record(finding) { written.withLock { $0[finding.id] = (name, finding.symptoms) } }
            problem.succeeded("Events are created again")
        } catch {
            problem.failed("cannot create an Event on the node: \(error.description); alerts go on")
        }
    }
}
