// One whole check: route lookups, probes with control probes of the owners' hosts, an optional capture of
// the probe flows, a diagnosis per target and the packets of failing flows kept. Everything it talks to is
// reached through its CheckEnvironment, so the verdicts are tested on fakes and the kernel parts in the lab.
import RouteprobeCapture
import RouteprobeCore

/// Everything routeprobe learned about one probe of one target.
///
/// An agent holds a round's reports at once (2,000 at 1,000 targets), so the parts most reports share or
/// lack are held by reference: the owner and its control probe, the same for every target of one node,
/// and the capture's evidence, which only a capturing round has. 464 bytes a report became 224.
public struct TargetReport: Sendable {
    /// The owner of the target's pod CIDR with the control probe of its host, shared by its targets' reports.
    public final class Owner: Sendable {
        public let node: ClusterMap.Node
        public let control: ProbeResult?
        public init(node: ClusterMap.Node, control: ProbeResult?) {
            self.node = node
            self.control = control
        }
    }
    private final class Captured: Sendable {
        let evidence: CaptureEvidence
        init(_ evidence: CaptureEvidence) { self.evidence = evidence }
    }

    /// The kernel's route for it.
    public let route: RouteView
    /// The probe's result.
    public let result: ProbeResult
    /// The verdict and its sentence.
    public let diagnosis: Diagnosis
    private let shared: Owner?
    private let captured: Captured?

    public init(route: RouteView, result: ProbeResult, evidence: CaptureEvidence?, owner: Owner?, diagnosis: Diagnosis) {
        self.route = route
        self.result = result
        self.diagnosis = diagnosis
        self.shared = owner
        self.captured = evidence.map(Captured.init)
    }

    /// What was probed.
    public var spec: ProbeSpec { result.spec }
    /// What the capture saw, when one ran.
    public var evidence: CaptureEvidence? { captured?.evidence }
    /// The node owning the target's pod CIDR.
    public var owner: ClusterMap.Node? { shared?.node }
    /// The control probe of the owner's host IP.
    public var control: ProbeResult? { shared?.control }

    /// The target's pod CIDR, when the owner is known.
    public var cidr: IPPrefix? { owner?.podCIDRs.first { $0.contains(spec.target) } }

    /// The ICMP error that answered, from the probe or the capture.
    public var icmpError: ICMPErrorReport? { result.icmpError ?? evidence?.icmpErrors.first }

    /// Requests sent (or seen leaving, when a capture ran) and answers received.
    public var sent: Int { evidence?.requestsSeen ?? result.sent }
    public var received: Int { evidence?.repliesSeen ?? result.received }
}

/// One on-demand check: route lookups, probes (with control probes of the owners' hosts), optional
/// capture, and a diagnosis per target. `routeprobe probe` runs one; the agent runs one per round.
public struct ReachabilityCheck: Sendable {
    /// Probe settings, including the namespace to work in.
    public var options: ProbeOptions
    /// The cluster map, if one was given.
    public var clusterMap: ClusterMap?
    /// iproute2 names, for route text.
    public var names: IPRoute2Names
    /// Capture the probe flows on their egress interfaces.
    public var capture: Bool
    /// Render each route as `ip route get` prints it (`TargetReport.route.text`), for people; the agent,
    /// which prints no routes, saves a string per target and round.
    public var describesRoutes = true
    /// What the check talks to.
    public var environment: CheckEnvironment

    /// Builds a check. With `captureDirectory`, it captures and keeps the packets of failing flows there.
    public init(options: ProbeOptions, clusterMap: ClusterMap? = nil, names: IPRoute2Names = .builtIn,
                capture: Bool = false, captureDirectory: String? = nil, environment: CheckEnvironment? = nil) {
        self.options = options
        self.clusterMap = clusterMap
        self.names = names
        self.capture = capture || captureDirectory != nil
        self.environment = environment ?? .system(namespace: options.namespace, captureDirectory: captureDirectory)
    }

    /// What a run found: a report per spec, in order, and the capture's problems, one line each (an
    /// interface that could not be captured on, frames the kernel dropped: the evidence then undercounts).
    public struct Outcome: Sendable {
        public var reports: [TargetReport]
        public var captureProblems: [CaptureProblem]
    }

    /// Runs the check for every spec.
    public func run(_ specs: [ProbeSpec]) throws(ProbeError) -> Outcome {
        let routing = try environment.openRoutes()
        let links = try routing.links()
        let localAddresses = Set(try routing.localAddresses())
        let linksByIndex = Dictionary(links.map { ($0.index, $0) }, uniquingKeysWith: { first, _ in first })
        let text = RouteText(names: names, interfaceNames: linksByIndex.mapValues(\.name))
        let localNode = clusterMap?.nodes.first { node in node.addresses.contains(where: localAddresses.contains) }

        var targets: [IPAddress] = []
        var seen = Set<IPAddress>()
        for spec in specs where seen.insert(spec.target).inserted { targets.append(spec.target) }
        // Sized once, for the distinct targets: a table that grows by doubling holds the old and the new
        // storage at once, and at 1,000 targets that was a third of a round's peak heap.
        var routes: [IPAddress: RouteView] = [:]
        routes.reserveCapacity(targets.count)
        var options = self.options
        options.sourceAddresses.reserveCapacity(targets.count)
        for (target, answer) in zip(targets, try routing.routes(to: targets)) {
            switch answer {
            case .success(let route):
                if let source = route.preferredSource { options.sourceAddresses[target] = source }
                let egress = route.outputInterface.flatMap { linksByIndex[$0] }
                routes[target] = RouteView.classify(route, egress: egress, target: target, map: clusterMap,
                                                    localNode: localNode, text: describesRoutes ? text.line(route) : "")
            case .failure(let failure):
                routes[target] = RouteView.failedLookup(errno: failure.errno, text: failure.text)
            }
        }

        // Control probes: the host IP of each target's owner, of the target's family (a dual-stack node's IPv6
        // pod is checked against its IPv6 host address), so "node down" and "route missing" differ.
        let ownerIndices = specs.map { clusterMap?.ownerIndex(of: $0.target) }   // looked up once per spec
        var controls: [IPAddress: ClusterMap.Node] = [:]
        for (spec, index) in zip(specs, ownerIndices) {
            guard let clusterMap, let index else { continue }
            let owner = clusterMap.nodes[index]
            guard !owner.hasAddress(spec.target), owner != localNode,
                  let host = owner.address(of: spec.target.family) else { continue }
            controls[host] = owner
        }
        let controlSpecs = controls.keys.sorted().map { ProbeSpec(target: $0, probeProtocol: .icmp) }
        let echoIdentifier = UInt16.random(in: 1...UInt16.max)
        let scheduler = ProbeScheduler(options: options, echoIdentifier: echoIdentifier, probers: environment.probers(echoIdentifier))
        var running: (any FlowCapture)? = nil
        let devices = Set(routes.values.compactMap(\.device))
        let flows = ProbeFlows(specs: specs, echoIdentifier: echoIdentifier, localHardwareAddresses: links.compactMap(\.macAddress))
        var skipped: CaptureProblem? = nil
        if capture, let opener = environment.capture, !devices.isEmpty {
            do throws(ProbeError) {
                running = try opener.start(devices: devices.sorted(), filter: flows.filter)
            } catch {
                // Without the capability the probes still run (TCP falls back to connect()); only the
                // evidence is missing, and the outcome says so.
                guard case .missingCapability(let reason) = error else { throw error }
                skipped = .skipped(reason: reason)
            }
        }
        let results = try scheduler.run(specs + controlSpecs)
        let controlResults = Dictionary(uniqueKeysWithValues: zip(controlSpecs.map(\.target), results[specs.count...]))
        var evidence: [CaptureEvidence?] = []   // filled when a capture ran; a round without one keeps none
        var captured: [CapturedPacket] = []
        var flowOfPacket: [Int?] = []
        var problems: [CaptureProblem] = []
        if let skipped { problems.append(skipped) }
        if let running {
            (captured, problems) = running.stop()
            let matched = flows.evidence(from: captured)
            evidence = matched.evidence.map { Optional($0) }
            flowOfPacket = matched.flowOfPacket
        }

        var reports: [TargetReport] = []
        reports.reserveCapacity(specs.count)   // growing by doubling would hold two copies at the peak
        var owners: [Int: TargetReport.Owner] = [:]   // by position in the map's nodes, twice for a dual-stack node
        for index in specs.indices {
            let spec = specs[index]
            let shared = ownerIndices[index].flatMap { position -> TargetReport.Owner? in
                let key = position * 2 + (spec.target.family == .inet6 ? 1 : 0)
                if let known = owners[key] { return known }
                guard let node = clusterMap?.nodes[position] else { return nil }
                let made = TargetReport.Owner(node: node, control: node.address(of: spec.target.family).flatMap { controlResults[$0] })
                owners[key] = made
                return made
            }
            let owner = shared?.node
            let control = shared?.control
            let route = routes[spec.target]!
            let seenByCapture = evidence.isEmpty ? nil : evidence[index]
            let diagnosis = Diagnosis.diagnose(route: route, result: results[index], evidence: seenByCapture,
                                               owner: owner, control: control)
            if diagnosis.verdict != .reachable, let writer = environment.evidence, running != nil {
                let flowPackets = captured.indices.filter { flowOfPacket[$0] == index }.map { captured[$0] }
                if let linkType = flowPackets.first?.linkType {
                    let name = "\(spec.target)-\(spec.probeProtocol.rawValue)\(spec.port.map { "-\($0)" } ?? "")".replacingColons()
                    evidence[index]?.pcapPath = try writer.write(flowPackets, linkType: linkType, name: name)
                }
            }
            reports.append(TargetReport(route: route, result: results[index], evidence: evidence.isEmpty ? nil : evidence[index],
                                        owner: shared, diagnosis: diagnosis))
        }
        return Outcome(reports: reports, captureProblems: problems)
    }
}

extension String {
    /// IPv6 addresses in file names: colons become underscores.
    func replacingColons() -> String { String(map { $0 == ":" ? "_" : $0 }) }
}
