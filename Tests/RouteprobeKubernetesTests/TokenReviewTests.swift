import Foundation
import Hummingbird
import Synchronization
import Testing
import RouteprobeKubernetes

/// A token shaped like a ServiceAccount JWT (header.payload.signature), expiring at `exp`; `name` makes it unique.
func serviceAccountToken(_ name: String, exp: Int64 = Int64(Date().timeIntervalSince1970) + 3600) -> String {
    func part(_ text: String) -> String {
        Data(text.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
    return part(#"{"alg":"RS256","kid":"lab"}"#) + "." + part(#"{"aud":["routeprobe"],"exp":\#(exp),"sub":"\#(name)"}"#) + "." + part("signature-of-\(name)")
}

/// The API server's TokenReview answers, chosen by the token's subject ("bound", "pod-only", "expired", ...).
func tokenReviewAnswers(path: String, body: String) -> ReplayServer.Answer? {
    guard path == "/apis/authentication.k8s.io/v1/tokenreviews" else { return nil }
    guard let request = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
          let spec = request["spec"] as? [String: Any], let token = spec["token"] as? String,
          spec["audiences"] as? [String] == ["routeprobe"] else {
        return .init(status: .badRequest, lines: [fixture("status-forbidden.json")])
    }
    for name in ["bound", "pod-only", "expired", "wrong-audience", "other-account"] where token.contains(serviceAccountToken(name).split(separator: ".")[2]) {
        return .init(status: .created, lines: [fixture("tokenreview-\(name).json")])
    }
    return .init(status: .created, lines: [fixture("tokenreview-expired.json").replacingOccurrences(of: "service account token has expired", with: "token lookup failed")])
}

@Suite("Agents' ServiceAccount tokens, checked with a TokenReview (replay API server)")
struct TokenReviewTests {
    @Test("a bound token speaks for its node (node-name extra); the answer is cached, so a second request costs no review")
    func boundTokenNamesItsNode() async throws {
        let server = ReplayServer(answerPost: tokenReviewAnswers)
        try await server.run({ _, _ in .init(status: .notFound, lines: [fixture("status-forbidden.json")]) }) { client in
            let reviewer = AgentTokenReviewer(client: client, serviceAccount: "routeprobe/routeprobe-agent")
            let token = serviceAccountToken("bound")
            #expect(await reviewer.node(for: token) == .success("node-a"))
            #expect(await reviewer.node(for: token) == .success("node-a"))
            #expect(reviewer.reviewsSent == 1)
            let body = server.posted.withLock { $0 }.first { $0.path.hasSuffix("tokenreviews") }?.body ?? ""
            #expect(body.contains(#""audiences":["routeprobe"]"#) && body.contains(#""kind":"TokenReview""#), "\(body)")
        }
    }

    @Test("on clusters without the node-name extra the token's pod is looked up, and its uid must match")
    func podOnlyTokenIsLookedUp() async throws {
        let server = ReplayServer(answerPost: tokenReviewAnswers)
        try await server.run({ uri, _ in
            uri == "/api/v1/namespaces/routeprobe/pods/routeprobe-agent-m4q9z" ? .init(lines: [fixture("pod-agent-on-node-b.json")])
                : .init(status: .notFound, lines: [#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"pods \"x\" not found","reason":"NotFound","code":404}"#])
        }) { client in
            let reviewer = AgentTokenReviewer(client: client, serviceAccount: "routeprobe/routeprobe-agent")
            #expect(await reviewer.node(for: serviceAccountToken("pod-only")) == .success("node-b"))
            #expect(server.requests.withLock { $0 }.contains("/api/v1/namespaces/routeprobe/pods/routeprobe-agent-m4q9z"))
        }
        // The same token after the pod was replaced by another of the same name: refused.
        let replaced = ReplayServer(answerPost: tokenReviewAnswers)
        try await replaced.run({ _, _ in
            .init(lines: [fixture("pod-agent-on-node-b.json").replacingOccurrences(of: "3c2b1a09-8f7e-4d6c-b5a4-938271605f4e", with: "00000000-0000-4000-8000-000000000000")])
        }) { client in
            let reviewer = AgentTokenReviewer(client: client, serviceAccount: "routeprobe/routeprobe-agent")
            guard case .failure(let refusal) = await reviewer.node(for: serviceAccountToken("pod-only")) else { Issue.record("accepted"); return }
            #expect(refusal.status == 403 && refusal.reason.contains("another pod has its name now"), "\(refusal)")
        }
    }

    @Test("expired, wrong-audience and other accounts' tokens are refused with the reason; an unreachable API server is 503 and not remembered")
    func refusals() async throws {
        let server = ReplayServer(answerPost: tokenReviewAnswers)
        try await server.run({ _, _ in .init(status: .notFound, lines: ["{}"]) }) { client in
            let reviewer = AgentTokenReviewer(client: client, serviceAccount: "routeprobe/routeprobe-agent")
            for (name, status, words) in [("expired", 401, "the API server does not accept the token: [invalid bearer token, service account token has expired]"),
                                          ("wrong-audience", 401, "is invalid for the target audiences [\"routeprobe\"]"),
                                          ("other-account", 403, "the token is of system:serviceaccount:default:default, not of the agents' service account (system:serviceaccount:routeprobe:routeprobe-agent)")] {
                guard case .failure(let refusal) = await reviewer.node(for: serviceAccountToken(name)) else { Issue.record("\(name) accepted"); continue }
                #expect(refusal.status == status && refusal.reason.contains(words), "\(name): \(refusal)")
            }
            // Refusals are remembered for a while too: asking again sends no review.
            let sent = reviewer.reviewsSent
            _ = await reviewer.node(for: serviceAccountToken("expired"))
            #expect(reviewer.reviewsSent == sent)
        }
        let broken = ReplayServer(answerPost: { path, _ in
            path.hasSuffix("tokenreviews") ? .init(status: .internalServerError, lines: [#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"etcdserver: request timed out","code":500}"#]) : nil
        })
        try await broken.run({ _, _ in .init(lines: ["{}"]) }) { client in
            let reviewer = AgentTokenReviewer(client: client, serviceAccount: "routeprobe/routeprobe-agent")
            for _ in 0..<2 {
                guard case .failure(let refusal) = await reviewer.node(for: serviceAccountToken("bound")) else { Issue.record("accepted"); return }
                #expect(refusal.status == 503 && refusal.reason.contains("etcdserver: request timed out"), "\(refusal)")
            }
            #expect(reviewer.reviewsSent == 2, "a failure to ask is not remembered")
        }
    }

    @Test("a flood of made-up tokens: at most 16 reviews run at once, the rest are 429 at once")
    func floodIsBounded() async throws {
        let server = ReplayServer(answerPost: { path, body in
            guard var answer = tokenReviewAnswers(path: path, body: body) else { return nil }
            answer.hold = .milliseconds(300)
            return answer
        })
        try await server.run({ _, _ in .init(lines: ["{}"]) }) { client in
            let reviewer = AgentTokenReviewer(client: client, serviceAccount: "routeprobe/routeprobe-agent")
            let statuses = await withTaskGroup(of: Int.self, returning: [Int].self) { group in
                for index in 0..<200 {
                    group.addTask {
                        if case .failure(let refusal) = await reviewer.node(for: serviceAccountToken("made-up-\(index)")) { return refusal.status }
                        return 200
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            #expect(reviewer.reviewsSent <= 16 * 2, "\(reviewer.reviewsSent) reviews")
            #expect(statuses.filter { $0 == 429 }.count >= 150, "\(statuses.filter { $0 == 429 }.count) answered 429")
            #expect(!statuses.contains(200))
        }
    }

    @Test("only three base64url parts look like a ServiceAccount token")
    func shape() {
        #expect(AgentTokenReviewer.looksLikeServiceAccountToken(serviceAccountToken("x")))
        #expect(!AgentTokenReviewer.looksLikeServiceAccountToken("lab-token-0123456789"))
        #expect(!AgentTokenReviewer.looksLikeServiceAccountToken("a..b"))
        #expect(!AgentTokenReviewer.looksLikeServiceAccountToken("a.b c.d"))
    }
}
