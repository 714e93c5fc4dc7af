import Foundation
import RouteprobeCore

/// The `PodCIDRUnreachable` condition on the Node that owns an unreachable pod CIDR, node-problem-detector
/// style (`--node-conditions`): True with the finding's reason and message while a pod-CIDR finding about it
/// is open, False with reason `PodCIDRReachable` after. Written as a strategic merge patch of
/// `status.conditions` (merged by type), so other writers' conditions stay; `NetworkUnavailable` is never
/// written (it belongs to the route controller and the CNI).
public struct NodeConditions: Sendable {
    public static let type = "PodCIDRUnreachable"
    private let client: KubernetesClient

    public init(client: KubernetesClient) { self.client = client }

    /// The finding kinds that make a node's pod CIDR unreachable, and the condition reason of each.
    public static func reason(for kind: Finding.Kind) -> String? {
        switch kind {
        case .vpcRouteMissing: return "VpcRouteMissing"
        case .vpcRouteWrongNextHop: return "VpcRouteWrongNextHop"
        case .rejectedByRouter: return "RejectedByRouter"
        default: return nil
        }
    }

    struct Patch: Encodable {
        struct Condition: Encodable {
            var type: String
            var status: String
            var reason: String
            var message: String
            var lastHeartbeatTime: String
            var lastTransitionTime: String
        }
        struct Status: Encodable { var conditions: [Condition] }
        var status: Status
    }

    /// Sets the condition for `finding` opening (True) or resolving (False) on its node; other kinds do nothing.
    public func record(_ finding: Finding, resolved: Bool, at date: Date = Date()) async throws(KubernetesError) {
        guard let reason = Self.reason(for: finding.kind), let node = finding.expectedNextHop?.node else { return }
        let stamp = KubernetesTime.time(date)
        let condition = resolved
            ? Patch.Condition(type: Self.type, status: "False", reason: "PodCIDRReachable",
                              message: "Its pod CIDR is reachable again from every source routeprobe plans.", lastHeartbeatTime: stamp, lastTransitionTime: stamp)
            : Patch.Condition(type: Self.type, status: "True", reason: reason, message: APIText.limited(finding.message),
                              lastHeartbeatTime: stamp, lastTransitionTime: stamp)
        let path = "/api/v1/nodes/\(node.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-."))) ?? node)/status"
        try await client.patch(Patch(status: .init(conditions: [condition])), at: path, contentType: "application/strategic-merge-patch+json")
    }
}
