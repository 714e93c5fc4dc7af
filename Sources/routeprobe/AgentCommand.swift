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

    @Option(name: .long, help: "This node's name in the cluster map.")
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

    func run() async throws {
        let file: AgentConfigFile
        do { file = try config.map { path throws(ConfigurationError) in try AgentConfigFile.load(path: path) } ?? AgentConfigFile() } catch {
            throw CommandFailure.usage(error.description)
        }
        guard let nodeName = nodeName ?? file.nodeName else { throw CommandFailure.usage("--node-name is required (or nodeName in --config)") }
        guard let mapPath = clusterMap ?? file.clusterMap else { throw CommandFailure.usage("--cluster-map is required (or clusterMap in --config)") }
        let map: ClusterMap
        do { map = try ClusterMapFile.load(path: mapPath) } catch { throw CommandFailure.usage(error.description) }
        guard map.node(named: nodeName) != nil else {
            throw CommandFailure.usage("node '\(nodeName)' is not in the cluster map \(mapPath)")
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
        let configuration = AgentConfiguration(
            nodeName: nodeName, clusterMap: map, interval: interval, timeout: timeout, failuresToOpen: failures,
            syslog: destination, captureDirectory: captureDir ?? file.captureDir, namespace: netns.map(NetworkNamespace.init),
            metricsListen: listen)
        let agent = Agent(configuration: configuration) { line in
            writeToStandardOutput("routeprobe agent: \(line)\n")
        }
        // One service for now; the group owns SIGTERM and SIGINT and shuts it down gracefully.
        unblockStopSignals()
        var logger = Logger(label: "routeprobe.agent")
        logger.logLevel = .warning
        let group = ServiceGroup(services: [AgentService(agent: agent)], gracefulShutdownSignals: [.sigterm, .sigint],
                                 cancellationSignals: [], logger: logger)
        try await group.run()
    }
}
