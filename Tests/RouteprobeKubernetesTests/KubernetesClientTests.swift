import AsyncHTTPClient
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOSSL
import ServiceLifecycle
import Synchronization
import Testing
import RouteprobeCore
import RouteprobeKubernetes
import RouteprobeTestSupport

/// The recorded-format API answers in Fixtures/.
func fixture(_ name: String) -> String {
    (try? String(contentsOf: Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil)!, encoding: .utf8)) ?? ""
}

/// A replay API server on a Unix socket (no network at all): `respond` picks the answer for each request.
final class ReplayServer: Sendable {
    struct Answer: Sendable {
        var status: HTTPResponse.Status = .ok
        var lines: [String]
        var lineDelay: Duration = .zero
        var hold: Duration = .zero
    }

    let socketPath = FileManager.default.temporaryDirectory.appendingPathComponent("rpt-k8s-\(UInt32.random(in: 0...UInt32.max)).sock").path
    let requests = Mutex<[String]>([])
    /// Bodies POSTed to the server (Events), by path.
    let posted = Mutex<[(path: String, body: String)]>([])
    /// The answer to a POST (path, body); nil: 201 with `{}` (an Event created).
    let answerPost: @Sendable (String, String) -> Answer?
    /// Serve HTTPS with this certificate and key (PEM files) instead of HTTP.
    let tls: (certificate: String, key: String)?
    /// Leases, kept with resource versions and conflicts.
    let leases = ReplayLeases()
    /// PATCHes received (nodes/status), with their content type.
    let patched = Mutex<[(path: String, contentType: String, body: String)]>([])

    init(tls: (certificate: String, key: String)? = nil, answerPost: @escaping @Sendable (String, String) -> Answer? = { _, _ in nil }) {
        self.tls = tls
        self.answerPost = answerPost
    }

    /// The server's URL for a kubeconfig: `http+unix://...` or `https+unix://...`.
    var url: String {
        let plain = URL(httpURLWithSocketPath: socketPath, uri: "/")!.absoluteString
        return tls == nil ? plain : plain.replacingOccurrences(of: "http+unix://", with: "https+unix://")
    }

    /// Runs `body` with the server up and a client pointed at it.
    func run(_ respond: @escaping @Sendable (String, Int) -> Answer, _ body: (KubernetesClient) async throws -> Void) async throws {
        let router = Router()
        @Sendable func lease(_ request: Request, method: String) async throws -> Response {
            var request = request
            let body = method == "GET" ? "" : String(buffer: try await request.collectBody(upTo: 1 << 20))
            let (status, text) = self.leases.answer(method: method, path: request.uri.path, body: body)
            return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        router.put("**") { request, _ -> Response in try await lease(request, method: "PUT") }
        router.patch("**") { [self] request, _ -> Response in
            var request = request
            let body = String(buffer: try await request.collectBody(upTo: 1 << 20))
            self.patched.withLock { $0.append((request.uri.path, request.headers[.contentType] ?? "", body)) }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: "{}")))
        }
        router.get("**") { [self] request, _ -> Response in
            if ReplayLeases.handles(request.uri.path) { return try await lease(request, method: "GET") }
            let uri = request.uri.description
            let count = self.requests.withLock { $0.append(uri); return $0.count }
            let answer = respond(uri, count)
            let lines = answer.lines
            return Response(status: answer.status, headers: [.contentType: "application/json"], body: ResponseBody { writer in
                for line in lines {
                    try await writer.write(ByteBuffer(string: line))
                    if answer.lineDelay > .zero { try await Task.sleep(for: answer.lineDelay) }
                }
                if answer.hold > .zero { try? await Task.sleep(for: answer.hold) }
                try await writer.finish(nil)
            })
        }
        router.post("**") { [self] request, _ -> Response in
            if ReplayLeases.handles(request.uri.path) { return try await lease(request, method: "POST") }
            var request = request
            let body = try await request.collectBody(upTo: 1 << 20)
            self.posted.withLock { $0.append((request.uri.path, String(buffer: body))) }
            if let answer = self.answerPost(request.uri.path, String(buffer: body)) {
                if answer.hold > .zero { try? await Task.sleep(for: answer.hold) }
                return Response(status: answer.status, headers: [.contentType: "application/json"],
                                body: .init(byteBuffer: ByteBuffer(string: answer.lines.joined())))
            }
            // Created: the object back, named from its generateName as the API server names it.
            var created = (try? JSONSerialization.jsonObject(with: Data(String(buffer: body).utf8)) as? [String: Any]) ?? [:]
            if var metadata = created["metadata"] as? [String: Any], let prefix = metadata["generateName"] as? String {
                metadata["name"] = prefix + "x7k2p"
                created["metadata"] = metadata
            }
            let answer = (try? JSONSerialization.data(withJSONObject: created)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
            return Response(status: .created, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: answer)))
        }
        var logger = Logger(label: "replay")
        logger.logLevel = .critical
        let started = Mutex(false)
        let server: HTTPServerBuilder
        if let tls {
            let configuration = TLSConfiguration.makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMFile(tls.certificate).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: tls.key, format: .pem)))
            server = try .tls(.http1(), tlsConfiguration: configuration)
        } else {
            server = .http1()
        }
        let app = Application(router: router, server: server, configuration: .init(address: .unixDomainSocket(path: socketPath)),
                              onServerRunning: { _ in started.withLock { $0 = true } }, logger: logger)
        try? FileManager.default.removeItem(atPath: socketPath)
        defer { try? FileManager.default.removeItem(atPath: socketPath) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.runService(gracefulShutdownSignals: []) }
            while !started.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(10)) }
            let client = try KubernetesClient(endpoint: KubernetesEndpoint(server: url, token: "replay-token"))
            do {
                try await body(client)
            } catch {
                await client.shutdown()
                group.cancelAll()
                throw error
            }
            await client.shutdown()
            group.cancelAll()
        }
    }
}

@Suite("Kubernetes client against a replay server")
struct KubernetesClientTests {
    /// Node list in two pages, then the watch fixture.
    static func nodesAPI(_ uri: String, _ count: Int) -> ReplayServer.Answer {
        if uri.contains("watch=1") {
            if uri.contains("resourceVersion=2000") { return .init(lines: fixture("nodes-watch.jsonl").split(separator: "\n").map { $0 + "\n" }, lineDelay: .milliseconds(20)) }
            if uri.contains("resourceVersion=2011") { return .init(lines: [fixture("watch-gone.jsonl")]) }
            return .init(lines: [], hold: .seconds(5))
        }
        if uri.contains("continue=") { return .init(lines: [fixture("nodes-list-page2.json")]) }
        return .init(lines: [fixture("nodes-list-page1.json")])
    }

    @Test("a paged list is followed to its end, and Nodes become cluster-map nodes with InternalIP, pod CIDRs and instance ids")
    func pagedList() async throws {
        let server = ReplayServer()
        try await server.run(Self.nodesAPI) { client in
            let (nodes, version) = try await client.list(.nodes)
            #expect(version == "2000")
            #expect(nodes.map(\.metadata.name) == ["node-a", "node-b", "node-c", "node-new"])
            #expect(nodes[0].isControlPlane && !nodes[1].isControlPlane)
            #expect(nodes[0].isReady && !nodes[3].isReady)
            let (map, skipped) = NodeDiscovery.clusterNodes(from: nodes)
            #expect(map.map(\.name) == ["node-a", "node-b", "node-c"])
            #expect(map[1] == ClusterMap.Node(name: "node-b", ip: IPAddress("192.168.0.50")!, podCIDRs: [IPPrefix("172.16.1.0/24")!],
                                              instanceID: "i-0b0b0b0b0b0b0b0b0", uid: "uid-node-b"))
            #expect(skipped == ["node-new: no spec.podCIDR"])
        }
        let uris = server.requests.withLock { $0 }
        #expect(uris.count == 2 && uris[0].hasPrefix("/api/v1/nodes?limit=500") && uris[1].contains("continue=eyJ2Ijoi"), "\(uris)")
    }

    @Test("a watch delivers added, modified, bookmark and deleted events in order; 410 Gone is its own error")
    func watchEvents() async throws {
        let server = ReplayServer()
        try await server.run(Self.nodesAPI) { client in
            let seen = Mutex<[String]>([])
            try await client.watch(.nodes, from: "2000") { event in
                let text: String
                switch event {
                case .added(let node): text = "added \(node.metadata.name)"
                case .modified(let node): text = "modified \(node.metadata.name) ready=\(node.isReady)"
                case .deleted(let node): text = "deleted \(node.metadata.name)"
                case .bookmark(let version): text = "bookmark \(version)"
                }
                seen.withLock { $0.append(text) }
            }
            #expect(seen.withLock { $0 } == ["added node-d", "modified node-b ready=false", "bookmark 2010", "deleted node-c"])
            await #expect(throws: KubernetesError.gone("too old resource version: 2011 (2500)")) {
                try await client.watch(.nodes, from: "2011") { _ in }
            }
        }
        let uris = server.requests.withLock { $0 }
        #expect(uris.first?.contains("allowWatchBookmarks=true") == true)
    }

    @Test("the reflector lists, follows the watch, and lists again after 410 Gone")
    func reflectorRelists() async throws {
        let server = ReplayServer()
        try await server.run(Self.nodesAPI) { client in
            let snapshots = Mutex<[[String]]>([])
            let reflector = ResourceReflector(client: client, resource: .nodes,
                                              onChange: { nodes in snapshots.withLock { $0.append(nodes.map(\.metadata.name).sorted()) } },
                                              log: { _ in })
            let task = Task { await reflector.run() }
            let deadline = ContinuousClock.now + .seconds(10)
            while reflector.progress.lists < 2, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            task.cancel()
            #expect(reflector.progress.lists == 2, "listed again after the watch ended in 410")
            let all = snapshots.withLock { $0 }
            #expect(all.first == ["node-a", "node-b", "node-c", "node-new"])
            let watched = all.firstIndex(of: ["node-a", "node-b", "node-d", "node-new"])
            #expect(watched != nil, "node-c deleted, node-d added: \(all)")
            if let watched {
                #expect(all[(watched + 1)...].first == ["node-a", "node-b", "node-c", "node-new"], "the relist replaces the cache: \(all)")
            }
        }
        let uris = server.requests.withLock { $0 }
        #expect(uris.contains { $0.contains("watch=1") && $0.contains("resourceVersion=2011") },
                "the second watch resumed after the DELETED event's resource version: \(uris)")
    }

    @Test("HTTP errors carry the Status message; malformed answers name the field")
    func errors() async throws {
        let server = ReplayServer()
        try await server.run({ uri, _ in
            if uri.hasPrefix("/api/v1/nodes") { return .init(status: .forbidden, lines: [fixture("status-forbidden.json")]) }
            if uri.hasPrefix("/api/v1/services") { return .init(lines: [#"{"kind":"ServiceList","metadata":{"resourceVersion":"1"},"items":[{"spec":{}}]}"#]) }
            if uri.hasPrefix("/apis/discovery.k8s.io") { return .init(lines: ["<html>not json</html>"]) }
            if uri.contains("watch=1") { return .init(lines: [#"{"type":"SURPRISE","object":{}}"# + "\n"]) }
            return .init(lines: [#"{"kind":"APIServiceList","metadata":{},"items":[]}"#])
        }) { client in
            await #expect(throws: KubernetesError.http(status: 403, reason: #"nodes is forbidden: User "system:serviceaccount:routeprobe:routeprobe-agent" cannot list resource "nodes" in API group "" at the cluster scope"#)) {
                _ = try await client.list(.nodes)
            }
            await #expect(throws: KubernetesError.malformed("services list: items[0]: missing key 'metadata'")) { _ = try await client.list(.services) }
            await #expect(throws: KubernetesError.malformed("endpointslices list: not JSON")) { _ = try await client.list(.endpointSlices) }
            await #expect(throws: KubernetesError.malformed("apiservices list has no metadata.resourceVersion")) { _ = try await client.list(.apiServices) }
            await #expect(throws: KubernetesError.malformed("validatingwebhookconfigurations watch event of unknown type 'SURPRISE'")) {
                try await client.watch(.validatingWebhooks, from: "1") { _ in }
            }
        }
    }

    @Test("APIServices and EndpointSlices decode from recorded-format lists")
    func apiServicesAndSlices() async throws {
        let server = ReplayServer()
        try await server.run({ uri, _ in
            .init(lines: [fixture(uri.hasPrefix("/apis/apiregistration") ? "apiservices-list.json" : "endpointslices-list.json")])
        }) { client in
            let (services, _) = try await client.list(.apiServices)
            let metrics = try #require(services.first { $0.metadata.name == "v1beta1.metrics.k8s.io" })
            #expect(metrics.spec.service == Kubernetes.ServiceReference(namespace: "kube-system", name: "metrics-server", port: 443))
            #expect(metrics.available?.status == "False" && metrics.available?.reason == "FailedDiscoveryCheck")
            #expect(services.first { $0.metadata.name == "v1.apps" }?.spec.service == nil)
            let (slices, _) = try await client.list(.endpointSlices)
            #expect(slices.first?.serviceName == "metrics-server")
            #expect(slices.first?.endpoints?.first?.addresses == ["172.16.1.12"])
            #expect(slices.first?.endpoints?.first?.nodeName == "node-b")
        }
    }
}

@Suite("Kubernetes endpoints from the service account and kubeconfig")
struct KubernetesEndpointTests {
    @Test("in-cluster: host, port, token and CA from the environment and the mounted files")
    func inCluster() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rpt-sa-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try "token-abc\n".write(to: directory.appendingPathComponent("token"), atomically: true, encoding: .utf8)
        try "-----BEGIN CERTIFICATE-----\n".write(to: directory.appendingPathComponent("ca.crt"), atomically: true, encoding: .utf8)
        let endpoint = try KubernetesEndpoint.inCluster(environment: ["KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"],
                                                        directory: directory.path)
        #expect(endpoint.server == "https://10.96.0.1:443" && endpoint.token == "token-abc")
        #expect(throws: KubernetesError.configuration("not in a cluster: KUBERNETES_SERVICE_HOST is not set (use --kubeconfig outside one)")) {
            _ = try KubernetesEndpoint.inCluster(environment: [:], directory: directory.path)
        }
    }

    @Test("kubeconfig: the current context's server, CA data, token; exec plugins are refused with a reason")
    func kubeconfig() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("rpt-kubeconfig-\(getpid())")
        defer { try? FileManager.default.removeItem(at: file) }
        try """
            apiVersion: v1
            kind: Config
            current-context: lab
            clusters:
              - name: lab
                cluster: {server: "https://192.168.0.10:6443", certificate-authority-data: "LS0tLS1CRUdJTg=="}
              - name: eks
                cluster: {server: "https://ABC.gr7.us-east-1.eks.amazonaws.com"}
            users:
              - name: admin
                user: {token: "t0k3n"}
              - name: aws
                user: {exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: aws}}
            contexts:
              - name: lab
                context: {cluster: lab, user: admin}
              - name: eks
                context: {cluster: eks, user: aws}
            """.write(to: file, atomically: true, encoding: .utf8)
        let endpoint = try KubernetesEndpoint.kubeconfig(path: file.path)
        #expect(endpoint.server == "https://192.168.0.10:6443" && endpoint.token == "t0k3n")
        #expect(endpoint.certificateAuthority == Array("-----BEGIN".utf8))
        #expect(throws: KubernetesError.self) { _ = try KubernetesEndpoint.kubeconfig(path: file.path, context: "eks") }
        #expect(throws: KubernetesError.configuration("kubeconfig \(file.path): no context 'nope'")) {
            _ = try KubernetesEndpoint.kubeconfig(path: file.path, context: "nope")
        }
    }
}

/// The aggregator discovers the cluster's nodes from the API server (a replay server on a Unix socket,
/// named in a kubeconfig), so agents need no cluster map.
@Suite(.enabled(if: runningAsRoot, Comment(rawValue: needsRootReason)))
struct AggregatorDiscoveryTests {
    @Test func theAggregatorPlansWithNodesFromTheAPIServer() async throws {
        let server = ReplayServer()
        // The list, then one watch with the fixture's events (node-d added, node-c deleted), then quiet watches.
        let watches = Mutex(0)
        try await server.run({ uri, count in
            for (prefix, name) in [("/apis/apiregistration.k8s.io/", "apiservices-list.json"), ("/apis/discovery.k8s.io/", "endpointslices-list.json"),
                                   ("/apis/admissionregistration.k8s.io/v1/validating", "validatingwebhooks-list.json"),
                                   ("/apis/admissionregistration.k8s.io/v1/mutating", "mutatingwebhooks-list.json")] where uri.hasPrefix(prefix) {
                return uri.contains("watch=1") ? .init(lines: [], hold: .seconds(5)) : .init(lines: [fixture(name)])
            }
            // Events and namespaces: none.
            guard uri.hasPrefix("/api/v1/nodes") else {
                return uri.contains("watch=1") ? .init(lines: [], hold: .seconds(5))
                    : .init(lines: [#"{"kind":"List","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":[]}"#])
            }
            guard uri.contains("watch=1") else { return KubernetesClientTests.nodesAPI(uri, count) }
            let first = watches.withLock { $0 += 1; return $0 == 1 }
            return first ? KubernetesClientTests.nodesAPI(uri, count) : .init(lines: [], hold: .seconds(5))
        }) { _ in
            try await withLabNamespace { namespace in
                try ip("-n", namespace, "link", "set", "lo", "up")
                let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rpt-discovery-\(getpid())")
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                defer { try? FileManager.default.removeItem(at: directory) }
                let kubeconfig = directory.appendingPathComponent("kubeconfig").path
                let url = URL(httpURLWithSocketPath: server.socketPath, uri: "/")!.absoluteString
                try """
                    apiVersion: v1
                    kind: Config
                    current-context: replay
                    clusters: [{name: replay, cluster: {server: "\(url)"}}]
                    users: [{name: reader, user: {token: replay-token}}]
                    contexts: [{name: replay, context: {cluster: replay, user: reader}}]
                    """.write(toFile: kubeconfig, atomically: true, encoding: .utf8)
                try "t".write(toFile: directory.appendingPathComponent("token").path, atomically: true, encoding: .utf8)
                let aggregator = try LabProcess(namespace: namespace, name: "aggregator", arguments: [
                    "aggregator", "--listen", "127.0.0.1:9800", "--token-file", directory.appendingPathComponent("token").path,
                    "--allow-shared-token", "--plain-http", "--kubeconfig", kubeconfig, "--events", "--syslog", "unix:/nonexistent/syslog.sock"])
                defer { aggregator.stop() }
                let registration = #"{"schema":2,"node":"node-a","ip":"192.168.0.193","podCIDRs":["172.16.0.0/24"]}"#
                var plan: [String: Any] = [:]
                let deadline = Date().addingTimeInterval(10)
                while Date() < deadline {
                    let answer = try httpRequest(in: namespace, method: "POST", "http://127.0.0.1:9800/api/v1/register", token: "t", body: registration)
                    plan = (try? JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any]) ?? [:]
                    if plan["probeNodes"] as? [String] == ["node-b", "node-d"] { break }
                    try await Task.sleep(for: .milliseconds(200))
                }
                #expect(plan["probeNodes"] as? [String] == ["node-b", "node-d"], "listed, then watched: node-d added, node-c deleted: \(plan) \(aggregator.log)")
                let cluster = (plan["cluster"] as? [String: Any])?["nodes"] as? [[String: Any]] ?? []
                #expect(cluster.first { $0["name"] as? String == "node-b" }?["instanceID"] as? String == "i-0b0b0b0b0b0b0b0b0")
                #expect(aggregator.log.contains("discovering nodes from http+unix://"))
                #expect(aggregator.log.contains("not probed: node-new: no spec.podCIDR"), "\(aggregator.log)")

                // node-d registers by name and IP alone (its pod CIDR comes from its Node); node-a and node-d
                // report node-b's metrics-server pod unreachable: the finding says what that breaks.
                let bare = #"{"schema":2,"node":"node-d","ip":"192.168.0.61"}"#
                #expect(try httpRequest(in: namespace, method: "POST", "http://127.0.0.1:9800/api/v1/register", token: "t", body: bare).status == 200)
                for source in ["node-a", "node-d"] {
                    let report = #"{"schema":2,"node":"\#(source)","round":5,"openAfter":2,"results":[{"target":"172.16.1.12","protocol":"tcp","port":9700,"owner":"node-b","cidr":"172.16.1.0/24","routeClass":"vpc","outcome":"timeout","verdict":"vpcRouteMissing","sent":1,"received":0,"controlOutcome":"reply","failedRounds":3}],"localFindings":[],"strayTraffic":[]}"#
                    #expect(try httpRequest(in: namespace, method: "POST", "http://127.0.0.1:9800/api/v1/reports", token: "t", body: report).status == 202)
                }
                var message = ""
                for _ in 0..<30 where !(message.contains("This breaks") && message.contains("2/2")) {
                    let body = try httpRequest(in: namespace, "http://127.0.0.1:9800/api/v1/findings", token: "t").body
                    let findings = (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])?["findings"] as? [[String: Any]]
                    message = findings?.first?["message"] as? String ?? ""
                    try await Task.sleep(for: .milliseconds(200))
                }
                #expect(message.contains("The VPC route entry 172.16.1.0/24 -> node-b (192.168.0.50) is missing, 2/2 sources agree"), "\(message)")
                // --events: the finding became a Warning Event on node-b, created through the API.
                var event: [String: Any] = [:]
                for _ in 0..<25 where event.isEmpty {
                    let bodies = server.posted.withLock { $0 }.filter { $0.path == "/api/v1/namespaces/default/events" }.map(\.body)
                    event = bodies.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
                        .first { $0["reason"] as? String == "VpcRouteMissing" } ?? [:]
                    if event.isEmpty { try await Task.sleep(for: .milliseconds(200)) }
                }
                #expect((event["involvedObject"] as? [String: Any])?["name"] as? String == "node-b", "\(event)")
                #expect((event["involvedObject"] as? [String: Any])?["kind"] as? String == "Node")
                #expect(event["type"] as? String == "Warning")
                #expect((event["message"] as? String)?.contains("172.16.1.0/24 -> node-b (192.168.0.50) is missing") == true)

                // node-a is the control plane (its role label): its plan now holds the API server's dependencies.
                let again = try httpRequest(in: namespace, method: "POST", "http://127.0.0.1:9800/api/v1/register", token: "t", body: registration)
                let planned = ((try? JSONSerialization.jsonObject(with: Data(again.body.utf8)) as? [String: Any])?["criticalTargets"] as? [[String: Any]]) ?? []
                #expect(planned.compactMap { $0["name"] as? String }.sorted() == ["v1beta1.metrics.k8s.io", "validate.kyverno.svc-fail"], "\(again.body)")
                #expect(message.contains("This breaks the control plane: v1beta1.metrics.k8s.io is unreachable from the API server's network: namespace deletion will hang in Terminating and HPA stops scaling"), "\(message) \(aggregator.log)")
            }
        }
        #expect(server.requests.withLock { $0 }.contains { $0.hasPrefix("/api/v1/nodes?watch=1") }, "it watches after listing")
    }

    /// A kubeconfig naming the replay server, in `directory`.
    static func kubeconfig(in directory: URL, server: String, authority: String? = nil) throws -> String {
        let path = directory.appendingPathComponent("kubeconfig").path
        let data = try authority.map { try Data(contentsOf: URL(fileURLWithPath: $0)).base64EncodedString() }
        try """
            apiVersion: v1
            kind: Config
            current-context: replay
            clusters: [{name: replay, cluster: {server: "\(server)"\(data.map { ", certificate-authority-data: \($0)" } ?? "")}}]
            users: [{name: reader, user: {token: replay-token}}]
            contexts: [{name: replay, context: {cluster: replay, user: reader}}]
            """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Node discovery from the replay server: nodes listed, then quiet watches; every other resource empty.
    static func quietCluster(_ uri: String, _ count: Int) -> ReplayServer.Answer {
        if uri.contains("watch=1") { return .init(lines: [], hold: .seconds(5)) }
        if uri.hasPrefix("/api/v1/nodes") { return KubernetesClientTests.nodesAPI(uri, count) }
        return .init(lines: [#"{"kind":"List","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":[]}"#])
    }

    @Test("in a cluster, an agent's projected token speaks for its own node only: reviewed once, then cached; expired and foreign tokens are refused; a rotated token file is read again")
    func serviceAccountTokensSpeakForTheirNodeOnly() async throws {
        let server = ReplayServer(answerPost: tokenReviewAnswers)
        try await server.run(Self.quietCluster) { _ in
            try await withLab { lab in
                let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rpt-review-\(getpid())")
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                defer { try? FileManager.default.removeItem(at: directory) }
                let kubeconfig = try Self.kubeconfig(in: directory, server: server.url)
                let vpc = lab.namespace("vpc")
                let aggregator = try LabProcess(namespace: vpc, name: "aggregator", arguments: [
                    "aggregator", "--listen", "192.168.0.253:9800", "--kubeconfig", kubeconfig, "--plain-http",
                    "--syslog", "unix:/nonexistent/syslog.sock"])
                defer { aggregator.stop() }
                let url = "http://192.168.0.253:9800"
                var up = false
                for _ in 0..<50 where !up { up = (try? httpRequest(in: vpc, "\(url)/healthz"))?.status == 200; if !up { try await Task.sleep(for: .milliseconds(100)) } }
                #expect(up, "\(aggregator.log)")
                func register(_ node: String, _ ip: String, token: String) throws -> (status: Int, body: String) {
                    try httpRequest(in: vpc, method: "POST", "\(url)/api/v1/register", token: token, body: #"{"schema":2,"node":"\#(node)","ip":"\#(ip)"}"#)
                }
                let bound = serviceAccountToken("bound")
                var answer = try register("node-b", "192.168.0.50", token: bound)
                #expect(answer.status == 403 && answer.body.contains("this token speaks for node 'node-a', not for 'node-b'"), "\(answer)")
                answer = try register("node-a", "192.168.0.193", token: bound)
                #expect(answer.status == 200, "\(answer) \(aggregator.log)")
                for round in 1...5 {
                    let report = #"{"schema":2,"node":"node-a","round":\#(round),"openAfter":2,"results":[],"localFindings":[],"strayTraffic":[]}"#
                    #expect(try httpRequest(in: vpc, method: "POST", "\(url)/api/v1/reports", token: bound, body: report).status == 202)
                }
                let reviews = { server.posted.withLock { $0 }.filter { $0.path.hasSuffix("tokenreviews") }.count }
                #expect(reviews() == 1, "seven requests with one token cost one TokenReview")
                answer = try register("node-a", "192.168.0.193", token: serviceAccountToken("expired"))
                #expect(answer.status == 401 && answer.body.contains("service account token has expired"), "\(answer)")
                answer = try register("node-b", "192.168.0.50", token: serviceAccountToken("other-account"))
                #expect(answer.status == 403 && answer.body.contains("not of the agents' service account"), "\(answer)")
                answer = try register("node-a", "192.168.0.193", token: serviceAccountToken("wrong-audience"))
                #expect(answer.status == 401 && answer.body.contains("invalid for the target audiences"), "\(answer)")
                #expect(try httpRequest(in: vpc, "\(url)/api/v1/findings", token: "not-a-jwt").status == 401)
                #expect(reviews() == 4, "a token that is no JWT is refused without asking the API server")

                // node-a's agent starts with an expired projected token; the kubelet then writes a fresh one: the
                // agent reads it again after the 401 and registers, with no restart.
                let tokenFile = directory.appendingPathComponent("token").path
                try serviceAccountToken("expired").write(toFile: tokenFile, atomically: true, encoding: .utf8)
                let agent = try LabProcess(namespace: lab.namespace("node-a"), name: "agent", arguments: [
                    "agent", "--node-name", "node-a", "--cluster-map", lab.mapPath, "--interval", "1s", "--timeout", "400ms",
                    "--syslog", "unix:/nonexistent/syslog.sock", "--aggregator", url, "--plain-http", "--token-file", tokenFile])
                defer { agent.stop() }
                for _ in 0..<50 where !agent.log.contains("HTTP 401") { try await Task.sleep(for: .milliseconds(100)) }
                #expect(agent.log.contains("HTTP 401: the aggregator refused the token: the API server does not accept the token"), "\(agent.log)")
                try serviceAccountToken("bound").write(toFile: tokenFile, atomically: true, encoding: .utf8)
                for _ in 0..<80 where !agent.log.contains("registered with the aggregator") { try await Task.sleep(for: .milliseconds(100)) }
                #expect(agent.log.contains("registered with the aggregator"), "\(agent.log)")
            }
        }
    }

    @Test("API errors a person can act on, once per cause, and a quiet stop under a second: an untrusted https API server, then a refused connection")
    func kubernetesErrorsAreOneReadableLinePerCause() async throws {
        let served = try LabCertificates(["127.0.0.1"])
        let stranger = try LabCertificates(["127.0.0.1"])
        let server = ReplayServer(tls: (served.certificate, served.key))
        try await server.run(Self.quietCluster) { _ in
            try await withLabNamespace { namespace in
                try ip("-n", namespace, "link", "set", "lo", "up")
                let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rpt-errors-\(getpid())")
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                defer { try? FileManager.default.removeItem(at: directory) }
                // The replay server's Unix socket as https://127.0.0.1:6443 inside the namespace (socat relays
                // the bytes; TLS is end to end), so the certificate's address can be checked.
                let relay = Process()
                relay.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
                relay.arguments = ["netns", "exec", namespace, "socat", "TCP-LISTEN:6443,bind=127.0.0.1,fork,reuseaddr", "UNIX-CONNECT:\(server.socketPath)"]
                try relay.run()
                // SIGKILL: the test process blocks SIGTERM, and socat inherits that mask.
                defer { kill(relay.processIdentifier, SIGKILL); relay.waitUntilExit() }
                // Untrusted, refused, then trusted with watches open: one line per cause, and a quiet stop.
                for (serverURL, authority, expected) in [
                    ("https://127.0.0.1:6443", stranger.authority, "the API server's certificate is not trusted: set certificate-authority-data (or certificate-authority) in the kubeconfig; retrying"),
                    ("https://127.0.0.1:6444", stranger.authority, "cannot reach the API server: connection refused (nothing listens on that address and port); retrying"),
                    ("https://127.0.0.1:6443", served.authority, nil)] as [(String, String, String?)] {
                    let kubeconfig = try Self.kubeconfig(in: directory, server: serverURL, authority: authority)
                    let aggregator = try LabProcess(namespace: namespace, name: "aggregator", arguments: [
                        "aggregator", "--listen", "127.0.0.1:9800", "--kubeconfig", kubeconfig, "--plain-http", "--events",
                        "--syslog", "unix:/nonexistent/syslog.sock"])
                    let watching = { server.requests.withLock { $0 }.contains { $0.hasPrefix("/api/v1/nodes?watch=1") } }
                    for _ in 0..<50 where !(expected == nil ? watching() : aggregator.log.contains("retrying")) { try await Task.sleep(for: .milliseconds(100)) }
                    try await Task.sleep(for: .milliseconds(1500))
                    let stopped = aggregator.stop()
                    let log = aggregator.log
                    let lines = log.split(separator: "\n")
                    if let expected {
                        #expect(lines.filter { $0.contains(expected) }.count == 1, "one line for the cause, not one per resource:\n\(log)")
                        #expect(lines.filter { $0.contains("retrying") }.count == 1, "\(log)")
                    } else {
                        #expect(watching() && !log.contains("retrying"), "trusted: it lists and watches\n\(log) \(server.requests.withLock { $0 })")
                    }
                    for typeName in ["NIOSSL", "BoringSSL", ".cc:", "handshakeFailed", "NIOConnectionError", "CancellationError", "HTTPClientError"] {
                        #expect(!log.contains(typeName), "\(typeName) in:\n\(log)")
                    }
                    #expect(!log.lowercased().contains("error"), "nothing is an error at a normal SIGTERM:\n\(log)")
                    #expect(stopped.map { $0 < 1.0 } == true, "stopped after \(stopped.map { String($0) } ?? "more than 5") s")
                    #expect(aggregator.process.terminationStatus == 0, "\(log)")
                }
            }
        }
    }

    /// node-a and node-c register and report node-b's pod target timing out (or answering) to the aggregator on
    /// `port`; the reports' HTTP statuses.
    static func postReports(namespace: String, port: Int, failing: Bool, round: Int) throws -> [Int] {
        let timeout = #"{"target":"172.16.1.12","protocol":"tcp","port":9700,"owner":"node-b","cidr":"172.16.1.0/24","routeClass":"vpc","outcome":"timeout","verdict":"vpcRouteMissing","sent":1,"received":0,"controlOutcome":"reply","failedRounds":3}"#
        let reply = #"{"target":"172.16.1.12","protocol":"tcp","port":9700,"owner":"node-b","cidr":"172.16.1.0/24","routeClass":"vpc","outcome":"reply","verdict":"reachable","sent":1,"received":1,"controlOutcome":"reply","failedRounds":0}"#
        var statuses: [Int] = []
        for (node, address) in [("node-a", "192.168.0.193"), ("node-c", "192.168.0.60")] {
            let registration = "{\"schema\":2,\"node\":\"\(node)\",\"ip\":\"\(address)\"}"
            _ = try httpRequest(in: namespace, method: "POST", "http://127.0.0.1:\(port)/api/v1/register", token: "t", body: registration)
            let body = "{\"schema\":2,\"node\":\"\(node)\",\"round\":\(round),\"openAfter\":2,\"results\":[\(failing ? timeout : reply)],\"localFindings\":[],\"strayTraffic\":[]}"
            statuses.append(try httpRequest(in: namespace, method: "POST", "http://127.0.0.1:\(port)/api/v1/reports", token: "t", body: body).status)
        }
        return statuses
    }

    @Test("a standby takes over: two aggregators on one Lease, the leader alerts and is killed, the standby leads within the lease duration, rebuilds from the next reports, does not alert again, and sends the resolve")
    func theStandbyTakesOverWithoutASecondAlert() async throws {
        let server = ReplayServer()
        try await server.run(Self.quietCluster) { _ in
            try await withLabNamespace { namespace in try await Self.takeover(in: namespace, server: server) }
        }
    }

    /// The takeover test's body, on the namespace and the replay server it was given.
    static func takeover(in namespace: String, server: ReplayServer) async throws {
        try ip("-n", namespace, "link", "set", "lo", "up")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rpt-lease-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let kubeconfig = try kubeconfig(in: directory, server: server.url)
        try "t".write(toFile: directory.appendingPathComponent("token").path, atomically: true, encoding: .utf8)
        let collector = try Rsyslog()
        defer { collector.stop() }
        func aggregator(_ port: Int) throws -> LabProcess {
            try LabProcess(namespace: namespace, name: "aggregator-\(port)", arguments: [
                "aggregator", "--listen", "127.0.0.1:\(port)", "--token-file", directory.appendingPathComponent("token").path,
                "--allow-shared-token", "--plain-http", "--kubeconfig", kubeconfig, "--leader-election", "--lease-duration", "3s",
                "--evaluation-interval", "200ms", "--syslog", "unix:\(collector.socketPath)"])
        }
        func ready(_ port: Int) -> Bool { (try? httpRequest(in: namespace, "http://127.0.0.1:\(port)/readyz"))?.status == 200 }
        let first = try aggregator(9801)
        defer { first.stop() }
        for _ in 0..<50 where !ready(9801) { try await Task.sleep(for: .milliseconds(100)) }
        let second = try aggregator(9802)
        defer { second.stop() }
        try await Task.sleep(for: .seconds(1))
        #expect(ready(9801) && !ready(9802), "one leader, one standby\n\(first.log)\n\(second.log)")
        let refused = try httpRequest(in: namespace, "http://127.0.0.1:9802/api/v1/findings", token: "t")
        #expect(refused.status == 503 && refused.body.contains("standby:") && refused.body.contains("leads"), "\(refused)")

        // What the Service would do: send the agents' registrations and reports to the ready replica.
        func report(to port: Int, failing: Bool, round: Int) throws {
            let statuses = try Self.postReports(namespace: namespace, port: port, failing: failing, round: round)
            #expect(statuses == [202, 202], "\(statuses)")
        }
        func alerts() -> [String] { collector.lines(atLeast: 0, timeout: 0).filter { $0.contains("vpcRouteMissing") } }
        try report(to: 9801, failing: true, round: 1)
        for _ in 0..<30 where alerts().isEmpty { try await Task.sleep(for: .milliseconds(100)) }
        #expect(alerts().count == 1 && alerts().first?.contains(#"state="open""#) == true, "\(alerts())")

        // The leader dies without a word (SIGKILL: no release); the standby leads within the lease duration.
        kill(first.process.processIdentifier, SIGKILL)
        let killed = Date()
        while !ready(9802) && Date().timeIntervalSince(killed) < 10 { try await Task.sleep(for: .milliseconds(100)) }
        let takeover = Date().timeIntervalSince(killed)
        #expect(ready(9802), "\(second.log)")
        #expect(takeover < 3 + 1, "took over after \(takeover) s (lease 3 s)")
        #expect(second.log.contains("took over 1 alerted finding from the previous leader: vpcRouteMissing-"), "\(second.log)")

        // The agents' next reports reach the new leader: the finding is open there, with no second alert.
        try report(to: 9802, failing: true, round: 2)
        var open: [[String: Any]] = []
        for _ in 0..<30 where open.isEmpty {
            let body = try httpRequest(in: namespace, "http://127.0.0.1:9802/api/v1/findings", token: "t").body
            open = (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])?["findings"] as? [[String: Any]] ?? []
            if open.isEmpty { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(open.first?["kind"] as? String == "vpcRouteMissing", "\(open) \(second.log)")
        try await Task.sleep(for: .milliseconds(600))
        #expect(alerts().count == 1, "no second alert: \(alerts())")
        #expect(second.log.contains("is open again here; the previous leader alerted it already"), "\(second.log)")

        // Repaired: the new leader sends the resolve.
        try report(to: 9802, failing: false, round: 3)
        for _ in 0..<30 where alerts().count < 2 { try await Task.sleep(for: .milliseconds(100)) }
        #expect(alerts().count == 2 && alerts().last?.contains(#"state="resolved""#) == true, "\(alerts())")
        // The next renewal writes what is still alerted: nothing.
        var lease = server.leases.lease("routeprobe", "routeprobe-aggregator")
        for _ in 0..<30 where ((lease?["metadata"] as? [String: Any])?["annotations"] as? [String: String])?["routeprobe.io/alerted-findings"] != nil {
            try await Task.sleep(for: .milliseconds(100))
            lease = server.leases.lease("routeprobe", "routeprobe-aggregator")
        }
        #expect(((lease?["spec"] as? [String: Any])?["leaseTransitions"] as? Int) == 1, "\(lease ?? [:])")
        #expect(((lease?["metadata"] as? [String: Any])?["annotations"] as? [String: String])?[  "routeprobe.io/alerted-findings"] == nil,
                "nothing is left alerted once it resolved: \(lease ?? [:])")
    }

    @Test("the route-controller watchdog through the API: node-b's FailedToCreateRoute Event, listed from the replay server, is quoted once the missing entry outlives the grace")
    func routeControllerFailingFromTheEventsAPI() async throws {
        let server = ReplayServer()
        try await server.run({ uri, count in
            if uri == "/api/v1/namespaces/kube-system/pods/metrics-server-6d94bc8694-7xk2p" { return .init(lines: [fixture("pod-metrics-server.json")]) }
            if uri.hasPrefix("/api/v1/namespaces/kube-system/pods/") {
                return .init(status: .notFound, lines: [#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"pods \"gone\" not found","reason":"NotFound","code":404}"#])
            }
            if uri.hasPrefix("/api/v1/events?") && !uri.contains("watch=1") {
                #expect(uri.contains("fieldSelector=involvedObject.kind%3DNode%2Ctype%3DWarning"), "\(uri)")
                return .init(lines: [fixture("events-node-warnings.json").replacingOccurrences(of: "2026-12-05T10:12:44Z", with: Self.rfc3339(Date()))])
            }
            return Self.quietCluster(uri, count)
        }) { _ in
            try await withLabNamespace { namespace in try await Self.routeControllerFailing(in: namespace, server: server) }
        }
        #expect(server.requests.withLock { $0 }.contains { $0.hasPrefix("/api/v1/events?") }, "\(server.requests.withLock { $0 })")
    }

    static func rfc3339(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        return formatter.string(from: date)
    }

    static func routeControllerFailing(in namespace: String, server: ReplayServer) async throws {
        try ip("-n", namespace, "link", "set", "lo", "up")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rpt-watchdog-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let kubeconfig = try kubeconfig(in: directory, server: server.url)
        try "t".write(toFile: directory.appendingPathComponent("token").path, atomically: true, encoding: .utf8)
        let aggregator = try LabProcess(namespace: namespace, name: "aggregator", arguments: [
            "aggregator", "--listen", "127.0.0.1:9800", "--token-file", directory.appendingPathComponent("token").path,
            "--allow-shared-token", "--plain-http", "--kubeconfig", kubeconfig, "--route-controller-grace", "2s", "--node-conditions",
            "--evaluation-interval", "200ms", "--syslog", "unix:/nonexistent/syslog.sock"])
        defer { aggregator.stop() }
        for _ in 0..<50 where (try? httpRequest(in: namespace, "http://127.0.0.1:9800/healthz"))?.status != 200 { try await Task.sleep(for: .milliseconds(100)) }
        var kinds: [String] = []
        var message = ""
        for round in 1...40 where !kinds.contains("routeControllerFailing") {
            _ = try postReports(namespace: namespace, port: 9800, failing: true, round: round)
            let body = try httpRequest(in: namespace, "http://127.0.0.1:9800/api/v1/findings", token: "t").body
            let findings = (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])?["findings"] as? [[String: Any]] ?? []
            kinds = findings.compactMap { $0["kind"] as? String }
            message = findings.first { $0["kind"] as? String == "routeControllerFailing" }?["message"] as? String ?? ""
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(kinds.sorted() == ["routeControllerFailing", "vpcRouteMissing"], "\(kinds) \(aggregator.log)")
        #expect(message.contains("the route controller fails to create it: FailedToCreateRoute") && message.contains("(7 times)")
                && message.contains("RouteTableLimitExceeded: The maximum number of routes has been reached"), "\(message)")
        #expect(aggregator.log.contains("route controller watch: Event broken.17f2a9c1d4e5f333 names no node or time; skipped"), "\(aggregator.log)")

        // routeprobe explain, against the aggregator's API: the chain for node-b, and nothing wrong for node-c.
        let token = directory.appendingPathComponent("token").path
        func explain(_ arguments: [String]) throws -> (status: Int32, output: String, errors: String) {
            let result = try runProgram("/usr/sbin/ip", ["netns", "exec", namespace, try routeprobeExecutable(), "explain"] + arguments
                                        + ["--aggregator", "http://127.0.0.1:9800", "--plain-http", "--token-file", token])
            return (result.status, result.standardOutput, result.standardError)
        }
        let chain = try explain(["node/node-b"])
        #expect(chain.status == 1, "\(chain)")
        #expect(chain.output.contains("the VPC route entry 172.16.1.0/24 -> node-b (192.168.0.50) is missing (2/2 sources)"), "\(chain.output)")
        #expect(chain.output.contains("<- the route controller fails to create it: FailedToCreateRoute"), "\(chain.output)")
        #expect(chain.output.contains("\nfix: Add the VPC route entry 172.16.1.0/24 with next hop node-b (192.168.0.50)"), "\(chain.output)")
        let json = try explain(["172.16.1.12", "--json"])
        let object = try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any]
        #expect(object?["wrong"] as? Bool == true && (object?["steps"] as? [[String: Any]])?.last?["role"] as? String == "fix", "\(json)")
        let quiet = try explain(["node/node-c"])
        #expect(quiet.status == 0 && quiet.output == "nothing wrong along the chain: no open finding about node/node-c\n", "\(quiet)")
        // pod/NAMESPACE/NAME: its address from the API server (--kubeconfig), then the address's chain.
        let pod = try explain(["pod/kube-system/metrics-server-6d94bc8694-7xk2p", "--kubeconfig", kubeconfig])
        #expect(pod.status == 1 && pod.output.hasPrefix("pod/kube-system/metrics-server-6d94bc8694-7xk2p (172.16.1.12 on node-b) is unreachable from other nodes\n  <- "), "\(pod)")
        let gone = try explain(["pod/kube-system/gone", "--kubeconfig", kubeconfig])
        #expect(gone.status == 1 && gone.errors.contains("pod kube-system/gone does not exist"), "\(gone)")
        let noAPI = try explain(["pod/kube-system/x"])
        #expect(noAPI.status == 2 && noAPI.errors.contains("needs --kubeconfig or --kubernetes"), "\(noAPI)")
        let bad = try explain(["deployment/x"])
        #expect(bad.status == 2 && bad.errors.contains("'deployment/x' is not namespace/NAME, apiservice/NAME, node/NAME, pod/NAMESPACE/NAME or an IP address"), "\(bad)")

        // --node-conditions: node-b got PodCIDRUnreachable True by a strategic merge patch of its status; the
        // route repaired, it turns False (PodCIDRReachable). NetworkUnavailable is never written.
        func patches() -> [(path: String, contentType: String, body: String)] { server.patched.withLock { $0 } }
        #expect(patches().first?.path == "/api/v1/nodes/node-b/status" && patches().first?.contentType == "application/strategic-merge-patch+json", "\(patches())")
        let opened = try JSONSerialization.jsonObject(with: Data((patches().first?.body ?? "{}").utf8)) as? [String: Any]
        let condition = ((opened?["status"] as? [String: Any])?["conditions"] as? [[String: Any]])?.first
        #expect(condition?["type"] as? String == "PodCIDRUnreachable" && condition?["status"] as? String == "True"
                && condition?["reason"] as? String == "VpcRouteMissing", "\(condition ?? [:])")
        for round in 50...60 where !patches().contains(where: { $0.body.contains("PodCIDRReachable") }) {
            _ = try postReports(namespace: namespace, port: 9800, failing: false, round: round)
            try await Task.sleep(for: .milliseconds(300))
        }
        #expect(patches().last?.body.contains(#""status":"False""#) == true && patches().last?.body.contains("PodCIDRReachable") == true, "\(patches())")
        #expect(!patches().contains { $0.body.contains("NetworkUnavailable") })
    }

    @Test func badKubernetesFlagsAreOneLineAndExitTwo() throws {
        let executable = try routeprobeExecutable()
        let token = FileManager.default.temporaryDirectory.appendingPathComponent("rpt-token-\(getpid())").path
        try "t".write(toFile: token, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: token) }
        for (arguments, expected) in [(["--kubeconfig", "/nonexistent"], "cannot read kubeconfig /nonexistent"),
                                      (["--kubernetes", "--kubeconfig", "/x"], "exclude each other"),
                                      (["--events"], "--events needs --kubernetes or --kubeconfig")] {
            let result = try runProgram(executable, ["aggregator", "--token-file", token, "--allow-shared-token", "--plain-http"] + arguments)
            #expect(result.status == 2 && result.standardError.contains(expected), "\(result.standardError)")
        }
        // Outside a cluster, --kubernetes says so (the test process has no KUBERNETES_SERVICE_HOST).
        if ProcessInfo.processInfo.environment["KUBERNETES_SERVICE_HOST"] == nil {
            let result = try runProgram(executable, ["aggregator", "--token-file", token, "--allow-shared-token", "--plain-http", "--kubernetes"])
            #expect(result.status == 2 && result.standardError.contains("not in a cluster"), "\(result.standardError)")
        }
    }
}

@Suite("What it breaks: APIService -> Service -> EndpointSlice -> pod IP -> node -> pod CIDR")
struct ImpactAnalysisTests {
    static func decode<T: Decodable & Sendable>(_ name: String, as type: T.Type) throws -> [T] {
        try JSONDecoder().decode(Kubernetes.List<T>.self, from: Data(fixture(name).utf8)).items
    }

    static let cluster = ClusterMap(nodes: [
        .init(name: "node-a", ip: IPAddress("192.168.0.193")!, podCIDRs: [IPPrefix("172.16.0.0/24")!]),
        .init(name: "node-b", ip: IPAddress("192.168.0.50")!, podCIDRs: [IPPrefix("172.16.1.0/24")!]),
        .init(name: "node-c", ip: IPAddress("192.168.0.60")!, podCIDRs: [IPPrefix("172.16.2.0/24")!]),
    ])

    @Test("Service-backed APIServices and webhooks map to their ready pods' nodes and CIDRs; local ones and URL webhooks do not")
    func mapping() throws {
        let targets = ImpactAnalysis.criticalTargets(
            apiServices: try Self.decode("apiservices-list.json", as: Kubernetes.APIService.self),
            validating: try Self.decode("validatingwebhooks-list.json", as: Kubernetes.WebhookConfiguration.self),
            mutating: try Self.decode("mutatingwebhooks-list.json", as: Kubernetes.WebhookConfiguration.self),
            slices: try Self.decode("endpointslices-list.json", as: Kubernetes.EndpointSlice.self), cluster: Self.cluster)
        #expect(targets.map(\.name) == ["v1beta1.metrics.k8s.io", "validate.kyverno.svc-fail"], "v1.apps is local, the URL webhook has no Service")
        let metrics = try #require(targets.first)
        #expect(metrics.service == "kube-system/metrics-server" && metrics.address == IPAddress("172.16.1.12"))
        #expect(metrics.node == "node-b" && metrics.cidr == IPPrefix("172.16.1.0/24") && metrics.port == 10250)
        #expect(metrics.sentence == "v1beta1.metrics.k8s.io is unreachable from the API server's network: namespace deletion will hang in Terminating and HPA stops scaling (kubectl top fails too)")
        let webhook = try #require(targets.last)
        #expect(webhook.address == IPAddress("172.16.2.31"), "the terminating, not-ready endpoint is left out")
        #expect(webhook.consequence == "creating or updating the objects it validates fails (failurePolicy Fail)")
        #expect(ImpactAnalysis.impacts(of: targets, cidr: IPPrefix("172.16.1.0/24"), node: nil) == [metrics.sentence])
        #expect(ImpactAnalysis.impacts(of: targets, cidr: nil, node: "node-c") == [webhook.sentence])
        #expect(ImpactAnalysis.impacts(of: targets, cidr: IPPrefix("172.16.0.0/24"), node: nil).isEmpty)
    }
}

@Suite("Node discovery on a dual-stack cluster")
struct DualStackDiscoveryTests {
    @Test("a Node with an InternalIP of each family and two pod CIDRs becomes a dual-stack cluster-map node")
    func bothInternalIPs() throws {
        let json = #"""
        {"apiVersion": "v1", "kind": "Node",
         "metadata": {"name": "node-b", "uid": "1b2c3d4e-5f6a-4b8c-9d0e-1f2a3b4c5d6e", "resourceVersion": "7"},
         "spec": {"podCIDR": "172.16.1.0/24", "podCIDRs": ["172.16.1.0/24", "fd00:172:16:1::/64"], "providerID": "aws:///eu-west-1a/i-0b0b0b0b0b0b0b0b0"},
         "status": {"addresses": [{"type": "InternalIP", "address": "192.168.0.50"}, {"type": "InternalIP", "address": "fd00:192:168::50"},
                                  {"type": "Hostname", "address": "node-b"}],
                    "conditions": [{"type": "Ready", "status": "True"}]}}
        """#
        let node = try JSONDecoder().decode(Kubernetes.Node.self, from: Data(json.utf8))
        let (map, skipped) = NodeDiscovery.clusterNodes(from: [node])
        #expect(skipped.isEmpty)
        let discovered = try #require(map.first)
        #expect(discovered.addresses == [IPAddress("192.168.0.50")!, IPAddress("fd00:192:168::50")!])
        #expect(discovered.podCIDRs == [IPPrefix("172.16.1.0/24")!, IPPrefix("fd00:172:16:1::/64")!])
        #expect(discovered.uid == "1b2c3d4e-5f6a-4b8c-9d0e-1f2a3b4c5d6e")
    }
}
