/// The clouds whose VPC route tables routeprobe reads, with the command that exports each and the limit
/// that caps its entries (a full table gives new nodes no route: kubernetes/kubernetes#17627).
public enum VPCCloud: String, Sendable, Hashable, Codable, CaseIterable {
    case aws, alibaba, azure, gcp

    /// The cloud's name for people.
    public var displayName: String {
        switch self {
        case .aws: return "AWS"
        case .alibaba: return "Alibaba Cloud"
        case .azure: return "Azure"
        case .gcp: return "GCP"
        }
    }

    /// The command that prints the table in the format routeprobe reads.
    public var exportCommand: String {
        switch self {
        case .aws: return "aws ec2 describe-route-tables"
        case .alibaba: return "aliyun vpc DescribeRouteEntryList (or DescribeRouteTables)"
        case .azure: return "az network route-table route list (or route-table show)"
        case .gcp: return "gcloud compute routes list --format=json"
        }
    }

    /// The default limit: AWS 50 routes per table (raisable to 1,000), Alibaba Cloud 200 custom entries per
    /// table, Azure 400 routes per table, GCP the project's routes quota (250 unless raised).
    public var defaultRouteLimit: Int {
        switch self {
        case .aws: return 50
        case .alibaba: return 200
        case .azure: return 400
        case .gcp: return 250
        }
    }

    /// What the limit is a limit of.
    public var limitScope: String { self == .gcp ? "routes in the project" : "entries in the route table" }
}

/// One entry of a cloud VPC route table, reduced to what the comparison needs.
public struct VPCRouteEntry: Sendable, Hashable, Codable {
    /// The destination CIDR.
    public var destination: IPPrefix
    /// The next hop's id (an instance or network interface id, an instance name, a next-hop IP), when the
    /// next hop is a machine; nil for gateways and the VPC's local route.
    public var nextHopID: String?
    /// The cloud's name for the next-hop kind (`Instance`, `NetworkInterface`, `VirtualAppliance`, `local`, `igw-...`).
    public var nextHopType: String
    /// False when the cloud marks the entry unusable (AWS `blackhole`: its next hop is gone).
    public var active: Bool
    /// The route table it came from.
    public var table: String?
    /// The entry's own name, when the cloud names entries (Azure routes, GCP routes).
    public var name: String?
    /// The cloud's provisioning state when it is not done (Azure `Updating`, `Failed`); nil when done or not reported.
    public var unfinishedState: String?
    /// The node the entry was written for, when its name says so: Azure names a route after its node
    /// (`NODE` or `NODE____CIDR`), GCP after the node's UID (`kubernetes-UID`, `gke-CLUSTER-HASH-UID`).
    public var namedNode: String?
    public var namedNodeUID: String?
    /// False for entries that are not the cluster's own (GCP routes of another network or without the
    /// Kubernetes description): compared only where they overlap a pod CIDR, never called stale.
    public var clusterManaged: Bool
    /// False for entries the cloud does not count against the limit (Alibaba Cloud system entries).
    public var countsAgainstLimit: Bool

    /// Builds an entry.
    public init(destination: IPPrefix, nextHopID: String?, nextHopType: String, active: Bool = true, table: String? = nil,
                name: String? = nil, unfinishedState: String? = nil, namedNode: String? = nil, namedNodeUID: String? = nil,
                clusterManaged: Bool = true, countsAgainstLimit: Bool = true) {
        self.destination = destination
        self.nextHopID = nextHopID
        self.nextHopType = nextHopType
        self.active = active
        self.table = table
        self.name = name
        self.unfinishedState = unfinishedState
        self.namedNode = namedNode
        self.namedNodeUID = namedNodeUID
        self.clusterManaged = clusterManaged
        self.countsAgainstLimit = countsAgainstLimit
    }
}

/// A VPC route table as read from one cloud's export.
public struct VPCRouteTable: Sendable, Hashable {
    /// Whose format it was.
    public var cloud: VPCCloud
    /// Its entries, in the export's order.
    public var entries: [VPCRouteEntry]

    public init(cloud: VPCCloud, entries: [VPCRouteEntry]) {
        self.cloud = cloud
        self.entries = entries
    }

    /// Entries counted against the limit, in the fullest table (GCP: the whole project's routes).
    public var usedEntries: Int {
        let counted = entries.filter(\.countsAgainstLimit)
        if cloud == .gcp { return counted.count }
        return Dictionary(grouping: counted, by: { $0.table ?? "" }).values.map(\.count).max() ?? 0
    }
}

/// The VPC route table compared with the cluster map: missing entries, wrong next hops, stale entries
/// (next hop no longer a node), overlapping and conflicting entries, entries the cloud has not finished
/// provisioning, and a table close to its limit.
public struct VPCRouteDiff: Sendable, Hashable {
    /// One problem.
    public struct Problem: Sendable, Hashable, Codable {
        /// What is wrong.
        public enum Kind: String, Sendable, Hashable, Codable {
            case missing, wrongNextHop, stale, overlap, conflict, notProvisioned, nearlyFull
        }
        /// The kind.
        public var kind: Kind
        /// The CIDR concerned (nil for `nearlyFull`, which concerns the whole table).
        public var cidr: IPPrefix?
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

    /// How full the table is: entries the cloud counts, and the limit.
    public struct Capacity: Sendable, Hashable, Codable {
        public var used: Int
        public var limit: Int
        public init(used: Int, limit: Int) {
            self.used = used
            self.limit = limit
        }
        /// At 90% of the limit or more.
        public var isNearlyFull: Bool { used * 10 >= limit * 9 }
    }

    /// Every problem found, pod CIDRs in cluster-map order, then the entries' own problems, then capacity.
    public private(set) var problems: [Problem] = []
    /// The table's fill.
    public let capacity: Capacity
    private var statuses: [IPPrefix: Status] = [:]

    /// Compares `table` with `cluster`. A node is an entry's next hop when the entry's next-hop id equals the
    /// node's `instanceID`, name or host IP, or, when it equals none, when the entry's name carries the node's
    /// UID (GCP). `limit` overrides the cloud's default limit of entries.
    public init(table: VPCRouteTable, cluster: ClusterMap, limit: Int? = nil) {
        func node(for entry: VPCRouteEntry) -> ClusterMap.Node? {
            if let id = entry.nextHopID,
               let member = cluster.nodes.first(where: { $0.instanceID == id || $0.name == id || $0.addresses.contains { $0.description == id } }) {
                return member
            }
            if let uid = entry.namedNodeUID { return cluster.nodes.first { $0.uid == uid } }
            return nil
        }
        func hop(_ entry: VPCRouteEntry) -> Finding.NextHop {
            if let member = node(for: entry) { return Finding.NextHop(node: member.name, ip: member.ip) }
            return Finding.NextHop(node: entry.nextHopID ?? "?", ip: nil)
        }
        // An entry as people find it in the cloud's console: by name where the cloud names entries.
        func describe(_ entry: VPCRouteEntry, hop: Bool = true) -> String {
            let route = hop ? "\(entry.destination) -> \(entry.nextHopID ?? entry.nextHopType)" : "\(entry.destination)"
            return entry.name.map { "\($0) (\(route))" } ?? route
        }
        var entries = table.entries
        if table.cloud == .gcp {
            // A project may hold several clusters' routes in several networks: the cluster's network is the one
            // whose Kubernetes routes lead to nodes of this map. Routes of other networks route other packets.
            let networks = Set(entries.filter { $0.clusterManaged && node(for: $0) != nil }.compactMap(\.table))
            if !networks.isEmpty { entries.removeAll { entry in entry.table.map { !networks.contains($0) } ?? false } }
        }
        let machineEntries = entries.filter { $0.nextHopID != nil }
        let ownEntries = machineEntries.filter(\.clusterManaged)
        let podCIDRs = cluster.nodes.flatMap(\.podCIDRs)
        for owner in cluster.nodes {
            for cidr in owner.podCIDRs {
                // A dual-stack node's IPv6 pod CIDR is routed to its IPv6 address, where the cloud routes by address.
                let expected = Finding.NextHop(node: owner.name, ip: owner.address(of: cidr.address.family) ?? owner.ip)
                let covering = ownEntries.filter { $0.destination.contains(cidr) && $0.destination.address.family == cidr.address.family }
                let longest = covering.map(\.destination.length).max()
                // Two entries for one destination are a conflict (reported below); the owner's one counts here.
                let candidates = covering.filter { $0.destination.length == longest }
                guard let entry = candidates.first(where: { node(for: $0)?.name == owner.name }) ?? candidates.first,
                      let id = entry.nextHopID else {
                    statuses[cidr] = Status(isMissing: true, isWrongNextHop: false, text: "no entry")
                    problems.append(Problem(kind: .missing, cidr: cidr, expectedNextHop: expected,
                                            message: "no VPC route entry for \(cidr); it should point to \(expected.text)"))
                    continue
                }
                if !entry.active {
                    statuses[cidr] = Status(isMissing: true, isWrongNextHop: false, text: "entry \(entry.destination) -> \(id) is a blackhole (its next hop is gone)")
                    problems.append(Problem(kind: .missing, cidr: cidr, expectedNextHop: expected, actualNextHop: hop(entry),
                                            message: "the VPC route entry \(entry.destination) -> \(id) is a blackhole; \(cidr) should point to \(expected.text)"))
                    continue
                }
                let target = node(for: entry)
                if target?.name == owner.name {
                    statuses[cidr] = Status(isMissing: false, isWrongNextHop: false, text: "entry \(entry.destination) -> \(id) (\(owner.name))")
                } else {
                    let actual = hop(entry)
                    statuses[cidr] = Status(isMissing: false, isWrongNextHop: true, actualNextHop: actual,
                                            text: "entry \(entry.destination) -> \(id)\(target.map { " (\($0.name))" } ?? "")")
                    problems.append(Problem(kind: .wrongNextHop, cidr: cidr, expectedNextHop: expected, actualNextHop: actual,
                                            message: "the VPC route entry \(describe(entry, hop: entry.name != nil)) points to \(actual.text) instead of \(expected.text)"))
                }
            }
        }
        let nodeNames = Set(cluster.nodes.map(\.name))
        for entry in ownEntries where node(for: entry) == nil && !(entry.namedNode.map(nodeNames.contains) ?? false) {
            problems.append(Problem(kind: .stale, cidr: entry.destination, actualNextHop: hop(entry),
                                    message: "the VPC route entry \(describe(entry)) points to no node of the cluster\(entry.active ? "" : " (and is a blackhole)")"))
        }
        // Overlap hides one entry behind another within a table; across tables (AWS and Alibaba Cloud give each
        // subnet its own) nothing is hidden, but two tables sending one CIDR to different nodes conflict (below).
        for (index, entry) in ownEntries.enumerated() {
            for other in ownEntries[(index + 1)...] where entry.table == other.table && entry.destination != other.destination
                && (entry.destination.contains(other.destination) || other.destination.contains(entry.destination)) {
                let (wide, narrow) = entry.destination.length < other.destination.length ? (entry, other) : (other, entry)
                problems.append(Problem(kind: .overlap, cidr: narrow.destination, actualNextHop: hop(narrow),
                                        message: "the VPC route entries \(describe(wide)) and \(describe(narrow)) overlap"))
            }
        }
        // Entries that are not the cluster's (another network, another purpose) matter where they cover pod addresses.
        for entry in machineEntries where !entry.clusterManaged {
            for cidr in podCIDRs where entry.destination.contains(cidr) || cidr.contains(entry.destination) {
                problems.append(Problem(kind: .overlap, cidr: cidr, actualNextHop: hop(entry),
                                        message: "the VPC route entry \(describe(entry)), not one of the cluster's, overlaps the pod CIDR \(cidr)"))
            }
        }
        var seen: [IPPrefix: VPCRouteEntry] = [:]
        var reported = Set<IPPrefix>()
        for entry in ownEntries {
            guard let first = seen[entry.destination] else { seen[entry.destination] = entry; continue }
            guard first.nextHopID != entry.nextHopID, reported.insert(entry.destination).inserted else { continue }
            problems.append(Problem(kind: .conflict, cidr: entry.destination, actualNextHop: hop(entry),
                                    message: "two VPC route entries for \(entry.destination): \(describe(first)) and \(describe(entry))"))
        }
        for entry in entries {
            guard let state = entry.unfinishedState else { continue }
            problems.append(Problem(kind: .notProvisioned, cidr: entry.destination, actualNextHop: entry.nextHopID == nil ? nil : hop(entry),
                                    message: "the VPC route entry \(describe(entry)) is \(state), not provisioned"))
        }
        capacity = Capacity(used: table.usedEntries, limit: max(1, limit ?? table.cloud.defaultRouteLimit))
        if capacity.isNearlyFull {
            let perNode = max(1, cluster.nodes.map(\.podCIDRs.count).max() ?? 1)
            let room = max(0, capacity.limit - capacity.used) / perNode
            let consequence = room == 0 ? "a new node gets no route" : "room for \(room) more node\(room == 1 ? "" : "s")"
            problems.append(Problem(kind: .nearlyFull, cidr: nil,
                                    message: "the \(table.cloud.displayName) route table holds \(capacity.used) of \(capacity.limit) \(table.cloud.limitScope): \(consequence)"))
        }
    }

    /// What the table says about a pod CIDR, nil when it is not a pod CIDR of the map.
    public func status(of cidr: IPPrefix) -> Status? { statuses[cidr] }
}
