/// Cross-node inference (DESIGN.md, "The diagnosis model"): from the latest report of every source, which
/// pod CIDRs fail from everywhere (a VPC or node problem), which fail only from some sources (a source
/// problem), and what each failure means.
public struct ClusterInference: Sendable {
    /// Who owns what.
    public var cluster: ClusterMap
    /// What the imported VPC route table says, if one was imported.
    public var vpcTable: VPCRouteDiff?

    /// Builds an inference over `cluster`. A source counts as failing a CIDR once its probes have failed for
    /// as many consecutive rounds as its own agent needs to open a finding (the report's `openAfter`).
    public init(cluster: ClusterMap, vpcTable: VPCRouteDiff? = nil) {
        self.cluster = cluster
        self.vpcTable = vpcTable
    }

    /// One source's standing towards one CIDR.
    private enum Standing { case reaches, fails, undecided }

    private struct SourceView {
        var node: String
        var probes: [ReportedProbe]
        var openAfter: Int
        var standing: Standing
        var controlAnswers: Bool?
    }

    /// The findings the reports support. `reports` holds the latest fresh report of each source.
    public func findings(reports: [AgentReport]) -> [Finding] {
        var findings: [Finding] = []
        let openAfter = Dictionary(reports.map { ($0.node, max(1, $0.openAfter)) }, uniquingKeysWith: { first, _ in first })
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
                // The owner as the cluster knows it, not as the report says.
                let owner = cluster.owner(of: cidr.address)
                let expected = owner.map { Finding.NextHop($0, for: cidr) } ?? local.expectedNextHop
                let what = local.kind == .kernelRouteMissing ? "has no usable kernel route for" : "routes to the wrong node"
                findings.append(Finding(
                    kind: local.kind, scope: .cluster, subject: "\(report.node)|\(cidr)", cidr: cidr, expectedNextHop: expected,
                    sources: [report.node], evidence: Finding.Evidence(agreeing: 1, probing: 1),
                    message: "\(report.node) \(what) \(cidr)\(expected.map { " (owner \($0.text))" } ?? ""): \(local.message)",
                    remediation: Finding.remediation(kind: local.kind, source: report.node, cidr: cidr, owner: owner)))
                explainedCIDRs.insert(cidr)
            }
        }

        for owner in cluster.nodes {
            for cidr in owner.podCIDRs {
                let bySource = probesByCIDR[cidr] ?? [:]
                var views: [SourceView] = []
                for (source, probes) in bySource where source != owner.name {
                    let needed = openAfter[source] ?? 1
                    let reaches = probes.contains { $0.outcome.pathWorks }
                    let confirmed = probes.allSatisfy { !$0.outcome.pathWorks && $0.failedRounds >= needed }
                    let controls = probes.compactMap(\.controlOutcome)
                    views.append(SourceView(node: source, probes: probes, openAfter: needed,
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
                        && view.probes.allSatisfy({ $0.failedRounds >= view.openAfter + 2 }) {
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
            findings.append(Finding(
                kind: .sourceLocal, scope: .cluster, subject: source, cidr: nil, expectedNextHop: nil, sources: [source],
                evidence: Finding.Evidence(agreeing: 1, probing: 1 + others),
                message: "\(source) cannot reach \(list), which \(others) other source\(others == 1 ? "" : "s") reach: the problem is on \(source) (its uplink, firewall or security group), not in the VPC route table.",
                remediation: Finding.remediation(kind: .sourceLocal, source: source, cidr: nil, owner: nil)))
        }
        // What the imported table alone says: entries that point nowhere, hide each other, disagree or are not
        // provisioned, and a table close to its limit (one finding, whatever its count: the subject stays).
        let tableKinds: [VPCRouteDiff.Problem.Kind: Finding.Kind] = [
            .stale: .vpcRouteStale, .overlap: .vpcRouteOverlap, .conflict: .vpcRouteConflict,
            .notProvisioned: .vpcRouteNotProvisioned, .nearlyFull: .vpcRouteTableNearlyFull,
        ]
        for problem in vpcTable?.problems ?? [] {
            guard let kind = tableKinds[problem.kind] else { continue }
            findings.append(Finding(
                kind: kind, scope: .cluster, subject: kind == .vpcRouteTableNearlyFull ? "route-table" : problem.message, cidr: problem.cidr,
                expectedNextHop: nil, actualNextHop: problem.actualNextHop, sources: [],
                evidence: Finding.Evidence(agreeing: 0, probing: 0, vpcTable: problem.message, basis: .vpcTable),
                message: "The imported VPC route table: \(problem.message).",
                remediation: Finding.remediation(kind: kind, source: "", cidr: problem.cidr, owner: nil)))
        }
        return findings
    }

    private func kernelFinding(from view: SourceView, cidr: IPPrefix, owner: ClusterMap.Node) -> Finding {
        let missing = view.probes.contains { $0.verdict == .kernelRouteMissing }
        let kind: Finding.Kind = missing ? .kernelRouteMissing : .kernelRouteWrong
        let expected = Finding.NextHop(owner, for: cidr)
        return Finding(
            kind: kind, scope: .cluster, subject: "\(view.node)|\(cidr)", cidr: cidr, expectedNextHop: expected, sources: [view.node],
            evidence: evidence(of: [view], probing: 1),
            message: "\(view.node) \(missing ? "has no usable kernel route for" : "routes to the wrong node") \(cidr) (owner \(expected.text)).",
            remediation: Finding.remediation(kind: kind, source: view.node, cidr: cidr, owner: owner))
    }

    /// Every source that decided fails: name what the evidence points at.
    private func inferAllFailing(cidr: IPPrefix, owner: ClusterMap.Node, failing: [SourceView],
                                 stray: [(node: String, packets: Int)]) -> Finding? {
        let expected = Finding.NextHop(owner, for: cidr)
        let entry = "\(cidr) -> \(expected.text)"
        let names = failing.map(\.node)
        let agree = "\(failing.count)/\(failing.count) sources agree (\(names.joined(separator: ", ")))"
        var base = evidence(of: failing, probing: failing.count)
        let table = vpcTable?.status(of: cidr)

        // Another node receives the CIDR's packets: the VPC entry points there.
        if let receiver = stray.filter({ $0.node != owner.name }).max(by: { ($0.packets, $1.node) < ($1.packets, $0.node) }) {
            let actualIP = cluster.node(named: receiver.node)?.ip
            let actual = Finding.NextHop(node: receiver.node, ip: actualIP)
            base.strayPackets = receiver.packets
            base.vpcTable = table?.text
            base.basis = table?.isWrongNextHop == true ? .probesAndVPCTable : .probes
            return Finding(
                kind: .vpcRouteWrongNextHop, scope: .cluster, subject: cidr.description, cidr: cidr, expectedNextHop: expected, actualNextHop: actual,
                sources: names, evidence: base,
                message: "The VPC route entry for \(cidr) points to \(actual.text) instead of \(expected.text): \(receiver.node) sees \(receiver.packets) packet\(receiver.packets == 1 ? "" : "s") for it arrive; \(agree).",
                remediation: Finding.remediation(kind: .vpcRouteWrongNextHop, source: "", cidr: cidr, owner: owner))
        }

        // The owner's host is silent from every source that checked: the node, not the route.
        let controls = failing.compactMap(\.controlAnswers)
        if !controls.isEmpty, !controls.contains(true) {
            return Finding(
                kind: .nodeUnreachable, scope: .cluster, subject: owner.name, cidr: nil, expectedNextHop: expected, sources: names,
                evidence: base,
                message: "\(owner.name) (\(owner.ip)) does not answer on its host IP or its pods; \(agree). The node is down or partitioned; this is not a route problem.",
                remediation: Finding.remediation(kind: .nodeUnreachable, source: "", cidr: nil, owner: owner))
        }

        // A router answers with ICMP errors.
        let errors = failing.flatMap(\.probes).filter { $0.outcome == .icmpError && $0.icmpFrom != nil && $0.icmpFrom != $0.target }
        if let first = errors.first, let router = first.icmpFrom {
            base.router = router
            base.icmpType = first.icmpType
            base.icmpCode = first.icmpCode
            return Finding(
                kind: .rejectedByRouter, scope: .cluster, subject: "\(cidr)|\(router)", cidr: cidr, expectedNextHop: expected, sources: names,
                evidence: base,
                message: "Router \(router) rejects traffic to \(cidr) (ICMP type \(first.icmpType.map(String.init) ?? "?") code \(first.icmpCode.map(String.init) ?? "?")); \(agree). Its route for \(entry) is wrong or missing.",
                remediation: Finding.remediation(kind: .rejectedByRouter, source: "", cidr: cidr, owner: owner, router: router))
        }

        // Requests leave through the VPC gateway, nothing returns, the owner answers: the entry is missing.
        let viaVPC = failing.flatMap(\.probes).contains { $0.routeClass == .vpc }
        let timeouts = failing.flatMap(\.probes).allSatisfy { $0.outcome == .timeout }
        if viaVPC, timeouts {
            base.vpcTable = table?.text
            if let table { base.basis = table.isMissing ? .probesAndVPCTable : .probes }
            let owns = controls.isEmpty ? "" : "; \(owner.name)'s host \(owner.ip) answers"
            return Finding(
                kind: .vpcRouteMissing, scope: .cluster, subject: cidr.description, cidr: cidr, expectedNextHop: expected, sources: names,
                evidence: base,
                message: "The VPC route entry \(entry) is missing, \(agree): probes to its pods leave through the VPC gateway and nothing comes back\(owns).",
                remediation: Finding.remediation(kind: .vpcRouteMissing, source: "", cidr: cidr, owner: owner))
        }
        return nil
    }

    /// A problem the VPC table shows for a CIDR that probes have not confirmed (no sources, or none fail).
    private func tableOnlyFinding(cidr: IPPrefix, owner: ClusterMap.Node, probed: Bool, failing: Bool) -> Finding? {
        guard let status = vpcTable?.status(of: cidr), !failing else { return nil }
        let expected = Finding.NextHop(owner, for: cidr)
        let reach = probed ? " (yet probes reach its pods: the table may be out of date, or another route covers it)" : ""
        if status.isMissing {
            return Finding(
                kind: .vpcRouteMissing, scope: .cluster, subject: cidr.description, cidr: cidr, expectedNextHop: expected, sources: [],
                evidence: Finding.Evidence(agreeing: 0, probing: 0, vpcTable: status.text, basis: .vpcTable),
                message: "The imported VPC route table has no entry \(cidr) -> \(expected.text)\(reach).",
                remediation: Finding.remediation(kind: .vpcRouteMissing, source: "", cidr: cidr, owner: owner))
        }
        if status.isWrongNextHop, let actual = status.actualNextHop {
            return Finding(
                kind: .vpcRouteWrongNextHop, scope: .cluster, subject: cidr.description, cidr: cidr, expectedNextHop: expected,
                actualNextHop: actual, sources: [],
                evidence: Finding.Evidence(agreeing: 0, probing: 0, vpcTable: status.text, basis: .vpcTable),
                message: "The imported VPC route table sends \(cidr) to \(actual.text) instead of \(expected.text)\(reach).",
                remediation: Finding.remediation(kind: .vpcRouteWrongNextHop, source: "", cidr: cidr, owner: owner))
        }
        return nil
    }

    private func evidence(of views: [SourceView], probing: Int) -> Finding.Evidence {
        let probes = views.flatMap(\.probes)
        return Finding.Evidence(agreeing: views.count, probing: probing, sent: probes.reduce(0) { $0 + $1.sent },
                                       received: probes.reduce(0) { $0 + $1.received })
    }
}
