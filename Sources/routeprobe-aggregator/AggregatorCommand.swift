import RouteprobeCommandSupport
import Foundation
import Logging
import RouteprobeAggregator
import RouteprobeConfiguration
import RouteprobeCore
import RouteprobeHTTP
import RouteprobeKubernetes
import ServiceLifecycle

/// `routeprobe aggregator`: correlates the agents' reports into cluster findings.
struct AggregatorCommand: ServiceTool {
    static let tool = ToolDescription(
        path: ["aggregator"],
        abstract: "Plan the agents' probes, correlate their reports, and name the missing VPC route entries.",
        discussion: """
            Agents started with --aggregator URL --token-file FILE register, fetch their probe plan (each pod \
            CIDR gets --sources-per-cidr sources, chosen by rendezvous hashing) and post a report every \
            round. Findings (vpcRouteMissing, vpcRouteWrongNextHop, kernelRouteMissing, kernelRouteWrong, \
            rejectedByRouter, nodeUnreachable, sourceLocal, vpcRouteStale, vpcRouteOverlap) open and resolve \
            with one syslog alert each. HTTP: /api/v1/register, /api/v1/plan/NODE, /api/v1/reports, \
            /api/v1/findings, /api/v1/matrix (all with the bearer token), /metrics, /healthz and / (the page). \
            State lives in memory and is rebuilt from the agents after a restart. Stops on SIGINT or SIGTERM.
            """,
        options: [
            ToolOption("listen", .value(placeholder: "listen"), help: "Address and port to listen on.", default: "0.0.0.0:9800"),
            ToolOption("tls-cert", .value(placeholder: "tls-cert"), help: "PEM certificate chain to serve HTTPS with (read again when the file changes)."),
            ToolOption("tls-key", .value(placeholder: "tls-key"), help: "PEM private key of --tls-cert (read again when the file changes)."),
            ToolOption("plain-http", .flag, help: "Serve plain HTTP instead of HTTPS: tokens and reports cross the network in clear (labs)."),
            ToolOption("node-tokens", .value(placeholder: "node-tokens"), help: "YAML file of node name -> token: each token registers and reports for its node only."),
            ToolOption("token-file", .value(placeholder: "token-file"), help: "With --node-tokens or --kubernetes: a token that reads the API and speaks for no node. With --allow-shared-token: one token for every node."),
            ToolOption("allow-shared-token", .flag, help: "Accept --token-file as one token for every node: any holder can speak for any node (labs)."),
            ToolOption("cluster-map", .value(placeholder: "cluster-map"), help: "Cluster map file: nodes known before they register (optional)."),
            ToolOption("sources-per-cidr", .value(placeholder: "sources-per-cidr"), help: "Sources that probe each pod CIDR (K).", default: "3"),
            ToolOption("full-mesh", .flag, help: "Every node probes every other node (small clusters)."),
            ToolOption("syslog", .value(placeholder: "syslog"), help: "Where alerts go: local (/dev/log), unix:PATH, udp:HOST:PORT or tcp:HOST:PORT.", default: "local"),
            ToolOption("vpc-route-table", .value(placeholder: "vpc-route-table"), help: "VPC route table JSON as the cloud CLI prints it (AWS, Alibaba Cloud, Azure or GCP; see vpc-diff --help); re-read when it changes."),
            ToolOption("route-table-limit", .value(placeholder: "route-table-limit"), help: "The route table's limit of entries (default: the cloud's: AWS 50, Alibaba Cloud 200, Azure 400, GCP 250)."),
            ToolOption("window", .value(placeholder: "window"), help: "Reports older than this no longer count.", default: "30s"),
            ToolOption("evaluation-interval", .value(placeholder: "evaluation-interval"), help: "How often findings are evaluated.", default: "1s"),
            ToolOption("max-body-bytes", .value(placeholder: "max-body-bytes"), help: "Largest request body accepted, in bytes.", default: "1048576"),
            ToolOption("max-nodes", .value(placeholder: "max-nodes"), help: "Registrations accepted while no nodes are known (no cluster map, no API server); beyond it 429.", default: "10000"),
            ToolOption("max-connections", .value(placeholder: "max-connections"), help: "Most connections held open at once (agents keep theirs between rounds; each costs about 53 KB with TLS); beyond it new ones wait. Give at least the node count plus readers, and a memory limit of 64 MiB + 64 KiB per connection.", default: "12000"),
            ToolOption("kubernetes", .flag, help: "Discover nodes from the API server with the pod's service account (in a cluster)."),
            ToolOption("kubeconfig", .value(placeholder: "kubeconfig"), help: "Discover nodes from the API server of this kubeconfig file (outside a cluster)."),
            ToolOption("agent-service-account", .value(placeholder: "agent-service-account"), help: "With --kubernetes or --kubeconfig: the agents' ServiceAccount; its projected tokens (audience routeprobe) speak for their pod's node, checked with a TokenReview.", default: "routeprobe/routeprobe-agent"),
            ToolOption("node-conditions", .flag, help: "Set the PodCIDRUnreachable condition on the Node that owns an unreachable pod CIDR (True while the finding is open, False after); needs --kubernetes or --kubeconfig and deploy/optional/node-conditions-rbac.yaml."),
            ToolOption("leader-election", .flag, help: "Run as one of several replicas: the holder of a coordination.k8s.io Lease serves agents, alerts and writes Events; the others stand by (503, /readyz not ready) and take over when it stops renewing. Needs --kubernetes or --kubeconfig."),
            ToolOption("lease-name", .value(placeholder: "lease-name"), help: "The Lease's name.", default: "routeprobe-aggregator"),
            ToolOption("lease-namespace", .value(placeholder: "lease-namespace"), help: "The Lease's namespace (default: the pod's, else routeprobe)."),
            ToolOption("lease-duration", .value(placeholder: "lease-duration"), help: "A leader that has not renewed for this long is replaced.", default: "15s"),
            ToolOption("route-controller-grace", .value(placeholder: "route-controller-grace"), help: "With --kubernetes or --kubeconfig: a VPC-route finding open this long that the route controller neither repairs nor explains (a Warning Event, NetworkUnavailable) is routeControllerSilent; with such an Event, routeControllerFailing.", default: "60s"),
            ToolOption("kube-context", .value(placeholder: "kube-context"), help: "The kubeconfig context to use (default: its current-context)."),
            ToolOption("events", .flag, help: "Create Events (VpcRouteMissing, PodCIDRUnreachable) on the affected Node; needs --kubernetes or --kubeconfig and deploy/optional/events-rbac.yaml."),
        ])

    var listen: String
    var tlsCert: String?
    var tlsKey: String?
    var plainHTTP: Bool
    var tokenFile: String?
    var nodeTokens: String?
    var allowSharedToken: Bool
    var clusterMap: String?
    var sourcesPerCidr: Int
    var fullMesh: Bool
    var syslog: String
    var vpcRouteTable: String?
    var routeTableLimit: Int?
    var window: String
    var evaluationInterval: String
    var maxBodyBytes: Int
    var maxNodes: Int
    var maxConnections: Int
    var kubernetes: Bool
    var kubeconfig: String?
    var kubeContext: String?
    var agentServiceAccount: String
    var leaderElection: Bool
    var leaseName: String
    var leaseNamespace: String?
    var leaseDuration: String
    var routeControllerGrace: String
    var events: Bool
    var nodeConditions: Bool

    init(_ line: ToolCommandLine) throws(CommandFailure) {
        listen = line.value("listen") ?? "0.0.0.0:9800"
        tlsCert = line.value("tls-cert")
        tlsKey = line.value("tls-key")
        plainHTTP = line.flag("plain-http")
        tokenFile = line.value("token-file")
        nodeTokens = line.value("node-tokens")
        allowSharedToken = line.flag("allow-shared-token")
        kubernetes = line.flag("kubernetes")
        kubeconfig = line.value("kubeconfig")
        let reviewsTokens = kubernetes || kubeconfig != nil
        if nodeTokens != nil && allowSharedToken {
            throw Self.tool.usage("--allow-shared-token and --node-tokens exclude each other")
        }
        if allowSharedToken && tokenFile == nil { throw Self.tool.usage("--allow-shared-token needs --token-file") }
        if nodeTokens == nil && !reviewsTokens && !allowSharedToken {
            if tokenFile != nil {
                throw Self.tool.usage("--token-file alone is one token for every node, and any holder could speak for any node: give --node-tokens, --kubernetes (agents' ServiceAccount tokens), or --allow-shared-token in a lab")
            }
            throw Self.tool.usage("missing '--node-tokens <node-tokens>' (each token speaks for one node), --kubernetes (agents' ServiceAccount tokens, checked with TokenReview), or in a lab '--token-file <token-file> --allow-shared-token'")
        }
        leaderElection = line.flag("leader-election")
        leaseName = line.value("lease-name") ?? "routeprobe-aggregator"
        leaseNamespace = line.value("lease-namespace")
        leaseDuration = line.value("lease-duration") ?? "15s"
        routeControllerGrace = line.value("route-controller-grace") ?? "60s"
        if leaderElection && !reviewsTokens { throw Self.tool.usage("--leader-election needs --kubernetes or --kubeconfig (the Lease lives in the API server)") }
        agentServiceAccount = line.value("agent-service-account") ?? "routeprobe/routeprobe-agent"
        let accountParts = agentServiceAccount.split(separator: "/", omittingEmptySubsequences: false)
        if accountParts.count != 2 || accountParts.contains(where: \.isEmpty) {
            throw Self.tool.usage("--agent-service-account '\(agentServiceAccount)' must be NAMESPACE/NAME, e.g. routeprobe/routeprobe-agent")
        }
        if (tlsCert == nil) != (tlsKey == nil) { throw Self.tool.usage("--tls-cert and --tls-key go together") }
        if tlsCert != nil && plainHTTP { throw Self.tool.usage("--plain-http and --tls-cert exclude each other") }
        if tlsCert == nil && !plainHTTP {
            throw Self.tool.usage("missing '--tls-cert <tls-cert> --tls-key <tls-key>' (tokens must not cross the network in clear), or in a lab '--plain-http'")
        }
        clusterMap = line.value("cluster-map")
        sourcesPerCidr = try line.integer("sources-per-cidr", in: 1...50, default: 3, tool: Self.tool)!
        fullMesh = line.flag("full-mesh")
        syslog = line.value("syslog") ?? "local"
        vpcRouteTable = line.value("vpc-route-table")
        routeTableLimit = try line.integer("route-table-limit", in: 1...1_000_000, default: nil, tool: Self.tool)
        window = line.value("window") ?? "30s"
        evaluationInterval = line.value("evaluation-interval") ?? "1s"
        maxBodyBytes = try line.integer("max-body-bytes", in: 1024...Int(Int32.max), default: 1 << 20, tool: Self.tool)!
        maxNodes = try line.integer("max-nodes", in: 1...1_000_000, default: 10_000, tool: Self.tool)!
        maxConnections = try line.integer("max-connections", in: 2...1_000_000, default: 12_000, tool: Self.tool)!
        kubeContext = line.value("kube-context")
        events = line.flag("events")
        nodeConditions = line.flag("node-conditions")
    }

    func run() async throws {
        let log: @Sendable (String) -> Void = { line in writeToStandardOutput("routeprobe aggregator: \(line)\n") }
        guard let (parsedAddress, parsedPort) = IPAddress.parseEndpoint(listen) else {
            throw CommandFailure.usage("--listen '\(listen)' must be ADDR:PORT, e.g. 0.0.0.0:9800 or [::]:9800")
        }
        var credentials = AgentCredentials()
        do {
            let token = try tokenFile.map { path throws(ConfigurationError) in try BearerTokenFile.read(path) }
            if let nodeTokens { credentials.nodeTokens = try NodeTokensFile.load(path: nodeTokens) }
            if allowSharedToken { credentials.shared = token } else { credentials.reader = token }
        } catch {
            throw CommandFailure.usage(error.description)
        }
        var map: ClusterMap? = nil
        if let clusterMap {
            do { map = try ClusterMapFile.load(path: clusterMap) } catch { throw CommandFailure.usage(error.description) }
        }
        guard let destination = SyslogDestination(syslog) else {
            throw CommandFailure.usage("--syslog '\(syslog)' must be local, unix:PATH, udp:HOST:PORT or tcp:HOST:PORT")
        }
        func duration(_ text: String, _ name: String, in range: ClosedRange<Duration> = .milliseconds(1) ... .seconds(86_400)) throws -> Duration {
            guard let parsed = DurationText.parse(text), parsed > .zero else {
                throw CommandFailure.usage("--\(name) '\(text)' is not a duration such as 500ms, 5s or 1m")
            }
            guard range.contains(parsed) else {
                throw CommandFailure.usage("--\(name) '\(text)' is out of range: \(DurationText.format(range.lowerBound)) to \(DurationText.format(range.upperBound))")
            }
            return parsed
        }
        let windowDuration = try duration(window, "window", in: .seconds(1) ... .seconds(3600))
        let evaluation = try duration(evaluationInterval, "evaluation-interval", in: .milliseconds(100) ... .seconds(60))
        if let vpcRouteTable {
            do { _ = try VPCRouteTableFile.load(path: vpcRouteTable) } catch { throw CommandFailure.usage(error.description) }
        }
        var endpoint: KubernetesEndpoint? = nil
        if kubernetes && kubeconfig != nil { throw CommandFailure.usage("--kubernetes and --kubeconfig exclude each other") }
        do throws(KubernetesError) {
            if kubernetes { endpoint = try KubernetesEndpoint.inCluster() }
            if let kubeconfig { endpoint = try KubernetesEndpoint.kubeconfig(path: kubeconfig, context: kubeContext) }
        } catch {
            throw CommandFailure.usage(error.description)
        }
        if events && endpoint == nil { throw CommandFailure.usage("--events needs --kubernetes or --kubeconfig") }
        if nodeConditions && endpoint == nil { throw CommandFailure.usage("--node-conditions needs --kubernetes or --kubeconfig") }
        let lease = try duration(leaseDuration, "lease-duration")
        if lease < .seconds(1) || lease > .seconds(300) { throw CommandFailure.usage("--lease-duration '\(leaseDuration)' must be 1s to 5m") }
        var elector: LeaderElector? = nil
        if let endpoint {
            do throws(KubernetesError) {
                let client = try KubernetesClient(endpoint: endpoint)
                credentials.reviewer = AgentTokenReviewer(client: client, serviceAccount: agentServiceAccount)
                if leaderElection {
                    let environment = ProcessInfo.processInfo.environment
                    let identity = environment["POD_NAME"].flatMap { $0.isEmpty ? nil : $0 } ?? "\(ProcessInfo.processInfo.hostName)-\(getpid())"
                    let podNamespace = (try? String(contentsOfFile: "/var/run/secrets/kubernetes.io/serviceaccount/namespace", encoding: .utf8))?
                        .trimmingCharacters(in: .whitespacesAndNewlines)
                    let namespace = leaseNamespace ?? podNamespace.flatMap { $0.isEmpty ? nil : $0 } ?? "routeprobe"
                    elector = LeaderElector(client: client, settings: .init(namespace: namespace, name: leaseName, identity: identity,
                                                                             leaseDuration: lease), log: log)
                }
            } catch {
                throw CommandFailure.usage(error.description)
            }
        }
        var keyPair: ServerKeyPair? = nil
        if let tlsCert, let tlsKey {
            do { keyPair = try ServerKeyPair(certificatePath: tlsCert, keyPath: tlsKey, log: log) } catch { throw CommandFailure.usage(error.description) }
        }
        let (address, port) = (parsedAddress.description, Int(parsedPort))
        var configuration = AggregatorConfiguration(
            listenAddress: address, listenPort: port, token: credentials.shared ?? "", clusterMap: map, sourcesPerCIDR: sourcesPerCidr,
            fullMesh: fullMesh, syslog: destination, vpcRouteTablePath: vpcRouteTable, window: windowDuration,
            evaluationInterval: evaluation, maximumBodyBytes: maxBodyBytes,
            hostname: ProcessInfo.processInfo.hostName, kubernetes: endpoint)
        configuration.events = events
        configuration.nodeConditions = nodeConditions
        configuration.tls = keyPair
        configuration.leaderElector = elector
        if endpoint != nil { configuration.routeControllerGrace = try duration(routeControllerGrace, "route-controller-grace", in: .seconds(1) ... .seconds(86_400)) }
        if plainHTTP {
            log("warning: --plain-http: bearer tokens and reports cross the network in clear")
        }
        configuration.credentials = credentials
        if allowSharedToken {
            log("warning: --allow-shared-token: any holder of the token can register and report as any node")
        }
        configuration.routeTableLimit = routeTableLimit
        configuration.maxNodes = maxNodes
        configuration.maxConnections = maxConnections
        let aggregator = Aggregator(configuration: configuration, log: log)
        unblockStopSignals()
        var logger = Logger(label: "routeprobe.aggregator")
        logger.logLevel = .warning
        let scheme = keyPair == nil ? "http" : "https"
        let services: [any Service]
        do {
            services = try aggregator.services(logger: logger) { bound in
                log("listening on \(scheme)://\(address.contains(":") ? "[\(address)]" : address):\(bound)")
            }
        } catch {
            throw CommandFailure("cannot serve HTTPS with --tls-cert \(tlsCert ?? "") and --tls-key \(tlsKey ?? "")")
        }
        let group = ServiceGroup(services: services, gracefulShutdownSignals: [.sigterm, .sigint], cancellationSignals: [], logger: logger)
        do {
            try await group.run()
        } catch {
            await credentials.reviewer?.shutdown()
            throw CommandFailure("aggregator stopped: \(error)")
        }
        await credentials.reviewer?.shutdown()
    }
}
