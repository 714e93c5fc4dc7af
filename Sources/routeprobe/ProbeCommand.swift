import RouteprobeCommandSupport
import Foundation
import RouteprobeConfiguration
import RouteprobeCore
import RouteprobeNetlink
import RouteprobeSystem
import RouteprobeProbing

/// `routeprobe probe`: probe targets once and say what each failure means.
struct ProbeCommand: Tool {
    static let tool = ToolDescription(
        path: ["probe"],
        abstract: "Probe targets with ICMP and TCP and explain every failure.",
        discussion: """
            For each target: the kernel's route (as `ip route get`), ICMP and/or TCP probes, a capture of the \
            probe flows (with --capture-dir, failing flows are written as pcap files), and a verdict: \
            reachable, vpcRouteMissing, kernelRouteMissing, kernelRouteWrong, rejectedByRouter, \
            nodeUnreachable or unknown. With --cluster-map, targets inside a node's pod CIDR are judged \
            against a control probe of that node's host IP, and node names are accepted as targets. \
            Without --icmp or --tcp: ICMP, plus TCP to the map's probePort when a map is given. \
            Exit status: 0 all reachable, 1 any not, 2 usage error.
            """,
        arguments: [ToolArgument("targets", help: "Addresses, host names, or node names from the cluster map (a node name means its pod targets).",
                                 repeating: true)],
        options: [
            ToolOption("tcp", .value(placeholder: "tcp"), help: "Probe this TCP port: half-open SYNs with CAP_NET_RAW, else a connect() per probe."),
            ToolOption("icmp", .flag, help: "Probe with ICMP echo (needs CAP_NET_RAW)."),
            ToolOption("count", .value(placeholder: "count"), help: "Attempts per target.", default: "1"),
            ToolOption("timeout", .value(placeholder: "timeout"), help: "How long each attempt waits, e.g. 500ms, 2s.", default: "2s"),
            ToolOption("netns", .value(placeholder: "netns"), help: "Probe from this network namespace (a name from `ip netns` or a path)."),
            ToolOption("cluster-map", .value(placeholder: "cluster-map"), help: "Cluster map file (YAML or JSON): which node owns which pod CIDR."),
            ToolOption("capture-dir", .value(placeholder: "capture-dir"), help: "Write the packets of failing flows as pcap files into this directory."),
            ToolOption("capture", .invertibleFlag, help: "Capture the probe flows with libpcap (needs CAP_NET_RAW).", default: "--capture"),
            ToolOption("json", .flag, help: "Print a JSON array, one object per target and protocol."),
        ])

    var targets: [String]
    var tcp: UInt16?
    var icmp: Bool
    var count: Int
    var timeout: String
    var netns: String?
    var clusterMap: String?
    var captureDir: String?
    var capture: Bool
    var json: Bool

    init(_ line: ToolCommandLine) throws(CommandFailure) {
        targets = line.positionals
        tcp = try line.integer("tcp", in: UInt16(1)...UInt16.max, default: nil, tool: Self.tool)
        icmp = line.flag("icmp")
        count = try line.integer("count", in: 1...100, default: 1, tool: Self.tool)!
        timeout = line.value("timeout") ?? "2s"
        netns = line.value("netns")
        clusterMap = line.value("cluster-map")
        captureDir = line.value("capture-dir")
        capture = line.flag("capture", default: true)
        json = line.flag("json")
        guard let parsed = DurationText.parse(timeout), parsed > .zero, parsed <= .seconds(60) else {
            throw Self.tool.usage("--timeout '\(timeout)' is not a duration such as 500ms or 2s (at most 1m)")
        }
        _ = parsed
    }

    func run() throws {
        let map: ClusterMap?
        do { map = try clusterMap.map { path throws(ConfigurationError) in try ClusterMapFile.load(path: path) } } catch {
            throw CommandFailure.usage(error.description)
        }
        var addresses: [IPAddress] = []
        for target in targets {
            if let address = IPAddress(target) {
                addresses.append(address)
            } else if let node = map?.node(named: target) {
                addresses.append(contentsOf: node.probeTargets)
            } else if let problem = IPAddress.shapeProblem(target) {
                // Shaped like an address but none: no host is called that, so do not ask DNS (it may take seconds).
                throw CommandFailure.usage(problem)
            } else if let resolved = HostResolver.resolve(target) {
                addresses.append(resolved)
            } else {
                throw CommandFailure.usage("unknown host '\(target)': not an address, not a node in the cluster map, and it does not resolve")
            }
        }
        var specs: [ProbeSpec] = []
        let useICMP = icmp || tcp == nil
        let port = tcp ?? (icmp ? nil : map?.probePort)
        for address in addresses {
            if useICMP { specs.append(ProbeSpec(target: address, probeProtocol: .icmp)) }
            if let port { specs.append(ProbeSpec(target: address, probeProtocol: .tcp, port: port)) }
        }
        let options = ProbeOptions(count: count, timeout: DurationText.parse(timeout)!, namespace: netns.map(NetworkNamespace.init))
        if captureDir != nil, !capture { throw CommandFailure.usage("--capture-dir needs the capture; drop --no-capture") }
        if let captureDir {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: captureDir, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw CommandFailure.usage("--capture-dir \(captureDir) is not a directory")
            }
        }
        let check = ReachabilityCheck(options: options, clusterMap: map, names: .loadSystem(), capture: capture,
                                      captureDirectory: captureDir)
        let outcome: ReachabilityCheck.Outcome
        do { outcome = try check.run(specs) } catch {
            // A missing permission is a failure of this run (1), like an unreachable target; not a usage error.
            if case .missingCapability = error { throw CommandFailure(error.description, exitCode: 1) }
            throw CommandFailure(error.description, exitCode: 2)
        }
        let reports = outcome.reports
        for problem in outcome.captureProblems { FileHandle.standardError.write(Data("routeprobe probe: \(problem)\n".utf8)) }
        if json {
            writeToStandardOutput(ProbeReportFormat.json(reports))
        } else {
            writeToStandardOutput(ProbeReportFormat.text(reports))
        }
        if reports.contains(where: { $0.diagnosis.verdict != .reachable }) { throw ExitStatus(1) }
    }
}

/// How probe reports are printed.
enum ProbeReportFormat {
    /// One block per target, as UTF-8 (see TextBuffer: a thousand targets make 400 kB of text).
    static func text(_ reports: [TargetReport]) -> [UInt8] {
        var out = TextBuffer(capacity: reports.count * 512)
        for index in reports.indices {
            let spec = reports[index].spec
            out.append(spec.target.description)
            out.append(" (")
            out.append(spec.probeProtocol.rawValue)
            if let port = spec.port { out.append(" "); out.append(port) }
            out.append(")\n  route:    ")
            out.append(reports[index].route.text)
            out.append("  [")
            out.append(reports[index].route.routeClass.rawValue)
            out.append("]\n  outcome:  ")
            let result = reports[index].result
            out.append(result.outcome.rawValue)
            out.append(" ("); out.append(result.sent); out.append(" sent, "); out.append(result.received); out.append(" answered")
            if let rtt = result.rttText { out.append(", "); out.append(rtt) }
            out.append(")")
            if let icmp = result.icmpError { out.append("; "); out.append(icmp.from.description); out.append(": "); out.append(icmp.meaning) }
            if let code = result.localErrno { out.append("; "); out.append(ErrnoName.symbol(code)) }
            out.append("\n")
            if let evidence = reports[index].evidence {
                out.append("  capture:  "); out.append(evidence.requestsSeen); out.append(" requests left ")
                out.append(evidence.interfaces.count == 1 ? evidence.interfaces[0] : evidence.interfaces.joined(separator: ","))
                if let hop = evidence.nextHopMAC { out.append(" to "); out.append(hop.description) }
                out.append(", "); out.append(evidence.retransmissions); out.append(" retransmitted, ")
                out.append(evidence.repliesSeen); out.append(" replies, ")
                out.append(evidence.icmpErrors.count); out.append(" ICMP errors")
                if let file = evidence.pcapPath { out.append("; "); out.append(file) }
                out.append("\n")
            }
            if let owner = reports[index].owner, let control = reports[index].control {
                out.append("  control:  "); out.append(owner.name); out.append("'s host "); out.append(control.spec.target.description)
                out.append(": "); out.append(control.outcome.rawValue); out.append("\n")
            }
            out.append("  verdict:  "); out.append(reports[index].diagnosis.verdict.rawValue)
            out.append("\n  "); out.append(reports[index].diagnosis.message); out.append("\n\n")
        }
        return out.bytes
    }

    static func json(_ reports: [TargetReport]) -> String {
        let objects: [[String: Any]] = reports.map { report in
            let evidence = report.evidence
            let icmp = report.result.icmpError ?? evidence?.icmpErrors.first
            return [
                "target": report.spec.target.description,
                "protocol": report.spec.probeProtocol.rawValue,
                "port": report.spec.port.map { Int($0) as Any } ?? NSNull(),
                "route": [
                    "class": report.route.routeClass.rawValue,
                    "dev": report.route.device as Any? ?? NSNull(),
                    "gateway": report.route.gateway?.description as Any? ?? NSNull(),
                    "text": report.route.text,
                ] as [String: Any],
                "outcome": report.result.outcome.rawValue,
                "verdict": report.diagnosis.verdict.rawValue,
                "rttMs": report.result.rttMilliseconds as Any? ?? NSNull(),
                "evidence": [
                    "sent": evidence?.requestsSeen ?? report.result.sent,
                    "received": evidence?.repliesSeen ?? report.result.received,
                    "retransmissions": evidence?.retransmissions ?? 0,
                    "icmpFrom": icmp?.from.description as Any? ?? NSNull(),
                    "icmpType": icmp.map { Int($0.type) as Any } ?? NSNull(),
                    "icmpCode": icmp.map { Int($0.code) as Any } ?? NSNull(),
                    "pcap": evidence?.pcapPath as Any? ?? NSNull(),
                ] as [String: Any],
                "control": report.control.map { ["target": $0.spec.target.description, "outcome": $0.outcome.rawValue] as Any } ?? NSNull(),
                "message": report.diagnosis.message,
            ]
        }
        let data = (try? JSONSerialization.data(withJSONObject: objects, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("[]".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
