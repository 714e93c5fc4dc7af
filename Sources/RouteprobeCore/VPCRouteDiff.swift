/// One entry of a cloud VPC route table, reduced to what the comparison needs.
public struct VPCRouteEntry: Sendable, Hashable, Codable {
    /// The destination CIDR.
    public var destination: IPPrefix
    /// The next hop's id (an instance or network interface id), when the next hop is a machine; nil for
    /// gateways and the VPC's local route.
    public var nextHopID: String?
    /// The cloud's name for the next-hop kind (`Instance`, `NetworkInterface`, `local`, `igw-...`).
    public var nextHopType: String
    /// False when the cloud marks the entry unusable (AWS `blackhole`: its next hop is gone).
    public var active: Bool
    /// The route table it came from.
    public var table: String?

    /// Builds an entry.
    public init(destination: IPPrefix, nextHopID: String?, nextHopType: String, active: Bool = true, table: String? = nil) {
        self.destination = destination
        self.nextHopID = nextHopID
        self.nextHopType = nextHopType
        self.active = active
        self.table = table
    }
}

/// The VPC route table compared with the cluster map: missing entries, wrong next hops, stale entries
/// (next hop no longer a node) and overlapping entries.
public struct VPCRouteDiff: Sendable, Hashable {
    /// One problem.
    public struct Problem: Sendable, Hashable, Codable {
        /// `missing`, `wrongNextHop`, `stale` or `overlap`.
        public enum Kind: String, Sendable, Hashable, Codable { case missing, wrongNextHop, stale, overlap }
        /// The kind.
        public var kind: Kind
        /// The CIDR concerned.
        public var cidr: IPPrefix
        /// The node that should be the next hop, and the next hop the table has.
        public var expectedNextHop: Finding.NextHop?
        public var actualNextHop: Finding.NextHop?
        /// One sentence.
        public var message: String
    }

    /// What the table says about one pod CIDR.
    public struct Status: Sendable, Hashable {
        /// No usable entry covers it.
        public var isMissing: Bool
        /// The covering entry points at another machine.
        public var isWrongNextHop: Bool
        /// That machine.
        public var actualNextHop: Finding.NextHop?
        /// A short description for evidence.
        public var text: String
    }

    /// Every problem found, pod CIDRs in cluster-map order, then stale and overlapping entries.
    public private(set) var problems: [Problem] = []
    private var statuses: [IPPrefix: Status] = [:]

    /// Compares `entries` with `cluster`. A node is an entry's next hop when the entry's next-hop id equals
    /// the node's `instanceID`, name or host IP.
    public init(entries: [VPCRouteEntry], cluster: ClusterMap) {
        func node(for id: String) -> ClusterMap.Node? {
            cluster.nodes.first { $0.instanceID == id || $0.name == id || $0.ip.description == id }
        }
        func hop(_ id: String) -> Finding.NextHop {
            if let member = node(for: id) { return Finding.NextHop(node: member.name, ip: member.ip) }
            return Finding.NextHop(node: id, ip: nil)
        }
        let machineEntries = entries.filter { $0.nextHopID != nil }
        for owner in cluster.nodes {
            for cidr in owner.podCIDRs {
                let expected = Finding.NextHop(node: owner.name, ip: owner.ip)
                let covering = machineEntries.filter { $0.destination.contains(cidr) && $0.destination.address.family == cidr.address.family }
                    .max { $0.destination.length < $1.destination.length }
                guard let entry = covering, let id = entry.nextHopID else {
                    statuses[cidr] = Status(isMissing: true, isWrongNextHop: false, text: "no entry")
                    problems.append(Problem(kind: .missing, cidr: cidr, expectedNextHop: expected,
                                            message: "no VPC route entry for \(cidr); it should point to \(expected.text)"))
                    continue
                }
                if !entry.active {
                    statuses[cidr] = Status(isMissing: true, isWrongNextHop: false, text: "entry \(entry.destination) -> \(id) is a blackhole (its next hop is gone)")
                    problems.append(Problem(kind: .missing, cidr: cidr, expectedNextHop: expected, actualNextHop: hop(id),
                                            message: "the VPC route entry \(entry.destination) -> \(id) is a blackhole; \(cidr) should point to \(expected.text)"))
                    continue
                }
                let target = node(for: id)
                if target?.name == owner.name {
                    statuses[cidr] = Status(isMissing: false, isWrongNextHop: false, text: "entry \(entry.destination) -> \(id) (\(owner.name))")
                } else {
                    let actual = hop(id)
                    statuses[cidr] = Status(isMissing: false, isWrongNextHop: true, actualNextHop: actual,
                                            text: "entry \(entry.destination) -> \(id)\(target.map { " (\($0.name))" } ?? "")")
                    problems.append(Problem(kind: .wrongNextHop, cidr: cidr, expectedNextHop: expected, actualNextHop: actual,
                                            message: "the VPC route entry \(entry.destination) points to \(actual.text) instead of \(expected.text)"))
                }
            }
        }
        for entry in machineEntries {
            guard let id = entry.nextHopID, node(for: id) == nil else { continue }
            problems.append(Problem(kind: .stale, cidr: entry.destination, actualNextHop: hop(id),
                                    message: "the VPC route entry \(entry.destination) -> \(id) points to no node of the cluster\(entry.active ? "" : " (and is a blackhole)")"))
        }
        for (index, entry) in machineEntries.enumerated() {
            for other in machineEntries[(index + 1)...] where entry.destination != other.destination
                && (entry.destination.contains(other.destination) || other.destination.contains(entry.destination)) {
                let (wide, narrow) = entry.destination.length < other.destination.length ? (entry, other) : (other, entry)
                problems.append(Problem(kind: .overlap, cidr: narrow.destination, actualNextHop: hop(narrow.nextHopID ?? "?"),
                                        message: "the VPC route entries \(wide.destination) -> \(wide.nextHopID ?? "?") and \(narrow.destination) -> \(narrow.nextHopID ?? "?") overlap"))
            }
        }
    }

    /// What the table says about a pod CIDR, nil when it is not a pod CIDR of the map.
    public func status(of cidr: IPPrefix) -> Status? { statuses[cidr] }
}
