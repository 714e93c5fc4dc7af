/// A problem that holds across rounds: opened once, reported once, closed once.
public struct Finding: Sendable, Hashable {
    /// What kind of problem.
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        /// The VPC route entry for a pod CIDR is missing.
        case vpcRouteMissing
        /// The node's kernel route for a pod CIDR is missing or blackholed.
        case kernelRouteMissing
        /// The node's kernel route for a pod CIDR points at the wrong node.
        case kernelRouteWrong
        /// A router rejects traffic to a pod CIDR with ICMP errors.
        case rejectedByRouter
        /// A node does not answer at all.
        case nodeUnreachable
    }

    /// A stable id: the same problem gets the same id in every round and on every restart.
    public var id: String
    /// The kind.
    public var kind: Kind
    /// The node that saw it.
    public var sourceNode: String
    /// The pod CIDR concerned.
    public var cidr: IPPrefix?
    /// The node that should receive the CIDR's traffic, and its IP.
    public var expectedNode: String?
    public var expectedIP: IPAddress?
    /// The router that rejected, for `rejectedByRouter`.
    public var router: IPAddress?
    /// Evidence counts of the round that opened it (or the latest one).
    public var sent: Int
    public var received: Int
    /// The sentence for people.
    public var message: String

    /// Builds a finding; the id is derived from kind, source, CIDR and expected node.
    public init(kind: Kind, sourceNode: String, cidr: IPPrefix?, expectedNode: String?, expectedIP: IPAddress?,
                router: IPAddress? = nil, sent: Int = 0, received: Int = 0, message: String) {
        self.kind = kind
        self.sourceNode = sourceNode
        self.cidr = cidr
        self.expectedNode = expectedNode
        self.expectedIP = expectedIP
        self.router = router
        self.sent = sent
        self.received = received
        self.message = message
        self.id = Finding.stableID(kind: kind, sourceNode: sourceNode, subject: cidr?.description ?? expectedIP?.description ?? "-")
    }

    /// A short hex id from the finding's identity (FNV-1a, 64 bits), stable across processes.
    public static func stableID(kind: Kind, sourceNode: String, subject: String) -> String {
        var hash = StableHash()
        hash.add(bytesOf: "\(kind.rawValue)|\(sourceNode)|\(subject)")
        return "\(kind.rawValue)-" + String(hash.value, radix: 16)
    }

    /// The finding a failed report stands for, if any (reachable and unknown verdicts are none).
    public static func from(verdict: Verdict, sourceNode: String, target: IPAddress, owner: ClusterMap.Node?,
                            router: IPAddress?, sent: Int, received: Int, message: String) -> Finding? {
        let kind: Kind
        switch verdict {
        case .vpcRouteMissing: kind = .vpcRouteMissing
        case .kernelRouteMissing: kind = .kernelRouteMissing
        case .kernelRouteWrong: kind = .kernelRouteWrong
        case .rejectedByRouter: kind = .rejectedByRouter
        case .nodeUnreachable: kind = .nodeUnreachable
        case .reachable, .unknown: return nil
        }
        let cidr = owner?.podCIDRs.first { $0.contains(target) }
        // A down node is about the node, not its CIDR.
        return Finding(kind: kind, sourceNode: sourceNode, cidr: kind == .nodeUnreachable ? nil : cidr,
                       expectedNode: owner?.name, expectedIP: owner?.ip, router: router, sent: sent,
                       received: received, message: message)
    }
}

/// Opens a finding after it has held for `failuresToOpen` consecutive rounds and closes it after the first
/// round without it: each finding is reported open once and resolved once.
public struct FindingTracker: Sendable {
    /// A change to report.
    public enum Event: Sendable, Hashable {
        /// A finding opened.
        case opened(Finding)
        /// A finding that was open no longer holds.
        case resolved(Finding)
    }

    /// Consecutive failed rounds before a finding opens.
    public let failuresToOpen: Int
    /// Findings open now, by id.
    public private(set) var open: [String: Finding] = [:]
    private var streaks: [String: Int] = [:]

    /// Builds a tracker.
    public init(failuresToOpen: Int) { self.failuresToOpen = max(1, failuresToOpen) }

    /// True while some finding has failed at least once but not yet opened: a confirming round is due.
    public var hasPending: Bool { streaks.contains { open[$0.key] == nil } }

    /// Takes one round's findings (duplicates by id are merged) and returns what opened and what resolved.
    public mutating func round(_ findings: [Finding]) -> [Event] {
        var current: [String: Finding] = [:]
        for finding in findings where current[finding.id] == nil { current[finding.id] = finding }
        var events: [Event] = []
        for (id, finding) in current.sorted(by: { $0.key < $1.key }) {
            let streak = (streaks[id] ?? 0) + 1
            streaks[id] = streak
            if open[id] == nil, streak >= failuresToOpen {
                open[id] = finding
                events.append(.opened(finding))
            } else if open[id] != nil {
                open[id] = finding
            }
        }
        for id in streaks.keys where current[id] == nil { streaks[id] = nil }
        for (id, finding) in open.sorted(by: { $0.key < $1.key }) where current[id] == nil {
            open[id] = nil
            events.append(.resolved(finding))
        }
        return events
    }
}
