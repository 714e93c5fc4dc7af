/// Which node owns which pod CIDR: the cluster map file (YAML or JSON with the same keys).
public struct ClusterMap: Sendable, Hashable, Codable {
    /// One node.
    public struct Node: Sendable, Hashable, Codable {
        /// The node's name.
        public var name: String
        /// The node's host IP (on a dual-stack node, the first of `ips`).
        public var ip: IPAddress
        /// A dual-stack node's host IP of the other family; nil on a single-stack node.
        public var otherIP: IPAddress?
        /// The pod CIDRs the VPC should route to this node.
        public var podCIDRs: [IPPrefix]
        /// Addresses inside the pod CIDRs worth probing (beacons, known pods); optional.
        public var podTargets: [IPAddress]
        /// The cloud's id of the node's machine (`i-0abc...`), as VPC route entries name their next hop; optional.
        public var instanceID: String?
        /// The Node object's `metadata.uid`, which GCP route names carry; optional.
        public var uid: String?

        /// Builds a node.
        public init(name: String, ip: IPAddress, otherIP: IPAddress? = nil, podCIDRs: [IPPrefix], podTargets: [IPAddress] = [],
                    instanceID: String? = nil, uid: String? = nil) {
            self.name = name
            self.ip = ip
            self.otherIP = otherIP
            self.podCIDRs = podCIDRs
            self.podTargets = podTargets
            self.instanceID = instanceID
            self.uid = uid
        }

        enum CodingKeys: String, CodingKey { case name, ip, ips, podCIDRs, podTargets, instanceID, uid }

        /// A node gives `ip`, or on dual stack `ips: [IPv4, IPv6]` (one address of each family), as a Node's
        /// `status.addresses` list its InternalIPs.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            name = try container.decode(String.self, forKey: .name)
            if let ips = try container.decodeIfPresent([IPAddress].self, forKey: .ips) {
                guard !container.contains(.ip) else {
                    throw DecodingError.dataCorruptedError(forKey: .ips, in: container, debugDescription: "give ip or ips, not both")
                }
                guard let first = ips.first, ips.count <= 2, Set(ips.map(\.family)).count == ips.count else {
                    throw DecodingError.dataCorruptedError(forKey: .ips, in: container,
                                                           debugDescription: "ips must hold one or two addresses, at most one of each family")
                }
                ip = first
                otherIP = ips.count == 2 ? ips[1] : nil
            } else {
                ip = try container.decode(IPAddress.self, forKey: .ip)
                otherIP = nil
            }
            podCIDRs = try container.decodeIfPresent([IPPrefix].self, forKey: .podCIDRs) ?? []
            podTargets = try container.decodeIfPresent([IPAddress].self, forKey: .podTargets) ?? []
            instanceID = try container.decodeIfPresent(String.self, forKey: .instanceID)
            uid = try container.decodeIfPresent(String.self, forKey: .uid)
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(name, forKey: .name)
            if let otherIP { try container.encode([ip, otherIP], forKey: .ips) } else { try container.encode(ip, forKey: .ip) }
            try container.encode(podCIDRs, forKey: .podCIDRs)
            try container.encode(podTargets, forKey: .podTargets)
            try container.encodeIfPresent(instanceID, forKey: .instanceID)
            try container.encodeIfPresent(uid, forKey: .uid)
        }

        /// Every host IP of the node: `ip`, then `otherIP`.
        public var addresses: [IPAddress] { otherIP.map { [ip, $0] } ?? [ip] }

        /// True when `address` is one of the node's host IPs (asked per probe: no array is made).
        public func hasAddress(_ address: IPAddress) -> Bool { ip == address || otherIP == address }

        /// The host IP of `family`, nil when the node has none.
        public func address(of family: AddressFamily) -> IPAddress? {
            if ip.family == family { return ip }
            return otherIP.flatMap { $0.family == family ? $0 : nil }
        }

        /// The addresses to probe in this node's pod network: `podTargets`, else the first address of each CIDR.
        public var probeTargets: [IPAddress] {
            if !podTargets.isEmpty { return podTargets }
            return podCIDRs.compactMap { $0.firstHost }
        }
    }

    /// The TCP port of the beacons in every pod CIDR (default 9700).
    public var probePort: UInt16
    /// The nodes.
    public var nodes: [Node]

    /// The default beacon port.
    public static let defaultProbePort: UInt16 = 9700

    /// Builds a map.
    public init(probePort: UInt16 = ClusterMap.defaultProbePort, nodes: [Node]) {
        self.probePort = probePort
        self.nodes = nodes
    }

    enum CodingKeys: String, CodingKey { case probePort, nodes }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        probePort = try container.decodeIfPresent(UInt16.self, forKey: .probePort) ?? ClusterMap.defaultProbePort
        nodes = try container.decode([Node].self, forKey: .nodes)
    }

    /// The node whose pod CIDR holds `address` (the longest matching CIDR wins).
    public func owner(of address: IPAddress) -> Node? { ownerIndex(of: address).map { nodes[$0] } }

    /// The position in `nodes` of `owner(of:)`. An agent asks for every probe of every round: walking the
    /// nodes by position copies none of them (a copy retains its name and its lists).
    public func ownerIndex(of address: IPAddress) -> Int? {
        var best: (index: Int, length: Int)? = nil
        for index in nodes.indices {
            for cidr in nodes[index].podCIDRs where cidr.contains(address) && cidr.length > (best?.length ?? -1) {
                best = (index, cidr.length)
            }
        }
        return best?.index
    }

    /// The node with host IP `address`.
    public func node(withIP address: IPAddress) -> Node? { nodes.first { $0.hasAddress(address) } }

    /// The node named `name`.
    public func node(named name: String) -> Node? { nodes.first { $0.name == name } }

    /// Problems that make the map unusable: duplicate names or IPs, overlapping pod CIDRs, pod targets
    /// outside their node's CIDRs. Empty when the map is sound.
    public func problems() -> [String] {
        var found: [String] = []
        var names = Set<String>(), ips = Set<IPAddress>()
        for node in nodes {
            if !names.insert(node.name).inserted { found.append("node name \(node.name) appears twice") }
            for address in node.addresses where !ips.insert(address).inserted { found.append("node IP \(address) appears twice") }
            for target in node.podTargets where !node.podCIDRs.contains(where: { $0.contains(target) }) {
                found.append("pod target \(target) of \(node.name) is outside its pod CIDRs")
            }
        }
        // Two prefixes overlap only when one holds the other: sorted by family, network address and length, a
        // sweep keeps the prefixes that hold the current one on a stack. O(N log N), not every pair.
        let all = nodes.flatMap { node in node.podCIDRs.map { (name: node.name, cidr: $0) } }
            .sorted { ($0.cidr.family == .inet ? 0 : 1, $0.cidr.address, $0.cidr.length) < ($1.cidr.family == .inet ? 0 : 1, $1.cidr.address, $1.cidr.length) }
        var open: [(name: String, cidr: IPPrefix)] = []
        for entry in all {
            while let top = open.last, !top.cidr.contains(entry.cidr) { open.removeLast() }
            if let top = open.last { found.append("pod CIDR \(top.cidr) of \(top.name) overlaps \(entry.cidr) of \(entry.name)") }
            open.append(entry)
        }
        return found
    }
}

/// A value written as one string in JSON and YAML (addresses, prefixes, MACs): decoding text that does not
/// parse says what was expected.
public protocol TextCodable: Codable, CustomStringConvertible {
    /// Parses the text; nil when it is not one.
    init?(codableText: String)
    /// What the text should have been, for the error (`an IP address`).
    static var expectedText: String { get }
    /// Why `text` is not one, for the error; by default "'TEXT' is not EXPECTED".
    static func invalid(_ text: String) -> String
}

extension TextCodable {
    public static func invalid(_ text: String) -> String { "'\(text)' is not \(expectedText)" }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = Self(codableText: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: Self.invalid(text)))
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

extension IPAddress: TextCodable {
    public init?(codableText: String) { self.init(codableText) }
    public static var expectedText: String { "an IP address" }
}

extension IPPrefix: TextCodable {
    /// A CIDR with its host bits clear (maps, reports, registrations, plans).
    public init?(codableText: String) {
        guard Self.problem(codableText) == nil else { return nil }
        self.init(codableText)
    }
    public static var expectedText: String { "a CIDR such as 172.16.1.0/24" }
    public static func invalid(_ text: String) -> String { problem(text) ?? "'\(text)' is not \(expectedText)" }

    /// The first usable address: network + 1 (the network address itself for /31, /32, /127, /128).
    public var firstHost: IPAddress? {
        if length >= address.bitWidth - 1 { return address }
        switch address {
        case .v4(let value): return .v4(value + 1)
        case .v6(let high, let low): return .v6(high, low &+ 1)
        }
    }
}
