import Foundation
import Testing
import RouteprobeKubernetes

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
