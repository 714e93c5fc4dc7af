import Foundation
import RouteprobeCommandSupport
import RouteprobeCore
import RouteprobeKubernetes
import RouteprobeProbing
import RouteprobeSystem

/// `routeprobe explain` without an aggregator: the symptoms and the backends come from the API server, and the
/// probes from this node (or `--netns`), so a person on a node gets the chain with nothing else running.
struct ExplainDirect {
    let subject: ExplainChain.Subject
    let client: KubernetesClient
    let namespace: String?
    let timeout: Duration

    /// This node's findings about the subject, with the cluster's symptoms and the route controller's word.
    func findings(now: Int64) async throws -> [Finding] {
        let nodes: [Kubernetes.Node], apiServices: [Kubernetes.APIService], slices: [Kubernetes.EndpointSlice], namespaces: [Kubernetes.Namespace]
        do {
            nodes = try await client.list(.nodes).items
            apiServices = try await client.list(.apiServices).items
            slices = try await client.list(.endpointSlices).items
            namespaces = try await client.list(.namespaces).items
        } catch {
            throw CommandFailure("cannot read the cluster: \(error.description)")
        }
        let events = (try? await client.list(.nodeWarningEvents).items) ?? []
        let cluster = ClusterMap(nodes: NodeDiscovery.clusterNodes(from: nodes).nodes)
        let critical = ImpactAnalysis.criticalTargets(apiServices: apiServices, validating: [], mutating: [], slices: slices, cluster: cluster)
        let symptoms = SymptomAnalysis.symptoms(apiServices: apiServices, namespaces: namespaces)

        // What to probe: the backends the subject hangs on, or the subject's own address.
        var targets: [(address: IPAddress, port: Int?)] = []
        switch subject {
        case .namespace(let name):
            let names = Set(symptoms.filter { $0.symptom.kind == "Namespace" && $0.symptom.name == name }.flatMap(\.apiServices))
            targets = critical.filter { names.contains($0.name) }.map { ($0.address, $0.port) }
        case .apiService(let name):
            targets = critical.filter { $0.name == name }.map { ($0.address, $0.port) }
        case .node(let name):
            targets = critical.filter { $0.node == name }.map { ($0.address, $0.port) }
            guard cluster.node(named: name) != nil else { throw CommandFailure("node \(name) is not in the cluster") }
        case .address(let address):
            targets = [(address, nil)]
        case .pod:
            break
        }
        if targets.isEmpty { return [] }
        let specs = targets.map { ProbeSpec(target: $0.address, probeProtocol: $0.port == nil ? .icmp : .tcp, port: $0.port.map { UInt16(clamping: $0) }) }
        let check = ReachabilityCheck(options: ProbeOptions(count: 2, timeout: timeout, namespace: namespace.map(NetworkNamespace.init)), clusterMap: cluster)
        let outcome: ReachabilityCheck.Outcome
        do { outcome = try check.run(specs) } catch { throw CommandFailure("cannot probe from here: \(error.description)") }

        let failures = RouteControllerSignals.newestFailures(events).byNode
        let unavailable = RouteControllerSignals.networkUnavailable(nodes)
        var findings: [Finding] = []
        for report in outcome.reports {
            let address = report.spec.target
            let backing = Set(critical.filter { $0.address == address }.map(\.name))
            let linked = symptoms.filter { !backing.isDisjoint(with: $0.apiServices) }.map(\.symptom)
            if case .problem = report.diagnosis.verdict,
               var finding = Finding.from(verdict: report.diagnosis.verdict, source: "this node", target: address, owner: report.owner,
                                          evidence: .init(agreeing: 1, probing: 1), message: report.diagnosis.message) {
                finding.symptoms = linked
                // How long: as long as the cluster has shown it (the earliest symptom), when it has.
                finding.since = linked.compactMap(\.since).min()
                findings.append(finding)
                if let node = report.owner?.name, let since = finding.since, now - since >= 60,
                   finding.kind == .vpcRouteMissing || finding.kind == .vpcRouteWrongNextHop {
                    let signal = RouteControllerSignals.signal(node: node, since: since, now: now, events: failures, unavailable: unavailable)
                    findings.append(.routeController(about: finding, openSeconds: now - since, signal: signal))
                }
            } else if report.diagnosis.verdict == .reachable, let apiService = linked.first(where: { $0.kind == "APIService" }) {
                findings.append(.apiServiceUnavailable(apiService, address: address, node: report.owner?.name, reachedBy: ["this node"]))
                findings[findings.count - 1].symptoms = linked
            }
        }
        return findings
    }
}
