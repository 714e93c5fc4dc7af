/// A problem routeprobe concluded: what is wrong, who sees it, what it rests on and the change that fixes it.
///
/// One model for both roles. An agent concludes node-scoped findings from its own probes and table (one
/// source, itself); the aggregator concludes cluster-scoped ones from many agents' reports and the imported
/// VPC route table. Both open and close them with the same `FindingTracker`, and both alert through the same
/// path, so a kind has one severity and one sentence wherever it is raised.
public struct Finding: Sendable, Hashable, Codable {
    /// What kind of problem.
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        /// The VPC route table has no entry for a pod CIDR: requests leave through the VPC gateway, nothing
        /// returns, the owner's host answers.
        case vpcRouteMissing
        /// The VPC entry for a pod CIDR points at another node: that node sees the packets arrive.
        case vpcRouteWrongNextHop
        /// A node's own kernel route for a pod CIDR is missing or blackholed.
        case kernelRouteMissing
        /// A node's own kernel route for a pod CIDR points at the wrong node.
        case kernelRouteWrong
        /// A router answers traffic to a pod CIDR with ICMP errors.
        case rejectedByRouter
        /// A node answers nothing, not even on its host IP: down or partitioned, not a route problem.
        case nodeUnreachable
        /// Only some sources fail to reach pod CIDRs that others reach: the problem is on those sources.
        case sourceLocal
        /// The VPC route table holds an entry whose next hop is no longer a node.
        case vpcRouteStale
        /// Two VPC route entries overlap.
        case vpcRouteOverlap
        /// Two VPC route entries for one CIDR have different next hops.
        case vpcRouteConflict
        /// The cloud has not finished provisioning a VPC route entry (Azure `Updating`, `Failed`; Alibaba `Pending`).
        case vpcRouteNotProvisioned
        /// The VPC route table holds 90% of its limit or more: new nodes will soon get no route.
        case vpcRouteTableNearlyFull
        /// A VPC route finding has stayed open past the grace period and the route controller neither repaired
        /// it nor said anything (no Event, the node's NetworkUnavailable still False or absent).
        case routeControllerSilent
        /// A VPC route finding has stayed open past the grace period and the route controller says why it
        /// cannot repair it (a Warning Event, or NetworkUnavailable True with NoRouteCreated).
        case routeControllerFailing
        /// A new node's pod CIDR has not become reachable within the grace period: the route controller has
        /// not created its VPC route entry (its other silent failure).
        case routeNotPropagated
        /// An APIService is not Available although probes reach its backends: not a route problem.
        case apiServiceUnavailable
        /// A registered agent has not reported for a window: its node's view is missing from the cluster's.
        case agentSilent

        /// The one severity table: what breaks pods' traffic is an error, the rest a warning.
        public var severity: SyslogMessage.Severity {
            switch self {
            case .vpcRouteMissing, .vpcRouteWrongNextHop, .kernelRouteMissing, .kernelRouteWrong, .rejectedByRouter:
                return .error
            case .nodeUnreachable, .sourceLocal, .vpcRouteStale, .vpcRouteOverlap, .vpcRouteConflict, .vpcRouteNotProvisioned,
                 .vpcRouteTableNearlyFull, .routeControllerSilent, .routeControllerFailing, .routeNotPropagated, .apiServiceUnavailable, .agentSilent:
                return .warning
            }
        }

        /// Its place in the list of open findings: the order of the cases, most severe first.
        var rank: Int { Kind.allCases.firstIndex(of: self)! }
    }

    /// Who concluded it.
    public enum Scope: String, Sendable, Hashable, Codable {
        /// One node's agent, from its own probes and routing table.
        case node
        /// The aggregator, from the reports of every source (and the imported VPC table).
        case cluster
    }

    /// A node and its host IP.
    public struct NextHop: Sendable, Hashable, Codable {
        /// The node's name (or the cloud's next-hop id when it is no node).
        public var node: String
        /// The node's host IP, when known.
        public var ip: IPAddress?

        /// Builds a next hop.
        public init(node: String, ip: IPAddress?) {
            self.node = node
            self.ip = ip
        }

        /// The next hop of a cluster-map node.
        public init(_ node: ClusterMap.Node) { self.init(node: node.name, ip: node.ip) }

        /// The next hop of a node for one of its pod CIDRs: a dual-stack node's IPv6 CIDR goes to its IPv6 address.
        public init(_ node: ClusterMap.Node, for cidr: IPPrefix?) {
            self.init(node: node.name, ip: cidr.flatMap { node.address(of: $0.address.family) } ?? node.ip)
        }

        /// `node-b (192.168.0.50)`.
        public var text: String { ip.map { "\(node) (\($0))" } ?? node }
    }

    /// What a finding rests on.
    public enum Basis: String, Sendable, Hashable, Codable {
        /// Probes alone.
        case probes
        /// The imported VPC route table alone.
        case vpcTable
        /// Probes and the VPC table agree.
        case probesAndVPCTable = "probes+vpcTable"
    }

    /// The evidence: how many sources agree, what they sent and received, and what the table says.
    public struct Evidence: Sendable, Hashable, Codable {
        /// Sources that see the problem, and sources that probed at all.
        public var agreeing: Int
        public var probing: Int
        /// Probes sent (or seen leaving) and answers received by the agreeing sources, in their latest rounds.
        public var sent: Int
        public var received: Int
        /// The router that rejected, its ICMP type and code.
        public var router: IPAddress?
        public var icmpType: UInt8?
        public var icmpCode: UInt8?
        /// Packets for the CIDR seen arriving on the wrong node.
        public var strayPackets: Int?
        /// What the imported VPC route table says about the CIDR, when it was imported.
        public var vpcTable: String?
        /// What the finding rests on.
        public var basis: Basis

        /// Builds evidence.
        public init(agreeing: Int = 1, probing: Int = 1, sent: Int = 0, received: Int = 0, router: IPAddress? = nil,
                    icmpType: UInt8? = nil, icmpCode: UInt8? = nil, strayPackets: Int? = nil, vpcTable: String? = nil,
                    basis: Basis = .probes) {
            self.agreeing = agreeing
            self.probing = probing
            self.sent = sent
            self.received = received
            self.router = router
            self.icmpType = icmpType
            self.icmpCode = icmpCode
            self.strayPackets = strayPackets
            self.vpcTable = vpcTable
            self.basis = basis
        }
    }

    /// Stable across rounds, restarts and processes: derived from the scope, the kind and the subject.
    public var id: String
    /// The kind.
    public var kind: Kind
    /// Who concluded it.
    public var scope: Scope
    /// The pod CIDR concerned (nil for node- and source-level findings).
    public var cidr: IPPrefix?
    /// Where the CIDR's traffic should go (the owner).
    public var expectedNextHop: NextHop?
    /// Where it goes instead, when known.
    public var actualNextHop: NextHop?
    /// The nodes whose probes or tables support it (for a node-scoped finding, that node alone).
    public var sources: [String]
    /// When it opened (Unix seconds); set by the tracker.
    public var since: Int64?
    /// What it rests on.
    public var evidence: Evidence
    /// One sentence for people.
    public var message: String
    /// What to change to fix it.
    public var remediation: String
    /// Control-plane functions that hang on it ("v1beta1.metrics.k8s.io is unreachable from the API server's
    /// network: ..."), when the aggregator knows the cluster's APIServices and webhooks.
    public var breaks: [String] = []
    /// What the cluster itself shows of it: an APIService not Available, a namespace stuck Terminating.
    public var symptoms: [Symptom] = []
    /// The clause of the message that `explain` prints as a step of its chain, for the findings that have one:
    /// what the route controller says, or why an unavailable APIService is not a route problem.
    public var explanation: String?

    /// A symptom the cluster reports, linked to a finding through APIService -> Service -> EndpointSlice ->
    /// pod IP -> pod CIDR -> node.
    public struct Symptom: Sendable, Hashable, Codable {
        /// `APIService` or `Namespace`.
        public var kind: String
        public var name: String
        /// `Available=False (FailedDiscoveryCheck)`, `Terminating (NamespaceDeletionDiscoveryFailure)`.
        public var condition: String
        /// The condition's message as the cluster wrote it.
        public var message: String
        /// When the condition began (Unix seconds), when known.
        public var since: Int64?

        public init(kind: String, name: String, condition: String, message: String, since: Int64?) {
            self.kind = kind
            self.name = name
            self.condition = condition
            self.message = message
            self.since = since
        }

        /// "namespace tobedeletedb is Terminating (NamespaceDeletionDiscoveryFailure)".
        public var sentence: String {
            kind == "Namespace" ? "namespace \(name) is \(condition)" : "APIService \(name) is \(condition)"
        }
    }

    /// Builds a finding; the id derives from scope, kind and `subject` (the CIDR, node or entry concerned,
    /// prefixed with the source for node-scoped findings).
    public init(kind: Kind, scope: Scope, subject: String, cidr: IPPrefix?, expectedNextHop: NextHop?,
                actualNextHop: NextHop? = nil, sources: [String], evidence: Evidence, message: String, remediation: String) {
        id = Finding.id(kind: kind, scope: scope, subject: subject)
        self.kind = kind
        self.scope = scope
        self.cidr = cidr
        self.expectedNextHop = expectedNextHop
        self.actualNextHop = actualNextHop
        self.sources = sources
        self.evidence = evidence
        self.message = message
        self.remediation = remediation
    }

    /// The one id derivation: `KIND-HASH`, the hash (FNV-1a, 64 bits) of scope, kind and subject.
    public static func id(kind: Kind, scope: Scope, subject: String) -> String {
        var hash = StableHash()
        hash.add(scope.rawValue)
        hash.add(kind.rawValue)
        hash.add(subject)
        return "\(kind.rawValue)-" + String(hash.value, radix: 16)
    }

    /// The one source of a node-scoped finding (the first of a cluster finding's).
    public var source: String? { sources.first }

    /// The route entry concerned, as people write it: `172.16.1.0/24 -> node-b (192.168.0.50)`, or the
    /// node or CIDR alone when that is all there is.
    public var entry: String? {
        switch (cidr, expectedNextHop) {
        case (let cidr?, let hop?): return "\(cidr) -> \(hop.text)"
        case (nil, let hop?): return hop.text
        case (let cidr?, nil): return cidr.description
        case (nil, nil): return nil
        }
    }

    /// A few words for the kind, as the alert's subject and the page's heading say it.
    public var subject: String {
        let source = self.source ?? "?"
        switch kind {
        case .vpcRouteMissing: return "VPC route entry missing"
        case .vpcRouteWrongNextHop: return "VPC route entry points to the wrong node"
        case .kernelRouteMissing: return "kernel route missing on \(source)"
        case .kernelRouteWrong: return "kernel route wrong on \(source)"
        case .rejectedByRouter: return "rejected by router \(evidence.router?.description ?? "?")"
        case .nodeUnreachable: return "node unreachable"
        case .sourceLocal: return "source-side problem on \(source)"
        case .vpcRouteStale: return "stale VPC route entry"
        case .vpcRouteOverlap: return "overlapping VPC route entries"
        case .vpcRouteConflict: return "conflicting VPC route entries"
        case .vpcRouteNotProvisioned: return "VPC route entry not provisioned"
        case .vpcRouteTableNearlyFull: return "VPC route table nearly full"
        case .routeControllerSilent: return "route controller silent about \(cidr?.description ?? "?")"
        case .routeControllerFailing: return "route controller failing for \(cidr?.description ?? "?")"
        case .routeNotPropagated: return "new node's pod CIDR not reachable yet"
        case .apiServiceUnavailable: return "APIService unavailable, not a route problem"
        case .agentSilent: return "agent silent on \(expectedNextHop?.node ?? "?")"
        }
    }
}

/// What the route controller says about a node's route, from the cluster's own signals.
public enum RouteControllerSignal: Sendable, Hashable {
    /// A Warning Event on the Node from the route controller (FailedToCreateRoute, or Alibaba Cloud's
    /// CreateRouteFailed, DescriberRouteTablesFailed, DescriberRouteFailed): the newest one.
    case event(reason: String, message: String, ageSeconds: Int64, count: Int)
    /// The Node's NetworkUnavailable condition is True (NoRouteCreated): the controller knows it failed.
    case networkUnavailable(reason: String, message: String)

    /// The Event reasons route controllers use when they cannot create a route.
    public static let failureReasons: Set<String> = ["FailedToCreateRoute", "CreateRouteFailed", "DescriberRouteTablesFailed", "DescriberRouteFailed"]
}

extension Finding {
    /// The watchdog's finding about a VPC-route finding open for `openSeconds` (past the grace period): the
    /// route controller is silent (`signal` nil) or says why it fails.
    public static func routeController(about vpc: Finding, openSeconds: Int64, signal: RouteControllerSignal?) -> Finding {
        let entry = "\(vpc.cidr?.description ?? "?") -> \(vpc.expectedNextHop?.text ?? "?")"
        let open = DurationText.spoken(seconds: openSeconds)
        let node = vpc.expectedNextHop?.node ?? "?"
        let kind: Kind
        /// What the route controller says, in the clause `explain` prints; nil when it says nothing.
        let said: String?
        switch signal {
        case nil:
            kind = .routeControllerSilent
            said = nil
        case .event(let reason, let text, let age, let count):
            kind = .routeControllerFailing
            said = "the route controller fails to create it: \(reason) \(DurationText.spoken(seconds: age)) ago\(count > 1 ? " (\(count) times)" : ""): \(text)"
        case .networkUnavailable(let reason, let text):
            kind = .routeControllerFailing
            said = "\(node) is NetworkUnavailable (\(reason)): \(text)"
        }
        let message = said.map { "The VPC route entry \(entry) has been missing for \(open); \($0)" }
            ?? "The VPC route entry \(entry) has been missing for \(open) and the route controller has not re-created it nor raised any Event, and \(node)'s NetworkUnavailable says nothing is wrong: it is not repairing this (a failure to list the cloud's routes, such as a denied permission, stops it before it says anything)."
        var finding = Finding(kind: kind, scope: .cluster, subject: vpc.id, cidr: vpc.cidr, expectedNextHop: vpc.expectedNextHop,
                              sources: vpc.sources, evidence: vpc.evidence, message: message,
                              remediation: routeControllerRemediation(kind: kind, entry: entry))
        finding.explanation = said
        return finding
    }

    /// The aggregator's finding about a node that joined `seconds` ago and whose pod CIDR no source reaches yet.
    public static func routeNotPropagated(node: ClusterMap.Node, cidr: IPPrefix, seconds: Int64, sources: [String]) -> Finding {
        Finding(kind: .routeNotPropagated, scope: .cluster, subject: cidr.description, cidr: cidr, expectedNextHop: NextHop(node, for: cidr),
                sources: sources, evidence: Evidence(agreeing: sources.count, probing: sources.count),
                message: "\(node.name) joined \(DurationText.spoken(seconds: seconds)) ago with pod CIDR \(cidr), and \(sources.isEmpty ? "no source has probed it yet" : "no source reaches it yet (\(sources.joined(separator: ", ")))"): its VPC route entry has not been created.",
                remediation: remediation(kind: .routeNotPropagated, source: sources.first ?? "", cidr: cidr, owner: node))
    }

    /// The aggregator's finding about an APIService that is not Available although every probe of its backend
    /// `address` (on `node`) answers: the route is fine, the service itself is not.
    public static func apiServiceUnavailable(_ symptom: Symptom, address: IPAddress, node: String?, reachedBy sources: [String]) -> Finding {
        let notRoute = "but its pod \(address)\(node.map { " on \($0)" } ?? "") answers probes from \(sources.joined(separator: ", ")): this is not a route problem."
        var finding = Finding(kind: .apiServiceUnavailable, scope: .cluster, subject: symptom.name, cidr: nil,
                              expectedNextHop: node.map { NextHop(node: $0, ip: nil) }, sources: sources,
                              evidence: Evidence(agreeing: sources.count, probing: sources.count),
                              message: "\(symptom.sentence): \(symptom.message); \(notRoute)",
                              remediation: remediation(kind: .apiServiceUnavailable, source: sources.first ?? "", cidr: nil, owner: nil))
        finding.symptoms = [symptom]
        finding.explanation = notRoute
        return finding
    }

    /// The aggregator's finding about a registered agent that stopped reporting: it names the node and when
    /// the agent last reported, and closes when reports resume.
    public static func agentSilent(node: String, seconds: Int64, lastReportWallSeconds: Int64) -> Finding {
        let since = SyslogMessage.timestamp(seconds: Int(lastReportWallSeconds), microseconds: 0)
        return Finding(kind: .agentSilent, scope: .cluster, subject: node, cidr: nil, expectedNextHop: NextHop(node: node, ip: nil),
                       sources: [], evidence: Evidence(agreeing: 0, probing: 0),
                       message: "The routeprobe agent on \(node) has not reported for \(seconds) s (last at \(since)): its probes are missing from the cluster's view, and what it would see is not alerted here.",
                       remediation: remediation(kind: .agentSilent, source: node, cidr: nil, owner: nil))
    }

    /// The node-scoped finding a failed probe stands for, if any: a local verdict that names a problem.
    /// - Parameters:
    ///   - verdict: the probe's verdict; `reachable` and `unknown` are no finding.
    ///   - source: the probing node.
    ///   - owner: the node owning the target's pod CIDR.
    public static func from(verdict: Verdict, source: String, target: IPAddress, owner: ClusterMap.Node?,
                            evidence: Evidence, message: String) -> Finding? {
        guard case .problem(let kind) = verdict else { return nil }
        let cidr = owner?.podCIDRs.first { $0.contains(target) }
        // A down node is about the node, not its CIDR.
        let subjectCIDR = kind == .nodeUnreachable ? nil : cidr
        let expected = owner.map { NextHop($0, for: cidr) }
        let what = subjectCIDR?.description ?? owner?.ip.description ?? target.description
        return Finding(kind: kind, scope: .node, subject: "\(source)|\(what)", cidr: subjectCIDR, expectedNextHop: expected,
                       sources: [source], evidence: evidence, message: message,
                       remediation: remediation(kind: kind, source: source, cidr: subjectCIDR, owner: owner, router: evidence.router))
    }

    /// What to do when the route controller does not repair `entry` ("CIDR -> node (IP)").
    static func routeControllerRemediation(kind: Kind, entry: String) -> String {
        if kind == .routeControllerFailing {
            return "Fix what the route controller reports (a quota, a permission of its cloud role, a full route table); it re-creates \(entry) on its next pass."
        }
        return "Check the cloud-controller-manager's log (its route controller) and the permissions of its cloud role: it must list and describe the route tables and create routes; add the entry \(entry) by hand if it does not come back."
    }

    /// The change that fixes a finding of `kind` about `cidr` and its `owner`.
    public static func remediation(kind: Kind, source: String, cidr: IPPrefix?, owner: ClusterMap.Node?, router: IPAddress? = nil) -> String {
        let target = cidr?.description ?? "the pod CIDR"
        let hop = owner.map { NextHop($0, for: cidr).text } ?? "its owner"
        switch kind {
        case .vpcRouteMissing:
            return "Add the VPC route entry \(target) with next hop \(hop), or let the cloud controller manager recreate it."
        case .vpcRouteWrongNextHop:
            return "Change the VPC route entry \(target) to next hop \(hop)."
        case .kernelRouteMissing, .kernelRouteWrong:
            return "On \(source), restore the route \(target) via \(owner.map { NextHop($0, for: cidr).ip?.description ?? $0.ip.description } ?? "its owner") (the CNI's host-gw routes), or restart the CNI agent there."
        case .rejectedByRouter:
            return "On router \(router?.description ?? "?"), route \(target) to next hop \(hop)."
        case .nodeUnreachable:
            return "Check \(owner?.name ?? "the node"): is it running, is its uplink up, do its security groups allow the other nodes?"
        case .sourceLocal:
            return "Check \(source): its security group or network ACL, iptables rules and uplink; the VPC route entries are fine."
        case .vpcRouteStale:
            return "Delete the VPC route entry \(target) (its next hop is no longer a node)."
        case .vpcRouteOverlap:
            return "Remove one of the overlapping VPC route entries; the longer prefix wins and hides the other."
        case .vpcRouteConflict:
            return "Keep one VPC route entry for \(target): the one whose next hop is the node that owns it."
        case .vpcRouteNotProvisioned:
            return "Look at the entry \(target) in the cloud's console: retry its provisioning, or delete it and let the cloud controller manager recreate it."
        case .vpcRouteTableNearlyFull:
            return "Raise the route table's limit (a quota request) or delete entries no node needs, before a new node gets no route."
        case .routeControllerSilent, .routeControllerFailing:
            return routeControllerRemediation(kind: kind, entry: "\(target) -> \(hop)")
        case .routeNotPropagated:
            return "Look for the VPC route entry \(target) -> \(hop): if it is missing, check the cloud-controller-manager's route controller (its log, its cloud role's permissions, the route table's limit)."
        case .apiServiceUnavailable:
            return "Look at the APIService's own pods and Service (their logs, readiness, the port the APIService names): the network reaches them."
        case .agentSilent:
            return "Look at the routeprobe agent on \(source): kubectl -n routeprobe get pods -o wide --field-selector spec.nodeName=\(source), then its logs and restarts."
        }
    }
}
