import RouteprobeCore
import RouteprobeNetlink

/// Everything an agent needs, as a value: built from flags and the config file, passed to the agent.
public struct AgentConfiguration: Sendable {
    /// This node's name in the cluster map.
    public var nodeName: String
    /// Which node owns which pod CIDR.
    public var clusterMap: ClusterMap
    /// Time from the start of one round to the start of the next.
    public var interval: Duration
    /// How long each probe waits.
    public var timeout: Duration
    /// Consecutive failed rounds before a finding opens.
    public var failuresToOpen: Int
    /// Where alerts go.
    public var syslog: SyslogDestination
    /// Where pcap files of failing flows go, if anywhere.
    public var captureDirectory: String?
    /// Work inside this network namespace (the lab runs agents this way); nil on a real node.
    public var namespace: NetworkNamespace?
    /// Serve Prometheus metrics on this address and port.
    public var metricsListen: (address: IPAddress, port: UInt16)?
    /// The aggregator to register with, fetch plans from and report to; nil when the agent works alone.
    public var aggregator: AggregatorLink?

    /// Builds a configuration with the documented defaults.
    public init(nodeName: String, clusterMap: ClusterMap, interval: Duration = .seconds(5), timeout: Duration = .seconds(1),
                failuresToOpen: Int = 2, syslog: SyslogDestination = .local, captureDirectory: String? = nil,
                namespace: NetworkNamespace? = nil, metricsListen: (address: IPAddress, port: UInt16)? = nil,
                aggregator: AggregatorLink? = nil) {
        self.aggregator = aggregator
        self.nodeName = nodeName
        self.clusterMap = clusterMap
        self.interval = interval
        self.timeout = timeout
        self.failuresToOpen = failuresToOpen
        self.syslog = syslog
        self.captureDirectory = captureDirectory
        self.namespace = namespace
        self.metricsListen = metricsListen
    }

    /// Parses `ADDR:PORT` (`[ADDR]:PORT` for IPv6) as --metrics-listen takes it.
    public static func parseListen(_ text: String) -> (address: IPAddress, port: UInt16)? {
        guard let endpoint = IPAddress.parseEndpoint(text), endpoint.port > 0 else { return nil }
        return endpoint
    }

    /// The probes of one round without a plan: every other node's pod targets, by ICMP and by TCP to the
    /// beacon port (full mesh).
    public var probeSpecs: [ProbeSpec] {
        ProbePlan.probeSpecs(node: nodeName, probeNodes: clusterMap.nodes.map(\.name), criticalTargets: [], cluster: clusterMap)
    }
}
