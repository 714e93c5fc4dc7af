/// The parts of Kubernetes objects routeprobe reads, as the API server's JSON has them. Unknown fields are
/// ignored; a missing required field is a decoding error that names its path.
public enum Kubernetes {
    /// `metadata` of an object.
    public struct ObjectMeta: Sendable, Hashable, Codable {
        public var name: String
        public var namespace: String?
        public var uid: String?
        public var resourceVersion: String?
        public var labels: [String: String]?
        public var annotations: [String: String]?

        public init(name: String, namespace: String? = nil, uid: String? = nil, resourceVersion: String? = nil, labels: [String: String]? = nil,
                    annotations: [String: String]? = nil) {
            self.name = name
            self.namespace = namespace
            self.uid = uid
            self.resourceVersion = resourceVersion
            self.labels = labels
            self.annotations = annotations
        }
    }

    /// `metadata` of a list: its resource version and the continue token of a paged list.
    public struct ListMeta: Sendable, Hashable, Codable {
        public var resourceVersion: String?
        public var `continue`: String?
    }

    /// A list answer: `{"kind": "NodeList", "metadata": {...}, "items": [...]}`.
    public struct List<Item: Decodable & Sendable>: Decodable, Sendable {
        public var metadata: ListMeta
        public var items: [Item]
    }

    /// One condition of a status (`Ready`, `Available`).
    public struct Condition: Sendable, Hashable, Codable {
        public var type: String
        public var status: String
        public var reason: String?
        public var message: String?
        /// RFC 3339, when the condition last changed.
        public var lastTransitionTime: String?

        /// The conditions under `key` that can be read, and how many could not: one odd condition must not
        /// make a whole list unreadable.
        static func lenient<Key: CodingKey>(_ container: KeyedDecodingContainer<Key>, _ key: Key) throws -> ([Condition]?, Int) {
            guard let items = try container.decodeIfPresent([Lossy<Condition>].self, forKey: key) else { return (nil, 0) }
            let read = items.compactMap(\.value)
            return (read, items.count - read.count)
        }
    }

    /// A value that decodes to nil instead of failing.
    struct Lossy<Value: Decodable>: Decodable {
        let value: Value?
        init(from decoder: any Decoder) throws { value = try? Value(from: decoder) }
    }

    /// A Node: its pod CIDRs, addresses, machine id and readiness.
    public struct Node: Sendable, Hashable, Codable {
        public struct Spec: Sendable, Hashable, Codable {
            public var podCIDR: String?
            public var podCIDRs: [String]?
            public var providerID: String?
        }
        public struct Address: Sendable, Hashable, Codable {
            public var type: String
            public var address: String
        }
        public struct Status: Sendable, Hashable, Codable {
            public var addresses: [Address]?
            public var conditions: [Condition]?
            /// Conditions that could not be read (skipped, not fatal to the list).
            public var skippedConditions = 0

            enum CodingKeys: String, CodingKey { case addresses, conditions }

            public init(from decoder: any Decoder) throws {
                let container = try decoder.container(keyedBy: CodingKeys.self)
                addresses = try container.decodeIfPresent([Address].self, forKey: .addresses)
                (conditions, skippedConditions) = try Condition.lenient(container, .conditions)
            }
        }
        public var metadata: ObjectMeta
        public var spec: Spec?
        public var status: Status?

        /// `spec.podCIDRs`, else `spec.podCIDR`.
        public var podCIDRs: [String] { spec?.podCIDRs ?? spec?.podCIDR.map { [$0] } ?? [] }
        /// The first `InternalIP` address.
        public var internalIP: String? { status?.addresses?.first { $0.type == "InternalIP" }?.address }
        /// Every InternalIP, in the order the kubelet reports them (a dual-stack node has one of each family).
        public var internalIPs: [String] { status?.addresses?.filter { $0.type == "InternalIP" }.map(\.address) ?? [] }
        /// The `Ready` condition is `True`.
        public var isReady: Bool { status?.conditions?.contains { $0.type == "Ready" && $0.status == "True" } ?? false }
        /// The node role label `node-role.kubernetes.io/control-plane` (or the older `master`) is set.
        public var isControlPlane: Bool {
            metadata.labels?.keys.contains { $0 == "node-role.kubernetes.io/control-plane" || $0 == "node-role.kubernetes.io/master" } ?? false
        }

        /// The machine id in `spec.providerID`, as VPC route tables name next hops: `aws:///us-east-1a/i-0abc`
        /// gives `i-0abc`, `alicloud://cn-hangzhou.i-bp1abc` gives `i-bp1abc`, `gce://project/zone/name` gives `name`.
        public var instanceID: String? {
            guard let provider = spec?.providerID, let schemeEnd = provider.range(of: "://") else { return nil }
            let rest = provider[schemeEnd.upperBound...]
            guard let last = rest.split(separator: "/").last else { return nil }
            if provider.hasPrefix("alicloud://"), let dot = last.firstIndex(of: ".") { return String(last[last.index(after: dot)...]) }
            return String(last)
        }
    }

    /// A reference to a Service (APIService and webhook client configs).
    public struct ServiceReference: Sendable, Hashable, Codable {
        public var namespace: String
        public var name: String
        public var port: Int?

        public init(namespace: String, name: String, port: Int? = nil) {
            self.namespace = namespace
            self.name = name
            self.port = port
        }
    }

    /// An APIService (`apiregistration.k8s.io/v1`): local (no service) or backed by a Service.
    public struct APIService: Sendable, Hashable, Codable {
        public struct Spec: Sendable, Hashable, Codable {
            public var service: ServiceReference?
            public var group: String?
            public var version: String?
        }
        public struct Status: Sendable, Hashable, Codable {
            public var conditions: [Condition]?
            /// Conditions that could not be read (skipped, not fatal to the list).
            public var skippedConditions = 0

            enum CodingKeys: String, CodingKey { case conditions }

            public init(from decoder: any Decoder) throws {
                (conditions, skippedConditions) = try Condition.lenient(try decoder.container(keyedBy: CodingKeys.self), .conditions)
            }
        }
        public var metadata: ObjectMeta
        public var spec: Spec
        public var status: Status?

        /// The `Available` condition, when reported.
        public var available: Condition? { status?.conditions?.first { $0.type == "Available" } }
    }

    /// A Service: ports and how they map to the pods.
    public struct Service: Sendable, Hashable, Codable {
        public struct Port: Sendable, Hashable, Codable {
            public var name: String?
            public var port: Int
            public var `protocol`: String?
        }
        public struct Spec: Sendable, Hashable, Codable {
            public var clusterIP: String?
            public var ports: [Port]?
        }
        public var metadata: ObjectMeta
        public var spec: Spec?
    }

    /// An EndpointSlice (`discovery.k8s.io/v1`): the pod addresses behind a Service.
    public struct EndpointSlice: Sendable, Hashable, Codable {
        public struct Endpoint: Sendable, Hashable, Codable {
            public struct Conditions: Sendable, Hashable, Codable { public var ready: Bool? }
            public var addresses: [String]
            public var conditions: Conditions?
            public var nodeName: String?
        }
        public struct Port: Sendable, Hashable, Codable {
            public var name: String?
            public var port: Int?
            public var `protocol`: String?
        }
        public var metadata: ObjectMeta
        public var addressType: String
        public var endpoints: [Endpoint]?
        public var ports: [Port]?

        /// The Service it belongs to (label `kubernetes.io/service-name`).
        public var serviceName: String? { metadata.labels?["kubernetes.io/service-name"] }
    }

    /// A validating or mutating webhook configuration.
    public struct WebhookConfiguration: Sendable, Hashable, Codable {
        public struct Webhook: Sendable, Hashable, Codable {
            public struct ClientConfig: Sendable, Hashable, Codable {
                public var service: ServiceReference?
                public var url: String?
            }
            public var name: String
            public var clientConfig: ClientConfig
            public var failurePolicy: String?
        }
        public var metadata: ObjectMeta
        public var webhooks: [Webhook]?
    }

    /// A `Status` object, as errors and watch `ERROR` events carry it.
    public struct Status: Sendable, Hashable, Codable {
        public var code: Int?
        public var reason: String?
        public var message: String?
    }
}

/// An object with `metadata`: what lists, watches and the reflector need of every kind.
public protocol KubernetesObject: Codable, Sendable {
    var metadata: Kubernetes.ObjectMeta { get }
}

extension KubernetesObject {
    /// `namespace/name` (or `name` for cluster-scoped objects): the object's identity in a cache.
    public var key: String { metadata.namespace.map { "\($0)/\(metadata.name)" } ?? metadata.name }
}

extension Kubernetes.Node: KubernetesObject {}
extension Kubernetes.APIService: KubernetesObject {}
extension Kubernetes.Service: KubernetesObject {}
extension Kubernetes.EndpointSlice: KubernetesObject {}
extension Kubernetes.WebhookConfiguration: KubernetesObject {}
extension Kubernetes.Event: KubernetesObject {}
extension Kubernetes.Namespace: KubernetesObject {}

/// The kinds routeprobe lists and watches, with their API paths.
public struct KubernetesResource<Object: KubernetesObject>: Sendable {
    /// The collection path, e.g. `/api/v1/nodes`.
    public let path: String
    /// A name for messages, e.g. `nodes`.
    public let name: String
    /// A field selector for lists and watches, e.g. `involvedObject.kind=Node,type=Warning`.
    public var fieldSelector: String? = nil

    public static var nodes: KubernetesResource<Kubernetes.Node> { .init(path: "/api/v1/nodes", name: "nodes") }
    public static var namespaces: KubernetesResource<Kubernetes.Namespace> { .init(path: "/api/v1/namespaces", name: "namespaces") }
    /// Warning Events about Nodes (the route controller's among them).
    public static var nodeWarningEvents: KubernetesResource<Kubernetes.Event> {
        .init(path: "/api/v1/events", name: "events", fieldSelector: "involvedObject.kind=Node,type=Warning")
    }
    public static var services: KubernetesResource<Kubernetes.Service> { .init(path: "/api/v1/services", name: "services") }
    public static var endpointSlices: KubernetesResource<Kubernetes.EndpointSlice> {
        .init(path: "/apis/discovery.k8s.io/v1/endpointslices", name: "endpointslices")
    }
    public static var apiServices: KubernetesResource<Kubernetes.APIService> {
        .init(path: "/apis/apiregistration.k8s.io/v1/apiservices", name: "apiservices")
    }
    public static var validatingWebhooks: KubernetesResource<Kubernetes.WebhookConfiguration> {
        .init(path: "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations", name: "validatingwebhookconfigurations")
    }
    public static var mutatingWebhooks: KubernetesResource<Kubernetes.WebhookConfiguration> {
        .init(path: "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations", name: "mutatingwebhookconfigurations")
    }
}
