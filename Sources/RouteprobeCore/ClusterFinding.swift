/// A problem the aggregator concluded from several agents' reports (and the VPC route table, when it has
/// one): what is wrong, who sees it, and the route entry that would fix it.
public struct ClusterFinding: Sendable, Hashable, Codable {
    /// What kind of problem.
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        /// The VPC route table has no entry for a pod CIDR: every source times out, the owner's host answers.
        case vpcRouteMissing
        /// The VPC entry for a pod CIDR points at another node: that node sees the packets arrive.
        case vpcRouteWrongNextHop
        /// A node's own kernel route for a pod CIDR is missing or blackholed.
        case kernelRouteMissing
        /// A node's own kernel route for a pod CIDR points at the wrong node.
        case kernelRouteWrong
        /// A router answers traffic to a pod CIDR with ICMP errors.
        case rejectedByRouter
        /// A node answers nothing, not even on its host IP.
        case nodeUnreachable
        /// Only some sources fail to reach pod CIDRs that others reach: the problem is on those sources.
        case sourceLocal
        /// The VPC route table holds an entry whose next hop is no longer a node.
        case vpcRouteStale
        /// Two VPC route entries overlap.
        case vpcRouteOverlap

        /// Syslog severity: a missing or wrong route breaks pods, the rest is a warning.
        public var severity: SyslogMessage.Severity {
            switch self {
            case .vpcRouteMissing, .vpcRouteWrongNextHop, .kernelRouteMissing, .kernelRouteWrong: return .error
            case .rejectedByRouter, .nodeUnreachable: return .error
            case .sourceLocal, .vpcRouteStale, .vpcRouteOverlap: return .warning
            }
        }
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

        /// `node-b (192.168.0.50)`.
        public var text: String { ip.map { "\(node) (\($0))" } ?? node }
    }

    /// What the finding rests on.
    public struct Evidence: Sendable, Hashable, Codable {
        /// Sources that see the problem, and sources that probed at all.
        public var agreeing: Int
        public var probing: Int
        /// Probes sent and answers received by the agreeing sources, in their latest rounds.
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
        /// `probes`, `vpcTable`, or `probes+vpcTable` when both agree.
        public var basis: String

        /// Builds evidence.
        public init(agreeing: Int = 0, probing: Int = 0, sent: Int = 0, received: Int = 0, router: IPAddress? = nil,
                    icmpType: UInt8? = nil, icmpCode: UInt8? = nil, strayPackets: Int? = nil, vpcTable: String? = nil,
                    basis: String = "probes") {
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

    /// Stable across rounds and restarts: the kind and what it is about.
    public var id: String
    /// The kind.
    public var kind: Kind
    /// The pod CIDR concerned (nil for node- and source-level findings).
    public var cidr: IPPrefix?
    /// Where the CIDR's traffic should go.
    public var expectedNextHop: NextHop?
    /// Where it goes instead, when known.
    public var actualNextHop: NextHop?
    /// The nodes whose reports support it.
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

    /// Builds a finding; the id derives from kind and `subject` (the CIDR, node or entry concerned).
    public init(kind: Kind, subject: String, cidr: IPPrefix?, expectedNextHop: NextHop?, actualNextHop: NextHop? = nil,
                sources: [String], evidence: Evidence, message: String, remediation: String) {
        var hash = StableHash()
        hash.add(kind.rawValue)
        hash.add(subject)
        id = "\(kind.rawValue)-" + String(hash.value, radix: 16)
        self.kind = kind
        self.cidr = cidr
        self.expectedNextHop = expectedNextHop
        self.actualNextHop = actualNextHop
        self.sources = sources
        self.evidence = evidence
        self.message = message
        self.remediation = remediation
    }
}

/// Opens a cluster finding the first time inference produces it (the agents already required
/// consecutive failed rounds) and closes it only after `evaluationsToClose` consecutive evaluations without
/// it, so one lucky probe does not resolve it and open it again a round later.
public struct ClusterFindingTracker: Sendable {
    /// A change to report.
    public enum Event: Sendable, Hashable {
        case opened(ClusterFinding)
        case resolved(ClusterFinding)
    }

    /// Evaluations without a finding before it closes.
    public let evaluationsToClose: Int
    /// Open findings by id, with `since` set.
    public private(set) var open: [String: ClusterFinding] = [:]
    private var absent: [String: Int] = [:]

    /// Builds a tracker.
    public init(evaluationsToClose: Int = 2) { self.evaluationsToClose = max(1, evaluationsToClose) }

    /// Takes one evaluation's findings at `now` (Unix seconds) and returns what opened and what resolved.
    public mutating func evaluate(_ findings: [ClusterFinding], now: Int64) -> [Event] {
        var events: [Event] = []
        var seen = Set<String>()
        for var finding in findings where seen.insert(finding.id).inserted {
            absent[finding.id] = nil
            if let existing = open[finding.id] {
                finding.since = existing.since
                open[finding.id] = finding
            } else {
                finding.since = now
                open[finding.id] = finding
                events.append(.opened(finding))
            }
        }
        for (id, finding) in open.sorted(by: { $0.key < $1.key }) where !seen.contains(id) {
            let count = (absent[id] ?? 0) + 1
            if count >= evaluationsToClose {
                open[id] = nil
                absent[id] = nil
                events.append(.resolved(finding))
            } else {
                absent[id] = count
            }
        }
        return events
    }

    /// Open findings, most severe kinds first, then by id.
    public var sortedOpen: [ClusterFinding] {
        let order = Dictionary(uniqueKeysWithValues: ClusterFinding.Kind.allCases.enumerated().map { ($1, $0) })
        return open.values.sorted { (order[$0.kind]!, $0.id) < (order[$1.kind]!, $1.id) }
    }
}
