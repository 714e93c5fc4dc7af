import RouteprobeCore

/// The cluster map from Node objects: each node's name, InternalIP, pod CIDRs, machine id and UID.
public enum NodeDiscovery {
    /// Nodes without an InternalIP or a pod CIDR are left out (and named in `skipped`): routeprobe has
    /// nothing to probe or to expect for them.
    /// The names of the control-plane nodes (role label), which probe the API server's dependencies.
    public static func controlPlane(_ nodes: [Kubernetes.Node]) -> Set<String> {
        Set(nodes.filter(\.isControlPlane).map(\.metadata.name))
    }

    public static func clusterNodes(from nodes: [Kubernetes.Node]) -> (nodes: [ClusterMap.Node], skipped: [String]) {
        var result: [ClusterMap.Node] = []
        var skipped: [String] = []
        for node in nodes.sorted(by: { $0.metadata.name < $1.metadata.name }) {
            // A dual-stack node lists an InternalIP of each family; the first is its primary.
            let addresses = node.internalIPs.compactMap(IPAddress.init)
            guard let ip = addresses.first else {
                skipped.append("\(node.metadata.name): no InternalIP")
                continue
            }
            let otherIP = addresses.first { $0.family != ip.family }
            let cidrs = node.podCIDRs.compactMap { text in text.contains("/") ? IPPrefix(text) : nil }
            guard !cidrs.isEmpty else {
                skipped.append("\(node.metadata.name): no spec.podCIDR")
                continue
            }
            result.append(ClusterMap.Node(name: node.metadata.name, ip: ip, otherIP: otherIP, podCIDRs: cidrs, instanceID: node.instanceID,
                                          uid: node.metadata.uid))
        }
        return (result, skipped)
    }
}
