// Who may call the aggregator's API, and for which node: agents' ServiceAccount tokens (TokenReview),
// per-node tokens, a reader token, or (labs only) one shared token that speaks for every node.
import RouteprobeKubernetes

/// The tokens the aggregator accepts and what each may do.
public struct AgentCredentials: Sendable {
    /// What a presented token may do.
    public enum Identity: Sendable, Equatable {
        /// Register and report as this node only; read.
        case node(String)
        /// Register and report as any node; read (`--allow-shared-token`).
        case anyNode
        /// Read findings, the matrix and plans; neither register nor report.
        case reader
    }

    /// Token -> node (`--node-tokens`).
    public var nodeTokens: [String: String]
    /// The one token that speaks for every node, when allowed.
    public var shared: String?
    /// A token for people and dashboards: reads only.
    public var reader: String?
    /// Checks agents' projected ServiceAccount tokens with the API server (`--kubernetes`, `--kubeconfig`).
    public var reviewer: AgentTokenReviewer?

    public init(nodeTokens: [String: String] = [:], shared: String? = nil, reader: String? = nil) {
        self.nodeTokens = nodeTokens
        self.shared = shared
        self.reader = reader
    }

    /// What the token in an `Authorization: Bearer TOKEN` header may do: the local tokens first, then a
    /// ServiceAccount token through the reviewer; the refusal says why (401, 403, 429, 503).
    public func authenticate(header: String) async -> Result<Identity, AgentTokenReviewer.Refusal> {
        if let identity = identity(ofHeader: header) { return .success(identity) }
        guard header.hasPrefix("Bearer ") else {
            return .failure(.init(status: 401, reason: header.isEmpty ? "missing bearer token" : "not a bearer token"))
        }
        let presented = String(header.dropFirst(7))
        guard let reviewer, AgentTokenReviewer.looksLikeServiceAccountToken(presented), presented.utf8.count <= 16_384 else {
            return .failure(.init(status: 401, reason: "wrong bearer token"))
        }
        return await reviewer.node(for: presented).map(Identity.node)
    }

    /// What the token in an `Authorization: Bearer TOKEN` header may do; nil when it is none of the local ones.
    /// The shared and reader tokens are compared in constant time; node tokens are looked up by hash.
    public func identity(ofHeader header: String) -> Identity? {
        guard header.hasPrefix("Bearer ") else { return nil }
        let presented = String(header.dropFirst(7))
        if let shared, Self.same(presented, shared) { return .anyNode }
        if let reader, Self.same(presented, reader) { return .reader }
        return nodeTokens[presented].map(Identity.node)
    }

    /// Why `identity` may not register or report as `node`; nil when it may.
    public static func refusal(_ identity: Identity, speakingFor node: String) -> String? {
        switch identity {
        case .anyNode: return nil
        case .node(let own) where own == node: return nil
        case .node(let own): return "this token speaks for node '\(own)', not for '\(node)'"
        case .reader: return "this token reads; it speaks for no node"
        }
    }

    private static func same(_ presented: String, _ expected: String) -> Bool {
        let a = Array(presented.utf8), b = Array(expected.utf8)
        var difference = a.count == b.count ? 0 : 1
        for index in 0..<min(a.count, b.count) { difference |= Int(a[index] ^ b[index]) }
        return difference == 0 && !b.isEmpty
    }
}
