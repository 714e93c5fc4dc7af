import RouteprobeCore
import RouteprobeKubernetes
import RouteprobeSystem
import Synchronization

/// What the aggregator knows, all in memory: registered nodes, the latest report of each, the plan book,
/// the open findings. Rebuilt from registrations and reports after a restart. Requests touch it only
/// briefly under one lock; inference runs on a snapshot outside it.
/// Why a registration is refused, and the HTTP status that says so.
public struct RegistrationRefusal: Error, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// Nobody knows the node's pod CIDRs (400).
        case noPodCIDRs
        /// Nodes are known and this name is none of them (403).
        case notANode
        /// No nodes are known and the registry is full (429).
        case full
        /// Another registration holds the name with other addresses, or another node owns the pod CIDR (409).
        case conflict
    }
    public let kind: Kind
    public let reason: String

    /// The HTTP status of the refusal.
    public var status: Int {
        switch kind {
        case .noPodCIDRs: return 400
        case .notANode: return 403
        case .full: return 429
        case .conflict: return 409
        }
    }
}

public final class AggregatorState: Sendable {
    /// The result of ingesting a report.
    public enum IngestResult: Sendable, Equatable {
        /// Stored; the node's current plan generation (the agent fetches the plan when it differs).
        case accepted(planGeneration: UInt64)
        /// The node is not registered (the aggregator restarted, or the registration expired).
        case unknownNode
    }

    /// One cell of the reachability matrix.
    public struct MatrixCell: Sendable, Hashable, Codable {
        public var source: String
        public var cidr: IPPrefix
        public var node: String
        public var outcome: ProbeOutcome
        public var verdict: Verdict
        public var rttMs: Double?
        public var ageSeconds: Double
    }

    private struct Member {
        var registration: NodeRegistration
        var lastSeen: UInt64
    }

    private struct StoredReport {
        var report: AgentReport
        var receivedAt: UInt64
    }

    private struct Inner {
        var fileNodes: [String: ClusterMap.Node]
        var probePort: UInt16
        var members: [String: Member] = [:]
        /// Which registered node owns which pod CIDR, for the one-owner rule at every registration.
        var cidrOwners = CIDROwners()
        /// When each node that registered last reported (its registration, until a first report): kept past
        /// the registration's expiry, so a silent agent stays a finding until it reports again.
        var lastReport: [String: UInt64] = [:]
        /// How long each agent may be silent: three of its announced intervals, at most the window.
        var silenceAfter: [String: UInt64] = [:]
        var reports: [String: StoredReport] = [:]
        var book: PlanBook
        var plans: [String: ProbePlan] = [:]
        var tracker: FindingTracker
        var vpcTable: VPCRouteTable?
        var vpcDiff: VPCRouteDiff?
        var vpcDiffStale = false
        /// The cluster map, rebuilt only when a node registers, changes or expires.
        var clusterCache: ClusterMap?
        /// APIService and webhook backends, from the API server, and the control-plane nodes that probe them.
        var criticalTargets: [CriticalTarget] = []
        var controlPlane: Set<String> = []
        var reportsAccepted = 0
        /// The route controller's newest failure Event per node, and nodes whose NetworkUnavailable is True.
        var routeEvents: [String: RouteControllerSignals.NodeEvent] = [:]
        /// What the cluster shows: unavailable APIServices, namespaces stuck Terminating.
        var symptoms: [ClusterSymptom] = []
        /// Pod CIDRs of nodes that joined after the first node list, not reached by every source yet, with
        /// the node and when they appeared (Unix seconds).
        var propagating: [IPPrefix: (node: String, since: Int64)] = [:]
        var nodesListed = false
        /// Propagation times measured and not yet handed to the metrics (seconds).
        var propagationTimes: [Int64] = []
        var networkUnavailable: [String: (reason: String, message: String)] = [:]
    }

    private let inner: Mutex<Inner>
    private let configuration: AggregatorConfiguration
    /// When the state was created (monotonic): the VPC table alone is not judged until the agents had one
    /// window to register, or every entry would look stale after a restart.
    private let startedAt: UInt64

    /// Builds the state; nodes of the configured cluster map are known targets from the start.
    public init(configuration: AggregatorConfiguration, now: UInt64? = nil) {
        self.configuration = configuration
        startedAt = now ?? MonotonicClock.nanoseconds()
        var book = PlanBook(planner: ProbePlanner(sourcesPerCIDR: configuration.sourcesPerCIDR, fullMesh: configuration.fullMesh))
        var fileNodes: [String: ClusterMap.Node] = [:]
        for node in configuration.clusterMap?.nodes ?? [] {
            fileNodes[node.name] = node
            book.setCIDRs(node.podCIDRs, of: node.name)
        }
        inner = Mutex(Inner(fileNodes: fileNodes, probePort: configuration.clusterMap?.probePort ?? ClusterMap.defaultProbePort,
                            book: book, tracker: FindingTracker(openAfter: 1, closeAfter: configuration.evaluationsToClose)))
    }

    /// Registers (or re-registers) a node and returns its plan. A registration without pod CIDRs takes them
    /// from the node as the map or the API server knows it; nil when nobody knows them.
    public func register(_ registration: NodeRegistration, now: UInt64) -> Result<ProbePlan, RegistrationRefusal> {
        inner.withLock { state in
            var registration = registration
            let name = registration.node
            if !state.fileNodes.isEmpty {
                // Nodes are known (the cluster map, the API server): only they register, and what the VPC must
                // route to them comes from there, never from the agent's claim.
                guard let known = state.fileNodes[name] else {
                    return .failure(RegistrationRefusal(kind: .notANode,
                        reason: "'\(name)' is not a node of the cluster (the cluster map or the API server's Nodes); an agent registers under its node's name"))
                }
                let claimed = registration.podTargets.filter { target in known.podCIDRs.contains { $0.contains(target) } }
                registration.ip = known.ip
                registration.otherIP = known.otherIP ?? registration.otherIP.flatMap { $0.family == known.ip.family ? nil : $0 }
                registration.podCIDRs = known.podCIDRs
                registration.podTargets = claimed.isEmpty ? known.podTargets : claimed
                registration.instanceID = known.instanceID ?? registration.instanceID
                if registration.podCIDRs.isEmpty { return .failure(RegistrationRefusal(kind: .noPodCIDRs, reason: "node '\(name)' has no pod CIDR")) }
            } else {
                guard !registration.podCIDRs.isEmpty else {
                    return .failure(RegistrationRefusal(kind: .noPodCIDRs,
                        reason: "node '\(name)' names no pod CIDRs and neither the cluster map nor the API server knows them"))
                }
                if state.members[name] == nil, state.members.count >= configuration.maxNodes {
                    return .failure(RegistrationRefusal(kind: .full,
                        reason: "the aggregator holds \(state.members.count) nodes, its limit (--max-nodes); give it the cluster map or the API server so that only real nodes register"))
                }
            }
            if let current = state.members[name]?.registration,
               current.ip != registration.ip || current.otherIP != registration.otherIP || current.podCIDRs != registration.podCIDRs {
                return .failure(RegistrationRefusal(kind: .conflict,
                    reason: "'\(name)' is registered with \(current.ip) and \(current.podCIDRs.map(\.description).joined(separator: ", ")); another registration under its name is refused while that one lasts (it expires two windows after the node's last report)"))
            }
            for cidr in registration.podCIDRs {
                if let (theirs, owner) = state.cidrOwners.overlap(with: cidr, except: name) {
                    return .failure(RegistrationRefusal(kind: .conflict,
                        reason: "pod CIDR \(cidr) of '\(name)' overlaps \(theirs) of '\(owner)'; one pod CIDR has one owner"))
                }
            }
            if state.lastReport[name] == nil { state.lastReport[name] = now }
            let window = UInt64(configuration.window.components.seconds) * 1_000_000_000
            state.silenceAfter[name] = registration.intervalMilliseconds.map { min(UInt64($0) * 3_000_000, window) }
            let changed = state.members[name]?.registration != registration
            state.cidrOwners.set(registration.podCIDRs, of: name, replacing: state.members[name]?.registration.podCIDRs ?? [])
            state.members[name] = Member(registration: registration, lastSeen: now)
            if changed {
                state.book.setCIDRs(registration.podCIDRs, of: name)
                state.book.addSource(name)
                state.plans = [:]
                state.vpcDiffStale = true
                state.clusterCache = nil
            }
            return plan(for: name, in: &state).map { .success($0) }
                ?? .failure(RegistrationRefusal(kind: .noPodCIDRs, reason: "no plan for '\(name)'"))
        }
    }

    /// The current plan of a registered node, nil when it is not registered.
    public func plan(for node: String) -> ProbePlan? {
        inner.withLock { state in state.members[node] == nil ? nil : plan(for: node, in: &state) }
    }

    private func plan(for node: String, in state: inout Inner) -> ProbePlan? {
        if let cached = state.plans[node] { return cached }
        guard state.members[node] != nil else { return nil }
        let names = state.book.probeNodes(of: node)
        // The API server's view: control-plane nodes probe the critical targets, or everybody when no
        // control-plane node runs an agent (managed control planes).
        let agentsOnControlPlane = !state.controlPlane.isDisjoint(with: state.members.keys)
        let probesCritical = agentsOnControlPlane ? state.controlPlane.contains(node) : true
        var critical: [PlannedTarget] = []
        var owners: [String] = []
        if probesCritical {
            var seen = Set<String>()
            for target in state.criticalTargets where seen.insert("\(target.address)|\(target.port ?? 0)").inserted {
                critical.append(PlannedTarget(address: target.address, port: target.port.flatMap { UInt16(exactly: $0) }, name: target.name))
                if let owner = target.node { owners.append(owner) }
            }
        }
        var nodes: [String: ClusterMap.Node] = [:]
        for name in names + [node] + owners { nodes[name] = Self.node(named: name, in: state) }
        let plan = ProbePlan(node: node, probeNodes: names, criticalTargets: critical, nodes: nodes, probePort: state.probePort, owners: owners)
        state.plans[node] = plan
        return plan
    }

    private static func node(named name: String, in state: Inner) -> ClusterMap.Node? {
        guard var node = state.members[name]?.registration.clusterNode else { return state.fileNodes[name] }
        if node.instanceID == nil { node.instanceID = state.fileNodes[name]?.instanceID }
        if node.uid == nil { node.uid = state.fileNodes[name]?.uid }
        return node
    }

    /// Replaces the nodes known without registration (the cluster map file's, or those discovered from the
    /// API server's Node objects). A registered node's own registration still wins.
    public func setKnownNodes(_ nodes: [ClusterMap.Node], wallSeconds: Int64 = Int64(WallClock.now().seconds)) {
        inner.withLock { state in
            let incoming = Dictionary(nodes.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
            guard incoming != state.fileNodes else { return }
            // A pod CIDR that appears after the first list is a new node's: time its propagation.
            if state.nodesListed {
                let before = Set(state.fileNodes.values.flatMap(\.podCIDRs))
                for node in incoming.values { for cidr in node.podCIDRs where !before.contains(cidr) { state.propagating[cidr] = (node.name, wallSeconds) } }
                let now = Set(incoming.values.flatMap(\.podCIDRs))
                for cidr in state.propagating.keys where !now.contains(cidr) { state.propagating[cidr] = nil }
            }
            state.nodesListed = state.nodesListed || !incoming.isEmpty
            // A node gone from the cluster is no silent agent.
            for name in state.lastReport.keys where !incoming.isEmpty && incoming[name] == nil {
                state.lastReport[name] = nil
                state.silenceAfter[name] = nil
            }
            for name in state.fileNodes.keys where incoming[name] == nil && state.members[name] == nil {
                state.book.setCIDRs([], of: name)
            }
            for (name, node) in incoming where state.members[name] == nil { state.book.setCIDRs(node.podCIDRs, of: name) }
            state.fileNodes = incoming
            state.plans = [:]
            state.clusterCache = nil
            state.vpcDiffStale = true
        }
    }

    /// Replaces the control plane's critical targets (APIService and webhook backends).
    public func setCriticalTargets(_ targets: [CriticalTarget]) {
        inner.withLock { state in
            guard state.criticalTargets != targets else { return }
            state.criticalTargets = targets
            state.plans = [:]
        }
    }

    /// The nodes that run the API server (from their role label): they probe the critical targets. When no
    /// registered agent runs on one, every agent probes them.
    public func setControlPlaneNodes(_ names: Set<String>) {
        inner.withLock { state in
            guard state.controlPlane != names else { return }
            state.controlPlane = names
            state.plans = [:]
        }
    }

    /// The critical targets known now.
    public var criticalTargets: [CriticalTarget] { inner.withLock { $0.criticalTargets } }

    /// The cluster's symptoms (unavailable APIServices, namespaces stuck Terminating), linked to findings at
    /// the next evaluation.
    public func setSymptoms(_ symptoms: [ClusterSymptom]) { inner.withLock { $0.symptoms = symptoms } }

    /// What the route controller says (its failure Events on Nodes, the Nodes' NetworkUnavailable), for the
    /// watchdog (`routeControllerGrace`).
    public func setRouteControllerSignals(events: [String: RouteControllerSignals.NodeEvent]? = nil,
                                          networkUnavailable: [String: (reason: String, message: String)]? = nil) {
        inner.withLock { state in
            if let events { state.routeEvents = events }
            if let networkUnavailable { state.networkUnavailable = networkUnavailable }
        }
    }

    /// Stores a report as the node's latest.
    public func ingest(_ report: AgentReport, now: UInt64) -> IngestResult {
        inner.withLock { state in
            guard state.members[report.node] != nil else { return .unknownNode }
            state.members[report.node]!.lastSeen = now
            state.lastReport[report.node] = now
            state.reports[report.node] = StoredReport(report: report, receivedAt: now)
            state.reportsAccepted += 1
            return .accepted(planGeneration: plan(for: report.node, in: &state)?.generation ?? 0)
        }
    }

    /// Replaces the imported VPC route table comparison (nil: none).
    public func setVPCRouteTable(_ table: VPCRouteTable?) {
        inner.withLock { state in
            state.vpcTable = table
            state.vpcDiffStale = true
        }
    }

    private static func cluster(of state: inout Inner) -> ClusterMap {
        if let cached = state.clusterCache { return cached }
        let built = buildCluster(of: state)
        state.clusterCache = built
        return built
    }

    private static func buildCluster(of state: Inner) -> ClusterMap {
        var nodes = state.fileNodes
        for name in state.members.keys { nodes[name] = node(named: name, in: state) }
        return ClusterMap(probePort: state.probePort, nodes: nodes.values.sorted { $0.name < $1.name })
    }

    /// The whole cluster as the aggregator knows it: the map file's nodes and every registration.
    public var cluster: ClusterMap { inner.withLock { Self.cluster(of: &$0) } }

    /// Drops reports older than the window and registrations not renewed within it, runs inference on the
    /// rest and returns what opened and what closed. `now` is monotonic nanoseconds, `wallSeconds` Unix time.
    public func evaluate(now: UInt64, wallSeconds: Int64) -> (events: [FindingEvent], nanoseconds: UInt64) {
        let window = UInt64(configuration.window.components.seconds) * 1_000_000_000
        let (reports, cluster, diff, critical, silent, symptoms) = inner.withLock {
            state -> ([AgentReport], ClusterMap, VPCRouteDiff?, [CriticalTarget], [(node: String, seconds: UInt64)], [ClusterSymptom]) in
            for (name, stored) in state.reports where now > stored.receivedAt + window { state.reports[name] = nil }
            // Silent: no report for a window. Without known nodes, a node silent for ten windows is taken as gone.
            for (name, last) in state.lastReport where state.fileNodes.isEmpty && now > last + window * 10 {
                state.lastReport[name] = nil
                state.silenceAfter[name] = nil
            }
            let silent = state.lastReport.filter { now > $0.value + (state.silenceAfter[$0.key] ?? window) }.map { (node: $0.key, seconds: (now - $0.value) / 1_000_000_000) }
            for (name, member) in state.members where now > member.lastSeen + window * 2 {
                state.cidrOwners.set([], of: name, replacing: member.registration.podCIDRs)
                state.members[name] = nil
                state.book.removeSource(name)
                if state.fileNodes[name] == nil { state.book.setCIDRs([], of: name) }
                state.plans = [:]
                state.vpcDiffStale = true
                state.clusterCache = nil
            }
            // Compared again only when the table or the nodes changed: O(CIDRs x entries).
            if state.vpcDiffStale {
                let cluster = Self.cluster(of: &state)
                state.vpcDiff = state.vpcTable.map { VPCRouteDiff(table: $0, cluster: cluster, limit: configuration.routeTableLimit) }
                state.vpcDiffStale = false
            }
            return (state.reports.values.map(\.report), Self.cluster(of: &state), state.vpcDiff, state.criticalTargets, silent, state.symptoms)
        }
        let started = ContinuousClock.now
        let inference = ClusterInference(cluster: cluster, vpcTable: diff)
        var findings = inference.findings(reports: reports)
        if now < startedAt + window, configuration.clusterMap == nil {
            findings.removeAll { $0.evidence.basis == .vpcTable }
        }
        // What it breaks: the APIServices and webhooks whose backends sit behind the finding.
        if !critical.isEmpty {
            for index in findings.indices {
                let node = findings[index].kind == .nodeUnreachable ? findings[index].expectedNextHop?.node : nil
                let breaks = ImpactAnalysis.impacts(of: critical, cidr: findings[index].cidr, node: node)
                guard !breaks.isEmpty else { continue }
                findings[index].breaks = breaks
                findings[index].message += " This breaks the control plane: " + breaks.joined(separator: "; ") + "."
            }
        }
        if !symptoms.isEmpty { link(symptoms, to: &findings, critical: critical, reports: reports) }
        for (node, seconds) in silent.sorted(by: { $0.node < $1.node }) {
            findings.append(Finding.agentSilent(node: node, seconds: Int64(seconds), lastReportWallSeconds: wallSeconds - Int64(seconds)))
        }
        if let grace = configuration.routeControllerGrace { watchRouteController(&findings, grace: grace, wallSeconds: wallSeconds) }
        followPropagation(&findings, reports: reports, cluster: cluster, wallSeconds: wallSeconds)
        let elapsed = ContinuousClock.now - started
        let events = inner.withLock { $0.tracker.evaluate(findings, now: wallSeconds) }
        let (seconds, attoseconds) = elapsed.components
        return (events, UInt64(seconds) * 1_000_000_000 + UInt64(attoseconds / 1_000_000_000))
    }

    /// Symptoms to findings: a finding whose pod CIDR holds the backend of an unavailable APIService (or of
    /// one a stuck namespace names) carries the symptom and says so. An unavailable APIService whose backend
    /// answers probes, with no finding about its CIDR, is `apiServiceUnavailable`: not a route problem.
    private func link(_ symptoms: [ClusterSymptom], to findings: inout [Finding], critical: [CriticalTarget], reports: [AgentReport]) {
        let backends = Dictionary(grouping: critical.filter { $0.kind == .apiService }, by: \.name)
        for index in findings.indices {
            guard let cidr = findings[index].cidr else { continue }
            let linked = symptoms.filter { symptom in
                symptom.apiServices.contains { name in backends[name]?.contains { cidr.contains($0.address) } ?? false }
            }
            guard !linked.isEmpty else { continue }
            findings[index].symptoms = linked.map(\.symptom)
            findings[index].message += " The cluster shows it: " + linked.map(\.symptom.sentence).joined(separator: "; ") + "."
        }
        for symptom in symptoms where symptom.symptom.kind == "APIService" {
            for target in backends[symptom.symptom.name] ?? [] where !findings.contains(where: { $0.cidr?.contains(target.address) == true }) {
                let probes = reports.flatMap { report in report.results.filter { $0.target == target.address }.map { (report.node, $0) } }
                let reaching = probes.filter { $0.1.outcome.pathWorks }.map(\.0)
                guard !reaching.isEmpty, reaching.count == probes.count else { continue }
                findings.append(.apiServiceUnavailable(symptom.symptom, address: target.address, node: target.node,
                                                       reachedBy: Array(Set(reaching)).sorted()))
                break
            }
        }
    }

    /// New nodes' pod CIDRs: once every source that probes one reaches it, the time since it appeared is a
    /// propagation time (`takePropagationTimes`); one no source reaches after the grace period (the route
    /// controller's, else 60 s) is `routeNotPropagated`.
    private func followPropagation(_ findings: inout [Finding], reports: [AgentReport], cluster: ClusterMap, wallSeconds: Int64) {
        let grace = (configuration.routeControllerGrace ?? .seconds(60)).components.seconds
        let pending = inner.withLock { $0.propagating }
        guard !pending.isEmpty else { return }
        var reached: [IPPrefix: Int64] = [:]
        for (cidr, entry) in pending.sorted(by: { $0.key.description < $1.key.description }) {
            var reaching = Set<String>(), failing = Set<String>()
            for report in reports where report.node != entry.node {
                for probe in report.results where probe.cidr == cidr {
                    if probe.outcome.pathWorks { reaching.insert(report.node) } else { failing.insert(report.node) }
                }
            }
            failing.subtract(reaching)
            if !reaching.isEmpty && failing.isEmpty {
                reached[cidr] = wallSeconds - entry.since
            } else if wallSeconds - entry.since >= grace, let node = cluster.node(named: entry.node) {
                findings.append(.routeNotPropagated(node: node, cidr: cidr, seconds: wallSeconds - entry.since, sources: failing.sorted()))
            }
        }
        guard !reached.isEmpty else { return }
        inner.withLock { state in
            for (cidr, seconds) in reached where state.propagating[cidr] != nil {
                state.propagating[cidr] = nil
                state.propagationTimes.append(seconds)
            }
        }
    }

    /// The propagation times measured since the last call (seconds), for the histogram.
    public func takePropagationTimes() -> [Int64] {
        inner.withLock { state in
            defer { state.propagationTimes = [] }
            return state.propagationTimes
        }
    }

    /// The route-controller watchdog: a VPC-route finding open longer than `grace` (from its `since`) that is
    /// still found gets a `routeControllerSilent` finding (no failure Event about its node, NetworkUnavailable
    /// not True) or a `routeControllerFailing` one quoting the newest Event or the condition; the VPC finding's
    /// remediation says so too. Events from more than 10 minutes before the finding opened do not count.
    private func watchRouteController(_ findings: inout [Finding], grace: Duration, wallSeconds: Int64) {
        let graceSeconds = grace.components.seconds
        let (open, events, unavailable) = inner.withLock { state in
            (state.tracker.open.values.filter { $0.kind == .vpcRouteMissing || $0.kind == .vpcRouteWrongNextHop },
             state.routeEvents, state.networkUnavailable)
        }
        for vpc in open.sorted(by: { $0.id < $1.id }) {
            guard let since = vpc.since, wallSeconds - since >= graceSeconds, let node = vpc.expectedNextHop?.node,
                  let index = findings.firstIndex(where: { $0.id == vpc.id }) else { continue }
            let signal = RouteControllerSignals.signal(node: node, since: since, now: wallSeconds, events: events, unavailable: unavailable)
            let watchdog = Finding.routeController(about: vpc, openSeconds: wallSeconds - since, signal: signal)
            findings[index].remediation += signal == nil
                ? " The route controller is not repairing it and says nothing: see \(watchdog.id)."
                : " The route controller fails to repair it: see \(watchdog.id)."
            findings.append(watchdog)
        }
    }

    /// Open findings, most severe first.
    public var findings: [Finding] { inner.withLock { $0.tracker.sortedOpen } }

    /// Counts for /healthz and metrics.
    public var counts: (registered: Int, reporting: Int, accepted: Int) {
        inner.withLock { ($0.members.count, $0.reports.count, $0.reportsAccepted) }
    }

    /// The imported VPC route table's fill as of the last evaluation; nil without a table.
    public var vpcCapacity: VPCRouteDiff.Capacity? { inner.withLock { $0.vpcDiff?.capacity } }

    /// Sources x pod CIDRs from the latest reports: the best outcome of each source's probes of each CIDR.
    public func matrix(now: UInt64) -> (sources: [String], cidrs: [(cidr: IPPrefix, node: String)], cells: [MatrixCell]) {
        let (reports, cluster) = inner.withLock { state in (Array(state.reports.values), Self.cluster(of: &state)) }
        var cells: [MatrixCell] = []
        for stored in reports {
            var best: [IPPrefix: MatrixCell] = [:]
            for probe in stored.report.results {
                guard let cidr = probe.cidr, let owner = probe.owner ?? cluster.owner(of: probe.target)?.name else { continue }
                let cell = MatrixCell(source: stored.report.node, cidr: cidr, node: owner, outcome: probe.outcome, verdict: probe.verdict,
                                      rttMs: probe.rttMs, ageSeconds: Double(now &- stored.receivedAt) / 1e9)
                if let current = best[cidr], current.outcome >= cell.outcome {
                    if current.outcome == cell.outcome, let rtt = cell.rttMs, rtt < (current.rttMs ?? .infinity) { best[cidr]?.rttMs = rtt }
                    continue
                }
                best[cidr] = cell
            }
            cells += best.values
        }
        cells.sort { ($0.source, $0.cidr.description) < ($1.source, $1.cidr.description) }
        let sources = Set(cells.map(\.source)).sorted()
        let cidrs = cluster.nodes.flatMap { node in node.podCIDRs.map { (cidr: $0, node: node.name) } }
        return (sources, cidrs, cells)
    }
}

/// The registered pod CIDRs and their owners, asked at every registration whether a new CIDR overlaps one of
/// another node: O(prefix length) lookups when every CIDR has one length (a cluster's pod CIDRs do), a scan
/// only of longer prefixes when lengths are mixed. 10,000 registrations stay linear, not quadratic.
struct CIDROwners {
    private var owners: [IPPrefix: String] = [:]
    /// How many registered CIDRs have each length, per family.
    private var lengths: [AddressFamily: [Int: Int]] = [:]

    mutating func set(_ cidrs: [IPPrefix], of name: String, replacing previous: [IPPrefix]) {
        for cidr in previous where owners[cidr] == name {
            owners[cidr] = nil
            lengths[cidr.family, default: [:]][cidr.length, default: 1] -= 1
            if lengths[cidr.family]?[cidr.length] == 0 { lengths[cidr.family]?[cidr.length] = nil }
        }
        for cidr in cidrs where owners[cidr] == nil {
            owners[cidr] = name
            lengths[cidr.family, default: [:]][cidr.length, default: 0] += 1
        }
    }

    /// A CIDR of another node than `name` that contains `cidr`, equals it or lies inside it.
    func overlap(with cidr: IPPrefix, except name: String) -> (IPPrefix, String)? {
        let present = lengths[cidr.family] ?? [:]
        for length in present.keys.sorted() where length <= cidr.length {
            if let wider = IPPrefix(address: cidr.address, length: length), let owner = owners[wider], owner != name { return (wider, owner) }
        }
        guard present.keys.contains(where: { $0 > cidr.length }) else { return nil }
        return owners.first { $0.key.length > cidr.length && cidr.contains($0.key) && $0.value != name }.map { ($0.key, $0.value) }
    }
}
