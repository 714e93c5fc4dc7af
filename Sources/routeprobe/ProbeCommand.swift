import ArgumentParser
import RouteprobeCommandSupport
import Foundation
import RouteprobeConfiguration
import RouteprobeCore
import RouteprobeNetlink
import RouteprobeSystem
import RouteprobeProbing

/// `routeprobe probe`: probe targets once and say what each failure means.
struct ProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        _superCommandName: "routeprobe",
        abstract: "Probe targets with ICMP and TCP and explain every failure.",
        discussion: """
            For each target: the kernel's route (as `ip route get`), ICMP and/or TCP probes, a capture of the \
            probe flows (with --capture-dir, failing flows are written as pcap files), and a verdict: \
            reachable, vpcRouteMissing, kernelRouteMissing, kernelRouteWrong, rejectedByRouter, \
            nodeUnreachable or unknown. With --cluster-map, targets inside a node's pod CIDR are judged \
            against a control probe of that node's host IP, and node names are accepted as targets. \
            Without --icmp or --tcp: ICMP, plus TCP to the map's probePort when a map is given. \
            Exit status: 0 all reachable, 1 any not, 2 usage error.
            """
    )

    @Argument(help: "Addresses, host names, or node names from the cluster map (a node name means its pod targets).")
    var targets: [String]

    @Option(name: .long, help: "Probe this TCP port: half-open SYNs with CAP_NET_RAW, else a connect() per probe.")
    var tcp: UInt16?

    @Flag(name: .long, help: "Probe with ICMP echo (needs CAP_NET_RAW).")
    var icmp = false

    @Option(name: .long, help: "Attempts per target.")
    var count: Int = 1

    @Option(name: .long, help: "How long each attempt waits, e.g. 500ms, 2s.")
    var timeout: String = "2s"

    @Option(name: .long, help: "Probe from this network namespace (a name from `ip netns` or a path).")
    var netns: String?

    @Option(name: .long, help: "Cluster map file (YAML or JSON): which node owns which pod CIDR.")
    var clusterMap: String?

    @Option(name: .long, help: "Write the packets of failing flows as pcap files into this directory.")
    var captureDir: String?

    @Flag(inversion: .prefixedNo, help: "Capture the probe flows with libpcap (needs CAP_NET_RAW).")
    var capture = true

    @Flag(name: .long, help: "Print a JSON array, one object per target and protocol.")
    var json = false

    /// The options of `probe` that take a value, so that their values are not mistaken for targets.
    private static let optionsWithValues: Set<String> = ["--tcp", "--count", "--timeout", "--netns", "--cluster-map", "--capture-dir"]

    /// With many targets: removes the positional targets from `probe`'s arguments (those after the word
    /// `probe`) but the first, and returns them all; nil (arguments untouched) for a short list.
    static func extractTargets(_ arguments: inout [String]) -> [String]? {
        guard arguments.count > 32 else { return nil }
        var kept: [String] = [], targets: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--" {
                targets.append(contentsOf: arguments[(index + 1)...])
                break
            }
            if argument.hasPrefix("-") {
                kept.append(argument)
                if optionsWithValues.contains(argument), index + 1 < arguments.count {
                    kept.append(arguments[index + 1])
                    index += 1
                }
            } else {
                targets.append(argument)
            }
            index += 1
        }
        guard let first = targets.first else { return nil }
        arguments = kept + [first]
        return targets
    }

    func validate() throws {
        if count < 1 || count > 100 { throw ValidationError("--count must be 1 to 100") }
        if tcp == 0 { throw ValidationError("--tcp must be a port from 1 to 65535") }
        guard let parsed = DurationText.parse(timeout), parsed > .zero, parsed <= .seconds(60) else {
            throw ValidationError("--timeout '\(timeout)' is not a duration such as 500ms or 2s (at most 1m)")
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
            throw CommandFailure(error.description, exitCode: 2)
        }
        let reports = outcome.reports
        for problem in outcome.captureProblems { FileHandle.standardError.write(Data("routeprobe probe: \(problem)\n".utf8)) }
        if json {
            writeToStandardOutput(ProbeReportFormat.json(reports))
        } else {
            writeToStandardOutput(ProbeReportFormat.text(reports))
        }
        if reports.contains(where: { $0.diagnosis.verdict != .reachable }) { throw ExitCode(1) }
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
                out.append("  control:  "); out.append(owner.name); out.append("'s host "); out.append(owner.ip.description)
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
