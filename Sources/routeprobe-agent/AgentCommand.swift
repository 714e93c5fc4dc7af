import ArgumentParser
import RouteprobeCommandSupport
import Foundation
import Logging
import ServiceLifecycle
import RouteprobeAgent
import RouteprobeConfiguration
import RouteprobeCore
import RouteprobeNetlink
import RouteprobeSystem

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

    @Option(name: .long, help: "Time between round starts (default \(DurationText.format(AgentConfiguration.Defaults.interval))).")
    var interval: String?

    @Option(name: .long, help: "Probe timeout (default \(DurationText.format(AgentConfiguration.Defaults.timeout))).")
    var timeout: String?

    @Option(name: .long, help: "Consecutive failed rounds before a finding opens (default \(AgentConfiguration.Defaults.failuresToOpen)).")
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
        var flags = AgentSettings()
        flags.nodeName = nodeName
        flags.clusterMap = clusterMap
        flags.interval = interval
        flags.timeout = timeout
        flags.failuresToOpen = failuresToOpen
        flags.syslog = syslog
        flags.metricsListen = metricsListen
        flags.captureDir = captureDir
        flags.netns = netns
        flags.aggregator = aggregator
        flags.tokenFile = tokenFile
        flags.nodeIP = nodeIP
        flags.podCIDRs = podCIDR.isEmpty ? nil : podCIDR
        flags.podTargets = podTarget.isEmpty ? nil : podTarget
        flags.instanceID = instanceID
        let configuration: AgentConfiguration
        do { configuration = try AgentConfiguration.resolve(flags: flags, configPath: config) } catch {
            throw CommandFailure.usage(error.description)
        }
        let log: @Sendable (String) -> Void = { line in writeToStandardOutput("routeprobe agent: \(line)\n") }
        // The round thread allocates a round's reports and frees them; the others allocate little: one arena
        // keeps the memory a round freed for the next round instead of one arena per thread (0.7 MB at 1,000
        // targets).
        Memory.useOneArena()
        let agent = Agent(configuration: configuration, log: log)
        // The group owns SIGTERM and SIGINT and shuts the services down gracefully, the rounds first.
        unblockStopSignals()
        var logger = Logger(label: "routeprobe.agent")
        logger.logLevel = .warning
        let group = ServiceGroup(services: agent.services, gracefulShutdownSignals: [.sigterm, .sigint],
                                 cancellationSignals: [], logger: logger)
        try await group.run()
    }
}
