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
        weight(cidrKey: key(cidr.description), sourceKey: key(source))
    }

    /// A stable 64-bit key of a CIDR's or a node's name, hashed once and combined many times.
    public static func key(_ text: String) -> UInt64 {
        var hash = StableHash()
        hash.add(text)
        return hash.value
    }

    /// The weight from precomputed keys: a splitmix64 finaliser over the two keys, so that weights of one
    /// source for different CIDRs are independent.
    @inline(__always)
    public static func weight(cidrKey: UInt64, sourceKey: UInt64) -> UInt64 {
        var value = cidrKey ^ (sourceKey &* 0x9e37_79b9_7f4a_7c15)
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
            let sourceKeys = candidates.map(ProbePlanner.key)
            for cidr in owner.podCIDRs {
                let cidrKey = ProbePlanner.key(cidr.description)
                if fullMesh || candidates.count <= sourcesPerCIDR {
                    result[cidr] = candidates.sorted()
                    continue
                }
                // Keep the K best of all candidates without sorting them all: K is small.
                var best: [(weight: UInt64, name: String)] = []
                best.reserveCapacity(sourcesPerCIDR + 1)
                for (name, sourceKey) in zip(candidates, sourceKeys) {
                    let weight = ProbePlanner.weight(cidrKey: cidrKey, sourceKey: sourceKey)
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

/// The planner's choices kept up to date as sources and pod CIDRs come and go, at O(N) cheap weight
/// computations per change instead of replanning the whole cluster: a joining source is weighed against each
/// CIDR's K-th best, a leaving source's CIDRs (about K of them) are replanned. Keys are hashed once.
public struct PlanBook: Sendable {
    /// The planner whose choices this keeps.
    public let planner: ProbePlanner

    private struct Entry {
        var cidr: IPPrefix
        var owner: String
        var key: UInt64
        var chosen: [(weight: UInt64, name: String)]
    }

    private var entries: [Entry] = []
    private var indexOfCIDR: [IPPrefix: Int] = [:]
    private var cidrsOfOwner: [String: [IPPrefix]] = [:]
    private var sourceKeys: [String: UInt64] = [:]
    private var assigned: [String: Set<IPPrefix>] = [:]

    /// An empty book.
    public init(planner: ProbePlanner) { self.planner = planner }

    /// Sources known.
    public var sourceCount: Int { sourceKeys.count }

    /// Sets the pod CIDRs `owner` owns (an empty list removes them).
    public mutating func setCIDRs(_ cidrs: [IPPrefix], of owner: String) {
        let old = cidrsOfOwner[owner] ?? []
        if old == cidrs { return }
        for cidr in old where !cidrs.contains(cidr) { removeEntry(cidr) }
        cidrsOfOwner[owner] = cidrs.isEmpty ? nil : cidrs
        for cidr in cidrs where !old.contains(cidr) {
            if indexOfCIDR[cidr] != nil { removeEntry(cidr) }
            indexOfCIDR[cidr] = entries.count
            entries.append(Entry(cidr: cidr, owner: owner, key: ProbePlanner.key(cidr.description), chosen: []))
            replan(entries.count - 1)
        }
    }

    private mutating func removeEntry(_ cidr: IPPrefix) {
        guard let index = indexOfCIDR.removeValue(forKey: cidr) else { return }
        for choice in entries[index].chosen { assigned[choice.name]?.remove(cidr) }
        let last = entries.count - 1
        if index != last {
            entries.swapAt(index, last)
            indexOfCIDR[entries[index].cidr] = index
        }
        entries.removeLast()
    }

    /// Adds a source (a node whose agent is registered).
    public mutating func addSource(_ name: String) {
        guard sourceKeys[name] == nil else { return }
        let sourceKey = ProbePlanner.key(name)
        sourceKeys[name] = sourceKey
        if planner.fullMesh { return }
        let k = planner.sourcesPerCIDR
        for index in entries.indices where entries[index].owner != name {
            let weight = ProbePlanner.weight(cidrKey: entries[index].key, sourceKey: sourceKey)
            if entries[index].chosen.count == k, let last = entries[index].chosen.last, (last.weight, last.name) >= (weight, name) { continue }
            let position = entries[index].chosen.firstIndex { ($0.weight, $0.name) < (weight, name) } ?? entries[index].chosen.count
            entries[index].chosen.insert((weight, name), at: position)
            assigned[name, default: []].insert(entries[index].cidr)
            if entries[index].chosen.count > k { assigned[entries[index].chosen.removeLast().name]?.remove(entries[index].cidr) }
        }
    }

    /// Removes a source; the CIDRs it probed get a replacement.
    public mutating func removeSource(_ name: String) {
        guard sourceKeys.removeValue(forKey: name) != nil else { return }
        let held = assigned.removeValue(forKey: name) ?? []
        if planner.fullMesh { return }
        for cidr in held { if let index = indexOfCIDR[cidr] { replan(index) } }
    }

    private mutating func replan(_ index: Int) {
        guard !planner.fullMesh else { return }
        let cidr = entries[index].cidr, owner = entries[index].owner, key = entries[index].key
        for choice in entries[index].chosen { assigned[choice.name]?.remove(cidr) }
        var best: [(weight: UInt64, name: String)] = []
        let k = planner.sourcesPerCIDR
        for (name, sourceKey) in sourceKeys where name != owner {
            let weight = ProbePlanner.weight(cidrKey: key, sourceKey: sourceKey)
            if best.count == k, let last = best.last, (last.weight, last.name) >= (weight, name) { continue }
            let position = best.firstIndex { ($0.weight, $0.name) < (weight, name) } ?? best.count
            best.insert((weight, name), at: position)
            if best.count > k { best.removeLast() }
        }
        entries[index].chosen = best
        for choice in best { assigned[choice.name, default: []].insert(cidr) }
    }

    /// The sources chosen for a CIDR, sorted by name.
    public func sources(of cidr: IPPrefix) -> [String] {
        guard let index = indexOfCIDR[cidr] else { return [] }
        if planner.fullMesh { return sourceKeys.keys.filter { $0 != entries[index].owner }.sorted() }
        return entries[index].chosen.map(\.name).sorted()
    }

    /// The nodes whose pod CIDRs `source` probes, sorted.
    public func probeNodes(of source: String) -> [String] {
        if planner.fullMesh { return cidrsOfOwner.keys.filter { $0 != source }.sorted() }
        return Set((assigned[source] ?? []).compactMap { indexOfCIDR[$0].map { entries[$0].owner } }).sorted()
    }
}
