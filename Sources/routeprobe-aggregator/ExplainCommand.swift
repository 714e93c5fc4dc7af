import AsyncHTTPClient
import Foundation
import NIOCore
import RouteprobeCommandSupport
import RouteprobeConfiguration
import RouteprobeCore
import RouteprobeHTTP
import RouteprobeKubernetes
import NIOSSL

/// `routeprobe explain KIND/NAME`: the chain from a symptom to its cause and fix, from the aggregator's findings.
struct ExplainCommand: ServiceTool {
    static let tool = ToolDescription(
        path: ["explain"],
        abstract: "Explain a symptom: from a stuck namespace or an unavailable APIService to the route entry and the fix.",
        discussion: """
            Reads the aggregator's open findings (--aggregator URL with a reader's --token-file), or without an \
            aggregator asks the API server (--kubeconfig or --kubernetes) for the symptoms and the backends \
            and probes them from here (--netns in a lab), and prints the \
            chain about the subject, one step a line: the symptom, the unreachable pod, the VPC route entry \
            with its sources, the route controller that did not repair it, and the fix. Subjects: \
            namespace/NAME, apiservice/NAME (e.g. v1beta1.metrics.k8s.io), node/NAME, an IP address in a pod \
            CIDR, or pod/NAMESPACE/NAME (its address is looked up with --kubernetes or --kubeconfig). Exit \
            status: 0 nothing wrong along the chain, 1 something is, 2 usage error.
            """,
        arguments: [ToolArgument("subject", help: "namespace/NAME, apiservice/NAME, node/NAME, pod/NAMESPACE/NAME or an IP address.")],
        options: [
            ToolOption("aggregator", .value(placeholder: "aggregator"), help: "The aggregator's base URL, e.g. https://routeprobe-aggregator.routeprobe.svc:9800."),
            ToolOption("token-file", .value(placeholder: "token-file"), help: "A token the aggregator accepts (the reader token)."),
            ToolOption("aggregator-ca", .value(placeholder: "aggregator-ca"), help: "PEM file of the CA that signed the aggregator's certificate (default: the system's roots)."),
            ToolOption("plain-http", .flag, help: "Allow an http:// --aggregator (labs)."),
            ToolOption("kubeconfig", .value(placeholder: "kubeconfig"), help: "For pod/NAMESPACE/NAME: look the pod up in this kubeconfig's API server."),
            ToolOption("kubernetes", .flag, help: "For pod/NAMESPACE/NAME: look the pod up with the pod's service account (in a cluster)."),
            ToolOption("netns", .value(placeholder: "netns"), help: "Without --aggregator: probe from this network namespace (labs)."),
            ToolOption("timeout", .value(placeholder: "timeout"), help: "Without --aggregator: how long each probe waits.", default: "1s"),
            ToolOption("json", .flag, help: "Print the chain as JSON: {subject, wrong, steps: [{role, text, finding}]}."),
        ])

    var subject: ExplainChain.Subject
    var aggregator: String?
    var tokenFile: String?
    var netns: String?
    var timeout: Duration
    var authority: String?
    var json: Bool
    var kubeconfig: String?
    var kubernetes: Bool

    init(_ line: ToolCommandLine) throws(CommandFailure) {
        let text = line.positionals.first ?? ""
        guard let subject = ExplainChain.Subject.parse(text) else {
            throw Self.tool.usage("'\(text)' is not namespace/NAME, apiservice/NAME, node/NAME, pod/NAMESPACE/NAME or an IP address")
        }
        self.subject = subject
        kubeconfig = line.value("kubeconfig")
        kubernetes = line.flag("kubernetes")
        netns = line.value("netns")
        let timeoutText = line.value("timeout") ?? "1s"
        guard let timeout = DurationText.parse(timeoutText), timeout > .zero, timeout <= .seconds(30) else {
            throw Self.tool.usage("--timeout '\(timeoutText)' is not a duration from 1ms to 30s")
        }
        self.timeout = timeout
        if let aggregator = line.value("aggregator") {
            if let problem = AggregatorURL.check(aggregator, plainHTTP: line.flag("plain-http")).problem { throw Self.tool.usage(problem) }
            self.aggregator = aggregator.hasSuffix("/") ? String(aggregator.dropLast()) : aggregator
            guard let tokenFile = line.value("token-file") else { throw Self.tool.usage("missing '--token-file <token-file>'") }
            self.tokenFile = tokenFile
        } else {
            guard kubeconfig != nil || kubernetes else {
                throw Self.tool.usage("missing '--aggregator <aggregator>' (its findings), or --kubeconfig/--kubernetes to ask the API server and probe from here")
            }
            aggregator = nil
            tokenFile = nil
        }
        authority = line.value("aggregator-ca")
        json = line.flag("json")
        if case .pod = subject, kubeconfig == nil, !kubernetes {
            throw Self.tool.usage("pod/NAMESPACE/NAME needs --kubeconfig or --kubernetes to look up the pod's address")
        }
    }

    /// The pod's address and node, from the API server.
    private func lookUp(namespace: String, name: String) async throws -> (IPAddress, String?) {
        let client = try apiClient()
        let pod: Kubernetes.Pod
        do {
            pod = try await client.get(Kubernetes.Pod.self, at: "/api/v1/namespaces/\(namespace)/pods/\(name)")
        } catch {
            await client.shutdown()
            if case .http(status: 404, _) = error { throw CommandFailure("pod \(namespace)/\(name) does not exist") }
            throw CommandFailure("cannot look up pod \(namespace)/\(name): \(error.description)")
        }
        await client.shutdown()
        guard let text = pod.status?.podIP, let address = IPAddress(text) else {
            throw CommandFailure("pod \(namespace)/\(name) has no address yet (phase \(pod.status?.phase ?? "unknown"))")
        }
        return (address, pod.spec?.nodeName)
    }

    func run() async throws {
        let now = Int64(Date().timeIntervalSince1970)
        var pod: (address: IPAddress, node: String?)? = nil
        if case .pod(let namespace, let name) = subject { pod = try await lookUp(namespace: namespace, name: name) }
        let findings: [Finding]
        if let aggregator, let tokenFile {
            findings = try await fromAggregator(aggregator, tokenFile: tokenFile)
        } else {
            let client = try apiClient()
            let probed = pod.map { ExplainChain.Subject.address($0.address) } ?? subject
            do {
                findings = try await ExplainDirect(subject: probed, client: client, namespace: netns, timeout: timeout).findings(now: now)
            } catch {
                await client.shutdown()
                throw error
            }
            await client.shutdown()
        }
        let chain: ExplainChain
        if let pod, case .pod = subject {
            chain = ExplainChain.build(pod: subject.text, address: pod.address, node: pod.node, findings: findings, now: now)
        } else {
            chain = ExplainChain.build(subject, findings: findings, now: now)
        }
        try show(chain)
        if chain.wrong { throw ExitStatus(1) }
    }

    /// The API server's client (`--kubeconfig` or `--kubernetes`).
    private func apiClient() throws -> KubernetesClient {
        do throws(KubernetesError) {
            let endpoint: KubernetesEndpoint
            if let kubeconfig { endpoint = try KubernetesEndpoint.kubeconfig(path: kubeconfig) } else { endpoint = try KubernetesEndpoint.inCluster() }
            return try KubernetesClient(endpoint: endpoint)
        } catch {
            throw CommandFailure.usage(error.description)
        }
    }

    /// The aggregator's open findings.
    private func fromAggregator(_ aggregator: String, tokenFile: String) async throws -> [Finding] {
        let token: String
        do { token = try BearerTokenFile.read(tokenFile) } catch { throw CommandFailure.usage(error.description) }
        var pem: [UInt8]? = nil
        if let authority {
            guard let bytes = FileManager.default.contents(atPath: authority) else { throw CommandFailure.usage("cannot read --aggregator-ca \(authority)") }
            pem = Array(bytes)
        }
        let tls: TLSConfiguration
        do { tls = try ClientTLS.configuration(certificateAuthorityPEM: pem, source: "--aggregator-ca \(authority ?? "")") } catch {
            throw CommandFailure.usage(error.description)
        }
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.connectionPool.retryConnectionEstablishment = false
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        var request = HTTPClientRequest(url: aggregator + "/api/v1/findings")
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        let findings: [Finding]
        do {
            findings = try await Self.fetch(request, with: client)
        } catch {
            try? await client.shutdown()
            throw error
        }
        try? await client.shutdown()
        return findings
    }

    /// The aggregator's open findings; errors as one line a person can act on.
    private static func fetch(_ request: HTTPClientRequest, with client: HTTPClient) async throws -> [Finding] {
        do {
            let response = try await client.execute(request, timeout: .seconds(10))
            let body = try await response.body.collect(upTo: 32 << 20)
            guard response.status.code == 200 else {
                let reason = (try? JSONInput.decode([String: String].self, from: Data(body.readableBytesView)))?["error"] ?? response.status.reasonPhrase
                throw CommandFailure("the aggregator answered HTTP \(response.status.code): \(reason)")
            }
            return try JSONInput.decode(FindingsDocument.self, from: Data(body.readableBytesView)).findings
        } catch let failure as CommandFailure {
            throw failure
        } catch is DecodingError {
            throw CommandFailure("the aggregator's findings are not what this release reads; use routeprobe of the aggregator's release")
        } catch {
            throw CommandFailure(TransportProblem.describe(error, server: "the aggregator", trustHint: "give --aggregator-ca the CA that signed it"))
        }
    }

    private func show(_ chain: ExplainChain) throws {
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            writeToStandardOutput(String(decoding: try encoder.encode(chain), as: UTF8.self) + "\n")
        } else {
            writeToStandardOutput(chain.text + "\n")
        }
    }

    private struct FindingsDocument: Decodable { let findings: [Finding] }
}
