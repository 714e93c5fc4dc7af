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

@Suite("The route controller's signals: failure Events on Nodes and NetworkUnavailable")
struct RouteControllerSignalTests {
    @Test("the newest failure Event per node (core/v1 and events.k8s.io times); other reasons ignored; Events without a node or time skipped by name")
    func newestFailures() throws {
        let events = try JSONDecoder().decode(Kubernetes.List<Kubernetes.Event>.self, from: Data(fixture("events-node-warnings.json").utf8)).items
        let (byNode, skipped) = RouteControllerSignals.newestFailures(events)
        #expect(byNode.keys.sorted() == ["node-b", "node-c"])
        #expect(byNode["node-b"]?.message.hasSuffix("RouteTableLimitExceeded: The maximum number of routes has been reached") == true)
        #expect(byNode["node-b"]?.count == 7 && byNode["node-b"]?.lastSeconds == 1_796_465_564, "\(byNode["node-b"].map { String($0.lastSeconds) } ?? "")")
        #expect(byNode["node-c"]?.reason == "CreateRouteFailed" && byNode["node-c"]?.lastSeconds == 1_796_464_860)
        #expect(skipped == ["badtime.17f2a9c1d4e5f444", "broken.17f2a9c1d4e5f333"])
    }

    @Test("NetworkUnavailable True names the node with its reason; False, absent or malformed conditions do not")
    func networkUnavailable() throws {
        func node(_ name: String, _ conditions: String) throws -> Kubernetes.Node {
            try JSONDecoder().decode(Kubernetes.Node.self, from: Data(#"{"metadata":{"name":"\#(name)"},"status":{"conditions":\#(conditions)}}"#.utf8))
        }
        let nodes = [
            try node("node-a", #"[{"type":"NetworkUnavailable","status":"False","reason":"RouteCreated","message":"RouteController created a route"}]"#),
            try node("node-b", #"[{"type":"NetworkUnavailable","status":"True","reason":"NoRouteCreated","message":"Node created without a route"}]"#),
            try node("node-c", #"[{"type":"Ready","status":"True"}]"#),
        ]
        let unavailable = RouteControllerSignals.networkUnavailable(nodes)
        #expect(unavailable.keys.sorted() == ["node-b"] && unavailable["node-b"]?.reason == "NoRouteCreated")
        // A malformed condition is skipped and counted; the node and its other conditions still read.
        let odd = try node("node-d", #"[{"status":"True"}, {"type":"NetworkUnavailable","status":7}, {"type":"NetworkUnavailable","status":"True","reason":"NoRouteCreated"}]"#)
        #expect(odd.status?.skippedConditions == 2 && odd.status?.conditions?.count == 1)
        #expect(RouteControllerSignals.networkUnavailable([odd]).keys.sorted() == ["node-d"])
        let list = try JSONDecoder().decode(Kubernetes.List<Kubernetes.Namespace>.self, from: Data(#"{"metadata":{"resourceVersion":"1"},"items":[{"metadata":{"name":"x"},"status":{"phase":"Terminating","conditions":[{"type":1},{"type":"NamespaceContentRemaining","status":"True"}]}}]}"#.utf8))
        #expect(list.items.first?.status?.skippedConditions == 1 && list.items.first?.status?.conditions?.map(\.type) == ["NamespaceContentRemaining"])
    }
}

@Suite("Symptoms the cluster shows: unavailable APIServices and namespaces stuck Terminating")
struct SymptomAnalysisTests {
    @Test("an APIService Available=False and a Terminating namespace whose discovery fails for metrics.k8s.io/v1beta1 are symptoms of v1beta1.metrics.k8s.io; Active namespaces and False conditions are not")
    func symptoms() throws {
        var apiServices = try JSONDecoder().decode(Kubernetes.List<Kubernetes.APIService>.self, from: Data(fixture("apiservices-list.json").utf8)).items
        let namespaces = try JSONDecoder().decode(Kubernetes.List<Kubernetes.Namespace>.self, from: Data(fixture("namespace-terminating.json").utf8)).items
        let index = try #require(apiServices.firstIndex { $0.metadata.name == "v1beta1.metrics.k8s.io" })
        apiServices[index].status = try JSONDecoder().decode(Kubernetes.APIService.Status.self, from: Data(#"""
            {"conditions": [{"type": "Available", "status": "False", "reason": "FailedDiscoveryCheck", "lastTransitionTime": "2026-12-05T07:00:00Z",
              "message": "failing or missing response from https://172.16.1.12:10250/apis/metrics.k8s.io/v1beta1: Get \"https://172.16.1.12:10250/apis/metrics.k8s.io/v1beta1\": dial tcp 172.16.1.12:10250: connect: no route to host"}]}
            """#.utf8))
        let found = SymptomAnalysis.symptoms(apiServices: apiServices, namespaces: namespaces)
        #expect(found.map(\.symptom.sentence) == ["APIService v1beta1.metrics.k8s.io is Available=False (FailedDiscoveryCheck)",
                                                  "namespace odd is Terminating (NamespaceContentRemaining)",
                                                  "namespace tobedeletedb is Terminating (NamespaceDeletionDiscoveryFailure)"], "\(found.map(\.symptom.sentence))")
        #expect(found.first { $0.symptom.name == "tobedeletedb" }?.apiServices == ["v1beta1.metrics.k8s.io"])
        #expect(found.first { $0.symptom.name == "tobedeletedb" }?.symptom.since == 1_796_454_005)
        #expect(found.first { $0.symptom.name == "odd" }?.apiServices == [], "remaining content names no APIService")
        #expect(SymptomAnalysis.groupVersions(in: "1 failing: custom.metrics.k8s.io/v1beta2: x, external.metrics.k8s.io/v1beta1, apps/v1 a/b").map { "\($0.group)/\($0.version)" }
                == ["custom.metrics.k8s.io/v1beta2", "external.metrics.k8s.io/v1beta1"])
    }

    @Test("every Available=False reason is a symptom with its reason; True and Unknown are not", arguments: [
        ("FailedDiscoveryCheck", true), ("MissingEndpoints", true), ("ServiceNotFound", true), ("ServiceAccessError", true), ("Passed", false),
    ])
    func availableReasons(_ reason: String, _ isSymptom: Bool) throws {
        let status = isSymptom ? "False" : "True"
        let apiService = try JSONDecoder().decode(Kubernetes.APIService.self, from: Data(#"""
            {"metadata": {"name": "v1beta1.metrics.k8s.io"}, "spec": {"group": "metrics.k8s.io", "version": "v1beta1", "service": {"namespace": "kube-system", "name": "metrics-server"}},
             "status": {"conditions": [{"type": "Available", "status": "\#(status)", "reason": "\#(reason)", "message": "endpoints for service/metrics-server in \"kube-system\" have no addresses"}]}}
            """#.utf8))
        let found = SymptomAnalysis.symptoms(apiServices: [apiService], namespaces: [])
        #expect(found.map(\.symptom.condition) == (isSymptom ? ["Available=False (\(reason))"] : []))
    }
}
