import RouteprobeCapture
import RouteprobeCore
import RouteprobeNetlink
#if canImport(Glibc)
import Glibc
#endif

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
    /// Write the packets of failing flows as pcap files here (implies `capture`).
    public var captureDirectory: String?

    /// Builds a check.
    public init(options: ProbeOptions, clusterMap: ClusterMap? = nil, names: IPRoute2Names = .builtIn,
                capture: Bool = false, captureDirectory: String? = nil) {
        self.options = options
        self.clusterMap = clusterMap
        self.names = names
        self.capture = capture || captureDirectory != nil
        self.captureDirectory = captureDirectory
    }


    /// Runs the check for every spec and reports in the same order.
    public func run(_ specs: [ProbeSpec]) throws(ProbeError) -> [TargetReport] {
        var ignored: [String] = []
        return try run(specs, captureProblems: &ignored)
    }

    /// Runs the check, and adds the capture's problems to `captureProblems`, one line each: an interface
    /// that could not be captured on, or frames the kernel dropped (the evidence then undercounts).
    public func run(_ specs: [ProbeSpec], captureProblems: inout [String]) throws(ProbeError) -> [TargetReport] {
        let socket: RoutingSocket
        let links: [Link]
        let localAddresses: Set<IPAddress>
        do throws(NetlinkError) {
            socket = try RoutingSocket(namespace: options.namespace)
            links = try socket.links()
            localAddresses = Set(try socket.addresses().map(\.address))
        } catch {
            if case .namespace = error { throw ProbeError.namespace(error.description) }
            throw ProbeError.routing(error.description)
        }
        let linksByIndex = Dictionary(links.map { ($0.index, $0) }, uniquingKeysWith: { first, _ in first })
        let interfaceNames = linksByIndex.mapValues(\.name)
        let text = RouteText(names: names, interfaceNames: interfaceNames)
        let localNode = clusterMap?.nodes.first { localAddresses.contains($0.ip) }

        var routes: [IPAddress: RouteView] = [:]
        var options = self.options
        for target in Set(specs.map(\.target)) {
            do throws(NetlinkError) {
                let route = try socket.lookup(target)
                if let source = route.preferredSource { options.sourceAddresses[target] = source }
                let egress = route.outputInterface.flatMap { linksByIndex[$0] }
                routes[target] = RouteView.classify(route, egress: egress, target: target, map: clusterMap,
                                                    localNode: localNode, text: text.line(route))
            } catch {
                guard let code = error.errno, case .noRoute = error else { throw ProbeError.routing(error.description) }
                routes[target] = RouteView.failedLookup(errno: code, text: error.description)
            }
        }

        // Control probes: the host IP of each target's owner, so "node down" and "route missing" differ.
        var controls: [IPAddress: ClusterMap.Node] = [:]
        for spec in specs {
            guard let owner = clusterMap?.owner(of: spec.target), owner.ip != spec.target, owner != localNode else { continue }
            controls[owner.ip] = owner
        }
        let controlSpecs = controls.keys.sorted().map { ProbeSpec(target: $0, probeProtocol: .icmp) }
        let scheduler = ProbeScheduler(options: options)
        var capture: PacketCapture? = nil
        if self.capture {
            let devices = Set(routes.values.compactMap(\.device))
            let flows = ProbeFlows(specs: specs, echoIdentifier: scheduler.echoIdentifier)
            if !devices.isEmpty {
                do throws(CaptureError) {
                    capture = try PacketCapture(devices: Array(devices), filter: flows.filter, namespace: options.namespace)
                } catch {
                    throw ProbeError.capture(error.description)
                }
                capture?.start()
            }
        }
        let results = try scheduler.run(specs + controlSpecs)
        let controlResults = Dictionary(uniqueKeysWithValues: zip(controlSpecs.map(\.target), results[specs.count...]))
        var evidence = [CaptureEvidence?](repeating: nil, count: specs.count)
        var captured: [CapturedPacket] = []
        var flowOfPacket: [Int?] = []
        if let capture {
            // Packet sockets see a frame before the probing socket does, so what answered is in the ring
            // already; a short pause lets the capture thread drain it.
            usleep(5_000)
            captured = capture.stop()
            captureProblems += capture.problems
            let matched = ProbeFlows(specs: specs, echoIdentifier: scheduler.echoIdentifier,
                                     localHardwareAddresses: links.map(\.hardwareAddress)).evidence(from: captured)
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
            let flowPackets = diagnosis.verdict == .reachable || captureDirectory == nil
                ? [] : captured.indices.filter { flowOfPacket[$0] == index }.map { captured[$0] }
            if let directory = captureDirectory, let linkType = flowPackets.first?.linkType {
                let name = "\(spec.target)-\(spec.probeProtocol.rawValue)\(spec.port.map { "-\($0)" } ?? "").pcap"
                    .replacingColons()
                let path = directory.hasSuffix("/") ? directory + name : directory + "/" + name
                do throws(CaptureError) {
                    try PcapFile.write(flowPackets, linkType: linkType, to: path)
                    evidence[index]?.pcapPath = path
                } catch {
                    throw ProbeError.capture(error.description)
                }
            }
            reports.append(TargetReport(spec: spec, route: route, result: results[index], evidence: evidence[index],
                                        owner: owner, control: control, diagnosis: diagnosis))
        }
        return reports
    }
}

extension String {
    /// IPv6 addresses in file names: colons become underscores.
    func replacingColons() -> String { String(map { $0 == ":" ? "_" : $0 }) }
}
