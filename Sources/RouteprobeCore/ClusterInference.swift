/// Cross-node inference (DESIGN.md, "The diagnosis model"): from the latest report of every source, which
/// pod CIDRs fail from everywhere (a VPC or node problem), which fail only from some sources (a source
/// problem), and what each failure means.
public struct ClusterInference: Sendable {
    /// Who owns what.
    public var cluster: ClusterMap
    /// Consecutive failed rounds before a source counts as failing a CIDR (the agents' failures-to-open).
    public var failuresToOpen: Int
    /// What the imported VPC route table says, if one was imported.
    public var vpcTable: VPCRouteDiff?

    /// Builds an inference over `cluster`.
    public init(cluster: ClusterMap, failuresToOpen: Int = 2, vpcTable: VPCRouteDiff? = nil) {
        self.cluster = cluster
        self.failuresToOpen = max(1, failuresToOpen)
        self.vpcTable = vpcTable
    }

    /// One source's standing towards one CIDR.
    private enum Standing { case reaches, fails, undecided }

    private struct SourceView {
        var node: String
        var probes: [ReportedProbe]
        var standing: Standing
        var controlAnswers: Bool?
    }

    /// The findings the reports support. `reports` holds the latest fresh report of each source.
    public func findings(reports: [AgentReport]) -> [ClusterFinding] {
        var findings: [ClusterFinding] = []
        var failingCIDRsBySource: [String: [(cidr: IPPrefix, owner: ClusterMap.Node)]] = [:]
        var reachingSourceCount: [IPPrefix: Int] = [:]
        var stray: [IPPrefix: [(node: String, packets: Int)]] = [:]
        for report in reports {
            for entry in report.strayTraffic where entry.packets > 0 { stray[entry.cidr, default: []].append((report.node, entry.packets)) }
        }
        var probesByCIDR: [IPPrefix: [String: [ReportedProbe]]] = [:]
        for report in reports {
            for probe in report.results {
                guard let cidr = probe.cidr ?? cluster.owner(of: probe.target)?.podCIDRs.first(where: { $0.contains(probe.target) }) else { continue }
                probesByCIDR[cidr, default: [:]][report.node, default: []].append(probe)
            }
        }
        var explainedCIDRs = Set<IPPrefix>()

        // The kernel-route check of each node needs no probes: pass its findings through.
        for report in reports {
            for local in report.localFindings where local.kind == .kernelRouteMissing || local.kind == .kernelRouteWrong {
                guard let cidr = local.cidr else { continue }
                let expected = local.expectedNode.map { ClusterFinding.NextHop(node: $0, ip: local.expectedIP) }
                let kind: ClusterFinding.Kind = local.kind == .kernelRouteMissing ? .kernelRouteMissing : .kernelRouteWrong
                let what = kind == .kernelRouteMissing ? "has no usable kernel route for" : "routes to the wrong node"
                findings.append(ClusterFinding(
                    kind: kind, subject: "\(report.node)|\(cidr)", cidr: cidr, expectedNextHop: expected, sources: [report.node],
                    evidence: ClusterFinding.Evidence(agreeing: 1, probing: 1),
                    message: "\(report.node) \(what) \(cidr)\(expected.map { " (owner \($0.text))" } ?? ""): \(local.message)",
                    remediation: "On \(report.node), restore the route \(cidr) via \(expected?.ip?.description ?? "its owner") (the CNI's host-gw routes), or restart the CNI agent there."))
                explainedCIDRs.insert(cidr)
            }
        }

        for owner in cluster.nodes {
            for cidr in owner.podCIDRs {
                let bySource = probesByCIDR[cidr] ?? [:]
                var views: [SourceView] = []
                for (source, probes) in bySource where source != owner.name {
                    let reaches = probes.contains { $0.outcome.pathWorks }
                    let confirmed = probes.allSatisfy { !$0.outcome.pathWorks && $0.failedRounds >= failuresToOpen }
                    let controls = probes.compactMap(\.controlOutcome)
                    views.append(SourceView(node: source, probes: probes,
                                            standing: reaches ? .reaches : (confirmed ? .fails : .undecided),
                                            controlAnswers: controls.isEmpty ? nil : controls.contains { $0.pathWorks }))
                }
                views.sort { $0.node < $1.node }
                let failing = views.filter { $0.standing == .fails }
                let decided = views.filter { $0.standing != .undecided }
                reachingSourceCount[cidr] = decided.count - failing.count
                if let finding = tableOnlyFinding(cidr: cidr, owner: owner, probed: !decided.isEmpty, failing: !failing.isEmpty) {
                    findings.append(finding)
                }
                guard !failing.isEmpty else { continue }
                // Sources whose own kernel explains the failure are reported as such (above), not as the VPC.
                let kernelExplained = failing.filter { view in
                    view.probes.contains { $0.verdict == .kernelRouteMissing || $0.verdict == .kernelRouteWrong }
                }
                if failing.count < decided.count {
                    // Sources report at their own pace: a failure must outlast two more rounds before it is
                    // blamed on the source, so that the others have reported since it began.
                    for view in failing where !kernelExplained.contains(where: { $0.node == view.node })
                        && view.probes.allSatisfy({ $0.failedRounds >= failuresToOpen + 2 }) {
                        failingCIDRsBySource[view.node, default: []].append((cidr, owner))
                    }
                    continue
                }
                // Every decided source fails, but another has only just started failing: wait for it (one of
                // its rounds at most), so the finding opens with the full m/n and not a premature 1/1.
                if views.contains(where: { $0.standing == .undecided }) { continue }
                if !kernelExplained.isEmpty {
                    if !explainedCIDRs.contains(cidr) {
                        for view in kernelExplained { findings.append(kernelFinding(from: view, cidr: cidr, owner: owner)) }
                    }
                    continue
                }
                if let finding = inferAllFailing(cidr: cidr, owner: owner, failing: failing, stray: stray[cidr] ?? []) {
                    findings.append(finding)
                }
            }
        }

        // A node that nobody reaches cannot reach anybody either: that is its nodeUnreachable finding.
        let unreachableNodes = Set(findings.filter { $0.kind == .nodeUnreachable }.compactMap { $0.expectedNextHop?.node })
        for (source, failed) in failingCIDRsBySource.sorted(by: { $0.key < $1.key }) where !unreachableNodes.contains(source) {
            let list = failed.map { "\($0.cidr) (\($0.owner.name))" }.joined(separator: ", ")
            let others = failed.map { reachingSourceCount[$0.cidr] ?? 0 }.min() ?? 0
            findings.append(ClusterFinding(
                kind: .sourceLocal, subject: source, cidr: nil, expectedNextHop: nil, sources: [source],
                evidence: ClusterFinding.Evidence(agreeing: 1, probing: 1 + others),
                message: "\(source) cannot reach \(list), which \(others) other source\(others == 1 ? "" : "s") reach: the problem is on \(source) (its uplink, firewall or security group), not in the VPC route table.",
                remediation: "Check \(source): its security group or network ACL, iptables rules and uplink; the VPC route entries are fine."))
        }
        for problem in vpcTable?.problems ?? [] where problem.kind == .stale || problem.kind == .overlap {
            let stale = problem.kind == .stale
            findings.append(ClusterFinding(
                kind: stale ? .vpcRouteStale : .vpcRouteOverlap, subject: problem.message, cidr: problem.cidr,
                expectedNextHop: nil, actualNextHop: problem.actualNextHop, sources: [],
                evidence: ClusterFinding.Evidence(vpcTable: problem.message, basis: "vpcTable"),
                message: "The imported VPC route table: \(problem.message).",
                remediation: stale ? "Delete the VPC route entry \(problem.cidr) (its next hop is no longer a node)."
                                   : "Remove one of the overlapping VPC route entries; the longer prefix wins and hides the other."))
        }
        return findings
    }

    private func kernelFinding(from view: SourceView, cidr: IPPrefix, owner: ClusterMap.Node) -> ClusterFinding {
        let missing = view.probes.contains { $0.verdict == .kernelRouteMissing }
        let kind: ClusterFinding.Kind = missing ? .kernelRouteMissing : .kernelRouteWrong
        let expected = ClusterFinding.NextHop(node: owner.name, ip: owner.ip)
        return ClusterFinding(
            kind: kind, subject: "\(view.node)|\(cidr)", cidr: cidr, expectedNextHop: expected, sources: [view.node],
            evidence: evidence(of: [view], probing: 1),
            message: "\(view.node) \(missing ? "has no usable kernel route for" : "routes to the wrong node") \(cidr) (owner \(expected.text)).",
            remediation: "On \(view.node), restore the route \(cidr) via \(owner.ip) or let the CNI recreate it.")
    }

    /// Every source that decided fails: name what the evidence points at.
    private func inferAllFailing(cidr: IPPrefix, owner: ClusterMap.Node, failing: [SourceView],
                                 stray: [(node: String, packets: Int)]) -> ClusterFinding? {
        let expected = ClusterFinding.NextHop(node: owner.name, ip: owner.ip)
        let entry = "\(cidr) -> \(expected.text)"
        let names = failing.map(\.node)
        let agree = "\(failing.count)/\(failing.count) sources agree (\(names.joined(separator: ", ")))"
        var base = evidence(of: failing, probing: failing.count)
        let table = vpcTable?.status(of: cidr)

        // Another node receives the CIDR's packets: the VPC entry points there.
        if let receiver = stray.filter({ $0.node != owner.name }).max(by: { ($0.packets, $1.node) < ($1.packets, $0.node) }) {
            let actualIP = cluster.node(named: receiver.node)?.ip
            let actual = ClusterFinding.NextHop(node: receiver.node, ip: actualIP)
            base.strayPackets = receiver.packets
            base.vpcTable = table?.text
            base.basis = table?.isWrongNextHop == true ? "probes+vpcTable" : "probes"
            return ClusterFinding(
                kind: .vpcRouteWrongNextHop, subject: cidr.description, cidr: cidr, expectedNextHop: expected, actualNextHop: actual,
                sources: names, evidence: base,
                message: "The VPC route entry for \(cidr) points to \(actual.text) instead of \(expected.text): \(receiver.node) sees \(receiver.packets) packet\(receiver.packets == 1 ? "" : "s") for it arrive; \(agree).",
                remediation: "Change the VPC route entry \(cidr) to next hop \(owner.name) (\(owner.ip)).")
        }

        // The owner's host is silent from every source that checked: the node, not the route.
        let controls = failing.compactMap(\.controlAnswers)
        if !controls.isEmpty, !controls.contains(true) {
            return ClusterFinding(
                kind: .nodeUnreachable, subject: owner.name, cidr: nil, expectedNextHop: expected, sources: names,
                evidence: base,
                message: "\(owner.name) (\(owner.ip)) does not answer on its host IP or its pods; \(agree). The node is down or partitioned; this is not a route problem.",
                remediation: "Check \(owner.name): is it running, is its uplink up, do its security groups allow the other nodes?")
        }

        // A router answers with ICMP errors.
        let errors = failing.flatMap(\.probes).filter { $0.outcome == .icmpError && $0.icmpFrom != nil && $0.icmpFrom != $0.target }
        if let first = errors.first, let router = first.icmpFrom {
            base.router = router
            base.icmpType = first.icmpType
            base.icmpCode = first.icmpCode
            return ClusterFinding(
                kind: .rejectedByRouter, subject: "\(cidr)|\(router)", cidr: cidr, expectedNextHop: expected, sources: names,
                evidence: base,
                message: "Router \(router) rejects traffic to \(cidr) (ICMP type \(first.icmpType.map(String.init) ?? "?") code \(first.icmpCode.map(String.init) ?? "?")); \(agree). Its route for \(entry) is wrong or missing.",
                remediation: "On router \(router), route \(cidr) to next hop \(owner.name) (\(owner.ip)).")
        }

        // Requests leave through the VPC gateway, nothing returns, the owner answers: the entry is missing.
        let viaVPC = failing.flatMap(\.probes).contains { $0.routeClass == .vpc }
        let timeouts = failing.flatMap(\.probes).allSatisfy { $0.outcome == .timeout }
        if viaVPC, timeouts {
            base.vpcTable = table?.text
            if let table { base.basis = table.isMissing ? "probes+vpcTable" : "probes" }
            let owns = controls.isEmpty ? "" : "; \(owner.name)'s host \(owner.ip) answers"
            return ClusterFinding(
                kind: .vpcRouteMissing, subject: cidr.description, cidr: cidr, expectedNextHop: expected, sources: names,
                evidence: base,
                message: "The VPC route entry \(entry) is missing, \(agree): probes to its pods leave through the VPC gateway and nothing comes back\(owns).",
                remediation: "Add the VPC route entry \(cidr) with next hop \(owner.name) (\(owner.ip)), or let the cloud controller manager recreate it.")
        }
        return nil
    }

    /// A problem the VPC table shows for a CIDR that probes have not confirmed (no sources, or none fail).
    private func tableOnlyFinding(cidr: IPPrefix, owner: ClusterMap.Node, probed: Bool, failing: Bool) -> ClusterFinding? {
        guard let status = vpcTable?.status(of: cidr), !failing else { return nil }
        let expected = ClusterFinding.NextHop(node: owner.name, ip: owner.ip)
        let reach = probed ? " (yet probes reach its pods: the table may be out of date, or another route covers it)" : ""
        if status.isMissing {
            return ClusterFinding(
                kind: .vpcRouteMissing, subject: cidr.description, cidr: cidr, expectedNextHop: expected, sources: [],
                evidence: ClusterFinding.Evidence(vpcTable: status.text, basis: "vpcTable"),
                message: "The imported VPC route table has no entry \(cidr) -> \(expected.text)\(reach).",
                remediation: "Add the VPC route entry \(cidr) with next hop \(owner.name) (\(owner.ip)).")
        }
        if status.isWrongNextHop, let actual = status.actualNextHop {
            return ClusterFinding(
                kind: .vpcRouteWrongNextHop, subject: cidr.description, cidr: cidr, expectedNextHop: expected,
                actualNextHop: actual, sources: [],
                evidence: ClusterFinding.Evidence(vpcTable: status.text, basis: "vpcTable"),
                message: "The imported VPC route table sends \(cidr) to \(actual.text) instead of \(expected.text)\(reach).",
                remediation: "Change the VPC route entry \(cidr) to next hop \(owner.name) (\(owner.ip)).")
        }
        return nil
    }

    private func evidence(of views: [SourceView], probing: Int) -> ClusterFinding.Evidence {
        let probes = views.flatMap(\.probes)
        return ClusterFinding.Evidence(agreeing: views.count, probing: probing, sent: probes.reduce(0) { $0 + $1.sent },
                                       received: probes.reduce(0) { $0 + $1.received })
    }
}
