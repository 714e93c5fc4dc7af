import RouteprobeCommandSupport
import Foundation
import Logging
import ServiceLifecycle
import RouteprobeAgent
import RouteprobeConfiguration
import RouteprobeCore
import RouteprobeProbing
import RouteprobeNetlink
import RouteprobeSystem

/// `routeprobe agent`: the per-node service.
struct AgentCommand: ServiceTool {
    static let tool = ToolDescription(
        path: ["agent"],
        abstract: "Probe the other nodes' pod CIDRs every interval and alert to syslog when a route is missing.",
        discussion: """
            Each round probes every other node's pod targets (ICMP and TCP to the beacon port) with control \
            probes of their hosts; a problem that holds for --failures-to-open consecutive rounds opens a \
            finding (one syslog alert, RFC 5424), and its resolution sends one more. A route change starts a \
            round at once. Every config file key is also a flag; flags win. Stops on SIGINT or SIGTERM.
            """,
        options: [
            ToolOption("config", .value(placeholder: "config"), help: "Config file (YAML or JSON) with the keys below."),
            ToolOption("node-name", .value(placeholder: "node-name"), help: "This node's name in the cluster map (default: $NODE_NAME, as the downward API sets it)."),
            ToolOption("cluster-map", .value(placeholder: "cluster-map"), help: "Cluster map file: which node owns which pod CIDR."),
            ToolOption("interval", .value(placeholder: "interval"), help: "Time between round starts.",
                       default: DurationText.format(AgentConfiguration.Defaults.interval)),
            ToolOption("timeout", .value(placeholder: "timeout"), help: "Probe timeout.", default: DurationText.format(AgentConfiguration.Defaults.timeout)),
            ToolOption("failures-to-open", .value(placeholder: "failures-to-open"), help: "Consecutive failed rounds before a finding opens.",
                       default: String(AgentConfiguration.Defaults.failuresToOpen)),
            ToolOption("syslog", .value(placeholder: "syslog"), help: "Where alerts go: local (/dev/log), unix:PATH, udp:HOST:PORT or tcp:HOST:PORT.", default: "local"),
            ToolOption("metrics-listen", .value(placeholder: "metrics-listen"), help: "Serve Prometheus metrics (GET /metrics) on ADDR:PORT, e.g. 0.0.0.0:9701."),
            ToolOption("capture-dir", .value(placeholder: "capture-dir"), help: "Write pcap files of failing flows here."),
            ToolOption("netns", .value(placeholder: "netns"), help: "Work inside this network namespace (for labs)."),
            ToolOption("aggregator", .value(placeholder: "aggregator"), help: "Aggregator base URL, e.g. https://routeprobe-aggregator:9800: register, follow its probe plan, post reports."),
            ToolOption("aggregator-ca", .value(placeholder: "aggregator-ca"), help: "PEM file of the CA that signed the aggregator's certificate (default: the system's roots)."),
            ToolOption("plain-http", .flag, help: "Allow an http:// --aggregator: the token and reports cross the network in clear (labs)."),
            ToolOption("token-file", .value(placeholder: "token-file"), help: "File holding this node's bearer token (required with --aggregator); read again when it changes."),
            ToolOption("node-ip", .value(placeholder: "node-ip"), help: "This node's host IP, registered with the aggregator; IPv4,IPv6 on a dual-stack node (default: from the cluster map)."),
            ToolOption("pod-cidr", .value(placeholder: "pod-cidr"), help: "A pod CIDR of this node, registered with the aggregator; repeat for several (default: from the cluster map)."),
            ToolOption("pod-target", .value(placeholder: "pod-target"), help: "An address in this node's pod CIDR worth probing (its beacon); repeat for several."),
            ToolOption("instance-id", .value(placeholder: "instance-id"), help: "The cloud's id of this node's machine (i-0abc...), as VPC route entries name it (default: from the cluster map)."),
        ])

    var config: String?
    var nodeName: String?
    var clusterMap: String?
    var interval: String?
    var timeout: String?
    var failuresToOpen: Int?
    var syslog: String?
    var metricsListen: String?
    var captureDir: String?
    var netns: String?
    var aggregator: String?
    var tokenFile: String?
    var aggregatorCA: String?
    var plainHTTP: Bool
    var nodeIP: String?
    var podCIDR: [String]
    var podTarget: [String]
    var instanceID: String?

    init(_ line: ToolCommandLine) throws(CommandFailure) {
        config = line.value("config")
        nodeName = line.value("node-name")
        clusterMap = line.value("cluster-map")
        interval = line.value("interval")
        timeout = line.value("timeout")
        failuresToOpen = try line.integer("failures-to-open", in: AgentConfiguration.Defaults.failuresToOpenRange, default: nil, tool: Self.tool)
        syslog = line.value("syslog")
        metricsListen = line.value("metrics-listen")
        captureDir = line.value("capture-dir")
        netns = line.value("netns")
        aggregator = line.value("aggregator")
        tokenFile = line.value("token-file")
        aggregatorCA = line.value("aggregator-ca")
        plainHTTP = line.flag("plain-http")
        nodeIP = line.value("node-ip")
        podCIDR = line.values("pod-cidr")
        podTarget = line.values("pod-target")
        instanceID = line.value("instance-id")
    }

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
        flags.aggregatorCA = aggregatorCA
        flags.plainHTTP = plainHTTP ? true : nil
        flags.nodeIP = nodeIP
        flags.podCIDRs = podCIDR.isEmpty ? nil : podCIDR
        flags.podTargets = podTarget.isEmpty ? nil : podTarget
        flags.instanceID = instanceID
        let configuration: AgentConfiguration
        do { configuration = try AgentConfiguration.resolve(flags: flags, configPath: config) } catch {
            throw CommandFailure.usage(error.description)
        }
        let log: @Sendable (String) -> Void = { line in writeToStandardOutput("routeprobe agent: \(line)\n") }
        // Without CAP_NET_RAW every round would probe nothing: say so and stop, so the pod restarts visibly.
        do throws(ProbeError) { try Privileges.checkRawSockets(in: configuration.namespace) } catch {
            throw CommandFailure(error.description, exitCode: 1)
        }
        if configuration.aggregator?.url.hasPrefix("http:") == true {
            log("warning: --plain-http: the token and reports cross the network in clear")
        }
        let agent: Agent
        do { agent = try Agent(configuration: configuration, log: log) } catch { throw CommandFailure.usage(error.description) }
        // The group owns SIGTERM and SIGINT and shuts the services down gracefully, the rounds first.
        unblockStopSignals()
        var logger = Logger(label: "routeprobe.agent")
        logger.logLevel = .warning
        let group = ServiceGroup(services: agent.services, gracefulShutdownSignals: [.sigterm, .sigint],
                                 cancellationSignals: [], logger: logger)
        // Start-up is over: the YAML parser and Foundation, which read the configuration, ran for the last time.
        Memory.releaseProgramCode()
        try await group.run()
    }
}
