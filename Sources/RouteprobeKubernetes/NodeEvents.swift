import Foundation
import RouteprobeCore

/// Kubernetes Events on the Node a finding is about (`kubectl describe node node-b` shows them): reason
/// `VpcRouteMissing` for a missing VPC route entry, `PodCIDRUnreachable` for the other pod-CIDR findings.
public struct NodeEvents: Sendable {
    private let client: KubernetesClient
    private let component: String
    private let instance: String

    /// Builds a recorder; `instance` names this aggregator (its host name).
    public init(client: KubernetesClient, component: String = "routeprobe-aggregator", instance: String) {
        self.client = client
        self.component = component
        self.instance = instance
    }

    /// The reason for a finding kind, nil for kinds that are not about one node's pod CIDR.
    public static func reason(for kind: Finding.Kind) -> String? {
        switch kind {
        case .vpcRouteMissing: return "VpcRouteMissing"
        case .vpcRouteWrongNextHop, .kernelRouteMissing, .kernelRouteWrong, .rejectedByRouter: return "PodCIDRUnreachable"
        case .nodeUnreachable, .sourceLocal, .vpcRouteStale, .vpcRouteOverlap, .vpcRouteConflict, .vpcRouteNotProvisioned,
             .vpcRouteTableNearlyFull, .routeControllerSilent, .routeControllerFailing, .routeNotPropagated, .apiServiceUnavailable, .agentSilent: return nil
        }
    }

    struct Event: Encodable {
        struct Metadata: Encodable { var generateName: String; var namespace: String }
        struct Involved: Encodable { var apiVersion = "v1"; var kind = "Node"; var name: String }
        struct Source: Encodable { var component: String }
        var apiVersion = "v1"
        var kind = "Event"
        var metadata: Metadata
        var involvedObject: Involved
        var reason: String
        var message: String
        var type = "Warning"
        var source: Source
        var firstTimestamp: String
        var lastTimestamp: String
        var count = 1
        var reportingComponent: String
        var reportingInstance: String
    }

    private struct Created: Decodable {
        struct Meta: Decodable { var name: String? }
        var metadata: Meta?
    }

    /// Records the event for an opened finding (in namespace `default`, where Node events live) and returns
    /// the name the API server gave it; findings of other kinds, or without a node, record nothing (nil).
    @discardableResult
    public func record(_ finding: Finding, at date: Date = Date()) async throws(KubernetesError) -> String? {
        guard let reason = Self.reason(for: finding.kind), let node = finding.expectedNextHop?.node else { return nil }
        let stamp = KubernetesTime.time(date)
        let message = APIText.limited(finding.message)
        let event = Event(metadata: .init(generateName: "\(node).routeprobe-", namespace: "default"), involvedObject: .init(name: node),
                          reason: reason, message: message, source: .init(component: component), firstTimestamp: stamp,
                          lastTimestamp: stamp, reportingComponent: component, reportingInstance: instance)
        let created = try await client.post(event, at: "/api/v1/namespaces/default/events", answer: Created.self)
        return created.metadata?.name
    }

    private struct MessagePatch: Encodable {
        var message: String
        var lastTimestamp: String
    }

    /// Rewrites the message of the Event `name` (a merge patch): the finding changed while open (a symptom
    /// appeared), and `kubectl describe node` should say so without a second Event.
    public func update(_ name: String, with finding: Finding, at date: Date = Date()) async throws(KubernetesError) {
        let message = APIText.limited(finding.message)
        try await client.patch(MessagePatch(message: message, lastTimestamp: KubernetesTime.time(date)),
                               at: "/api/v1/namespaces/default/events/\(name)", contentType: "application/merge-patch+json")
    }
}
