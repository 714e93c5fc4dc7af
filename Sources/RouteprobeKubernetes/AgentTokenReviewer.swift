import Foundation
import Synchronization

/// Checks an agent's projected ServiceAccount token with a TokenReview and says which node it speaks for.
///
/// The token must be accepted by the API server for `audience`, belong to the agents' ServiceAccount, and be
/// bound to a pod: the node is the token's `authentication.kubernetes.io/node-name` extra (clusters of 1.30
/// and later), else the node of the pod it names (looked up once, and the pod's uid must match). Answers are
/// cached (an accepted token until it expires, at most 10 minutes; a refused one 30 seconds), so a report
/// costs no API call; at most `maximumInFlight` reviews run at once, so a flood of made-up tokens cannot
/// flood the API server.
public final class AgentTokenReviewer: Sendable {
    /// Why a token speaks for no node, with the HTTP status to answer.
    public struct Refusal: Error, Sendable, Equatable {
        public let status: Int
        public let reason: String
        public init(status: Int, reason: String) {
            self.status = status
            self.reason = reason
        }
    }

    public let audience: String
    /// `system:serviceaccount:NAMESPACE:NAME` of the agents.
    public let username: String
    private let namespace: String
    private let client: KubernetesClient
    private let now: @Sendable () -> Int64
    private let cacheLimit: Int
    private let maximumInFlight: Int
    private struct Entry { var answer: Result<String, Refusal>; var until: Int64 }
    private struct State { var cache: [String: Entry] = [:]; var inFlight = 0; var reviews = 0 }
    private let state = Mutex(State())

    /// A reviewer for tokens of `serviceAccount` ("NAMESPACE/NAME") bound to `audience`.
    public init(client: KubernetesClient, serviceAccount: String, audience: String = "routeprobe", cacheLimit: Int = 20_000,
                maximumInFlight: Int = 16, now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }) {
        self.client = client
        let parts = serviceAccount.split(separator: "/", maxSplits: 1).map(String.init)
        namespace = parts.first ?? "routeprobe"
        username = "system:serviceaccount:\(namespace):\(parts.count == 2 ? parts[1] : serviceAccount)"
        self.audience = audience
        self.cacheLimit = cacheLimit
        self.maximumInFlight = maximumInFlight
        self.now = now
    }

    /// Closes the client's connections (call once, at the end).
    public func shutdown() async { await client.shutdown() }

    /// TokenReviews sent so far (the cache's effect, for tests and metrics).
    public var reviewsSent: Int { state.withLock { $0.reviews } }

    /// Whether `token` looks like a ServiceAccount token (a JWT: three base64url parts).
    public static func looksLikeServiceAccountToken(_ token: String) -> Bool {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 3 && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "=" } }
    }

    /// The node `token` speaks for, or why it speaks for none.
    public func node(for token: String) async -> Result<String, Refusal> {
        let second = now()
        enum Step { case cached(Result<String, Refusal>), busy, review }
        let step: Step = state.withLock { state in
            if let entry = state.cache[token], entry.until > second { return .cached(entry.answer) }
            if state.inFlight >= maximumInFlight { return .busy }
            state.inFlight += 1
            state.reviews += 1
            return .review
        }
        switch step {
        case .cached(let answer): return answer
        case .busy: return .failure(Refusal(status: 429, reason: "too many token reviews at once; retry in a second"))
        case .review: break
        }
        let answer: Result<String, Refusal>
        var until = second + 30
        do throws(KubernetesError) {
            answer = try await review(token)
            if case .success = answer { until = min(Self.expiry(of: token) ?? (second + 600), second + 600) }
        } catch {
            // The API server could not be asked: say so, and do not remember it.
            state.withLock { $0.inFlight -= 1 }
            return .failure(Refusal(status: 503, reason: "cannot check the token with the API server: \(error.description)"))
        }
        state.withLock { state in
            state.inFlight -= 1
            if state.cache.count >= cacheLimit {
                state.cache = state.cache.filter { $0.value.until > second }
                if state.cache.count >= cacheLimit, let any = state.cache.keys.first { state.cache[any] = nil }
            }
            state.cache[token] = Entry(answer: answer, until: until)
        }
        return answer
    }

    /// Asks the API server: the node, or why not; a failure to ask is thrown.
    private func review(_ token: String) async throws(KubernetesError) -> Result<String, Refusal> {
        func refused(_ status: Int, _ reason: String) -> Result<String, Refusal> { .failure(Refusal(status: status, reason: reason)) }
        let answer = try await client.post(Kubernetes.TokenReview(token: token, audience: audience),
                                           at: "/apis/authentication.k8s.io/v1/tokenreviews", answer: Kubernetes.TokenReview.self)
        let status = answer.status
        guard status?.authenticated == true else {
            let why = status?.error.map { ": \($0)" } ?? ""
            return refused(401, "the API server does not accept the token\(why)")
        }
        guard status?.audiences?.contains(audience) == true else {
            return refused(401, "the token is not for audience '\(audience)': mount a projected serviceAccountToken with audience \(audience)")
        }
        let user = status?.user
        guard user?.username == username else {
            return refused(403, "the token is of \(user?.username ?? "no user"), not of the agents' service account (\(username))")
        }
        if let node = user?.extra?["authentication.kubernetes.io/node-name"]?.first, !node.isEmpty { return .success(node) }
        guard let pod = user?.extra?["authentication.kubernetes.io/pod-name"]?.first, !pod.isEmpty else {
            return refused(403, "the token is not bound to a pod (a legacy Secret token?): mount a projected serviceAccountToken with audience \(audience)")
        }
        let object: Kubernetes.Pod
        do {
            object = try await client.get(Kubernetes.Pod.self, at: "/api/v1/namespaces/\(namespace)/pods/\(pod)")
        } catch {
            if case .http(status: 404, _) = error { return refused(403, "the token's pod \(namespace)/\(pod) no longer exists") }
            throw error
        }
        if let uid = user?.extra?["authentication.kubernetes.io/pod-uid"]?.first, object.metadata.uid != uid {
            return refused(403, "the token's pod \(namespace)/\(pod) no longer exists (another pod has its name now)")
        }
        guard let node = object.spec?.nodeName, !node.isEmpty else { return refused(403, "the token's pod \(namespace)/\(pod) is on no node yet") }
        return .success(node)
    }

    /// The `exp` claim of a JWT (its payload is not verified here: the API server did that).
    static func expiry(of token: String) -> Int64? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { return nil }
        var base64 = parts[1].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let exp = object["exp"] as? NSNumber else { return nil }
        return exp.int64Value
    }
}
