/// Compares a node's own routing table with the cluster map, with no probe: in host-gw clusters every other
/// node's pod CIDR must be routed via that node's IP.
public enum KernelRouteCheck {
    /// True when the table routes at least one other node's pod CIDR directly via that node's IP: the
    /// cluster uses host-gw style routes, and every other CIDR must have one too. In VPC-routed clusters
    /// the node holds no such routes and nothing is checked.
    public static func isHostGateway(routes: [Route], map: ClusterMap, localNode: String) -> Bool {
        map.nodes.contains { node in
            node.name != localNode && node.podCIDRs.contains { cidr in
                routes.contains { $0.table == .main && $0.destination == cidr && $0.nextHops.contains { $0.gateway == node.ip } }
            }
        }
    }

    /// The findings for the main table: a missing, blackholed or rejecting route is `kernelRouteMissing`,
    /// a route via another next hop is `kernelRouteWrong`. Empty when the cluster is not host-gw.
    public static func findings(routes: [Route], map: ClusterMap, localNode: String) -> [Finding] {
        guard isHostGateway(routes: routes, map: map, localNode: localNode) else { return [] }
        var findings: [Finding] = []
        for node in map.nodes where node.name != localNode {
            for cidr in node.podCIDRs {
                let route = routes.first { $0.table == .main && $0.destination == cidr && !$0.flags.contains(.cloned) }
                let entry = "\(cidr) -> \(node.name) (\(node.ip))"
                func finding(_ kind: Finding.Kind, _ message: String) -> Finding {
                    Finding(kind: kind, scope: .node, subject: "\(localNode)|\(cidr)", cidr: cidr, expectedNextHop: Finding.NextHop(node),
                            sources: [localNode], evidence: Finding.Evidence(), message: message,
                            remediation: Finding.remediation(kind: kind, source: localNode, cidr: cidr, owner: node))
                }
                guard let route else {
                    findings.append(finding(.kernelRouteMissing, "The node's kernel has no route for \(cidr); it should be \(entry)."))
                    continue
                }
                if route.type.rejectsTraffic {
                    findings.append(finding(.kernelRouteMissing, "The node's kernel route for \(cidr) is a \(route.type.name) route; it should be \(entry)."))
                } else if let via = route.nextHops.first?.gateway, !route.nextHops.contains(where: { $0.gateway == node.ip }) {
                    let other = map.node(withIP: via).map { "\($0.name) (\(via))" } ?? via.description
                    findings.append(finding(.kernelRouteWrong, "The node's kernel routes \(cidr) via \(other); it should be \(entry)."))
                }
            }
        }
        return findings
    }
}
