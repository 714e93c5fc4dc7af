// One whole check: route lookups, probes with control probes of the owners' hosts, an optional capture of
// the probe flows, a diagnosis per target and the packets of failing flows kept. Everything it talks to is
// reached through its CheckEnvironment, so the verdicts are tested on fakes and the kernel parts in the lab.
import RouteprobeCapture
import RouteprobeCore

/// Everything routeprobe learned about one probe of one target.
public struct TargetReport: Sendable {
    /// What was probed.
    public var spec: ProbeSpec
    /// The kernel's route for it.
    public var route: RouteView
    /// The probe's result.
    public var result: ProbeResult
    /// What the capture saw, when one ran.
    public var evidence: CaptureEvidence?
    /// The node owning the target's pod CIDR.
    public var owner: ClusterMap.Node?
    /// The control probe of the owner's host IP.
    public var control: ProbeResult?
    /// The verdict and its sentence.
    public var diagnosis: Diagnosis

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
        let localNode = clusterMap?.nodes.first { localAddresses.contains($0.ip) }

        var routes: [IPAddress: RouteView] = [:]
        var options = self.options
        var targets: [IPAddress] = []
        var seen = Set<IPAddress>()
        for spec in specs where seen.insert(spec.target).inserted { targets.append(spec.target) }
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

        // Control probes: the host IP of each target's owner, so "node down" and "route missing" differ.
        var controls: [IPAddress: ClusterMap.Node] = [:]
        for spec in specs {
            guard let owner = clusterMap?.owner(of: spec.target), owner.ip != spec.target, owner != localNode else { continue }
            controls[owner.ip] = owner
        }
        let controlSpecs = controls.keys.sorted().map { ProbeSpec(target: $0, probeProtocol: .icmp) }
        let echoIdentifier = UInt16.random(in: 1...UInt16.max)
        let scheduler = ProbeScheduler(options: options, echoIdentifier: echoIdentifier, probers: environment.probers(echoIdentifier))
        var running: (any FlowCapture)? = nil
        let devices = Set(routes.values.compactMap(\.device))
        let flows = ProbeFlows(specs: specs, echoIdentifier: echoIdentifier, localHardwareAddresses: links.compactMap(\.macAddress))
        if capture, let opener = environment.capture, !devices.isEmpty {
            running = try opener.start(devices: devices.sorted(), filter: flows.filter)
        }
        let results = try scheduler.run(specs + controlSpecs)
        let controlResults = Dictionary(uniqueKeysWithValues: zip(controlSpecs.map(\.target), results[specs.count...]))
        var evidence = [CaptureEvidence?](repeating: nil, count: specs.count)
        var captured: [CapturedPacket] = []
        var flowOfPacket: [Int?] = []
        var problems: [CaptureProblem] = []
        if let running {
            (captured, problems) = running.stop()
            let matched = flows.evidence(from: captured)
            evidence = matched.evidence.map { Optional($0) }
            flowOfPacket = matched.flowOfPacket
        }

        var reports: [TargetReport] = []
        reports.reserveCapacity(specs.count)   // 464 bytes each: growing by doubling would copy a megabyte at 2,000 probes
        for index in specs.indices {
            let spec = specs[index]
            let owner = clusterMap?.owner(of: spec.target)
            let control = owner.flatMap { controlResults[$0.ip] }
            let route = routes[spec.target]!
            let diagnosis = Diagnosis.diagnose(route: route, result: results[index], evidence: evidence[index],
                                               owner: owner, control: control)
            if diagnosis.verdict != .reachable, let writer = environment.evidence, running != nil {
                let flowPackets = captured.indices.filter { flowOfPacket[$0] == index }.map { captured[$0] }
                if let linkType = flowPackets.first?.linkType {
                    let name = "\(spec.target)-\(spec.probeProtocol.rawValue)\(spec.port.map { "-\($0)" } ?? "")".replacingColons()
                    evidence[index]?.pcapPath = try writer.write(flowPackets, linkType: linkType, name: name)
                }
            }
            reports.append(TargetReport(spec: spec, route: route, result: results[index], evidence: evidence[index],
                                        owner: owner, control: control, diagnosis: diagnosis))
        }
        return Outcome(reports: reports, captureProblems: problems)
    }
}

extension String {
    /// IPv6 addresses in file names: colons become underscores.
    func replacingColons() -> String { String(map { $0 == ":" ? "_" : $0 }) }
}
