import Foundation
import Synchronization
import Testing
import RouteprobeTestSupport

/// The incident's whole chain in the lab, from the cluster's own signals: the replay API server stands in for
/// the cluster (the lab's Nodes, metrics-server's APIService backed by node-b's pod, a namespace stuck
/// Terminating, the route controller's Events), real agents probe the lab, and node-b's VPC entry is deleted.
@Suite(.enabled(if: runningAsRoot, Comment(rawValue: needsRootReason)))
struct WholeChainLabTests {
    /// Whether the route controller has spoken, and whether its Event went out on a watch yet.
    final class RouteController: Sendable {
        let speaks = Mutex(false)
        let delivered = Mutex(false)
        /// The namespace gets stuck later: its ADDED event goes out on the namespaces watch once this is set.
        let namespaceStuck = Mutex(false)
        let namespaceDelivered = Mutex(false)
    }

    /// The replay API server's answers: fixtures for lists; the Events watch delivers node-b's
    /// FailedToCreateRoute once `routeControllerSpeaks` is set; other watches end after a second.
    static func answer(_ uri: String, _ count: Int, controller: RouteController) -> ReplayServer.Answer {
        let empty = #"{"kind":"List","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":[]}"#
        if uri.contains("watch=1") {
            if uri.hasPrefix("/api/v1/events"), controller.speaks.withLock({ $0 }), controller.delivered.withLock({ was in defer { was = true }; return !was }) {
                let stamp = ISO8601DateFormatter().string(from: Date())
                let event = #"{"type":"ADDED","object":{"metadata":{"name":"node-b.17f2a9c1d4e5b6a7","namespace":"default","resourceVersion":"90001"},"involvedObject":{"kind":"Node","name":"node-b"},"reason":"FailedToCreateRoute","message":"Could not create route 172.16.1.0/24 for node node-b: RouteTableLimitExceeded","source":{"component":"route_controller"},"firstTimestamp":"\#(stamp)","lastTimestamp":"\#(stamp)","count":1,"type":"Warning"}}"#
                return .init(lines: [event + "\n"], hold: .seconds(1))
            }
            if uri.hasPrefix("/api/v1/namespaces"), controller.namespaceStuck.withLock({ $0 }),
               controller.namespaceDelivered.withLock({ was in defer { was = true }; return !was }),
               let list = try? JSONSerialization.jsonObject(with: Data(fixture("namespace-terminating.json").utf8)) as? [String: Any],
               let item = (list["items"] as? [[String: Any]])?.first,
               let line = try? JSONSerialization.data(withJSONObject: ["type": "ADDED", "object": item]) {
                return .init(lines: [String(decoding: line, as: UTF8.self) + "\n"], hold: .seconds(1))
            }
            return .init(lines: [], hold: .seconds(1))
        }
        if uri.hasPrefix("/api/v1/namespaces") {
            return .init(lines: [controller.namespaceStuck.withLock { $0 } ? fixture("namespace-terminating.json") : empty])
        }
        for (prefix, name) in [("/apis/apiregistration.k8s.io/", "apiservices-list.json"), ("/apis/discovery.k8s.io/", "endpointslices-list.json"),
                               ("/apis/admissionregistration.k8s.io/v1/validating", "validatingwebhooks-list.json"),
                               ("/apis/admissionregistration.k8s.io/v1/mutating", "mutatingwebhooks-list.json"),
                               ("/api/v1/namespaces", "namespace-terminating.json")] where uri.hasPrefix(prefix) {
            return .init(lines: [fixture(name)])
        }
        if uri.hasPrefix("/api/v1/nodes") { return KubernetesClientTests.nodesAPI(uri, count) }
        return .init(lines: [empty])
    }

    @Test("the chain: node-b's entry deleted gives vpcRouteMissing carrying the APIService and the stuck namespace; explain prints it; routeControllerSilent after the grace, routeControllerFailing when the Event comes; PodCIDRUnreachable True, then False on restore")
    func wholeChain() async throws {
        let controller = RouteController()
        let server = ReplayServer()
        try await server.run({ uri, count in Self.answer(uri, count, controller: controller) }) { _ in
            try await withLab { lab in try await Self.run(lab, server: server, controller: controller) }
        }
    }

    static func run(_ lab: Lab, server: ReplayServer, controller: RouteController) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("\(lab.prefix)chain")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let kubeconfig = try AggregatorDiscoveryTests.kubeconfig(in: directory, server: server.url)
        let token = directory.appendingPathComponent("token").path
        try "lab-token-0123456789".write(toFile: token, atomically: true, encoding: .utf8)
        let url = "http://192.168.0.253:9800"
        let aggregator = try LabProcess(namespace: lab.namespace("vpc"), name: "aggregator", arguments: [
            "aggregator", "--listen", "192.168.0.253:9800", "--token-file", token, "--allow-shared-token", "--plain-http",
            "--kubeconfig", kubeconfig, "--route-controller-grace", "3s", "--node-conditions", "--events",
            "--evaluation-interval", "500ms", "--window", "10s", "--syslog", "unix:/nonexistent/syslog.sock"])
        defer { aggregator.stop() }
        try await Task.sleep(for: .milliseconds(700))
        let agents = try [("node-a", "192.168.0.193"), ("node-b", "192.168.0.50"), ("node-c", "192.168.0.60")].map { node, address in
            try LabProcess(namespace: lab.namespace(node), name: "agent", arguments: [
                "agent", "--node-name", node, "--node-ip", address, "--interval", "1s", "--timeout", "400ms",
                "--syslog", "unix:/nonexistent/syslog.sock", "--aggregator", url, "--plain-http", "--token-file", token])
        }
        defer { agents.forEach { $0.stop() } }
        func findings() -> [[String: Any]] {
            let body = (try? httpRequest(in: lab.namespace("vpc"), "\(url)/api/v1/findings", token: "lab-token-0123456789").body) ?? ""
            return (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])?["findings"] as? [[String: Any]] ?? []
        }
        func waitFor(_ timeout: Double, _ condition: ([[String: Any]]) -> Bool) async throws -> [[String: Any]] {
            let deadline = Date().addingTimeInterval(timeout)
            var current = findings()
            while !condition(current) && Date() < deadline {
                try await Task.sleep(for: .milliseconds(250))
                current = findings()
            }
            return current
        }
        func kinds(_ list: [[String: Any]]) -> Set<String> { Set(list.compactMap { $0["kind"] as? String }) }

        // Healthy routes, metrics-server unavailable: its pod answers (its port refuses), so that is no route problem.
        var open = try await waitFor(12) { kinds($0).contains("apiServiceUnavailable") }
        #expect(kinds(open) == ["apiServiceUnavailable"], "\(open) \(aggregator.log)")

        try lab.run("break-vpc-route", "node-b")
        open = try await waitFor(12) { list in list.contains { $0["kind"] as? String == "vpcRouteMissing" } }
        #expect((open.first { $0["kind"] as? String == "vpcRouteMissing" }?["symptoms"] as? [[String: Any]])?.count == 1, "only the APIService so far: \(open)")
        // The namespace gets stuck after the finding opened: the finding and its Event are updated.
        controller.namespaceStuck.withLock { $0 = true }
        open = try await waitFor(12) { list in list.contains { $0["kind"] as? String == "vpcRouteMissing" && (($0["symptoms"] as? [[String: Any]])?.count ?? 0) >= 2 } }
        let missing = try #require(open.first { $0["kind"] as? String == "vpcRouteMissing" }, "\(open) \(aggregator.log)")
        let symptoms = (missing["symptoms"] as? [[String: Any]] ?? []).compactMap { "\($0["kind"] as? String ?? "")/\($0["name"] as? String ?? "")" }
        #expect(symptoms == ["APIService/v1beta1.metrics.k8s.io", "Namespace/tobedeletedb"], "\(symptoms)")
        #expect(!kinds(open).contains("apiServiceUnavailable"), "now it is a route problem")

        let eventPosts = server.posted.withLock { $0 }.filter { $0.path == "/api/v1/namespaces/default/events" && $0.body.contains("VpcRouteMissing") }
        #expect(eventPosts.count == 1, "one Event for the finding: \(eventPosts.count)")
        var eventPatches: [String] = []
        for _ in 0..<20 where eventPatches.isEmpty {
            eventPatches = server.patched.withLock { $0 }.filter { $0.path.hasPrefix("/api/v1/namespaces/default/events/node-b.routeprobe-") }.map(\.body)
            if eventPatches.isEmpty { try await Task.sleep(for: .milliseconds(250)) }
        }
        #expect(eventPatches.first?.contains("namespace tobedeletedb is Terminating (NamespaceDeletionDiscoveryFailure)") == true, "the Event is rewritten with the new symptom: \(eventPatches)")

        // routeprobe explain namespace/tobedeletedb: the chain, one step a line, exit 1.
        func explain() throws -> (status: Int32, output: String) {
            let result = try runProgram("/usr/sbin/ip", ["netns", "exec", lab.namespace("vpc"), try routeprobeExecutable(), "explain", "namespace/tobedeletedb",
                                                         "--aggregator", url, "--plain-http", "--token-file", token])
            return (result.status, result.standardOutput + result.standardError)
        }
        var chain = try explain()
        #expect(chain.status == 1, "\(chain)")
        let lines = chain.output.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("namespace tobedeletedb is Terminating for ") == true && lines.first?.hasSuffix("(NamespaceDeletionDiscoveryFailure)") == true, "\(chain.output)")
        #expect(lines.dropFirst().first == "  <- discovery of metrics.k8s.io/v1beta1 fails", "\(chain.output)")
        #expect(chain.output.contains("  <- v1beta1.metrics.k8s.io is Available=False (FailedDiscoveryCheck): its pod in 172.16.1.0/24 on node-b (192.168.0.50) is unreachable from the API server's network"), "\(chain.output)")
        #expect(chain.output.contains("  <- the VPC route entry 172.16.1.0/24 -> node-b (192.168.0.50) is missing (2/2 sources)"), "\(chain.output)")
        #expect(lines.last?.hasPrefix("fix: Add the VPC route entry 172.16.1.0/24 with next hop node-b (192.168.0.50)") == true, "\(chain.output)")

        // Without an aggregator: the symptoms and backends from the API server, the probe from node-a itself.
        let direct = try runProgram(try routeprobeExecutable(), ["explain", "namespace/tobedeletedb", "--kubeconfig", kubeconfig,
                                                                "--netns", lab.namespace("node-a"), "--timeout", "500ms"])
        #expect(direct.status == 1, "\(direct.standardOutput) \(direct.standardError)")
        #expect(direct.standardOutput.hasPrefix("namespace tobedeletedb is Terminating for "), "\(direct.standardOutput)")
        #expect(direct.standardOutput.contains("  <- the VPC route entry 172.16.1.0/24 -> node-b (192.168.0.50) is missing (1/1 sources)"), "\(direct.standardOutput)")
        #expect(direct.standardOutput.contains("  <- the route controller has not re-created it for") && direct.standardOutput.contains("raised no event"),
                "the namespace has been stuck for hours and nothing was said: \(direct.standardOutput)")

        // No word from the route controller past the grace (3 s): routeControllerSilent, in explain too.
        open = try await waitFor(10) { kinds($0).contains("routeControllerSilent") }
        #expect(kinds(open).contains("routeControllerSilent"), "\(open)")
        chain = try explain()
        #expect(chain.output.contains("has not re-created it for") && chain.output.contains("and raised no event"), "\(chain.output)")
        // The route controller speaks: routeControllerFailing quotes it, the silent one closes.
        controller.speaks.withLock { $0 = true }
        open = try await waitFor(10) { kinds($0).contains("routeControllerFailing") && !kinds($0).contains("routeControllerSilent") }
        let failing = open.first { $0["kind"] as? String == "routeControllerFailing" }?["message"] as? String ?? ""
        #expect(failing.contains("FailedToCreateRoute") && failing.contains("RouteTableLimitExceeded"), "\(open)")

        // PodCIDRUnreachable on node-b: True while the entry is missing, False after the restore.
        func patches() -> [String] { server.patched.withLock { $0 }.filter { $0.path == "/api/v1/nodes/node-b/status" }.map(\.body) }
        #expect(patches().first?.contains(#""status":"True""#) == true && patches().first?.contains("VpcRouteMissing") == true, "\(patches())")
        try lab.run("restore-vpc-route", "node-b")
        open = try await waitFor(12) { !kinds($0).contains("vpcRouteMissing") && !kinds($0).contains("routeControllerFailing") }
        #expect(!kinds(open).contains("vpcRouteMissing") && !kinds(open).contains("routeControllerFailing"), "the watchdog closes with the finding: \(open)")
        let healthy = try runProgram(try routeprobeExecutable(), ["explain", "apiservice/v1beta1.metrics.k8s.io", "--kubeconfig", kubeconfig,
                                                                 "--netns", lab.namespace("node-a"), "--timeout", "500ms"])
        #expect(healthy.status == 1 && healthy.standardOutput.contains("this is not a route problem"), "restored: metrics-server itself is what is wrong: \(healthy.standardOutput)")
        for _ in 0..<20 where !(patches().last?.contains("PodCIDRReachable") ?? false) { try await Task.sleep(for: .milliseconds(250)) }
        #expect(patches().last?.contains(#""status":"False""#) == true && patches().last?.contains("PodCIDRReachable") == true, "\(patches())")
    }
}
