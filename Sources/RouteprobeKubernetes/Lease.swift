import Foundation

extension Kubernetes {
    /// `coordination.k8s.io/v1` Lease: who holds a role, since when, for how long.
    public struct Lease: Sendable, Codable {
        public struct Spec: Sendable, Codable {
            public var holderIdentity: String?
            public var leaseDurationSeconds: Int?
            /// MicroTime, e.g. `2026-12-05T13:10:49.123456Z`.
            public var acquireTime: String?
            public var renewTime: String?
            public var leaseTransitions: Int?

            public init(holderIdentity: String? = nil, leaseDurationSeconds: Int? = nil, acquireTime: String? = nil, renewTime: String? = nil,
                        leaseTransitions: Int? = nil) {
                self.holderIdentity = holderIdentity
                self.leaseDurationSeconds = leaseDurationSeconds
                self.acquireTime = acquireTime
                self.renewTime = renewTime
                self.leaseTransitions = leaseTransitions
            }
        }
        public var apiVersion: String? = "coordination.k8s.io/v1"
        public var kind: String? = "Lease"
        public var metadata: ObjectMeta
        public var spec: Spec?

        public init(metadata: ObjectMeta, spec: Spec) {
            self.metadata = metadata
            self.spec = spec
        }
    }
}
