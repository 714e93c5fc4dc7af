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
        let digest = cluster.digest
        for source in sources {
            plans[source] = ProbePlan(node: source, probeNodes: (probeNodes[source] ?? []).sorted(), cluster: cluster,
                                      clusterDigest: digest)
        }
        return plans
    }
}
