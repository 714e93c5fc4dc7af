import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import RouteprobeAgent
import RouteprobeConfiguration
import RouteprobeCore
import RouteprobeNetlink

/// `routeprobe agent`: the per-node service.
struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Probe the other nodes' pod CIDRs every interval and alert to syslog when a route is missing.",
        discussion: """
            Each round probes every other node's pod targets (ICMP and TCP to the beacon port) with control \
            probes of their hosts; a problem that holds for --failures-to-open consecutive rounds opens a \
            finding (one syslog alert, RFC 5424), and its resolution sends one more. A route change starts a \
            round at once. Every config file key is also a flag; flags win. Stops on SIGINT or SIGTERM.
            """
    )

    @Option(name: .long, help: "Config file (YAML or JSON) with the keys below.")
    var config: String?

    @Option(name: .long, help: "This node's name in the cluster map (default: $NODE_NAME, as the downward API sets it).")
    var nodeName: String?

    @Option(name: .long, help: "Cluster map file: which node owns which pod CIDR.")
    var clusterMap: String?

    @Option(name: .long, help: "Time between round starts (default 5s).")
    var interval: String?

    @Option(name: .long, help: "Probe timeout (default 1s).")
    var timeout: String?

    @Option(name: .long, help: "Consecutive failed rounds before a finding opens (default 2).")
    var failuresToOpen: Int?

    @Option(name: .long, help: "Where alerts go: local (/dev/log), unix:PATH, udp:HOST:PORT or tcp:HOST:PORT (default local).")
    var syslog: String?

    @Option(name: .long, help: "Serve Prometheus metrics (GET /metrics) on ADDR:PORT, e.g. 0.0.0.0:9701.")
    var metricsListen: String?

    @Option(name: .long, help: "Write pcap files of failing flows here.")
    var captureDir: String?

    @Option(name: .long, help: "Work inside this network namespace (for labs).")
    var netns: String?

    @Option(name: .long, help: "Aggregator base URL, e.g. http://routeprobe-aggregator:9800: register, follow its probe plan, post reports.")
    var aggregator: String?

    @Option(name: .long, help: "File holding the aggregator's bearer token (required with --aggregator).")
    var tokenFile: String?

    @Option(name: .long, help: "This node's host IP, registered with the aggregator (default: from the cluster map).")
    var nodeIP: String?

    @Option(name: .long, help: "A pod CIDR of this node, registered with the aggregator; repeat for several (default: from the cluster map).")
    var podCIDR: [String] = []

    @Option(name: .long, help: "An address in this node's pod CIDR worth probing (its beacon); repeat for several.")
    var podTarget: [String] = []

    @Option(name: .long, help: "The cloud's id of this node's machine (i-0abc...), as VPC route entries name it (default: from the cluster map).")
    var instanceID: String?

    func run() async throws {
        let file: AgentConfigFile
        do { file = try config.map { path throws(ConfigurationError) in try AgentConfigFile.load(path: path) } ?? AgentConfigFile() } catch {
            throw CommandFailure.usage(error.description)
        }
        // In a DaemonSet the downward API sets NODE_NAME (spec.nodeName).
        let environmentName = ProcessInfo.processInfo.environment["NODE_NAME"].flatMap { $0.isEmpty ? nil : $0 }
        guard let nodeName = nodeName ?? file.nodeName ?? environmentName else {
            throw CommandFailure.usage("--node-name is required (or nodeName in --config, or NODE_NAME from the downward API)")
        }
        let aggregatorURL = aggregator ?? file.aggregator
        let mapPath = clusterMap ?? file.clusterMap
        if mapPath == nil && aggregatorURL == nil {
            throw CommandFailure.usage("--cluster-map or --aggregator is required (or clusterMap/aggregator in --config)")
        }
        var map = ClusterMap(nodes: [])
        if let mapPath {
            do { map = try ClusterMapFile.load(path: mapPath) } catch { throw CommandFailure.usage(error.description) }
            guard map.node(named: nodeName) != nil else {
                throw CommandFailure.usage("node '\(nodeName)' is not in the cluster map \(mapPath)")
            }
        }
        func duration(_ text: String?, _ name: String, default value: Duration) throws -> Duration {
            guard let text else { return value }
            guard let parsed = DurationText.parse(text), parsed > .zero else {
                throw CommandFailure.usage("--\(name) '\(text)' is not a duration such as 500ms, 5s or 1m")
            }
            return parsed
        }
        let interval = try duration(self.interval ?? file.interval, "interval", default: .seconds(5))
        let timeout = try duration(self.timeout ?? file.timeout, "timeout", default: .seconds(1))
        if timeout >= interval { throw CommandFailure.usage("--timeout must be shorter than --interval, or rounds would overlap") }
        let failures = failuresToOpen ?? file.failuresToOpen ?? 2
        if failures < 1 || failures > 100 { throw CommandFailure.usage("--failures-to-open must be 1 to 100") }
        let syslogText = syslog ?? file.syslog ?? "local"
        guard let destination = SyslogDestination(syslogText) else {
            throw CommandFailure.usage("--syslog '\(syslogText)' must be local, unix:PATH, udp:HOST:PORT or tcp:HOST:PORT")
        }
        var listen: (address: IPAddress, port: UInt16)? = nil
        if let text = metricsListen ?? file.metricsListen {
            guard let parsed = AgentConfiguration.parseListen(text) else {
                throw CommandFailure.usage("--metrics-listen '\(text)' must be ADDR:PORT, e.g. 0.0.0.0:9701 or [::]:9701")
            }
            listen = parsed
        }
        var link: (url: String, token: String, registration: NodeRegistration)? = nil
        if let aggregatorURL {
            link = try makeLink(url: aggregatorURL, tokenPath: tokenFile ?? file.tokenFile, nodeName: nodeName, map: map, file: file)
        }
        let log: @Sendable (String) -> Void = { line in writeToStandardOutput("routeprobe agent: \(line)\n") }
        let configuration = AgentConfiguration(
            nodeName: nodeName, clusterMap: map, interval: interval, timeout: timeout, failuresToOpen: failures,
            syslog: destination, captureDirectory: captureDir ?? file.captureDir, namespace: netns.map(NetworkNamespace.init),
            metricsListen: listen, aggregator: link.map { link in AggregatorLink(baseURL: link.url, token: link.token, registration: link.registration, log: log) })
        let agent = Agent(configuration: configuration, log: log)
        // One service for now; the group owns SIGTERM and SIGINT and shuts it down gracefully.
        unblockStopSignals()
        var logger = Logger(label: "routeprobe.agent")
        logger.logLevel = .warning
        var services: [any Service] = [AgentService(agent: agent)]
        if let link = configuration.aggregator { services.append(AggregatorLinkService(link: link)) }
        let group = ServiceGroup(services: services, gracefulShutdownSignals: [.sigterm, .sigint],
                                 cancellationSignals: [], logger: logger)
        try await group.run()
    }

    /// Checks the aggregator settings and builds what the link needs: URL, token and this node's registration.
    private func makeLink(url: String, tokenPath: String?, nodeName: String, map: ClusterMap, file: AgentConfigFile) throws
        -> (url: String, token: String, registration: NodeRegistration) {
        guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil else {
            throw CommandFailure.usage("--aggregator '\(url)' must be an http:// or https:// URL, e.g. http://routeprobe-aggregator:9800")
        }
        guard let tokenPath else { throw CommandFailure.usage("--token-file is required with --aggregator") }
        let token: String
        do {
            token = try String(contentsOfFile: tokenPath, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        } catch {
            throw CommandFailure.usage("cannot read --token-file \(tokenPath): \((error as NSError).localizedDescription)")
        }
        if token.isEmpty { throw CommandFailure.usage("--token-file \(tokenPath) is empty") }
        let own = map.node(named: nodeName)
        let ipText = nodeIP ?? file.nodeIP
        let ip: IPAddress
        if let ipText {
            ip = try parseAddress(ipText, option: "--node-ip")
        } else if let own {
            ip = own.ip
        } else {
            throw CommandFailure.usage("--node-ip is required with --aggregator and no cluster map")
        }
        let cidrTexts = podCIDR.isEmpty ? (file.podCIDRs ?? []) : podCIDR
        var cidrs: [IPPrefix] = []
        for text in cidrTexts {
            guard text.contains("/"), let cidr = IPPrefix(text) else { throw CommandFailure.usage("--pod-cidr '\(text)' is not a CIDR such as 172.16.1.0/24") }
            cidrs.append(cidr)
        }
        if cidrs.isEmpty { cidrs = own?.podCIDRs ?? [] }
        // No pod CIDR at all: the aggregator takes it from the Node object (discovery) when it registers us.
        let targetTexts = podTarget.isEmpty ? (file.podTargets ?? []) : podTarget
        var targets = try targetTexts.map { try parseAddress($0, option: "--pod-target") }
        if targets.isEmpty, cidrTexts.isEmpty { targets = own?.podTargets ?? [] }
        let registration = NodeRegistration(node: nodeName, ip: ip, podCIDRs: cidrs, podTargets: targets,
                                            instanceID: instanceID ?? file.instanceID ?? own?.instanceID)
        if let problem = registration.problem { throw CommandFailure.usage("cannot register: \(problem)") }
        return (url, token, registration)
    }
}
