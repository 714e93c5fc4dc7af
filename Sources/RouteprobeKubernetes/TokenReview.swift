import Foundation

extension Kubernetes {
    /// `authentication.k8s.io/v1` TokenReview: the request (spec) and the API server's answer (status).
    public struct TokenReview: Sendable, Codable {
        public struct Spec: Sendable, Codable {
            public var token: String
            public var audiences: [String]?
        }
        public struct User: Sendable, Codable {
            public var username: String?
            public var uid: String?
            public var groups: [String]?
            /// `authentication.kubernetes.io/pod-name`, `.../pod-uid`, and on clusters that have it
            /// (1.30 and later, ServiceAccountTokenPodNodeInfo) `.../node-name`.
            public var extra: [String: [String]]?
        }
        public struct Status: Sendable, Codable {
            public var authenticated: Bool?
            public var user: User?
            public var audiences: [String]?
            public var error: String?
        }
        public var apiVersion = "authentication.k8s.io/v1"
        public var kind = "TokenReview"
        public var spec: Spec?
        public var status: Status?

        /// A review request for `token`, bound to `audience`.
        public init(token: String, audience: String) {
            spec = Spec(token: token, audiences: [audience])
        }
    }

    /// A Pod, as far as routeprobe reads it: which node it runs on, and its address.
    public struct Pod: Sendable, Codable {
        public struct Spec: Sendable, Codable { public var nodeName: String? }
        public struct Status: Sendable, Codable { public var podIP: String?; public var phase: String? }
        public var metadata: ObjectMeta
        public var spec: Spec?
        public var status: Status?
    }
}
