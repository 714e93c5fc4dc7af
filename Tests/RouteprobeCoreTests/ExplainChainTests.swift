import Testing
import RouteprobeCore

@Suite("routeprobe explain: the chain from the symptom to the cause and the fix")
struct ExplainChainTests {
    /// The seed incident as the aggregator holds it: node-b's entry missing (3/3), metrics-server on node-b,
    /// the namespace stuck, the route controller silent.
    static func seed(now: Int64) -> [Finding] {
        let hop = Finding.NextHop(node: "node-b", ip: IPAddress("192.168.0.50"))
        var vpc = Finding(kind: .vpcRouteMissing, scope: .cluster, subject: "172.16.1.0/24", cidr: IPPrefix("172.16.1.0/24"), expectedNextHop: hop,
                          sources: ["node-a", "node-c", "node-d"], evidence: .init(agreeing: 3, probing: 3),
                          message: "The VPC route entry 172.16.1.0/24 -> node-b (192.168.0.50) is missing, 3/3 sources agree.",
                          remediation: "Add the VPC route entry 172.16.1.0/24 with next hop node-b (192.168.0.50), or let the cloud controller manager recreate it.")
        vpc.since = now - 3 * 3600 - 12 * 60
        vpc.symptoms = [
            .init(kind: "APIService", name: "v1beta1.metrics.k8s.io", condition: "Available=False (FailedDiscoveryCheck)", message: "no route to host", since: now - 11_000),
            .init(kind: "Namespace", name: "tobedeletedb", condition: "Terminating (NamespaceDeletionDiscoveryFailure)", message: "metrics.k8s.io/v1beta1: stale", since: now - 3 * 3600 - 12 * 60),
        ]
        var watchdog = Finding.routeController(about: vpc, openSeconds: 3 * 3600 + 12 * 60, signal: nil)
        watchdog.since = now - 3 * 3600
        let other = Finding(kind: .vpcRouteMissing, scope: .cluster, subject: "172.16.2.0/24", cidr: IPPrefix("172.16.2.0/24"),
                            expectedNextHop: .init(node: "node-c", ip: nil), sources: ["node-a"], evidence: .init(agreeing: 1, probing: 1),
                            message: "other", remediation: "other fix")
        return [vpc, watchdog, other]
    }

    @Test("namespace/tobedeletedb prints the seed's chain, one step a line, and is something wrong")
    func namespaceChain() throws {
        let now: Int64 = 1_800_000_000
        let chain = ExplainChain.build(try #require(ExplainChain.Subject.parse("namespace/tobedeletedb")), findings: Self.seed(now: now), now: now)
        #expect(chain.wrong)
        #expect(chain.text == """
            namespace tobedeletedb is Terminating for 3h12m (NamespaceDeletionDiscoveryFailure)
              <- discovery of metrics.k8s.io/v1beta1 fails
              <- v1beta1.metrics.k8s.io is Available=False (FailedDiscoveryCheck): its pod in 172.16.1.0/24 on node-b (192.168.0.50) is unreachable from the API server's network
              <- the VPC route entry 172.16.1.0/24 -> node-b (192.168.0.50) is missing (3/3 sources) for 3h12m
              <- the route controller has not re-created it for 3h12m and raised no event
            fix: Add the VPC route entry 172.16.1.0/24 with next hop node-b (192.168.0.50), or let the cloud controller manager recreate it.
            """, "\(chain.text)")
        #expect(chain.steps.map(\.role) == ["symptom", "symptom", "apiService", "route", "routeController", "fix"])
    }

    @Test("apiservice/, node/ and an address start further down; a subject with no finding is nothing wrong; bad subjects do not parse")
    func otherSubjects() throws {
        let now: Int64 = 1_800_000_000
        let findings = Self.seed(now: now)
        let apiService = ExplainChain.build(.apiService("v1beta1.metrics.k8s.io"), findings: findings, now: now)
        #expect(apiService.steps.first?.role == "apiService" && apiService.wrong)
        let node = ExplainChain.build(try #require(ExplainChain.Subject.parse("node/node-b")), findings: findings, now: now)
        #expect(node.steps.contains { $0.text.hasPrefix("the VPC route entry 172.16.1.0/24") })
        let address = ExplainChain.build(try #require(ExplainChain.Subject.parse("172.16.2.7")), findings: findings, now: now)
        #expect(address.steps.first?.text == "the VPC route entry 172.16.2.0/24 -> node-c is missing (1/1 sources)")
        let quiet = ExplainChain.build(.address(IPAddress("172.16.9.1")!), findings: findings, now: now)
        #expect(!quiet.wrong && quiet.text == "nothing wrong along the chain: no open finding about 172.16.9.1")
        #expect(ExplainChain.Subject.parse("pod/kube-system/metrics-server-x") == .pod(namespace: "kube-system", name: "metrics-server-x"))
        let pod = ExplainChain.build(pod: "pod/kube-system/metrics-server-x", address: IPAddress("172.16.2.12")!, node: "node-c", findings: findings, now: now)
        #expect(pod.steps.first?.text == "pod/kube-system/metrics-server-x (172.16.2.12 on node-c) is unreachable from other nodes" && pod.wrong)
        #expect(!ExplainChain.build(pod: "pod/a/b", address: IPAddress("172.16.9.9")!, node: nil, findings: findings, now: now).wrong)
        for bad in ["pod", "pod/x", "pod/x/y/z", "namespace/", "deployment/x", "300.1.1.1"] { #expect(ExplainChain.Subject.parse(bad) == nil, "\(bad)") }
        // While the silent watchdog closes, the failing one (the route controller's own word) is the one quoted.
        var speaking = findings
        speaking.append(Finding.routeController(about: findings[0], openSeconds: 600, signal: .event(reason: "FailedToCreateRoute", message: "RouteTableLimitExceeded", ageSeconds: 5, count: 2)))
        let quoted = ExplainChain.build(.node("node-b"), findings: speaking, now: now)
        #expect(quoted.steps.first { $0.role == "routeController" }?.text
                == "the route controller fails to create it: FailedToCreateRoute 5 s ago (2 times): RouteTableLimitExceeded", "\(quoted.text)")
    }
}
