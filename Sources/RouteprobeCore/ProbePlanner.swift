/// Chooses which nodes probe which pod CIDRs: each CIDR gets `sourcesPerCIDR` sources by rendezvous
/// (highest-random-weight) hashing, so a node joining or leaving moves only the CIDRs it wins or held,
/// and probe load grows as O(N·K) instead of O(N²). `fullMesh` makes every node probe every other node.
public struct ProbePlanner: Sendable {
    /// Sources per pod CIDR (K).
    public var sourcesPerCIDR: Int
    /// Every node probes every other node instead (small clusters).
    public var fullMesh: Bool

    /// Builds a planner.
    public init(sourcesPerCIDR: Int = 3, fullMesh: Bool = false) {
        self.sourcesPerCIDR = max(1, sourcesPerCIDR)
        self.fullMesh = fullMesh
    }

    /// The rendezvous weight of `source` for `cidr`: the source with the highest weights wins.
    public static func weight(cidr: IPPrefix, source: String) -> UInt64 {
        var hash = StableHash()
        hash.add(cidr.description)
        hash.add(source)
        // FNV's low bits mix poorly for near-identical inputs; a final avalanche (splitmix64) fixes that.
        var value = hash.value
        value = (value ^ (value >> 30)) &* 0xbf58_476d_1ce4_e5b9
        value = (value ^ (value >> 27)) &* 0x94d0_49bb_1331_11eb
        return value ^ (value >> 31)
    }

    /// The sources of each pod CIDR, chosen among `sources` (the nodes whose agents are registered);
    /// a node never probes its own CIDR.
    public func sources(for cluster: ClusterMap, among sources: [String]) -> [IPPrefix: [String]] {
        var result: [IPPrefix: [String]] = [:]
        for owner in cluster.nodes {
            let candidates = sources.filter { $0 != owner.name }
            for cidr in owner.podCIDRs {
                if fullMesh || candidates.count <= sourcesPerCIDR {
                    result[cidr] = candidates.sorted()
                    continue
                }
                // Keep the K best of all candidates without sorting them all: K is small.
                var best: [(weight: UInt64, name: String)] = []
                best.reserveCapacity(sourcesPerCIDR + 1)
                for name in candidates {
                    let weight = ProbePlanner.weight(cidr: cidr, source: name)
                    if best.count == sourcesPerCIDR, let last = best.last, (last.weight, last.name) >= (weight, name) { continue }
                    let index = best.firstIndex { ($0.weight, $0.name) < (weight, name) } ?? best.count
                    best.insert((weight, name), at: index)
                    if best.count > sourcesPerCIDR { best.removeLast() }
                }
                result[cidr] = best.map(\.name).sorted()
            }
        }
        return result
    }

    /// Every source's plan: the nodes it probes (owners of the CIDRs it was chosen for).
    public func plans(for cluster: ClusterMap, among sources: [String]) -> [String: ProbePlan] {
        let chosen = self.sources(for: cluster, among: sources)
        var probeNodes: [String: Set<String>] = [:]
        for owner in cluster.nodes {
            for cidr in owner.podCIDRs {
                for source in chosen[cidr] ?? [] { probeNodes[source, default: []].insert(owner.name) }
            }
        }
        var plans: [String: ProbePlan] = [:]
        let byName = Dictionary(cluster.nodes.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for source in sources {
            plans[source] = ProbePlan(node: source, probeNodes: (probeNodes[source] ?? []).sorted(), nodes: byName,
                                      probePort: cluster.probePort)
        }
        return plans
    }
}

/// The planner's choices kept up to date as sources and pod CIDRs come and go, at O(N·K) per change
/// instead of replanning the whole cluster: a joining source is weighed against each CIDR's K-th best, a
/// leaving source's CIDRs (about K of them) are replanned.
public struct PlanBook: Sendable {
    /// The planner whose choices this keeps.
    public let planner: ProbePlanner
    private var ownerOfCIDR: [IPPrefix: String] = [:]
    private var cidrsOfOwner: [String: [IPPrefix]] = [:]
    private var sources: Set<String> = []
    private var chosen: [IPPrefix: [(weight: UInt64, name: String)]] = [:]
    private var assigned: [String: Set<IPPrefix>] = [:]

    /// An empty book.
    public init(planner: ProbePlanner) { self.planner = planner }

    /// Sources known.
    public var sourceCount: Int { sources.count }

    /// Sets the pod CIDRs `owner` owns (an empty list removes them).
    public mutating func setCIDRs(_ cidrs: [IPPrefix], of owner: String) {
        let old = cidrsOfOwner[owner] ?? []
        if old == cidrs { return }
        for cidr in old where !cidrs.contains(cidr) {
            ownerOfCIDR[cidr] = nil
            for entry in chosen[cidr] ?? [] { assigned[entry.name]?.remove(cidr) }
            chosen[cidr] = nil
        }
        cidrsOfOwner[owner] = cidrs.isEmpty ? nil : cidrs
        for cidr in cidrs where !old.contains(cidr) {
            ownerOfCIDR[cidr] = owner
            replan(cidr)
        }
    }

    /// Adds a source (a node whose agent is registered).
    public mutating func addSource(_ name: String) {
        guard sources.insert(name).inserted, !planner.fullMesh else { return }
        let k = planner.sourcesPerCIDR
        for (cidr, owner) in ownerOfCIDR where owner != name {
            let weight = ProbePlanner.weight(cidr: cidr, source: name)
            var list = chosen[cidr] ?? []
            if list.count == k, let last = list.last, (last.weight, last.name) >= (weight, name) { continue }
            let index = list.firstIndex { ($0.weight, $0.name) < (weight, name) } ?? list.count
            list.insert((weight, name), at: index)
            assigned[name, default: []].insert(cidr)
            if list.count > k { assigned[list.removeLast().name]?.remove(cidr) }
            chosen[cidr] = list
        }
    }

    /// Removes a source; the CIDRs it probed get a replacement.
    public mutating func removeSource(_ name: String) {
        guard sources.remove(name) != nil else { return }
        let held = assigned.removeValue(forKey: name) ?? []
        if planner.fullMesh { return }
        for cidr in held { replan(cidr) }
    }

    private mutating func replan(_ cidr: IPPrefix) {
        guard let owner = ownerOfCIDR[cidr], !planner.fullMesh else { return }
        for entry in chosen[cidr] ?? [] { assigned[entry.name]?.remove(cidr) }
        var best: [(weight: UInt64, name: String)] = []
        let k = planner.sourcesPerCIDR
        for name in sources where name != owner {
            let weight = ProbePlanner.weight(cidr: cidr, source: name)
            if best.count == k, let last = best.last, (last.weight, last.name) >= (weight, name) { continue }
            let index = best.firstIndex { ($0.weight, $0.name) < (weight, name) } ?? best.count
            best.insert((weight, name), at: index)
            if best.count > k { best.removeLast() }
        }
        chosen[cidr] = best
        for entry in best { assigned[entry.name, default: []].insert(cidr) }
    }

    /// The sources chosen for a CIDR, sorted by name.
    public func sources(of cidr: IPPrefix) -> [String] {
        guard let owner = ownerOfCIDR[cidr] else { return [] }
        if planner.fullMesh { return sources.filter { $0 != owner }.sorted() }
        return (chosen[cidr] ?? []).map(\.name).sorted()
    }

    /// The nodes whose pod CIDRs `source` probes, sorted.
    public func probeNodes(of source: String) -> [String] {
        if planner.fullMesh { return cidrsOfOwner.keys.filter { $0 != source }.sorted() }
        return Set((assigned[source] ?? []).compactMap { ownerOfCIDR[$0] }).sorted()
    }
}
