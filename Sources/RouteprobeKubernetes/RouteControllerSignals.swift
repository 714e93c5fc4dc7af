import Foundation
import RouteprobeCore

extension Kubernetes {
    /// A core/v1 Event, as far as the route-controller watchdog reads it. Every field but `metadata` is
    /// optional, so one odd Event never fails a list; incomplete ones are skipped by the reader.
    public struct Event: Sendable, Codable {
        public struct Involved: Sendable, Codable {
            public var kind: String?
            public var name: String?
        }
        public struct Source: Sendable, Codable {
            public var component: String?
        }
        public var metadata: ObjectMeta
        public var involvedObject: Involved?
        public var reason: String?
        public var message: String?
        public var type: String?
        public var count: Int?
        public var source: Source?
        /// RFC 3339 seconds, e.g. `2026-12-05T10:12:44Z`.
        public var firstTimestamp: String?
        public var lastTimestamp: String?
        /// MicroTime of events written through events.k8s.io.
        public var eventTime: String?
    }
}

/// What the route controller says about each node, read from Warning Events on Nodes and from the Nodes'
/// NetworkUnavailable condition.
public enum RouteControllerSignals {
    /// A route controller's failure Event about a node, with its time (Unix seconds).
    public struct NodeEvent: Sendable, Hashable {
        public var node: String
        public var reason: String
        public var message: String
        public var count: Int
        public var lastSeconds: Int64

        public init(node: String, reason: String, message: String, count: Int, lastSeconds: Int64) {
            self.node = node
            self.reason = reason
            self.message = message
            self.count = count
            self.lastSeconds = lastSeconds
        }
    }

    /// The newest route-controller failure Event per node; Events without a node, a reason of the route
    /// controller's or a readable time are left out (`skipped` names them, for one log line each).
    public static func newestFailures(_ events: [Kubernetes.Event]) -> (byNode: [String: NodeEvent], skipped: [String]) {
        var byNode: [String: NodeEvent] = [:]
        var skipped: [String] = []
        for event in events {
            guard let reason = event.reason, RouteControllerSignal.failureReasons.contains(reason) else { continue }
            guard event.involvedObject?.kind == "Node", let node = event.involvedObject?.name, !node.isEmpty,
                  let seconds = [event.lastTimestamp, event.eventTime, event.firstTimestamp].lazy.compactMap({ $0.flatMap(KubernetesTime.seconds) }).first else {
                skipped.append(event.metadata.name)
                continue
            }
            let record = NodeEvent(node: node, reason: reason, message: event.message ?? "", count: max(1, event.count ?? 1), lastSeconds: seconds)
            if let current = byNode[node], current.lastSeconds > seconds { continue }
            byNode[node] = record
        }
        return (byNode, skipped.sorted())
    }

    /// Nodes whose NetworkUnavailable is True: the reason and message the route controller (or CNI) set.
    public static func networkUnavailable(_ nodes: [Kubernetes.Node]) -> [String: (reason: String, message: String)] {
        var result: [String: (reason: String, message: String)] = [:]
        for node in nodes {
            guard let condition = node.status?.conditions?.first(where: { $0.type == "NetworkUnavailable" }), condition.status == "True" else { continue }
            result[node.metadata.name] = (condition.reason ?? "NoRouteCreated", condition.message ?? "")
        }
        return result
    }

    /// What the route controller says about `node`'s route while a finding open since `since` stands: its
    /// newest failure Event from at most 10 minutes before the finding opened, else a NetworkUnavailable True
    /// condition; nil when it says nothing. The one rule for the aggregator's watchdog and `explain`.
    public static func signal(node: String, since: Int64, now: Int64, events: [String: NodeEvent],
                              unavailable: [String: (reason: String, message: String)]) -> RouteControllerSignal? {
        if let event = events[node], event.lastSeconds >= since - 600 {
            return .event(reason: event.reason, message: event.message, ageSeconds: now - event.lastSeconds, count: event.count)
        }
        return unavailable[node].map { .networkUnavailable(reason: $0.reason, message: $0.message) }
    }

}
